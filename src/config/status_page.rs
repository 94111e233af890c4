//! `[status_page]` of a partner file: which adapter reads the page, and how.

use std::path::Path;

use serde::Deserialize;

use super::auth::AuthConfig;
use super::load::{EnvLookup, Problem, variables};
use super::types::{CssSelector, Duration, HttpUrl, Pattern};
use crate::model::{ComponentStatus, Indicator};

/// How a status page is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StatusPageKind {
    /// Atlassian Statuspage v2 public API (`/api/v2/summary.json`, also `status.json`,
    /// `components.json`, `incidents.json`), incident.io's compatible summary included.
    Statuspage,
    /// A status history RSS/Atom feed (e.g. Statuspage's `history.atom`).
    Feed,
    /// An HTML status page scraped with CSS selectors.
    Html,
    /// A JSON status API read with JSONPath (RFC 9535).
    Json,
}

/// `[status_page]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusPageConfig {
    /// The adapter.
    pub kind: StatusPageKind,
    /// The page or API URL.
    pub url: HttpUrl,
    /// Names of the components we depend on; empty: the page indicator decides.
    #[serde(default)]
    pub components: Vec<String>,
    /// Poll interval. Default 5 min.
    #[serde(default)]
    pub interval: Option<Duration>,
    /// The human page linked from notices; default: the scheme and host of `url`.
    #[serde(default)]
    pub link: Option<HttpUrl>,
    /// (html) The element whose text is the overall status.
    #[serde(default)]
    pub overall: Option<CssSelector>,
    /// (html) One element per component; inside it `component_name` and `component_status`.
    #[serde(default)]
    pub component: Option<CssSelector>,
    /// (html) The component's name, inside a component element (default: its own text).
    #[serde(default)]
    pub component_name: Option<CssSelector>,
    /// (html) The component's status text, inside a component element.
    #[serde(default)]
    pub component_status: Option<CssSelector>,
    /// (html) One element per unresolved incident.
    #[serde(default)]
    pub incident: Option<CssSelector>,
    /// (html) The incident's title, inside an incident element (default: its own text).
    #[serde(default)]
    pub incident_name: Option<CssSelector>,
    /// (html) The incident's impact or status text, inside an incident element.
    #[serde(default)]
    pub incident_impact: Option<CssSelector>,
    /// (json) JSONPath expressions.
    #[serde(default)]
    pub json: Option<JsonPaths>,
    /// (html, json, feed) Text-to-status rules, tried in order before the built-in words.
    #[serde(default)]
    pub rules: Vec<StatusRule>,
    /// Credentials of a status API that needs them (`[status_page.auth]`: the kinds and keys of
    /// a synthetic check's `[auth]`), e.g. Microsoft 365 Service Health through Graph.
    #[serde(default)]
    pub auth: Option<AuthConfig>,
    /// The page needs settings a deployment may not have: when none of the `${VAR}`s of
    /// `[status_page]` is set, the page is *not configured* (reported, never polled, and the
    /// partner counts as having no status page) instead of a configuration error. Some set and
    /// some not is a configuration error.
    #[serde(default)]
    pub optional: bool,
}

/// A `[status_page]` with `optional = true` and none of its variables set: left unread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotConfigured {
    /// The variables that would configure it, sorted.
    pub variables: Vec<String>,
    /// The page's `url`, as written (when it is text without variables).
    pub url: Option<String>,
}

impl std::fmt::Display for NotConfigured {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let page = self.url.as_deref().map(|u| format!(" {u}")).unwrap_or_default();
        write!(f, "not configured: set {} to read{page}; until then the partner has no status page", self.variables.join(", "))
    }
}

