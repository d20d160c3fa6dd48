//! The reconciler: the only module doing I/O on both sides, Kubernetes and the
//! cloud. Each reconcile of a `VpnGatewayJobWatch` is a short pipeline:
//!
//! 0. **initialise** (I/O, first time only): write Ready=Unknown before any cloud
//!    call, so a new watch never looks finished to kstatus;
//! 1. **gate** (pure): nothing to do once the job finished for this generation, or
//!    while suspended; not yet if this watch's next poll is still ahead;
//! 2. **fetch** (I/O): check the endpoint against `--allowed-endpoints`, read the
//!    credentials Secret, ask the [`JobSource`];
//! 3. **compute** (pure): [`status::observe`] or [`status::on_error`];
//! 4. **write** (I/O): server-side apply of `/status`, only when it changed;
//! 5. **announce** (I/O): one Event per transition, derived from old vs new status;
//! 6. **requeue**: the poll interval, a per-watch back-off, or wait for a change.
//!
//! Our own status writes trigger reconciles too; the per-watch schedule in the
//! [`Context`] turns those into no-ops instead of extra cloud calls.
//!
//! Each reconcile runs in a `reconcile` span with the watch's `namespace`, its
//! name as `watch` (`name` would clash with the span's own name in JSON logs) and
//! `job_id` once known, so every line logged meanwhile carries them.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use futures::{StreamExt, future::BoxFuture};
use jiff::Timestamp;
use k8s_openapi::api::core::v1::Secret;
use kube::{
    Api, Resource, ResourceExt,
    api::{Patch, PatchParams},
    runtime::{
        Controller,
        controller::{self, Action},
        events::{Event, EventType, Recorder, Reporter},
        reflector::Store,
        watcher,
    },
};
use rand::Rng;
use regex::Regex;
use serde_json::json;
use tracing::{Instrument, Span, debug, field, info, info_span, warn};

use crate::{
    clock::Clock,
    crd::{
        READY, VpnGatewayJobWatch, VpnGatewayJobWatchSpec as Spec,
        VpnGatewayJobWatchStatus as Status,
    },
    huawei::{self, Class, Credentials, Endpoint},
    metrics::Metrics,
    source::{JobQuery, JobSource},
    status::{self, Transition, TransitionType, reason},
};

/// The field manager of every status write.
pub const FIELD_MANAGER: &str = "vpnjob-operator";
/// The `reportingController` of our Events.
pub const CONTROLLER_NAME: &str = "vpnjob.io/vpngatewayjobwatch-controller";
/// Default of `--allowed-endpoints`: Huawei Cloud's public VPN endpoints, https only.
pub const DEFAULT_ALLOWED_ENDPOINTS: &str =
    r"^https://vpn\.[a-z0-9-]+\.myhuaweicloud\.(com|eu|cn)$";

/// Key names in the credentials Secret.
pub mod secret_key {
    /// The access key.
    pub const ACCESS_KEY: &str = "accessKey";
    /// The secret key.
    pub const SECRET_KEY: &str = "secretKey";
    /// The optional security token of temporary credentials.
    pub const SECURITY_TOKEN: &str = "securityToken";
}

/// Operator settings that shape every reconcile.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Credentials are only ever sent to endpoints matching this.
    pub allowed_endpoints: Regex,
    /// A floor on every watch's poll interval.
    pub min_poll_interval: Duration,
}

/// Everything a reconcile needs, built once and shared.
pub struct Context {
    kube: kube::Client,
    source: Arc<dyn JobSource>,
    recorder: Recorder,
    clock: Arc<dyn Clock>,
    settings: Settings,
    schedule: Mutex<HashMap<(String, String), Schedule>>,
    metrics: Arc<Metrics>,
}

/// When a watch may next call the cloud, and how often it failed in a row.
#[derive(Debug, Clone, Copy)]
struct Schedule {
    generation: i64,
    next_poll: Timestamp,
    failures: u32,
}

/// Errors that end a reconcile early (Kubernetes API trouble). Cloud and
/// credential problems are not errors here: they become conditions.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Writing `/status` failed.
    #[error("could not write the status of {namespace}/{name}")]
    WriteStatus {
        /// Namespace of the watch.
        namespace: String,
        /// Name of the watch.
        name: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },
    /// The object came without a namespace (the CRD is namespaced: never expected).
    #[error("watch {0} has no namespace")]
    MissingNamespace(String),
}

