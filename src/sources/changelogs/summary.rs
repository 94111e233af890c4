//! Entry text: HTML to plain text, a word-boundary cut, and keyword tags.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use ego_tree::NodeRef;
use regex::Regex;
use scraper::{Html, Node};

use crate::config::Pattern;

/// Elements whose boundaries separate words (`<p>a</p><p>b</p>` reads "a b", not "ab").
const BLOCKS: &[&str] = &[
    "address",
    "article",
    "aside",
    "blockquote",
    "br",
    "dd",
    "div",
    "dl",
    "dt",
    "figcaption",
    "figure",
    "footer",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hr",
    "li",
    "main",
    "nav",
    "ol",
    "p",
    "pre",
    "section",
    "table",
    "td",
    "th",
    "tr",
    "ul",
];
/// Elements whose content is never text.
const SKIP: &[&str] = &["script", "style", "noscript", "template", "head", "svg", "math"];

/// Plain text of an HTML fragment: tags removed, entities decoded, whitespace collapsed.
///
/// Text that still looks like markup after decoding (a double-escaped feed) is stripped once
/// more, so a summary never shows tags.
pub fn html_to_text(html: &str) -> String {
    let once = strip(html);
    if looks_like_markup(&once) { strip(&once) } else { once }
}

fn strip(html: &str) -> String {
    if !html.contains(['<', '&']) {
        return collapse(html);
    }
    let fragment = Html::parse_fragment(html);
    let mut out = String::with_capacity(html.len() / 2);
    walk(fragment.tree.root(), &mut out);
    collapse(&out)
}

fn walk(node: NodeRef<'_, Node>, out: &mut String) {
    for child in node.children() {
        match child.value() {
            Node::Text(text) => out.push_str(text),
            Node::Element(el) => {
                let name = el.name();
                if SKIP.contains(&name) {
                    continue;
                }
                let block = BLOCKS.contains(&name);
                if block {
                    out.push(' ');
                }
                walk(child, out);
                if block {
                    out.push(' ');
                }
            }
            _ => walk(child, out),
        }
    }
}

fn looks_like_markup(text: &str) -> bool {
    static TAG: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"</?[a-zA-Z][a-zA-Z0-9]*(\s[^<>]*)?/?>").expect("a constant regex")); // invariant: a valid literal
    text.contains('<') && TAG.is_match(text)
}

/// Collapses every run of whitespace to one space and trims the ends.
pub fn collapse(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// Cuts `text` to at most `max` characters at a word boundary, marking the cut with `…`.
pub fn truncate_words(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let budget = max.saturating_sub(1);
    let cut = text.char_indices().nth(budget).map_or(text.len(), |(i, _)| i);
    let head = &text[..cut];
    let at_boundary = text[cut..].starts_with(char::is_whitespace);
    // Prefer the last space, unless that throws away more than a third of the budget.
    let head = match head.rfind(' ') {
        Some(space) if !at_boundary && space >= cut * 2 / 3 => &head[..space],
        _ => head,
    };
    format!("{}…", head.trim_end_matches(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | ':' | '-' | '.')))
}

/// Keyword rules: tag name -> patterns; an entry gets every tag one of whose patterns matches
/// its title or summary.
#[derive(Debug, Clone)]
pub struct TagRules {
    rules: Vec<(String, Vec<Regex>)>,
}

static BUILT_IN: LazyLock<Vec<(String, Vec<Regex>)>> = LazyLock::new(|| {
    let rule = |tag: &str, patterns: &[&str]| {
        (tag.to_owned(), patterns.iter().map(|p| Regex::new(p).expect("a built-in rule")).collect()) // invariant: constant rules, tested
    };
    vec![
        // "breaking" alone also reads "breaking up a task": only the phrases that announce one.
        rule(
            "breaking",
            &[
                r"(?i)\bbreaking[- ]changes?\b",
                r"(?i)\bbreaking:",
                r"(?i)\[breaking\]",
                r"(?i)\bbackwards?[- ]incompatible\b",
                r"(?i)\bno longer (?:be )?supported\b",
            ],
        ),
        rule(
            "deprecation",
            &[r"(?i)\bdeprecat", r"(?i)\bsunset", r"(?i)\bretir(?:e|ed|ing|ement)\b", r"(?i)\bend[- ]of[- ](?:life|support)\b"],
        ),
        rule("beta", &[r"(?i)\bbeta\b", r"(?i)\bpreview\b", r"(?i)\bearly access\b", r"(?i)\bupcoming\b"]),
        rule("security", &[r"(?i)\bsecurity\b", r"(?i)\bvulnerabilit", r"(?i)\bCVE-\d{4}-\d{4,}\b"]),
    ]
});

