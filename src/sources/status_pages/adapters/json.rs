//! Any JSON status API, read with the JSONPath expressions (RFC 9535) of `[status_page.json]`
//! (see [`JsonPaths`] for the keys and their defaults).
//!
//! - Indicator: the `indicator` expression's nodes that classify ([`super::classify`]: the
//!   partner's rules, then the built-in words); several nodes: the worst of them. No node that
//!   classifies: [`PartnerStatus::derived_indicator`].
//! - Components: each node of `components`; name (`$.name`, a component without one is skipped),
//!   status word (`$.status`) classified; a word that does not classify reads as
//!   `degraded_performance` (never silently operational).
//! - Incidents: each node of `incidents` is an unresolved incident (filter resolved ones in the
//!   expression, e.g. `$[?!@.end || @.end == null]`: no `end`, or a null one); id (`$.id`, numbers too), title (`$.name`), status
//!   (`$.status`, lower case, else `unknown`), impact (`$.impact` classified, else `minor`), start
//!   (`$.started_at`, RFC 3339), link (`$.shortlink`, resolved against `url`), components
//!   (`$.components[*].name`).
//!
//! - Nothing read: when no expression matched (no indicator node that classifies, no
//!   description, no component, no incident, and no `incidents` list to filter: the items the
//!   expression selects from, e.g. `$.active_incidents` of `$.active_incidents[?...]`, absent
//!   or empty), the body is `no_status`: `{}`, `{"error": ...}` or `[]` never reads as all
//!   operational. A list whose every incident is filtered out (all resolved) is a reading.
//!
//! Examples (the partner files and the corpus test): Slack's status API v2
//! (https://slack-status.com/api/v2.0.0/current, `partners/slack.toml`) and Google Cloud's
//! `incidents.json` (https://status.cloud.google.com/incidents.json); Microsoft 365 Service
//! Health through Graph (`partners/microsoft-graph.toml`, `microsoft-365.toml`).

use serde_json::Value;

use super::{StatusParseError, absolute, classify, json_value, no_status, parse_time};
use crate::config::{JsonPathExpr, JsonPaths, StatusPageConfig, StatusRule};
use crate::model::statuspage::scalar_text;
use crate::model::{Component, ComponentStatus, ErrorKind, Indicator, PartnerIncident, PartnerStatus};

/// Parses a JSON status API body with `cfg.json`.
///
/// # Errors
/// `config` without `[status_page.json]`; `empty`, `html_not_json`, `malformed` (see
/// [`super::json_value`]); `not_status` when the body is a bare scalar, not an object or array;
/// `no_status` when no expression matched (see the module doc).
pub fn parse(cfg: &StatusPageConfig, body: &[u8], content_type: Option<&str>) -> Result<PartnerStatus, StatusParseError> {
    let paths =
        cfg.json.as_ref().ok_or_else(|| StatusParseError::new(ErrorKind::Config, "kind = \"json\" needs a [status_page.json] table"))?;
    let doc = json_value(body, content_type)?;
    if !(doc.is_object() || doc.is_array()) {
        return Err(StatusParseError::new(
            ErrorKind::NotStatus,
            format!("expected a JSON object or array, got `{}`", truncate(&doc.to_string())),
        ));
    }
    let mut page = PartnerStatus {
        indicator: Indicator::Unknown,
        description: paths.description.as_ref().and_then(|p| first(&doc, Some(p), &[])),
        components: nodes(&doc, paths.components.as_ref()).into_iter().filter_map(|c| component(c, paths, &cfg.rules)).collect(),
        incidents: nodes(&doc, paths.incidents.as_ref()).into_iter().enumerate().map(|(n, i)| incident(cfg, paths, i, n)).collect(),
        maintenances: Vec::new(),
        error: None,
    };
    let declared = indicator(&doc, paths.indicator.as_ref(), &cfg.rules);
    let read = declared.is_some()
        || page.description.is_some()
        || !page.components.is_empty()
        || !page.incidents.is_empty()
        || paths.incidents.as_ref().is_some_and(|p| lists_items(&doc, p));
    if !read {
        return Err(no_status("none of the [status_page.json] expressions matched", &doc));
    }
    page.indicator = declared.unwrap_or_else(|| page.derived_indicator());
    Ok(page)
}

