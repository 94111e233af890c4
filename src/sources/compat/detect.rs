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
mod tests {
    use super::*;
    use crate::config::Pattern;

    fn config(beta: &[&str], version: Option<&str>) -> CompatConfig {
        CompatConfig {
            repository: "acme/compat".to_owned(),
            workflow: "compat.yml".to_owned(),
            git_ref: "main".to_owned(),
            beta_patterns: beta.iter().map(|p| Pattern::try_from((*p).to_owned()).unwrap()).collect(),
            version_pattern: version.map(|p| Pattern::try_from(p.to_owned()).unwrap()),
        }
    }

    fn defaults() -> Detector {
        Detector::new(&config(&[], None))
    }

    fn version(title: &str, text: &str) -> Option<String> {
        defaults().detect(title, text).and_then(|d| d.version)
    }

    #[test]
    fn default_patterns_trigger() {
        let d = defaults();
        for title in [
            "Users API v3 now in beta",
            "Public Preview: audit log streaming",
            "Upcoming API changes",
            "Release candidate 2 of the SDK",
            "SDK 4.0 RC1",
            "Client 2.0.0-rc published",
            "Early access: workflow hooks",
            "A new API version is out",
            "New version of the events endpoint",
        ] {
            assert!(d.detect(title, "").is_some(), "{title}");
        }
        for title in ["Bug fixes", "Betamax support", "Previewing files in the UI", "Sources of the rc file"] {
            assert_eq!(d.detect(title, "nothing of note"), None, "{title}");
        }
        assert_eq!(d.detect("Groups", "Added something.").map(|x| x.pattern), None);
        assert_eq!(d.detect("Security", "beta: added a property").unwrap().pattern, DEFAULT_BETA_PATTERNS[0]);
    }

    #[test]
    fn default_versions() {
        assert_eq!(version("API v2.1 beta", ""), Some("v2.1".to_owned()));
        assert_eq!(version("Upcoming: V3 of the API", ""), Some("v3".to_owned()));
        assert_eq!(version("Preview of version 2026-10-01", ""), Some("2026-10-01".to_owned()));
        assert_eq!(version("Okta preview release 2026.41.0", ""), Some("2026.41.0".to_owned()));
        assert_eq!(version("New beta properties", "Call https://graph.microsoft.com/beta/users to try them"), Some("beta".to_owned()));
        assert_eq!(version("Preview: bulk exports", "Try it under /beta/exports"), Some("beta".to_owned()));
        assert_eq!(version("Preview: bulk exports", "no version given"), None, "the caller falls back on the entry identity");
        assert_eq!(version("Beta: exports", "from v1.2 onwards"), Some("v1.2".to_owned()), "the text when the title has none");
    }

    #[test]
    fn a_version_pattern_takes_its_group() {
        let d = Detector::new(&config(&[], Some(r"(?i)release (?P<version>\d{4}\.\d+\.\d+)")));
        assert_eq!(d.detect("Okta preview release 2026.41.0", "").unwrap().version, Some("2026.41.0".to_owned()));
        assert_eq!(d.detect("Preview: v2.1", "").unwrap().version, None, "no default when a pattern is set");
    }

    #[test]
    fn partner_patterns_replace_the_defaults() {
        let d = Detector::new(&config(&[r"(?i)\bcanary\b"], None));
        assert!(d.detect("Canary channel v9", "").is_some());
        assert_eq!(d.detect("Beta v9", ""), None);
    }

    #[test]
    fn ga_and_deprecation_news_is_not_a_beta() {
        let d = defaults();
        assert_eq!(d.detect("Audit streaming is now generally available", "It was in public preview since May."), None);
        assert_eq!(d.detect("Beta endpoint deprecated", ""), None);
        assert_eq!(d.detect("Feature X reaches GA", "after a long beta"), None);
        assert_eq!(d.detect("Feature X", "formerly in preview, now generally available"), None);
        assert_eq!(d.detect("Deprecation of the v1 preview", ""), None);
        let kept = d.detect("Preview: API v2.1", "v2.1 will be generally available in March").unwrap();
        assert_eq!(kept.version, Some("v2.1".to_owned()), "a beta title is kept whatever the text says of later GA");
    }
}
