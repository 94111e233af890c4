//! Sources: scheduled readers of the outside world, one module per source kind.

pub mod changelogs;