/// True when the items `path` selects from (`path` without its last segment) include a list or
/// object that is not empty: `path` filtered every item out, which is a reading.
fn lists_items(doc: &Value, path: &JsonPathExpr) -> bool {
    let Some(parent) = parent(path.as_str()) else { return false };
    nodes(doc, Some(&parent))
        .into_iter()
        .any(|n| n.as_array().is_some_and(|a| !a.is_empty()) || n.as_object().is_some_and(|o| !o.is_empty()))
}

/// `expr` without its last segment (`$.value[*]` -> `$.value`, `$[?@.end == null]` -> `$`,
/// `$..a` -> `$`); `None` for `$` itself or what does not parse.
fn parent(expr: &str) -> Option<JsonPathExpr> {
    let (mut depth, mut quote, mut escaped) = (0usize, None, false);
    let (mut last, mut previous) = (None, ' ');
    for (i, c) in expr.char_indices() {
        if let Some(q) = quote {
            (escaped, quote) = match c {
                _ if escaped => (false, quote),
                '\\' => (true, quote),
                _ if c == q => (false, None),
                _ => (false, quote),
            };
        } else {
            match c {
                '\'' | '"' => quote = Some(c),
                // A segment starts at `[` or `.`; `..x` and `..[x]` start at the first dot.
                '[' | '.' if depth == 0 && previous != '.' => last = Some(i),
                _ => {}
            }
            match c {
                '[' => depth += 1,
                ']' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        previous = c;
    }
    expr.get(..last?)?.trim().parse().ok()
}

fn truncate(text: &str) -> String {
    text.chars().take(80).collect()
}

/// The nodes `path` selects (none without a path).
fn nodes<'a>(doc: &'a Value, path: Option<&JsonPathExpr>) -> Vec<&'a Value> {
    path.map(|p| p.path().query(doc).all()).unwrap_or_default()
}

/// The values at `path`, or at the default key path (`*` walks an array) without one.
fn values<'a>(item: &'a Value, path: Option<&JsonPathExpr>, default: &[&str]) -> Vec<&'a Value> {
    if let Some(p) = path {
        return p.path().query(item).all();
    }
    if default.is_empty() {
        return Vec::new();
    }
    let mut current = vec![item];
    for key in default {
        current = current
            .into_iter()
            .flat_map(|v| match (*key, v) {
                ("*", Value::Array(items)) => items.iter().collect::<Vec<_>>(),
                (k, Value::Object(map)) => map.get(k).into_iter().collect(),
                _ => Vec::new(),
            })
            .collect();
    }
    current
}

/// Every scalar at `path`/`default`, as text.
fn strings(item: &Value, path: Option<&JsonPathExpr>, default: &[&str]) -> Vec<String> {
    values(item, path, default).into_iter().filter_map(scalar_text).collect()
}

/// The first scalar at `path`/`default`, as text.
fn first(item: &Value, path: Option<&JsonPathExpr>, default: &[&str]) -> Option<String> {
    values(item, path, default).into_iter().find_map(scalar_text)
}

/// The worst indicator among the nodes that classify.
fn indicator(doc: &Value, path: Option<&JsonPathExpr>, rules: &[StatusRule]) -> Option<Indicator> {
    nodes(doc, path)
        .into_iter()
        .filter_map(scalar_text)
        .filter_map(|word| classify(&word, rules))
        .filter_map(Indicator::as_component_status)
        .max()
        .map(ComponentStatus::as_indicator)
}

fn component(item: &Value, paths: &JsonPaths, rules: &[StatusRule]) -> Option<Component> {
    let name = first(item, paths.component_name.as_ref(), &["name"])?;
    let status = first(item, paths.component_status.as_ref(), &["status"])
        .and_then(|w| classify(&w, rules))
        .and_then(Indicator::as_component_status)
        .unwrap_or(ComponentStatus::DegradedPerformance);
    Some(Component { name, status, group: None })
}

