//! The operator against a REAL kube-apiserver + etcd (hack/control-plane) and
//! vpnjob-sim: the gating tier.
//!
//! Each test gets its own namespace, simulator and in-process operator (watching
//! only that namespace), so tests run in parallel on one control plane. They are
//! `#[ignore]`d for a bare `cargo test`; `make test` runs them through
//! `hack/with-control-plane`, which provides `VPNJOB_TEST_KUBECONFIG`.

mod support;

use std::{
    collections::BTreeMap,
    path::PathBuf,
    process::Command,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};
use support::KillOnDrop;

use k8s_openapi::{
    api::{
        core::v1::{Namespace, Secret},
        events::v1::Event,
    },
    apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
};
use kube::{
    Api, ResourceExt,
    api::{DynamicObject, ListParams, Patch, PatchParams, PostParams},
    config::{KubeConfigOptions, Kubeconfig},
    core::{ApiResource, GroupVersionKind},
};
use serde_json::{Value, json};
use vpnjob_operator::{
    clock::{Clock, SystemClock},
    crd::{self, VpnGatewayJobWatch},
    huawei::{self, Transport},
    reconciler::{self, Context, Settings},
    simulator::{self, Running, Scenario},
    source::DirectSource,
};

const IGNORE: &str = "needs a control plane: run through `make test` (hack/with-control-plane)";
const PROJECT: &str = "0123456789abcdef0123456789abcdef";
const GATEWAY: &str = "f8576538-0ffa-45d7-97f5-9783e0228cb5";
const AK: &str = "OPERATORTESTAK000001";
const SK: &str = "operator-test-secret-key-000000000000001";

// ---------------------------------------------------------------- harness

struct Env {
    kube: kube::Client,
    ns: String,
    kubeconfig: PathBuf,
}

static NEXT_NS: AtomicUsize = AtomicUsize::new(0);

/// A client, the CRD installed, and a fresh namespace named after the test.
async fn env(test: &str) -> Env {
    let kubeconfig: PathBuf = std::env::var_os("VPNJOB_TEST_KUBECONFIG")
        .expect("VPNJOB_TEST_KUBECONFIG is not set: run through hack/with-control-plane")
        .into();
    let config = kube::Config::from_custom_kubeconfig(
        Kubeconfig::read_from(&kubeconfig).unwrap(),
        &KubeConfigOptions::default(),
    )
    .await
    .unwrap();
    huawei::install_crypto_provider();
    let kube = kube::Client::try_from(config).unwrap();

    let crds: Api<CustomResourceDefinition> = Api::all(kube.clone());
    crds.patch(
        "vpngatewayjobwatches.vpnjob.io",
        &PatchParams::apply("vpnjob-tests").force(),
        &Patch::Apply(crd::crd()),
    )
    .await
    .unwrap();
    eventually(Duration::from_secs(30), "the CRD to be established", || {
        let crds = crds.clone();
        async move {
            let crd = crds.get("vpngatewayjobwatches.vpnjob.io").await.ok()?;
            let established = crd
                .status?
                .conditions?
                .into_iter()
                .any(|c| c.type_ == "Established" && c.status == "True");
            established.then_some(())
        }
    })
    .await;

    let ns = format!(
        "{test}-{}-{}",
        std::process::id(),
        NEXT_NS.fetch_add(1, Ordering::SeqCst)
    );
    let namespaces: Api<Namespace> = Api::all(kube.clone());
    namespaces
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": ns}})).unwrap(),
        )
        .await
        .unwrap();
    Env {
        kube,
        ns,
        kubeconfig,
    }
}

impl Env {
    fn watches(&self) -> Api<VpnGatewayJobWatch> {
        Api::namespaced(self.kube.clone(), &self.ns)
    }

    async fn secret(&self, name: &str, access_key: &str, secret_key: &str) {
        let secrets: Api<Secret> = Api::namespaced(self.kube.clone(), &self.ns);
        let secret = serde_json::from_value(json!({
            "metadata": {"name": name},
            "stringData": {"accessKey": access_key, "secretKey": secret_key},
        }))
        .unwrap();
        secrets
            .create(&PostParams::default(), &secret)
            .await
            .unwrap();
    }

    /// Creates a watch of GATEWAY at `endpoint`; `extra` is merged into the spec.
    async fn watch(&self, name: &str, endpoint: &str, extra: Value) {
        let mut spec = json!({
            "projectId": PROJECT,
            "gatewayId": GATEWAY,
            "endpoint": endpoint,
            "credentialsSecretRef": {"name": "creds"},
            "pollInterval": "1s",
        });
        for (k, v) in extra.as_object().unwrap() {
            spec[k] = v.clone();
        }
        let watch: VpnGatewayJobWatch = serde_json::from_value(json!({
            "apiVersion": "vpnjob.io/v1alpha1",
            "kind": "VpnGatewayJobWatch",
            "metadata": {"name": name},
            "spec": spec,
        }))
        .unwrap();
        self.watches()
            .create(&PostParams::default(), &watch)
            .await
            .unwrap();
    }

