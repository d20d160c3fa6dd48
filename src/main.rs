use std::process::ExitCode;

use clap::Parser;
use vpnjob_operator::{cli, telemetry, wait};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // clap's usage error is 2, which `wait` uses for its timeout.
            let waiting = std::env::args().skip(1).any(|a| a == "wait");
            return match e.exit_code() {
                0 => ExitCode::SUCCESS,
                _ if waiting => ExitCode::from(wait::EXIT_ERROR),
                code => ExitCode::from(u8::try_from(code).unwrap_or(1)),
            };
        }
    };
    let default_filter = match cli.command {
        cli::Command::Run(_) => "info",
        _ => "warn",
    };
    telemetry::init(cli.log_format, default_filter);
    cli::run(cli).await
}
