//! A world on loopback for triage tests: a fake partner API (its status set by the test), a
//! fake partner status page (Statuspage v2 `summary.json`), fake Slack, Jira, PagerDuty and
//! Statuspage, and Sparky pointed at them.

use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};

use serde_json::{Value, json};
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use super::fake_feeds::{FakeFeeds, Served};
use super::fake_jira::FakeJira;
use super::fake_pagerduty::FakePagerDuty;
use super::fake_slack::FakeSlack;
use super::fake_statuspage::FakeStatuspage;
use super::{Db, Sparky};

/// A partner API whose status the test sets.
pub struct Api(pub Arc<AtomicU16>);

impl Respond for Api {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let status = self.0.load(Ordering::SeqCst);
        ResponseTemplate::new(status).set_body_json(json!({"ok": status == 200}))
    }
}

/// Everything on loopback, and Sparky pointed at it.
pub struct World {
    pub sparky: Sparky,
    pub api_status: Arc<AtomicU16>,
    pub api: MockServer,
    pub page: FakeFeeds,
    pub slack: FakeSlack,
    pub jira: FakeJira,
    pub pagerduty: FakePagerDuty,
    pub statuspage: FakeStatuspage,
}

pub fn summary(indicator: &str, api: &str, incident: bool) -> String {
    let incidents = if incident {
        json!([{"id": "p1", "name": "Elevated API errors", "status": "investigating", "impact": "major", "started_at": "2026-11-25T09:00:00Z", "shortlink": "https://stspg.io/p1", "components": [{"name": "API"}]}])
    } else {
        json!([])
    };
    json!({"page": {"id": "acme"}, "status": {"indicator": indicator, "description": "x"}, "components": [{"id": "c1", "name": "API", "status": api}], "incidents": incidents, "scheduled_maintenances": []}).to_string()
}

impl World {
    pub async fn new(checks: &[&str], sparky_toml: &str) -> Self {
        Self::on(Db::Sqlite, checks, sparky_toml).await
    }

    /// The world on database `db`.
    pub async fn on(db: Db, checks: &[&str], sparky_toml: &str) -> Self {
        let api = MockServer::start().await;
        let api_status = Arc::new(AtomicU16::new(200));
        Mock::given(path("/canary")).respond_with(ResponseTemplate::new(204)).mount(&api).await;
        Mock::given(path("/api")).respond_with(Api(api_status.clone())).mount(&api).await;
        let page = FakeFeeds::start().await;
        let page_url = page.serve("/api/v2/summary.json", Served::Body(summary("none", "operational", false), "application/json"));
        let (slack, jira, pagerduty, statuspage) =
            (FakeSlack::start().await, FakeJira::start().await, FakePagerDuty::start().await, FakeStatuspage::start().await);
        let canary = format!("{}/canary", api.uri());
        let sparky = Sparky::new(db)
            .slack(&slack.api_url())
            .env("JIRA_BASE_URL", &jira.base_url())
            .env("JIRA_USER_EMAIL", "sparky@acme.test")
            .env("JIRA_API_TOKEN", "jira-token-do-not-log")
            .env("JIRA_PROJECT_KEY", "OPS")
            .env("PAGERDUTY_ROUTING_KEY", "R0UTINGKEY0123456789012345678901")
            .env("PAGERDUTY_EVENTS_URL", &pagerduty.events_url())
            .env("STATUSPAGE_API_KEY", "statuspage-key-do-not-log")
            .env("STATUSPAGE_PAGE_ID", "pg1")
            .env("STATUSPAGE_API_URL", &statuspage.api_url())
            .env("SPARKY_CANARY_URLS", &format!("{canary},{canary},{canary}"));
        sparky.write(
            "partners/acme.toml",
            &format!("id = \"acme\"\nname = \"Acme Cloud\"\n[status_page]\nkind = \"statuspage\"\nurl = \"{page_url}\"\ncomponents = [\"API\"]\n[public_status]\ncomponent_id = \"cmp-acme\"\n"),
        );
        for id in checks {
            sparky.write(
                &format!("synthetics/{id}.toml"),
                &format!("id = \"{id}\"\npartner = \"acme\"\nurl = \"{}/api\"\nconfirm_after = \"50ms\"\ntimeout = \"2s\"\n", api.uri()),
            );
        }
        sparky.write("sparky.toml", &format!("[http]\nretries = 0\ntimeout = \"2s\"\n[outbox]\nbackoff_base = \"50ms\"\nrate_limits = {{ pagerduty = 100, jira = 100, statuspage = 100 }}\n{sparky_toml}"));
        World { sparky, api_status, api, page, slack, jira, pagerduty, statuspage }
    }

    pub fn partner_api(&self, status: u16) {
        self.api_status.store(status, Ordering::SeqCst);
    }

    pub fn partner_page(&self, indicator: &str, api: &str, incident: bool) {
        self.page.serve("/api/v2/summary.json", Served::Body(summary(indicator, api, incident), "application/json"));
    }

    /// `sparky once JOB` in-process; what it did, as JSON.
    pub async fn once(&self, job: &str) -> String {
        match job {
            "synthetics" => serde_json::to_string(&self.sparky.synthetics().await),
            "status" => serde_json::to_string(&self.sparky.status().await),
            "deliver" => serde_json::to_string(&self.sparky.deliver().await),
            other => panic!("no job {other}"),
        }
        .unwrap()
    }

    pub fn pages(&self, action: &str) -> Vec<Value> {
        self.pagerduty.accepted().into_iter().filter(|e| e["event_action"] == action).collect()
    }

    pub fn no_spec_violations(&self) {
        for (who, v) in [
            ("slack", self.slack.spec_violations()),
            ("jira", self.jira.spec_violations()),
            ("pagerduty", self.pagerduty.spec_violations()),
            ("statuspage", self.statuspage.spec_violations()),
        ] {
            assert!(v.is_empty(), "{who} requests depart from its OpenAPI description: {v:?}");
        }
    }
}