    /// The usual start: a simulator over `steps`, the Secret `creds`, the watch
    /// `up` on that simulator and an operator allowed to call it.
    async fn start(&self, steps: &[Value]) -> (Running, Operator) {
        let sim = sim(scenario(steps)).await;
        self.secret("creds", AK, SK).await;
        self.watch("up", &sim.url(), json!({})).await;
        let operator = self.operator(&sim.url());
        (sim, operator)
    }

    /// Starts an operator for this namespace only, allowed to call `sim_url`.
    fn operator(&self, sim_url: &str) -> Operator {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let transport = Transport::new(
            huawei::Settings {
                request_timeout: Duration::from_secs(5),
                ..huawei::Settings::default()
            },
            clock.clone(),
        )
        .unwrap();
        let settings = Settings {
            allowed_endpoints: regex::Regex::new(&format!("^{}$", regex::escape(sim_url))).unwrap(),
            min_poll_interval: Duration::from_millis(500),
        };
        let ctx = Arc::new(Context::new(
            self.kube.clone(),
            Arc::new(DirectSource::new(transport)),
            clock,
            settings,
            Some("operator-test".into()),
        ));
        let ns = self.ns.clone();
        Operator(tokio::spawn(async move {
            reconciler::run(ctx, &[ns], 4).await;
        }))
    }

    /// Waits until the watch satisfies `pred`; panics with its last status.
    async fn wait_for(
        &self,
        name: &str,
        what: &str,
        pred: impl Fn(&VpnGatewayJobWatch) -> bool,
    ) -> VpnGatewayJobWatch {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let watch = self.watches().get(name).await.unwrap();
            if pred(&watch) {
                return watch;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {name} to be {what}; status: {}",
                serde_json::to_string_pretty(&watch.status).unwrap()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// (reason, action, note) of every Event about `name`, oldest first.
    async fn events(&self, name: &str) -> Vec<(String, String, String)> {
        let api: Api<Event> = Api::namespaced(self.kube.clone(), &self.ns);
        let mut events: Vec<Event> = api
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name))
            .collect();
        events.sort_by_key(|e| e.event_time.as_ref().map(|t| t.0));
        events
            .into_iter()
            .map(|e| {
                (
                    e.reason.unwrap_or_default(),
                    e.action.unwrap_or_default(),
                    e.note.unwrap_or_default(),
                )
            })
            .collect()
    }

    fn kubectl(&self, args: &[&str]) -> std::process::Output {
        let kubectl = std::env::var("KUBECTL").unwrap_or_else(|_| "bin/kubectl".into());
        Command::new(kubectl)
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(["-n", &self.ns])
            .args(args)
            .output()
            .expect("kubectl runs")
    }
}

/// An in-process operator; stopped when dropped.
struct Operator(tokio::task::JoinHandle<()>);

