//! `sparky check-config [--online]`: every problem as `FILE: key: reason` (exit 2; a sink
//! configured by halves is one, naming the missing variable); then what each sink will do (one
//! line each: posting, printing only and why), what is configured but left unread (a status page not configured, one line each), and the component
//! names a partner file depends on that its page did not list when last read (warnings, exit
//! code unchanged); with `--online`, one read of every source ([`super::online`]). Under
//! `--json` one JSON object says all of it (problems as `{file, key, reason}` objects).

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use super::text::plural;
use crate::config::{Config, ConfigError, Partner, Problem, Secrets, StatusPageConfig};
use crate::model::{PartnerStatus, Timestamp};
use crate::store::Store;
use crate::store::status::snapshot_at;
use crate::templates::Templates;

/// Longest wait for the database the warnings read (it may be down: then they are skipped).
const DATABASE_WAIT: Duration = Duration::from_secs(3);
/// Names of a page's components listed in a warning.
const LISTED: usize = 12;

/// What `check-config` found, as `--json` prints it.
#[derive(Debug, Default, serde::Serialize)]
struct Report {
    /// No problem found.
    ok: bool,
    /// Each problem: `{"file": "sparky.toml", "key": "outbox.max_attempts", "reason": "..."}`.
    problems: Vec<Problem>,
    /// Counts of what was loaded (absent when there are problems).
    loaded: Option<Loaded>,
    /// What each sink will do: `{"sink": "slack", "does": "posting to #ecosystem-updates ..."}`.
    sinks: Vec<SinkLine>,
    /// Checks whose `${VAR}`s are not set here (they cannot run in this environment).
    unresolved: Vec<String>,
    /// Status pages configured but not read: `{"file": ..., "key": "status_page", "reason": ...}`.
    not_configured: Vec<Problem>,
    /// Component names the partner's page did not list when last read.
    warnings: Vec<String>,
    /// With `--online`: one result per source.
    online: Option<Vec<super::online::Checked>>,
}

#[derive(Debug, serde::Serialize)]
struct Loaded {
    partners: usize,
    feeds: usize,
    checks: usize,
    enabled_checks: usize,
}

#[derive(Debug, serde::Serialize)]
struct SinkLine {
    sink: String,
    does: String,
}

/// Validates `dir`; with `online`, reads every source once. Exit 2 on a configuration problem,
/// else 0 (1 when `online` and a source failed). `json`: one JSON object ([`Report`]) on
/// standard output instead of the lines.
pub(super) async fn run(dir: &Path, online: bool, json: bool) -> ExitCode {
    let (mut report, config) = match load(dir) {
        Ok(config) => (loaded(&config).await, Some(config)),
        Err(mut problems) => {
            problems.dedup();
            (Report { problems, ..Report::default() }, None)
        }
    };
    if !json {
        print(&report);
    }
    let code = match &config {
        None => ExitCode::from(2),
        Some(config) if online => {
            let (code, checked) = super::online::run(config, json).await;
            report.online = Some(checked);
            code
        }
        Some(_) => ExitCode::SUCCESS,
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
    }
    code
}

/// The report of a configuration without problems.
async fn loaded(config: &Config) -> Report {
    let sinks = config
        .global
        .sink_modes()
        .into_iter()
        .map(|line| match line.split_once(": ") {
            Some((sink, does)) => SinkLine { sink: sink.to_owned(), does: does.to_owned() },
            None => SinkLine { sink: String::new(), does: line },
        })
        .collect();
    let not_configured = config
        .partners
        .iter()
        .filter_map(|p| p.status_page_not_configured.as_ref().map(|why| Problem::new(&p.file, "status_page", why.to_string())))
        .collect();
    Report {
        ok: true,
        problems: Vec::new(),
        loaded: Some(Loaded {
            partners: config.partners.len(),
            feeds: config.partners.iter().map(|p| p.feeds.len()).sum(),
            checks: config.checks.len(),
            enabled_checks: config.checks.iter().filter(|c| c.enabled).count(),
        }),
        sinks,
        unresolved: config.unresolved.clone(),
        not_configured,
        warnings: component_warnings(config).await,
        online: None,
    }
}

/// The lines for people: the problems, or what was loaded and what each sink will do.
fn print(report: &Report) {
    for problem in &report.problems {
        println!("{problem}");
    }
    if let Some(l) = &report.loaded {
        println!(
            "configuration ok: {}, {}, {} ({} enabled)",
            plural(l.partners, "partner"),
            plural(l.feeds, "feed"),
            plural(l.checks, "synthetic check"),
            l.enabled_checks
        );
    }
    for s in &report.sinks {
        println!("{}: {}", s.sink, s.does);
    }
    for line in report.unresolved.iter().chain(&report.warnings) {
        println!("{line}");
    }
    for p in &report.not_configured {
        println!("{p}");
    }
}

