//! `sparky.toml`: the global settings. Every key has a default, so the file is optional, and the
//! environment variables of DESIGN.md override the matching keys.

use std::net::SocketAddr;
use std::path::Path;

use serde::Deserialize;

use super::github::{GitHubConfig, TeamConfig};
use super::jira::JiraConfig;
use super::load::{EnvLookup, Problem};
use super::maintenance::MaintenanceTable;
use super::pagerduty::PagerDutyConfig;
use super::retention::RetentionConfig;
use super::slack::{SlackConfig, check_channel};
use super::statuspage::StatuspageConfig;
use super::triage::TriageConfig;
use super::types::{ByteSize, Cron, Duration, HttpUrl, Secret};
use crate::model::SinkKind;

/// The whole of `sparky.toml`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GlobalConfig {
    /// `[database]`
    pub database: DatabaseConfig,
    /// `[server]`
    pub server: ServerConfig,
    /// `[slack]`
    pub slack: SlackConfig,
    /// `[schedules]`
    pub schedules: Schedules,
    /// `[http]`: the outbound HTTP discipline for sources.
    pub http: HttpConfig,
    /// `[changelogs]`
    pub changelogs: ChangelogSettings,
    /// `[outbox]`
    pub outbox: OutboxConfig,
    /// `[synthetics]`
    pub synthetics: SyntheticsSettings,
    /// `[jira]`
    pub jira: JiraConfig,
    /// `[pagerduty]`
    pub pagerduty: PagerDutyConfig,
    /// `[statuspage]`: our public status page.
    pub statuspage: StatuspageConfig,
    /// `[public_status]`: our public status page's address.
    pub public_status: super::statuspage::PublicPageConfig,
    /// `[connectivity]`: Sparky's own egress check.
    pub connectivity: ConnectivityConfig,
    /// `[triage]`: cause decisions.
    pub triage: TriageConfig,
    /// `[retention]`: how long each kind of history is kept.
    pub retention: RetentionConfig,
    /// `[github]`: compatibility runs on GitHub Actions.
    pub github: GitHubConfig,
    /// `[teams.NAME]`: each partner `owner_team`'s Jira assignee, components and fields, and
    /// its Slack mention.
    pub teams: std::collections::BTreeMap<String, TeamConfig>,
    /// `[[maintenance]]` as written; checked (targets known, schedule whole) into
    /// [`super::Config::maintenance`], which is what the rest of Sparky reads.
    pub maintenance: Vec<MaintenanceTable>,
}

/// `[connectivity]`: before blaming a partner, Sparky checks its own egress against a few
/// independent canary URLs; it is offline only when most of them fail. `SPARKY_CANARY_URLS`
/// (comma-separated) overrides `canaries`; an empty value turns the check off.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConnectivityConfig {
    /// The canaries (any 2xx/3xx/4xx answer means the network works).
    pub canaries: Vec<HttpUrl>,
    /// Time allowed per canary. Default 5 s.
    pub timeout: Duration,
}

impl Default for ConnectivityConfig {
    fn default() -> Self {
        let canaries = [
            "https://www.google.com/generate_204",
            "https://www.cloudflare.com/cdn-cgi/trace",
            "https://www.microsoft.com/",
            "https://aws.amazon.com/",
        ];
        Self { canaries: canaries.iter().filter_map(|u| u.parse().ok()).collect(), timeout: Duration::from_secs(5) }
    }
}

/// `[synthetics]`: the check engine.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SyntheticsSettings {
    /// Check requests in flight at once. Default 256.
    pub concurrency: usize,
    /// Largest response body read for assertions. Default 1 MiB.
    pub max_body: ByteSize,
    /// How often a replica renews its row in `replicas`. A replica silent for 3 heartbeats is
    /// gone (its checks move to the others); a new one takes its share after 3 heartbeats.
    /// Default 5 s.
    pub heartbeat: Duration,
}

impl Default for SyntheticsSettings {
    fn default() -> Self {
        Self { concurrency: 256, max_body: ByteSize(1024 * 1024), heartbeat: Duration::from_secs(5) }
    }
}