impl Drop for Operator {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn eventually<T, F, Fut>(within: Duration, what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn condition(watch: &VpnGatewayJobWatch, type_: &str) -> Option<(String, String, String)> {
    let c = watch.status.as_ref()?.condition(type_)?;
    Some((
        c.status.as_str().to_owned(),
        c.reason.clone(),
        c.message.clone(),
    ))
}

fn is(watch: &VpnGatewayJobWatch, type_: &str, status: &str, reason: &str) -> bool {
    let generation = watch.metadata.generation;
    let current = watch
        .status
        .as_ref()
        .is_some_and(|s| s.observed_generation == generation);
    current && condition(watch, type_).is_some_and(|(s, r, _)| s == status && r == reason)
}

/// A job of GATEWAY at step `done` of nine sub-jobs, with `status`.
fn job(status: &str, done: usize, error: Option<&str>) -> Value {
    const STEPS: [&str; 9] = [
        "prepare_resource",
        "upgrade_worker_1",
        "migrate_traffic_1",
        "migrate_network_1",
        "service_ready_check_1",
        "upgrade_worker_2",
        "migrate_traffic_2",
        "migrate_network_2",
        "service_ready_check_2",
    ];
    let sub_jobs: Vec<Value> = STEPS
        .iter()
        .enumerate()
        .map(|(i, step)| {
            let sub_status = match (i.cmp(&done), status) {
                (std::cmp::Ordering::Less, _) => "success",
                (std::cmp::Ordering::Equal, "fail") => "fail",
                (std::cmp::Ordering::Equal, "upgrading" | "running") => "running",
                _ => "init",
            };
            json!({
                "id": format!("00000000-0000-4000-8000-{i:012}"),
                "job_type": step,
                "entity": if i == 0 { json!({}) } else { json!({"ip_address": "192.168.1.2"}) },
                "status": sub_status,
                "created_at": "2026-12-01T10:00:00.123456789Z",
                "error_message": if sub_status == "fail" { json!(error) } else { Value::Null },
            })
        })
        .collect();
    json!({
        "id": "5968875c-8c28-447c-bd36-7b4917e5b742",
        "resource_id": GATEWAY,
        "job_type": "upgrade",
        "status": status,
        "created_at": "2026-12-01T10:00:00.679462Z",
        "error_message": error,
        "sub_jobs": sub_jobs,
    })
}

/// A scenario whose job goes through `steps` (at 0s, 1s, 2s, ...).
fn scenario(steps: &[Value]) -> Scenario {
    let timeline: Vec<Value> = steps
        .iter()
        .enumerate()
        .map(|(i, job)| json!({"at": format!("{i}s"), "jobs": [job]}))
        .collect();
    let doc = json!({
        "credentials": [{"accessKey": AK, "secretKey": SK}],
        "projects": {PROJECT: {"timeline": timeline}},
    });
    Scenario::from_yaml(&doc.to_string()).unwrap()
}

async fn sim(scenario: Scenario) -> Running {
    simulator::start(
        scenario,
        "127.0.0.1:0".parse().unwrap(),
        Arc::new(SystemClock),
        simulator::Options::default(),
    )
    .await
    .unwrap()
}

fn reasons(events: &[(String, String, String)]) -> Vec<&str> {
    events.iter().map(|(r, _, _)| r.as_str()).collect()
}

// ---------------------------------------------------------------- tests

/// The API server itself refuses bad specs, naming the offending field.
#[tokio::test]
#[ignore = "needs a control plane: run through `make test` (hack/with-control-plane)"]
async fn the_api_server_rejects_bad_specs_naming_the_field() {
    let _ = IGNORE;
    let env = env("schema").await;
    let gvk = GroupVersionKind::gvk("vpnjob.io", "v1alpha1", "VpnGatewayJobWatch");
    let api: Api<DynamicObject> = Api::namespaced_with(
        env.kube.clone(),
        &env.ns,
        &ApiResource::from_gvk_with_plural(&gvk, "vpngatewayjobwatches"),
    );
    let good = json!({
        "projectId": PROJECT,
        "gatewayId": GATEWAY,
        "region": "cn-north-4",
        "credentialsSecretRef": {"name": "creds"},
    });
    let object = |name: &str, spec: &Value| -> DynamicObject {
        serde_json::from_value(json!({
            "apiVersion": "vpnjob.io/v1alpha1",
            "kind": "VpnGatewayJobWatch",
            "metadata": {"name": name},
            "spec": spec,
        }))
        .unwrap()
    };
    let with = |key: &str, value: Value| {
        let mut spec = good.clone();
        if value.is_null() {
            spec.as_object_mut().unwrap().remove(key);
        } else {
            spec[key] = value;
        }
        spec
    };
    let cases = [
        ("no-gateway", with("gatewayId", Value::Null), "gatewayId"),
        (
            "bad-project",
            with("projectId", json!("NOT-HEX")),
            "projectId",
        ),
        (
            "both-targets",
            with("endpoint", json!("https://vpn.example.com")),
            "endpoint",
        ),
        (
            "fast-poll",
            with("pollInterval", json!("fast")),
            "pollInterval",
        ),
    ];
    for (name, spec, field) in cases {
        let err = api
            .create(&PostParams::default(), &object(name, &spec))
            .await
            .expect_err(name);
        let message = err.to_string();
        assert!(message.contains(field), "{name}: {message}");
    }

    api.create(&PostParams::default(), &object("good", &good))
        .await
        .expect("a good spec is accepted");
    let err = api
        .patch(
            "good",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"gatewayId": "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9"}})),
        )
        .await
        .expect_err("gatewayId is immutable");
    assert!(err.to_string().contains("gatewayId"), "{err}");
    api.patch(
        "good",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"pollInterval": "30s"}})),
    )
    .await
    .expect("tunables stay patchable");
}

