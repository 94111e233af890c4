//! Jira Service Management / Jira Cloud REST v3: creates an incident's issue (with a stable
//! fingerprint label, so a retry finds it instead of creating a second), comments, resolves.

mod sink;
#[cfg(test)]
mod tests;

pub use sink::JiraSink;