impl Error {
    /// A stable PascalCase tag, for logs and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            Error::WriteStatus { .. } => "WriteStatusFailed",
            Error::MissingNamespace(_) => "MissingNamespace",
        }
    }
}

/// Why a fetch produced no jobs: becomes a condition, an Event and a requeue.
#[derive(Debug)]
struct Failure {
    reason: &'static str,
    message: String,
    /// Only a spec change can fix it.
    stalled: bool,
    /// Back-off: first delay and ceiling.
    backoff: (Duration, Duration),
    /// The server's own wish.
    retry_after: Option<Duration>,
}

impl Failure {
    fn credentials(message: String) -> Self {
        // A Secret created by ExternalSecrets seconds later must be picked up
        // within half a minute.
        Self::transient(reason::CREDENTIALS_NOT_FOUND, message, (2, 30))
    }

    fn transient(reason: &'static str, message: String, (base, cap): (u64, u64)) -> Self {
        Self {
            reason,
            message,
            stalled: false,
            backoff: (Duration::from_secs(base), Duration::from_secs(cap)),
            retry_after: None,
        }
    }

    fn stalled(reason: &'static str, message: String) -> Self {
        Self {
            stalled: true,
            ..Self::transient(reason, message, (0, 0))
        }
    }

    fn from_cloud(err: &huawei::Error) -> Self {
        let message = format!("Huawei Cloud API call failed: {err}");
        let mut failure = match err.class() {
            // Five consecutive 401s lock the access key for five minutes: wait
            // at least a minute between tries.
            Class::Authentication => {
                Self::transient(reason::AUTHENTICATION_FAILED, message, (60, 300))
            }
            Class::NotFound => Self::stalled(reason::GATEWAY_NOT_FOUND, message),
            Class::InvalidRequest => Self::stalled(reason::INVALID_SPEC, message),
            Class::Retryable | Class::Other => {
                Self::transient(reason::CLOUD_API_ERROR, message, (5, 300))
            }
        };
        failure.retry_after = err.retry_after();
        failure
    }
}

impl Context {
    /// A context; Events are reported as [`CONTROLLER_NAME`] from `instance`
    /// (the pod name).
    pub fn new(
        kube: kube::Client,
        source: Arc<dyn JobSource>,
        clock: Arc<dyn Clock>,
        settings: Settings,
        instance: Option<String>,
    ) -> Self {
        let reporter = Reporter {
            controller: CONTROLLER_NAME.into(),
            instance,
        };
        Self {
            recorder: Recorder::new(kube.clone(), reporter),
            kube,
            source,
            clock,
            settings,
            schedule: Mutex::default(),
            metrics: Arc::default(),
        }
    }

    /// This context, recording into `metrics` (by default, metrics registered
    /// nowhere).
    pub fn with_metrics(self, metrics: Arc<Metrics>) -> Self {
        Self { metrics, ..self }
    }
}

/// Reconciles one watch, in its span and timed. See the module documentation
/// for the steps.
pub async fn reconcile(watch: Arc<VpnGatewayJobWatch>, ctx: Arc<Context>) -> Result<Action, Error> {
    let span = info_span!(
        "reconcile",
        namespace = watch.metadata.namespace.as_deref(),
        watch = %watch.name_any(),
        job_id = field::Empty,
    );
    if let Some(job_id) = watch.status.as_ref().and_then(|s| s.job_id.as_deref()) {
        span.record("job_id", job_id);
    }
    let started = Instant::now();
    let result = reconcile_watch(&watch, &ctx).instrument(span).await;
    ctx.metrics.reconciled(
        result.as_ref().map(|_| ()).map_err(Error::reason),
        started.elapsed(),
    );
    result
}

