//! The GitHub sink and run reader (issue 13, items 2, 3 and 5) against the fake GitHub on
//! loopback, on a real SQLite store: dispatch in both of GitHub's modes (200 with the run's
//! details; 204 and the run listed a moment later), never twice for one `sparky_run_key` after an
//! answer that never came back, 422s that name the partner file and the fix, re-runs of failed
//! jobs, the run's failed jobs and steps, a token or a GitHub App, rate limits retried, and no
//! credential in any error. Every request is checked against GitHub's OpenAPI description.

#![allow(unreachable_pub, clippy::unwrap_used)] // test and bench code: a failed unwrap is a failed run

mod common;

use common::fake_github::{Answer, FakeGitHub};
use sparky::config::{Duration, GitHubConfig, HttpConfig, Secret};
use sparky::model::Timestamp;
use sparky::outbox::github::{DispatchInputs, GitHubAction};
use sparky::outbox::{Action, Attempt, Delivered, DeliveryError, attempt};
use sparky::sinks::github::{GitHubClient, GitHubSink};
use sparky::sources::compat::follow::{Runs, Workflow};
use sparky::store::Store;
use tempfile::TempDir;

const TOKEN: &str = "github_pat_11AAfakeTokenValue0123456789";
const REPO: &str = "acme/compat-tests";
const WORKFLOW: &str = "okta-compat.yml";
const KEY: &str = "sparky-okta-1-1-0123abcd";

struct Env {
    github: FakeGitHub,
    store: Store,
    _dir: TempDir,
}

async fn env(answer: Answer) -> Env {
    common::crypto();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&format!("sqlite://{}?mode=rwc", dir.path().join("s.db").display())).await.unwrap();
    Env { github: FakeGitHub::start(TOKEN, answer).await, store, _dir: dir }
}

fn config(url: &str) -> GitHubConfig {
    GitHubConfig {
        api_url: url.parse().unwrap(),
        token: Some(Secret::new(TOKEN)),
        timeout: Duration::from_secs(1),
        run_lag: Duration::from_secs(0),
        ..GitHubConfig::default()
    }
}

fn dispatch(key: &str) -> Action {
    Action::GitHub(GitHubAction::Dispatch {
        repository: REPO.to_owned(),
        workflow: WORKFLOW.to_owned(),
        git_ref: "main".to_owned(),
        inputs: DispatchInputs {
            partner: "okta".to_owned(),
            api_version: "2026.41.0".to_owned(),
            changelog_url: "https://developer.okta.com/docs/release-notes/2026-okta-identity-engine/".to_owned(),
            sparky_run_key: key.to_owned(),
        },
        requested_at: Timestamp::now(),
    })
}

impl Env {
    fn sink(&self, cfg: &GitHubConfig) -> GitHubSink {
        GitHubSink::new(cfg, &HttpConfig::default(), self.store.clone()).unwrap()
    }

    fn client(&self) -> GitHubClient {
        GitHubClient::new(&config(&self.github.url()), &HttpConfig::default()).unwrap()
    }

    fn dispatches(&self) -> usize {
        self.github.requests_to("POST", "/dispatches").len()
    }

    fn conforms(&self) {
        assert_eq!(self.github.violations(), Vec::<String>::new(), "requests depart from GitHub's API description");
    }
}

fn workflow() -> Workflow<'static> {
    Workflow { repository: REPO, workflow: WORKFLOW }
}

#[tokio::test]
async fn a_dispatch_answered_with_run_details_names_the_run() {
    let env = env(Answer::Details).await;
    let sink = env.sink(&config(&env.github.url()));
    let delivered = attempt(&sink, &dispatch(KEY), &Attempt::first("compat:k:dispatch")).await.unwrap();
    let run = &env.github.runs()[0];
    assert_eq!(delivered, Delivered::with_id(run.id.to_string()));
    let sent = &env.github.requests_to("POST", "/dispatches")[0];
    assert_eq!(sent.path, format!("/repos/{REPO}/actions/workflows/{WORKFLOW}/dispatches"));
    assert_eq!(sent.body["ref"], "main");
    assert_eq!(sent.body["return_run_details"], true);
    assert_eq!(sent.body["inputs"]["sparky_run_key"], KEY);
    assert_eq!(sent.body["inputs"]["api_version"], "2026.41.0");
    env.conforms();
}

