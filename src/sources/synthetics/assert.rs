//! Assertions over a response: status code, latency, JSONPath (RFC 9535), header, body, and the
//! p95 of the check's own latencies over a window. Every assertion is evaluated and reported,
//! not only the first failure.

use std::borrow::Cow;
use std::fmt::{self, Write as _};
use std::time::Duration;

use serde_json::Value;

use crate::config::{Assertion, JsonPathExpr, LatencyThresholds, StatusMatcher, ValueCheck};
use crate::model::{AssertionResult, Outcome};

/// A response as the assertions see it.
#[derive(Debug, Clone, Copy)]
pub struct Observed<'a> {
    /// Status code.
    pub status: u16,
    /// Response headers.
    pub headers: &'a reqwest::header::HeaderMap,
    /// Body (possibly cut at the size cap).
    pub body: &'a [u8],
    /// Time from sending to the end of the body.
    pub latency: Duration,
}

/// Longest observed value (JSON text or header) quoted in a detail, in characters.
const MAX_QUOTED: usize = 120;

/// Evaluates `assertions` (none: `status = "2xx"`) against `observed`. `p95(window)` gives the
/// 95th percentile of the check's latencies over `window`, this one included (`None`: no data).
pub fn evaluate(assertions: &[Assertion], observed: &Observed<'_>, p95: &dyn Fn(Duration) -> Option<Duration>) -> Vec<AssertionResult> {
    if assertions.is_empty() {
        return vec![status(&StatusMatcher::Class(2), observed.status)];
    }
    // Parsed on the first JSONPath assertion, at most once.
    let mut json: Option<Result<Value, serde_json::Error>> = None;
    let mut results = Vec::with_capacity(assertions.len());
    for assertion in assertions {
        let result = match assertion {
            Assertion::Status(matcher) => status(matcher, observed.status),
            Assertion::Latency(t) => thresholds(String::from("latency"), *t, observed.latency, "took "),
            Assertion::JsonPath { path, expect } => {
                let body = json.get_or_insert_with(|| serde_json::from_slice(observed.body));
                json_path(path, expect, body.as_ref())
            }
            Assertion::Header { name, expect } => header(name, expect, observed.headers),
            Assertion::BodyContains(needle) => body_contains(needle, observed.body),
            Assertion::LatencyP95 { window, thresholds: t } => {
                let mut assertion = String::with_capacity(48);
                let _ = write!(assertion, "p95 latency over {window}");
                match p95(window.get()) {
                    Some(p) => thresholds(assertion, *t, p, "p95 "),
                    None => {
                        describe_thresholds(&mut assertion, *t);
                        AssertionResult { assertion, outcome: Outcome::Pass, detail: String::from("no data yet") }
                    }
                }
            }
        };
        results.push(result);
    }
    results
}

fn status(matcher: &StatusMatcher, got: u16) -> AssertionResult {
    AssertionResult { assertion: format!("status is {matcher}"), outcome: pass_if(matcher.matches(got)), detail: format!("got {got}") }
}

/// `latency` / `p95 latency over 1h` + ` under 2s (warn) / 10s (fail)`; detail `took 2.41s`.
fn thresholds(mut assertion: String, t: LatencyThresholds, got: Duration, verb: &str) -> AssertionResult {
    describe_thresholds(&mut assertion, t);
    let over = |limit: Option<crate::config::Duration>| limit.is_some_and(|l| got > l.get());
    let outcome = if over(t.fail_above) {
        Outcome::Fail
    } else if over(t.warn_above) {
        Outcome::Warn
    } else {
        Outcome::Pass
    };
    let mut detail = String::with_capacity(16);
    let _ = write!(detail, "{verb}{}", Compact(got));
    AssertionResult { assertion, outcome, detail }
}

fn describe_thresholds(out: &mut String, t: LatencyThresholds) {
    let _ = match (t.warn_above, t.fail_above) {
        (Some(w), Some(f)) => write!(out, " under {} (warn) / {} (fail)", Compact(w.get()), Compact(f.get())),
        (Some(w), None) => write!(out, " under {} (warn)", Compact(w.get())),
        (None, Some(f)) => write!(out, " under {} (fail)", Compact(f.get())),
        (None, None) => write!(out, " (no thresholds)"),
    };
}

