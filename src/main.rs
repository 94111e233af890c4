//! The `sparky` binary: crypto provider, logging, then the CLI.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // reqwest and the Slack connector use rustls with ring; installing twice is harmless.
    let _ = rustls::crypto::ring::default_provider().install_default();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,sqlx=warn,tokio_cron_scheduler=warn".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let cli = sparky::cli::Cli::parse();
    match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime.block_on(sparky::cli::run(cli)),
        Err(e) => {
            eprintln!("sparky: cannot start the async runtime: {e}");
            ExitCode::FAILURE
        }
    }
}