/// init → upgrading (sub-jobs one by one) → pending_upgrade_confirm → success:
/// Reconciling all along, then Ready=True, with the Events in order; the real
/// `kubectl wait --for=condition=Ready` returns.
#[tokio::test]
#[ignore = "needs a control plane: run through `make test` (hack/with-control-plane)"]
async fn a_successful_upgrade_ends_ready_with_events_in_order() {
    let env = env("success").await;
    let (_sim, _operator) = env
        .start(&[
            job("init", 0, None),
            job("upgrading", 0, None),
            job("upgrading", 3, None),
            job("upgrading", 6, None),
            job("pending_upgrade_confirm", 9, None),
            job("success", 9, None),
        ])
        .await;

    let seen = env
        .wait_for("up", "Reconciling (in progress)", |w| {
            condition(w, "Reconciling").is_some_and(|(s, _, _)| s == "True")
        })
        .await;
    assert!(condition(&seen, "Stalled").is_none());
    let done = env
        .wait_for("up", "Ready", |w| {
            is(w, "Ready", "True", "UpgradeSucceeded")
        })
        .await;
    assert!(condition(&done, "Reconciling").is_none());
    assert!(condition(&done, "Stalled").is_none());
    let status = done.status.unwrap();
    assert_eq!(status.progress.as_deref(), Some("9/9"));
    assert_eq!(status.job_status.as_deref(), Some("success"));

    let output = env.kubectl(&["wait", "--for=condition=Ready", "vgjw/up", "--timeout=30s"]);
    assert!(output.status.success(), "{output:?}");

    let events = env.events("up").await;
    let reasons = reasons(&events);
    assert_eq!(reasons.first(), Some(&"JobFound"), "{reasons:?}");
    assert_eq!(reasons.last(), Some(&"UpgradeSucceeded"), "{reasons:?}");
    let pos = |r: &str| reasons.iter().position(|x| *x == r).unwrap_or(usize::MAX);
    assert!(
        pos("Upgrading") < pos("AwaitingConfirmation"),
        "{reasons:?}"
    );
    assert!(
        pos("AwaitingConfirmation") < pos("UpgradeSucceeded"),
        "{reasons:?}"
    );
    let succeeded: Vec<&str> = events
        .iter()
        .filter(|(r, _, _)| r == "SubJobSucceeded")
        .map(|(_, a, _)| a.as_str())
        .collect();
    assert_eq!(
        succeeded.len(),
        9,
        "one Event per finished sub-job: {events:?}"
    );
    assert_eq!(succeeded[0], "PrepareResource");
}

/// A failed upgrade ends Stalled=True UpgradeFailed carrying the cloud's error.
#[tokio::test]
#[ignore = "needs a control plane: run through `make test` (hack/with-control-plane)"]
async fn a_failed_upgrade_stalls_with_the_cloud_error_message() {
    let env = env("fail").await;
    let (_sim, _operator) = env
        .start(&[
            job("upgrading", 1, None),
            job("fail", 2, Some("BGP session did not re-establish")),
        ])
        .await;
    let done = env
        .wait_for("up", "Stalled UpgradeFailed", |w| {
            is(w, "Stalled", "True", "UpgradeFailed")
        })
        .await;
    let (ready, reason, _) = condition(&done, "Ready").unwrap();
    assert_eq!(
        (ready.as_str(), reason.as_str()),
        ("False", "UpgradeFailed")
    );
    let (_, _, message) = condition(&done, "Stalled").unwrap();
    assert!(
        message.contains("BGP session did not re-establish"),
        "{message}"
    );
    assert!(condition(&done, "Reconciling").is_none());
}

/// rollback_success ends Stalled=True RolledBack.
#[tokio::test]
#[ignore = "needs a control plane: run through `make test` (hack/with-control-plane)"]
async fn a_rollback_stalls_as_rolled_back() {
    let env = env("rollback").await;
    let (_sim, _operator) = env
        .start(&[
            job("pending_upgrade_confirm", 9, None),
            job("rolling_back", 9, None),
            job("rollback_success", 9, None),
        ])
        .await;
    env.wait_for("up", "Stalled RolledBack", |w| {
        is(w, "Stalled", "True", "RolledBack")
    })
    .await;
    let reasons_seen = env.events("up").await;
    assert!(
        reasons(&reasons_seen).contains(&"RollingBack"),
        "{reasons_seen:?}"
    );
}

