//! What a configured request carries and follows: header values, plain or secret
//! ([`HeaderText`]), and the redirect rule of a synthetic check ([`FollowRedirects`]).

use std::fmt;

use serde::Deserialize;

use super::load::{EnvLookup, variables};
use super::types::Secret;

/// Which redirects the GET and HEAD requests of a synthetic check follow (`follow_redirects`).
/// Any other method follows none, whatever this says: a write (or a read-only POST's body) is
/// never replayed to the address a redirect names.
///
/// Written `"same_host"` (the default), `"any"` or `"none"`; `true` reads as `"same_host"` and
/// `false` as `"none"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FollowRedirects {
    /// None: a 3xx is the answer, for the assertions to judge.
    None,
    /// Redirects to the same host (name and port; `http` to `https` on the same name counts),
    /// with the request's credentials; a redirect to another host is an error.
    #[default]
    SameHost,
    /// Redirects to any host; the credentials (`Authorization`, the `[auth]` API key header,
    /// cookies and every header whose value holds a `${VAR}`) are sent to the configured host
    /// only, never to another.
    Any,
}

impl FollowRedirects {
    /// The word, as written in a check file.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::SameHost => "same_host",
            Self::Any => "any",
        }
    }
}

impl fmt::Display for FollowRedirects {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for FollowRedirects {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Words;
        impl serde::de::Visitor<'_> for Words {
            type Value = FollowRedirects;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("\"same_host\", \"any\", \"none\", true or false")
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Self::Value, E> {
                Ok(if v { FollowRedirects::SameHost } else { FollowRedirects::None })
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                match v {
                    "same_host" => Ok(FollowRedirects::SameHost),
                    "any" => Ok(FollowRedirects::Any),
                    "none" => Ok(FollowRedirects::None),
                    other => Err(E::custom(format!("`{other}` is not one of \"same_host\", \"any\", \"none\" (or true / false)"))),
                }
            }
        }
        d.deserialize_any(Words)
    }
}

/// A request header's value as configured. A value that holds a `${VAR}` is a secret: the
/// variables' values are redacted from every output (`Debug` shows `***`; check results replace
/// them with `***`), and the header is never sent to a host other than the configured one.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(from = "String")]
pub struct HeaderText {
    text: String,
    /// The values of the environment variables the text holds (empty: a plain value).
    secrets: Vec<Secret>,
}

impl HeaderText {
    /// A plain value, written in the file.
    pub fn plain(text: impl Into<String>) -> Self {
        Self { text: text.into(), secrets: Vec::new() }
    }

    /// The value to send: only for building a request, never for a log line.
    pub fn expose(&self) -> &str {
        &self.text
    }

    /// Whether the value came (in part) from the environment.
    pub fn is_secret(&self) -> bool {
        !self.secrets.is_empty()
    }

    /// The values of the environment variables it holds, to redact.
    pub fn secrets(&self) -> impl Iterator<Item = &str> {
        self.secrets.iter().map(Secret::expose)
    }

    /// Marks the value secret when `raw`, its text before `${VAR}` interpolation, names a
    /// variable of the environment (not one of `captures`, a sandbox step's own placeholders).
    pub(super) fn mark(&mut self, raw: &str, captures: &[String], env: EnvLookup<'_>) {
        let names = variables(&toml::Value::String(raw.to_owned()));
        self.secrets = names
            .iter()
            .filter(|name| !captures.contains(name))
            .filter_map(|name| env(name))
            .filter(|value| !value.is_empty())
            .map(Secret::new)
            .collect();
        // A variable set to nothing still makes the value a secret's place.
        if self.secrets.is_empty() && names.iter().any(|n| !captures.contains(n)) {
            self.secrets.push(Secret::new(String::new()));
        }
    }
}

impl From<String> for HeaderText {
    fn from(text: String) -> Self {
        Self::plain(text)
    }
}

impl fmt::Debug for HeaderText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_secret() { f.write_str("\"***\"") } else { write!(f, "{:?}", self.text) }
    }
}

/// Replaces every occurrence of each non-empty `secret` in `text` with `***`.
pub fn redact(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_owned();
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        if out.contains(secret) {
            out = out.replace(secret, "***");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Doc {
        follow: FollowRedirects,
    }

    fn follow(text: &str) -> Result<FollowRedirects, String> {
        toml::from_str::<Doc>(&format!("follow = {text}")).map(|d| d.follow).map_err(|e| e.message().to_owned())
    }

    #[test]
    fn follow_redirects_reads_words_and_booleans() {
        assert_eq!(follow("\"any\""), Ok(FollowRedirects::Any));
        assert_eq!(follow("\"same_host\""), Ok(FollowRedirects::SameHost));
        assert_eq!(follow("\"none\""), Ok(FollowRedirects::None));
        assert_eq!(follow("true"), Ok(FollowRedirects::SameHost));
        assert_eq!(follow("false"), Ok(FollowRedirects::None));
        assert!(follow("\"sometimes\"").unwrap_err().contains("is not one of"), "{:?}", follow("\"sometimes\""));
        assert_eq!(FollowRedirects::default(), FollowRedirects::SameHost);
    }

    #[test]
    fn a_header_from_the_environment_is_a_secret_and_never_printed() {
        let env = |name: &str| (name == "TOKEN").then(|| "t0ken-value".to_owned());
        let mut header = HeaderText::plain("Bearer t0ken-value");
        header.mark("Bearer ${TOKEN}", &[], &env);
        assert!(header.is_secret());
        assert_eq!(header.expose(), "Bearer t0ken-value");
        assert_eq!(format!("{header:?}"), "\"***\"");
        assert_eq!(redact("echo: Bearer t0ken-value", &header.secrets().collect::<Vec<_>>()), "echo: Bearer ***");

        let mut captured = HeaderText::plain("${sys_id}");
        captured.mark("${sys_id}", &["sys_id".to_owned()], &env);
        assert!(!captured.is_secret(), "a captured value is the check's own placeholder");
        let plain = HeaderText::plain("application/json");
        assert_eq!(format!("{plain:?}"), "\"application/json\"");
        assert_eq!(redact("a b", &["", "b"]), "a ***");
    }
}
