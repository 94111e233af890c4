//! The plans of a silenced incident: what is held instead of sent, what Slack and Jira say, and
//! the release that sends it once.

use super::tests::{actions, partner};
use super::*;
use crate::model::Evidence;
use crate::triage::cause::Basis;

/// The plan tests' incident, with what a silence holds.
fn incident(cause: Cause, held: Held) -> Incident {
    Incident { held, ..super::tests::incident(cause, false, false) }
}

fn verdict(cause: Cause) -> Verdict {
    let public = (cause == Cause::External).then_some(Public {
        component: ComponentStatus::MajorOutage,
        impact: Indicator::Major,
        maintenance: false,
    });
    Verdict {
        cause,
        reason: format!("Okta says {cause}"),
        public,
        partner_incident: None,
        basis: Basis::Read(Evidence { indicator: Indicator::None, components: vec![], counted: vec![], ignored: vec![] }),
    }
}

fn change() -> CheckChange {
    CheckChange {
        check: "okta-users".parse().unwrap(),
        priority: Priority::P4,
        reason: Some("got 503".into()),
        at: Timestamp::from_millis(1_000_000),
    }
}

fn hold() -> Hold {
    Hold { by: "alice".into(), until: Timestamp::parse_rfc3339("2026-12-02T07:00:00Z").unwrap(), reason: "database upgrade".into() }
}

fn with_ctx<R>(hold: Option<Hold>, f: impl FnOnce(&Ctx<'_>) -> R) -> R {
    let (t, p) = (Templates::load(std::path::Path::new("/nonexistent")).unwrap(), partner());
    f(&Ctx { templates: &t, partner: &p, channel: "#okta", now: Timestamp::from_millis(2_000_000), hold })
}

const SAID: &str = "silenced by alice until 2026-12-02T07:00:00Z: database upgrade";

#[test]
fn a_silenced_internal_incident_holds_its_page_and_says_so_in_slack_and_jira() {
    let plan =
        with_ctx(Some(hold()), |ctx| open(ctx, &incident(Cause::Internal, Held::default()), &change(), &verdict(Cause::Internal)).unwrap());
    assert_eq!((plan.paged, plan.published, plan.held), (false, false, Held { page: true, public: false }));
    assert_eq!(plan.actions.iter().map(|a| a.sink.as_str()).collect::<Vec<_>>(), ["jira", "slack"], "no page");
    let all = actions(&plan.actions);
    let Action::Jira(JiraAction::Create { description, .. }) = &all[0] else { panic!() };
    assert!(description.to_string().contains(&format!("Page held: {SAID}.")), "{description}");
    let Action::SlackPost(post) = &all[1] else { panic!() };
    assert_eq!(post.text, format!("Okta: okta-users failing, internal cause (page held: {SAID})"));
    assert!(post.blocks.iter().any(|b| b.to_string().contains(&format!(":mute: *Page held*: {SAID}"))), "{:?}", post.blocks);
}

#[test]
fn a_silenced_external_incident_holds_our_status_page() {
    let plan =
        with_ctx(Some(hold()), |ctx| open(ctx, &incident(Cause::External, Held::default()), &change(), &verdict(Cause::External)).unwrap());
    assert_eq!((plan.paged, plan.published, plan.held), (false, false, Held { page: false, public: true }));
    assert!(actions(&plan.actions).iter().all(|a| !matches!(a, Action::Statuspage(_) | Action::PagerDuty(_))));
    let Action::SlackPost(post) = &actions(&plan.actions)[1] else { panic!() };
    assert!(post.text.ends_with(&format!("(public status update held: {SAID})")), "{}", post.text);
}

#[test]
fn a_cause_change_under_a_silence_holds_the_new_page_and_drops_what_the_old_cause_held() {
    let mut inc = incident(Cause::Internal, Held { page: false, public: true });
    inc.generation = 1;
    let plan = with_ctx(Some(hold()), |ctx| recause(ctx, &inc, &verdict(Cause::Internal), "okta-users", Some("got 503")).unwrap());
    assert_eq!((plan.paged, plan.held), (false, Held { page: true, public: false }));
    let all = actions(&plan.actions);
    assert!(all.iter().all(|a| !matches!(a, Action::PagerDuty(_) | Action::Statuspage(_))), "{all:?}");
    assert!(
        all.iter().any(
            |a| matches!(a, Action::Jira(JiraAction::Comment { body, .. }) if body.to_string().contains(&format!("Page held: {SAID}")))
        ),
        "{all:?}"
    );
    // A page already open is resolved whatever the silence says; customers wait.
    let mut paged = incident(Cause::External, Held::default());
    paged.paged = true;
    let plan = with_ctx(Some(hold()), |ctx| recause(ctx, &paged, &verdict(Cause::External), "okta-users", None).unwrap());
    assert_eq!((plan.paged, plan.published, plan.held), (false, false, Held { page: false, public: true }));
    let all = actions(&plan.actions);
    assert!(matches!(&all[0], Action::PagerDuty(p) if p.action == EventAction::Resolve));
    assert!(all.iter().all(|a| !matches!(a, Action::Statuspage(_))));
}

#[test]
fn the_release_sends_the_held_page_once_with_its_own_key_and_tells_slack_and_jira() {
    let mut inc = incident(Cause::Internal, Held { page: true, public: false });
    inc.generation = 2;
    let plan = with_ctx(None, |ctx| release(ctx, &inc, &verdict(Cause::Internal), Some("got 503")).unwrap());
    assert_eq!((plan.paged, plan.published, plan.held), (true, false, Held::default()));
    let keys: Vec<&str> = plan.actions.iter().map(|a| a.idempotency_key.as_str()).collect();
    assert_eq!(keys, ["incident:7:release:2:pagerduty", "incident:7:release:2:jira", "incident:7:release:2:slack"]);
    let all = actions(&plan.actions);
    assert!(
        matches!(&all[0], Action::PagerDuty(p) if p.action == EventAction::Trigger && p.dedup_key == "okta-users" && p.summary.contains("got 503"))
    );
    let Action::SlackPost(post) = &all[2] else { panic!() };
    assert_eq!((post.channel.as_str(), post.text.as_str()), ("#okta", "Okta: silence ended: paging on-call (okta-users still failing)"));

    let external = incident(Cause::External, Held { page: false, public: true });
    let plan = with_ctx(None, |ctx| release(ctx, &external, &verdict(Cause::External), None).unwrap());
    assert_eq!((plan.paged, plan.published), (false, true));
    let all = actions(&plan.actions);
    assert!(matches!(&all[0], Action::Statuspage(StatuspageAction::Component(c)) if c.status == ComponentStatus::MajorOutage));
    assert!(matches!(&all[1], Action::Statuspage(StatuspageAction::OpenIncident { .. })));
    assert!(all.iter().all(|a| !matches!(a, Action::PagerDuty(_))));

    let nothing = with_ctx(None, |ctx| release(ctx, &incident(Cause::Internal, Held::default()), &verdict(Cause::Internal), None).unwrap());
    assert!(nothing.actions.is_empty());
}
