//! Sinks: where actions go. One directory per external service, each implementing the outbox's
//! [`Sink`] trait; a service without credentials is replaced by the [`log`] sink (our status
//! page by the [`statuspage::BuiltinStatusPage`]). [`from_config`] picks them; only the service
//! assembly calls it.

pub mod github;
pub mod http;
pub mod jira;
pub mod log;
pub mod pagerduty;
pub mod slack;
pub mod statuspage;

use std::sync::Arc;

use crate::config::Config;
use crate::model::SinkKind;
use crate::outbox::sink::Mode;
use crate::outbox::{DeliveryError, Sink, Sinks};
use crate::store::Store;

use self::github::GitHubSink;
use self::jira::JiraSink;
use self::log::LogSink;
use self::pagerduty::PagerDutySink;
use self::slack::SlackSink;
use self::statuspage::{BuiltinStatusPage, StatuspageSink};

/// The sinks the configuration has credentials for; the log sink (or the built-in status page)
/// for the others.
///
/// # Errors
/// A sink's client cannot be built (TLS), or its configuration cannot be used.
pub fn from_config(config: &Config, store: &Store) -> Result<Sinks, DeliveryError> {
    let g = &config.global;
    let log = || (Arc::new(LogSink) as Arc<dyn Sink>, Mode::Log);
    let slack = match &g.slack.token {
        Some(token) => (Arc::new(SlackSink::new(&g.slack, token, &g.http, store.clone())?) as Arc<dyn Sink>, Mode::Api),
        None => log(),
    };
    let jira = if g.jira.is_configured() {
        (Arc::new(JiraSink::new(&g.jira, &g.http, store.clone())?) as Arc<dyn Sink>, Mode::Api)
    } else {
        log()
    };
    let pagerduty = if g.pagerduty.routing_key.is_some() {
        (Arc::new(PagerDutySink::new(&g.pagerduty, &g.http)?) as Arc<dyn Sink>, Mode::Api)
    } else {
        log()
    };
    let statuspage = if g.statuspage.is_configured() {
        (Arc::new(StatuspageSink::new(&g.statuspage, &g.http, store.clone())?) as Arc<dyn Sink>, Mode::Api)
    } else {
        (Arc::new(BuiltinStatusPage::new(store.clone())) as Arc<dyn Sink>, Mode::Builtin)
    };
    let github = if g.github.auth().is_some() {
        (Arc::new(GitHubSink::new(&g.github, &g.http, store.clone())?) as Arc<dyn Sink>, Mode::Api)
    } else {
        log()
    };
    Ok(Sinks::new()
        .with(SinkKind::Slack, slack.0, slack.1)
        .with(SinkKind::Jira, jira.0, jira.1)
        .with(SinkKind::PagerDuty, pagerduty.0, pagerduty.1)
        .with(SinkKind::Statuspage, statuspage.0, statuspage.1)
        .with(SinkKind::GitHub, github.0, github.1))
}