fn json_path(path: &JsonPathExpr, expect: &ValueCheck, body: Result<&Value, &serde_json::Error>) -> AssertionResult {
    let mut assertion = String::with_capacity(48);
    write_path(&mut assertion, path);
    describe_check(&mut assertion, expect);
    let fail = |detail: String| (Outcome::Fail, detail);
    let (outcome, detail) = match body {
        Err(e) => fail(format!("body is not JSON ({e})")),
        Ok(root) => {
            let nodes = path.path().query(root);
            match (expect, nodes.first()) {
                (ValueCheck::Exists(want), None) => (pass_if(!*want), String::from("no node")),
                (ValueCheck::Exists(want), Some(_)) => {
                    (pass_if(*want), format!("found {} node{}", nodes.len(), if nodes.len() == 1 { "" } else { "s" }))
                }
                (_, None) => fail(String::from("no node")),
                (ValueCheck::Equals(want), Some(node)) => (pass_if(json_eq(node, want)), got_node(node)),
                (ValueCheck::Matches(p), Some(node)) => (pass_if(p.regex().is_match(&node_text(node))), got_node(node)),
            }
        }
    };
    AssertionResult { assertion, outcome, detail }
}

/// The JSONPath as written in the config.
fn write_path(out: &mut String, path: &JsonPathExpr) {
    out.push_str(path.as_str());
}

fn header(name: &str, expect: &ValueCheck, headers: &reqwest::header::HeaderMap) -> AssertionResult {
    let mut assertion = String::with_capacity(32 + name.len());
    let _ = write!(assertion, "header {name}");
    describe_check(&mut assertion, expect);
    // `HeaderMap` looks a `&str` name up case-insensitively.
    let mut values = headers.get_all(name).iter().map(|v| String::from_utf8_lossy(v.as_bytes()));
    let Some(first) = values.next() else {
        let outcome = pass_if(matches!(expect, ValueCheck::Exists(false)));
        return AssertionResult { assertion, outcome, detail: String::from("header absent") };
    };
    let (outcome, shown) = match expect {
        ValueCheck::Exists(want) => (pass_if(*want), first),
        ValueCheck::Equals(want) => {
            let want: Cow<'_, str> = match want {
                Value::String(s) => Cow::Borrowed(s),
                other => Cow::Owned(other.to_string()),
            };
            find(first, values, |v| *v == *want)
        }
        ValueCheck::Matches(p) => find(first, values, |v| p.regex().is_match(v)),
    };
    AssertionResult { assertion, outcome, detail: got(&shown) }
}

/// Passes when any value of a repeated header holds; shows the one that held, else the first.
fn find<'v>(first: Cow<'v, str>, mut rest: impl Iterator<Item = Cow<'v, str>>, holds: impl Fn(&str) -> bool) -> (Outcome, Cow<'v, str>) {
    if holds(&first) {
        return (Outcome::Pass, first);
    }
    rest.find(|v| holds(v)).map_or((Outcome::Fail, first), |v| (Outcome::Pass, v))
}

fn body_contains(needle: &str, body: &[u8]) -> AssertionResult {
    let found = String::from_utf8_lossy(body).contains(needle);
    let detail = if found { "body contains it" } else { "body does not contain it" };
    AssertionResult { assertion: format!("body contains {:?}", Quoted(needle)), outcome: pass_if(found), detail: String::from(detail) }
}

/// ` exists`, ` does not exist`, ` equals "ok"`, ` matches ^1\.`.
fn describe_check(out: &mut String, expect: &ValueCheck) {
    let _ = match expect {
        ValueCheck::Exists(true) => write!(out, " exists"),
        ValueCheck::Exists(false) => write!(out, " does not exist"),
        ValueCheck::Equals(v) => write!(out, " equals {v}"),
        ValueCheck::Matches(p) => write!(out, " matches {}", p.regex().as_str()),
    };
}

