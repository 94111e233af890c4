use super::*;

#[test]
fn the_list_aligns_its_columns_and_ends_with_the_reason() {
    let at = |t: &str| Timestamp::parse_rfc3339(t).unwrap();
    let silence = |id, target, by: &str, reason: &str| Silence {
        id,
        target,
        starts_at: at("2026-12-02T05:00:00Z"),
        ends_at: at("2026-12-02T07:00:00Z"),
        reason: reason.into(),
        created_by: by.into(),
        created_at: at("2026-12-02T05:00:00Z"),
        ended_at: None,
    };
    let rows = [
        silence(3, SilenceTarget::Partner("acme".parse().unwrap()), "alice", "deploy of v2"),
        silence(12, SilenceTarget::Check("acme-login".parse().unwrap()), "bob", "flaky"),
    ];
    assert_eq!(
        table(&rows, at("2026-12-02T06:00:00Z")),
        [
            "3   partner=acme      active  from 2026-12-02T05:00:00Z  until 2026-12-02T07:00:00Z  by alice  deploy of v2",
            "12  check=acme-login  active  from 2026-12-02T05:00:00Z  until 2026-12-02T07:00:00Z  by bob    flaky",
        ]
    );
}

#[test]
fn durations_and_times_are_read_or_refused() {
    assert_eq!(length("2h"), Ok(std::time::Duration::from_secs(7200)));
    assert!(length("0s").is_err() && length("soon").is_err());
    assert!(time("2026-12-02T07:00:00Z").is_ok() && time("tomorrow").is_err());
}