/// pending_upgrade_confirm is in progress with reason AwaitingConfirmation, and
/// polling an unchanged world writes nothing to the API server.
#[tokio::test]
#[ignore = "needs a control plane: run through `make test` (hack/with-control-plane)"]
async fn awaiting_confirmation_is_reconciling_and_unchanged_polls_write_nothing() {
    let env = env("confirm").await;
    let (sim, _operator) = env.start(&[job("pending_upgrade_confirm", 9, None)]).await;
    let seen = env
        .wait_for("up", "AwaitingConfirmation", |w| {
            is(w, "Ready", "False", "AwaitingConfirmation")
                && condition(w, "Reconciling").is_some_and(|(s, _, _)| s == "True")
        })
        .await;
    let version = seen.resource_version();
    let requests = sim.request_count();
    tokio::time::sleep(Duration::from_secs(4)).await;
    let later = env.watches().get("up").await.unwrap();
    assert!(
        sim.request_count() >= requests + 2,
        "the operator kept polling"
    );
    assert_eq!(
        later.resource_version(),
        version,
        "no write while nothing changed"
    );
}

/// No job for the gateway yet: Ready=False WaitingForJob, Reconciling.
#[tokio::test]
#[ignore = "needs a control plane: run through `make test` (hack/with-control-plane)"]
async fn no_job_yet_is_waiting_for_job() {
    let env = env("nojob").await;
    let (_sim, _operator) = env.start(&[]).await;
    env.wait_for("up", "WaitingForJob", |w| {
        is(w, "Ready", "False", "WaitingForJob")
            && condition(w, "Reconciling")
                .is_some_and(|(s, r, _)| s == "True" && r == "WaitingForJob")
    })
    .await;
}

/// A missing Secret is a condition with a reason, not a crash; creating the
/// Secret later is picked up without touching the watch.
#[tokio::test]
#[ignore = "needs a control plane: run through `make test` (hack/with-control-plane)"]
async fn a_missing_secret_is_reported_and_a_late_secret_recovers() {
    let env = env("nosecret").await;
    let sim = sim(scenario(&[job("success", 9, None)])).await;
    env.watch("up", &sim.url(), json!({})).await;
    let _operator = env.operator(&sim.url());
    let seen = env
        .wait_for("up", "CredentialsNotFound", |w| {
            is(w, "Ready", "False", "CredentialsNotFound")
        })
        .await;
    assert!(
        condition(&seen, "Stalled").is_none(),
        "a missing Secret never stalls"
    );
    assert_eq!(sim.request_count(), 0);
    env.secret("creds", AK, SK).await;
    env.wait_for("up", "Ready after the Secret appeared", |w| {
        is(w, "Ready", "True", "UpgradeSucceeded")
    })
    .await;
}

/// Wrong keys: AuthenticationFailed, and the API is not hammered (five
/// consecutive 401s would lock the access key).
#[tokio::test]
#[ignore = "needs a control plane: run through `make test` (hack/with-control-plane)"]
async fn wrong_keys_are_authentication_failed_without_hammering_the_api() {
    let env = env("badkeys").await;
    let sim = sim(scenario(&[job("upgrading", 1, None)])).await;
    env.secret("creds", AK, "not-the-secret-key").await;
    env.watch("up", &sim.url(), json!({})).await;
    let _operator = env.operator(&sim.url());
    let seen = env
        .wait_for("up", "AuthenticationFailed", |w| {
            is(w, "Ready", "False", "AuthenticationFailed")
        })
        .await;
    let (_, _, message) = condition(&seen, "Ready").unwrap();
    assert!(message.contains("APIGW.0301"), "{message}");
    assert!(!message.contains("not-the-secret-key"), "{message}");
    tokio::time::sleep(Duration::from_secs(5)).await;
    let statuses: Vec<u16> = sim.requests().iter().map(|r| r.status).collect();
    assert_eq!(
        statuses,
        [401],
        "one try, then a back-off of a minute or more"
    );
}

/// A disallowed endpoint stalls the watch and no request is ever sent there.
#[tokio::test]
#[ignore = "needs a control plane: run through `make test` (hack/with-control-plane)"]
async fn a_disallowed_endpoint_stalls_and_sends_nothing() {
    let env = env("endpoint").await;
    let sim = sim(scenario(&[job("upgrading", 1, None)])).await;
    env.secret("creds", AK, SK).await;
    // The operator only allows another address.
    let other = sim.url().replace("127.0.0.1", "127.0.0.2");
    env.watch("up", &sim.url(), json!({})).await;
    let _operator = env.operator(&other);
    let seen = env
        .wait_for("up", "EndpointNotAllowed", |w| {
            is(w, "Stalled", "True", "EndpointNotAllowed")
        })
        .await;
    assert!(condition(&seen, "Reconciling").is_none());
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(sim.request_count(), 0);
}

