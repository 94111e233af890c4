use super::*;
use crate::config::WindowSchedule;

fn at(secs: i64) -> Timestamp {
    Timestamp::from_millis(secs * 1000)
}

fn silence(target: SilenceTarget, by: &str, from: i64, to: i64) -> Silence {
    Silence {
        id: 1,
        target,
        starts_at: at(from),
        ends_at: at(to),
        reason: format!("{by}'s reason"),
        created_by: by.into(),
        created_at: at(from),
        ended_at: None,
    }
}

fn partner(id: &str) -> SilenceTarget {
    SilenceTarget::Partner(id.parse().unwrap())
}

fn check(id: &str) -> SilenceTarget {
    SilenceTarget::Check(id.parse().unwrap())
}

fn ids(list: &[&str]) -> Vec<CheckId> {
    list.iter().map(|c| c.parse().unwrap()).collect()
}

#[test]
fn a_partner_silence_covers_every_check_and_a_check_silence_only_its_own() {
    let acme: PartnerId = "acme".parse().unwrap();
    let silences = [silence(check("acme-api"), "bob", 0, 100), silence(partner("other"), "carol", 0, 100)];
    let hold = covering(&silences, &[], &acme, &ids(&["acme-api"]), at(50)).unwrap();
    assert_eq!(hold.text(), "silenced by bob until 1970-01-01T00:01:40Z: bob's reason");
    assert_eq!(covering(&silences, &[], &acme, &ids(&["acme-api", "acme-login"]), at(50)), None, "acme-login is not covered");
    assert_eq!(covering(&silences, &[], &acme, &ids(&["acme-api"]), at(100)), None, "over at its end");
    assert_eq!(covering(&silences, &[], &acme, &[], at(50)), None);
    let both = [silence(partner("acme"), "alice", 0, 300), silence(check("acme-api"), "bob", 0, 100)];
    let hold = covering(&both, &[], &acme, &ids(&["acme-api", "acme-login"]), at(50)).unwrap();
    assert_eq!((hold.by.as_str(), hold.until), ("alice", at(300)), "the longest cover of each check");
}

#[test]
fn a_window_in_force_holds_like_a_silence_and_is_counted_active() {
    let acme: PartnerId = "acme".parse().unwrap();
    let window = MaintenanceWindow {
        name: "db-upgrade".into(),
        target: partner("acme"),
        reason: "database upgrade".into(),
        schedule: WindowSchedule::Once { start: at(10), end: at(70) },
    };
    let windows = [window];
    assert_eq!(covering(&[], &windows, &acme, &ids(&["acme-api"]), at(5)), None);
    let hold = covering(&[], &windows, &acme, &ids(&["acme-api"]), at(10)).unwrap();
    assert_eq!(hold.text(), "silenced by db-upgrade until 1970-01-01T00:01:10Z: database upgrade");
    let ended = Silence { ended_at: Some(at(20)), ..silence(check("acme-api"), "bob", 0, 100) };
    let silences = [silence(check("acme-api"), "bob", 0, 100), ended];
    assert_eq!([5, 15, 30, 80].map(|t| active(&silences, &windows, at(t))), [2, 3, 2, 1]);
}
