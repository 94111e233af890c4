//! Adapters: a fetched body to the normalised [`PartnerStatus`], chosen by `[status_page] kind`.
//! Pure functions: no I/O, no clock.
//!
//! - [`statuspage`]: Atlassian Statuspage v2 public API (`summary.json`, `status.json`,
//!   `components.json`, `incidents.json`, `scheduled-maintenances.json`), incident.io's compatible
//!   summary included.
//! - [`feed`]: a status history RSS/Atom feed (Statuspage `history.atom`, Azure's status RSS).
//! - [`html`]: any HTML status page read with the CSS selectors of the config.
//! - [`json`]: any JSON status API read with the JSONPath expressions of `[status_page.json]`.
//!
//! Shared here: [`classify`] (status text to an indicator), the body checks (an empty body, an
//! HTML page where JSON was expected) and the Statuspage update convention (`<strong>Status</strong>`
//! per update, newest first) used by the feed and HTML adapters.

pub mod feed;
pub mod html;
pub mod json;
pub mod statuspage;

use chrono::{DateTime, Utc};
use scraper::{ElementRef, Selector};

use crate::config::{StatusPageConfig, StatusPageKind, StatusRule};
use crate::model::{ErrorKind, Indicator, PartnerStatus};

/// Why a body could not be read as a status page.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct StatusParseError {
    /// The class: `empty`, `html_not_json`, `json_not_html`, `html_not_feed`, `malformed`
    /// (truncated or invalid JSON/XML), `not_status` (valid JSON of another shape),
    /// `unrecognised` (HTML selectors matched nothing, or status text not recognised),
    /// `no_status` (JSON of the right format holding nothing to read: `{}`, `{"error": ...}`,
    /// `[]`), `config`.
    pub kind: ErrorKind,
    /// What is wrong, in words.
    pub message: String,
}

impl StatusParseError {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into() }
    }
}

/// Parses `body` with the adapter `cfg.kind` names. `content_type` only enriches error messages.
///
/// # Errors
/// A [`StatusParseError`] when the body is empty, of the wrong format (HTML where JSON was
/// expected ...), malformed, or does not look like a status page at all. Never panics.
pub fn parse(cfg: &StatusPageConfig, body: &[u8], content_type: Option<&str>) -> Result<PartnerStatus, StatusParseError> {
    match cfg.kind {
        StatusPageKind::Statuspage => statuspage::parse(cfg, body, content_type),
        StatusPageKind::Feed => feed::parse(cfg, body, content_type),
        StatusPageKind::Html => html::parse(cfg, body, content_type),
        StatusPageKind::Json => json::parse(cfg, body, content_type),
    }
}

/// The severity `text` names: the partner's `rules` first (first match wins), then the text as
/// one status word (`none`, `major`, `partial_outage`, `full_outage`, `high` ..., see
/// [`Indicator::read_word`]), then built-in phrases found as whole words, in this order:
/// "all systems operational" -> none; "minor (service) outage" -> minor; "partial (system)
/// outage" -> major; "major (system|service) outage", "full outage" -> critical; "maintenance"
/// -> maintenance; "degraded" -> minor; "outage", "down" -> critical; "operational", "operating
/// normally", "ok" -> none. `None` when nothing matches.
pub fn classify(text: &str, rules: &[StatusRule]) -> Option<Indicator> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    rule_match(text, rules).or_else(|| Indicator::read_word(text)).or_else(|| builtin(text))
}

/// The first partner rule whose pattern matches `text`, if any.
pub fn rule_match(text: &str, rules: &[StatusRule]) -> Option<Indicator> {
    rules.iter().find(|r| r.pattern.regex().is_match(text)).map(|r| r.status.0)
}

/// Built-in phrases, most specific first (see [`classify`]).
const PHRASES: &[(&[&str], Indicator)] = &[
    (&["all", "systems", "operational"], Indicator::None),
    (&["minor", "service", "outage"], Indicator::Minor),
    (&["minor", "outage"], Indicator::Minor),
    (&["partial", "system", "outage"], Indicator::Major),
    (&["partial", "outage"], Indicator::Major),
    (&["major", "system", "outage"], Indicator::Critical),
    (&["major", "service", "outage"], Indicator::Critical),
    (&["major", "outage"], Indicator::Critical),
    (&["full", "outage"], Indicator::Critical),
    (&["maintenance"], Indicator::Maintenance),
    (&["degraded"], Indicator::Minor),
    (&["outage"], Indicator::Critical),
    (&["down"], Indicator::Critical),
    (&["operational"], Indicator::None),
    (&["operating", "normally"], Indicator::None),
    (&["ok"], Indicator::None),
];