/// `[database]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `sqlite://PATH` (relative to the config directory, created on first use) or
    /// `postgres://...`. Env: `SPARKY_DATABASE_URL`. Default `sqlite://sparky.db`.
    pub url: String,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self { url: "sqlite://sparky.db".to_owned() }
    }
}

/// `[server]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address of `/metrics`, `/healthz` and the pages. Env: `SPARKY_LISTEN`. Default `127.0.0.1:9750`.
    pub listen: SocketAddr,
    /// Enables the dashboard's admin actions (retrying a dead action), given as
    /// `Authorization: Bearer` or through the `/ops/login` form. Env: `SPARKY_ADMIN_TOKEN`.
    /// Default none: admin actions are off.
    pub admin_token: Option<super::types::Secret>,
    /// Requests per second each client address may make to the public endpoints (`/status`,
    /// its feed, `summary.json`, the GitHub webhook), bursts of twice that. Default 20.
    pub public_requests_per_second: u32,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self { listen: SocketAddr::from(([127, 0, 0, 1], 9750)), admin_token: None, public_requests_per_second: 20 }
    }
}

/// `[schedules]`: cron schedules of the scheduled jobs (UTC).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Schedules {
    /// Changelog poll + digest. Default every 6 h on the hour: `0 0 */6 * * *`.
    pub changelogs: Cron,
    /// Poll interval of a status page whose `[status_page]` sets no `interval`. Default 5 min;
    /// at least 10 s.
    pub status: Duration,
    /// Interval of a synthetic check that sets neither `interval` nor `cron`. Default 5 min; at
    /// least 1 s.
    pub checks: Duration,
    /// How often the daemon dispatches new detections and polls the compatibility runs that are
    /// due (each run backs off by `[github] poll_min` .. `poll_max`; a `workflow_run` webhook
    /// makes it due at once). Default 1 min; at least 5 s.
    pub compat: Duration,
}

impl Default for Schedules {
    fn default() -> Self {
        Self {
            changelogs: "0 0 */6 * * *".parse().expect("a constant cron"), // invariant: a valid literal
            status: Duration::from_secs(300),
            checks: Duration::from_secs(300),
            compat: Duration::from_secs(60),
        }
    }
}

impl Schedules {
    fn check(&self, file: &Path, problems: &mut Vec<Problem>) {
        if self.status.get() < std::time::Duration::from_secs(10) {
            problems.push(Problem::new(file, "schedules.status", "poll status pages at most every 10 s"));
        }
        if self.checks.get() < std::time::Duration::from_secs(1) {
            problems.push(Problem::new(file, "schedules.checks", "run checks at most every second"));
        }
        if self.compat.get() < std::time::Duration::from_secs(5) {
            problems.push(Problem::new(file, "schedules.compat", "follow compatibility runs at most every 5 s"));
        }
    }
}

/// `[http]`: limits of every source fetch (feeds, status pages).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Total time of one attempt, body included. Default 15 s.
    pub timeout: Duration,
    /// Time to establish the connection (TCP + TLS). Default 5 s.
    pub connect_timeout: Duration,
    /// Largest body read (after decompression); bigger bodies are an error. Default 5 MiB.
    pub max_body: ByteSize,
    /// Redirects one GET or HEAD follows before giving up (feeds, status pages, checks; no other
    /// method follows any, see `fetch::redirect`). Default 5.
    pub max_redirects: usize,
    /// Retries after the first attempt, on timeouts, connection errors, 429 and 5xx. Default 2.
    pub retries: usize,
    /// First backoff delay; doubled each retry, plus a random jitter of up to the delay itself
    /// (a delay `d` waits in `[d, 2d)`); `Retry-After` wins when longer. Default 1 s.
    pub retry_backoff: Duration,
    /// Longest `Retry-After` honoured before the fetch gives up for this run. Default 60 s.
    pub max_retry_after: Duration,
    /// `User-Agent` of every request.
    pub user_agent: String,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(15),
            connect_timeout: Duration::from_secs(5),
            max_body: ByteSize(5 * 1024 * 1024),
            max_redirects: 5,
            retries: 2,
            retry_backoff: Duration::from_secs(1),
            max_retry_after: Duration::from_secs(60),
            user_agent: concat!("Sparky/", env!("CARGO_PKG_VERSION"), " (ecosystem reliability watchdog)").to_owned(),
        }
    }
}

