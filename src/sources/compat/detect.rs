//! Pure detection of a new beta / upcoming API version in a changelog entry: a partner's
//! `[compat] beta_patterns` (or the defaults) over the entry's title and text, a guard against
//! GA and deprecation news, and the version taken with `version_pattern` (or the defaults).

use std::sync::LazyLock;

use regex::Regex;

use crate::config::CompatConfig;

/// The default `beta_patterns`, used when a partner gives none.
pub const DEFAULT_BETA_PATTERNS: &[&str] = &[
    r"(?i)\bbeta\b",
    r"(?i)\bpreview\b",
    r"(?i)\bupcoming\b",
    r"(?i)\brelease candidate\b|\brc\d+\b|-rc\d*\b",
    r"(?i)\bearly access\b",
    r"(?i)\bnew (?:api )?version\b",
];

/// GA and deprecation news: an entry matched by one of these in its title, or in its text when
/// only its text matched a beta pattern, announces no beta (`formerly in preview, now generally
/// available`).
const GUARD: &str = r"(?i)\bGA\b|\bgenerally available\b|\bgeneral availability\b|\bdeprecat";

/// The default version extraction: `v2.1`, an ISO date, a calendar version such as Okta's
/// `2026.41.0`, or a `/beta/` endpoint (Microsoft Graph) read as `beta`.
const DEFAULT_VERSION: &str = r"(?i)(?P<version>\bv\d+(?:\.\d+)*\b|\b\d{4}-\d{2}-\d{2}\b|\b\d{4}\.\d+\.\d+\b)|(?P<endpoint>/beta(?:/|\b))";

static DEFAULTS: LazyLock<Vec<Regex>> =
    LazyLock::new(|| DEFAULT_BETA_PATTERNS.iter().map(|p| Regex::new(p).expect("a default beta pattern")).collect()); // invariant: constant patterns, tested
static GUARD_RE: LazyLock<Regex> = LazyLock::new(|| Regex::new(GUARD).expect("the GA guard")); // invariant: a constant pattern, tested
static DEFAULT_VERSION_RE: LazyLock<Regex> = LazyLock::new(|| Regex::new(DEFAULT_VERSION).expect("the default version")); // invariant: a constant pattern, tested

/// A partner's detector, built once from its `[compat]`.
#[derive(Debug, Clone)]
pub struct Detector {
    beta: Vec<Regex>,
    /// The partner's `version_pattern` (checked by the loader to have a group `version`).
    version: Option<Regex>,
}

/// What [`Detector::detect`] found in an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detected {
    /// The API version, when one could be extracted; `None`: the caller uses the entry's identity.
    pub version: Option<String>,
    /// The beta pattern that matched.
    pub pattern: String,
}

impl Detector {
    /// The detector of `config`: its `beta_patterns`, or the defaults when it gives none, and its
    /// `version_pattern`, or the default extraction.
    pub fn new(config: &CompatConfig) -> Self {
        let beta = if config.beta_patterns.is_empty() {
            DEFAULTS.clone()
        } else {
            config.beta_patterns.iter().map(|p| p.regex().clone()).collect()
        };
        Self { beta, version: config.version_pattern.as_ref().map(|p| p.regex().clone()) }
    }

    /// Whether the entry of `title` and `text` (plain text) announces a new beta / upcoming API
    /// version, and which one.
    pub fn detect(&self, title: &str, text: &str) -> Option<Detected> {
        let in_title = self.beta.iter().find(|re| re.is_match(title));
        let matched = match in_title {
            Some(re) if !GUARD_RE.is_match(title) => re,
            Some(_) => return None,
            None if GUARD_RE.is_match(title) || GUARD_RE.is_match(text) => return None,
            None => self.beta.iter().find(|re| re.is_match(text))?,
        };
        let version = [title, text].into_iter().find_map(|haystack| self.version_in(haystack));
        Some(Detected { version, pattern: matched.as_str().to_owned() })
    }

    fn version_in(&self, haystack: &str) -> Option<String> {
        match &self.version {
            Some(re) => re.captures(haystack)?.name("version").map(|m| m.as_str().trim().to_owned()).filter(|v| !v.is_empty()),
            None => {
                let caps = DEFAULT_VERSION_RE.captures(haystack)?;
                match caps.name("version") {
                    Some(m) => Some(m.as_str().to_lowercase()),
                    None => Some("beta".to_owned()),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
