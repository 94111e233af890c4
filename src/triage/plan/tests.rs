use super::*;
use crate::model::Evidence;
use crate::triage::cause::Basis;

fn partner() -> Partner {
    toml::from_str(
        "id = \"okta\"\nname = \"Okta\"\nowner_team = \"identity\"\n[status_page]\nkind = \"statuspage\"\nurl = \"https://status.okta.com/api/v2/summary.json\"\n[public_status]\ncomponent_id = \"cmp1\"\n",
    )
    .unwrap()
}

fn templates() -> Templates {
    Templates::load(std::path::Path::new("/nonexistent")).unwrap()
}

fn incident(cause: Cause, paged: bool, published: bool) -> Incident {
    Incident {
        id: 7,
        partner: "okta".parse().unwrap(),
        cause,
        cause_reason: "Okta reports all operational".into(),
        priority: Priority::P4,
        dedup_key: "okta-users".into(),
        paged,
        published,
        held: Default::default(),
        generation: 0,
        status_unknown_since: None,
        recovered_polls: 0,
        opened_at: Timestamp::from_millis(1_000_000),
        checks: vec!["okta-users".parse().unwrap()],
    }
}

fn change() -> CheckChange {
    CheckChange {
        check: "okta-users".parse().unwrap(),
        priority: Priority::P4,
        reason: Some("status is 2xx: got 503".into()),
        at: Timestamp::from_millis(1_000_000),
    }
}

fn cause(cause: Cause) -> Verdict {
    match cause {
        Cause::Internal => Verdict {
            cause,
            reason: "Okta reports all operational".into(),
            public: None,
            partner_incident: None,
            basis: Basis::Read(evidence(Indicator::None)),
        },
        Cause::External => Verdict {
            cause,
            reason: "Okta reports API as major_outage".into(),
            public: Some(Public { component: ComponentStatus::MajorOutage, impact: Indicator::Major, maintenance: false }),
            partner_incident: Some(("Login failures".into(), Some("https://stspg.io/abc".into()))),
            basis: Basis::Read(evidence(Indicator::Major)),
        },
    }
}

fn evidence(indicator: Indicator) -> Evidence {
    Evidence { indicator, components: vec![], counted: vec![], ignored: vec![] }
}

fn actions(list: &[NewAction]) -> Vec<Action> {
    list.iter().map(|a| serde_json::from_str(&a.payload).unwrap()).collect()
}