/// The first built-in phrase found in `text` as whole words (case-insensitive).
fn builtin(text: &str) -> Option<Indicator> {
    let words = words(text);
    PHRASES.iter().find(|(phrase, _)| words.windows(phrase.len()).any(|w| w == *phrase)).map(|(_, indicator)| *indicator)
}

/// Lower-case words of `text` (letters and digits; anything else separates).
pub(crate) fn words(text: &str) -> Vec<String> {
    text.to_lowercase().split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_owned).collect()
}

/// True when `text` contains `word` as a whole word (case-insensitive).
pub(crate) fn has_word(text: &str, word: &str) -> bool {
    words(text).iter().any(|w| w == word)
}

fn content_type_note(content_type: Option<&str>) -> String {
    content_type.map(|c| format!(" (Content-Type: {c})")).unwrap_or_default()
}

/// The body without a UTF-8 BOM and leading blanks.
fn trim_start(body: &[u8]) -> &[u8] {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    body.iter().position(|b| !b.is_ascii_whitespace()).map_or(&[][..], |i| &body[i..])
}

/// `Err(empty)` for a body with nothing but blanks.
pub(crate) fn check_not_empty(body: &[u8], content_type: Option<&str>) -> Result<(), StatusParseError> {
    if trim_start(body).is_empty() {
        return Err(StatusParseError::new(
            ErrorKind::Empty,
            format!("empty body: the status page returned no content{}", content_type_note(content_type)),
        ));
    }
    Ok(())
}

/// True when the body starts like markup (`<`: an HTML page, or XML).
pub(crate) fn looks_like_markup(body: &[u8]) -> bool {
    trim_start(body).starts_with(b"<")
}

/// True when the body starts like JSON (`{` or `[`).
pub(crate) fn looks_like_json(body: &[u8]) -> bool {
    matches!(trim_start(body).first(), Some(b'{' | b'['))
}

/// The body as a JSON value.
///
/// # Errors
/// `empty`; `html_not_json` when it starts with `<` (an HTML error page, a login wall, XML);
/// `malformed` when it is not JSON (truncated: "truncated JSON").
pub(crate) fn json_value(body: &[u8], content_type: Option<&str>) -> Result<serde_json::Value, StatusParseError> {
    check_not_empty(body, content_type)?;
    if looks_like_markup(body) {
        let what = if trim_start(body).get(..5).is_some_and(|h| h.eq_ignore_ascii_case(b"<?xml")) { "XML" } else { "an HTML page" };
        return Err(StatusParseError::new(ErrorKind::HtmlNotJson, format!("expected JSON, got {what}{}", content_type_note(content_type))));
    }
    serde_json::from_slice(trim_start(body)).map_err(|e| {
        let what = if e.is_eof() { "truncated JSON (the body ends early)" } else { "malformed JSON" };
        StatusParseError::new(ErrorKind::Malformed, format!("{what}: {e}{}", content_type_note(content_type)))
    })
}

/// `no_status`: `what` was not found in `doc`; the message says what the answer holds instead
/// (its keys, and an `error` or `message` text it carries), so an error answered with 200 is
/// seen for what it is.
pub(crate) fn no_status(what: &str, doc: &serde_json::Value) -> StatusParseError {
    use serde_json::Value;
    let holds = match doc {
        Value::Object(map) if map.is_empty() => "an empty object `{}`".to_owned(),
        Value::Object(map) => {
            let keys: Vec<&str> = map.keys().map(String::as_str).take(8).collect();
            let more = if map.len() > keys.len() { ", ..." } else { "" };
            let said = ["error", "message", "error_description"]
                .iter()
                .find_map(|k| map.get(*k).and_then(crate::model::statuspage::scalar_text))
                .map(|text| format!(", saying \"{}\"", text.chars().take(200).collect::<String>()))
                .unwrap_or_default();
            format!("an object with keys {}{more}{said}", keys.join(", "))
        }
        Value::Array(items) if items.is_empty() => "an empty list `[]`".to_owned(),
        Value::Array(items) => format!("a list of {} items", items.len()),
        other => format!("`{}`", other.to_string().chars().take(80).collect::<String>()),
    };
    StatusParseError::new(ErrorKind::NoStatus, format!("nothing to read: {what}; the answer is {holds}"))
}

/// An RFC 3339 time, converted to UTC; `None` when absent or unreadable.
pub(crate) fn parse_time(text: Option<&str>) -> Option<DateTime<Utc>> {
    text.and_then(|t| DateTime::parse_from_rfc3339(t.trim()).ok()).map(|t| t.with_timezone(&Utc))
}

/// `href` resolved against the configured URL (kept as is when it cannot be).
pub(crate) fn absolute(cfg: &StatusPageConfig, href: &str) -> String {
    cfg.url.url().join(href.trim()).map_or_else(|_| href.trim().to_owned(), |u| u.to_string())
}

