//! Compatibility runs end to end on loopback (issue 13, "done means"): a partner's changelog
//! entry announcing a beta version dispatches the partner's workflow once (fake GitHub), its
//! failure opens one P2 in Jira for the owner team with the failed jobs and steps and a Slack
//! notice mentioning the team, a later success resolves it, and `sparky compat` shows the story.
//! Also when Sparky is killed between the dispatch and recording the run id, and between the
//! run's failure and the Jira create; `cancelled` re-runs the failed jobs once.
//!
//! Time moves by `common::time_travel` (Sparky's clock) and `FakeGitHub::advance` (GitHub's),
//! never by sleeping.

#![allow(unreachable_pub, clippy::unwrap_used)] // test and bench code: a failed unwrap is a failed run

mod common;

use std::time::Duration;

use common::fake_feeds::{Served, rss};
use common::fake_github::{Answer, FakeGitHub};
use common::world::World;
use common::{eventually, time_travel};
use sparky::model::ActionState;
use sparky::service::jobs::{self, CompatRound, Handover};
use sparky::store::{compat_runs, outbox};

const RSS: &str = "application/rss+xml";
const TOKEN: &str = "github_pat_11AAcompatE2Etoken0123456789";
const ASSIGNEE: &str = "5b10ac8d82e05b22cc7d4ef5";
const MENTION: &str = "<!subteam^S0IDENTITY>";
const BETA: (&str, &str, &str, &str) =
    ("g-beta-1", "Beta: new Teams meeting APIs on /beta", "Wed, 07 Oct 2026 10:00:00 GMT", "<p>Try them on the beta endpoint.</p>");
const GA: (&str, &str, &str, &str) = ("g-ga-1", "Presence API is generally available", "Tue, 06 Oct 2026 10:00:00 GMT", "<p>v1.0.</p>");

struct Compat {
    w: World,
    github: FakeGitHub,
}

async fn world(answer: Answer) -> Compat {
    let github = FakeGitHub::start(TOKEN, answer).await;
    let toml = format!(
        "[github]\napi_url = \"{}\"\ntoken = \"{TOKEN}\"\ntimeout = \"2s\"\n\
         [teams.identity]\njira_assignee = \"{ASSIGNEE}\"\njira_components = [\"Integrations\"]\n",
        github.url()
    );
    let w = World::new(&[], &toml).await;
    let feed = w.page.serve("/graph/changelog.xml", Served::Body(rss(&[BETA, GA]), RSS));
    w.sparky.write(
        "partners/graph.toml",
        &format!(
            "id = \"graph\"\nname = \"Microsoft Graph\"\nowner_team = \"identity\"\nowner_slack = \"{MENTION}\"\n\
             [[feeds]]\nurl = \"{feed}\"\n\
             [compat]\nrepository = \"acme/compat-tests\"\nworkflow = \"graph-compat.yml\"\nref = \"main\"\n\
             version_pattern = '(?P<version>\\bbeta\\b)'\n"
        ),
    );
    Compat { w, github }
}

impl Compat {
    /// `sparky once compat`, in-process.
    async fn compat(&self) -> CompatRound {
        let app = self.w.sparky.app().await;
        let round = jobs::compat(&app, Handover::Drain).await.unwrap();
        app.store.close().await;
        round
    }

    /// Both clocks `by` ahead.
    async fn travel(&self, by: Duration) {
        time_travel(by).await;
        self.github.advance(by);
    }

    /// Polls (each time after the longest wait between polls) until `done`, at most 12 times.
    async fn follow_until(&self, done: impl Fn(&Self) -> bool) {
        for _ in 0..12 {
            if done(self) {
                return;
            }
            self.travel(Duration::from_secs(301)).await;
            self.compat().await;
        }
        assert!(done(self), "not done after 12 polls; GitHub saw {:?}", self.github.received().iter().map(|r| &r.path).collect::<Vec<_>>());
    }

    fn p2s(&self) -> Vec<common::fake_jira::CreatedIssue> {
        self.w.jira.created().into_iter().filter(|i| i.fields["priority"]["name"] == "P2").collect()
    }

    fn slack_texts(&self) -> Vec<String> {
        self.w.slack.posted().iter().map(common::fake_slack::Post::all_text).collect()
    }

    async fn nothing_left(&self) {
        let app = self.w.sparky.app().await;
        let left = outbox::list(&app.store, &[ActionState::Pending, ActionState::Retrying, ActionState::Dead], 50).await.unwrap();
        assert!(left.is_empty(), "actions left: {left:?}");
        app.store.close().await;
    }

    fn conforms(&self) {
        assert_eq!(self.github.violations(), Vec::<String>::new(), "GitHub requests depart from its description");
        self.w.no_spec_violations();
    }
}

