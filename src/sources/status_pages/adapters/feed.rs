//! A status history feed (RSS 0.9x/1.0/2.0 or Atom, read with feed-rs): Statuspage's
//! `history.atom`/`history.rss` (https://support.atlassian.com/statuspage/, "incident history
//! feed"), Azure's status RSS (https://azure.status.microsoft/en-us/status/feed/).
//!
//! Each entry is one incident or maintenance: id = the entry id (else its link, else its title),
//! shortlink = its link, started_at (incident) or scheduled_for (maintenance: Statuspage publishes
//! an upcoming maintenance at its start) = published (else updated).
//!
//! Statuspage convention: the content lists the updates newest first, each as
//! `<small>time</small><br><strong>Status</strong> - text`. The newest status word decides
//! (`Update` keeps the previous one; other `<strong>` text such as "THIS IS A SCHEDULED EVENT"
//! is skipped): the entry is open unless it is `resolved`/`completed`/`postmortem`/`mitigated`,
//! also when such a word carries the same time as the newest update (see [`super::latest`]).
//! Words `scheduled`/`in progress`/`verifying`/`completed` make it a maintenance.
//!
//! Entries without any status word (decision, no clock in an adapter):
//! - in a feed where no entry has status words (Azure's feed lists only current issues), every
//!   entry is open, unless one of the partner's `rules` maps its title + text to `none`;
//! - in a feed that uses status words elsewhere, such an entry is open only when a partner rule
//!   maps its title + text to something other than `none`.
//!
//! Such an entry is a maintenance (status `in_progress`) when its title says "maintenance" or a
//! rule maps it to `maintenance`; its status is `active` otherwise. The title only, not the text:
//! incident write-ups often mention a maintenance that caused them.
//!
//! Impact of an incident: a partner rule on title + text, else the built-in words of the title,
//! else of the newest update's text (or the entry text), else `minor`. Indicator:
//! [`PartnerStatus::derived_indicator`]. An empty feed is all operational.

use chrono::{DateTime, Utc};
use scraper::Html;

use super::{
    Latest, StatusParseError, check_not_empty, classify, has_word, latest, looks_like_json, maintenance_status, rule_match, updates,
};
use crate::config::StatusPageConfig;
use crate::model::{ErrorKind, Indicator, Maintenance, PartnerIncident, PartnerStatus};
use crate::sources::changelogs::summary::html_to_text;

/// One feed entry, read.
struct Entry {
    id: String,
    title: String,
    link: Option<String>,
    published: Option<DateTime<Utc>>,
    /// The content as text.
    text: String,
    latest: Option<Latest>,
}

/// Parses a status history feed.
///
/// # Errors
/// `empty`; `html_not_feed` for an HTML page or JSON; `malformed` when feed-rs cannot read it.
pub fn parse(cfg: &StatusPageConfig, body: &[u8], content_type: Option<&str>) -> Result<PartnerStatus, StatusParseError> {
    check_not_empty(body, content_type)?;
    let note = content_type.map(|c| format!(" (Content-Type: {c})")).unwrap_or_default();
    if looks_like_html(body) || looks_like_json(body) {
        let what = if looks_like_json(body) { "JSON" } else { "an HTML page" };
        return Err(StatusParseError::new(ErrorKind::HtmlNotFeed, format!("expected an RSS/Atom feed, got {what}{note}")));
    }
    let parser = feed_rs::parser::Builder::new()
        .base_uri(Some(cfg.url.url().as_str()))
        .id_generator(|_, _, _| String::new())
        .sanitize_content(false)
        .build();
    let feed = parser.parse(body).map_err(|e| StatusParseError::new(ErrorKind::Malformed, format!("malformed feed: {e}{note}")))?;
    let entries: Vec<Entry> = feed.entries.into_iter().map(read_entry).collect();
    let feed_has_words = entries.iter().any(|e| e.latest.is_some());
    let mut page = PartnerStatus {
        indicator: Indicator::Unknown,
        description: None,
        components: Vec::new(),
        incidents: Vec::new(),
        maintenances: Vec::new(),
        error: None,
    };
    for entry in entries {
        push_entry(&mut page, entry, feed_has_words, cfg);
    }
    page.indicator = page.derived_indicator();
    Ok(page)
}

