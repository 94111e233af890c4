use std::time::Duration;

use super::*;
use crate::model::{FailedJob, FailedStep, RunTrigger};
use crate::sources::compat::follow::ReadError;

fn partner() -> Partner {
    toml::from_str(
        "id = \"acme\"\nname = \"Acme Cloud\"\nowner_team = \"integrations\"\nowner_slack = \"<!subteam^S0123>\"\n\
         [compat]\nrepository = \"acme/integration-tests\"\nworkflow = \"acme-compat.yml\"\n",
    )
    .unwrap()
}

fn team() -> TeamConfig {
    toml::from_str("jira_assignee = \"5b10ac8d82e05b22cc7d4ef5\"\njira_components = [\"Integrations\"]\njira_fields = { customfield_10001 = \"team-42\" }\n")
        .unwrap()
}

const AT: i64 = 1_791_374_400_000; // 2026-10-07T12:00:00Z

fn detection(p2: Option<P2State>) -> Detection {
    Detection {
        id: 3,
        partner_id: "acme".into(),
        version: "v2.1".into(),
        first_entry_key: "e1".into(),
        first_entry_title: "API v2.1 beta".into(),
        first_entry_link: Some("https://acme.test/changelog/v2-1".into()),
        first_entry_published_at: None,
        detected_at: Timestamp::from_millis(AT),
        entries: vec!["e1".into()],
        p2,
        p2_incident: p2.map(|_| "compat:sparky-acme-3-1-aaaa".to_owned()),
        auto_dispatch: true,
    }
}

fn run(key: &str) -> CompatRun {
    CompatRun {
        id: 1,
        detection_id: 3,
        partner_id: "acme".into(),
        version: "v2.1".into(),
        run_key: key.into(),
        state: RunState::Queued,
        requested_by: RunTrigger::Detection,
        requested_at: Timestamp::from_millis(AT),
        run_id: Some(77),
        html_url: None,
        attempt: 1,
        decided_attempt: 0,
        reruns: 0,
        conclusion: None,
        started_at: None,
        completed_at: None,
        failed_jobs: vec![],
        polls: 0,
        next_poll_at: Timestamp::from_millis(AT),
        last_error: None,
    }
}

fn github(status: &str, conclusion: Option<&str>, attempt: i64) -> GitHubRun {
    GitHubRun {
        id: 77,
        html_url: Some("https://github.com/acme/integration-tests/actions/runs/77".into()),
        status: status.into(),
        conclusion: conclusion.map(str::to_owned),
        attempt,
        started_at: Some(Timestamp::from_millis(AT + 60_000)),
        updated_at: Some(Timestamp::from_millis(AT + 60_000 + 250_000)),
    }
}

fn failed_job() -> FailedJob {
    FailedJob {
        name: "suite (graph-beta)".into(),
        url: Some("https://github.com/acme/integration-tests/actions/runs/77/job/9".into()),
        conclusion: "failure".into(),
        steps: vec![FailedStep { name: "Run compatibility suite".into(), number: 4 }],
    }
}

fn templates() -> Templates {
    Templates::load(std::path::Path::new("/nonexistent")).unwrap()
}

struct Case {
    partner: Partner,
    team: Option<TeamConfig>,
    github: GitHubConfig,
    detection: Detection,
}

impl Case {
    fn new(p2: Option<P2State>) -> Self {
        Self { partner: partner(), team: Some(team()), github: GitHubConfig::default(), detection: detection(p2) }
    }

    fn next(&self, run: &CompatRun, seen: &Observation, now: Timestamp) -> Step {
        let ctx = Context {
            partner: &self.partner,
            compat: self.partner.compat.as_ref().unwrap(),
            team: self.team.as_ref(),
            channel: "#acme",
            github: &self.github,
            detection: &self.detection,
        };
        next(&templates(), &ctx, run, seen, now).unwrap()
    }
}

fn actions(step: &Step) -> Vec<(String, Action)> {
    step.actions.iter().map(|a| (a.idempotency_key.clone(), serde_json::from_str(&a.payload).unwrap())).collect()
}

fn completed(conclusion: &str, jobs: Vec<FailedJob>) -> Observation {
    Observation::Run { run: github("completed", Some(conclusion), 1), failed_jobs: jobs }
}

