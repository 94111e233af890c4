//! Domain types that parse, not validate: a value of one of these types is known to be good.
//!
//! Each implements `Deserialize` through `TryFrom<String>`, so a bad value in a TOML file becomes
//! a config problem that names the file and the key (see [`super::Problem`]).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::model::Timestamp;

/// A cron schedule, always evaluated in UTC.
///
/// Accepts the classic five fields (`min hour dom month dow`) or six with seconds first, the form
/// tokio-cron-scheduler runs; five-field schedules are stored with a leading `0` seconds field.
/// As in tokio-cron-scheduler, day-of-month and day-of-week must both match when both are set.
#[derive(Clone, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Cron {
    six_fields: String,
    parsed: croner::Cron,
}

impl Cron {
    /// The six-field form handed to tokio-cron-scheduler.
    pub fn as_six_fields(&self) -> &str {
        &self.six_fields
    }

    /// The most recent fire time at or before `now` (whole seconds: a tick's identity carries no
    /// sub-second part of the moment it was computed), searched back at most one year.
    pub fn previous(&self, now: Timestamp) -> Option<Timestamp> {
        let found = self.parsed.find_previous_occurrence(&now.whole_seconds().to_datetime(), true).ok()?;
        Some(Timestamp::from_datetime(found).whole_seconds())
    }

    /// The next fire time strictly after `now`, in whole seconds.
    pub fn next(&self, now: Timestamp) -> Option<Timestamp> {
        let found = self.parsed.find_next_occurrence(&now.whole_seconds().to_datetime(), false).ok()?;
        Some(Timestamp::from_datetime(found).whole_seconds())
    }
}

impl fmt::Debug for Cron {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cron({})", self.six_fields)
    }
}

impl TryFrom<String> for Cron {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let fields = s.split_whitespace().count();
        let six_fields = match fields {
            5 => format!("0 {}", s.trim()),
            6 => s.trim().to_owned(),
            n => return Err(format!("`{s}` has {n} fields; a cron schedule has 5 (min hour dom month dow) or 6 (seconds first)")),
        };
        let parsed = croner::parser::CronParser::builder()
            .seconds(croner::parser::Seconds::Required)
            .dom_and_dow(true)
            .build()
            .parse(&six_fields)
            .map_err(|e| format!("`{s}` is not a valid cron schedule: {e}"))?;
        Ok(Self { six_fields, parsed })
    }
}

impl From<Cron> for String {
    fn from(c: Cron) -> String {
        c.six_fields
    }
}

impl FromStr for Cron {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::try_from(s.to_owned())
    }
}

/// A duration written the human way: `"15s"`, `"5m"`, `"1h 30m"`, `"250ms"` (humantime syntax).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Duration(pub std::time::Duration);

impl Duration {
    /// A duration of `secs` seconds.
    pub const fn from_secs(secs: u64) -> Self {
        Self(std::time::Duration::from_secs(secs))
    }

    /// A duration of `ms` milliseconds.
    pub const fn from_millis(ms: u64) -> Self {
        Self(std::time::Duration::from_millis(ms))
    }

    /// The std duration.
    pub const fn get(self) -> std::time::Duration {
        self.0
    }
}

impl TryFrom<String> for Duration {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        humantime::parse_duration(s.trim())
            .map(Self)
            .map_err(|e| format!("`{s}` is not a duration ({e}); write e.g. \"15s\", \"5m\", \"1h\""))
    }
}

impl From<Duration> for String {
    fn from(d: Duration) -> String {
        humantime::format_duration(d.0).to_string()
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
    }
}

/// A size in bytes written the human way: `"5MB"`, `"512 KiB"`, or a plain number of bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "toml::Value", into = "u64")]
pub struct ByteSize(pub u64);

impl TryFrom<toml::Value> for ByteSize {
    type Error = String;
    fn try_from(v: toml::Value) -> Result<Self, String> {
        match v {
            toml::Value::Integer(n) if n > 0 => Ok(Self(n as u64)),
            toml::Value::String(s) => s
                .trim()
                .parse::<bytesize::ByteSize>()
                .map(|b| Self(b.as_u64()))
                .map_err(|e| format!("`{s}` is not a size ({e}); write e.g. \"5MB\"")),
            other => Err(format!("`{other}` is not a size; write e.g. \"5MB\"")),
        }
    }
}

