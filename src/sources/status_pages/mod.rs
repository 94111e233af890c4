//! The status page watcher: each partner's status page, read by one of four adapters
//! (`statuspage`, `feed`, `html`, `json`) into one normalised model.

pub mod adapters;
pub mod config;
pub mod history;
pub mod model;
pub mod poll;

pub use config::{JsonPathExpr, JsonPaths, StatusPageConfig, StatusPageKind, StatusRule, StatusWord};
pub use model::{Component, ComponentStatus, Incident, Indicator, Maintenance, PartnerStatus};
pub use poll::{PollReport, fetch_now, poll_all, poll_partner};
