//! `vpnjob-operator wait`: block a pipeline until named watches are Ready, fail
//! fast when one is Stalled — the OR that `kubectl wait` cannot express.
//!
//! The decision is the pure [`verdict`] over the latest objects (unit tested);
//! [`run`] only feeds it from a Kubernetes watch and maps the outcome to an
//! exit code ([`EXIT_READY`], [`EXIT_STALLED`], [`EXIT_TIMEOUT`], [`EXIT_ERROR`]).

use std::{
    collections::{BTreeMap, HashSet},
    io::Write,
    process::ExitCode,
    time::Duration,
};

use futures::TryStreamExt;
use kube::{
    Api, ResourceExt,
    runtime::{WatchStreamExt, watcher},
};

use crate::crd::{Condition, ConditionStatus, READY, STALLED, VpnGatewayJobWatch};

/// Every named watch is Ready=True for its current generation.
pub const EXIT_READY: u8 = 0;
/// One named watch is Stalled=True for its current generation.
pub const EXIT_STALLED: u8 = 1;
/// The timeout passed first.
pub const EXIT_TIMEOUT: u8 = 2;
/// Anything else: bad arguments, no kubeconfig, an API error such as forbidden.
pub const EXIT_ERROR: u8 = 3;

/// What the named watches amount to right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every named watch is Ready=True (for its current generation).
    Done,
    /// This watch is Stalled=True (for its current generation): it will not
    /// progress without a human.
    Failed {
        /// Name of the stalled watch.
        name: String,
        /// The Stalled condition's reason, e.g. UpgradeFailed.
        reason: String,
        /// The Stalled condition's message.
        message: String,
    },
    /// Keep waiting.
    Waiting,
}

/// The decision, from the latest known object of each name (absent = not created
/// yet, which is waited for). The first stalled watch, in `names` order, wins
/// over everything; otherwise Done once every watch is Ready.
pub fn verdict(names: &[String], watches: &BTreeMap<String, VpnGatewayJobWatch>) -> Verdict {
    for name in names {
        if let Some(stalled) = watches
            .get(name)
            .and_then(|w| current_condition(w, STALLED))
            .filter(|c| c.status == ConditionStatus::True)
        {
            return Verdict::Failed {
                name: name.clone(),
                reason: stalled.reason.clone(),
                message: stalled.message.clone(),
            };
        }
    }
    let all_ready = names.iter().all(|name| {
        watches
            .get(name)
            .and_then(|w| current_condition(w, READY))
            .is_some_and(|c| c.status == ConditionStatus::True)
    });
    if all_ready {
        Verdict::Done
    } else {
        Verdict::Waiting
    }
}

/// The condition of `type_`, unless it describes an older generation, the way
/// `kubectl wait` decides: the condition's own observedGeneration, else
/// status.observedGeneration, must be at least metadata.generation (when none
/// of them is set, the condition counts).
pub fn current_condition<'a>(watch: &'a VpnGatewayJobWatch, type_: &str) -> Option<&'a Condition> {
    let status = watch.status.as_ref()?;
    let condition = status.condition(type_)?;
    let observed = condition.observed_generation.or(status.observed_generation);
    match (watch.metadata.generation, observed) {
        (Some(generation), Some(observed)) if observed < generation => None,
        _ => Some(condition),
    }
}

/// One line describing a watch's progress, e.g. `up: Upgrading, job upgrading,
/// 3/9 sub-jobs, phase migrate_traffic_1`; printed whenever it changes.
pub fn progress_line(name: &str, watch: Option<&VpnGatewayJobWatch>) -> String {
    let Some(watch) = watch else {
        return format!("{name}: not found yet, waiting for it to be created");
    };
    let Some(status) = watch.status.as_ref() else {
        return format!("{name}: no status yet, waiting for the operator");
    };
    let mut parts = Vec::new();
    match current_condition(watch, READY) {
        Some(ready) => parts.push(format!("Ready={} {}", ready.status.as_str(), ready.reason)),
        None => parts.push(format!(
            "waiting for the operator to observe generation {}",
            watch.metadata.generation.unwrap_or_default()
        )),
    }
    if let Some(job) = &status.job_status {
        parts.push(format!("job {job}"));
    }
    if let (Some(done), Some(total)) = (status.sub_jobs_completed, status.sub_jobs_total) {
        parts.push(format!("{done}/{total} sub-jobs"));
    }
    // The phase: the first sub-job under way.
    if let Some(phase) = status
        .sub_jobs
        .iter()
        .find(|s| matches!(s.status.as_str(), "running" | "upgrading"))
    {
        parts.push(format!(
            "phase {}",
            phase.type_.as_deref().unwrap_or(&phase.id)
        ));
    }
    format!("{name}: {}", parts.join(", "))
}