/// An operator restarted mid-job announces every transition exactly once.
#[tokio::test]
#[ignore = "needs a control plane: run through `make test` (hack/with-control-plane)"]
async fn a_restart_mid_job_emits_no_duplicate_events() {
    let env = env("restart").await;
    let steps: Vec<Value> = (0..=9)
        .map(|done| job("upgrading", done, None))
        .chain([job("success", 9, None)])
        .collect();
    let sim = sim(scenario(&steps)).await;
    env.secret("creds", AK, SK).await;
    env.watch("up", &sim.url(), json!({})).await;
    let first = env.operator(&sim.url());
    env.wait_for("up", "mid-job", |w| {
        w.status
            .as_ref()
            .and_then(|s| s.sub_jobs_completed)
            .is_some_and(|n| n >= 2)
    })
    .await;
    drop(first);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let _second = env.operator(&sim.url());
    env.wait_for("up", "Ready", |w| {
        is(w, "Ready", "True", "UpgradeSucceeded")
    })
    .await;
    let events = env.events("up").await;
    let mut counts: BTreeMap<(String, String), usize> = BTreeMap::new();
    for (reason, action, _) in &events {
        *counts.entry((reason.clone(), action.clone())).or_default() += 1;
    }
    let duplicates: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        duplicates.is_empty(),
        "duplicates: {duplicates:?} in {events:?}"
    );
    assert_eq!(
        counts.get(&("JobFound".into(), "ResolveJob".into())),
        Some(&1)
    );
    assert_eq!(
        counts.get(&("UpgradeSucceeded".into(), "PollJob".into())),
        Some(&1)
    );
}

/// The real binary runs against the cluster and stops cleanly on SIGTERM.
#[tokio::test]
#[ignore = "needs a control plane: run through `make test` (hack/with-control-plane)"]
async fn the_operator_binary_reconciles_and_stops_cleanly_on_sigterm() {
    let env = env("binary").await;
    let sim = sim(scenario(&[job("success", 9, None)])).await;
    env.secret("creds", AK, SK).await;
    env.watch("up", &sim.url(), json!({})).await;
    let mut child = Command::new(env!("CARGO_BIN_EXE_vpnjob-operator"))
        .args(["run", "--namespaces", &env.ns, "--min-poll-interval", "1s"])
        .args([
            "--allowed-endpoints",
            &format!("^{}$", regex::escape(&sim.url())),
        ])
        .args(["--log-format", "json", "--http-port", "0"])
        .env("KUBECONFIG", &env.kubeconfig)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    env.wait_for("up", "Ready", |w| {
        is(w, "Ready", "True", "UpgradeSucceeded")
    })
    .await;
    let status = support::terminate(&mut child).await;
    assert!(status.success(), "{status:?}");
    let mut logs = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut logs).unwrap();
    assert!(!logs.contains(SK), "the secret key reached the logs");
    let first = logs.lines().next().unwrap_or_default();
    assert!(
        serde_json::from_str::<Value>(first).is_ok(),
        "--log-format json writes JSON lines: {first}"
    );
}

