//! `vpnjob-sim`: a local stand-in for the Huawei Cloud VPN jobs API
//! (`GET /v5/{project_id}/vpn-gateways/jobs`), for tests, demos and users' CI.
//!
//! A [`Scenario`] scripts who may call, which jobs each project has at which
//! moment, and which faults to inject. [`start`] serves it over HTTP on any
//! address (tests use `127.0.0.1:0`). Every request is routed, then its
//! `SDK-HMAC-SHA256` signature is verified (with the gateway's 15-minute date
//! window and its access-key lockout), then faults apply, then the project's
//! jobs are paged as the real API pages them.
//!
//! Time comes only from the [`Clock`] passed to [`start`]: scenario times count
//! from `clock.now()` at start, so tests advance a `ManualClock` instead of
//! sleeping. The one exception is the `delay` fault, which waits wall-clock time
//! because it exists to exercise real client timeouts.
//!
//! Depends on `huawei::{signer, model, Credentials}` only, never on the client
//! or on Kubernetes. See `docs/simulator.md` for the scenario format.

mod auth;
mod listing;
mod scenario;
mod server;

use std::{
    collections::VecDeque,
    io,
    net::SocketAddr,
    sync::{Arc, Mutex, MutexGuard},
    time::Duration,
};

use jiff::Timestamp;
use tokio::{sync::oneshot, task::JoinHandle};

pub use self::{
    auth::{LOCKOUT_AFTER_FAILURES, LOCKOUT_DURATION, MAX_CLOCK_SKEW},
    scenario::{Scenario, ScenarioError},
};
use crate::clock::Clock;

/// Page sizes. The defaults (200 and 200) follow the documented range of the
/// sibling VPN v5 list APIs; the jobs API documents none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Page size when a request has no `limit`.
    pub page_size_default: u32,
    /// Largest `limit` accepted; a larger one is a `400 VPN.0001`.
    pub page_size_max: u32,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            page_size_default: 200,
            page_size_max: 200,
        }
    }
}

/// One request the simulator answered, for tests to inspect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    /// When it arrived, by the simulator's clock.
    pub at: Timestamp,
    /// HTTP method.
    pub method: String,
    /// Path as received (percent-encoded), without the query.
    pub path: String,
    /// Raw query string as received (empty when none).
    pub query: String,
    /// Status of the answer; 499 when the client went away before it.
    pub status: u16,
    /// The request ID sent in `X-Request-Id` and the body.
    pub request_id: String,
    /// The access key the `Authorization` header named, if readable.
    pub access_key: Option<String>,
    /// The project ID of a jobs path.
    pub project: Option<String>,
    /// Kinds of the faults applied (`error`, `delay`, `malformed`, `repeatMarker`).
    pub faults: Vec<&'static str>,
    /// The `error_msg` of an answer the simulator refused itself (routing,
    /// authentication, project, parameters); `None` otherwise.
    pub error: Option<String>,
}

/// Most requests kept for [`Running::requests`]; older ones are dropped (the
/// count in [`Running::request_count`] keeps going).
pub const MAX_RECORDS: usize = 10_000;

/// A running simulator. Dropping it stops serving; [`Running::shutdown`] also
/// waits for in-flight requests.
pub struct Running {
    addr: SocketAddr,
    shared: Arc<server::Shared>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<io::Result<()>>>,
}

/// How long [`Running::shutdown`] waits for in-flight requests.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Serves `scenario` on `listen` (e.g. `127.0.0.1:0` for a free port) until the
/// returned [`Running`] is shut down or dropped.
///
/// Scenario times count from `clock.now()` at this call. Fails when the address
/// cannot be bound, or with `InvalidInput` when the page sizes are 0 or the
/// default exceeds the maximum.
pub async fn start(
    scenario: Scenario,
    listen: SocketAddr,
    clock: Arc<dyn Clock>,
    options: Options,
) -> io::Result<Running> {
    if options.page_size_default == 0
        || options.page_size_max == 0
        || options.page_size_default > options.page_size_max
    {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "page sizes must be at least 1 with the default ({}) at most the maximum ({})",
                options.page_size_default, options.page_size_max
            ),
        ));
    }
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let shared = Arc::new(server::Shared::new(scenario, clock, options));
    let app = axum::Router::new()
        .fallback(server::handle)
        .with_state(Arc::clone(&shared));
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                // A dropped sender stops the server too.
                let _ = stopped.await;
            })
            .await
    });
    Ok(Running {
        addr,
        shared,
        stop: Some(stop),
        task: Some(task),
    })
}

impl Running {
    /// Base URL, e.g. `http://127.0.0.1:40123` (no trailing slash).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The clock time scenario times count from.
    pub fn started_at(&self) -> Timestamp {
        self.shared.started_at()
    }

    /// Time since start, by the simulator's clock.
    pub fn elapsed(&self) -> Duration {
        self.shared.elapsed()
    }

    /// The most recent requests (up to [`MAX_RECORDS`]), oldest first.
    pub fn requests(&self) -> Vec<RequestRecord> {
        lock(&self.shared.records).iter().cloned().collect()
    }

    /// How many requests have been answered since start.
    pub fn request_count(&self) -> usize {
        self.shared.request_count()
    }

    /// Replaces the scenario. Times still count from the original start; fault
    /// `times` counters, failure counts and lockouts start afresh.
    pub fn set_scenario(&self, scenario: Scenario) {
        self.shared.set_scenario(scenario);
    }

    /// Stops accepting connections and waits (up to 5 s) for in-flight requests.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut task) = self.task.take()
            && tokio::time::timeout(SHUTDOWN_GRACE, &mut task)
                .await
                .is_err()
        {
            task.abort();
        }
    }
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Locks a mutex, carrying on past a poisoned one: the data are plain values.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// Records with the newest last, capped at [`MAX_RECORDS`].
#[derive(Debug, Default)]
pub(crate) struct Records {
    items: VecDeque<RequestRecord>,
}

impl Records {
    fn push(&mut self, record: RequestRecord) {
        if self.items.len() == MAX_RECORDS {
            self.items.pop_front();
        }
        self.items.push_back(record);
    }

    fn iter(&self) -> impl Iterator<Item = &RequestRecord> {
        self.items.iter()
    }
}
