//! Corpus test over the real feeds in `../shared/fixtures/feeds` (read in place, never copied):
//! every file either parses into well-formed entries or fails with a clear error.
//!
//! For a parsed feed: identities are stable across two parses (same values, same order), and every
//! entry summarises into a non-empty key, a title without markup and a summary without markup of
//! at most [`SUMMARY_CHARS`] characters. The whole corpus must yield more than
//! [`MIN_CORPUS_ENTRIES`] entries, so the test cannot pass vacuously.
//!
//! When the folder is absent (a checkout without the shared fixtures) the test says so and passes.

#![allow(unreachable_pub, clippy::unwrap_used)] // test and bench code: a failed unwrap is a failed run

mod common;

use std::path::Path;
use std::sync::LazyLock;

use regex::Regex;
use sparky::sources::changelogs::parse::{ParseError, ParsedEntry, parse_feed};
use sparky::sources::changelogs::summarise;
use sparky::sources::changelogs::summary::TagRules;

/// The summary budget the corpus is checked with.
const SUMMARY_CHARS: usize = 300;
/// Entries the whole corpus must at least exceed.
const MIN_CORPUS_ENTRIES: usize = 100;
/// A file known to be a good feed, and its entry count.
const KNOWN_GOOD: (&str, usize) = ("msgraph_changelog_rss_excerpt.xml", 2);

/// An HTML start, end or self-closing tag.
static TAG: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"</?[a-zA-Z][a-zA-Z0-9]*(\s[^<>]*)?/?>").expect("tag regex"));

/// What one corpus file gave.
enum Outcome {
    /// Parsed into this many entries.
    Parsed(usize),
    /// Failed with this error (kind, message).
    Failed(sparky::model::ErrorKind, String),
}

/// Every regular, non-hidden file of `dir` as (name, bytes), sorted by name (as the anchor reads them).
fn corpus_files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|entry| entry.unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display())))
        .filter(|entry| entry.file_type().is_ok_and(|t| t.is_file()))
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| !name.starts_with('.'))
        .map(|name| {
            let bytes = std::fs::read(dir.join(&name)).unwrap_or_else(|e| panic!("cannot read {name}: {e}"));
            (name, bytes)
        })
        .collect();
    files.sort_by(|a, b| a.0.cmp(&b.0));
    files
}

/// The URL relative links of a corpus file resolve against.
fn base_url(name: &str) -> String {
    format!("https://fixtures.invalid/feeds/{name}")
}

fn identities(entries: &[ParsedEntry]) -> Vec<String> {
    entries.iter().map(ParsedEntry::identity).collect()
}

/// A short, one-line excerpt of `text` for failure messages.
fn excerpt(text: &str) -> String {
    let one_line: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let mut cut: String = one_line.chars().take(160).collect();
    if one_line.chars().count() > 160 {
        cut.push('…');
    }
    cut
}

/// Problems with a parse error: it must say, in words, what went wrong.
fn error_problems(err: &ParseError) -> Vec<String> {
    let message = err.to_string();
    let mut problems = Vec::new();
    if message.trim().is_empty() {
        problems.push(format!("error of kind {} has an empty message", err.kind()));
        return problems;
    }
    let says_what = match err.kind() {
        // "malformed feed: <the XML/JSON parser's reason>": the reason must be there too.
        sparky::model::ErrorKind::Malformed => message.strip_prefix("malformed feed:").is_some_and(|reason| !reason.trim().is_empty()),
        sparky::model::ErrorKind::HtmlNotFeed => message.contains("HTML page"),
        sparky::model::ErrorKind::NotText => message.contains("UTF-8"),
        other => {
            problems.push(format!("unknown error kind {other:?}"));
            true
        }
    };
    if !says_what {
        problems.push(format!("error of kind {} does not say what went wrong: {message:?}", err.kind()));
    }
    problems
}

