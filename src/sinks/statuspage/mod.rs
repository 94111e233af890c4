//! Our public status page: Atlassian Statuspage's REST API (component status, incidents) when
//! `STATUSPAGE_API_KEY` and `STATUSPAGE_PAGE_ID` are set, else Sparky's built-in page (kept in
//! the database, served on `/status` and `/api/v2/summary.json`).

pub mod builtin;
mod sink;
#[cfg(test)]
mod tests;

pub use builtin::BuiltinStatusPage;
pub use sink::StatuspageSink;
