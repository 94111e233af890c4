use super::*;
use crate::model::Evidence;
use crate::triage::cause::Basis;

pub(super) fn partner() -> Partner {
    toml::from_str(
        "id = \"okta\"\nname = \"Okta\"\nowner_team = \"identity\"\n[status_page]\nkind = \"statuspage\"\nurl = \"https://status.okta.com/api/v2/summary.json\"\n[public_status]\ncomponent_id = \"cmp1\"\n",
    )
    .unwrap()
}

fn templates() -> Templates {
    Templates::load(std::path::Path::new("/nonexistent")).unwrap()
}

pub(super) fn incident(cause: Cause, paged: bool, published: bool) -> Incident {
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

pub(super) fn actions(list: &[NewAction]) -> Vec<Action> {
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

fn minutes(m: i64) -> Timestamp {
    Timestamp::from_millis(1_000_000 + m * 60 * 1000)
}

/// Paged at open, the page resolved when the cause turned external at +10m, paged again at +15m.
fn recap(original: Option<crate::outbox::slack::SlackPost>) -> Recap {
    Recap {
        checks: vec!["okta-users".parse().unwrap(), "okta-groups".parse().unwrap()],
        pages: vec![(EventAction::Trigger, minutes(0)), (EventAction::Resolve, minutes(10)), (EventAction::Trigger, minutes(15))],
        original,
    }
}

#[test]
fn recovery_resolves_everything_that_was_opened() {
    let now = 1_000_000 + 23 * 60 * 1000;
    let opened =
        with_ctx(1_000_000, |ctx| open(ctx, &incident(Cause::Internal, false, false), &change(), &cause(Cause::Internal)).unwrap());
    let Some(Action::SlackPost(original)) = actions(&opened.actions).into_iter().find(|a| matches!(a, Action::SlackPost(_))) else {
        panic!()
    };
    let recap = recap(Some(original.clone()));
    let list = with_ctx(now, |ctx| resolve(ctx, &incident(Cause::Internal, true, true), &change(), &recap).unwrap());
    let all = actions(&list);
    assert!(matches!(&all[0], Action::PagerDuty(p) if p.action == EventAction::Resolve && p.dedup_key == "okta-users"));
    assert!(matches!(&all[1], Action::Statuspage(StatuspageAction::Component(c)) if c.status == ComponentStatus::Operational));
    assert!(matches!(&all[2], Action::Statuspage(StatuspageAction::ResolveIncident { .. })));
    let Action::Jira(JiraAction::Resolve { comment, .. }) = &all[3] else { panic!() };
    assert!(comment.to_string().contains("(okta-users, okta-groups); paged on-call 2 times, for 18m in all."), "{comment}");
    let Action::SlackPost(post) = &all[4] else { panic!() };
    assert_eq!(post.text, "Okta: recovered after 23m (okta-users, okta-groups; paged on-call 2 times, for 18m in all)");
    let blocks = serde_json::to_string(&post.blocks).unwrap();
    assert!(blocks.contains("pass again: okta-users, okta-groups.") && blocks.contains("paged on-call 2 times"), "{blocks}");
    let Action::SlackUpdate(update) = &all[5] else { panic!() };
    assert_eq!(update.message, "incident:7");
    assert!(update.blocks[0].to_string().contains("Resolved: Okta recovered after 23m; paged on-call 2 times"), "{:?}", update.blocks[0]);
    assert_eq!(&update.blocks[2..], &original.blocks[..], "the original alert stays, under the banner");
    assert!(update.text.contains("(was: Okta: okta-users failing, internal cause)"), "{}", update.text);
    let only_jira = with_ctx(now, |ctx| resolve(ctx, &incident(Cause::External, false, false), &change(), &Recap::default()).unwrap());
    assert!(
        actions(&only_jira).iter().all(|a| !matches!(a, Action::PagerDuty(_) | Action::Statuspage(_))),
        "nothing to undo that was never done"
    );
    let Action::SlackUpdate(update) = actions(&only_jira).pop().unwrap() else { panic!() };
    assert_eq!(update.blocks.len(), 1, "no original kept (pruned): the banner alone");
    assert!(update.text.ends_with("not paged"), "{}", update.text);
}

#[test]
fn the_paging_recap_counts_spells_and_their_time() {
    let open_page = Recap { pages: vec![(EventAction::Trigger, minutes(0))], ..Recap::default() };
    assert_eq!(open_page.paging(minutes(65)), "paged on-call once, for 1h 5m");
    assert_eq!(recap(None).paging(minutes(23)), "paged on-call 2 times, for 18m in all");
    let retriggered = Recap { pages: vec![(EventAction::Trigger, minutes(0)), (EventAction::Trigger, minutes(3))], ..Recap::default() };
    assert_eq!(retriggered.paging(minutes(5)), "paged on-call once, for 5m", "one alert, one dedup key");
    assert_eq!(Recap::default().paging(minutes(5)), "not paged");
}

#[test]
fn a_dead_page_is_not_counted_as_paging() {
    use crate::model::ActionState;
    use crate::store::outbox::ActionRow;
    let inc = incident(Cause::Internal, true, false);
    let opened = with_ctx(1_000_000, |ctx| open(ctx, &inc, &change(), &cause(Cause::Internal)).unwrap());
    let row = |a: &NewAction, state: ActionState| ActionRow {
        id: 1,
        idempotency_key: a.idempotency_key.clone(),
        ordering_key: a.ordering_key.clone(),
        sink: a.sink,
        payload: a.payload.clone(),
        state,
        attempts: 1,
        created_at: minutes(0),
        next_attempt_at: minutes(0),
        last_error: None,
        remote_id: None,
    };
    let (pd, slack): (Vec<&NewAction>, Vec<&NewAction>) =
        opened.actions.iter().filter(|a| a.sink.as_str() != "jira").partition(|a| a.sink.as_str() == "pagerduty");
    let slack: Vec<ActionRow> = slack.iter().map(|a| row(a, ActionState::Delivered)).collect();
    let delivered = Recap::from_chains(&inc, inc.checks.clone(), &[row(pd[0], ActionState::Delivered)], &slack);
    assert_eq!(delivered.paging(minutes(4)), "paged on-call once, for 4m");
    assert!(delivered.original.is_some(), "the opening message is found by its key");
    let dead = Recap::from_chains(&inc, inc.checks.clone(), &[row(pd[0], ActionState::Dead)], &[]);
    assert_eq!(dead.paging(minutes(4)), "not paged");
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