/// The text of an element, whitespace collapsed.
pub(crate) fn element_text(el: ElementRef<'_>) -> String {
    el.text().flat_map(str::split_whitespace).collect::<Vec<_>>().join(" ")
}

/// Whether an update's status word opens or closes its incident or maintenance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Still going (`investigating`, `scheduled`, `in_progress` ...).
    Open,
    /// Over (`resolved`, `completed`, `postmortem`, `mitigated`).
    Closed,
    /// `Update`: the status did not change.
    Neutral,
}

/// Statuspage update words (normalised) -> (canonical word, phase, is a maintenance word).
const UPDATE_WORDS: &[(&str, &str, Phase, Option<bool>)] = &[
    ("investigating", "investigating", Phase::Open, Some(false)),
    ("identified", "identified", Phase::Open, Some(false)),
    ("monitoring", "monitoring", Phase::Open, Some(false)),
    ("update", "update", Phase::Neutral, None),
    ("updated", "update", Phase::Neutral, None),
    ("resolved", "resolved", Phase::Closed, Some(false)),
    ("postmortem", "postmortem", Phase::Closed, Some(false)),
    ("post_mortem", "postmortem", Phase::Closed, Some(false)),
    ("mitigated", "mitigated", Phase::Closed, Some(false)),
    ("scheduled", "scheduled", Phase::Open, Some(true)),
    ("in_progress", "in_progress", Phase::Open, Some(true)),
    ("verifying", "verifying", Phase::Open, Some(true)),
    ("completed", "completed", Phase::Closed, Some(true)),
];

/// One update of an incident, as a `<strong>` status word.
#[derive(Debug, Clone)]
pub(crate) struct Update {
    /// Canonical word (`investigating`, `update`, `in_progress` ...).
    pub word: &'static str,
    pub phase: Phase,
    /// `Some(true)` for maintenance words, `Some(false)` for incident words, `None` for `update`.
    pub maintenance: Option<bool>,
    /// The update's displayed time (`<small>` next to the word), as text.
    pub stamp: Option<String>,
    /// The update's text (the element holding the word).
    pub text: String,
}

/// The updates under `root`, in document order (newest first by the Statuspage convention):
/// every `<strong>` whose text is a known status word; other `<strong>` are skipped.
pub(crate) fn updates(root: ElementRef<'_>) -> Vec<Update> {
    let (Ok(strong), Ok(small)) = (Selector::parse("strong"), Selector::parse("small")) else {
        return Vec::new();
    };
    root.select(&strong)
        .filter_map(|s| {
            let normalised = element_text(s).to_lowercase().replace([' ', '-'], "_");
            let &(_, word, phase, maintenance) = UPDATE_WORDS.iter().find(|(w, ..)| *w == normalised)?;
            let holder = s.parent().and_then(ElementRef::wrap).unwrap_or(s);
            let stamp = holder.select(&small).next().map(element_text).filter(|t| !t.is_empty());
            Some(Update { word, phase, maintenance, stamp, text: element_text(holder) })
        })
        .collect()
}

/// What the updates of one incident or maintenance say.
#[derive(Debug, Clone)]
pub(crate) struct Latest {
    /// The newest decisive word (`update` when there are only updates).
    pub word: &'static str,
    /// Still open.
    pub open: bool,
    /// It carries maintenance words (`scheduled`, `in_progress`, `verifying`, `completed`).
    pub maintenance: bool,
    /// It carries incident words (`investigating` ... `resolved`).
    pub incident: bool,
    /// The text of the newest decisive update.
    pub text: String,
}

/// Reads updates (newest first): the newest word that is not `update` decides; the item is
/// closed when that word is `resolved`/`completed`/`postmortem`/`mitigated`, or when such a word
/// carries the same displayed time as the newest update (Statuspage orders updates of the same
/// minute arbitrarily: GitHub's history shows "Investigating - ... operating normally" above a
/// "Resolved" of the same minute). `None` without any update word.
pub(crate) fn latest(updates: &[Update]) -> Option<Latest> {
    let newest = updates.first()?;
    let decisive = updates.iter().find(|u| u.phase != Phase::Neutral).unwrap_or(newest);
    let closed_same_minute = newest.stamp.is_some() && updates.iter().any(|u| u.phase == Phase::Closed && u.stamp == newest.stamp);
    Some(Latest {
        word: decisive.word,
        open: decisive.phase != Phase::Closed && !closed_same_minute,
        maintenance: updates.iter().any(|u| u.maintenance == Some(true)),
        incident: updates.iter().any(|u| u.maintenance == Some(false)),
        text: decisive.text.clone(),
    })
}

