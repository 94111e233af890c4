//! The shared vocabulary: the domain words and types every layer speaks (partner and check ids,
//! the status page model, check states and outcomes, causes, priorities, incident and action
//! states, sink kinds, error kinds, and the one clock). It imports nothing of the crate.
//!
//! Every state is an enum whose words are written once, by [`vocabulary!`]: strum derives the
//! words from the variant names (`snake_case` unless a variant names its own), and the same
//! words give `as_str`, `FromStr`, `Display`, serde and `ALL`. SQL binds them as values; the
//! `CHECK` constraints of migration 0006 list the same words (a test compares them).

/// Declares a vocabulary enum (see the module doc). Variants may carry
/// `#[strum(serialize = "word")]` to name their own word.
macro_rules! vocabulary {
    ($(#[$meta:meta])* $vis:vis enum $name:ident { $($(#[$vmeta:meta])* $variant:ident),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, strum::IntoStaticStr, strum::VariantArray)]
        #[strum(serialize_all = "snake_case")]
        $vis enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            /// Every word, in declaration order.
            pub const ALL: &'static [Self] = <Self as strum::VariantArray>::VARIANTS;

            /// The word.
            pub fn as_str(self) -> &'static str {
                self.into()
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::model::UnknownWord;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::ALL.iter().copied().find(|v| v.as_str() == s).ok_or_else(|| $crate::model::UnknownWord::new(s, Self::ALL.iter().map(|v| v.as_str())))
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let word = String::deserialize(d)?;
                word.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}
pub(crate) use vocabulary;

/// The log target of the per-source outcome lines (a feed polled or failed, a page unreadable, a
/// check's state changed): what a command's report already prints, so reporting commands leave
/// them off by default (`cli` sets the filter; `RUST_LOG=debug` shows them).
pub const OUTCOME: &str = "sparky::outcome";

mod changelog;
mod check;
mod compat;
mod error;
mod ids;
mod incident;
mod outbox;
mod silence;
mod status;
pub mod statuspage;
mod time;

pub use changelog::EntryState;
pub use check::{AssertionResult, CheckState, Outcome, StateRecord, Transition, WarnChange, worst};
pub use compat::{FailedJob, FailedStep, GitHubRun, P2State, RunConclusion, RunState, RunTrigger, WebhookOutcome};
pub use error::ErrorKind;
pub use ids::{CheckId, PartnerId};
pub use incident::{Cause, Evidence, HistoryKind, Incident, IncidentState, Priority};
pub use outbox::{ActionState, SinkKind};
pub use silence::{Held, Silence, SilenceState, SilenceTarget};
pub use status::{Component, ComponentStatus, EventDetail, EventKind, Indicator, Maintenance, PartnerIncident, PartnerStatus, StatusEvent};
#[cfg(test)]
pub(crate) use time::{HeldClock, until};
pub use time::{Timestamp, human_duration};

/// A word that is not one of its vocabulary's: the message lists the words that are.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{word}` is not one of {expected}")]
pub struct UnknownWord {
    /// What was read.
    pub word: String,
    /// The words of the vocabulary, comma-separated.
    pub expected: String,
}

impl UnknownWord {
    /// `word` is none of `words`.
    pub fn new<'a>(word: &str, words: impl Iterator<Item = &'a str>) -> Self {
        Self { word: word.to_owned(), expected: words.collect::<Vec<_>>().join(", ") }
    }
}