fn with_ctx<R>(now: i64, f: impl FnOnce(&Ctx<'_>) -> R) -> R {
    let (t, p) = (templates(), partner());
    f(&Ctx { templates: &t, partner: &p, channel: "#ecosystem-updates", now: Timestamp::from_millis(now), hold: None })
}

#[test]
fn an_internal_cause_pages_and_opens_a_p4_jira_incident_but_leaves_our_status_page_alone() {
    let plan = with_ctx(1_000_000, |ctx| open(ctx, &incident(Cause::Internal, false, false), &change(), &cause(Cause::Internal)).unwrap());
    assert!(plan.paged && !plan.published);
    let sinks: Vec<&str> = plan.actions.iter().map(|a| a.sink.as_str()).collect();
    assert_eq!(sinks, vec!["pagerduty", "jira", "slack"]);
    let all = actions(&plan.actions);
    let Action::PagerDuty(page) = &all[0] else { panic!() };
    assert_eq!((page.action, page.dedup_key.as_str(), page.severity), (EventAction::Trigger, "okta-users", Severity::Warning));
    assert!(page.summary.contains("status is 2xx: got 503"), "{}", page.summary);
    let Action::Jira(JiraAction::Create { priority, labels, fingerprint, description, .. }) = &all[1] else { panic!() };
    assert_eq!(*priority, Priority::P4);
    assert_eq!(labels, &vec!["okta".to_owned(), "internal".to_owned()]);
    assert_eq!(fingerprint, "sparky-incident-okta-1000000");
    assert!(description.to_string().contains("Owning team: identity"));
    let Action::SlackPost(post) = &all[2] else { panic!() };
    assert_eq!(post.remember_as.as_deref(), Some("incident:7"));
    assert_eq!(post.text, "Okta: okta-users failing, internal cause");
}

#[test]
fn an_external_cause_updates_our_status_page_names_the_partner_and_pages_nobody() {
    let plan = with_ctx(1_000_000, |ctx| open(ctx, &incident(Cause::External, false, false), &change(), &cause(Cause::External)).unwrap());
    assert!(!plan.paged && plan.published);
    let all = actions(&plan.actions);
    assert!(all.iter().all(|a| !matches!(a, Action::PagerDuty(_))), "no page");
    let Action::Statuspage(StatuspageAction::Component(c)) = &all[0] else { panic!("{all:?}") };
    assert_eq!((c.component_id.as_deref(), c.status), (Some("cmp1"), ComponentStatus::MajorOutage));
    let Action::Statuspage(StatuspageAction::OpenIncident { body, components, .. }) = &all[1] else { panic!() };
    assert!(body.contains("because Okta is having problems on their side") && body.contains("https://stspg.io/abc"), "{body}");
    assert_eq!(components.len(), 1);
    let Action::Jira(JiraAction::Create { labels, .. }) = &all[2] else { panic!() };
    assert!(labels.contains(&"external".to_owned()));
}

#[test]
fn recovery_resolves_everything_that_was_opened() {
    let now = 1_000_000 + 23 * 60 * 1000;
    let list = with_ctx(now, |ctx| resolve(ctx, &incident(Cause::Internal, true, true), &change()).unwrap());
    let all = actions(&list);
    assert!(matches!(&all[0], Action::PagerDuty(p) if p.action == EventAction::Resolve && p.dedup_key == "okta-users"));
    assert!(matches!(&all[1], Action::Statuspage(StatuspageAction::Component(c)) if c.status == ComponentStatus::Operational));
    assert!(matches!(&all[2], Action::Statuspage(StatuspageAction::ResolveIncident { .. })));
    assert!(matches!(&all[3], Action::Jira(JiraAction::Resolve { .. })));
    let Action::SlackPost(post) = &all[4] else { panic!() };
    assert_eq!(post.text, "Okta: recovered after 23m");
    assert!(matches!(&all[5], Action::SlackUpdate(u) if u.message == "incident:7"));
    let only_jira = with_ctx(now, |ctx| resolve(ctx, &incident(Cause::External, false, false), &change()).unwrap());
    assert!(
        actions(&only_jira).iter().all(|a| !matches!(a, Action::PagerDuty(_) | Action::Statuspage(_))),
        "nothing to undo that was never done"
    );
}

#[test]
fn a_late_partner_incident_turns_a_page_into_a_status_page_update() {
    let mut inc = incident(Cause::External, true, false);
    inc.generation = 1;
    let plan = with_ctx(2_000_000, |ctx| recause(ctx, &inc, &cause(Cause::External), "okta-users", None).unwrap());
    assert!(!plan.paged && plan.published);
    let all = actions(&plan.actions);
    assert!(matches!(&all[0], Action::PagerDuty(p) if p.action == EventAction::Resolve));
    assert!(matches!(&all[1], Action::Statuspage(StatuspageAction::Component(_))));
    assert!(matches!(&all[2], Action::Statuspage(StatuspageAction::OpenIncident { impact: Some(Indicator::Major), .. })));
    let Action::Jira(JiraAction::Update { summary, add_labels, remove_labels, .. }) = &all[3] else { panic!("{:?}", all[3]) };
    assert_eq!(summary, "[Sparky] okta-users failing: Okta (external cause)", "the summary follows the cause");
    assert_eq!((add_labels.as_slice(), remove_labels.as_slice()), (&["external".to_owned()][..], &["internal".to_owned()][..]));
    assert!(matches!(&all[4], Action::Jira(JiraAction::Comment { .. })));
    assert!(plan.actions.iter().all(|a| a.idempotency_key.starts_with("incident:7:cause1:")));

    let mut back = incident(Cause::Internal, false, true);
    back.generation = 2;
    let plan =
        with_ctx(3_000_000, |ctx| recause(ctx, &back, &cause(Cause::Internal), "okta-users", Some("status is 2xx: got 503")).unwrap());
    assert!(plan.paged && plan.published);
    let all = actions(&plan.actions);
    assert!(
        matches!(&all[0], Action::PagerDuty(p) if p.action == EventAction::Trigger && p.summary.contains("status is 2xx: got 503")),
        "the page carries the failure: {:?}",
        all[0]
    );
    assert!(matches!(&all[1], Action::Statuspage(StatuspageAction::UpdateIncident { status: IncidentStatus::Investigating, .. })));
}

#[test]
fn another_failing_check_is_a_comment_not_a_second_incident() {
    let list = with_ctx(1_500_000, |ctx| {
        attach(ctx, &incident(Cause::Internal, true, false), &CheckChange { check: "okta-groups".parse().unwrap(), ..change() }).unwrap()
    });
    let all = actions(&list);
    assert_eq!(all.len(), 2);
    assert!(matches!(&all[0], Action::Jira(JiraAction::Comment { .. })));
    assert!(matches!(&all[1], Action::SlackPost(_)));
    assert!(list.iter().all(|a| !a.idempotency_key.contains(":open:")));
}

#[test]
fn ordering_keeps_each_sink_in_order_and_never_makes_a_page_wait_for_jira() {
    let plan = with_ctx(1_000_000, |ctx| open(ctx, &incident(Cause::Internal, false, false), &change(), &cause(Cause::Internal)).unwrap());
    let orders: Vec<&str> = plan.actions.iter().map(|a| a.ordering_key.as_str()).collect();
    assert_eq!(orders, vec!["incident:7:pagerduty", "incident:7:jira", "incident:7:slack"]);
}

#[test]
fn an_unreadable_partner_page_is_told_to_jira_and_slack_not_to_customers() {
    let inc = incident(Cause::External, false, true);
    let list = with_ctx(2_000_000, |ctx| status_unknown(ctx, &inc, Timestamp::from_millis(1_500_000), "HTTP 500").unwrap());
    let all = actions(&list);
    assert_eq!(list.iter().map(|a| a.sink.as_str()).collect::<Vec<_>>(), vec!["jira", "slack"]);
    let Action::Jira(JiraAction::Comment { body, .. }) = &all[0] else { panic!() };
    assert!(body.to_string().contains("partner status unknown") && body.to_string().contains("1970-01-01T00:25:00"), "{body}");
    let Action::SlackPost(post) = &all[1] else { panic!() };
    assert!(
        post.text.contains("partner status unknown since 1970-01-01T00:25:00") && post.text.contains("cause stays external"),
        "{}",
        post.text
    );
    assert!(post.blocks.iter().any(|b| b.to_string().contains("Unknown is not evidence")), "{:?}", post.blocks);
}

#[test]
fn a_partner_maintenance_is_described_as_maintenance() {
    let mut verdict = cause(Cause::External);
    verdict.public = Some(Public { component: ComponentStatus::UnderMaintenance, impact: Indicator::Maintenance, maintenance: true });
    let plan = with_ctx(1_000_000, |ctx| open(ctx, &incident(Cause::External, false, false), &change(), &verdict).unwrap());
    let all = actions(&plan.actions);
    let Some(Action::Statuspage(StatuspageAction::OpenIncident { name, body, impact, .. })) =
        all.iter().find(|a| matches!(a, Action::Statuspage(StatuspageAction::OpenIncident { .. })))
    else {
        panic!("{all:?}")
    };
    assert!(name.contains("maintenance"), "{name}");
    assert!(body.contains("planned maintenance") && !body.contains("having problems"), "{body}");
    assert_eq!(*impact, Some(Indicator::Maintenance));
}
