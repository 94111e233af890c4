//! Reading one TOML file into a typed value, collecting every problem as `FILE: key: reason`.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

/// Looks up an environment variable; injectable so tests do not touch the process environment.
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// One configuration problem, printed as `FILE: key: reason` by `sparky check-config`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    /// The file, relative to the config directory (or the environment variable's name).
    pub file: PathBuf,
    /// The key path inside the file, e.g. `feeds[0].url`; `-` for the whole file.
    pub key: String,
    /// What is wrong, in words.
    pub reason: String,
}

impl Problem {
    /// A problem at `key` of `file`.
    pub fn new(file: impl Into<PathBuf>, key: impl Into<String>, reason: impl Into<String>) -> Self {
        Self { file: file.into(), key: key.into(), reason: reason.into() }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.file.display(), self.key, self.reason)
    }
}

/// Reads `dir/rel`, interpolates `${VAR}` and deserializes it into `T`.
///
/// Problems are pushed onto `problems`; `None` is returned when the file could not be turned into
/// a `T`. Unknown keys are all reported (each removed and the parse retried), so one run of
/// `check-config` shows every unknown key of a file, not just the first.
pub fn read_toml<T: DeserializeOwned>(dir: &Path, rel: &Path, env: EnvLookup<'_>, problems: &mut Vec<Problem>) -> Option<T> {
    let text = match std::fs::read_to_string(dir.join(rel)) {
        Ok(text) => text,
        Err(e) => {
            problems.push(Problem::new(rel, "-", format!("cannot read file: {e}")));
            return None;
        }
    };
    parse_toml(&text, rel, env, problems)
}

/// Like [`read_toml`] on text already in memory; `rel` names the source in problems.
///
/// The common case (a good file) costs one parse and one deserialization; only a file with
/// problems is deserialized again per round, without the keys reported so far.
pub fn parse_toml<T: DeserializeOwned>(text: &str, rel: &Path, env: EnvLookup<'_>, problems: &mut Vec<Problem>) -> Option<T> {
    let value = parse_raw(text, rel, problems)?;
    parse_parsed(value, rel, env, problems)
}

/// `text` as a TOML value, `${VAR}` not yet interpolated (for a caller that reads the file's
/// shape first); a syntax error is pushed as a problem.
pub(super) fn parse_raw(text: &str, rel: &Path, problems: &mut Vec<Problem>) -> Option<toml::Value> {
    match toml::from_str(text) {
        Ok(v) => Some(v),
        Err(e) => {
            problems.push(Problem::new(rel, syntax_error_key(text, &e), syntax_error_reason(text, &e)));
            None
        }
    }
}

/// [`parse_toml`] of `raw`, the result of [`parse_raw`] (possibly edited by the caller, e.g. a
/// table removed), `${VAR}` not yet interpolated.
pub(super) fn parse_parsed<T: DeserializeOwned>(
    raw: toml::Value,
    rel: &Path,
    env: EnvLookup<'_>,
    problems: &mut Vec<Problem>,
) -> Option<T> {
    // Kept for the rounds after a problem: the deserializer consumes the value.
    let original = raw.clone();
    let mut value = raw;
    interpolate(&mut value, "", rel, env, problems);
    let mut removed: Vec<serde_path_to_error::Path> = Vec::new();
    let mut reported: Vec<String> = Vec::new();
    // Each round either succeeds, or reports one problem and removes its key; bounded by the
    // number of keys, with a hard cap against a pathological file.
    for _ in 0..64 {
        let err = match serde_path_to_error::deserialize::<_, T>(value) {
            Ok(parsed) => return Some(parsed),
            Err(err) => err,
        };
        let path = err.path().to_string();
        let message = clean_message(&err.inner().to_string());
        if let Some(field) = missing_field(&message) {
            // A required key: reported unless its bad value was (and removed) just before.
            let key = join_key(&path, field);
            if !reported.contains(&key) {
                problems.push(Problem::new(rel, key, message.clone()));
            }
            return None;
        }
        let key = display_key(&path);
        let reason = if unknown_field(&message).is_some() { format!("unknown key{}", expected_suffix(&message)) } else { message.clone() };
        problems.push(Problem::new(rel, &key, reason));
        reported.push(key);
        removed.push(err.path().clone());
        // The value went into the failed attempt: the file again (its problems with variables
        // already reported), without every key reported so far, so the rest of it is checked.
        value = original.clone();
        interpolate(&mut value, "", rel, env, &mut Vec::new());
        if !removed.iter().all(|path| remove_path(&mut value, path)) {
            return None;
        }
    }
    None
}

