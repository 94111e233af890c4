//! Configuration: `sparky.toml`, `partners/*.toml`, `${VAR}` interpolation, environment overrides
//! and the `check-config` diagnostics (`FILE: key: reason`).

mod auth;
mod check;
mod github;
mod global;
mod jira;
mod load;
mod maintenance;
mod pagerduty;
mod partner;
mod request;
mod retention;
mod slack;
mod status_page;
mod statuspage;
mod triage;
mod types;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::model::{CheckId, PartnerId};

pub use auth::AuthConfig;
pub use check::{Assertion, CheckConfig, LatencyThresholds, Method, P95Config, StatusMatcher, StepConfig, ValueCheck};
pub use github::{GitHubAuth, GitHubConfig, TeamConfig};
pub use global::{
    ChangelogSettings, ConnectivityConfig, DatabaseConfig, GlobalConfig, HttpConfig, OutboxConfig, Schedules, ServerConfig,
    SyntheticsSettings,
};
pub use jira::JiraConfig;
pub use load::{EnvLookup, Problem, expand, parse_toml, read_toml};
pub use maintenance::{MaintenanceTable, MaintenanceWindow, WindowSchedule};
pub use pagerduty::PagerDutyConfig;
pub use partner::{CompatConfig, FeedConfig, FeedKind, Partner, PublicStatusConfig};
pub use request::{FollowRedirects, HeaderText, redact};
pub use retention::RetentionConfig;
pub use slack::{SlackConfig, check_channel};
pub use status_page::{JsonPathExpr, JsonPaths, NotConfigured, StatusPageConfig, StatusPageKind, StatusRule, StatusWord};
pub use statuspage::StatuspageConfig;
pub use triage::TriageConfig;
pub use types::{ByteSize, Cron, CssSelector, Duration, HttpUrl, Pattern, Secret};

/// Everything read from the config directory, valid as a whole.
#[derive(Debug, Clone)]
pub struct Config {
    /// The config directory (`--config`, `$SPARKY_CONFIG_DIR` or `.`).
    pub dir: PathBuf,
    /// `sparky.toml` with the environment applied.
    pub global: GlobalConfig,
    /// `partners/*.toml`, sorted by id.
    pub partners: Vec<Partner>,
    /// `synthetics/*.toml`, sorted by id (disabled ones included).
    pub checks: Vec<CheckConfig>,
    /// `[[maintenance]]` windows of `sparky.toml`, checked, in file order.
    pub maintenance: Vec<MaintenanceWindow>,
    /// Loaded with [`Secrets::WhereSet`]: each check whose variables are not all set, as
    /// `synthetics/FILE.toml: VAR, VAR not set` (such a check cannot run in this environment).
    pub unresolved: Vec<String>,
}

/// Whether every `${VAR}` of the check files must be set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Secrets {
    /// Every variable of every enabled check (commands that run checks: `run`, `once`, `check`).
    Required,
    /// Only where set: a check with a variable missing loads with it empty and is listed in
    /// [`Config::unresolved`] (read-only commands: `outbox`, `incidents`, `status`,
    /// `check-config`), so on-call can look from a plain shell.
    WhereSet,
}

/// The config could not be loaded; each problem reads `FILE: key: reason`.
#[derive(Debug, thiserror::Error)]
#[error("{} configuration problem(s):\n{}", .0.len(), .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
pub struct ConfigError(pub Vec<Problem>);

impl Config {
    /// Loads `dir` with the process environment.
    pub fn load(dir: &Path) -> Result<Self, ConfigError> {
        Self::load_with_env(dir, &|name| std::env::var(name).ok())
    }

    /// Loads `dir`, reading variables through `env`; every problem found is returned at once.
    pub fn load_with_env(dir: &Path, env: EnvLookup<'_>) -> Result<Self, ConfigError> {
        Self::load_as(dir, env, Secrets::Required)
    }

    /// Loads `dir` with the process environment, needing the checks' variables as `secrets` says.
    pub fn load_for(dir: &Path, secrets: Secrets) -> Result<Self, ConfigError> {
        Self::load_as(dir, &|name| std::env::var(name).ok(), secrets)
    }