/// `[changelogs]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChangelogSettings {
    /// Newest entries posted on the first poll of a feed; the rest are recorded as seen. Default 3.
    pub backfill: usize,
    /// Summary length in characters, cut at a word boundary. Default 300.
    pub summary_chars: usize,
    /// Feeds fetched at once. Default 8.
    pub concurrency: usize,
    /// Most unseen entries a poll of one feed (after its first) posts one by one; beyond, the
    /// digest shows them as one "N new entries on FEED" section listing the newest 5 (a feed
    /// that rewrote its ids, a CDN serving another feed). Default 20; `[[feeds]] max_new`
    /// overrides it per feed.
    pub max_new: usize,
}

impl Default for ChangelogSettings {
    fn default() -> Self {
        Self { backfill: 3, summary_chars: 300, concurrency: 8, max_new: 20 }
    }
}

/// `[outbox]`: delivery of actions.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutboxConfig {
    /// Attempts before an action goes to the dead letter state. Default 10.
    pub max_attempts: u32,
    /// How long a claimed action stays reserved for its deliverer; must exceed every sink
    /// timeout, so a live delivery is never taken over. Default 60 s.
    pub lease: Duration,
    /// First retry delay, doubled each attempt up to `backoff_max`; to each delay `d` a random
    /// jitter in `[0, d)` is added, so one waits at most twice `backoff_max`. Default 2 s.
    pub backoff_base: Duration,
    /// Where the doubling stops (before jitter). Default 10 min.
    pub backoff_max: Duration,
    /// Attempts a `sparky once ...` run makes per action before leaving it for the next run. Default 3.
    pub attempts_per_run: u32,
    /// Longest wait a `once` run accepts between attempts (e.g. a long `Retry-After`). Default 30 s.
    pub max_wait_per_run: Duration,
    /// Deliveries per second by sink: `jira`, `pagerduty`, `statuspage`, `slack` (all channels;
    /// each channel also gets `[slack] messages_per_second`).
    pub rate_limits: std::collections::BTreeMap<SinkKind, u32>,
    /// Failed deliveries in a row that open a sink's circuit breaker. Default 5.
    pub breaker_failures: u32,
    /// How long an open breaker holds deliveries before a trial one. Default 30 s.
    pub breaker_cooldown: Duration,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        Self {
            max_attempts: 10,
            lease: Duration::from_secs(60),
            backoff_base: Duration::from_secs(2),
            backoff_max: Duration::from_secs(600),
            attempts_per_run: 3,
            max_wait_per_run: Duration::from_secs(30),
            // Jira Cloud's cost-based limit, PagerDuty's 120 events a minute per routing key,
            // Statuspage's 1 request a second per key.
            rate_limits: [(SinkKind::Jira, 10), (SinkKind::PagerDuty, 2), (SinkKind::Statuspage, 1)].into_iter().collect(),
            breaker_failures: 5,
            breaker_cooldown: Duration::from_secs(30),
        }
    }
}

/// `HOST:PORT` as a socket address: an IP address, or a host name resolved now (`localhost:9750`).
fn listen_address(listen: &str) -> Result<SocketAddr, String> {
    use std::net::ToSocketAddrs as _;
    let mut found = listen.to_socket_addrs().map_err(|e| format!("`{listen}` is not HOST:PORT: {e}"))?;
    found.next().ok_or_else(|| format!("`{listen}` resolves to no address"))
}

