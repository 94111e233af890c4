//! What a check run produces: its outcome, error kind and every assertion's outcome.

use serde::{Deserialize, Serialize};

/// The outcome of a check result (DESIGN.md): `pass`, `warn` (degraded, e.g. latency over
/// `warn_above`), `fail`. Ordered by severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Everything held.
    Pass,
    /// Degraded: a warn threshold was crossed.
    Warn,
    /// Failed.
    Fail,
}

impl Outcome {
    /// The word.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Warn => "warn",
            Self::Fail => "fail",
        }
    }

    /// Reads the word.
    pub fn parse(word: &str) -> Option<Self> {
        [Self::Pass, Self::Warn, Self::Fail].into_iter().find(|o| o.as_str() == word)
    }
}

/// Why a result failed: transport (`dns`, `connect`, `tls`, `timeout`), the status code
/// (`http`), another assertion (`assertion`), or credentials (`auth`: 401/403, or the token
/// endpoint failing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ErrorKind {
    /// Name resolution failed.
    Dns,
    /// TCP connection refused or reset.
    Connect,
    /// TLS handshake or certificate.
    Tls,
    /// No answer within the timeout.
    Timeout,
    /// The status code failed its assertion.
    Http,
    /// Another assertion failed.
    Assertion,
    /// Credentials rejected or not obtainable.
    Auth,
}

impl ErrorKind {
    /// The word.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Dns => "dns",
            Self::Connect => "connect",
            Self::Tls => "tls",
            Self::Timeout => "timeout",
            Self::Http => "http",
            Self::Assertion => "assertion",
            Self::Auth => "auth",
        }
    }

    /// Reads the word.
    pub fn parse(word: &str) -> Option<Self> {
        [Self::Dns, Self::Connect, Self::Tls, Self::Timeout, Self::Http, Self::Assertion, Self::Auth]
            .into_iter()
            .find(|k| k.as_str() == word)
    }
}

/// One assertion's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssertionResult {
    /// The assertion in words: `status is 2xx`, `latency under 2s (warn) / 10s (fail)`,
    /// `$.result[0].id exists` ...
    pub assertion: String,
    /// Pass, warn or fail.
    pub outcome: Outcome,
    /// What was observed: `got 503`, `took 2.4s`, `no node` ...
    pub detail: String,
}

/// The worst outcome of a set of assertions (`pass` for none).
pub fn worst(results: &[AssertionResult]) -> Outcome {
    results.iter().map(|r| r.outcome).max().unwrap_or(Outcome::Pass)
}