/// The names of the `${VAR}`s in every string of `value`, each once, sorted.
pub(super) fn variables(value: &toml::Value) -> Vec<String> {
    let mut names = Vec::new();
    let mut visit = |text: &str| {
        let seen = std::cell::RefCell::new(Vec::new());
        // Every variable reads as set (empty), so each one is visited.
        let _ = expand(text, &|name| {
            seen.borrow_mut().push(name.to_owned());
            Some(String::new())
        });
        for name in seen.into_inner() {
            if !names.contains(&name) {
                names.push(name);
            }
        }
    };
    walk_strings(value, &mut visit);
    names.sort();
    names
}

fn walk_strings(value: &toml::Value, visit: &mut impl FnMut(&str)) {
    match value {
        toml::Value::String(s) => visit(s),
        toml::Value::Array(items) => items.iter().for_each(|v| walk_strings(v, visit)),
        toml::Value::Table(table) => table.values().for_each(|v| walk_strings(v, visit)),
        _ => {}
    }
}

/// `line L, column C` (both from 1) of the error's start.
fn syntax_error_key(text: &str, e: &toml::de::Error) -> String {
    let Some(span) = e.span() else { return "-".to_owned() };
    let (line, column) = line_column(text, span.start);
    format!("line {line}, column {column}")
}

/// The parser's message and the offending line.
fn syntax_error_reason(text: &str, e: &toml::de::Error) -> String {
    let message = format!("invalid TOML: {}", e.message());
    let Some(span) = e.span() else { return message };
    let (line, _) = line_column(text, span.start);
    match text.lines().nth(line - 1) {
        Some(offending) => format!("{message}: `{}`", offending.trim()),
        None => message,
    }
}

/// The 1-based line and column (in characters) of byte `offset` of `text`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..text.floor_char_boundary(offset.min(text.len()))];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

fn join_key(parent: &str, field: &str) -> String {
    if parent.is_empty() || parent == "." { field.to_owned() } else { format!("{parent}.{field}") }
}

fn display_key(parent: &str) -> String {
    if parent.is_empty() || parent == "." { "-".to_owned() } else { parent.to_owned() }
}

fn unknown_field(message: &str) -> Option<&str> {
    between(message.strip_prefix("unknown field `")?, "`")
}

fn missing_field(message: &str) -> Option<&str> {
    between(message.strip_prefix("missing field `")?, "`")
}

fn between<'a>(rest: &'a str, end: &str) -> Option<&'a str> {
    rest.find(end).map(|i| &rest[..i])
}

fn expected_suffix(message: &str) -> String {
    message.find("expected").map_or_else(String::new, |i| format!(" ({})", &message[i..]))
}

/// The first line of a serde/toml message, without toml's "in `key`" trailer.
fn clean_message(message: &str) -> String {
    message.lines().next().unwrap_or_default().trim().trim_end_matches('.').to_owned()
}

/// Removes the key `path` ends with; false when the path cannot be followed.
fn remove_path(value: &mut toml::Value, path: &serde_path_to_error::Path) -> bool {
    use serde_path_to_error::Segment;
    let segments: Vec<&Segment> = path.iter().collect();
    let Some((Segment::Map { key: field }, parents)) = segments.split_last() else { return false };
    let mut cur = value;
    for seg in parents {
        cur = match (seg, cur) {
            (Segment::Map { key }, toml::Value::Table(t)) => match t.get_mut(key) {
                Some(v) => v,
                None => return false,
            },
            (Segment::Seq { index }, toml::Value::Array(a)) => match a.get_mut(*index) {
                Some(v) => v,
                None => return false,
            },
            _ => return false,
        };
    }
    match cur {
        toml::Value::Table(t) => t.remove(field.as_str()).is_some(),
        _ => false,
    }
}