#[tokio::test]
async fn a_beta_entry_dispatches_once_its_failure_opens_one_p2_and_a_later_success_resolves_it() {
    let c = world(Answer::Details).await;
    c.github.next_run_concludes(&["failure"]);
    c.w.sparky.changelogs().await;
    let dispatches = c.github.requests_to("POST", "/dispatches");
    assert_eq!(dispatches.len(), 1, "one dispatch for the beta entry, none for the GA one");
    let inputs = &dispatches[0].body["inputs"];
    assert_eq!((inputs["partner"].as_str(), inputs["api_version"].as_str()), (Some("graph"), Some("beta")));
    assert_eq!(inputs["changelog_url"], "https://partner.test/changelog/g-beta-1");
    assert!(inputs["sparky_run_key"].as_str().unwrap().starts_with("sparky-graph-"), "{inputs}");
    // Polled again, the feed dispatches nothing more.
    c.w.sparky.changelogs().await;
    assert_eq!(c.github.requests_to("POST", "/dispatches").len(), 1);

    c.follow_until(|c| !c.p2s().is_empty()).await;
    let p2 = &c.p2s()[0];
    assert_eq!(p2.fields["assignee"]["id"], ASSIGNEE);
    assert_eq!(p2.fields["components"][0]["name"], "Integrations");
    let description = common::fake_jira::adf_text(&p2.fields["description"]);
    for want in [
        "Microsoft Graph beta",
        BETA.1,
        "https://partner.test/changelog/g-beta-1",
        "Failed job: test (Python 3.7) (failure)",
        "Failed step 5: Run tests",
        "/actions/runs/",
    ] {
        assert!(description.contains(want), "the P2 lacks {want:?}:\n{description}");
    }
    assert!(
        c.slack_texts().iter().any(|t| t.contains("Microsoft Graph beta (announced 2026-10-07): not compatible") && t.contains(MENTION)),
        "{:?}",
        c.slack_texts()
    );
    // More polls decide nothing more.
    c.travel(Duration::from_secs(301)).await;
    c.compat().await;
    assert_eq!(c.p2s().len(), 1);

    // A new dispatch by hand (`sparky compat run graph --api-version beta`) succeeds.
    c.github.next_run_concludes(&["success"]);
    let run = c.w.sparky.cli(&["compat", "run", "graph", "--api-version", "beta"]).await;
    run.expect_code(0);
    c.follow_until(|c| c.w.jira.issue_status(&c.p2s()[0].key).as_deref() == Some("Done")).await;
    let key = c.p2s()[0].key.clone();
    assert!(
        c.w.jira.comments(&key).iter().any(|t| t.contains("passes against Microsoft Graph beta again")),
        "{:?}",
        c.w.jira.comments(&key)
    );
    assert!(
        c.slack_texts().iter().any(|t| t.contains("Microsoft Graph beta (announced 2026-10-07): compatible again")),
        "{:?}",
        c.slack_texts()
    );
    assert_eq!(c.p2s().len(), 1, "one P2 for the version, resolved");
    assert_eq!(c.github.requests_to("POST", "/dispatches").len(), 2);
    c.nothing_left().await;

    // `sparky compat` tells the whole story.
    let out = c.w.sparky.cli(&["compat"]).await;
    let text = out.expect_code(0).stdout.clone();
    for want in ["graph", "beta", "failure", "success", &key, "test (Python 3.7)", BETA.1] {
        assert!(text.contains(want), "`sparky compat` lacks {want:?}:\n{text}");
    }
    c.conforms();
}

#[tokio::test]
async fn a_dispatch_answered_204_is_followed_by_its_key() {
    let c = world(Answer::NoContent).await;
    c.github.set_list_lag(1);
    c.github.next_run_concludes(&["success"]);
    c.w.sparky.changelogs().await;
    c.follow_until(|c| c.slack_texts().iter().any(|t| t.contains("Microsoft Graph beta (announced 2026-10-07): compatible"))).await;
    let app = c.w.sparky.app().await;
    let runs = compat_runs::list(&app.store, Some("graph")).await.unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].run_id, Some(c.github.runs()[0].id), "found in the workflow's runs by its key");
    assert_eq!(runs[0].conclusion.as_deref(), Some("success"));
    app.store.close().await;
    assert!(c.p2s().is_empty(), "a success opens nothing");
    assert_eq!(c.github.requests_to("POST", "/dispatches").len(), 1);
    c.conforms();
}

