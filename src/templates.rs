//! Message and page templates (minijinja): the defaults from the repository's `templates/` are
//! compiled in; a `templates/` folder in the config directory overrides them file by file.
//!
//! Templates named `*.jsonl.j2` / `*.json.j2` print every `{{ ... }}` as JSON, `*.html.j2` ones
//! HTML-escaped; the filters
//! `mrkdwn` and `tag_badge` and the function `slack_link` write Slack mrkdwn safely.
//!
//! Nothing cosmetic blocks a decision: an override renders in strict mode (an undefined value is
//! an error), and one that fails at run time is logged loudly, counted
//! (`sparky_template_failures_total`) and replaced by the compiled-in default for that message.
//! `sparky check-config` renders every template through the code that uses it, with sample data,
//! on a [`Templates::strict`] copy (no fallback), so such a mistake is found before it matters.

use std::path::Path;

use minijinja::{AutoEscape, Environment, UndefinedBehavior, Value};

use crate::config::Problem;
use crate::metrics::METRICS;

/// The compiled-in defaults: (name, source).
const DEFAULTS: &[(&str, &str)] = &[
    ("slack/digest.jsonl.j2", include_str!("../templates/slack/digest.jsonl.j2")),
    ("slack/digest.txt.j2", include_str!("../templates/slack/digest.txt.j2")),
    ("slack/status_notice.jsonl.j2", include_str!("../templates/slack/status_notice.jsonl.j2")),
    ("slack/status_notice.txt.j2", include_str!("../templates/slack/status_notice.txt.j2")),
    ("slack/check_warn.jsonl.j2", include_str!("../templates/slack/check_warn.jsonl.j2")),
    ("slack/check_warn.txt.j2", include_str!("../templates/slack/check_warn.txt.j2")),
    ("slack/incident.jsonl.j2", include_str!("../templates/slack/incident.jsonl.j2")),
    ("slack/incident.txt.j2", include_str!("../templates/slack/incident.txt.j2")),
    ("slack/compat.jsonl.j2", include_str!("../templates/slack/compat.jsonl.j2")),
    ("slack/compat.txt.j2", include_str!("../templates/slack/compat.txt.j2")),
    ("statuspage/incident.txt.j2", include_str!("../templates/statuspage/incident.txt.j2")),
    ("jira/incident.txt.j2", include_str!("../templates/jira/incident.txt.j2")),
    ("jira/compat.txt.j2", include_str!("../templates/jira/compat.txt.j2")),
    ("status_page.html.j2", include_str!("../templates/status_page.html.j2")),
    ("status_history.atom.xml.j2", include_str!("../templates/status_history.atom.xml.j2")),
    ("dashboard/layout.html.j2", include_str!("../templates/dashboard/layout.html.j2")),
    ("dashboard/overview.html.j2", include_str!("../templates/dashboard/overview.html.j2")),
    ("dashboard/partner.html.j2", include_str!("../templates/dashboard/partner.html.j2")),
    ("dashboard/changelog.html.j2", include_str!("../templates/dashboard/changelog.html.j2")),
    ("dashboard/changelog.atom.xml.j2", include_str!("../templates/dashboard/changelog.atom.xml.j2")),
    ("dashboard/ops.html.j2", include_str!("../templates/dashboard/ops.html.j2")),
    ("dashboard/compat.html.j2", include_str!("../templates/dashboard/compat.html.j2")),
];

/// The names of the compiled-in templates (what a file under `templates/` may override).
pub const NAMES: [&str; DEFAULTS.len()] = {
    let mut names = [""; DEFAULTS.len()];
    let mut i = 0;
    while i < DEFAULTS.len() {
        names[i] = DEFAULTS[i].0;
        i += 1;
    }
    names
};

/// A template could not be rendered.
#[derive(Debug, thiserror::Error)]
#[error("template {name}: {source:#}")]
pub struct TemplateError {
    /// The template name, e.g. `slack/digest.jsonl.j2`.
    pub name: String,
    /// What minijinja said.
    pub source: minijinja::Error,
}

/// A template's rendering or its output failed ([`Templates::render_as`]).
#[derive(Debug, thiserror::Error)]
pub enum RenderAsError<E> {
    /// The template failed to render.
    #[error(transparent)]
    Template(TemplateError),
    /// Its output could not be read.
    #[error("{0}")]
    Output(E),
}

impl TemplateError {
    /// As a configuration problem: `templates/NAME: line N: what minijinja said`.
    pub fn problem(&self) -> Problem {
        problem(&self.name, &self.source)
    }
}

/// The template set of this process.
#[derive(Debug, Clone)]
pub struct Templates {
    /// The compiled-in defaults, as written (the run-time fallback).
    defaults: Environment<'static>,
    /// The defaults with the config directory's overrides, strict about undefined values.
    active: Environment<'static>,
    /// The names the config directory overrides.
    overridden: Vec<&'static str>,
    /// Render as configured, strictly, without falling back (for `check-config`).
    strict: bool,
}

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_auto_escape_callback(|name| {
        if name.ends_with(".jsonl.j2") || name.ends_with(".json.j2") {
            AutoEscape::Json
        } else if name.ends_with(".html.j2") || name.ends_with(".xml.j2") {
            AutoEscape::Html
        } else {
            AutoEscape::None
        }
    });
    env.add_filter("mrkdwn", |s: String| escape_mrkdwn(&s));
    env.add_filter("tag_badge", |s: String| format!("`{}`", s.replace('`', "'")));
    env.add_function("slack_link", |url: Option<String>, text: String| slack_link(url.as_deref(), &text));
    env
}

