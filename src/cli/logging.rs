//! Logs: one subscriber on standard error, as text for people or JSON lines for a collector
//! (`--log-format json`, `SPARKY_LOG_FORMAT=json`).
//!
//! A command that prints a report (`once ...`, `status`, `check`) already says on standard output
//! what each feed, page and check did; the per-source log lines (target [`crate::model::OUTCOME`]) then
//! stay quiet unless `RUST_LOG` asks for them (`RUST_LOG=debug`), so each outcome is printed once.
//! The daemon has no report: there they are the record.

use std::io::IsTerminal;

use clap::ValueEnum;
use tracing_subscriber::EnvFilter;

use super::{Cli, Command};

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// `2026-12-02T05:18:26.123Z  INFO sparky::outbox::worker: delivered action=3 sink=slack ...`
    #[default]
    Text,
    /// One JSON object per line: `{"timestamp":"...","level":"INFO","fields":{"message":"delivered",
    /// "action":3,...},"target":"sparky::outbox::worker"}` (tracing-subscriber's JSON format).
    Json,
}

/// The filter when `RUST_LOG` is not set.
const DEFAULT_FILTER: &str = "info,sqlx=warn,tokio_cron_scheduler=warn";

/// Installs the subscriber for `cli`'s command and format; call once, before the runtime starts.
pub fn init(cli: &Cli) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter(&cli.command)));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match cli.log_format {
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
        LogFormat::Json => builder.json().with_current_span(false).init(),
    }
}

fn default_filter(command: &Command) -> String {
    let reports = matches!(command, Command::Once { .. } | Command::Status { .. } | Command::Check { .. } | Command::CheckConfig { .. });
    if reports { format!("{DEFAULT_FILTER},{}=off", crate::model::OUTCOME) } else { DEFAULT_FILTER.to_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn reports_silence_the_outcome_lines_and_the_daemon_keeps_them() {
        let once = Cli::parse_from(["sparky", "once", "changelogs"]);
        assert!(default_filter(&once.command).ends_with("sparky::outcome=off"));
        let run = Cli::parse_from(["sparky", "run"]);
        assert_eq!(default_filter(&run.command), DEFAULT_FILTER);
        // The filter must parse, or every log line would be lost.
        assert!(EnvFilter::try_new(default_filter(&once.command)).is_ok());
    }

    #[test]
    fn the_format_comes_from_the_flag() {
        let cli = Cli::parse_from(["sparky", "--log-format", "json", "run"]);
        assert_eq!(cli.log_format, LogFormat::Json);
        assert_eq!(Cli::parse_from(["sparky", "run"]).log_format, LogFormat::Text);
        assert!(Cli::try_parse_from(["sparky", "--log-format", "xml", "run"]).is_err());
    }
}
