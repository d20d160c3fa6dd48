//! `vpnjob-sim`: serves a scenario file as a local Huawei Cloud VPN jobs API.
//! Prints `vpnjob-sim listening on http://IP:PORT` on stdout once bound, logs to
//! stderr, and stops cleanly on SIGINT or SIGTERM. See docs/simulator.md.

use std::{io::Write, net::SocketAddr, path::PathBuf, process::ExitCode, sync::Arc};

use clap::Parser;
use vpnjob_operator::{
    clock::SystemClock,
    simulator::{self, Options, Scenario},
    telemetry::{self, LogFormat},
};

/// A local stand-in for the Huawei Cloud VPN gateway jobs API.
#[derive(Debug, Parser)]
#[command(name = "vpnjob-sim", version)]
struct Args {
    /// Address to listen on, e.g. 127.0.0.1:8089 (port 0 picks a free port).
    #[arg(long)]
    listen: SocketAddr,
    /// Scenario file (YAML): credentials, per-project job timelines, faults.
    #[arg(long)]
    scenario: PathBuf,
    /// Page size when a request has no `limit`.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..))]
    page_size: u32,
    /// Largest `limit` accepted; larger ones get 400 VPN.0001.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..))]
    max_page_size: u32,
    /// Log format (logs go to stderr).
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    telemetry::init(args.log_format, "info");
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let mut message = format!("vpnjob-sim: {err}");
            let mut source = err.source();
            while let Some(cause) = source {
                message.push_str(&format!(": {cause}"));
                source = cause.source();
            }
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let scenario = Scenario::load(&args.scenario)?;
    let options = Options {
        page_size_default: args.page_size,
        page_size_max: args.max_page_size,
    };
    let running = simulator::start(scenario, args.listen, Arc::new(SystemClock), options).await?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "vpnjob-sim listening on {}", running.url())?;
    stdout.flush()?;
    drop(stdout);
    shutdown_signal().await?;
    tracing::info!("shutting down");
    running.shutdown().await;
    Ok(())
}

/// Resolves on SIGINT (Ctrl-C) or, on Unix, SIGTERM.
async fn shutdown_signal() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result,
            _ = term.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await
    }
}