#[tokio::test]
async fn a_dispatch_answered_204_is_found_by_its_key_a_moment_later() {
    let env = env(Answer::NoContent).await;
    env.github.set_list_lag(2);
    let sink = env.sink(&config(&env.github.url()));
    let delivered = attempt(&sink, &dispatch(KEY), &Attempt::first("compat:k:dispatch")).await.unwrap();
    assert_eq!(delivered, Delivered::default(), "a 204 names no run");
    let client = env.client();
    let since = Timestamp::now() - std::time::Duration::from_secs(60);
    // GitHub lists the run only after a moment; another key never matches it.
    assert_eq!(client.find(workflow(), KEY, since).await.unwrap(), None);
    assert_eq!(client.find(workflow(), KEY, since).await.unwrap(), None);
    assert_eq!(client.find(workflow(), "sparky-okta-1-1-ffffffff", since).await.unwrap(), None);
    let found = client.find(workflow(), KEY, since).await.unwrap().expect("listed by now");
    assert_eq!(found.id, env.github.runs()[0].id);
    assert_eq!(found.status, "queued");
    let list = &env.github.requests_to("GET", "/runs")[0];
    assert!(list.query.contains("event=workflow_dispatch") && list.query.contains("created=%3E%3D"), "{}", list.query);
    env.conforms();
}

#[tokio::test]
async fn an_answer_that_never_came_back_does_not_dispatch_again() {
    let env = env(Answer::NoContent).await;
    env.github.set_list_lag(0);
    let sink = env.sink(&config(&env.github.url()));
    env.github.hold_next_dispatch(std::time::Duration::from_millis(1500));
    let first = attempt(&sink, &dispatch(KEY), &Attempt::first("compat:k:dispatch")).await;
    assert!(matches!(first, Err(DeliveryError::Retry { .. })), "{first:?}");
    assert_eq!(env.github.runs().len(), 1, "GitHub started the run although the answer was lost");
    // The retry is uncertain: the run is looked up by its key, found, and not dispatched again.
    let second = attempt(&sink, &dispatch(KEY), &Attempt::numbered("compat:k:dispatch", 2)).await.unwrap();
    assert_eq!(second, Delivered::with_id(env.github.runs()[0].id.to_string()));
    assert_eq!(env.dispatches(), 1);
    env.conforms();
}

#[tokio::test]
async fn while_github_may_not_list_the_run_yet_the_sink_waits_instead_of_dispatching_again() {
    let env = env(Answer::NoContent).await;
    env.github.set_list_lag(100);
    let cfg = GitHubConfig { run_lag: Duration::from_secs(60), ..config(&env.github.url()) };
    let sink = env.sink(&cfg);
    env.github.hold_next_dispatch(std::time::Duration::from_millis(1500));
    assert!(attempt(&sink, &dispatch(KEY), &Attempt::first("compat:k:dispatch")).await.is_err());
    let again = attempt(&sink, &dispatch(KEY), &Attempt::numbered("compat:k:dispatch", 2)).await;
    let Err(DeliveryError::Retry { reason, retry_after }) = again else { panic!("{again:?}") };
    assert!(reason.contains("run_lag"), "{reason}");
    assert!(retry_after.is_some_and(|d| d > std::time::Duration::from_secs(50)), "{retry_after:?}");
    assert_eq!(env.dispatches(), 1);
}

#[tokio::test]
async fn a_workflow_without_a_dispatch_trigger_is_a_permanent_error_naming_the_partner_file() {
    let env = env(Answer::NoTrigger).await;
    let sink = env.sink(&config(&env.github.url()));
    let err = attempt(&sink, &dispatch(KEY), &Attempt::first("k")).await.unwrap_err();
    let DeliveryError::Permanent { reason } = err else { panic!("{err:?}") };
    assert!(reason.contains("Workflow does not have 'workflow_dispatch' trigger"), "{reason}");
    assert!(reason.contains("partners/okta.toml") && reason.contains("examples/compat-workflow.yml"), "{reason}");
}