/// Takes an optional `[status_page]` whose variables are all unset out of `partner` (the file as
/// read, before `${VAR}` interpolation) and says it is not configured. `None` for any other
/// file; with some of the variables set and some not, or `optional` on a page without any, a
/// problem is pushed too (the unset ones are then reported where they are used).
pub(super) fn take_unconfigured(
    partner: &mut toml::Value,
    env: EnvLookup<'_>,
    file: &Path,
    problems: &mut Vec<Problem>,
) -> Option<NotConfigured> {
    let page = partner.get("status_page")?;
    if page.get("optional").and_then(toml::Value::as_bool) != Some(true) {
        return None;
    }
    let names = variables(page);
    let unset: Vec<&str> = names.iter().map(String::as_str).filter(|name| env(name).is_none()).collect();
    if names.is_empty() {
        problems.push(Problem::new(
            file,
            "status_page.optional",
            "the page uses no ${VAR}, so nothing can leave it not configured: remove `optional`",
        ));
        return None;
    }
    if unset.is_empty() {
        return None;
    }
    if unset.len() < names.len() {
        problems.push(Problem::new(
            file,
            "status_page",
            format!("set all of {} to read this page, or none to leave it not configured (unset: {})", names.join(", "), unset.join(", ")),
        ));
        return None;
    }
    let url = page.get("url").and_then(toml::Value::as_str).filter(|u| !u.contains("${")).map(str::to_owned);
    partner.as_table_mut().and_then(|t| t.remove("status_page"));
    Some(NotConfigured { variables: names, url })
}

/// `[status_page.json]`: where the parts of the model are in a JSON status API. Paths in the
/// `component_*` and `incident_*` keys are relative to one item (`$` is the item).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonPaths {
    /// The page indicator (a word the rules or built-in words map; several nodes: the worst that
    /// maps); default, or when no node maps: derived from the components and incidents.
    #[serde(default)]
    pub indicator: Option<JsonPathExpr>,
    /// The page's own description.
    #[serde(default)]
    pub description: Option<JsonPathExpr>,
    /// The component items.
    #[serde(default)]
    pub components: Option<JsonPathExpr>,
    /// Component name (default `$.name`).
    #[serde(default)]
    pub component_name: Option<JsonPathExpr>,
    /// Component status word (default `$.status`).
    #[serde(default)]
    pub component_status: Option<JsonPathExpr>,
    /// The unresolved incident items (filter resolved ones out in the expression, e.g.
    /// `$[?@.end == null]`).
    #[serde(default)]
    pub incidents: Option<JsonPathExpr>,
    /// Incident id (default `$.id`).
    #[serde(default)]
    pub incident_id: Option<JsonPathExpr>,
    /// Incident title (default `$.name`).
    #[serde(default)]
    pub incident_name: Option<JsonPathExpr>,
    /// Incident status word (default `$.status`).
    #[serde(default)]
    pub incident_status: Option<JsonPathExpr>,
    /// Incident impact word (default `$.impact`); unmapped or absent: `minor`.
    #[serde(default)]
    pub incident_impact: Option<JsonPathExpr>,
    /// Incident start time, RFC 3339 (default `$.started_at`).
    #[serde(default)]
    pub incident_started: Option<JsonPathExpr>,
    /// Incident link (default `$.shortlink`).
    #[serde(default)]
    pub incident_link: Option<JsonPathExpr>,
    /// Names of the incident's components, one node each (default `$.components[*].name`).
    #[serde(default)]
    pub incident_components: Option<JsonPathExpr>,
}

/// `[[status_page.rules]]`: text matching `pattern` means `status` (an indicator word or a
/// component status word: `none`/`operational`, `minor`/`degraded_performance`,
/// `major`/`partial_outage`, `critical`/`major_outage`, `maintenance`/`under_maintenance`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusRule {
    /// Regular expression tried against the text.
    pub pattern: Pattern,
    /// What it means.
    pub status: StatusWord,
}

/// A status word, parsed: one severity, spelled as an indicator or as a component status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct StatusWord(pub Indicator);

impl TryFrom<String> for StatusWord {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        match Indicator::read_word(&s) {
            Some(i) => Ok(Self(i)),
            None => Err(format!("`{s}` is not a status: use none, minor, major, critical, maintenance or a component status")),
        }
    }
}

