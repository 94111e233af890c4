//! `[triage]` of `sparky.toml`: how causes are decided while partner pages misbehave.

use std::path::Path;

use serde::Deserialize;

use super::load::Problem;
use super::types::Duration;

/// `[triage]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TriageConfig {
    /// Readable polls in a row that must say the partner recovered before an external incident
    /// turns internal (which pages on-call). Default 2; unreadable polls neither count nor
    /// break the run.
    pub recovered_polls: u32,
    /// Partners triaged at once when many checks fail together (each partner's events stay in
    /// order). Default 32.
    pub concurrency: usize,
    /// Longest wait for a partner's page while a decision waits on it (no retries). Default 10 s.
    pub status_timeout: Duration,
}

impl Default for TriageConfig {
    fn default() -> Self {
        Self { recovered_polls: 2, concurrency: 32, status_timeout: Duration::from_secs(10) }
    }
}

impl TriageConfig {
    /// Bounds no type expresses.
    pub fn check(&self, file: &Path, problems: &mut Vec<Problem>) {
        if self.recovered_polls == 0 {
            problems.push(Problem::new(file, "triage.recovered_polls", "must be at least 1"));
        }
        if self.concurrency == 0 {
            problems.push(Problem::new(file, "triage.concurrency", "must be at least 1"));
        }
    }
}