#[tokio::test]
async fn inputs_the_workflow_does_not_declare_are_a_permanent_error_saying_which() {
    let env = env(Answer::Details).await;
    env.github.declare_inputs(&["partner", "api_version", "changelog_url", "sparky_run_key", "mandatory-parameter"]);
    let sink = env.sink(&config(&env.github.url()));
    let err = attempt(&sink, &dispatch(KEY), &Attempt::first("k")).await.unwrap_err();
    let DeliveryError::Permanent { reason } = err else { panic!("{err:?}") };
    assert!(reason.contains("Required input 'mandatory-parameter' not provided"), "{reason}");
    assert!(reason.contains("declare exactly the inputs") && reason.contains("partners/okta.toml"), "{reason}");
    env.github.declare_inputs(&["partner", "api_version"]);
    let err = attempt(&sink, &dispatch(KEY), &Attempt::first("k")).await.unwrap_err();
    assert!(err.to_string().contains("Unexpected inputs provided"), "{err}");
    assert!(env.github.runs().is_empty());
}

#[tokio::test]
async fn a_failed_run_lists_its_failed_jobs_and_steps_and_a_rerun_is_made_once() {
    let env = env(Answer::Details).await;
    env.github.next_run_concludes(&["cancelled", "success"]);
    let sink = env.sink(&config(&env.github.url()));
    let client = env.client();
    attempt(&sink, &dispatch(KEY), &Attempt::first("d")).await.unwrap();
    let id = env.github.runs()[0].id;
    let mut seen = Vec::new();
    for _ in 0..3 {
        seen.push(client.get(REPO, id).await.unwrap().status);
    }
    assert_eq!(seen, ["queued", "in_progress", "completed"]);
    let run = client.get(REPO, id).await.unwrap();
    assert_eq!((run.conclusion.as_deref(), run.attempt), (Some("cancelled"), 1));
    let failed = client.failed_jobs(REPO, id, 1).await.unwrap();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0].name, "test (Python 3.7)");
    assert_eq!(failed[0].conclusion, "cancelled");
    assert!(failed[0].url.as_deref().is_some_and(|u| u.contains(&format!("/actions/runs/{id}/job/"))));
    assert_eq!(failed[0].steps.iter().map(|s| (s.name.as_str(), s.number)).collect::<Vec<_>>(), [("Run tests", 5)]);

    let rerun = Action::GitHub(GitHubAction::Rerun { repository: REPO.to_owned(), run_key: KEY.to_owned(), run_id: id, attempt: 1 });
    assert_eq!(attempt(&sink, &rerun, &Attempt::first("r")).await.unwrap(), Delivered::with_id(id.to_string()));
    // An uncertain retry finds the run past attempt 1 and does not re-run it again.
    assert_eq!(attempt(&sink, &rerun, &Attempt::numbered("r", 2)).await.unwrap(), Delivered::with_id(id.to_string()));
    assert_eq!(env.github.requests_to("POST", "/rerun-failed-jobs").len(), 1);
    assert_eq!(client.get(REPO, id).await.unwrap().attempt, 2);
    assert!(client.failed_jobs(REPO, id, 2).await.unwrap().is_empty(), "attempt 2 succeeds");
    env.conforms();
}

#[tokio::test]
async fn a_github_app_takes_one_installation_token_for_the_repository() {
    common::crypto();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&format!("sqlite://{}?mode=rwc", dir.path().join("s.db").display())).await.unwrap();
    let github = FakeGitHub::app(31337, Answer::Details).await;
    let pem = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/github-app-test-key.pem")).unwrap();
    let cfg = GitHubConfig { token: None, app_id: Some(31337), app_private_key: Some(Secret::new(pem)), ..config(&github.url()) };
    let sink = GitHubSink::new(&cfg, &HttpConfig::default(), store).unwrap();
    attempt(&sink, &dispatch(KEY), &Attempt::first("a")).await.unwrap();
    attempt(&sink, &dispatch("sparky-okta-1-2-0123abcd"), &Attempt::first("b")).await.unwrap();
    assert_eq!(github.runs().len(), 2);
    assert_eq!(github.requests_to("GET", &format!("/repos/{REPO}/installation")).len(), 1);
    let exchanges = github.requests_to("POST", "/access_tokens");
    assert_eq!(exchanges.len(), 1, "the installation token is kept until it nearly expires");
    assert_eq!(exchanges[0].body["repositories"], serde_json::json!(["compat-tests"]), "least privilege: this repository only");
    assert_eq!(exchanges[0].body["permissions"], serde_json::json!({"actions": "write"}));
    assert_eq!(github.violations(), Vec::<String>::new());
    // An App id with a key that is not one says what to give.
    let bad = GitHubConfig { app_private_key: Some(Secret::new("not a key")), ..cfg };
    let err = GitHubSink::new(&bad, &HttpConfig::default(), Store::open("sqlite::memory:").await.unwrap()).err().unwrap();
    assert!(err.to_string().contains("GITHUB_APP_PRIVATE_KEY is not an RSA private key in PEM"), "{err}");
}