/// True when the body starts like an HTML document (after a BOM, blanks, an XML declaration and
/// comments: `<!DOCTYPE html` or `<html`).
fn looks_like_html(body: &[u8]) -> bool {
    let text = String::from_utf8_lossy(&body[..body.len().min(2048)]).to_lowercase();
    let mut rest = text.trim_start_matches('\u{feff}').trim_start();
    while rest.starts_with("<?") || rest.starts_with("<!--") {
        let end = if rest.starts_with("<?") { "?>" } else { "-->" };
        match rest.find(end) {
            Some(i) => rest = rest[i + end.len()..].trim_start(),
            None => return false,
        }
    }
    rest.starts_with("<!doctype html") || rest.starts_with("<html")
}

fn read_entry(e: feed_rs::model::Entry) -> Entry {
    let link =
        e.links.iter().find(|l| l.rel.as_deref().is_none_or(|r| r == "alternate")).or_else(|| e.links.first()).map(|l| l.href.clone());
    let content = e.content.and_then(|c| c.body).filter(|b| !b.trim().is_empty());
    let html = content.or_else(|| e.summary.map(|s| s.content)).unwrap_or_default();
    let latest = latest(&updates(Html::parse_fragment(&html).root_element()));
    let title = e.title.map(|t| html_to_text(&t.content)).unwrap_or_default();
    let id = Some(e.id.trim().to_owned()).filter(|i| !i.is_empty()).or_else(|| link.clone()).unwrap_or_else(|| title.clone());
    Entry { id, title, link, published: e.published.or(e.updated), text: html_to_text(&html), latest }
}