fn pass_if(ok: bool) -> Outcome {
    if ok { Outcome::Pass } else { Outcome::Fail }
}

/// `got "degraded"`, cut to [`MAX_QUOTED`] characters.
fn got(text: &str) -> String {
    let mut detail = String::with_capacity(text.len().min(MAX_QUOTED) + 8);
    let _ = write!(detail, "got {:?}", Quoted(text));
    detail
}

/// `got "degraded"` for a string node, `got 1.5` / `got {"a":1}` (JSON text) for others.
fn got_node(node: &Value) -> String {
    match node {
        Value::String(s) => got(s),
        other => {
            let text = other.to_string();
            let mut detail = String::with_capacity(text.len().min(MAX_QUOTED) + 8);
            let _ = write!(detail, "got {}", Cut(&text));
            detail
        }
    }
}

/// The text of a node: a string's value, else its JSON text.
fn node_text(node: &Value) -> Cow<'_, str> {
    match node {
        Value::String(s) => Cow::Borrowed(s),
        other => Cow::Owned(other.to_string()),
    }
}

/// JSON equality where numbers compare by value: `1` equals `1.0`.
pub fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let int = |n: &serde_json::Number| n.as_i64().map(i128::from).or_else(|| n.as_u64().map(i128::from));
            match (int(x), int(y)) {
                (Some(i), Some(j)) => i == j,
                _ => x.as_f64().zip(y.as_f64()).is_some_and(|(f, g)| f == g),
            }
        }
        (Value::Array(xs), Value::Array(ys)) => xs.len() == ys.len() && xs.iter().zip(ys).all(|(x, y)| json_eq(x, y)),
        (Value::Object(xs), Value::Object(ys)) => xs.len() == ys.len() && xs.iter().all(|(k, x)| ys.get(k).is_some_and(|y| json_eq(x, y))),
        _ => a == b,
    }
}

/// Debug-quotes text, cut to [`MAX_QUOTED`] characters with `…`.
struct Quoted<'a>(&'a str);

impl fmt::Debug for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.char_indices().nth(MAX_QUOTED) {
            None => write!(f, "{:?}", self.0),
            Some((cut, _)) => write!(f, "{:?}…", &self.0[..cut]),
        }
    }
}

/// Text cut to [`MAX_QUOTED`] characters with `…`.
struct Cut<'a>(&'a str);

impl fmt::Display for Cut<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.char_indices().nth(MAX_QUOTED) {
            None => f.write_str(self.0),
            Some((cut, _)) => write!(f, "{}…", &self.0[..cut]),
        }
    }
}

/// A duration in few characters: `350ms`, `2.41s`, `1m 5s`.
#[derive(Debug, Clone, Copy)]
pub struct Compact(pub Duration);

impl fmt::Display for Compact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.0;
        if d >= Duration::from_secs(60) {
            write!(f, "{}", humantime::format_duration(Duration::from_secs(d.as_secs())))
        } else if d >= Duration::from_secs(1) {
            let centis = (d.as_millis() + 5) / 10;
            let (secs, frac) = (centis / 100, centis % 100);
            match frac {
                0 => write!(f, "{secs}s"),
                f10 if f10 % 10 == 0 => write!(f, "{secs}.{}s", f10 / 10),
                _ => write!(f, "{secs}.{frac:02}s"),
            }
        } else if d >= Duration::from_millis(1) {
            write!(f, "{}ms", d.as_millis())
        } else {
            write!(f, "{}µs", d.as_micros())
        }
    }
}

#[cfg(test)]
mod tests {
    use reqwest::header::{HeaderMap, HeaderValue};
    use serde::Deserialize;

    use super::*;

    #[derive(Deserialize)]
    struct Wrapper {
        #[serde(rename = "assert")]
        a: Vec<Assertion>,
    }