impl From<ByteSize> for u64 {
    fn from(b: ByteSize) -> u64 {
        b.0
    }
}

/// An absolute `http` or `https` URL.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct HttpUrl(url::Url);

impl HttpUrl {
    /// The parsed URL.
    pub fn url(&self) -> &url::Url {
        &self.0
    }

    /// The URL as text.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl TryFrom<String> for HttpUrl {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let url = url::Url::parse(s.trim()).map_err(|e| format!("`{s}` is not a URL: {e}"))?;
        match url.scheme() {
            "http" | "https" if url.host().is_some() => Ok(Self(url)),
            "http" | "https" => Err(format!("`{s}` has no host")),
            other => Err(format!("`{s}`: scheme `{other}` is not http or https")),
        }
    }
}

impl FromStr for HttpUrl {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::try_from(s.to_owned())
    }
}

impl From<HttpUrl> for String {
    fn from(u: HttpUrl) -> String {
        u.0.into()
    }
}

impl fmt::Display for HttpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_str())
    }
}

/// A CSS selector (scraper syntax), parsed when the config is read.
#[derive(Clone, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CssSelector {
    source: String,
    parsed: scraper::Selector,
}

impl CssSelector {
    /// The parsed selector.
    pub fn selector(&self) -> &scraper::Selector {
        &self.parsed
    }
}

impl fmt::Debug for CssSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CssSelector({})", self.source)
    }
}

impl TryFrom<String> for CssSelector {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let parsed = scraper::Selector::parse(&s).map_err(|e| format!("`{s}` is not a CSS selector: {e}"))?;
        Ok(Self { source: s, parsed })
    }
}

impl From<CssSelector> for String {
    fn from(c: CssSelector) -> String {
        c.source
    }
}

/// A regular expression (Rust `regex` syntax; use `(?i)` for case-insensitive).
#[derive(Clone, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Pattern(regex::Regex);

impl Pattern {
    /// The compiled expression.
    pub fn regex(&self) -> &regex::Regex {
        &self.0
    }
}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pattern({})", self.0.as_str())
    }
}

impl TryFrom<String> for Pattern {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        regex::Regex::new(&s).map(Self).map_err(|e| format!("`{s}` is not a regular expression: {e}"))
    }
}

impl From<Pattern> for String {
    fn from(p: Pattern) -> String {
        p.0.as_str().to_owned()
    }
}

/// A secret read from the environment or the config; never printed (`Debug` shows `***`).
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself: only for building a request, never for a log line.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cron_takes_five_or_six_fields() {
        assert_eq!(Cron::from_str("0 */6 * * *").unwrap().as_six_fields(), "0 0 */6 * * *");
        assert_eq!(Cron::from_str("30 0 */6 * * *").unwrap().as_six_fields(), "30 0 */6 * * *");
        assert!(Cron::from_str("every six hours").is_err());
        assert!(Cron::from_str("0 0 25 * * *").is_err());
    }

    #[test]
    fn cron_previous_and_next_bracket_now() {
        let cron = Cron::from_str("0 */6 * * *").unwrap();
        let now = Timestamp::parse_rfc3339("2026-11-25T13:10:00.345Z").unwrap();
        assert_eq!(cron.previous(now).unwrap().to_string(), "2026-11-25T12:00:00.000Z");
        assert_eq!(cron.next(now).unwrap().to_string(), "2026-11-25T18:00:00.000Z");
    }

    #[test]
    fn durations_and_sizes_parse_human_forms() {
        assert_eq!(Duration::try_from("5m".to_owned()).unwrap().get().as_secs(), 300);
        assert!(Duration::try_from("five".to_owned()).is_err());
        assert_eq!(ByteSize::try_from(toml::Value::String("5MiB".into())).unwrap().0, 5 * 1024 * 1024);
        assert_eq!(ByteSize::try_from(toml::Value::Integer(100)).unwrap().0, 100);
    }

    #[test]
    fn urls_must_be_http() {
        assert!(HttpUrl::from_str("https://status.okta.com/api/v2/summary.json").is_ok());
        assert!(HttpUrl::from_str("ftp://example.com/x").is_err());
        assert!(HttpUrl::from_str("not a url").is_err());
    }

    #[test]
    fn secrets_do_not_print() {
        assert_eq!(format!("{:?}", Secret::new("xoxb-123")), "Secret(***)");
    }
}
