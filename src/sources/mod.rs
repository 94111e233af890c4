//! Sources: scheduled readers of the outside world, one module per source kind.

pub mod changelogs;
pub mod compat;
pub mod connectivity;
pub mod status_pages;
pub mod synthetics;
