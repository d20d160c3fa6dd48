//! The command line: `vpnjob-operator jobs list`, and the entry points of the
//! other subcommands. Parsing lives here so `main.rs` stays a few lines.

use std::{
    io::Write,
    net::{IpAddr, Ipv4Addr, SocketAddr},
    process::ExitCode,
    sync::Arc,
    time::Duration,
};

use clap::{Args, Parser, Subcommand, ValueEnum};
use prometheus_client::registry::Registry;
use serde::Serialize;

use crate::{
    clock::{Clock, SystemClock},
    crd,
    huawei::{self, Credentials, Endpoint, Job, JobList},
    metrics::{self, Metrics},
    reconciler,
    server::{self, Readiness},
    source::DirectSource,
    telemetry::LogFormat,
    wait,
};

/// How long the HTTP server may take to finish its requests once the
/// controllers stopped.
const SERVER_SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Watches Huawei Cloud VPN gateway upgrade jobs and mirrors them into Kubernetes.
#[derive(Debug, Parser)]
#[command(name = "vpnjob-operator", version, about)]
pub struct Cli {
    /// Log format (logs go to stderr).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "VPNJOB_LOG_FORMAT")]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Query the cloud's VPN gateway jobs API directly.
    #[command(subcommand)]
    Jobs(JobsCommand),
    /// Run the operator: watch VpnGatewayJobWatch objects and mirror their jobs.
    ///
    /// The kubeconfig comes from KUBECONFIG / ~/.kube/config, or the in-cluster
    /// service account.
    Run(RunArgs),
    /// Print the VpnGatewayJobWatch CustomResourceDefinition as YAML.
    Crd,
    /// Wait until every named watch is Ready, failing as soon as one is Stalled.
    ///
    /// Prints one progress line per change (Ready reason, job status, sub-jobs
    /// finished, current phase) to stderr. The kubeconfig comes from KUBECONFIG /
    /// ~/.kube/config, or the in-cluster service account. Exit codes: 0 all
    /// Ready, 1 one Stalled, 2 timeout, 3 any other error.
    Wait(wait::WaitArgs),
}

/// Arguments of `run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Only watch these namespaces (comma-separated); all namespaces when absent.
    #[arg(long, value_delimiter = ',', env = "VPNJOB_NAMESPACES")]
    pub namespaces: Vec<String>,
    /// Credentials are only sent to endpoints matching this regular expression.
    #[arg(long, default_value = reconciler::DEFAULT_ALLOWED_ENDPOINTS, env = "VPNJOB_ALLOWED_ENDPOINTS")]
    pub allowed_endpoints: regex::Regex,
    /// A floor on every watch's poll interval, so one careless watch cannot burn
    /// the account's API quota.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration, env = "VPNJOB_MIN_POLL_INTERVAL")]
    pub min_poll_interval: std::time::Duration,
    /// Most watches reconciled at the same time (per namespace watched).
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..))]
    pub concurrency: u16,
    /// Timeout of one cloud API request.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    pub request_timeout: std::time::Duration,
    /// This replica's name, reported on Events (the chart sets it from the pod name).
    #[arg(long, env = "POD_NAME")]
    pub instance: Option<String>,
    /// Port serving /healthz, /readyz (ready once the watches are synced) and
    /// /metrics (Prometheus text); 0 picks a free port (logged).
    #[arg(long, default_value_t = 8080, env = "VPNJOB_HTTP_PORT")]
    pub http_port: u16,
    /// Address the HTTP port binds to (e.g. :: for IPv6).
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::UNSPECIFIED), env = "VPNJOB_HTTP_ADDR")]
    pub http_addr: IpAddr,
}

/// `jobs` subcommands.
#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// List the jobs of a project (all pages), optionally of one gateway.
    ///
    /// Credentials come from HUAWEICLOUD_SDK_AK, HUAWEICLOUD_SDK_SK and the
    /// optional HUAWEICLOUD_SDK_SECURITY_TOKEN, as for the official SDKs.
    List(ListArgs),
}

/// Arguments of `jobs list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Huawei Cloud project ID (32 hex characters).
    #[arg(long)]
    pub project_id: String,
    /// Only the jobs of this VPN gateway (sent as resource_id).
    #[arg(long)]
    pub gateway_id: Option<String>,
    #[command(flatten)]
    pub target: TargetArgs,
    /// Page size asked of the API (1 to 200).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=200))]
    pub limit: Option<u32>,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = Output::Table)]
    pub output: Output,
}

/// Where the API is: a region or an explicit endpoint URL, exactly one.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct TargetArgs {
    /// Region ID, e.g. cn-north-4 (calls https://vpn.REGION.myhuaweicloud.com).
    #[arg(long)]
    pub region: Option<String>,
    /// Explicit endpoint URL (https; plain http only for loopback, e.g. vpnjob-sim).
    #[arg(long)]
    pub endpoint: Option<String>,
}

