//! Warn notices: a check whose counted results stayed `warn` (degraded, not down) for its
//! `warn_after` gets one Slack message in its partner's channel, and one when a pass clears it.
//! Nobody is paged for a warn. Pure: the check engine decides the spell
//! (`sources::synthetics::state::warn`), triage hands its event here.

use serde::Serialize;

use crate::config::Partner;
use crate::model::{Timestamp, WarnChange, human_duration};
use crate::outbox::Action;
use crate::outbox::slack::{CHECK_WARN, Purpose, RenderError};
use crate::store::outbox::NewAction;
use crate::templates::Templates;

/// One warn event of a check, as stored.
#[derive(Debug, Clone, Copy)]
pub struct Warned<'a> {
    /// The `check_events` row id: the notice's idempotency key, so a replay never posts twice.
    pub event: i64,
    /// Check id.
    pub check: &'a str,
    /// Started (warn for `warn_after`) or cleared.
    pub change: WarnChange,
    /// When the spell began (`started`) or ended (`cleared`).
    pub at: Timestamp,
    /// The latest warn result's message (`started`).
    pub reason: Option<&'a str>,
}

#[derive(Serialize)]
struct View<'a> {
    kind: &'a str,
    partner: PartnerView<'a>,
    check: &'a str,
    reason: Option<&'a str>,
    since: String,
    duration: String,
}

#[derive(Serialize)]
struct PartnerView<'a> {
    id: &'a str,
    name: &'a str,
}

/// The Slack notice of `warned` for `channel`, ready for the outbox (its own ordering key: a
/// notice that keeps failing holds back no other message). `now` dates the spell's duration.
pub fn notice(
    templates: &Templates,
    partner: &Partner,
    channel: &str,
    warned: &Warned<'_>,
    now: Timestamp,
) -> Result<NewAction, RenderError> {
    let kind = match warned.change {
        WarnChange::Started => "check_warn",
        WarnChange::Cleared => "check_warn_cleared",
    };
    let view = View {
        kind,
        partner: PartnerView { id: partner.id.as_str(), name: &partner.name },
        check: warned.check,
        reason: warned.reason,
        since: warned.at.to_datetime().format("%Y-%m-%d %H:%M UTC").to_string(),
        duration: human_duration(now.since(warned.at)),
    };
    let post = CHECK_WARN.post(templates, &view, channel, Purpose::Notice)?;
    let key = format!("warn:{}:{}:{}", warned.check, warned.event, warned.change.as_str());
    Ok(Action::SlackPost(post).queued(key.clone(), key))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn partner() -> Partner {
        toml::from_str("id = \"acme\"\nname = \"Acme <Cloud>\"\n").unwrap()
    }

    #[test]
    fn a_started_notice_says_how_long_and_why_and_a_cleared_one_says_it_passes() {
        let templates = Templates::load(std::path::Path::new("/nonexistent")).unwrap();
        let at = Timestamp::from_millis(1_764_000_000_000);
        let started =
            Warned { event: 7, check: "acme-api", change: WarnChange::Started, at, reason: Some("latency 2.4 s > warn_above 2 s") };
        let action = notice(&templates, &partner(), "#acme", &started, at + std::time::Duration::from_secs(16 * 60)).unwrap();
        let post: serde_json::Value = serde_json::from_str(&action.payload).unwrap();
        assert_eq!(post["channel"], "#acme", "{post}");
        assert_eq!(post["text"], "acme-api (Acme &lt;Cloud&gt;) degraded for 16m: latency 2.4 s &gt; warn_above 2 s");
        assert_eq!(action.idempotency_key, "warn:acme-api:7:started");
        let cleared = Warned { event: 9, change: WarnChange::Cleared, reason: None, ..started };
        let action = notice(&templates, &partner(), "#acme", &cleared, at).unwrap();
        let post: serde_json::Value = serde_json::from_str(&action.payload).unwrap();
        assert_eq!(post["text"], "acme-api (Acme &lt;Cloud&gt;) is no longer degraded", "{post}");
        assert_ne!(action.idempotency_key, "warn:acme-api:7:started");
    }
}