    /// [`Config::load_with_env`] needing the checks' variables as `secrets` says.
    pub fn load_as(dir: &Path, env: EnvLookup<'_>, secrets: Secrets) -> Result<Self, ConfigError> {
        let mut problems = Vec::new();
        if !dir.is_dir() {
            return Err(ConfigError(vec![Problem::new(dir, "-", "config directory does not exist")]));
        }
        let global = load_global(dir, env, &mut problems);
        let mut partners = load_partners(dir, env, &mut problems);
        let mut unresolved = Vec::new();
        let mut checks = load_checks(dir, env, (secrets, &mut unresolved), &partners, &global.retention, &mut problems);
        default_intervals(&global.schedules, &mut partners, &mut checks);
        let maintenance = maintenance::windows(&global.maintenance, &partners, &checks, Path::new("sparky.toml"), &mut problems);
        if !problems.is_empty() {
            return Err(ConfigError(first_per_key(problems)));
        }
        Ok(Self { dir: dir.to_owned(), global, partners, checks, maintenance, unresolved })
    }

    /// The database URL, a relative SQLite path resolved against the config directory and
    /// `mode=rwc` added so the file is created on first use.
    pub fn database_url(&self) -> String {
        resolve_database_url(&self.global.database.url, &self.dir)
    }

    /// The partner with this id.
    pub fn partner(&self, id: &str) -> Option<&Partner> {
        self.partners.iter().find(|p| p.id.as_str() == id)
    }
}

/// `[schedules] status` and `checks` for the pages and checks that set no interval of their own
/// (a check with a `cron` keeps it).
fn default_intervals(schedules: &Schedules, partners: &mut [Partner], checks: &mut [CheckConfig]) {
    for page in partners.iter_mut().filter_map(|p| p.status_page.as_mut()) {
        page.interval.get_or_insert(schedules.status);
    }
    for check in checks.iter_mut().filter(|c| c.cron.is_none()) {
        check.interval.get_or_insert(schedules.checks);
    }
}

/// One problem per (file, key): the first is the cause, later ones its echoes (an unset
/// variable leaves an empty value that then fails its own check).
fn first_per_key(problems: Vec<Problem>) -> Vec<Problem> {
    let mut seen = std::collections::HashSet::new();
    problems.into_iter().filter(|p| seen.insert((p.file.clone(), p.key.clone()))).collect()
}

fn load_global(dir: &Path, env: EnvLookup<'_>, problems: &mut Vec<Problem>) -> GlobalConfig {
    let rel = Path::new("sparky.toml");
    let mut global = if dir.join(rel).exists() { read_toml(dir, rel, env, problems).unwrap_or_default() } else { GlobalConfig::default() };
    global.apply_env(env, problems);
    global.github.read_key_file(dir, problems);
    global.check(rel, problems);
    global
}

fn load_partners(dir: &Path, env: EnvLookup<'_>, problems: &mut Vec<Problem>) -> Vec<Partner> {
    let mut by_id: BTreeMap<PartnerId, (PathBuf, Partner)> = BTreeMap::new();
    for rel in toml_files(dir, "partners", problems) {
        let Some(mut raw) = read_raw(dir, &rel, problems) else { continue };
        let not_configured = status_page::take_unconfigured(&mut raw, env, &rel, problems);
        let Some(mut partner) = load::parse_parsed::<Partner>(raw, &rel, env, problems) else { continue };
        (partner.file, partner.status_page_not_configured) = (rel.clone(), not_configured);
        partner.check(&rel, problems);
        if let Some((first, _)) = by_id.get(&partner.id) {
            problems.push(Problem::new(&rel, "id", format!("duplicate partner id `{}` (also in {})", partner.id, first.display())));
            continue;
        }
        by_id.insert(partner.id.clone(), (rel, partner));
    }
    by_id.into_values().map(|(_, p)| p).collect()
}

