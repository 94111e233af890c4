//! The status page watcher: each partner's status page, read by one of four adapters
//! (`statuspage`, `feed`, `html`, `json`) into the one normalised model
//! ([`crate::model::PartnerStatus`]), its changes recorded as status events.

pub mod adapters;
pub mod history;
pub mod poll;

pub use poll::{PollReport, Reading, poll_all, poll_partner, read_page};