fn incident(cfg: &StatusPageConfig, paths: &JsonPaths, item: &Value, n: usize) -> PartnerIncident {
    let name = first(item, paths.incident_name.as_ref(), &["name"]);
    let id = first(item, paths.incident_id.as_ref(), &["id"]).or_else(|| name.clone()).unwrap_or_else(|| format!("incident-{n}"));
    PartnerIncident {
        name: name.unwrap_or_else(|| "untitled incident".to_owned()),
        impact: first(item, paths.incident_impact.as_ref(), &["impact"]).and_then(|w| classify(&w, &cfg.rules)).unwrap_or(Indicator::Minor),
        status: first(item, paths.incident_status.as_ref(), &["status"]).map_or_else(|| "unknown".to_owned(), |s| s.to_lowercase()),
        started_at: parse_time(first(item, paths.incident_started.as_ref(), &["started_at"]).as_deref()),
        shortlink: first(item, paths.incident_link.as_ref(), &["shortlink"]).map(|l| absolute(cfg, &l)),
        components: strings(item, paths.incident_components.as_ref(), &["components", "*", "name"]),
        id,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same `[status_page]` as `partners/slack.toml`.
    const SLACK: &str = r#"
kind = "json"
url = "https://slack-status.com/api/v2.0.0/current"
[json]
indicator = "$.active_incidents[?@.status != 'resolved'].type"
description = "$.status"
incidents = "$.active_incidents[?@.status != 'resolved']"
incident_name = "$.title"
incident_impact = "$.type"
incident_started = "$.date_created"
incident_link = "$.url"
incident_components = "$.services[*]"
[[rules]]
pattern = "(?i)^outage$"
status = "major"
[[rules]]
pattern = "(?i)^incident$"
status = "minor"
[[rules]]
pattern = "(?i)^notice$"
status = "none"
"#;

    /// A generic API with components and a page indicator.
    const GENERIC: &str = r#"
kind = "json"
url = "https://status.example.test/api/status"
[json]
indicator = "$.overall"
components = "$.services[*]"
component_status = "$.state"
incidents = "$.events[?@.end == null]"
incident_name = "$.title"
incident_impact = "$.severity"
incident_started = "$.begin"
incident_link = "$.uri"
incident_components = "$.products[*].title"
"#;

    fn cfg(toml_text: &str) -> StatusPageConfig {
        toml::from_str(toml_text).unwrap_or_else(|e| panic!("{e}"))
    }

    fn read(config: &str, body: &str) -> PartnerStatus {
        parse(&cfg(config), body.as_bytes(), None).unwrap_or_else(|e| panic!("{e}: {body}"))
    }

    fn slack(status: &str, incidents: &[(&str, &str)]) -> String {
        let items: Vec<String> = incidents
            .iter()
            .enumerate()
            .map(|(n, (kind, state))| {
                format!(
                    r#"{{"id":{},"date_created":"2024-02-27T07:41:56-08:00","title":"Problem {n}","type":"{kind}","status":"{state}",
                       "url":"https://status.slack.com/2024-02/x{n}","services":["Messaging","Login/SSO"],"notes":[]}}"#,
                    1300 + n
                )
            })
            .collect();
        format!(r#"{{"status":"{status}","date_created":"2024-02-27T08:02:40-08:00","active_incidents":[{}]}}"#, items.join(","))
    }

    #[test]
    fn slack_types_map_through_the_rules() {
        assert_eq!(read(SLACK, &slack("ok", &[])).indicator, Indicator::None);
        assert_eq!(read(SLACK, &slack("active", &[("notice", "active")])).indicator, Indicator::None, "a notice is not an outage");
        assert_eq!(read(SLACK, &slack("active", &[("incident", "active")])).indicator, Indicator::Minor);
        assert_eq!(read(SLACK, &slack("active", &[("outage", "active")])).indicator, Indicator::Major);
        assert_eq!(read(SLACK, &slack("active", &[("notice", "active"), ("outage", "active")])).indicator, Indicator::Major, "the worst");
    }

    #[test]
    fn a_slack_incident_in_progress_is_read_and_a_resolved_one_is_not() {
        let page = read(SLACK, &slack("active", &[("incident", "active"), ("outage", "resolved")]));
        assert_eq!(page.indicator, Indicator::Minor, "the resolved outage does not count");
        assert_eq!(page.incidents.len(), 1);
        let i = &page.incidents[0];
        assert_eq!((i.id.as_str(), i.name.as_str(), i.status.as_str(), i.impact), ("1300", "Problem 0", "active", Indicator::Minor));
        assert_eq!(i.started_at.map(|t| t.to_rfc3339()), Some("2024-02-27T15:41:56+00:00".to_owned()));
        assert_eq!(i.components, vec!["Messaging".to_owned(), "Login/SSO".to_owned()]);
        assert_eq!(page.description.as_deref(), Some("active"));
    }

    fn generic(overall: &str, api: &str, mail: &str, events: &str) -> String {
        format!(
            r#"{{"overall":"{overall}","services":[{{"name":"API","state":"{api}"}},{{"name":"Mail","state":"{mail}"}},{{"state":"down"}}],
                "events":[{events}]}}"#
        )
    }

    const OPEN: &str = r#"{"id":"e1","title":"Mail delays","severity":"medium","begin":"2026-01-05T10:00:00+00:00","end":null,
        "uri":"incidents/e1","products":[{"title":"Mail"}]}"#;
    const ENDED: &str =
        r#"{"id":"e0","title":"Old","severity":"high","begin":"2026-01-01T10:00:00+00:00","end":"2026-01-01T11:00:00+00:00"}"#;

    #[test]
    fn every_indicator_from_the_indicator_path() {
        for (word, expected) in [
            ("All Systems Operational", Indicator::None),
            ("degraded", Indicator::Minor),
            ("partial outage", Indicator::Major),
            ("major outage", Indicator::Critical),
            ("maintenance", Indicator::Maintenance),
        ] {
            assert_eq!(read(GENERIC, &generic(word, "operational", "operational", "")).indicator, expected, "{word}");
        }
        assert_eq!(read(GENERIC, &generic("weird", "operational", "partial_outage", "")).indicator, Indicator::Major, "derived");
    }

    #[test]
    fn a_partial_outage_counts_only_on_a_component_we_depend_on() {
        let page = read(GENERIC, &generic("partial outage", "operational", "Partial Outage", ""));
        assert_eq!(page.components.len(), 2, "a component without a name is skipped");
        assert_eq!(page.effective(&["API".to_owned()]), Some(ComponentStatus::Operational));
        assert_eq!(page.effective(&["mail".to_owned()]), Some(ComponentStatus::PartialOutage));
        let page = read(GENERIC, &generic("x", "sparkly", "operational", ""));
        assert_eq!(page.components[0].status, ComponentStatus::DegradedPerformance, "unknown words are never operational");
    }

    #[test]
    fn open_events_are_incidents_and_ended_ones_are_not() {
        let page = read(GENERIC, &generic("x", "operational", "operational", &format!("{OPEN},{ENDED}")));
        assert_eq!(page.incidents.len(), 1);
        let i = &page.incidents[0];
        assert_eq!((i.id.as_str(), i.impact, i.status.as_str()), ("e1", Indicator::Major, "unknown"));
        assert_eq!(i.shortlink.as_deref(), Some("https://status.example.test/api/incidents/e1"), "resolved against url");
        assert_eq!(i.components, vec!["Mail".to_owned()]);
        assert_eq!(page.indicator, Indicator::Major, "derived from the open incident");
        let unknown = r#"{"id":"e2","title":"?","severity":"purple","end":null}"#;
        assert_eq!(read(GENERIC, &generic("x", "operational", "operational", unknown)).incidents[0].impact, Indicator::Minor);
    }

    #[test]
    fn default_paths_read_statuspage_like_items() {
        let config = "kind = \"json\"\nurl = \"https://s.example.test/x.json\"\n[json]\ncomponents = \"$.c[*]\"\nincidents = \"$.i[*]\"\n";
        let page = read(
            config,
            r#"{"c":[{"name":"API","status":"under_maintenance"}],"i":[{"id":7,"name":"n","status":"Identified","impact":"critical",
                "started_at":"2026-01-05T10:00:00Z","shortlink":"https://x.test/7","components":[{"name":"API"}]}]}"#,
        );
        assert_eq!(page.components[0].status, ComponentStatus::UnderMaintenance);
        let i = &page.incidents[0];
        assert_eq!((i.id.as_str(), i.status.as_str(), i.impact), ("7", "identified", Indicator::Critical));
        assert_eq!(i.components, vec!["API".to_owned()]);
        assert_eq!(page.indicator, Indicator::Critical);
    }

    /// The `[status_page]` of a shipped partner file.
    fn shipped(file: &str) -> StatusPageConfig {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("partners").join(file);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut partner: toml::Table = toml::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
        let page = partner.remove("status_page").unwrap_or_else(|| panic!("{file}: no [status_page]"));
        page.try_into().unwrap_or_else(|e| panic!("{file}: {e}"))
    }

    #[test]
    fn a_body_with_nothing_to_read_is_no_status_never_operational() {
        for config in [cfg(SLACK), cfg(GENERIC), shipped("microsoft-graph.toml"), shipped("slack.toml")] {
            for body in ["{}", r#"{"status":{}}"#, r#"{"error":"x"}"#, "[]"] {
                let err = parse(&config, body.as_bytes(), None).err().unwrap_or_else(|| panic!("{body}: parsed with {}", config.url));
                assert_eq!(err.kind, ErrorKind::NoStatus, "{body}: {}", err.message);
                assert!(err.message.starts_with("nothing to read: none of the [status_page.json] expressions matched"), "{}", err.message);
            }
        }
        let err = parse(&cfg(SLACK), br#"{"error":"invalid_auth"}"#, None).err().map(|e| e.message).unwrap_or_default();
        assert!(err.contains("saying \"invalid_auth\""), "{err}");
        let gcp = "kind = \"json\"\nurl = \"https://x.test/incidents.json\"\n[json]\nincidents = \"$[?@.end == null]\"\n";
        assert_eq!(read(gcp, r#"[{"id":"a","end":"2026-01-01T00:00:00Z"}]"#).indicator, Indicator::None, "every incident over: a reading");
        assert_eq!(parse(&cfg(gcp), b"[]", None).err().map(|e| e.kind), Some(ErrorKind::NoStatus), "no list at all: nothing read");
    }

    #[test]
    fn the_parent_of_a_path_drops_its_last_segment() {
        let p = |e: &str| parent(e).map(|p| p.as_str().to_owned());
        assert_eq!(p("$.value[*]").as_deref(), Some("$.value"));
        assert_eq!(p("$.value[*].issues[?@.isResolved == false]").as_deref(), Some("$.value[*].issues"));
        assert_eq!(p("$[?!@.end || @.end == null]").as_deref(), Some("$"));
        assert_eq!(p("$.a[?@.name == 'x[1].y']").as_deref(), Some("$.a"), "brackets and dots in quotes");
        assert_eq!(p("$..items").as_deref(), Some("$"));
        assert_eq!(p("$"), None);
    }

    #[test]
    fn garbage_is_an_error_with_a_clear_message() {
        let c = cfg(SLACK);
        let err =
            |body: &[u8]| parse(&c, body, Some("text/html; charset=utf-8")).err().map(|e| (e.kind.as_str(), e.message)).unwrap_or_default();
        assert_eq!(err(b"").0, "empty");
        let (kind, message) = err(b"<!doctype html><title>502 Bad Gateway</title>");
        assert_eq!(kind, "html_not_json");
        assert!(message.contains("got an HTML page") && message.contains("text/html"), "{message}");
        let body = slack("active", &[("outage", "active")]);
        assert!(err(&body.as_bytes()[..body.len() - 5]).1.contains("truncated JSON"));
        assert_eq!(err(&[0x00, 0xde, 0xad, 0xbe, 0xef]).0, "malformed");
        assert_eq!(err(b"\"ok\"").0, "not_status");
        let mut no_paths = cfg(SLACK);
        no_paths.json = None;
        assert_eq!(parse(&no_paths, b"{}", None).err().map(|e| e.kind), Some(ErrorKind::Config));
    }
}
