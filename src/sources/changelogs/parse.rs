//! A fetched body to changelog entries: feeds with feed-rs (RSS 0.9x/1.0/2.0, Atom, JSON Feed),
//! HTML changelog pages with scraper (see [`super::scrape`]), and the entry identity rule.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::model::ErrorKind;

/// An entry as read from the source, before summarising.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedEntry {
    /// guid/id as the source gives it; empty when it gives none.
    pub id: String,
    /// Title, possibly with markup.
    pub title: String,
    /// Absolute link.
    pub link: Option<String>,
    /// Published, else updated.
    pub published: Option<DateTime<Utc>>,
    /// Body or summary, possibly HTML.
    pub body: String,
    /// Categories the source gives (RSS `<category>`, Atom `term`), for the tag rules.
    pub categories: Vec<String>,
}

impl ParsedEntry {
    /// The entry's stable identity: its guid/id, else its link, else a hash of title + date
    /// (and of the body when there is neither, so untitled undated entries stay apart).
    pub fn identity(&self) -> String {
        if !self.id.trim().is_empty() {
            return self.id.trim().to_owned();
        }
        if let Some(link) = self.link.as_deref().filter(|l| !l.trim().is_empty()) {
            return link.trim().to_owned();
        }
        let mut hasher = Sha256::new();
        hasher.update(self.title.trim().as_bytes());
        hasher.update(b"\n");
        hasher.update(self.published.map(|d| d.to_rfc3339()).unwrap_or_default().as_bytes());
        if self.title.trim().is_empty() && self.published.is_none() {
            hasher.update(b"\n");
            hasher.update(self.body.trim().as_bytes());
        }
        format!("sha256:{}", hex::encode(hasher.finalize()))
    }
}

/// Why a body is not a changelog.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ParseError {
    /// An HTML page arrived where a feed was expected.
    #[error("expected an RSS/Atom/JSON feed, got an HTML page{}", content_type_note(.0))]
    HtmlNotFeed(Option<String>),
    /// The feed is malformed.
    #[error("malformed feed: {0}")]
    Malformed(String),
    /// The page is not text.
    #[error("the page is not UTF-8 text")]
    NotText,
}

fn content_type_note(ct: &Option<String>) -> String {
    ct.as_deref().map(|c| format!(" (Content-Type: {c})")).unwrap_or_default()
}

impl ParseError {
    /// The class: `html_not_feed`, `malformed`, `not_text`.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::HtmlNotFeed(_) => ErrorKind::HtmlNotFeed,
            Self::Malformed(_) => ErrorKind::Malformed,
            Self::NotText => ErrorKind::NotText,
        }
    }
}

/// Parses a feed body; `base` resolves relative links.
pub fn parse_feed(bytes: &[u8], base: &str, content_type: Option<&str>) -> Result<Vec<ParsedEntry>, ParseError> {
    if looks_like_html(bytes) {
        return Err(ParseError::HtmlNotFeed(content_type.map(str::to_owned)));
    }
    let parser = feed_rs::parser::Builder::new()
        .base_uri(Some(base))
        // An empty id tells us the source gave none, so our own identity rule applies.
        .id_generator(|_, _, _| String::new())
        .sanitize_content(false)
        .build();
    let feed = parser.parse(bytes).map_err(|e| ParseError::Malformed(e.to_string()))?;
    Ok(feed.entries.into_iter().map(from_feed_entry).collect())
}

fn from_feed_entry(e: feed_rs::model::Entry) -> ParsedEntry {
    let link =
        e.links.iter().find(|l| l.rel.as_deref().is_none_or(|r| r == "alternate")).or_else(|| e.links.first()).map(|l| l.href.clone());
    let summary = e.summary.map(|t| t.content).filter(|s| !s.trim().is_empty());
    let body = summary.or_else(|| e.content.and_then(|c| c.body)).unwrap_or_default();
    let categories = e.categories.into_iter().map(|c| c.label.unwrap_or(c.term)).collect();
    ParsedEntry {
        id: e.id,
        title: e.title.map(|t| t.content).unwrap_or_default(),
        link,
        published: e.published.or(e.updated),
        body,
        categories,
    }
}

