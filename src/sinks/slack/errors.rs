//! What a Slack Web API error means for delivery: the `ok: false` errors that no retry can fix go
//! to the dead letter at once, with what to do about them; the others are retried.
//!
//! From the Slack Web API reference: the errors of `chat.postMessage`, `chat.update`,
//! `conversations.history` and `conversations.list`, and the common errors every method may
//! answer ("Errors" sections of api.slack.com/methods/*).

use crate::outbox::DeliveryError;

/// How a Slack error is handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Class {
    /// Another attempt may succeed.
    Retry,
    /// No attempt will: fix the setup (the text says how).
    Permanent(&'static str),
}

/// Slack's errors that no retry fixes, and the fix. `{channel}` and `{needed}` are filled in.
const PERMANENT: &[(&[&str], &str)] = &[
    (&["not_in_channel"], "the Sparky app is not a member of {channel}: invite it there (/invite @Sparky)"),
    (
        &["channel_not_found"],
        "no channel {channel} is visible to the Sparky app: check [slack] channel or the partner file's slack_channel, and invite the app to a private channel",
    ),
    (&["is_archived"], "{channel} is archived: unarchive it, or configure another channel"),
    (
        &[
            "restricted_action",
            "restricted_action_read_only_channel",
            "restricted_action_thread_only_channel",
            "restricted_action_non_threadable_channel",
        ],
        "the workspace does not let the Sparky app post to {channel}: ask a Slack admin, or configure another channel",
    ),
    (
        &[
            "not_authed",
            "invalid_auth",
            "account_inactive",
            "token_revoked",
            "token_expired",
            "no_permission",
            "not_allowed_token_type",
            "ekm_access_denied",
            "org_login_required",
            "team_access_not_granted",
            "access_denied",
        ],
        "the Slack token is refused: set SLACK_BOT_TOKEN to the bot token (xoxb-...) of an installed Sparky app",
    ),
    (&["missing_scope"], "the Sparky app lacks the scope {needed}: add it (README, \"Slack app scopes\") and reinstall the app"),
    (
        &[
            "invalid_blocks",
            "invalid_blocks_format",
            "msg_too_long",
            "no_text",
            "too_many_attachments",
            "invalid_metadata_format",
            "invalid_metadata_schema",
            "metadata_too_large",
            "invalid_arguments",
            "invalid_arg_name",
            "invalid_charset",
            "invalid_form_data",
            "invalid_post_type",
            "missing_post_type",
            "invalid_json",
            "json_not_object",
        ],
        "Slack refuses the message as it is: a template override may render what Slack does not accept (run sparky check-config)",
    ),
    (
        &["message_not_found", "cant_update_message", "edit_window_closed"],
        "the message to edit in {channel} is gone or can no longer be edited",
    ),
];

/// The class of Slack error `error`.
pub(super) fn class(error: &str) -> Class {
    PERMANENT.iter().find(|(errors, _)| errors.contains(&error)).map_or(Class::Retry, |(_, fix)| Class::Permanent(fix))
}

/// The delivery error for Slack's `ok: false` answer `error` to `method` about `channel`;
/// `needed` is the answer's `needed` field (the missing scope).
pub(super) fn delivery_error(method: &str, error: &str, channel: &str, needed: Option<&str>) -> DeliveryError {
    match class(error) {
        Class::Permanent(fix) => {
            let fix = fix.replace("{channel}", channel).replace("{needed}", needed.unwrap_or("it names"));
            DeliveryError::permanent(format!("Slack {method} answered `{error}`: {fix}"))
        }
        Class::Retry => DeliveryError::retry(format!("Slack {method} answered ok: false, error `{error}`")),
    }
}

/// The class of an HTTP status without a readable Slack answer: 429 and 5xx are retried, other
/// 4xx (a wrong `SLACK_API_URL`, a method that does not exist) are not.
pub(super) fn http_class(status: u16) -> Class {
    match status {
        429 | 500..=599 | 408 => Class::Retry,
        400..=499 => Class::Permanent("check SLACK_API_URL (the Web API base, e.g. https://slack.com/api)"),
        _ => Class::Retry,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_slack_error_has_its_class() {
        let cases = [
            ("not_in_channel", false),
            ("channel_not_found", false),
            ("is_archived", false),
            ("invalid_auth", false),
            ("account_inactive", false),
            ("token_revoked", false),
            ("missing_scope", false),
            ("invalid_blocks", false),
            ("msg_too_long", false),
            ("ratelimited", true),
            ("internal_error", true),
            ("service_unavailable", true),
            ("fatal_error", true),
            ("request_timeout", true),
            ("something_new", true),
        ];
        for (error, retried) in cases {
            assert_eq!(class(error) == Class::Retry, retried, "{error}");
        }
    }

    #[test]
    fn a_permanent_error_says_what_to_fix() {
        let e = delivery_error("chat.postMessage", "not_in_channel", "#ops", None);
        assert_eq!(
            e,
            DeliveryError::permanent(
                "Slack chat.postMessage answered `not_in_channel`: the Sparky app is not a member of #ops: invite it there (/invite @Sparky)"
            )
        );
        let e = delivery_error("conversations.history", "missing_scope", "#ops", Some("channels:history"));
        assert!(e.to_string().contains("lacks the scope channels:history"), "{e}");
        assert!(matches!(delivery_error("chat.postMessage", "ratelimited", "#ops", None), DeliveryError::Retry { .. }));
        assert_eq!((http_class(503), http_class(429)), (Class::Retry, Class::Retry));
        assert!(matches!(http_class(404), Class::Permanent(_)));
    }
}