/// Replaces `${VAR}` in every string with the variable's value (`$$` writes a literal `$`).
fn interpolate(value: &mut toml::Value, key: &str, rel: &Path, env: EnvLookup<'_>, problems: &mut Vec<Problem>) {
    match value {
        toml::Value::String(s) if s.contains('$') => match expand(s, env) {
            Ok(expanded) => *s = expanded,
            Err(var) => {
                problems.push(Problem::new(rel, display_key(key), format!("environment variable {var} is not set")));
                s.clear();
            }
        },
        toml::Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                interpolate(item, &format!("{key}[{i}]"), rel, env, problems);
            }
        }
        toml::Value::Table(table) => {
            for (k, v) in table.iter_mut() {
                interpolate(v, &join_key(key, k), rel, env, problems);
            }
        }
        _ => {}
    }
}

/// Expands `${VAR}`; `Err(VAR)` names the first variable that is not set.
pub fn expand(input: &str, env: EnvLookup<'_>) -> Result<String, String> {
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(body) = after.strip_prefix('{').and_then(|b| b.find('}').map(|end| (&b[..end], &b[end + 1..]))) {
            let (name, tail) = body;
            match env(name) {
                Some(v) => out.push_str(&v),
                None => return Err(name.to_owned()),
            }
            rest = tail;
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Doc {
        name: String,
        #[serde(default)]
        items: Vec<Item>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Item {
        url: crate::config::HttpUrl,
    }

    fn env(name: &str) -> Option<String> {
        (name == "TOKEN").then(|| "s3cret".to_owned())
    }

    fn parse(text: &str) -> (Option<Doc>, Vec<String>) {
        let mut problems = Vec::new();
        let doc = parse_toml::<Doc>(text, Path::new("partners/x.toml"), &env, &mut problems);
        (doc, problems.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn every_unknown_key_is_reported_with_its_path() {
        let (doc, problems) = parse("name = 'a'\ncolour = 1\n[[items]]\nurl = 'https://x.test/'\nkindd = 2\n");
        assert!(doc.is_some());
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].starts_with("partners/x.toml: colour: unknown key"), "{problems:?}");
        assert!(problems[1].starts_with("partners/x.toml: items[0].kindd: unknown key"), "{problems:?}");
    }

    #[test]
    fn a_bad_value_names_its_key() {
        let (_, problems) = parse("name = 'a'\n[[items]]\nurl = 'ftp://x'\n");
        assert_eq!(problems.len(), 1);
        assert!(problems[0].starts_with("partners/x.toml: items[0].url: "), "{problems:?}");
    }

    #[test]
    fn a_missing_key_names_itself() {
        let (_, problems) = parse("[[items]]\nurl = 'https://x.test/'\n");
        assert_eq!(problems, vec!["partners/x.toml: name: missing field `name`".to_owned()]);
    }

    #[test]
    fn variables_are_listed_once_sorted_and_dollars_are_not_variables() {
        let value: toml::Value = toml::from_str("a = '${B}/${A}'\n[t]\nx = ['${A}', 'cost $$5', '$expand=x']\n").unwrap();
        assert_eq!(variables(&value), ["A", "B"]);
    }

    #[test]
    fn variables_expand_and_missing_ones_are_problems() {
        assert_eq!(expand("Bearer ${TOKEN}", &env).unwrap(), "Bearer s3cret");
        assert_eq!(expand("cost $$5 and $x", &env).unwrap(), "cost $5 and $x");
        assert_eq!(expand("${NOPE}", &env).unwrap_err(), "NOPE");
        let (_, problems) = parse("name = '${NOPE}'\n");
        assert_eq!(problems, vec!["partners/x.toml: name: environment variable NOPE is not set".to_owned()]);
    }
}