/// The binary serves /healthz, /readyz (200 once its watches are synced) and
/// /metrics on --http-port, counting cloud requests and watches without secrets;
/// its log lines carry the watch and job; SIGTERM stops it all with exit 0.
#[tokio::test]
#[ignore = "needs a control plane: run through `make test` (hack/with-control-plane)"]
async fn the_operator_binary_serves_probes_and_metrics_on_its_http_port() {
    let env = env("http").await;
    let sim = sim(scenario(&[job("success", 9, None)])).await;
    env.secret("creds", AK, SK).await;
    env.watch("up", &sim.url(), json!({})).await;
    let mut child = KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_vpnjob-operator"))
            .args(["run", "--namespaces", &env.ns, "--min-poll-interval", "1s"])
            .args([
                "--allowed-endpoints",
                &format!("^{}$", regex::escape(&sim.url())),
            ])
            .args(["--log-format", "json", "--http-port", "0"])
            .env("KUBECONFIG", &env.kubeconfig)
            .env("RUST_LOG", "info")
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    // stderr is read on a thread; the logged address gives the port.
    let (lines, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let stderr = child.0.stderr.take().unwrap();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let _ = lines.send(line);
        }
    });
    let mut logs = Vec::new();
    let port = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let line = rx.recv().await.expect("the operator exited early");
            let line: Value = serde_json::from_str(&line).expect("JSON log lines");
            let port = line["address"]
                .as_str()
                .and_then(|a| a.parse::<std::net::SocketAddr>().ok())
                .map(|a| a.port());
            logs.push(line);
            if let Some(port) = port {
                return port;
            }
        }
    })
    .await
    .expect("the HTTP address is logged");
    let http = reqwest::Client::new();
    let get = |path: &str| {
        let request = http.get(format!("http://127.0.0.1:{port}{path}")).send();
        async move {
            let response = request.await.ok()?;
            let status = response.status().as_u16();
            Some((status, response.text().await.ok()?))
        }
    };

    assert_eq!(get("/healthz").await.map(|r| r.0), Some(200));
    eventually(Duration::from_secs(30), "/readyz to answer 200", || async {
        get("/readyz").await.filter(|(status, _)| *status == 200)
    })
    .await;
    let done = env
        .wait_for("up", "Ready", |w| {
            is(w, "Ready", "True", "UpgradeSucceeded")
        })
        .await;
    let metrics = eventually(Duration::from_secs(30), "the watch in /metrics", || async {
        get("/metrics")
            .await
            .map(|(_, text)| text)
            .filter(|text| text.contains("vpnjob_watches{ready_reason=\"UpgradeSucceeded\"} 1"))
    })
    .await;
    for sample in [
        "vpnjob_cloud_requests_total{status=\"200\"} ",
        "vpnjob_reconciles_total{result=\"ok\"} ",
        "vpnjob_reconcile_duration_seconds_count ",
    ] {
        assert!(metrics.contains(sample), "no {sample} in\n{metrics}");
    }
    for secret in [AK, SK] {
        assert!(!metrics.contains(secret), "{secret} reached /metrics");
    }

    let status = support::terminate(&mut child.0).await;
    assert!(status.success(), "{status:?}");
    while let Some(line) = rx.recv().await {
        assert!(!line.contains(SK), "the secret key reached the logs");
        logs.push(serde_json::from_str(&line).expect("JSON log lines"));
    }
    let job_id = done.status.unwrap().job_id.unwrap();
    let ready_line = logs
        .iter()
        .find(|l| l["message"] == "ready condition changed" && l["reason"] == "UpgradeSucceeded");
    let span = &ready_line.expect("the Ready change is logged")["span"];
    assert_eq!(
        (&span["namespace"], &span["watch"], &span["job_id"]),
        (&json!(env.ns), &json!("up"), &json!(job_id)),
        "{ready_line:?}"
    );
}

// ---------------------------------------------------------------- vpnjob-operator wait

/// Starts `vpnjob-operator wait -n <ns> ARGS` against the control plane.
fn wait_command(env: &Env, args: &[&str]) -> tokio::task::JoinHandle<std::process::Output> {
    let mut command = Command::new(env!("CARGO_BIN_EXE_vpnjob-operator"));
    command
        .args(["wait", "-n", &env.ns])
        .args(args)
        .env("KUBECONFIG", &env.kubeconfig);
    tokio::task::spawn_blocking(move || command.output().expect("vpnjob-operator runs"))
}

/// (type, status, reason) of every condition, as a testdata manifest of the Argo
/// CD health script or a live watch carries them.
fn condition_shapes(status: &Value) -> Vec<(String, String, String)> {
    status["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            let field = |k: &str| c[k].as_str().unwrap_or_default().to_owned();
            (field("type"), field("status"), field("reason"))
        })
        .collect()
}

fn argocd_testdata(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!(
        "docs/integrations/argocd/resource_customizations/vpnjob.io/VpnGatewayJobWatch/testdata/{name}.yaml"
    ));
    serde_saphyr::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// `wait` started before the watch exists waits for it, prints one progress line
/// per change, and exits 0 once it is Ready; the live status has the conditions
/// of the Argo CD testdata for a success.
#[tokio::test]
#[ignore = "needs a control plane: run through `make test` (hack/with-control-plane)"]
async fn the_wait_command_exits_0_once_ready_printing_progress() {
    let env = env("waitok").await;
    let sim = sim(scenario(&[
        job("init", 0, None),
        job("upgrading", 0, None),
        job("upgrading", 3, None),
        job("upgrading", 3, None),
        job("upgrading", 6, None),
        job("upgrading", 6, None),
        job("pending_upgrade_confirm", 9, None),
        job("success", 9, None),
    ]))
    .await;
    env.secret("creds", AK, SK).await;
    let waiting = wait_command(&env, &["--timeout", "60s", "up"]);
    tokio::time::sleep(Duration::from_secs(1)).await;
    env.watch("up", &sim.url(), json!({})).await;
    let _operator = env.operator(&sim.url());

    let output = tokio::time::timeout(Duration::from_secs(90), waiting)
        .await
        .expect("wait returns")
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("up: Ready (UpgradeSucceeded): Upgrade succeeded: 9/9 sub-jobs finished"),
        "{stdout}"
    );
    let lines: Vec<&str> = stderr.lines().collect();
    assert!(lines[0].contains("up: not found yet"), "{stderr}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("Ready=False Upgrading, job upgrading, ") && l.contains("phase ")),
        "{stderr}"
    );
    assert!(
        lines
            .last()
            .unwrap()
            .contains("up: Ready=True UpgradeSucceeded, job success, 9/9 sub-jobs"),
        "{stderr}"
    );
    let unique: std::collections::BTreeSet<&&str> = lines.iter().collect();
    assert_eq!(unique.len(), lines.len(), "one line per change: {stderr}");

    let live = serde_json::to_value(env.watches().get("up").await.unwrap().status).unwrap();
    assert_eq!(
        condition_shapes(&live),
        condition_shapes(&argocd_testdata("healthy_success")["status"]),
        "the Argo CD testdata must carry what the operator really writes"
    );
}