/// `templates/NAME: line N`, the way a person finds the mistake.
fn problem(name: &str, e: &minijinja::Error) -> Problem {
    let rel = Path::new("templates").join(name);
    Problem::new(&rel, e.line().map_or_else(|| "-".to_owned(), |l| format!("line {l}")), e.to_string())
}

impl Templates {
    /// The defaults, overridden by `dir/templates/NAME` where such a file exists.
    ///
    /// # Errors
    /// A problem per override that cannot be read or does not parse.
    pub fn load(config_dir: &Path) -> Result<Self, Vec<Problem>> {
        let (mut defaults, mut active) = (environment(), environment());
        active.set_undefined_behavior(UndefinedBehavior::Strict);
        let mut problems = Vec::new();
        let mut overridden = Vec::new();
        for (name, default) in DEFAULTS {
            defaults.add_template(name, default).expect("a compiled-in template parses"); // invariant: the defaults are tested to parse (`the_defaults_render_strictly`)
            let rel = Path::new("templates").join(name);
            let source = match std::fs::read_to_string(config_dir.join(&rel)) {
                Ok(text) => {
                    overridden.push(*name);
                    text
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => (*default).to_owned(),
                Err(e) => {
                    problems.push(Problem::new(&rel, "-", format!("cannot read template: {e}")));
                    continue;
                }
            };
            if let Err(e) = active.add_template_owned(*name, source) {
                problems.push(problem(name, &e));
            }
        }
        if problems.is_empty() { Ok(Self { defaults, active, overridden, strict: false }) } else { Err(problems) }
    }

    /// Renders template `name` with `ctx` (any `Serialize` value). An override that fails is
    /// logged, counted and replaced by the compiled-in default.
    ///
    /// # Errors
    /// When the compiled-in default fails too (or `name` is not a template).
    pub fn render<S: serde::Serialize>(&self, name: &str, ctx: &S) -> Result<String, TemplateError> {
        self.render_as(name, ctx, |text| Ok::<_, std::convert::Infallible>(text.to_owned())).map_err(|e| match e {
            RenderAsError::Template(e) => e,
            RenderAsError::Output(never) => match never {},
        })
    }

    /// Renders template `name` with `ctx` and reads the output with `read` (e.g. Block Kit
    /// blocks); an override whose rendering or output fails is logged, counted
    /// (`sparky_template_failures_total`) and replaced by the compiled-in default.
    ///
    /// # Errors
    /// When the compiled-in default fails too, or, on a [`Templates::strict`] copy, when the
    /// configured template does.
    pub fn render_as<S, T, E>(&self, name: &str, ctx: &S, read: impl Fn(&str) -> Result<T, E>) -> Result<T, RenderAsError<E>>
    where
        S: serde::Serialize,
        E: std::fmt::Display,
    {
        let ctx = Value::from(minijinja::value::Serde(ctx));
        let attempt = |env: &Environment<'static>| -> Result<T, RenderAsError<E>> {
            let text = render_in(env, name, &ctx).map_err(RenderAsError::Template)?;
            read(&text).map_err(RenderAsError::Output)
        };
        if self.strict {
            return attempt(&self.active);
        }
        if self.overridden.contains(&name) {
            match attempt(&self.active) {
                Ok(out) => return Ok(out),
                Err(e) => {
                    METRICS.template_failures.with_label_values(&[name]).inc();
                    tracing::error!(template = name, error = %e, "template override failed; using the compiled-in default (run sparky check-config)");
                }
            }
        }
        attempt(&self.defaults)
    }

    /// A copy that renders as configured (override or default) in strict mode and never falls
    /// back: an undefined value or another mistake is an error, with its template and line.
    pub fn strict(&self) -> Self {
        Self { strict: true, ..self.clone() }
    }
}

fn render_in(env: &Environment<'static>, name: &str, ctx: &Value) -> Result<String, TemplateError> {
    let err = |source| TemplateError { name: name.to_owned(), source };
    env.get_template(name).map_err(err)?.render(ctx).map_err(err)
}

/// Escapes text for Slack mrkdwn: `&`, `<`, `>` become entities so partner text cannot mention
/// `@channel`, forge links or break formatting (Slack's "Formatting text for app surfaces").
pub fn escape_mrkdwn(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// A Slack mrkdwn link `<url|text>`, or the escaped text alone when there is no http(s) URL.
pub fn slack_link(url: Option<&str>, text: &str) -> String {
    let label = escape_mrkdwn(text).replace('|', "\u{2223}");
    match url.filter(|u| u.starts_with("http://") || u.starts_with("https://")) {
        Some(url) => format!("<{}|{label}>", url.replace('|', "%7C").replace('>', "%3E").replace('<', "%3C")),
        None => label,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mrkdwn_escapes_control_characters() {
        assert_eq!(escape_mrkdwn("a <b> & <!channel>"), "a &lt;b&gt; &amp; &lt;!channel&gt;");
    }

    #[test]
    fn links_escape_their_label_and_url() {
        assert_eq!(slack_link(Some("https://x.test/a|b"), "A <b> | c"), "<https://x.test/a%7Cb|A &lt;b&gt; \u{2223} c>");
        assert_eq!(slack_link(None, "T&C"), "T&amp;C");
        assert_eq!(slack_link(Some("javascript:alert(1)"), "x"), "x");
    }
}