impl TargetArgs {
    /// The endpoint these arguments name.
    pub fn endpoint(&self) -> Result<Endpoint, huawei::Error> {
        match (&self.region, &self.endpoint) {
            (_, Some(url)) => Endpoint::parse(url),
            (Some(region), None) => Endpoint::for_region(region),
            (None, None) => Endpoint::parse(""),
        }
    }
}

/// Output formats of `jobs list`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// An aligned table.
    Table,
    /// `{"jobs": [...]}` with the API's own field names.
    Json,
    /// The same as YAML.
    Yaml,
}

/// Runs `jobs list`, writing the result to `out` and warnings to `err`.
pub async fn jobs_list(
    args: &ListArgs,
    credentials: Credentials,
    out: &mut impl Write,
    err: &mut impl Write,
) -> Result<(), CliError> {
    let client = huawei::Client::new(args.target.endpoint()?, credentials)?;
    let list = client
        .list_jobs(&args.project_id, args.gateway_id.as_deref(), args.limit)
        .await?;
    for bad in &list.malformed {
        writeln!(err, "warning: skipped malformed {bad}")?;
    }
    write_jobs(&list, args.output, out)
}

#[derive(Serialize)]
struct JobsDocument<'a> {
    jobs: &'a [Job],
}

fn write_jobs(list: &JobList, output: Output, out: &mut impl Write) -> Result<(), CliError> {
    let doc = JobsDocument { jobs: &list.jobs };
    match output {
        Output::Json => {
            serde_json::to_writer_pretty(&mut *out, &doc).map_err(std::io::Error::from)?;
            writeln!(out)?;
        }
        Output::Yaml => {
            let text =
                serde_saphyr::to_string(&doc).map_err(|e| std::io::Error::other(e.to_string()))?;
            out.write_all(text.as_bytes())?;
        }
        Output::Table => write_table(&list.jobs, out)?,
    }
    Ok(())
}