fn push_entry(page: &mut PartnerStatus, entry: Entry, feed_has_words: bool, cfg: &StatusPageConfig) {
    let all_text = format!("{}\n{}", entry.title, entry.text);
    let ruled = rule_match(&all_text, &cfg.rules);
    let (open, maintenance) = match &entry.latest {
        Some(l) => (l.open, l.maintenance || (!l.incident && has_word(&entry.title, "maintenance"))),
        None => {
            let open = match ruled {
                Some(Indicator::None) => false,
                Some(_) => true,
                None => !feed_has_words,
            };
            (open, ruled == Some(Indicator::Maintenance) || has_word(&entry.title, "maintenance"))
        }
    };
    if !open {
        return;
    }
    if maintenance {
        let status = maintenance_status(entry.latest.as_ref());
        page.maintenances.push(Maintenance {
            id: entry.id,
            name: entry.title,
            status: status.to_owned(),
            scheduled_for: entry.published,
            scheduled_until: None,
            shortlink: entry.link,
            components: Vec::new(),
        });
        return;
    }
    let update_text = entry.latest.as_ref().map_or(entry.text.as_str(), |l| l.text.as_str());
    let impact = ruled
        .or_else(|| classify(&entry.title, &[]))
        .or_else(|| classify(update_text, &[]))
        .filter(|i| *i != Indicator::Maintenance)
        .unwrap_or(Indicator::Minor);
    let status = entry.latest.as_ref().map_or("active", |l| l.word).to_owned();
    page.incidents.push(PartnerIncident {
        id: entry.id,
        name: entry.title,
        impact,
        status,
        started_at: entry.published,
        shortlink: entry.link,
        components: Vec::new(),
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ComponentStatus;

    fn cfg(rules: &str) -> StatusPageConfig {
        toml::from_str(&format!("kind = \"feed\"\nurl = \"https://status.example.test/history.atom\"\n{rules}"))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn read(body: &str, rules: &str) -> PartnerStatus {
        parse(&cfg(rules), body.as_bytes(), Some("application/atom+xml")).unwrap_or_else(|e| panic!("{e}"))
    }

    /// One update, escaped as in Statuspage's `content type="html"`.
    fn update(time: &str, word: &str, text: &str) -> String {
        format!(
            "&lt;p&gt;&lt;small&gt;Jan &lt;var data-var='date'&gt;5&lt;/var&gt;, {time} UTC&lt;/small&gt;&lt;br&gt;&lt;strong&gt;{word}&lt;/strong&gt; - {text}&lt;/p&gt;"
        )
    }

    fn entry(id: u32, title: &str, updates: &[String]) -> String {
        format!(
            r#"<entry><id>tag:status.example.test,2005:Incident/{id}</id><published>2026-01-05T10:00:00Z</published>
               <updated>2026-01-05T11:00:00Z</updated><link rel="alternate" type="text/html" href="https://status.example.test/incidents/{id}"/>
               <title>{title}</title><content type="html">{}</content></entry>"#,
            updates.join("")
        )
    }

    fn atom(entries: &[String]) -> String {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><feed xml:lang="en-US" xmlns="http://www.w3.org/2005/Atom">
               <id>tag:status.example.test,2005:/history</id><title>Example Status - Incident History</title>
               <updated>2026-01-05T11:00:00Z</updated>{}</feed>"#,
            entries.join("\n")
        )
    }

    fn resolved(id: u32) -> String {
        entry(
            id,
            "Old incident",
            &[update("09:30", "Resolved", "This incident has been resolved."), update("09:00", "Investigating", "Looking.")],
        )
    }

    #[test]
    fn an_incident_in_progress_is_open_and_a_resolved_one_is_not() {
        let open = entry(
            2,
            "Incident with Webhooks",
            &[update("10:20", "Identified", "Partial outage of webhook delivery."), update("10:00", "Investigating", "x")],
        );
        let p = read(&atom(&[open, resolved(1)]), "");
        assert_eq!(p.incidents.len(), 1);
        let i = &p.incidents[0];
        assert_eq!(
            (i.id.as_str(), i.status.as_str(), i.impact),
            ("tag:status.example.test,2005:Incident/2", "identified", Indicator::Major)
        );
        assert_eq!(i.shortlink.as_deref(), Some("https://status.example.test/incidents/2"));
        assert_eq!(i.started_at.map(|t| t.to_rfc3339()), Some("2026-01-05T10:00:00+00:00".to_owned()));
        assert_eq!(p.indicator, Indicator::Major);
    }

    #[test]
    fn every_indicator_from_the_entries() {
        assert_eq!(read(&atom(&[resolved(1)]), "").indicator, Indicator::None);
        assert_eq!(read(&atom(&[]), "").indicator, Indicator::None, "an empty feed is all operational");
        for (title, expected) in [
            ("Degraded performance for Actions", Indicator::Minor),
            ("Incident with Actions", Indicator::Minor),
            ("Partial outage for Actions", Indicator::Major),
            ("Major outage of GitHub.com", Indicator::Critical),
        ] {
            let p = read(&atom(&[entry(3, title, &[update("10:00", "Investigating", "We are looking into it.")])]), "");
            assert_eq!(p.indicator, expected, "{title}");
        }
        let m = entry(
            4,
            "Database Scheduled Maintenance",
            &[update("10:00", "In progress", "Under way."), update("09:00", "Scheduled", "Planned.")],
        );
        let p = read(&atom(&[m]), "");
        assert_eq!((p.indicator, p.maintenances.len(), p.incidents.len()), (Indicator::Maintenance, 1, 0));
        assert!(p.maintenances[0].in_progress());
    }

    #[test]
    fn upcoming_and_completed_maintenances() {
        let upcoming = entry(
            5,
            "Codespaces Scheduled Maintenance",
            &[
                "&lt;p&gt;&lt;strong&gt;THIS IS A SCHEDULED EVENT Jan 9&lt;/strong&gt;&lt;/p&gt;".to_owned(),
                update("09:00", "Scheduled", "Planned."),
            ],
        );
        let completed = entry(6, "Old Maintenance", &[update("12:00", "Completed", "Done."), update("10:00", "In progress", "x")]);
        let p = read(&atom(&[upcoming, completed]), "");
        assert_eq!(p.maintenances.len(), 1);
        assert_eq!(p.maintenances[0].status, "scheduled");
        assert_eq!(p.indicator, Indicator::None, "only upcoming: not in progress");
    }

    #[test]
    fn a_resolution_in_the_same_minute_closes_the_entry() {
        let odd = entry(
            7,
            "Incident with Codespaces",
            &[
                update("21:24", "Investigating", "Codespaces is operating normally."),
                update("21:24", "Resolved", "Resolved."),
                update("20:17", "Investigating", "x"),
            ],
        );
        assert!(read(&atom(&[odd]), "").incidents.is_empty());
    }

    /// Azure style: RSS listing only current issues, no status words.
    fn rss(items: &[(&str, &str)]) -> String {
        let items: Vec<String> = items
            .iter()
            .map(|(title, text)| format!("<item><title>{title}</title><link>https://status.example.test/i/{}</link><description>{text}</description><pubDate>Mon, 05 Jan 2026 10:00:00 GMT</pubDate></item>", title.len()))
            .collect();
        format!(
            r#"<?xml version="1.0"?><rss version="2.0"><channel><title>Status</title><link>https://status.example.test</link>{}</channel></rss>"#,
            items.join("")
        )
    }

    #[test]
    fn without_status_words_the_current_issues_feed_is_open_and_rules_decide() {
        let p = read(&rss(&[("Virtual Machines - West Europe", "Customers may see errors."), ("Planned maintenance: Storage", "x")]), "");
        assert_eq!((p.incidents.len(), p.maintenances.len()), (1, 1));
        assert_eq!((p.incidents[0].status.as_str(), p.incidents[0].impact), ("active", Indicator::Minor));
        assert_eq!(p.incidents[0].id, "https://status.example.test/i/30", "no guid: the link");
        let rules =
            "[[rules]]\npattern = \"(?i)mitigated\"\nstatus = \"none\"\n[[rules]]\npattern = \"(?i)unavailable\"\nstatus = \"critical\"\n";
        let p = read(&rss(&[("MITIGATED: Storage", "Fixed."), ("Front Door", "Service unavailable in East US.")]), rules);
        assert_eq!(p.incidents.len(), 1);
        assert_eq!(p.incidents[0].impact, Indicator::Critical);
        let with_words = atom(&[resolved(1), entry(8, "A note", &["&lt;p&gt;Hello&lt;/p&gt;".to_owned()])]);
        assert!(read(&with_words, "").incidents.is_empty(), "status words elsewhere: an entry without any is not open");
    }

    #[test]
    fn a_partial_outage_counts_only_on_a_component_we_depend_on() {
        let open = entry(9, "Partial outage of webhook delivery", &[update("10:00", "Investigating", "x")]);
        let p = read(&atom(&[open]), "");
        assert_eq!(p.effective(&[]), Some(ComponentStatus::PartialOutage), "a feed names no components: the indicator decides");
        assert_eq!(p.effective(&["API".to_owned()]), Some(ComponentStatus::PartialOutage));
    }

    #[test]
    fn garbage_is_an_error_with_a_clear_message() {
        let c = cfg("");
        let err = |body: &[u8]| parse(&c, body, Some("text/html")).err().map(|e| (e.kind.as_str(), e.message)).unwrap_or_default();
        assert_eq!(err(b"").0, "empty");
        let (kind, message) = err(b"<!DOCTYPE html><html><body>Status</body></html>");
        assert_eq!(kind, "html_not_feed");
        assert!(message.contains("expected an RSS/Atom feed, got an HTML page (Content-Type: text/html)"), "{message}");
        assert_eq!(err(br#"{"status":"ok"}"#).0, "html_not_feed");
        let body = atom(&[resolved(1)]);
        assert_eq!(err(&body.as_bytes()[..body.len() / 3]).0, "malformed");
        assert_eq!(err(&[0x1f, 0x8b, 0x08, 0x00, 0xff, 0xfe, 0x81]).0, "malformed");
    }
}