/// True when the body starts like an HTML document: after a BOM, blanks, an XML declaration and
/// comments, a `<!DOCTYPE html` or `<html` (an XHTML page is HTML too).
fn looks_like_html(bytes: &[u8]) -> bool {
    let mut rest = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    loop {
        rest = rest.iter().position(|b| !b.is_ascii_whitespace()).map_or(&[][..], |i| &rest[i..]);
        let skip_to = |end: &[u8]| rest.windows(end.len()).position(|w| w == end).map(|i| i + end.len());
        let next = if rest.starts_with(b"<?") {
            skip_to(b"?>")
        } else if rest.starts_with(b"<!--") {
            skip_to(b"-->")
        } else {
            break;
        };
        match next {
            Some(i) => rest = &rest[i..],
            None => return false,
        }
    }
    let head: Vec<u8> = rest.iter().take(16).map(u8::to_ascii_lowercase).collect();
    head.starts_with(b"<!doctype html") || head.starts_with(b"<html")
}

#[cfg(test)]
mod tests {
    use super::*;

    const RSS: &str = r#"<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
      <item><title>With guid</title><guid>g-1</guid><link>https://x.test/1</link></item>
      <item><title>With link</title><link>/2</link></item>
      <item><title>Bare</title><pubDate>Tue, 10 Jun 2025 04:00:00 GMT</pubDate></item>
    </channel></rss>"#;

    #[test]
    fn identity_is_guid_else_link_else_hash() {
        let entries = parse_feed(RSS.as_bytes(), "https://x.test/feed", None).unwrap();
        assert_eq!(entries[0].identity(), "g-1");
        assert_eq!(entries[1].identity(), "https://x.test/2");
        assert!(entries[2].identity().starts_with("sha256:"));
        let again = parse_feed(RSS.as_bytes(), "https://x.test/feed", None).unwrap();
        assert_eq!(entries[2].identity(), again[2].identity());
    }

    #[test]
    fn html_is_not_a_feed() {
        let err = parse_feed(b"\n<!DOCTYPE html><html><body>Login</body></html>", "https://x.test/", Some("text/html")).unwrap_err();
        assert_eq!(err.to_string(), "expected an RSS/Atom/JSON feed, got an HTML page (Content-Type: text/html)");
    }

    #[test]
    fn an_xhtml_page_with_an_xml_declaration_is_html() {
        let page =
            b"<?xml version=\"1.0\"?>\n<!-- login -->\n<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Strict//EN\"><html><body/></html>";
        assert_eq!(parse_feed(page, "https://x.test/", None).unwrap_err().kind(), ErrorKind::HtmlNotFeed);
        assert!(!looks_like_html(b"<?xml version=\"1.0\"?><rss version=\"2.0\"></rss>"));
    }

    #[test]
    fn untitled_undated_entries_keep_distinct_identities() {
        let entry = |body: &str| ParsedEntry {
            id: String::new(),
            title: String::new(),
            link: None,
            published: None,
            body: body.to_owned(),
            categories: vec![],
        };
        assert_ne!(entry("one").identity(), entry("two").identity());
    }

    #[test]
    fn categories_are_read() {
        let rss = r#"<rss version="2.0"><channel><title>t</title><item><title>x</title><guid>1</guid><category>beta</category></item></channel></rss>"#;
        assert_eq!(parse_feed(rss.as_bytes(), "https://x.test/", None).unwrap()[0].categories, vec!["beta"]);
    }

    #[test]
    fn malformed_xml_is_an_error() {
        let err = parse_feed(b"<rss><channel><item><title>x</ti", "https://x.test/", None).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Malformed);
    }

    #[test]
    fn json_feed_parses() {
        let json = r#"{"version":"https://jsonfeed.org/version/1.1","title":"t","items":[{"id":"1","url":"https://x.test/a","title":"A","content_html":"<p>x</p>","date_published":"2025-01-02T03:04:05Z"}]}"#;
        let entries = parse_feed(json.as_bytes(), "https://x.test/", None).unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].identity(), "1");
        assert_eq!(entries[0].body, "<p>x</p>");
    }
}