/// `wait` for several watches exits 1 as soon as one is Stalled, naming it with
/// its reason and message, even while another one does not exist.
#[tokio::test]
#[ignore = "needs a control plane: run through `make test` (hack/with-control-plane)"]
async fn the_wait_command_exits_1_as_soon_as_one_watch_stalls() {
    let env = env("waitfail").await;
    let (_sim, _operator) = env
        .start(&[
            job("upgrading", 1, None),
            job("fail", 2, Some("BGP session did not re-establish")),
        ])
        .await;
    let output = tokio::time::timeout(
        Duration::from_secs(90),
        wait_command(&env, &["--timeout", "60s", "up", "not-created"]),
    )
    .await
    .expect("wait returns")
    .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("error: up is Stalled: UpgradeFailed: ")
            && last.contains("BGP session did not re-establish"),
        "{stderr}"
    );
    assert!(stderr.contains("not-created: not found yet"), "{stderr}");

    let live = serde_json::to_value(env.watches().get("up").await.unwrap().status).unwrap();
    assert_eq!(
        condition_shapes(&live),
        condition_shapes(&argocd_testdata("degraded_fail")["status"]),
        "the Argo CD testdata must carry what the operator really writes"
    );
}

/// `wait` exits 2 when the timeout passes first, and 3 on other errors:
/// forbidden, no kubeconfig, bad arguments.
#[tokio::test]
#[ignore = "needs a control plane: run through `make test` (hack/with-control-plane)"]
async fn the_wait_command_exits_2_on_timeout_and_3_on_errors_such_as_forbidden() {
    let env = env("waittimeout").await;
    let (_sim, _operator) = env.start(&[job("upgrading", 3, None)]).await;
    env.wait_for("up", "Upgrading", |w| is(w, "Ready", "False", "Upgrading"))
        .await;
    let started = Instant::now();
    let output = wait_command(&env, &["--timeout", "2s", "up"])
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(20));
    assert!(
        stderr.contains(
            "up: Ready=False Upgrading, job upgrading, 3/9 sub-jobs, phase migrate_network_1"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("error: timed out after 2s waiting for up"),
        "{stderr}"
    );

    // Forbidden: a ServiceAccount without any role may not list watches.
    assert!(
        env.kubectl(&["create", "serviceaccount", "nobody"])
            .status
            .success()
    );
    let token = env.kubectl(&["create", "token", "nobody"]);
    assert!(token.status.success(), "{token:?}");
    let token = String::from_utf8(token.stdout).unwrap();
    let kubeconfig = std::env::temp_dir().join(format!("{}-nobody.kubeconfig", env.ns));
    std::fs::copy(&env.kubeconfig, &kubeconfig).unwrap();
    let kubectl = std::env::var("KUBECTL").unwrap_or_else(|_| "bin/kubectl".into());
    for args in [
        vec![
            "config",
            "set-credentials",
            "nobody",
            &format!("--token={}", token.trim()),
        ],
        vec!["config", "set-context", "--current", "--user=nobody"],
    ] {
        let status = Command::new(&kubectl)
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .args(&args)
            .output()
            .unwrap();
        assert!(status.status.success(), "{status:?}");
    }
    let output = Command::new(env!("CARGO_BIN_EXE_vpnjob-operator"))
        .args(["wait", "-n", &env.ns, "--timeout", "30s", "up"])
        .env("KUBECONFIG", &kubeconfig)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&kubeconfig);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert!(stderr.to_lowercase().contains("forbidden"), "{stderr}");

    // No usable kubeconfig, and a usage error: 3 (never clap's 2).
    let output = Command::new(env!("CARGO_BIN_EXE_vpnjob-operator"))
        .args(["wait", "up"])
        .env("KUBECONFIG", "/nonexistent/kubeconfig")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3), "{output:?}");
    let output = Command::new(env!("CARGO_BIN_EXE_vpnjob-operator"))
        .args(["wait", "--timeout", "soon", "up"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3), "{output:?}");
}
