//! Sinks: where actions go. One module per external service, each behind the same small
//! interface (`deliver(action, row) -> Delivered | DeliveryError`); a service without
//! credentials is replaced by the [`log`] sink (our status page by the built-in one). Every
//! delivery passes a per-sink rate limit and circuit breaker ([`crate::outbox::breaker`]).

pub mod http;
pub mod jira;
pub mod log;
pub mod pagerduty;
pub mod slack;
pub mod statuspage;

use std::collections::HashMap;
use std::num::NonZeroU32;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

use crate::config::Config;
use crate::outbox::breaker::Breakers;
use crate::outbox::{Action, Delivered, DeliveryError};
use crate::store::Store;
use crate::store::outbox::ActionRow;

use self::jira::JiraSink;
use self::log::LogSink;
use self::pagerduty::PagerDutySink;
use self::slack::{SlackSetupError, SlackSink};
use self::statuspage::StatuspageSink;
use self::statuspage::builtin::BuiltinStatusPage;

/// A service, or the log sink standing in for it.
enum Target<T> {
    Api(Box<T>),
    Log(LogSink),
}

impl<T> Target<T> {
    fn kind(&self, api: &'static str) -> &'static str {
        match self {
            Self::Api(_) => api,
            Self::Log(_) => "log",
        }
    }
}

/// Our public status page: Atlassian Statuspage or the built-in one.
enum StatusPageTarget {
    Atlassian(Box<StatuspageSink>),
    Builtin(BuiltinStatusPage),
}

/// Every sink of this process.
pub struct Sinks {
    slack: Target<SlackSink>,
    jira: Target<JiraSink>,
    pagerduty: Target<PagerDutySink>,
    statuspage: StatusPageTarget,
    limits: HashMap<&'static str, DefaultDirectRateLimiter>,
    breakers: Breakers,
}

/// A sink could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// Slack.
    #[error(transparent)]
    Slack(#[from] SlackSetupError),
    /// Another sink.
    #[error("{0}")]
    Setup(#[from] DeliveryError),
}

impl Sinks {
    /// The sinks the configuration has credentials for; the log sink (or the built-in status
    /// page) for the others.
    pub fn from_config(config: &Config, store: &Store) -> Result<Self, SinkError> {
        let g = &config.global;
        let ua = g.http.user_agent.as_str();
        let slack = match &g.slack.token {
            Some(token) => Target::Api(Box::new(SlackSink::new(&g.slack, token, store.clone())?)),
            None => Target::Log(LogSink),
        };
        let jira =
            if g.jira.is_configured() { Target::Api(Box::new(JiraSink::new(&g.jira, ua, store.clone())?)) } else { Target::Log(LogSink) };
        let pagerduty = if g.pagerduty.routing_key.is_some() {
            Target::Api(Box::new(PagerDutySink::new(&g.pagerduty, ua)?))
        } else {
            Target::Log(LogSink)
        };
        let statuspage = if g.statuspage.is_configured() {
            StatusPageTarget::Atlassian(Box::new(StatuspageSink::new(&g.statuspage, ua, store.clone())?))
        } else {
            StatusPageTarget::Builtin(BuiltinStatusPage::new(store.clone()))
        };
        let limits = g
            .outbox
            .rate_limits
            .iter()
            .filter_map(|(sink, per_second)| {
                let sink: &'static str = ["jira", "pagerduty", "statuspage", "slack"].into_iter().find(|s| s == sink)?;
                Some((sink, RateLimiter::direct(Quota::per_second(NonZeroU32::new(*per_second).unwrap_or(NonZeroU32::MIN)))))
            })
            .collect();
        Ok(Self {
            slack,
            jira,
            pagerduty,
            statuspage,
            limits,
            breakers: Breakers::new(g.outbox.breaker_failures, g.outbox.breaker_cooldown.get()),
        })
    }

    /// Delivers one action; `row` carries its idempotency key and attempt history. A sink whose
    /// breaker is open is not called: the action waits for the breaker's cooldown.
    pub async fn deliver(&self, action: &Action, row: &ActionRow) -> Result<Delivered, DeliveryError> {
        let sink = action.sink();
        if let Some(wait) = self.breakers.open_for(sink) {
            return Err(DeliveryError::Retry {
                reason: format!("{sink} circuit breaker open after repeated failures"),
                retry_after: Some(wait),
            });
        }
        if let Some(limit) = self.limits.get(sink) {
            limit.until_ready().await;
        }
        let result = self.dispatch(action, row).await;
        self.breakers.record(sink, result.is_ok() || matches!(result, Err(DeliveryError::Permanent { .. })));
        result
    }

    async fn dispatch(&self, action: &Action, row: &ActionRow) -> Result<Delivered, DeliveryError> {
        match action {
            Action::SlackPost(post) => match &self.slack {
                Target::Api(sink) => sink.post(post, row).await,
                Target::Log(log) => Ok(log.deliver(action, "slack")),
            },
            Action::SlackUpdate(update) => match &self.slack {
                Target::Api(sink) => sink.update(update).await,
                Target::Log(log) => Ok(log.deliver(action, "slack")),
            },
            Action::Jira(jira) => match &self.jira {
                Target::Api(sink) => sink.deliver(jira, row).await,
                Target::Log(log) => Ok(log.deliver(action, "jira")),
            },
            Action::PagerDuty(event) => match &self.pagerduty {
                Target::Api(sink) => sink.deliver(event, row).await,
                Target::Log(log) => Ok(log.deliver(action, "pagerduty")),
            },
            Action::Statuspage(change) => match &self.statuspage {
                StatusPageTarget::Atlassian(sink) => sink.deliver(change, row).await,
                StatusPageTarget::Builtin(page) => page.deliver(change).await,
            },
        }
    }

    /// `slack` or `log`: what Slack messages go to.
    pub fn slack_kind(&self) -> &'static str {
        self.slack.kind("slack")
    }

    /// Where each sink's actions go, for the start-up log: (sink, `api` | `log` | `builtin`).
    pub fn describe(&self) -> [(&'static str, &'static str); 4] {
        let status = match self.statuspage {
            StatusPageTarget::Atlassian(_) => "statuspage.io",
            StatusPageTarget::Builtin(_) => "builtin",
        };
        [
            ("slack", self.slack.kind("api")),
            ("jira", self.jira.kind("api")),
            ("pagerduty", self.pagerduty.kind("api")),
            ("statuspage", status),
        ]
    }
}
