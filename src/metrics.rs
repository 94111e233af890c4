//! Prometheus metrics of the whole process, served as text on `GET /metrics`.
//!
//! Names follow the Prometheus conventions: `sparky_..._total` counters, `_seconds` durations.

use std::sync::LazyLock;

use prometheus::core::Collector as _;
use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder};

use crate::model::{Cause, ErrorKind, EventKind, Outcome, WebhookOutcome};

/// The (stage, kind) pairs of `sparky_errors_total` besides the sources' error kinds, created at
/// zero by [`Metrics::initialise`].
pub const ERROR_STAGES: [(&str, &str); 11] = [
    ("compat", "github"),
    ("compat", "store"),
    ("compat", "template"),
    ("digest", "template"),
    ("notices", "template"),
    ("outbox", "breaker_open"),
    ("outbox", "store"),
    ("scheduler", "store"),
    ("synthetics", "store"),
    ("triage", "failed"),
    ("triage", "template"),
];

/// The scheduled jobs of `sparky_job_runs_total`.
const JOBS: [&str; 3] = ["changelogs", "status", "retention"];

/// Every metric Sparky exports.
pub struct Metrics {
    registry: Registry,
    /// Feed fetches by partner and result (`ok`, `not_modified`, or the error kind).
    pub feed_fetches: IntCounterVec,
    /// Feed fetch duration by partner, retries included.
    pub feed_fetch_duration: HistogramVec,
    /// Consecutive failed polls per feed (0 when healthy).
    pub feed_consecutive_failures: IntGaugeVec,
    /// New changelog entries stored, by partner.
    pub changelog_entries_new: IntCounterVec,
    /// Digest messages delivered (one digest may take several messages).
    pub digests_posted: IntCounterVec,
    /// Errors by stage (`changelogs`, `digest`, `outbox`, `store` ...) and kind.
    pub errors: IntCounterVec,
    /// Delivery attempts by sink and result (`delivered`, `retry`, `dead`).
    pub outbox_deliveries: IntCounterVec,
    /// Actions that reached the dead letter state, by sink.
    pub outbox_dead_letters: IntCounterVec,
    /// Actions in the outbox by state, refreshed at each scrape.
    pub outbox_actions: IntGaugeVec,
    /// Status page fetches by partner and result (`ok`, `not_modified`, or the error kind).
    pub status_fetches: IntCounterVec,
    /// Status page poll duration by partner (fetch, parse, store).
    pub status_fetch_duration: HistogramVec,
    /// 1 for each partner's current page indicator, 0 for the others.
    pub partner_status: IntGaugeVec,
    /// Status events recorded, by partner and kind.
    pub status_events: IntCounterVec,
    /// Check run duration, by check and partner.
    pub check_duration: HistogramVec,
    /// Check results (the counted run of each tick) by check, partner and outcome: the success
    /// ratio SLI.
    pub check_results: IntCounterVec,
    /// Failed or warn check results by partner and error kind.
    pub check_errors: IntCounterVec,
    /// Check results not stored: the database refused them for longer than the writer's
    /// buffer holds (state changes are never dropped).
    pub check_results_dropped: prometheus::IntCounter,
    /// Live replicas as this one last read them.
    pub replicas: IntGauge,
    /// Open incidents by partner and cause.
    pub incidents_open: IntGaugeVec,
    /// 1 while Sparky's own egress works (the connectivity canaries answer), 0 while it is lost.
    pub egress_up: IntGauge,
    /// 1 for each sink's delivery mode (`api`, `log`, `builtin`).
    pub sink_configured: IntGaugeVec,
    /// 1 while a check is healthy, 0 while failing.
    pub check_up: IntGaugeVec,
    /// How late a check started after its scheduled time.
    pub check_lateness: prometheus::Histogram,
    /// Incidents opened, by partner and cause.
    pub incidents: IntCounterVec,
    /// Circuit breaker of each sink: 0 closed, 1 open, 2 half-open (one trial under way).
    pub sink_breaker_state: IntGaugeVec,
    /// Template overrides that failed at run time (the compiled-in default was used), by
    /// template.
    pub template_failures: IntCounterVec,
    /// Scheduled job runs by job and result (`ok`, `error`, `skipped`).
    pub job_runs: IntCounterVec,
    /// Scheduled job duration by job.
    pub job_duration: HistogramVec,
    /// Rows deleted by retention, by table.
    pub retention_pruned_rows: IntCounterVec,
    /// Silences (`sparky silence add`) and `[[maintenance]]` windows in force, as triage's last
    /// round counted them (the cluster's figure: silences are stored).
    pub silences_active: IntGauge,
    /// `POST /webhooks/github` requests by outcome (`accepted`, `bad_signature`, `too_large` ...).
    pub webhook_requests: IntCounterVec,
}