/// A maintenance's status from its updates: the newest maintenance word (`scheduled`,
/// `in_progress`, `verifying`), else `in_progress` (an entry listed without such a word is
/// taken to be under way).
pub(crate) fn maintenance_status(latest: Option<&Latest>) -> &'static str {
    latest.map(|l| l.word).filter(|w| matches!(*w, "scheduled" | "in_progress" | "verifying")).unwrap_or("in_progress")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(toml_rules: &str) -> Vec<StatusRule> {
        #[derive(serde::Deserialize)]
        struct R {
            rules: Vec<StatusRule>,
        }
        toml::from_str::<R>(toml_rules).map(|r| r.rules).unwrap_or_else(|e| panic!("rules: {e}"))
    }

    #[test]
    fn classify_reads_words_and_phrases() {
        let cases = [
            ("All Systems Operational", Indicator::None),
            ("operational", Indicator::None),
            ("OK", Indicator::None),
            ("Degraded Performance", Indicator::Minor),
            ("Partially Degraded Service", Indicator::Minor),
            ("Minor Service Outage", Indicator::Minor),
            ("Partial Outage", Indicator::Major),
            ("Partial System Outage", Indicator::Major),
            ("Major Outage", Indicator::Critical),
            ("Major System Outage", Indicator::Critical),
            ("full_outage", Indicator::Critical),
            ("Outage", Indicator::Critical),
            ("API is down", Indicator::Critical),
            ("Service Under Maintenance", Indicator::Maintenance),
            ("maintenance", Indicator::Maintenance),
            ("high", Indicator::Critical),
        ];
        for (text, expected) in cases {
            assert_eq!(classify(text, &[]), Some(expected), "{text}");
        }
        assert_eq!(classify("banana", &[]), None);
        assert_eq!(classify("  ", &[]), None);
        assert_eq!(classify("Slowdown in the bookshop", &[]), None, "whole words only: no `down`, no `ok`");
    }

    #[test]
    fn partner_rules_come_first() {
        let r =
            rules("[[rules]]\npattern = \"(?i)^notice$\"\nstatus = \"none\"\n[[rules]]\npattern = \"(?i)outage\"\nstatus = \"major\"\n");
        assert_eq!(classify("Notice", &r), Some(Indicator::None));
        assert_eq!(classify("Major Outage", &r), Some(Indicator::Major), "the rule wins over the built-in critical");
        assert_eq!(classify("degraded", &r), Some(Indicator::Minor), "then the built-in words");
    }

    #[test]
    fn body_checks_name_the_problem() {
        let err = |body: &[u8]| json_value(body, Some("text/html")).err().map(|e| (e.kind.as_str(), e.message)).unwrap_or_default();
        assert_eq!(err(b"").0, "empty");
        assert_eq!(err(b" \n\t").0, "empty");
        let (kind, message) = err(b"<!DOCTYPE html><html><body>Login</body></html>");
        assert_eq!(kind, "html_not_json");
        assert!(message.contains("expected JSON, got an HTML page") && message.contains("text/html"), "{message}");
        let (kind, message) = err(br#"{"status": {"indicator": "no"#);
        assert_eq!(kind, "malformed");
        assert!(message.contains("truncated JSON"), "{message}");
        assert_eq!(err(&[0xff, 0x00, 0x13, 0x37, 0xc3]).0, "malformed");
        assert!(json_value(b"\xEF\xBB\xBF {\"a\": 1}", None).is_ok(), "a BOM and blanks are fine");
    }

    #[test]
    fn the_newest_decisive_update_decides_and_a_same_minute_resolution_closes() {
        let html = "<div><p><small>May 28, 21:24</small><br><strong>Investigating</strong> - fine now.</p>\
                    <p><small>May 28, 21:24</small><br><strong>Resolved</strong> - resolved.</p>\
                    <p><small>May 28, 20:17</small><br><strong>Investigating</strong> - looking.</p></div>";
        let doc = scraper::Html::parse_fragment(html);
        let l = latest(&updates(doc.root_element())).unwrap_or_else(|| panic!("updates"));
        assert_eq!(l.word, "investigating");
        assert!(!l.open, "resolved in the same minute as the newest update");
        let html =
            "<p><small>Jan 2</small><strong>Update</strong> - still on it.</p><p><small>Jan 1</small><strong>Identified</strong> - x</p>";
        let doc = scraper::Html::parse_fragment(html);
        let l = latest(&updates(doc.root_element())).unwrap_or_else(|| panic!("updates"));
        assert_eq!((l.word, l.open, l.maintenance), ("identified", true, false));
        let doc = scraper::Html::parse_fragment("<p><strong>THIS IS A SCHEDULED EVENT</strong></p><p><strong>In progress</strong></p>");
        let l = latest(&updates(doc.root_element())).unwrap_or_else(|| panic!("updates"));
        assert_eq!((l.word, l.open, l.maintenance), ("in_progress", true, true));
        assert!(latest(&updates(scraper::Html::parse_fragment("<p>no words</p>").root_element())).is_none());
    }
}
