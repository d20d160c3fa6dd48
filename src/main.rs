use std::process::ExitCode;

use clap::Parser;
use vpnjob_operator::{cli, telemetry};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let default_filter = match cli.command {
        cli::Command::Run(_) => "info",
        _ => "warn",
    };
    telemetry::init(cli.log_format, default_filter);
    cli::run(cli).await
}