/// Registers `metric`. The names, labels and buckets are constants of this file, checked by its
/// test: a failure here is a typo in them.
fn register<M: prometheus::core::Collector + Clone + 'static>(registry: &Registry, metric: Result<M, prometheus::Error>) -> M {
    let metric = metric.expect("a well-formed metric"); // invariant: constant definitions, tested
    registry.register(Box::new(metric.clone())).expect("a metric registered once"); // invariant: each name once, tested
    metric
}

fn counter(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    register(registry, IntCounterVec::new(Opts::new(name, help), labels))
}

fn gauge(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    register(registry, IntGaugeVec::new(Opts::new(name, help), labels))
}

fn histogram(registry: &Registry, name: &str, help: &str, labels: &[&str], buckets: Vec<f64>) -> HistogramVec {
    register(registry, HistogramVec::new(HistogramOpts::new(name, help).buckets(buckets), labels))
}

const FETCH_BUCKETS: [f64; 11] = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];
const LATENESS_BUCKETS: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0];
const JOB_BUCKETS: [f64; 9] = [0.1, 0.5, 1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0];

impl Metrics {
    fn new() -> Self {
        let r = Registry::new();
        Self {
            feed_fetches: counter(&r, "sparky_feed_fetches_total", "Changelog feed fetches by partner and result.", &["partner", "result"]),
            feed_fetch_duration: histogram(
                &r,
                "sparky_feed_fetch_duration_seconds",
                "Changelog feed fetch duration, retries included.",
                &["partner"],
                FETCH_BUCKETS.to_vec(),
            ),
            feed_consecutive_failures: gauge(
                &r,
                "sparky_feed_consecutive_failures",
                "Failed polls of a feed since its last success.",
                &["partner", "url"],
            ),
            changelog_entries_new: counter(&r, "sparky_changelog_entries_new_total", "New changelog entries stored.", &["partner"]),
            digests_posted: counter(&r, "sparky_digests_posted_total", "Digest messages delivered.", &["sink"]),
            errors: counter(&r, "sparky_errors_total", "Errors by stage and kind.", &["stage", "kind"]),
            outbox_deliveries: counter(&r, "sparky_outbox_deliveries_total", "Delivery attempts by sink and result.", &["sink", "result"]),
            outbox_dead_letters: counter(&r, "sparky_outbox_dead_letters_total", "Actions moved to the dead letter state.", &["sink"]),
            outbox_actions: gauge(&r, "sparky_outbox_actions", "Actions in the outbox by state.", &["state"]),
            status_fetches: counter(
                &r,
                "sparky_status_fetches_total",
                "Status page fetches by partner and result.",
                &["partner", "result"],
            ),
            status_fetch_duration: histogram(
                &r,
                "sparky_status_fetch_duration_seconds",
                "Status page poll duration.",
                &["partner"],
                FETCH_BUCKETS.to_vec(),
            ),
            partner_status: gauge(
                &r,
                "sparky_partner_status",
                "1 for the partner's current status page indicator, 0 for the others.",
                &["partner", "indicator"],
            ),
            status_events: counter(&r, "sparky_status_events_total", "Status events recorded, by partner and kind.", &["partner", "kind"]),
            check_duration: histogram(
                &r,
                "sparky_check_duration_seconds",
                "Synthetic check run duration.",
                &["check", "partner"],
                FETCH_BUCKETS.to_vec(),
            ),
            check_results: counter(
                &r,
                "sparky_check_results_total",
                "Synthetic check results (the run that counts) by check, partner and outcome.",
                &["check", "partner", "outcome"],
            ),
            check_errors: counter(
                &r,
                "sparky_check_errors_total",
                "Synthetic check results that did not pass, by partner and error kind.",
                &["partner", "error_kind"],
            ),
            check_results_dropped: register(
                &r,
                prometheus::IntCounter::new(
                    "sparky_check_results_dropped_total",
                    "Check results not stored because the database refused writes for longer than the buffer holds.",
                ),
            ),
            replicas: register(&r, IntGauge::new("sparky_replicas", "Live replicas sharing the checks, as this one last read them.")),
            incidents_open: gauge(&r, "sparky_incidents_open", "Open incidents by partner and cause.", &["partner", "cause"]),
            egress_up: register(&r, IntGauge::new("sparky_egress_up", "1 while Sparky's own egress works, 0 while it is lost.")),
            sink_configured: gauge(&r, "sparky_sink_configured", "1 for each sink's delivery mode (api, log, builtin).", &["sink", "mode"]),
            check_up: gauge(&r, "sparky_check_up", "1 while a synthetic check is healthy, 0 while failing.", &["check", "partner"]),
            check_lateness: register(
                &r,
                prometheus::Histogram::with_opts(
                    HistogramOpts::new(
                        "sparky_check_schedule_lateness_seconds",
                        "How late a synthetic check started after its scheduled time.",
                    )
                    .buckets(LATENESS_BUCKETS.to_vec()),
                ),
            ),
            incidents: counter(&r, "sparky_incidents_total", "Incidents opened, by partner and cause.", &["partner", "cause"]),
            sink_breaker_state: gauge(
                &r,
                "sparky_sink_breaker_state",
                "Circuit breaker of each sink: 0 closed, 1 open, 2 half-open.",
                &["sink"],
            ),
            template_failures: counter(
                &r,
                "sparky_template_failures_total",
                "Template overrides that failed to render; the compiled-in default was used instead.",
                &["template"],
            ),
            job_runs: counter(&r, "sparky_job_runs_total", "Scheduled job runs by job and result.", &["job", "result"]),
            job_duration: histogram(&r, "sparky_job_duration_seconds", "Scheduled job duration.", &["job"], JOB_BUCKETS.to_vec()),
            retention_pruned_rows: counter(&r, "sparky_retention_pruned_rows_total", "Rows deleted by retention, by table.", &["table"]),
            silences_active: register(
                &r,
                IntGauge::new("sparky_silences_active", "Silences and maintenance windows in force (pages and public updates held)."),
            ),
            webhook_requests: counter(
                &r,
                "sparky_webhook_requests_total",
                "GitHub webhook deliveries by outcome (accepted, ignored, replayed, refused ...).",
                &["outcome"],
            ),
            registry: r,
        }
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut buf) {
            tracing::error!(error = %e, "cannot encode metrics");
        }
        String::from_utf8_lossy(&buf).into_owned()
    }

    /// Counts an error of `stage` (`changelogs`, `status` with an error kind, or one of
    /// [`ERROR_STAGES`]).
    pub fn error(&self, stage: &str, kind: &str) {
        self.errors.with_label_values(&[stage, kind]).inc();
    }

    /// Creates at zero the series whose labels are known at start-up (each partner, each check
    /// and its outcomes, each sink), so a dashboard or an alert sees `0`, not "no data", before
    /// the first increment. `sinks` are the sinks and their delivery modes.
    pub fn initialise(&self, partners: &[&str], checks: &[(&str, &str)], sinks: &[(&str, &str)]) {
        for partner in partners {
            self.feed_fetches.with_label_values(&[partner, "ok"]);
            self.changelog_entries_new.with_label_values(&[partner]);
            self.status_fetches.with_label_values(&[partner, "ok"]);
            for cause in Cause::ALL {
                self.incidents.with_label_values(&[partner, cause.as_str()]);
                self.incidents_open.with_label_values(&[partner, cause.as_str()]);
            }
        }
        for (check, partner) in checks {
            for outcome in Outcome::ALL {
                self.check_results.with_label_values(&[check, partner, outcome.as_str()]);
            }
        }
        for (sink, mode) in sinks {
            self.sink_configured.with_label_values(&[sink, mode]).set(1);
            self.outbox_deliveries.with_label_values(&[sink, "delivered"]);
            self.outbox_dead_letters.with_label_values(&[sink]);
        }
        for partner in partners {
            for kind in EventKind::ALL {
                self.status_events.with_label_values(&[partner, kind.as_str()]);
            }
            for kind in ErrorKind::ALL {
                self.check_errors.with_label_values(&[partner, kind.as_str()]);
            }
        }
        for kind in ErrorKind::ALL {
            self.errors.with_label_values(&["changelogs", kind.as_str()]);
            self.errors.with_label_values(&["status", kind.as_str()]);
        }
        for (stage, kind) in ERROR_STAGES {
            self.errors.with_label_values(&[stage, kind]);
        }
        for job in JOBS {
            for result in ["ok", "error", "skipped"] {
                self.job_runs.with_label_values(&[job, result]);
            }
        }
        for outcome in WebhookOutcome::ALL {
            self.webhook_requests.with_label_values(&[outcome.as_str()]);
        }
        self.digests_posted.with_label_values(&["slack"]);
        // Up until the canaries say otherwise (triage refreshes it from the database).
        self.egress_up.set(1);
        // None until triage's first round counts them.
        self.silences_active.set(0);
    }

    /// Sets `sparky_incidents_open` to `open` ((partner, cause, count)); a series not in it
    /// reads 0.
    pub fn set_open_incidents(&self, open: &[(String, Cause, i64)]) {
        for metric in self.incidents_open.collect().iter().flat_map(|f| f.get_metric()) {
            let label = |name: &str| metric.get_label().iter().find(|l| l.name() == name).map(|l| l.value());
            if let (Some(partner), Some(cause)) = (label("partner"), label("cause")) {
                self.incidents_open.with_label_values(&[partner, cause]).set(0);
            }
        }
        for (partner, cause, count) in open {
            self.incidents_open.with_label_values(&[partner.as_str(), cause.as_str()]).set(*count);
        }
    }
}

/// The process-wide metrics.
pub static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_is_well_formed_and_registered_once() {
        let text = METRICS.render();
        METRICS.error("test", "x");
        assert!(METRICS.render().contains("sparky_errors_total{kind=\"x\",stage=\"test\"} 1"), "{text}");
    }
}
