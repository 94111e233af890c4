use super::*;

fn silence(ended_at: Option<i64>) -> Silence {
    Silence {
        id: 1,
        target: SilenceTarget::Partner("acme".parse().unwrap()),
        starts_at: Timestamp::from_millis(1_000),
        ends_at: Timestamp::from_millis(5_000),
        reason: "deploy".into(),
        created_by: "alice".into(),
        created_at: Timestamp::from_millis(1_000),
        ended_at: ended_at.map(Timestamp::from_millis),
    }
}

#[test]
fn a_silence_is_in_force_from_its_start_until_its_end_or_until_ended() {
    let s = silence(None);
    let at = Timestamp::from_millis;
    assert_eq!(
        [500, 1_000, 4_999, 5_000].map(|t| (s.in_force(at(t)), s.state(at(t)))),
        [(false, SilenceState::Scheduled), (true, SilenceState::Active), (true, SilenceState::Active), (false, SilenceState::Expired)]
    );
    let ended = silence(Some(2_000));
    assert_eq!((ended.in_force(at(1_999)), ended.in_force(at(2_000)), ended.state(at(3_000))), (true, false, SilenceState::Ended));
    assert_eq!(ended.until(), at(2_000));
    assert_eq!(silence(Some(9_000)).state(at(9_500)), SilenceState::Expired, "ended after it expired: expired");
}

#[test]
fn a_silence_serializes_its_target_as_one_key() {
    let json = serde_json::to_value(silence(None)).unwrap();
    assert_eq!(json["partner"], "acme");
    assert!(json.get("check").is_none() && json.get("target").is_none(), "{json}");
    assert_eq!(json["ends_at"], "1970-01-01T00:00:05.000Z");
}