impl GlobalConfig {
    /// Applies the environment overrides of DESIGN.md, pushing a problem for a malformed value.
    pub fn apply_env(&mut self, env: EnvLookup<'_>, problems: &mut Vec<Problem>) {
        if let Some(url) = env("SPARKY_DATABASE_URL").filter(|v| !v.is_empty()) {
            self.database.url = url;
        }
        if let Some(token) = env("SPARKY_ADMIN_TOKEN").filter(|v| !v.is_empty()) {
            self.server.admin_token = Some(super::types::Secret::new(token));
        }
        if let Some(listen) = env("SPARKY_LISTEN").filter(|v| !v.is_empty()) {
            match listen_address(&listen) {
                Ok(addr) => self.server.listen = addr,
                Err(reason) => problems.push(Problem::new("environment", "SPARKY_LISTEN", reason)),
            }
        }
        if let Some(token) = env("SLACK_BOT_TOKEN").filter(|v| !v.is_empty()) {
            self.slack.token = Some(Secret::new(token));
        }
        self.jira.apply_env(env, problems);
        self.pagerduty.apply_env(env, problems);
        self.statuspage.apply_env(env, problems);
        self.github.apply_env(env, problems);
        if let Some(canaries) = env("SPARKY_CANARY_URLS") {
            self.connectivity.canaries = Vec::new();
            for url in canaries.split(',').map(str::trim).filter(|u| !u.is_empty()) {
                match url.parse() {
                    Ok(u) => self.connectivity.canaries.push(u),
                    Err(e) => problems.push(Problem::new("environment", "SPARKY_CANARY_URLS", e)),
                }
            }
        }
        if let Some(url) = env("SLACK_API_URL").filter(|v| !v.is_empty()) {
            match url.parse() {
                Ok(u) => self.slack.api_url = u,
                Err(e) => problems.push(Problem::new("environment", "SLACK_API_URL", e)),
            }
        }
    }

    /// Cross-key checks that no single type can express.
    pub fn check(&self, file: &Path, problems: &mut Vec<Problem>) {
        let url = &self.database.url;
        if !(url.starts_with("sqlite:") || url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            problems.push(Problem::new(file, "database.url", format!("`{url}` is neither sqlite:PATH nor postgres://...")));
        }
        self.schedules.check(file, problems);
        if self.outbox.lease.get() <= self.slack.timeout.get() {
            problems.push(Problem::new(
                file,
                "outbox.lease",
                "must be longer than slack.timeout, or a slow delivery could be taken over and sent twice",
            ));
        }
        if self.outbox.max_attempts == 0 {
            problems.push(Problem::new(file, "outbox.max_attempts", "must be at least 1"));
        }
        if self.changelogs.concurrency == 0 {
            problems.push(Problem::new(file, "changelogs.concurrency", "must be at least 1"));
        }
        if self.changelogs.summary_chars < 20 {
            problems.push(Problem::new(file, "changelogs.summary_chars", "must be at least 20"));
        }
        if let Err(reason) = check_channel(&self.slack.channel) {
            problems.push(Problem::new(file, "slack.channel", reason));
        }
        self.triage.check(file, problems);
        self.retention.check(file, problems);
        self.jira.check_halves(problems);
        self.statuspage.check_halves(problems);
        self.pagerduty.check_key(problems);
        self.github.check_halves(problems);
    }

    /// What each sink will do with this configuration, one line each (`check-config`).
    pub fn sink_modes(&self) -> Vec<String> {
        let slack = match &self.slack.token {
            Some(_) => format!("slack: posting to {} as the token's bot (SLACK_BOT_TOKEN)", self.slack.channel),
            None => format!("slack: printing only, nothing posted to {} (SLACK_BOT_TOKEN not set)", self.slack.channel),
        };
        vec![slack, self.jira.mode(), self.pagerduty.mode(), self.statuspage.mode(), self.github.mode()]
    }

    /// The sinks that only print here, each with the variables that make it send:
    /// `[("slack", "SLACK_BOT_TOKEN"), ...]` (the end of a `once` run says so).
    pub fn printing_only(&self) -> Vec<(&'static str, &'static str)> {
        let mut printing = Vec::new();
        if self.slack.token.is_none() {
            printing.push(("slack", "SLACK_BOT_TOKEN"));
        }
        if !self.jira.is_configured() {
            printing.push(("jira", JiraConfig::VARIABLES));
        }
        if self.pagerduty.routing_key.is_none() {
            printing.push(("pagerduty", "PAGERDUTY_ROUTING_KEY"));
        }
        if self.github.auth().is_none() {
            printing.push(("github", GitHubConfig::VARIABLES));
        }
        printing
    }
}
