//! The `sparky` binary: crypto provider, logging, then the CLI.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // reqwest and the Slack connector use rustls with ring; installing twice is harmless.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = sparky::cli::Cli::parse();
    sparky::cli::init_logging(&cli);
    match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime.block_on(sparky::cli::run(cli)),
        Err(e) => {
            eprintln!("sparky: cannot start the async runtime: {e}");
            ExitCode::FAILURE
        }
    }
}