impl StatusWord {
    /// As a component status.
    pub fn component_status(self) -> ComponentStatus {
        self.0.as_component_status().unwrap_or(ComponentStatus::Operational)
    }
}

/// A JSONPath expression (RFC 9535), parsed when the config is read.
#[derive(Clone, Deserialize)]
#[serde(try_from = "String")]
pub struct JsonPathExpr {
    source: String,
    parsed: serde_json_path::JsonPath,
}

impl JsonPathExpr {
    /// The expression as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// The parsed path.
    pub fn path(&self) -> &serde_json_path::JsonPath {
        &self.parsed
    }
}

impl std::fmt::Debug for JsonPathExpr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "JsonPath({})", self.source)
    }
}

impl TryFrom<String> for JsonPathExpr {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let parsed = serde_json_path::JsonPath::parse(&s).map_err(|e| format!("`{s}` is not a JSONPath (RFC 9535): {e}"))?;
        Ok(Self { source: s, parsed })
    }
}

impl std::str::FromStr for JsonPathExpr {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::try_from(s.to_owned())
    }
}

/// Default poll interval.
pub(super) const DEFAULT_INTERVAL: std::time::Duration = std::time::Duration::from_secs(300);

impl StatusPageConfig {
    /// The poll interval.
    pub fn interval(&self) -> std::time::Duration {
        self.interval.map_or(DEFAULT_INTERVAL, Duration::get)
    }

    /// The page people open: `link`, else `url` made human: for `statuspage` the page the API
    /// belongs to (`…/api/v2/summary.json` -> `…/`), for a `feed` the folder of the feed file,
    /// for `json` the origin; an `html` page is itself. Scheme, host, port and any leading path
    /// are kept (`http://127.0.0.1:18080/acme/api/v2/summary.json` -> `http://127.0.0.1:18080/acme/`).
    pub fn human_link(&self) -> String {
        if let Some(link) = &self.link {
            return link.to_string();
        }
        let mut url = self.url.url().clone();
        url.set_query(None);
        url.set_fragment(None);
        let path = url.path().to_owned();
        let kept = match self.kind {
            StatusPageKind::Html => path.as_str(),
            StatusPageKind::Statuspage => path.find("/api/v2/").map_or(path.as_str(), |i| &path[..=i]),
            StatusPageKind::Feed => path.rfind('/').map_or("/", |i| &path[..=i]),
            StatusPageKind::Json => "/",
        };
        url.set_path(kept);
        url.to_string()
    }