impl Default for TagRules {
    fn default() -> Self {
        Self { rules: BUILT_IN.clone() }
    }
}

impl TagRules {
    /// The built-in rules plus a partner's `[tags]` (patterns added to a built-in tag of the same
    /// name, or a new tag).
    pub fn with_partner(extra: &BTreeMap<String, Vec<Pattern>>) -> Self {
        let mut rules = Self::default().rules;
        for (tag, patterns) in extra {
            let regexes = patterns.iter().map(|p| p.regex().clone());
            match rules.iter_mut().find(|(name, _)| name == tag) {
                Some((_, existing)) => existing.extend(regexes),
                None => rules.push((tag.clone(), regexes.collect())),
            }
        }
        Self { rules }
    }

    /// The tags of an entry, in rule order.
    pub fn tags(&self, title: &str, text: &str) -> Vec<String> {
        self.rules
            .iter()
            .filter(|(_, patterns)| patterns.iter().any(|p| p.is_match(title) || p.is_match(text)))
            .map(|(tag, _)| tag.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_becomes_plain_text() {
        assert_eq!(html_to_text("<p>Hello&nbsp;<b>world</b> &amp; more</p><p>Next</p>"), "Hello world & more Next");
        assert_eq!(html_to_text("<script>alert(1)</script>Safe  \n text"), "Safe text");
        assert_eq!(html_to_text("a &lt;b&gt;bold&lt;/b&gt; word"), "a bold word");
        assert_eq!(html_to_text("plain   text"), "plain text");
        assert_eq!(html_to_text("1 &lt; 2 and 3 > 2"), "1 < 2 and 3 > 2");
    }

    #[test]
    fn truncation_cuts_at_a_word() {
        let text = "The quick brown fox jumps over the lazy dog";
        assert_eq!(truncate_words(text, 100), text);
        let cut = truncate_words(text, 20);
        assert_eq!(cut, "The quick brown fox…");
        assert!(cut.chars().count() <= 20);
        let long_word = "a".repeat(50);
        assert_eq!(truncate_words(&long_word, 10).chars().count(), 10);
    }

    #[test]
    fn tags_follow_keyword_rules_and_partner_extensions() {
        let rules = TagRules::default();
        assert_eq!(rules.tags("Breaking change in /users", "We deprecated v1"), vec!["breaking", "deprecation"]);
        assert_eq!(rules.tags("[Breaking] v2 removes /x", ""), vec!["breaking"]);
        assert!(rules.tags("Rendering a film", "By breaking up the simulations").is_empty());
        assert!(rules.tags("A Q&A", "Breaking down an audacious goal").is_empty());
        assert_eq!(rules.tags("Public preview of Copilot APIs", ""), vec!["beta"]);
        assert_eq!(rules.tags("Fix for CVE-2024-12345", ""), vec!["security"]);
        assert!(rules.tags("Improved docs", "nothing new").is_empty());
        let mut extra = BTreeMap::new();
        extra.insert("breaking".to_owned(), vec![Pattern::try_from(r"(?i)\bremoved\b".to_owned()).unwrap()]);
        extra.insert("graph".to_owned(), vec![Pattern::try_from(r"(?i)graph api".to_owned()).unwrap()]);
        let rules = TagRules::with_partner(&extra);
        assert_eq!(rules.tags("Removed the beta endpoint of Graph API", ""), vec!["breaking", "beta", "graph"]);
    }
}