fn now() -> Timestamp {
    Timestamp::from_millis(AT + 600_000)
}

#[test]
fn a_failure_opens_one_p2_for_the_owner_team_and_mentions_it_in_slack() {
    let case = Case::new(None);
    let step = case.next(&run("sparky-acme-3-1-aaaa"), &completed("failure", vec![failed_job()]), now());
    assert_eq!(step.update.state, RunState::Completed);
    assert_eq!(step.update.decided_attempt, 1);
    assert_eq!(step.update.failed_jobs, vec![failed_job()]);
    assert_eq!(step.p2, Some((P2State::Open, "compat:sparky-acme-3-1-aaaa".to_owned())));
    let all = actions(&step);
    let keys: Vec<&str> = all.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["compat:sparky-acme-3-1-aaaa:1:slack", "compat:sparky-acme-3-1-aaaa:p2"]);
    let Action::SlackPost(post) = &all[0].1 else { panic!("{all:?}") };
    assert_eq!(post.text, "Acme Cloud v2.1 (announced 2026-10-07): not compatible <!subteam^S0123>");
    let blocks = serde_json::to_string(&post.blocks).unwrap();
    assert!(blocks.contains("P2 opened for integrations"), "{blocks}");
    assert!(blocks.contains("step 4 Run compatibility suite"), "{blocks}");
    let Action::Jira(JiraAction::Create { incident, priority, summary, owner, description, .. }) = &all[1].1 else { panic!("{all:?}") };
    assert_eq!(incident, "compat:sparky-acme-3-1-aaaa");
    assert_eq!(*priority, Priority::P2);
    assert_eq!(summary, "Acme Cloud v2.1 (announced 2026-10-07): not compatible");
    assert_eq!(owner.assignee.as_deref(), Some("5b10ac8d82e05b22cc7d4ef5"));
    assert_eq!(owner.components, ["Integrations"]);
    assert_eq!(owner.fields["customfield_10001"], "team-42");
    let text = description.to_string();
    assert!(
        text.contains("Failed job: suite (graph-beta) (failure) https://github.com/acme/integration-tests/actions/runs/77/job/9"),
        "{text}"
    );
    assert!(text.contains("Failed step 4: Run compatibility suite"), "{text}");
    assert!(text.contains("API v2.1 beta (https://acme.test/changelog/v2-1)"), "{text}");
}

#[test]
fn a_second_failure_comments_on_the_open_p2_instead_of_opening_another() {
    let case = Case::new(Some(P2State::Open));
    let step = case.next(&run("sparky-acme-3-2-bbbb"), &completed("failure", vec![failed_job()]), now());
    let all = actions(&step);
    assert_eq!(step.p2, None);
    assert!(
        matches!(&all[1].1, Action::Jira(JiraAction::Comment { incident, .. }) if incident == "compat:sparky-acme-3-1-aaaa"),
        "{all:?}"
    );
    assert!(!all.iter().any(|(_, a)| matches!(a, Action::Jira(JiraAction::Create { .. }))));
}

#[test]
fn a_success_says_compatible_and_a_later_success_resolves_the_open_p2() {
    let step = Case::new(None).next(&run("k"), &completed("success", vec![]), now());
    let all = actions(&step);
    assert_eq!(all.len(), 1);
    let Action::SlackPost(post) = &all[0].1 else { panic!() };
    assert_eq!(post.text, "Acme Cloud v2.1 (announced 2026-10-07): compatible");
    assert_eq!(step.update.completed_at.unwrap().since(step.update.started_at.unwrap()), Duration::from_secs(250));

    let step = Case::new(Some(P2State::Open)).next(&run("sparky-acme-3-2-bbbb"), &completed("success", vec![]), now());
    assert_eq!(step.p2, Some((P2State::Resolved, "compat:sparky-acme-3-1-aaaa".to_owned())));
    let all = actions(&step);
    let Action::SlackPost(post) = &all[0].1 else { panic!() };
    assert_eq!(post.text, "Acme Cloud v2.1 (announced 2026-10-07): compatible again");
    assert!(matches!(&all[1].1, Action::Jira(JiraAction::Resolve { incident, .. }) if incident == "compat:sparky-acme-3-1-aaaa"));
}

