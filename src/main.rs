use std::process::ExitCode;

use clap::Parser;
use vpnjob_operator::{cli, telemetry};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    telemetry::init(cli.log_format, "warn");
    cli::run(cli).await
}