async fn reconcile_watch(watch: &VpnGatewayJobWatch, ctx: &Context) -> Result<Action, Error> {
    let now = ctx.clock.now();
    let key = key_of(watch)?;
    let generation = watch.metadata.generation.unwrap_or_default();
    let mut prev = watch.status.clone();
    if prev.as_ref().is_none_or(|s| s.condition(READY).is_none()) {
        let first = status::initializing(prev.as_ref(), generation, now);
        ctx.write(watch, prev.as_ref(), &first).await?;
        prev = Some(first);
    }
    if !status::needs_poll(&watch.spec, prev.as_ref(), generation) {
        ctx.forget(&key);
        return Ok(Action::await_change());
    }
    if let Some(wait) = ctx.not_yet(&key, generation, now) {
        return Ok(Action::requeue(wait));
    }

    match ctx.fetch(watch, &key.0).await {
        Ok(list) => {
            for bad in &list.malformed {
                warn!(job = ?bad.id, error = %bad.error, "skipped a malformed job");
            }
            let seen = status::observe(
                prev.as_ref(),
                &watch.spec,
                generation,
                &list.jobs,
                now,
                ctx.settings.min_poll_interval,
            );
            if let Some(job_id) = &seen.status.job_id {
                Span::current().record("job_id", job_id.as_str());
            }
            ctx.write(watch, prev.as_ref(), &seen.status).await?;
            ctx.announce(watch, &seen.transitions).await;
            ctx.polled(key, generation, seen.poll_after, now);
            Ok(seen
                .poll_after
                .map_or_else(Action::await_change, Action::requeue))
        }
        Err(failure) => {
            info!(reason = failure.reason, message = %failure.message, "watch could not be polled");
            let next = status::on_error(
                prev.as_ref(),
                generation,
                failure.reason,
                failure.message.clone(),
                failure.stalled,
                now,
            );
            ctx.write(watch, prev.as_ref(), &next).await?;
            ctx.announce(watch, &status::transitions(prev.as_ref(), &next))
                .await;
            if failure.stalled {
                ctx.forget(&key);
                return Ok(Action::await_change());
            }
            Ok(Action::requeue(ctx.failed(key, generation, &failure, now)))
        }
    }
}

/// Requeue after a Kubernetes API error: exponential back-off with jitter, per
/// watch, capped at five minutes.
pub fn error_policy(watch: Arc<VpnGatewayJobWatch>, error: &Error, ctx: Arc<Context>) -> Action {
    warn!(
        namespace = watch.metadata.namespace.as_deref(),
        watch = %watch.name_any(),
        job_id = watch.status.as_ref().and_then(|s| s.job_id.as_deref()),
        error = error as &dyn std::error::Error,
        reason = error.reason(),
        "reconcile failed"
    );
    let Ok(key) = key_of(&watch) else {
        return Action::requeue(Duration::from_secs(300));
    };
    let failure = Failure::transient(error.reason(), String::new(), (5, 300));
    let generation = watch.metadata.generation.unwrap_or_default();
    Action::requeue(ctx.failed(key, generation, &failure, ctx.clock.now()))
}

impl Context {
    async fn fetch(
        &self,
        watch: &VpnGatewayJobWatch,
        namespace: &str,
    ) -> Result<huawei::JobList, Failure> {
        let endpoint = self.endpoint(&watch.spec)?;
        let credentials = self.credentials(namespace, &watch.spec).await?;
        let query = JobQuery {
            endpoint: &endpoint,
            credentials: &credentials,
            project_id: &watch.spec.project_id,
            gateway_id: &watch.spec.gateway_id,
        };
        self.source
            .jobs(query)
            .await
            .map_err(|e| Failure::from_cloud(&e))
    }

    /// The endpoint the spec names, if the operator may send credentials there.
    fn endpoint(&self, spec: &Spec) -> Result<Endpoint, Failure> {
        let endpoint = match (&spec.endpoint, &spec.region) {
            (Some(url), _) => Endpoint::parse(url),
            (None, Some(region)) => Endpoint::for_region(region),
            (None, None) => {
                return Err(Failure::stalled(
                    reason::INVALID_SPEC,
                    "spec names neither region nor endpoint".into(),
                ));
            }
        }
        .map_err(|e| Failure::stalled(reason::ENDPOINT_NOT_ALLOWED, e.to_string()))?;
        if !self.settings.allowed_endpoints.is_match(endpoint.as_str()) {
            return Err(Failure::stalled(
                reason::ENDPOINT_NOT_ALLOWED,
                format!(
                    "endpoint {endpoint} does not match the operator's --allowed-endpoints {}; no request was sent",
                    self.settings.allowed_endpoints.as_str()
                ),
            ));
        }
        Ok(endpoint)
    }