#[tokio::test]
async fn refused_credentials_say_what_to_fix_and_never_show_the_token() {
    let env = env(Answer::Details).await;
    let cfg = GitHubConfig { token: Some(Secret::new("github_pat_wrong0123456789")), ..config(&env.github.url()) };
    let err = attempt(&env.sink(&cfg), &dispatch(KEY), &Attempt::first("k")).await.unwrap_err();
    let DeliveryError::Permanent { reason } = &err else { panic!("{err:?}") };
    assert!(reason.contains("HTTP 401") && reason.contains("Bad credentials") && reason.contains("GITHUB_TOKEN"), "{reason}");
    assert!(!reason.contains("github_pat_wrong0123456789"), "{reason}");
    let read = GitHubClient::new(&cfg, &HttpConfig::default()).unwrap().get(REPO, 1).await.unwrap_err();
    assert!(read.0.contains("HTTP 401") && !read.0.contains("github_pat_wrong"), "{}", read.0);
}

#[tokio::test]
async fn rate_limits_and_server_errors_are_retried_with_githubs_wait() {
    let env = env(Answer::Details).await;
    let sink = env.sink(&config(&env.github.url()));
    for (status, min_wait) in [(403, 20), (429, 1)] {
        env.github.fail_next("/dispatches", status);
        let err = attempt(&sink, &dispatch(KEY), &Attempt::first("k")).await.unwrap_err();
        let DeliveryError::Retry { retry_after, .. } = &err else { panic!("HTTP {status}: {err:?}") };
        assert!(retry_after.is_some_and(|d| d >= std::time::Duration::from_secs(min_wait)), "HTTP {status}: {retry_after:?}");
    }
    env.github.fail_next("/dispatches", 502);
    assert!(matches!(attempt(&sink, &dispatch(KEY), &Attempt::first("k")).await, Err(DeliveryError::Retry { .. })));
    assert!(env.github.runs().is_empty());
}

#[tokio::test]
async fn a_repository_that_is_not_owner_slash_name_is_refused_before_any_request() {
    let env = env(Answer::Details).await;
    let sink = env.sink(&config(&env.github.url()));
    let Action::GitHub(GitHubAction::Dispatch { inputs, git_ref, workflow, requested_at, .. }) = dispatch(KEY) else { unreachable!() };
    let bad = Action::GitHub(GitHubAction::Dispatch { repository: "compat-tests".to_owned(), workflow, git_ref, inputs, requested_at });
    let err = attempt(&sink, &bad, &Attempt::first("k")).await.unwrap_err();
    assert!(err.to_string().contains("owner/name"), "{err}");
    assert!(env.github.received().is_empty());
}

#[test]
fn the_example_workflow_declares_the_inputs_sparky_sends_and_names_its_run_by_the_key() {
    let yml = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/compat-workflow.yml")).unwrap();
    let sent = serde_json::to_value(DispatchInputs {
        partner: String::new(),
        api_version: String::new(),
        changelog_url: String::new(),
        sparky_run_key: String::new(),
    })
    .unwrap();
    let inputs = yml.split("    inputs:\n").nth(1).expect("on.workflow_dispatch.inputs");
    let declared: Vec<&str> = inputs
        .lines()
        .take_while(|l| l.is_empty() || l.starts_with("      "))
        .filter(|l| l.starts_with("      ") && !l.starts_with("       ") && l.trim_end().ends_with(':'))
        .map(|l| l.trim().trim_end_matches(':'))
        .collect();
    let mut wanted: Vec<&str> = sent.as_object().unwrap().keys().map(String::as_str).collect();
    wanted.sort_unstable();
    let mut got = declared.clone();
    got.sort_unstable();
    assert_eq!(got, wanted, "the workflow's inputs are the ones Sparky sends");
    assert!(yml.contains("on:\n  workflow_dispatch:"), "dispatchable");
    let run_name = yml.lines().find(|l| l.starts_with("run-name:")).expect("a run-name");
    assert!(run_name.contains("${{ inputs.sparky_run_key }}"), "{run_name}");
}
