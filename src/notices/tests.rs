use super::*;
use crate::model::{EventDetail, SinkKind};
use crate::outbox::slack::SlackPost;

fn partner() -> Partner {
    toml::from_str(
        "id = \"okta\"\nname = \"Okta\"\n[status_page]\nkind = \"statuspage\"\nurl = \"https://status.okta.com/api/v2/summary.json\"\n",
    )
    .unwrap()
}

fn event(kind: EventKind, old: Option<&str>, new: Option<&str>) -> StatusEvent {
    StatusEvent {
        kind,
        subject: "inc1".into(),
        old: old.map(Into::into),
        new: new.map(Into::into),
        detail: EventDetail {
            name: Some("Login <failures> & delays".into()),
            impact: Some(Indicator::Critical),
            link: Some("https://stspg.io/x".into()),
            components: vec!["API".into()],
            started_at: Some("2026-11-25T10:00:00Z".parse().unwrap()),
        },
    }
}

fn render(events: &[StatusEvent]) -> Vec<NewAction> {
    let templates = Templates::load(std::path::Path::new("/nonexistent")).unwrap();
    let p = partner();
    let now = "2026-11-25T10:23:30Z".parse().unwrap();
    notices(&templates, &p, p.status_page.as_ref().unwrap(), "#ecosystem-updates", events, Indicator::Major, now).unwrap()
}

fn post(action: &NewAction) -> SlackPost {
    match serde_json::from_str::<Action>(&action.payload).unwrap() {
        Action::SlackPost(post) => post,
        other => panic!("not a Slack post: {other:?}"),
    }
}

#[test]
fn each_incident_step_has_its_own_key() {
    let actions = render(&[
        event(EventKind::Indicator, Some("none"), Some("major")),
        event(EventKind::IncidentOpened, None, Some("investigating")),
        event(EventKind::IncidentUpdated, Some("investigating"), Some("identified")),
        event(EventKind::IncidentResolved, Some("identified"), Some("resolved")),
    ]);
    let keys: Vec<&str> = actions.iter().map(|a| a.idempotency_key.as_str()).collect();
    assert_eq!(
        keys,
        vec!["status:okta:incident:inc1:opened", "status:okta:incident:inc1:status:identified", "status:okta:incident:inc1:resolved"]
    );
    assert!(actions.iter().all(|a| a.ordering_key == a.idempotency_key && a.sink == SinkKind::Slack), "each notice its own chain");
}

#[test]
fn a_notice_names_impact_components_and_link_with_feed_text_escaped() {
    let opened = post(&render(&[event(EventKind::IncidentOpened, None, Some("investigating"))])[0]);
    let json = serde_json::to_string(&opened.blocks).unwrap();
    assert!(json.contains("Okta reports an incident"), "{json}");
    assert!(json.contains("<https://stspg.io/x|Login &lt;failures&gt; &amp; delays>"), "{json}");
    assert!(json.contains("*Impact*\\ncritical") && json.contains("*Components*\\nAPI"), "{json}");
    assert!(json.contains("https://status.okta.com"), "the partner's page: {json}");
    assert_eq!(opened.text, "Okta: incident: Login &lt;failures&gt; &amp; delays (critical)");
    assert_eq!(opened.purpose, Purpose::Notice);
}

#[test]
fn a_resolution_says_how_long_it_lasted() {
    let resolved = post(&render(&[event(EventKind::IncidentResolved, Some("identified"), Some("resolved"))])[0]);
    assert!(resolved.text.ends_with("after 23m 30s"), "{}", resolved.text);
    assert!(serde_json::to_string(&resolved.blocks).unwrap().contains("*Lasted*\\n23m 30s"));
}