    /// Reads the credentials Secret (one `get`, in the watch's own namespace).
    async fn credentials(&self, namespace: &str, spec: &Spec) -> Result<Credentials, Failure> {
        let name = &spec.credentials_secret_ref.name;
        let secrets: Api<Secret> = Api::namespaced(self.kube.clone(), namespace);
        let secret = match secrets.get_opt(name).await {
            Ok(Some(secret)) => secret,
            Ok(None) => {
                return Err(Failure::credentials(format!(
                    "Secret {namespace}/{name} not found"
                )));
            }
            Err(e) => {
                return Err(Failure::credentials(format!(
                    "could not read Secret {namespace}/{name}: {}",
                    kube_reason(&e)
                )));
            }
        };
        let value = |key: &str| -> Option<String> {
            let bytes = secret.data.as_ref()?.get(key)?;
            let text = std::str::from_utf8(&bytes.0).ok()?.trim();
            (!text.is_empty()).then(|| text.to_owned())
        };
        let required = |key: &str| {
            value(key).ok_or_else(|| {
                Failure::credentials(format!(
                    "Secret {namespace}/{name} has no non-empty UTF-8 key {key}"
                ))
            })
        };
        Ok(Credentials::new(
            required(secret_key::ACCESS_KEY)?,
            required(secret_key::SECRET_KEY)?,
        )
        .with_security_token(value(secret_key::SECURITY_TOKEN)))
    }

    /// Server-side apply of the status we own; nothing is sent when unchanged.
    async fn write(
        &self,
        watch: &VpnGatewayJobWatch,
        prev: Option<&Status>,
        next: &Status,
    ) -> Result<(), Error> {
        if prev == Some(next) {
            return Ok(());
        }
        let (namespace, name) = key_of(watch)?;
        let api: Api<VpnGatewayJobWatch> = Api::namespaced(self.kube.clone(), &namespace);
        let patch = json!({
            "apiVersion": VpnGatewayJobWatch::api_version(&()),
            "kind": VpnGatewayJobWatch::kind(&()),
            "status": next,
        });
        api.patch_status(
            &name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&patch),
        )
        .await
        .map_err(|source| Error::WriteStatus {
            namespace,
            name,
            source,
        })?;
        if let Some(ready) = next.condition(READY)
            && prev
                .and_then(|p| p.condition(READY))
                .map(|c| (c.status, &c.reason))
                != Some((ready.status, &ready.reason))
        {
            info!(ready = ready.status.as_str(), reason = %ready.reason, "ready condition changed");
        }
        Ok(())
    }

    /// Publishes one Event per transition. Best effort: Events expire, the
    /// status is the record.
    async fn announce(&self, watch: &VpnGatewayJobWatch, transitions: &[Transition]) {
        let reference = watch.object_ref(&());
        for t in transitions {
            let event = Event {
                type_: match t.type_ {
                    TransitionType::Normal => EventType::Normal,
                    TransitionType::Warning => EventType::Warning,
                },
                reason: t.reason.into(),
                note: Some(t.note.clone()),
                action: t.action.clone(),
                secondary: None,
            };
            if let Err(e) = self.recorder.publish(&event, &reference).await {
                warn!(
                    error = &e as &dyn std::error::Error,
                    reason = t.reason,
                    "could not publish an event"
                );
            }
        }
    }

    /// Time left before this watch may call the cloud again, if any.
    fn not_yet(&self, key: &(String, String), generation: i64, now: Timestamp) -> Option<Duration> {
        let schedule = self.schedule.lock().unwrap_or_else(|e| e.into_inner());
        let entry = schedule.get(key).filter(|s| s.generation == generation)?;
        let wait = Duration::try_from(entry.next_poll.duration_since(now)).ok()?;
        (!wait.is_zero()).then_some(wait)
    }

    fn polled(
        &self,
        key: (String, String),
        generation: i64,
        poll_after: Option<Duration>,
        now: Timestamp,
    ) {
        let mut schedule = self.schedule.lock().unwrap_or_else(|e| e.into_inner());
        match poll_after {
            Some(after) => {
                schedule.insert(
                    key,
                    Schedule {
                        generation,
                        next_poll: crate::clock::add(now, after),
                        failures: 0,
                    },
                );
            }
            None => {
                schedule.remove(&key);
            }
        }
    }

    /// Records a failure and returns the back-off before the next try:
    /// `min(cap, base * 2^(n-1))`, jittered to between half and all of it, and
    /// never shorter than the server's `Retry-After`.
    fn failed(
        &self,
        key: (String, String),
        generation: i64,
        failure: &Failure,
        now: Timestamp,
    ) -> Duration {
        let mut schedule = self.schedule.lock().unwrap_or_else(|e| e.into_inner());
        let failures = schedule
            .get(&key)
            .filter(|s| s.generation == generation)
            .map_or(0, |s| s.failures)
            .saturating_add(1);
        let (base, cap) = failure.backoff;
        let ceiling = base
            .saturating_mul(1u32.checked_shl(failures - 1).unwrap_or(u32::MAX))
            .min(cap);
        let half = ceiling / 2;
        let jitter = Duration::from_millis(rand::rng().random_range(0..=half.as_millis() as u64));
        let delay = (half + jitter).max(failure.retry_after.unwrap_or_default());
        let delay = delay.max(Duration::from_secs(1));
        debug!(namespace = %key.0, name = %key.1, failures, delay_ms = delay.as_millis() as u64, "backing off");
        schedule.insert(
            key,
            Schedule {
                generation,
                next_poll: crate::clock::add(now, delay),
                failures,
            },
        );
        delay
    }

    fn forget(&self, key: &(String, String)) {
        self.schedule
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
    }
}