fn load_checks(
    dir: &Path,
    env: EnvLookup<'_>,
    (secrets, unresolved): (Secrets, &mut Vec<String>),
    partners: &[Partner],
    retention: &RetentionConfig,
    problems: &mut Vec<Problem>,
) -> Vec<CheckConfig> {
    let mut by_id: BTreeMap<CheckId, (PathBuf, CheckConfig)> = BTreeMap::new();
    for rel in toml_files(dir, "synthetics", problems) {
        let Some(raw) = read_raw(dir, &rel, problems) else { continue };
        let (enabled, captures) = check_file_shape(&raw);
        // `${name}` of a value captured by a step is the check's own placeholder, not the
        // environment's; a disabled check needs none of its variables.
        let missing = std::cell::RefCell::new(Vec::new());
        let lookup = |name: &str| match env(name) {
            _ if captures.iter().any(|c| c == name) => Some(format!("${{{name}}}")),
            None if !enabled => Some(String::new()),
            None if secrets == Secrets::WhereSet => {
                missing.borrow_mut().push(name.to_owned());
                Some(String::new())
            }
            found => found,
        };
        let Some(mut check) = load::parse_parsed::<CheckConfig>(raw.clone(), &rel, &lookup, problems) else { continue };
        let mut missing = missing.into_inner();
        missing.sort();
        missing.dedup();
        if !missing.is_empty() {
            unresolved.push(format!("{}: {} not set: the check cannot run in this environment", rel.display(), missing.join(", ")));
        }
        check.mark_secret_headers(&raw, &captures, env);
        check.check(&rel, partners.iter().find(|p| p.id == check.partner), problems);
        retention.check_windows(&check, &rel, problems);
        if let Some((first, _)) = by_id.get(&check.id) {
            problems.push(Problem::new(&rel, "id", format!("duplicate check id `{}` (also in {})", check.id, first.display())));
            continue;
        }
        by_id.insert(check.id.clone(), (rel, check));
    }
    by_id.into_values().map(|(_, c)| c).collect()
}

/// `dir/rel` as a TOML value, `${VAR}` not yet interpolated; problems pushed.
fn read_raw(dir: &Path, rel: &Path, problems: &mut Vec<Problem>) -> Option<toml::Value> {
    match std::fs::read_to_string(dir.join(rel)) {
        Ok(text) => load::parse_raw(&text, rel, problems),
        Err(e) => {
            problems.push(Problem::new(rel, "-", format!("cannot read file: {e}")));
            None
        }
    }
}

/// `enabled` and the names of captured values, read before interpolation.
fn check_file_shape(value: &toml::Value) -> (bool, Vec<String>) {
    let enabled = value.get("enabled").and_then(toml::Value::as_bool).unwrap_or(true);
    let captures = value
        .get("step")
        .and_then(toml::Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|step| step.get("capture").and_then(toml::Value::as_table))
        .flat_map(|t| t.keys().cloned())
        .collect();
    (enabled, captures)
}

/// The `*.toml` files of `dir/sub`, relative to `dir`, sorted; a missing folder is no files.
pub fn toml_files(dir: &Path, sub: &str, problems: &mut Vec<Problem>) -> Vec<PathBuf> {
    let folder = dir.join(sub);
    let entries = match std::fs::read_dir(&folder) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
        Err(e) => {
            problems.push(Problem::new(sub, "-", format!("cannot read folder: {e}")));
            return Vec::new();
        }
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml") && p.is_file())
        .filter_map(|p| p.file_name().map(|n| Path::new(sub).join(n)))
        .collect();
    files.sort();
    files
}

fn resolve_database_url(url: &str, dir: &Path) -> String {
    let Some(rest) = url.strip_prefix("sqlite:") else { return url.to_owned() };
    let rest = rest.trim_start_matches("//");
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if path == ":memory:" {
        return url.to_owned();
    }
    let path = Path::new(path);
    let full = if path.is_absolute() { path.to_owned() } else { dir.join(path) };
    let query = if query.contains("mode=") {
        query.to_owned()
    } else if query.is_empty() {
        "mode=rwc".to_owned()
    } else {
        format!("{query}&mode=rwc")
    };
    format!("sqlite://{}?{query}", full.display())
}

#[cfg(test)]
mod tests;
