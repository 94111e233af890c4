//! `partners/*.toml`: one file per partner (keys in DESIGN.md).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::load::Problem;
use super::slack::check_channel;
use super::status_page::{NotConfigured, StatusPageConfig};
use super::types::{CssSelector, HttpUrl, Pattern};
use crate::model::PartnerId;

/// One partner file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Partner {
    /// `[a-z0-9-]+`, unique across `partners/`.
    pub id: PartnerId,
    /// Display name, e.g. `Okta`; also the partner's component name on our public status page.
    pub name: String,
    /// The team that owns the integration (compatibility incidents are assigned to it).
    #[serde(default)]
    pub owner_team: Option<String>,
    /// Whom a compatibility failure's Slack notice mentions, e.g. `<!subteam^S0123>` (a user
    /// group); default: `[teams.OWNER_TEAM] slack`.
    #[serde(default)]
    pub owner_slack: Option<String>,
    /// Slack channel of this partner's digests and notices; default: `[slack] channel`.
    #[serde(default)]
    pub slack_channel: Option<String>,
    /// Changelog feeds and pages.
    #[serde(default)]
    pub feeds: Vec<FeedConfig>,
    /// Extra keyword rules: tag name -> patterns, added to the built-in ones
    /// (`breaking`, `deprecation`, `beta`, `security`) for this partner's entries.
    #[serde(default)]
    pub tags: BTreeMap<String, Vec<Pattern>>,
    /// The partner's own status page (`None` too when it is not configured).
    #[serde(default)]
    pub status_page: Option<StatusPageConfig>,
    /// Set by the loader when `[status_page]` is optional and none of its variables is set:
    /// the page is not configured (reported, never polled) and `status_page` is `None`.
    #[serde(skip)]
    pub status_page_not_configured: Option<NotConfigured>,
    /// The file this partner was read from, relative to the config directory (empty for one not
    /// read by the loader).
    #[serde(skip)]
    pub file: PathBuf,
    /// Our public status page component for this partner.
    #[serde(default)]
    pub public_status: Option<PublicStatusConfig>,
    /// Compatibility workflow run on a new beta/preview API version.
    #[serde(default)]
    pub compat: Option<CompatConfig>,
    /// Hosts that sandbox synthetic checks of this partner may write to.
    #[serde(default)]
    pub sandbox_hosts: Vec<String>,
}

/// How a feed is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FeedKind {
    /// RSS 0.9x/1.0/2.0, Atom or JSON Feed, detected from the content.
    #[default]
    Feed,
    /// An HTML changelog page scraped with CSS selectors.
    Html,
}

/// One `[[feeds]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedConfig {
    /// The feed or page URL.
    pub url: HttpUrl,
    /// `feed` (default) or `html`.
    #[serde(default)]
    pub kind: FeedKind,
    /// (html) One element per entry.
    #[serde(default)]
    pub entry: Option<CssSelector>,
    /// (html) The title, inside an entry.
    #[serde(default)]
    pub title: Option<CssSelector>,
    /// (html) The link (its `href`, resolved against the page URL); default: the first `a` in the title.
    #[serde(default)]
    pub link: Option<CssSelector>,
    /// (html) The date (`datetime` attribute, else the text).
    #[serde(default)]
    pub date: Option<CssSelector>,
    /// (html) The body text.
    #[serde(default)]
    pub body: Option<CssSelector>,
    /// Newest entries posted on this feed's first poll; default `[changelogs] backfill`.
    #[serde(default)]
    pub backfill: Option<usize>,
    /// Most unseen entries a later poll posts one by one; beyond, one digest section; default
    /// `[changelogs] max_new`.
    #[serde(default)]
    pub max_new: Option<usize>,
}

/// `[public_status]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicStatusConfig {
    /// Atlassian Statuspage component id; the built-in status page needs none.
    #[serde(default)]
    pub component_id: Option<String>,
}

/// `[compat]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompatConfig {
    /// `owner/name` of the repository holding the workflow.
    pub repository: String,
    /// Workflow file name, e.g. `okta-compat.yml`.
    pub workflow: String,
    /// Git ref the workflow runs on. Default `main`.
    #[serde(default = "default_ref", rename = "ref")]
    pub git_ref: String,
    /// Patterns that mark a changelog entry as a new beta/preview API version (over its title
    /// and text); default: beta, preview, upcoming, release candidate, early access, new API
    /// version (`sources::compat::detect`).
    #[serde(default)]
    pub beta_patterns: Vec<Pattern>,
    /// Extracts the API version from such an entry: a regex with a named group `version`, e.g.
    /// `(?P<version>\d{4}\.\d+\.\d+)`; default: `v2.1`, `2026-10-01`, `2026.41.0` or a `/beta/`
    /// endpoint. An entry whose version cannot be extracted is its own version (its identity).
    #[serde(default)]
    pub version_pattern: Option<Pattern>,
}

fn default_ref() -> String {
    "main".to_owned()
}

impl Partner {
    /// Checks that need more than one key.
    pub fn check(&self, file: &Path, problems: &mut Vec<Problem>) {
        if self.name.trim().is_empty() {
            problems.push(Problem::new(file, "name", "must not be empty"));
        }
        if let Some(channel) = &self.slack_channel
            && let Err(reason) = check_channel(channel)
        {
            problems.push(Problem::new(file, "slack_channel", reason));
        }
        for (i, feed) in self.feeds.iter().enumerate() {
            feed.check(&format!("feeds[{i}]"), file, problems);
        }
        if let Some(status_page) = &self.status_page {
            status_page.check(file, problems);
        }
        if let Some(compat) = &self.compat {
            if compat.repository.split('/').filter(|p| !p.is_empty()).count() != 2 {
                problems.push(Problem::new(file, "compat.repository", format!("`{}` is not owner/name", compat.repository)));
            }
            if let Some(pattern) = &compat.version_pattern
                && !pattern.regex().capture_names().any(|name| name == Some("version"))
            {
                problems.push(Problem::new(
                    file,
                    "compat.version_pattern",
                    format!("`{}` has no named group `version`, e.g. `(?P<version>v\\d+(\\.\\d+)*)`", pattern.regex().as_str()),
                ));
            }
        }
    }

    /// The channel of this partner's messages.
    pub fn channel<'a>(&'a self, default: &'a str) -> &'a str {
        self.slack_channel.as_deref().unwrap_or(default)
    }
}

impl FeedConfig {
    fn check(&self, key: &str, file: &Path, problems: &mut Vec<Problem>) {
        let selectors = [("entry", &self.entry), ("title", &self.title), ("link", &self.link), ("date", &self.date), ("body", &self.body)];
        match self.kind {
            FeedKind::Html => {
                for (name, sel) in &selectors[..2] {
                    if sel.is_none() {
                        problems.push(Problem::new(file, format!("{key}.{name}"), "a feed of kind = \"html\" needs this CSS selector"));
                    }
                }
            }
            FeedKind::Feed => {
                for (name, sel) in &selectors {
                    if sel.is_some() {
                        problems.push(Problem::new(file, format!("{key}.{name}"), "CSS selectors apply only to kind = \"html\""));
                    }
                }
            }
        }
    }
}