    fn asserts(toml: &str) -> Vec<Assertion> {
        toml::from_str::<Wrapper>(toml).unwrap().a
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    fn run_with(toml: &str, status: u16, body: &str, latency_ms: u64, h: &HeaderMap, p95: Option<Duration>) -> Vec<AssertionResult> {
        let observed = Observed { status, headers: h, body: body.as_bytes(), latency: Duration::from_millis(latency_ms) };
        evaluate(&asserts(toml), &observed, &|_| p95)
    }

    fn one(toml: &str, status: u16, body: &str) -> AssertionResult {
        let r = run_with(toml, status, body, 100, &HeaderMap::new(), None);
        assert_eq!(r.len(), 1);
        r.into_iter().next().unwrap()
    }

    fn check(r: &AssertionResult, outcome: Outcome, assertion: &str, detail: &str) {
        assert_eq!((r.outcome, r.assertion.as_str(), r.detail.as_str()), (outcome, assertion, detail), "{r:?}");
    }

    #[test]
    fn no_assertions_means_2xx() {
        let h = HeaderMap::new();
        let ok = evaluate(&[], &Observed { status: 204, headers: &h, body: b"", latency: Duration::ZERO }, &|_| None);
        check(&ok[0], Outcome::Pass, "status is 2xx", "got 204");
        let bad = evaluate(&[], &Observed { status: 503, headers: &h, body: b"", latency: Duration::ZERO }, &|_| None);
        check(&bad[0], Outcome::Fail, "status is 2xx", "got 503");
        assert_eq!(bad.len(), 1);
    }

    #[test]
    fn status_codes_and_lists() {
        check(&one("[[assert]]\nstatus = 200", 200, ""), Outcome::Pass, "status is 200", "got 200");
        check(&one("[[assert]]\nstatus = [200, 204]", 204, ""), Outcome::Pass, "status is 200 or 204", "got 204");
        check(&one("[[assert]]\nstatus = [200, 204]", 500, ""), Outcome::Fail, "status is 200 or 204", "got 500");
        check(&one("[[assert]]\nstatus = \"4xx\"", 404, ""), Outcome::Pass, "status is 4xx", "got 404");
    }

    #[test]
    fn latency_passes_warns_and_fails() {
        let toml = "[[assert]]\nlatency = { warn_above = \"2s\", fail_above = \"10s\" }";
        let h = HeaderMap::new();
        let words = "latency under 2s (warn) / 10s (fail)";
        check(&run_with(toml, 200, "", 350, &h, None)[0], Outcome::Pass, words, "took 350ms");
        check(&run_with(toml, 200, "", 2410, &h, None)[0], Outcome::Warn, words, "took 2.41s");
        check(&run_with(toml, 200, "", 10_500, &h, None)[0], Outcome::Fail, words, "took 10.5s");
        let only_fail = run_with("[[assert]]\nlatency = { fail_above = \"500ms\" }", 200, "", 600, &h, None);
        check(&only_fail[0], Outcome::Fail, "latency under 500ms (fail)", "took 600ms");
    }

    #[test]
    fn json_path_exists() {
        let toml = "[[assert]]\njson_path = \"$[0].id\"\nexists = true";
        check(&one(toml, 200, r#"[{"id": "00u1"}]"#), Outcome::Pass, "$[0].id exists", "found 1 node");
        check(&one(toml, 200, "[]"), Outcome::Fail, "$[0].id exists", "no node");
        let absent = "[[assert]]\njson_path = \"$.errors[*]\"\nexists = false";
        check(&one(absent, 200, r#"{"errors": []}"#), Outcome::Pass, "$.errors[*] does not exist", "no node");
        check(&one(absent, 200, r#"{"errors": [1, 2]}"#), Outcome::Fail, "$.errors[*] does not exist", "found 2 nodes");
    }

    #[test]
    fn json_path_equals_compares_the_first_node() {
        let toml = "[[assert]]\njson_path = \"$.status\"\nequals = \"ok\"";
        check(&one(toml, 200, r#"{"status": "ok"}"#), Outcome::Pass, "$.status equals \"ok\"", "got \"ok\"");
        check(&one(toml, 200, r#"{"status": "degraded"}"#), Outcome::Fail, "$.status equals \"ok\"", "got \"degraded\"");
        check(&one(toml, 200, r#"{}"#), Outcome::Fail, "$.status equals \"ok\"", "no node");
        let first = "[[assert]]\njson_path = \"$[*].n\"\nequals = 1";
        check(&one(first, 200, r#"[{"n": 1.0}, {"n": 2}]"#), Outcome::Pass, "$[*].n equals 1", "got 1.0");
        check(&one(first, 200, r#"[{"n": 2}, {"n": 1}]"#), Outcome::Fail, "$[*].n equals 1", "got 2");
        let table = "[[assert]]\njson_path = \"$.v\"\nequals = { a = [1, true] }";
        assert_eq!(one(table, 200, r#"{"v": {"a": [1.0, true]}}"#).outcome, Outcome::Pass);
        assert_eq!(one(table, 200, r#"{"v": {"a": [1, true], "b": 2}}"#).outcome, Outcome::Fail);
    }

    #[test]
    fn json_path_matches_text() {
        let toml = "[[assert]]\njson_path = \"$.version\"\nmatches = '^1\\.'";
        check(&one(toml, 200, r#"{"version": "1.4.2"}"#), Outcome::Pass, "$.version matches ^1\\.", "got \"1.4.2\"");
        check(&one(toml, 200, r#"{"version": "2.0"}"#), Outcome::Fail, "$.version matches ^1\\.", "got \"2.0\"");
        // A number matches through its JSON text.
        check(&one(toml, 200, r#"{"version": 1.5}"#), Outcome::Pass, "$.version matches ^1\\.", "got 1.5");
    }

    #[test]
    fn body_that_is_not_json_fails_json_path_only() {
        let toml = "[[assert]]\nstatus = 200\n[[assert]]\njson_path = \"$.a\"\n[[assert]]\njson_path = \"$.b\"\nequals = 1";
        let r = run_with(toml, 200, "<html>oops</html>", 10, &HeaderMap::new(), None);
        assert_eq!(r[0].outcome, Outcome::Pass);
        for j in &r[1..] {
            assert_eq!(j.outcome, Outcome::Fail);
            assert!(j.detail.starts_with("body is not JSON"), "{j:?}");
        }
    }

    #[test]
    fn headers_exist_equal_and_match_case_insensitively() {
        let h = headers(&[("content-type", "application/json"), ("x-foo", "baz"), ("x-foo", "bar")]);
        let run = |toml: &str| run_with(toml, 200, "", 10, &h, None).remove(0);
        check(
            &run("[[assert]]\nheader = \"Content-Type\"\nexists = true"),
            Outcome::Pass,
            "header Content-Type exists",
            "got \"application/json\"",
        );
        check(&run("[[assert]]\nheader = \"x-missing\"\nexists = true"), Outcome::Fail, "header x-missing exists", "header absent");
        check(
            &run("[[assert]]\nheader = \"x-missing\"\nexists = false"),
            Outcome::Pass,
            "header x-missing does not exist",
            "header absent",
        );
        check(&run("[[assert]]\nheader = \"x-foo\"\nexists = false"), Outcome::Fail, "header x-foo does not exist", "got \"baz\"");
        check(&run("[[assert]]\nheader = \"X-Foo\"\nequals = \"bar\""), Outcome::Pass, "header X-Foo equals \"bar\"", "got \"bar\"");
        check(&run("[[assert]]\nheader = \"x-foo\"\nequals = \"BAR\""), Outcome::Fail, "header x-foo equals \"BAR\"", "got \"baz\"");
        check(
            &run("[[assert]]\nheader = \"content-type\"\nmatches = '^application/json'"),
            Outcome::Pass,
            "header content-type matches ^application/json",
            "got \"application/json\"",
        );
        check(
            &run("[[assert]]\nheader = \"content-type\"\nmatches = 'xml'"),
            Outcome::Fail,
            "header content-type matches xml",
            "got \"application/json\"",
        );
        check(&run("[[assert]]\nheader = \"x-missing\"\nequals = \"a\""), Outcome::Fail, "header x-missing equals \"a\"", "header absent");
    }

    #[test]
    fn body_contains_text() {
        let toml = "[[assert]]\nbody_contains = \"ok\"";
        check(&one(toml, 200, "all ok"), Outcome::Pass, "body contains \"ok\"", "body contains it");
        check(&one(toml, 200, "down"), Outcome::Fail, "body contains \"ok\"", "body does not contain it");
        let h = HeaderMap::new();
        let lossy =
            evaluate(&asserts(toml), &Observed { status: 200, headers: &h, body: b"\xff\xfeok", latency: Duration::ZERO }, &|_| None);
        assert_eq!(lossy[0].outcome, Outcome::Pass);
    }

    #[test]
    fn p95_uses_its_window() {
        let toml = "[[assert]]\nlatency_p95 = { window = \"1h\", warn_above = \"2s\", fail_above = \"5s\" }";
        let h = HeaderMap::new();
        let words = "p95 latency over 1h under 2s (warn) / 5s (fail)";
        check(&run_with(toml, 200, "", 10, &h, None)[0], Outcome::Pass, words, "no data yet");
        check(&run_with(toml, 200, "", 10, &h, Some(Duration::from_millis(900)))[0], Outcome::Pass, words, "p95 900ms");
        check(&run_with(toml, 200, "", 10, &h, Some(Duration::from_millis(2900)))[0], Outcome::Warn, words, "p95 2.9s");
        check(&run_with(toml, 200, "", 10, &h, Some(Duration::from_secs(6)))[0], Outcome::Fail, words, "p95 6s");
        let observed = Observed { status: 200, headers: &h, body: b"", latency: Duration::ZERO };
        let seen = std::cell::Cell::new(Duration::ZERO);
        evaluate(&asserts(toml), &observed, &|w| {
            seen.set(w);
            None
        });
        assert_eq!(seen.get(), Duration::from_secs(3600));
    }

    #[test]
    fn every_failure_is_reported() {
        let toml = "[[assert]]\nstatus = \"2xx\"\n[[assert]]\nlatency = { warn_above = \"1s\" }\n[[assert]]\nbody_contains = \"ok\"\n[[assert]]\njson_path = \"$.status\"\nequals = \"ok\"";
        let r = run_with(toml, 503, r#"{"status": "down"}"#, 1500, &HeaderMap::new(), None);
        let outcomes: Vec<_> = r.iter().map(|r| r.outcome).collect();
        assert_eq!(outcomes, [Outcome::Fail, Outcome::Warn, Outcome::Fail, Outcome::Fail]);
        assert_eq!(crate::model::worst(&r), Outcome::Fail);
        assert_eq!(r[3].detail, "got \"down\"");
    }

    #[test]
    fn numbers_compare_by_value() {
        let v = |s: &str| serde_json::from_str::<Value>(s).unwrap();
        assert!(json_eq(&v("1"), &v("1.0")));
        assert!(json_eq(&v("-3"), &v("-3.0")));
        assert!(!json_eq(&v("1"), &v("1.5")));
        assert!(!json_eq(&v("1"), &v("\"1\"")));
        assert!(json_eq(&v("18446744073709551615"), &v("18446744073709551615")));
    }

    #[test]
    fn compact_durations() {
        let c = |ms: u64| Compact(Duration::from_millis(ms)).to_string();
        assert_eq!([c(350), c(1000), c(2410), c(2900), c(59_999), c(65_000)], ["350ms", "1s", "2.41s", "2.9s", "60s", "1m 5s"]);
        assert_eq!(Compact(Duration::from_micros(40)).to_string(), "40µs");
    }

    #[test]
    fn long_values_are_cut() {
        let long = format!(r#"{{"s": "{}"}}"#, "x".repeat(500));
        let r = one("[[assert]]\njson_path = \"$.s\"\nequals = \"y\"", 200, &long);
        assert!(r.detail.ends_with('…') && r.detail.len() < 140, "{}", r.detail);
    }
}