    /// Checks that need more than one key.
    pub fn check(&self, file: &Path, problems: &mut Vec<Problem>) {
        let html_keys = [
            ("overall", self.overall.is_some()),
            ("component", self.component.is_some()),
            ("component_name", self.component_name.is_some()),
            ("component_status", self.component_status.is_some()),
            ("incident", self.incident.is_some()),
            ("incident_name", self.incident_name.is_some()),
            ("incident_impact", self.incident_impact.is_some()),
        ];
        if self.kind != StatusPageKind::Html {
            for (key, set) in html_keys {
                if set {
                    problems.push(Problem::new(file, format!("status_page.{key}"), "CSS selectors apply only to kind = \"html\""));
                }
            }
        } else if self.overall.is_none() && self.component.is_none() {
            problems.push(Problem::new(file, "status_page.overall", "kind = \"html\" needs `overall` or `component` (CSS selectors)"));
        } else if self.component.is_some() && self.component_status.is_none() {
            problems.push(Problem::new(
                file,
                "status_page.component_status",
                "needed with `component`: the selector of the status text inside a component",
            ));
        }
        match (self.kind, &self.json) {
            (StatusPageKind::Json, None) => problems.push(Problem::new(
                file,
                "status_page.json",
                "kind = \"json\" needs a [status_page.json] table of JSONPath expressions",
            )),
            (StatusPageKind::Json, Some(paths)) if paths.indicator.is_none() && paths.components.is_none() && paths.incidents.is_none() => {
                problems.push(Problem::new(file, "status_page.json", "give at least one of `indicator`, `components`, `incidents`"));
            }
            (StatusPageKind::Json, Some(_)) => {}
            (_, Some(_)) => problems.push(Problem::new(file, "status_page.json", "JSONPath expressions apply only to kind = \"json\"")),
            (_, None) => {}
        }
        if let Some(auth) = &self.auth {
            auth.check_transport("status_page.auth", &self.url, "status_page.url", file, problems);
        }
        if self.interval().as_secs() < 10 {
            problems.push(Problem::new(file, "status_page.interval", "poll at most every 10 s"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(kind: &str, url: &str) -> StatusPageConfig {
        let extra = match kind {
            "html" => "overall = \".status\"\n",
            "json" => "[json]\nindicator = \"$.status\"\n",
            _ => "",
        };
        toml::from_str(&format!("kind = \"{kind}\"\nurl = \"{url}\"\n{extra}")).unwrap()
    }

    #[test]
    fn the_human_link_keeps_port_and_path() {
        let cases = [
            ("statuspage", "http://127.0.0.1:18080/api/v2/summary.json", "http://127.0.0.1:18080/"),
            ("statuspage", "https://status.example.com/acme/api/v2/summary.json?x=1", "https://status.example.com/acme/"),
            ("feed", "https://www.githubstatus.com/history.atom", "https://www.githubstatus.com/"),
            ("html", "http://127.0.0.1:8080/status/page.html", "http://127.0.0.1:8080/status/page.html"),
            ("json", "https://slack-status.com:8443/api/v2.0.0/current", "https://slack-status.com:8443/"),
        ];
        for (kind, url, human) in cases {
            assert_eq!(page(kind, url).human_link(), human, "{kind} {url}");
        }
    }

    const PAGE: &str = "id = 'p'\nname = 'P'\n[status_page]\nkind = 'statuspage'\nurl = 'https://s.test/api/v2/summary.json'\noptional = true\n\
                        [status_page.auth]\nkind = 'basic'\nusername = '${USER}'\npassword = '${PASSWORD}'\n";

    /// (not configured, problems, whether `[status_page]` is still in the file).
    fn take(text: &str, set: &[&str]) -> (Option<NotConfigured>, Vec<String>, bool) {
        let mut value: toml::Value = toml::from_str(text).unwrap_or_else(|e| panic!("{e}"));
        let env = |name: &str| set.contains(&name).then(|| "x".to_owned());
        let mut problems = Vec::new();
        let taken = take_unconfigured(&mut value, &env, Path::new("partners/p.toml"), &mut problems);
        (taken, problems.iter().map(ToString::to_string).collect(), value.get("status_page").is_some())
    }

    #[test]
    fn an_optional_page_is_taken_out_only_when_none_of_its_variables_is_set() {
        let (taken, problems, left) = take(PAGE, &[]);
        let taken = taken.unwrap_or_else(|| panic!("not configured"));
        assert_eq!(taken.variables, ["PASSWORD", "USER"]);
        assert_eq!(
            taken.to_string(),
            "not configured: set PASSWORD, USER to read https://s.test/api/v2/summary.json; until then the partner has no status page"
        );
        assert!(problems.is_empty() && !left);
        assert_eq!(take(PAGE, &["USER", "PASSWORD"]), (None, vec![], true), "all set: configured");
        let (taken, problems, left) = take(PAGE, &["USER"]);
        assert!(taken.is_none() && left);
        assert_eq!(
            problems,
            [
                "partners/p.toml: status_page: set all of PASSWORD, USER to read this page, or none to leave it not configured (unset: PASSWORD)"
            ]
        );
        assert_eq!(
            take(&PAGE.replace("optional = true", "optional = false"), &[]),
            (None, vec![], true),
            "not optional: the loader reports the variables"
        );
        let (_, problems, _) =
            take("id = 'p'\nname = 'P'\n[status_page]\nkind = 'statuspage'\nurl = 'https://s.test/'\noptional = true\n", &[]);
        assert_eq!(problems.len(), 1, "optional without variables: {problems:?}");
    }
}