/// The configuration and the template overrides, or every problem (a template is also rendered
/// through the code that uses it, with sample data, strictly: see `service::samples`).
fn load(dir: &Path) -> Result<Config, Vec<crate::config::Problem>> {
    let config = Config::load_for(dir, Secrets::WhereSet).map_err(|ConfigError(problems)| problems)?;
    let problems = crate::service::samples::template_problems(&Templates::load(dir)?);
    if problems.is_empty() { Ok(config) } else { Err(problems) }
}

/// For every partner that names `components`: the names its page did not list in the latest
/// stored snapshot. None when nothing was recorded yet (no database, no snapshot, or a page
/// never read with components), or when the database cannot be read (said at debug level).
async fn component_warnings(config: &Config) -> Vec<String> {
    let named: Vec<(&Partner, &StatusPageConfig)> =
        config.partners.iter().filter_map(|p| p.status_page.as_ref().filter(|s| !s.components.is_empty()).map(|s| (p, s))).collect();
    if named.is_empty() {
        return Vec::new();
    }
    let store = match Store::open_existing(&config.database_url(), DATABASE_WAIT).await {
        Ok(Some(store)) => store,
        Ok(None) => return Vec::new(),
        Err(e) => {
            tracing::debug!(error = %e, "component names not compared with the last read pages");
            return Vec::new();
        }
    };
    let mut warnings = Vec::new();
    for (partner, page) in named {
        match snapshot_at(&store, partner.id.as_str(), Timestamp::MAX).await {
            Ok(Some((at, status))) => warnings.extend(missing_components(partner, page, at, &status)),
            Ok(None) => {}
            Err(e) => tracing::debug!(partner = %partner.id, error = %e, "no snapshot read"),
        }
    }
    store.close().await;
    warnings
}

/// `partners/github.toml: status_page.components: "API Request" is not on GitHub's page as last
/// read (TIME): it has "API Requests", "Webhooks", ...` for each name of `page.components` that
/// `status` (in force since `at`) does not list (compared ignoring case, as triage does).
fn missing_components(partner: &Partner, page: &StatusPageConfig, at: Timestamp, status: &PartnerStatus) -> Vec<String> {
    if status.components.is_empty() {
        return Vec::new();
    }
    let on_page: Vec<&str> = status.components.iter().map(|c| c.name.as_str()).collect();
    page.components
        .iter()
        .filter(|wanted| !on_page.iter().any(|name| name.eq_ignore_ascii_case(wanted)))
        .map(|wanted| {
            format!(
                "{}: status_page.components: \"{wanted}\" is not on {}'s page as last read ({at}): it has {}",
                partner.file.display(),
                partner.name,
                listing(wanted, &on_page)
            )
        })
        .collect()
}

/// The names on the page, quoted, those like `wanted` (one holds the other, ignoring case) first.
fn listing(wanted: &str, on_page: &[&str]) -> String {
    let wanted = wanted.to_lowercase();
    let alike = |name: &&str| {
        let name = name.to_lowercase();
        !(name.contains(&wanted) || wanted.contains(&name))
    };
    let mut names = on_page.to_vec();
    // Stable: the page's own order within each half.
    names.sort_by_key(alike);
    let shown: Vec<String> = names.iter().take(LISTED).map(|n| format!("\"{n}\"")).collect();
    let more = if names.len() > LISTED { format!(", … ({} in all)", names.len()) } else { String::new() };
    format!("{}{more}", shown.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Component, ComponentStatus};

    #[test]
    fn a_name_not_on_the_page_is_named_with_the_page_names_alike_first() {
        let mut partner: Partner = toml::from_str(
            "id = \"github\"\nname = \"GitHub\"\n[status_page]\nkind = \"statuspage\"\nurl = \"https://www.githubstatus.com/api/v2/summary.json\"\ncomponents = [\"API Request\", \"webhooks\"]\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        partner.file = "partners/github.toml".into();
        let page = partner.status_page.clone().unwrap_or_else(|| panic!("page"));
        let component = |name: &str| Component { name: name.to_owned(), status: ComponentStatus::Operational, group: None };
        let mut status = PartnerStatus::unreadable("x");
        status.components = vec![component("Git Operations"), component("Webhooks"), component("API Requests")];
        let at = Timestamp::from_millis(0);
        assert_eq!(
            missing_components(&partner, &page, at, &status),
            vec![format!(
                "partners/github.toml: status_page.components: \"API Request\" is not on GitHub's page as last read ({at}): it has \"API Requests\", \"Git Operations\", \"Webhooks\""
            )],
            "`webhooks` matches ignoring case"
        );
        assert!(missing_components(&partner, &page, at, &PartnerStatus::unreadable("never read")).is_empty());
    }
}
