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