/// Arguments of `wait`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Exit codes:
  0  every named watch is Ready=True
  1  one named watch is Stalled=True (its name, reason and message are printed)
  2  the timeout passed first
  3  any other error (no kubeconfig, forbidden, the CRD is not installed, ...)

A watch that does not exist yet is waited for (until the timeout). A condition
only counts once it describes the watch's current metadata.generation.")]
pub struct WaitArgs {
    /// Namespace of the watches; the kubeconfig's namespace when absent.
    #[arg(short, long)]
    pub namespace: Option<String>,
    /// Give up after this long (e.g. 90s, 45m, 2h).
    #[arg(long, default_value = "30m", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
    /// Names of the VpnGatewayJobWatch objects to wait for.
    #[arg(required = true, value_name = "NAME")]
    pub names: Vec<String>,
}

/// Runs `wait`: progress to stderr, the outcome as the exit code.
pub async fn run(args: &WaitArgs) -> ExitCode {
    crate::huawei::install_crypto_provider();
    let kube = match kube::Client::try_default().await {
        Ok(kube) => kube,
        Err(e) => {
            eprintln!("error: could not configure the Kubernetes client: {e}");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    let namespace = args
        .namespace
        .clone()
        .unwrap_or_else(|| kube.default_namespace().to_owned());
    let api: Api<VpnGatewayJobWatch> = Api::namespaced(kube, &namespace);
    let code = wait(
        api,
        &args.names,
        args.timeout,
        &mut std::io::stdout(),
        &mut std::io::stderr(),
    )
    .await;
    ExitCode::from(code)
}

/// Waits on `api` for `names`; the exit code is the result.
pub async fn wait(
    api: Api<VpnGatewayJobWatch>,
    names: &[String],
    timeout: Duration,
    out: &mut impl Write,
    err: &mut impl Write,
) -> u8 {
    let mut watches = BTreeMap::new();
    let mut printed = BTreeMap::new();
    let result =
        tokio::time::timeout(timeout, follow(api, names, &mut watches, &mut printed, err)).await;
    // Write errors on a closed pipe must not change the exit code.
    let code = match result {
        Err(_) => {
            let pending: Vec<&str> = names
                .iter()
                .filter(|n| {
                    !watches
                        .get(*n)
                        .and_then(|w| current_condition(w, READY))
                        .is_some_and(|c| c.status == ConditionStatus::True)
                })
                .map(String::as_str)
                .collect();
            let _ = writeln!(
                err,
                "error: timed out after {} waiting for {}",
                humantime::format_duration(timeout),
                pending.join(", ")
            );
            EXIT_TIMEOUT
        }
        Ok(Err(e)) => {
            let _ = writeln!(err, "error: {}", causes(&e));
            EXIT_ERROR
        }
        Ok(Ok(Verdict::Failed {
            name,
            reason,
            message,
        })) => {
            let _ = writeln!(err, "error: {name} is Stalled: {reason}: {message}");
            EXIT_STALLED
        }
        Ok(Ok(_)) => {
            for name in names {
                let ready = watches.get(name).and_then(|w| current_condition(w, READY));
                let _ = match ready {
                    Some(c) => writeln!(out, "{name}: Ready ({}): {}", c.reason, c.message),
                    None => writeln!(out, "{name}: Ready"),
                };
            }
            EXIT_READY
        }
    };
    let _ = out.flush();
    let _ = err.flush();
    code
}

/// Why waiting stopped before a verdict.
#[derive(Debug, thiserror::Error)]
pub enum WaitError {
    /// The watch failed in a way retrying cannot cure (forbidden, no such
    /// resource type, or the very first list failing).
    #[error("could not watch VpnGatewayJobWatch objects")]
    Watch(#[source] watcher::Error),
    /// The watch stream ended.
    #[error("the watch stream ended unexpectedly")]
    Ended,
}

// Feeds `verdict` from a watch until it is not Waiting. One name: a field
// selector on metadata.name; several: the namespace, filtered by name.
async fn follow(
    api: Api<VpnGatewayJobWatch>,
    names: &[String],
    watches: &mut BTreeMap<String, VpnGatewayJobWatch>,
    printed: &mut BTreeMap<String, String>,
    err: &mut impl Write,
) -> Result<Verdict, WaitError> {
    let wanted: HashSet<&str> = names.iter().map(String::as_str).collect();
    let config = match names {
        [one] => watcher::Config::default().fields(&format!("metadata.name={one}")),
        _ => watcher::Config::default(),
    };
    let stream = watcher(api, config).default_backoff();
    futures::pin_mut!(stream);
    let mut synced = false;
    let mut buffer = BTreeMap::new();
    loop {
        let event = match stream.try_next().await {
            Ok(Some(event)) => event,
            Ok(None) => return Err(WaitError::Ended),
            Err(e) if !synced || is_permanent(&e) => return Err(WaitError::Watch(e)),
            Err(e) => {
                let _ = writeln!(err, "warning: {} (retrying)", causes(&e));
                continue;
            }
        };
        let keep = |w: &VpnGatewayJobWatch| wanted.contains(w.name_any().as_str());
        match event {
            watcher::Event::Init => buffer.clear(),
            watcher::Event::InitApply(w) => {
                if keep(&w) {
                    buffer.insert(w.name_any(), w);
                }
                continue;
            }
            watcher::Event::InitDone => {
                synced = true;
                *watches = std::mem::take(&mut buffer);
            }
            watcher::Event::Apply(w) if keep(&w) => {
                watches.insert(w.name_any(), w);
            }
            watcher::Event::Delete(w) if keep(&w) => {
                watches.remove(&w.name_any());
            }
            _ => continue,
        }
        if !synced {
            continue;
        }
        for name in names {
            let line = progress_line(name, watches.get(name));
            if printed.get(name) != Some(&line) {
                let _ = writeln!(err, "{line}");
                printed.insert(name.clone(), line);
            }
        }
        match verdict(names, watches) {
            Verdict::Waiting => {}
            done => return Ok(done),
        }
    }
}

// The error and its direct cause on one line; kube's and the watcher's errors
// already spell out their own causes, so going deeper only repeats them.
fn causes(error: &dyn std::error::Error) -> String {
    match error.source() {
        Some(cause) => format!("{error}: {cause}"),
        None => error.to_string(),
    }
}

// Errors no retry cures: the API server said no (401, 403), or does not know the
// resource (404: the CRD is not installed). 410 Gone is the watcher's business.
fn is_permanent(error: &watcher::Error) -> bool {
    let code = match error {
        watcher::Error::InitialListFailed(kube::Error::Api(s))
        | watcher::Error::WatchStartFailed(kube::Error::Api(s))
        | watcher::Error::WatchFailed(kube::Error::Api(s)) => s.code,
        watcher::Error::WatchError(s) => s.code,
        _ => return false,
    };
    matches!(code, 400 | 401 | 403 | 404)
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use serde_json::json;

    use super::*;
    use crate::crd::{SubJobSummary, VpnGatewayJobWatchStatus as Status};

    fn cond(type_: &str, status: ConditionStatus, reason: &str, og: Option<i64>) -> Condition {
        Condition {
            type_: type_.into(),
            status,
            observed_generation: og,
            last_transition_time: Time("2026-12-01T10:00:00Z".parse().unwrap()),
            reason: reason.into(),
            message: format!("{reason} message"),
        }
    }

    fn watch(name: &str, generation: i64, status: Option<Status>) -> VpnGatewayJobWatch {
        let mut w: VpnGatewayJobWatch = serde_json::from_value(json!({
            "apiVersion": "vpnjob.io/v1alpha1",
            "kind": "VpnGatewayJobWatch",
            "metadata": {"name": name, "namespace": "ns", "generation": generation},
            "spec": {
                "projectId": "0123456789abcdef0123456789abcdef",
                "gatewayId": "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9",
                "region": "cn-north-4",
                "credentialsSecretRef": {"name": "hw"},
            },
        }))
        .unwrap();
        w.status = status;
        w
    }

    fn with(conditions: Vec<Condition>, observed: Option<i64>) -> Option<Status> {
        Some(Status {
            observed_generation: observed,
            conditions,
            ..Status::default()
        })
    }

    fn ready(g: i64) -> VpnGatewayJobWatch {
        watch(
            "a",
            g,
            with(
                vec![cond(
                    READY,
                    ConditionStatus::True,
                    "UpgradeSucceeded",
                    Some(g),
                )],
                Some(g),
            ),
        )
    }

    fn map(watches: Vec<VpnGatewayJobWatch>) -> BTreeMap<String, VpnGatewayJobWatch> {
        watches.into_iter().map(|w| (w.name_any(), w)).collect()
    }

    fn names(n: &[&str]) -> Vec<String> {
        n.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn ready_true_for_the_current_generation_is_done() {
        assert_eq!(verdict(&names(&["a"]), &map(vec![ready(3)])), Verdict::Done);
    }

    #[test]
    fn a_missing_watch_or_missing_status_is_waited_for() {
        assert_eq!(verdict(&names(&["a"]), &map(vec![])), Verdict::Waiting);
        assert_eq!(
            verdict(&names(&["a"]), &map(vec![watch("a", 1, None)])),
            Verdict::Waiting
        );
        assert_eq!(
            verdict(
                &names(&["a"]),
                &map(vec![watch("a", 1, with(vec![], None))])
            ),
            Verdict::Waiting
        );
    }

    #[test]
    fn stalled_true_fails_with_its_reason_and_message() {
        let w = watch(
            "a",
            1,
            with(
                vec![
                    cond(READY, ConditionStatus::False, "UpgradeFailed", Some(1)),
                    cond(STALLED, ConditionStatus::True, "UpgradeFailed", Some(1)),
                ],
                Some(1),
            ),
        );
        assert_eq!(
            verdict(&names(&["a"]), &map(vec![w])),
            Verdict::Failed {
                name: "a".into(),
                reason: "UpgradeFailed".into(),
                message: "UpgradeFailed message".into(),
            }
        );
    }

    #[test]
    fn conditions_of_an_older_generation_do_not_count() {
        // Condition's own observedGeneration is stale.
        let stale_ready = watch(
            "a",
            2,
            with(
                vec![cond(
                    READY,
                    ConditionStatus::True,
                    "UpgradeSucceeded",
                    Some(1),
                )],
                Some(2),
            ),
        );
        assert_eq!(
            verdict(&names(&["a"]), &map(vec![stale_ready])),
            Verdict::Waiting
        );
        // No condition generation: status.observedGeneration decides.
        let stale_status = watch(
            "a",
            2,
            with(
                vec![
                    cond(READY, ConditionStatus::False, "UpgradeFailed", None),
                    cond(STALLED, ConditionStatus::True, "UpgradeFailed", None),
                ],
                Some(1),
            ),
        );
        assert_eq!(
            verdict(&names(&["a"]), &map(vec![stale_status])),
            Verdict::Waiting
        );
        // Like kubectl: with no generation recorded anywhere, the condition counts.
        let unrecorded = watch(
            "a",
            2,
            with(
                vec![cond(READY, ConditionStatus::True, "UpgradeSucceeded", None)],
                None,
            ),
        );
        assert_eq!(
            verdict(&names(&["a"]), &map(vec![unrecorded])),
            Verdict::Done
        );
        // A newer observation than the object (a racing read) counts.
        let mut newer = ready(2);
        newer.metadata.generation = Some(1);
        assert_eq!(verdict(&names(&["a"]), &map(vec![newer])), Verdict::Done);
    }

    #[test]
    fn mixed_watches_wait_for_all_and_fail_on_any_stalled() {
        let mut b = ready(1);
        b.metadata.name = Some("b".into());
        b.status.as_mut().unwrap().conditions =
            vec![cond(READY, ConditionStatus::False, "Upgrading", Some(1))];
        let mut c = ready(1);
        c.metadata.name = Some("c".into());
        c.status.as_mut().unwrap().conditions = vec![
            cond(READY, ConditionStatus::False, "RolledBack", Some(1)),
            cond(STALLED, ConditionStatus::True, "RolledBack", Some(1)),
        ];
        let all = names(&["a", "b", "c"]);
        assert_eq!(
            verdict(&names(&["a", "b"]), &map(vec![ready(1), b.clone()])),
            Verdict::Waiting
        );
        assert_eq!(
            verdict(&names(&["a", "missing"]), &map(vec![ready(1)])),
            Verdict::Waiting
        );
        assert!(matches!(
            verdict(&all, &map(vec![ready(1), b, c])),
            Verdict::Failed { name, reason, .. } if name == "c" && reason == "RolledBack"
        ));
        // Objects not named are ignored.
        assert_eq!(verdict(&names(&["a"]), &map(vec![ready(1)])), Verdict::Done);
    }

    #[test]
    fn progress_line_names_reason_job_progress_and_phase() {
        let mut w = ready(1);
        let status = w.status.as_mut().unwrap();
        status.conditions = vec![cond(READY, ConditionStatus::False, "Upgrading", Some(1))];
        status.job_status = Some("upgrading".into());
        status.sub_jobs_completed = Some(3);
        status.sub_jobs_total = Some(9);
        status.sub_jobs = vec![
            SubJobSummary {
                id: "s1".into(),
                type_: Some("prepare_resource".into()),
                status: "success".into(),
                ..SubJobSummary::default()
            },
            SubJobSummary {
                id: "s2".into(),
                type_: Some("migrate_traffic_1".into()),
                status: "running".into(),
                ..SubJobSummary::default()
            },
        ];
        assert_eq!(
            progress_line("a", Some(&w)),
            "a: Ready=False Upgrading, job upgrading, 3/9 sub-jobs, phase migrate_traffic_1"
        );
        w.metadata.generation = Some(2);
        assert!(
            progress_line("a", Some(&w)).contains("observe generation 2"),
            "{}",
            progress_line("a", Some(&w))
        );
        assert!(progress_line("a", None).contains("not found"));
        assert!(progress_line("a", Some(&watch("a", 1, None))).contains("no status"));
    }
}