fn key_of(watch: &VpnGatewayJobWatch) -> Result<(String, String), Error> {
    let namespace = watch
        .namespace()
        .ok_or_else(|| Error::MissingNamespace(watch.name_any()))?;
    Ok((namespace, watch.name_any()))
}

/// A short reason for a Kubernetes API error, never its full text.
fn kube_reason(error: &kube::Error) -> String {
    match error {
        kube::Error::Api(status) => format!("{} ({})", status.reason, status.code),
        _ => "the Kubernetes API could not be reached".into(),
    }
}

/// Runs one controller per watched namespace (all namespaces when `namespaces` is
/// empty) until SIGTERM or SIGINT.
pub async fn run(ctx: Arc<Context>, namespaces: &[String], concurrency: u16) {
    controllers(ctx, namespaces, concurrency).run().await;
}

/// One controller per watched namespace, built but not yet running; see
/// [`controllers`].
pub struct Controllers {
    stores: Vec<Store<VpnGatewayJobWatch>>,
    run: BoxFuture<'static, ()>,
}

/// Builds one controller per watched namespace (all namespaces when `namespaces`
/// is empty), stopping on SIGTERM or SIGINT, and has `ctx`'s metrics count the
/// watches in their caches (`vpnjob_watches`).
pub fn controllers(ctx: Arc<Context>, namespaces: &[String], concurrency: u16) -> Controllers {
    let apis: Vec<Api<VpnGatewayJobWatch>> = if namespaces.is_empty() {
        vec![Api::all(ctx.kube.clone())]
    } else {
        namespaces
            .iter()
            .map(|ns| Api::namespaced(ctx.kube.clone(), ns))
            .collect()
    };
    let controllers: Vec<_> = apis
        .into_iter()
        .map(|api| {
            Controller::new(api, watcher::Config::default().any_semantic())
                .with_config(controller::Config::default().concurrency(concurrency))
                .shutdown_on_signal()
        })
        .collect();
    let stores: Vec<_> = controllers.iter().map(Controller::store).collect();
    let census = stores.clone();
    ctx.metrics.count_watches(move |visitor| {
        for watch in census.iter().flat_map(Store::state) {
            visitor(
                watch
                    .status
                    .as_ref()
                    .and_then(|s| s.condition(READY))
                    .map(|c| c.reason.as_str()),
            );
        }
    });
    let running: Vec<_> = controllers
        .into_iter()
        .map(|controller| {
            controller
                .run(reconcile, error_policy, ctx.clone())
                .for_each(|result| async move {
                    match result {
                        Ok((object, _)) => {
                            debug!(namespace = ?object.namespace, watch = %object.name, "reconciled")
                        }
                        Err(e) => warn!(error = &e as &dyn std::error::Error, "controller error"),
                    }
                })
        })
        .collect();
    let run = Box::pin(async move {
        futures::future::join_all(running).await;
        info!("controller stopped");
    });
    Controllers { stores, run }
}

impl Controllers {
    /// Resolves to true once every controller's cache holds its initial list
    /// (the watches are synced), or to false if the controllers stopped first.
    pub fn synced(&self) -> impl Future<Output = bool> + Send + 'static {
        let stores = self.stores.clone();
        async move {
            futures::future::join_all(stores.iter().map(Store::wait_until_ready))
                .await
                .iter()
                .all(Result::is_ok)
        }
    }

    /// Runs the controllers until SIGTERM or SIGINT.
    pub async fn run(self) {
        self.run.await;
    }
}
