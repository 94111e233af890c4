//! HTML changelog pages (`kind = "html"`): one element per entry, found with the CSS selectors
//! of the partner file.

use scraper::{ElementRef, Html, Selector};
use std::sync::LazyLock;

use super::parse::{ParseError, ParsedEntry};
use crate::config::FeedConfig;

static ANCHOR: LazyLock<Selector> = LazyLock::new(|| Selector::parse("a[href]").expect("a constant selector")); // invariant: a valid literal

/// Scrapes entries from a page; `base` resolves relative links. Entries without a title are
/// skipped (navigation, ads).
pub fn scrape_page(bytes: &[u8], base: &url::Url, feed: &FeedConfig) -> Result<Vec<ParsedEntry>, ParseError> {
    let (Some(entry_sel), Some(title_sel)) = (&feed.entry, &feed.title) else {
        // check-config guarantees both for kind = "html".
        return Ok(Vec::new());
    };
    let text = std::str::from_utf8(bytes).map_err(|_| ParseError::NotText)?;
    let doc = Html::parse_document(text);
    let entries = doc
        .select(entry_sel.selector())
        .filter_map(|el| {
            let title_el = el.select(title_sel.selector()).next()?;
            let title = title_el.html();
            let link =
                link_of(el, title_el, feed.link.as_ref().map(|s| s.selector())).and_then(|href| base.join(href).ok()).map(String::from);
            let published = feed.date.as_ref().and_then(|s| el.select(s.selector()).next()).and_then(date_of);
            let body = feed.body.as_ref().and_then(|s| el.select(s.selector()).next()).map(|b| b.inner_html()).unwrap_or_default();
            Some(ParsedEntry { id: String::new(), title, link, published, body, categories: Vec::new() })
        })
        .collect();
    Ok(entries)
}

fn link_of<'a>(entry: ElementRef<'a>, title: ElementRef<'a>, selector: Option<&Selector>) -> Option<&'a str> {
    let href = |el: ElementRef<'a>| el.value().attr("href");
    match selector {
        Some(sel) => entry.select(sel).next().and_then(href),
        None => href(title)
            .or_else(|| title.select(&ANCHOR).next().and_then(href))
            .or_else(|| href(entry))
            .or_else(|| entry.select(&ANCHOR).next().and_then(href)),
    }
}

fn date_of(el: ElementRef<'_>) -> Option<chrono::DateTime<chrono::Utc>> {
    let raw = el.value().attr("datetime").map(str::to_owned).unwrap_or_else(|| el.text().collect::<String>());
    dateparser::parse(raw.trim()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(toml_text: &str) -> FeedConfig {
        toml::from_str(toml_text).unwrap()
    }

    const PAGE: &str = r#"<html><body><nav><a href="/">Home</a></nav>
      <article class="release"><h2><a href="/changelog/2">Version 2 (beta)</a></h2><time datetime="2025-03-01T10:00:00Z">March 1</time><div class="content"><p>New <b>stuff</b></p></div></article>
      <article class="release"><h2>Version 1</h2><time>2025-01-15</time><div class="content">First</div></article>
      <article class="release"><p>no title here</p></article>
    </body></html>"#;

    #[test]
    fn entries_follow_the_selectors() {
        let cfg = feed(
            "url = 'https://x.test/changelog'\nkind = 'html'\nentry = 'article.release'\ntitle = 'h2'\ndate = 'time'\nbody = '.content'\n",
        );
        let base = url::Url::parse("https://x.test/changelog").unwrap();
        let entries = scrape_page(PAGE.as_bytes(), &base, &cfg).unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].link.as_deref(), Some("https://x.test/changelog/2"));
        assert_eq!(entries[0].published.unwrap().to_rfc3339(), "2025-03-01T10:00:00+00:00");
        assert!(entries[0].body.contains("<b>stuff</b>"));
        assert_eq!(entries[1].link, None);
        assert_eq!(entries[1].published.unwrap().date_naive().to_string(), "2025-01-15");
        assert!(entries[1].identity().starts_with("sha256:"));
    }
}