fn write_table(jobs: &[Job], out: &mut impl Write) -> std::io::Result<()> {
    let header = [
        "JOB ID", "GATEWAY", "TYPE", "STATUS", "SUB-JOBS", "CREATED", "FINISHED",
    ];
    let time = |t: Option<jiff::Timestamp>| {
        t.map(|t| {
            // Truncate, as the status and Events do, so one job shows one time.
            let whole = jiff::TimestampRound::new()
                .smallest(jiff::Unit::Second)
                .mode(jiff::RoundMode::Trunc);
            t.round(whole).unwrap_or(t).to_string()
        })
        .unwrap_or_else(|| "-".into())
    };
    let rows: Vec<[String; 7]> = jobs
        .iter()
        .map(|job| {
            [
                job.id.clone(),
                job.resource_id.clone().unwrap_or_else(|| "-".into()),
                job.job_type
                    .as_ref()
                    .map_or_else(|| "-".into(), ToString::to_string),
                job.status.to_string(),
                format!("{}/{}", job.sub_jobs_finished(), job.sub_jobs.len()),
                time(job.created_at),
                time(job.finished_at),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[&str]| {
        let mut text = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if i + 1 == cells.len() {
                text.push_str(cell);
            } else {
                text.push_str(&format!("{cell:<w$}   "));
            }
        }
        text
    };
    writeln!(out, "{}", line(&header))?;
    for row in &rows {
        let cells: Vec<&str> = row.iter().map(String::as_str).collect();
        writeln!(out, "{}", line(&cells))?;
    }
    Ok(())
}

/// Why a command failed. `Display` is the one line printed before exiting.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A credential environment variable is missing.
    #[error(transparent)]
    Credentials(#[from] huawei::credentials::MissingVariable),
    /// The cloud call failed.
    #[error(transparent)]
    Cloud(#[from] huawei::Error),
    /// The Kubernetes client could not be configured.
    #[error("could not configure the Kubernetes client")]
    Kube(#[source] kube::Error),
    /// The HTTP port could not be bound.
    #[error("could not listen on {0}")]
    Listen(SocketAddr, #[source] std::io::Error),
    /// The HTTP server failed.
    #[error("the HTTP server failed")]
    Serve(#[source] std::io::Error),
    /// Writing the output failed.
    #[error("could not write output")]
    Output(#[from] std::io::Error),
}

/// Prints `error` and its causes on one line, the way every command reports
/// failure: `error: <what> : <cause> : <cause>`.
pub fn report(error: &dyn std::error::Error) -> String {
    let mut line = format!("error: {error}");
    let mut source = error.source();
    while let Some(cause) = source {
        line.push_str(": ");
        line.push_str(&cause.to_string());
        source = cause.source();
    }
    line
}

/// Runs the parsed command line; the process exit code is the result.
pub async fn run(cli: Cli) -> ExitCode {
    let result = match &cli.command {
        Command::Run(args) => operator(args).await,
        // Its own exit codes: 1 means "stalled", not "the command failed".
        Command::Wait(args) => return wait::run(args).await,
        Command::Crd => {
            print!("{}", crd::crd_yaml());
            Ok(())
        }
        Command::Jobs(JobsCommand::List(args)) => {
            match Credentials::from_lookup(|name| std::env::var(name).ok()) {
                Ok(creds) => {
                    jobs_list(args, creds, &mut std::io::stdout(), &mut std::io::stderr()).await
                }
                Err(e) => Err(e.into()),
            }
        }
    };
    finish(result)
}

/// Runs the operator, and its HTTP port, until SIGTERM/SIGINT.
pub async fn operator(args: &RunArgs) -> Result<(), CliError> {
    let kube = kube::Client::try_default().await.map_err(CliError::Kube)?;
    let address = SocketAddr::new(args.http_addr, args.http_port);
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|e| CliError::Listen(address, e))?;
    let address = listener
        .local_addr()
        .map_err(|e| CliError::Listen(address, e))?;

    let mut registry = Registry::with_prefix(metrics::PREFIX);
    let metrics = Arc::new(Metrics::register(&mut registry));
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let transport = huawei::Transport::new(
        huawei::Settings {
            request_timeout: args.request_timeout,
            observer: Some(metrics.cloud_observer()),
            ..huawei::Settings::default()
        },
        clock.clone(),
    )?;
    let settings = reconciler::Settings {
        allowed_endpoints: args.allowed_endpoints.clone(),
        min_poll_interval: args.min_poll_interval,
    };
    let ctx = Arc::new(
        reconciler::Context::new(
            kube,
            Arc::new(DirectSource::new(transport)),
            clock,
            settings,
            args.instance.clone(),
        )
        .with_metrics(metrics),
    );
    tracing::info!(
        namespaces = ?args.namespaces,
        allowed_endpoints = args.allowed_endpoints.as_str(),
        min_poll_interval = ?args.min_poll_interval,
        "starting the operator"
    );
    let controllers = reconciler::controllers(ctx, &args.namespaces, args.concurrency);

    let readiness = Readiness::default();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(server::serve(
        listener,
        server::State::new(Arc::new(registry), readiness.clone()),
        async {
            // A dropped sender stops the server too.
            let _ = stopped.await;
        },
    ));
    tracing::info!(%address, "serving /healthz, /readyz and /metrics");

    let synced = controllers.synced();
    let running = controllers.run();
    tokio::pin!(running);
    tokio::select! {
        () = &mut running => {}
        synced = synced => {
            if synced {
                readiness.set_ready();
                tracing::info!("watches synced: ready");
            }
            running.await;
        }
    }

    let _ = stop.send(());
    match tokio::time::timeout(SERVER_SHUTDOWN_GRACE, server).await {
        Ok(Ok(result)) => result.map_err(CliError::Serve),
        Ok(Err(join)) => Err(CliError::Serve(std::io::Error::other(join))),
        Err(_) => {
            tracing::warn!("the HTTP server did not stop in time; leaving it");
            Ok(())
        }
    }
}

fn finish(result: Result<(), CliError>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{}", report(&error));
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_and_endpoint_are_mutually_exclusive_and_one_is_required() {
        let parse = |args: &[&str]| {
            Cli::try_parse_from(
                ["vpnjob-operator", "jobs", "list", "--project-id", "p"]
                    .iter()
                    .chain(args),
            )
        };
        assert!(parse(&["--region", "cn-north-4"]).is_ok());
        assert!(parse(&["--endpoint", "http://127.0.0.1:1"]).is_ok());
        assert!(parse(&[]).is_err());
        assert!(parse(&["--region", "r", "--endpoint", "http://127.0.0.1:1"]).is_err());
        assert!(parse(&["--region", "r", "--limit", "0"]).is_err());
    }

    #[test]
    fn json_output_uses_the_api_field_names() {
        let list = JobList {
            jobs: vec![
                serde_json::from_str(
                    r#"{"id":"j1","resource_id":"g","job_type":"upgrade","status":"upgrading",
                        "created_at":"2026-03-18T15:08:53.679462Z",
                        "sub_jobs":[{"id":"s","job_type":"prepare_resource","status":"success","entity":{}}]}"#,
                )
                .unwrap(),
            ],
            ..JobList::default()
        };
        let mut out = Vec::new();
        write_jobs(&list, Output::Json, &mut out).unwrap();
        let doc: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(doc["jobs"][0]["resource_id"], "g");
        assert_eq!(doc["jobs"][0]["created_at"], "2026-03-18T15:08:53.679462Z");
        assert_eq!(
            doc["jobs"][0]["sub_jobs"][0]["job_type"],
            "prepare_resource"
        );

        let mut table = Vec::new();
        write_jobs(&list, Output::Table, &mut table).unwrap();
        let table = String::from_utf8(table).unwrap();
        assert!(table.starts_with("JOB ID"), "{table}");
        assert!(
            table.contains("upgrading") && table.contains("1/1"),
            "{table}"
        );

        let mut yaml = Vec::new();
        write_jobs(&list, Output::Yaml, &mut yaml).unwrap();
        assert!(
            String::from_utf8(yaml)
                .unwrap()
                .contains("status: upgrading")
        );
    }

    #[test]
    fn report_is_one_line_with_the_cause_chain() {
        let err = CliError::Output(std::io::Error::other("disk full"));
        assert_eq!(report(&err), "error: could not write output: disk full");
    }
}