#[test]
fn a_cancelled_run_is_rerun_once_waits_for_the_new_attempt_then_says_it_is_inconclusive() {
    let case = Case::new(None);
    let first = case.next(&run("k"), &completed("cancelled", vec![]), now());
    assert_eq!((first.update.state, first.update.reruns, first.update.decided_attempt), (RunState::Queued, 1, 1));
    let all = actions(&first);
    assert!(
        matches!(&all[..], [(key, Action::GitHub(GitHubAction::Rerun { run_id: 77, attempt: 1, .. }))] if key == "compat:k:rerun:1"),
        "{all:?}"
    );

    let mut after = run("k");
    (after.reruns, after.decided_attempt) = (1, 1);
    // GitHub has not started attempt 2 yet: attempt 1 still reads completed.
    let waiting = case.next(&after, &completed("cancelled", vec![]), now());
    assert!(waiting.actions.is_empty());
    assert_eq!(waiting.update.state, RunState::Queued);

    let second = Observation::Run { run: github("completed", Some("timed_out"), 2), failed_jobs: vec![] };
    let step = case.next(&after, &second, now());
    assert_eq!(step.update.state, RunState::Completed);
    let all = actions(&step);
    let Action::SlackPost(post) = &all[0].1 else { panic!("{all:?}") };
    assert_eq!(post.text, "Acme Cloud v2.1 (announced 2026-10-07): run timed_out, not conclusive");
    assert_eq!(all[0].0, "compat:k:2:slack");
}

#[test]
fn a_run_not_found_or_not_finished_waits_with_backoff_until_the_follow_timeout_then_is_lost_once() {
    let case = Case::new(None);
    let mut r = run("k");
    r.run_id = None;
    r.state = RunState::Dispatching;
    r.polls = 2;
    let step = case.next(&r, &Observation::NotFound, now());
    assert!(step.actions.is_empty());
    assert_eq!(step.update.state, RunState::Dispatching);
    assert_eq!(step.update.next_poll_at, now() + Duration::from_secs(120));

    let running = Observation::Run { run: github("in_progress", None, 1), failed_jobs: vec![] };
    let step = case.next(&run("k"), &running, now());
    assert_eq!((step.update.state, step.update.run_id), (RunState::InProgress, Some(77)));
    assert!(step.actions.is_empty());

    let late = Timestamp::from_millis(AT) + Duration::from_secs(6 * 3600 + 1);
    let step = case.next(&r, &Observation::NotFound, late);
    assert_eq!(step.update.state, RunState::Lost);
    let all = actions(&step);
    assert_eq!(all[0].0, "compat:k:lost");
    let Action::SlackPost(post) = &all[0].1 else { panic!() };
    assert_eq!(post.text, "Acme Cloud v2.1 (announced 2026-10-07): run not finished within 6h");
}

#[test]
fn a_failed_read_keeps_the_run_and_records_the_error() {
    let step = Case::new(None).next(&run("k"), &Observation::Failed(ReadError("GitHub answered HTTP 502".to_owned())), now());
    assert!(step.actions.is_empty());
    assert_eq!(step.update.state, RunState::Queued);
    assert_eq!(step.update.last_error.as_deref(), Some("GitHub answered HTTP 502"));
}

#[test]
fn polls_back_off_from_poll_min_to_poll_max() {
    let github = GitHubConfig::default();
    let delays: Vec<u64> = (0..6).map(|n| poll_delay(&github, n).as_secs()).collect();
    assert_eq!(delays, [30, 60, 120, 240, 300, 300]);
}

#[test]
fn run_keys_differ_per_dispatch_and_per_detection_time() {
    let d = detection(None);
    assert!(run_key(&d, 1).starts_with("sparky-acme-3-1-"));
    assert_ne!(run_key(&d, 1), run_key(&d, 2));
    let later = Detection { detected_at: Timestamp::from_millis(AT + 1), ..detection(None) };
    assert_ne!(run_key(&d, 1), run_key(&later, 1));
    assert!(!run_key(&d, 1).contains(' '));
}