/// Problems with the summarised form of each entry of `entries`.
fn entry_problems(name: &str, entries: &[ParsedEntry]) -> Vec<String> {
    let rules = TagRules::default();
    let mut problems = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        let record = summarise(entry, &rules, SUMMARY_CHARS);
        let at = format!("{name} entry #{i} (key {:?})", record.key);
        if record.key.trim().is_empty() {
            problems.push(format!("{at}: empty key"));
        }
        if record.key != entry.identity() {
            problems.push(format!("{at}: key differs from the entry's identity {:?}", entry.identity()));
        }
        if let Some(tag) = TAG.find(&record.title) {
            problems.push(format!("{at}: title contains markup {:?}: {:?}", tag.as_str(), excerpt(&record.title)));
        }
        if let Some(tag) = TAG.find(&record.summary) {
            problems.push(format!("{at}: summary contains markup {:?}: {:?}", tag.as_str(), excerpt(&record.summary)));
        }
        let chars = record.summary.chars().count();
        if chars > SUMMARY_CHARS {
            problems.push(format!("{at}: summary has {chars} chars, more than {SUMMARY_CHARS}"));
        }
    }
    problems
}

/// Parses one file twice and checks it; returns what it gave and the problems found.
fn check_file(name: &str, bytes: &[u8]) -> (Outcome, Vec<String>) {
    let base = base_url(name);
    let entries = match parse_feed(bytes, &base, None) {
        Ok(entries) => entries,
        Err(err) => {
            let problems = error_problems(&err).into_iter().map(|p| format!("{name}: {p}")).collect();
            return (Outcome::Failed(err.kind(), err.to_string()), problems);
        }
    };
    let mut problems = Vec::new();
    match parse_feed(bytes, &base, None) {
        Ok(again) if identities(&again) == identities(&entries) => {}
        Ok(again) => problems.push(format!(
            "{name}: identities differ between two parses:\n  first:  {:?}\n  second: {:?}",
            identities(&entries),
            identities(&again)
        )),
        Err(err) => problems.push(format!("{name}: parsed once, then failed on the second parse: {err}")),
    }
    problems.extend(entry_problems(name, &entries));
    (Outcome::Parsed(entries.len()), problems)
}

#[test]
fn every_corpus_feed_parses_cleanly_or_fails_clearly() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let Some(dir) = common::shared_fixtures("feeds") else { return };
    let files = corpus_files(&dir);
    assert!(!files.is_empty(), "no feed files in {}", dir.display());

    let mut problems = Vec::new();
    let (mut total_entries, mut parsed_files, mut known_good) = (0, 0, None);
    for (name, bytes) in &files {
        let (outcome, file_problems) = check_file(name, bytes);
        match &outcome {
            Outcome::Parsed(n) => {
                eprintln!("corpus_feeds: {name}: parsed, {n} entries");
                total_entries += n;
                parsed_files += 1;
            }
            Outcome::Failed(kind, message) => {
                eprintln!("corpus_feeds: {name}: failed ({kind}): {message}")
            }
        }
        if name == KNOWN_GOOD.0 {
            known_good = Some(outcome);
        }
        for problem in &file_problems {
            eprintln!("corpus_feeds:   PROBLEM {problem}");
        }
        problems.extend(file_problems);
    }
    eprintln!("corpus_feeds: {} files, {parsed_files} parsed, {} failed, {total_entries} entries", files.len(), files.len() - parsed_files);

    assert!(problems.is_empty(), "{} problem(s) in the feed corpus:\n{}", problems.len(), problems.join("\n"));
    match known_good {
        Some(Outcome::Parsed(n)) => assert_eq!(n, KNOWN_GOOD.1, "{} should parse into {} entries", KNOWN_GOOD.0, KNOWN_GOOD.1),
        Some(Outcome::Failed(_, message)) => {
            panic!("{} should parse, but failed: {message}", KNOWN_GOOD.0)
        }
        None => panic!("{} is missing from {}", KNOWN_GOOD.0, dir.display()),
    }
    assert!(total_entries > MIN_CORPUS_ENTRIES, "the corpus gave only {total_entries} entries (expected more than {MIN_CORPUS_ENTRIES})");
}