#[tokio::test]
async fn killed_between_the_dispatch_and_recording_the_run_id_it_dispatches_once_and_opens_one_p2() {
    let c = world(Answer::Details).await;
    c.github.next_run_concludes(&["failure"]);
    c.github.hold_next_dispatch(Duration::from_secs(30));
    let app = c.w.sparky.app().await;
    let job = tokio::spawn({
        let app = app.clone();
        async move { jobs::changelogs(&app, Handover::Drain).await }
    });
    assert!(eventually(30, || !c.github.runs().is_empty()).await, "GitHub got the dispatch");
    job.abort();
    let _ = job.await;
    app.store.close().await;
    // Past the delivery lease: the next worker retries the uncertain dispatch, finds the run by
    // its key and does not dispatch again.
    c.travel(Duration::from_secs(120)).await;
    c.w.sparky.deliver().await;
    assert_eq!(c.github.requests_to("POST", "/dispatches").len(), 1);
    c.follow_until(|c| !c.p2s().is_empty()).await;
    c.travel(Duration::from_secs(301)).await;
    c.compat().await;
    assert_eq!(c.p2s().len(), 1);
    assert_eq!(c.github.requests_to("POST", "/dispatches").len(), 1);
    c.nothing_left().await;
}

#[tokio::test]
async fn killed_between_the_failure_and_the_jira_create_it_opens_one_p2() {
    let c = world(Answer::Details).await;
    c.github.next_run_concludes(&["failure"]);
    c.w.sparky.changelogs().await;
    // Poll until the run completes, the Jira create's answer held open: Sparky is killed then.
    c.w.jira.hold_next_create(Duration::from_secs(30));
    for _ in 0..6 {
        c.travel(Duration::from_secs(301)).await;
        let app = c.w.sparky.app().await;
        let job = tokio::spawn({
            let app = app.clone();
            async move { jobs::compat(&app, Handover::Drain).await }
        });
        let created = eventually(3, || c.w.jira.create_attempts() > 0).await;
        if created {
            job.abort();
            let _ = job.await;
            app.store.close().await;
            break;
        }
        job.await.unwrap().unwrap();
        app.store.close().await;
    }
    assert_eq!(c.w.jira.create_attempts(), 1, "the P2 create reached Jira before the kill");
    // Jira's search catches up (search_lag) and the retry finds the issue by its label.
    c.travel(Duration::from_secs(121)).await;
    c.w.sparky.deliver().await;
    c.travel(Duration::from_secs(301)).await;
    c.compat().await;
    assert_eq!(c.p2s().len(), 1, "one P2, not two");
    assert_eq!(c.w.jira.create_attempts(), 1);
    c.nothing_left().await;
}

#[tokio::test]
async fn a_cancelled_run_is_re_run_once_then_its_outcome_counts() {
    let c = world(Answer::Details).await;
    c.github.next_run_concludes(&["cancelled", "success"]);
    c.w.sparky.changelogs().await;
    c.follow_until(|c| c.slack_texts().iter().any(|t| t.contains("): compatible"))).await;
    assert_eq!(c.github.requests_to("POST", "/rerun-failed-jobs").len(), 1);
    assert_eq!(c.github.runs()[0].attempt, 2);
    assert!(c.p2s().is_empty());

    // Cancelled twice: re-run once, then an inconclusive notice; no P2.
    let c = world(Answer::Details).await;
    c.github.next_run_concludes(&["timed_out", "timed_out"]);
    c.w.sparky.changelogs().await;
    c.follow_until(|c| c.slack_texts().iter().any(|t| t.contains("not conclusive"))).await;
    assert_eq!(c.github.requests_to("POST", "/rerun-failed-jobs").len(), 1, "re-run once only");
    assert!(c.p2s().is_empty());
    c.conforms();
}

#[tokio::test]
async fn a_failed_run_re_run_by_hand_on_github_resolves_its_p2_once_a_webhook_says_so() {
    let c = world(Answer::Details).await;
    c.github.next_run_concludes(&["failure", "success"]);
    c.w.sparky.changelogs().await;
    c.follow_until(|c| !c.p2s().is_empty()).await;
    let run = c.github.runs()[0].clone();
    // Someone re-runs the failed jobs in GitHub's UI; its `workflow_run` webhook hurries the poll.
    let rerun = reqwest::Client::new()
        .post(format!("{}/repos/acme/compat-tests/actions/runs/{}/rerun-failed-jobs", c.github.url(), run.id))
        .bearer_auth(TOKEN)
        .header("accept", "application/vnd.github+json")
        .header("x-github-api-version", "2022-11-28")
        .send()
        .await
        .unwrap();
    assert_eq!(rerun.status(), 201);
    let app = c.w.sparky.app().await;
    assert_eq!(compat_runs::hurry(&app.store, run.id, 1).await.unwrap(), 0, "a webhook about the attempt decided reopens nothing");
    assert_eq!(compat_runs::hurry(&app.store, run.id, 2).await.unwrap(), 1, "the completed run is followed again");
    app.store.close().await;
    c.compat().await;
    c.follow_until(|c| c.w.jira.issue_status(&c.p2s()[0].key).as_deref() == Some("Done")).await;
    assert_eq!(c.p2s().len(), 1);
    assert_eq!(c.github.requests_to("POST", "/dispatches").len(), 1, "no new dispatch");
    c.nothing_left().await;
}
