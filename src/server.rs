//! The operator's one HTTP port: `/healthz` (the process serves), `/readyz` (its
//! watches are synced) and `/metrics` (Prometheus text).

use std::{
    future::Future,
    io,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use axum::{
    Router,
    extract::State as Extract,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tracing::warn;

use crate::metrics;

/// Whether the operator is ready to serve: set once, by whoever knows. Cheap to
/// clone; clones share the flag.
#[derive(Debug, Clone, Default)]
pub struct Readiness(Arc<AtomicBool>);

impl Readiness {
    /// Marks the operator ready.
    pub fn set_ready(&self) {
        self.0.store(true, Ordering::Release);
    }

    /// True once [`Readiness::set_ready`] was called.
    pub fn is_ready(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// What the endpoints answer from.
#[derive(Debug, Clone)]
pub struct State {
    registry: Arc<Registry>,
    readiness: Readiness,
}

impl State {
    /// Serves `registry` on `/metrics` and `readiness` on `/readyz`.
    pub fn new(registry: Arc<Registry>, readiness: Readiness) -> Self {
        Self {
            registry,
            readiness,
        }
    }
}

/// The routes, for [`serve`] or a test.
pub fn router(state: State) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(state)
}

/// Serves [`router`] on `listener` until `shutdown` resolves, then finishes the
/// requests in flight.
pub async fn serve(
    listener: TcpListener,
    state: State,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}

const TEXT: &str = "text/plain; charset=utf-8";

async fn healthz() -> Response {
    ([(header::CONTENT_TYPE, TEXT)], "ok\n").into_response()
}

async fn readyz(Extract(state): Extract<State>) -> Response {
    if state.readiness.is_ready() {
        ([(header::CONTENT_TYPE, TEXT)], "ok\n").into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONTENT_TYPE, TEXT)],
            "watches not synced yet\n",
        )
            .into_response()
    }
}

async fn metrics(Extract(state): Extract<State>) -> Response {
    match metrics::render(&state.registry) {
        Ok(text) => ([(header::CONTENT_TYPE, metrics::CONTENT_TYPE)], text).into_response(),
        Err(e) => {
            warn!(
                error = &e as &dyn std::error::Error,
                "could not render metrics"
            );
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::metrics::{Metrics, PREFIX};

    async fn get(client: &reqwest::Client, url: String) -> (u16, String, String) {
        let response = client.get(url).send().await.unwrap();
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        (status, content_type, response.text().await.unwrap())
    }

    #[tokio::test]
    async fn probes_and_metrics_are_served_and_the_server_stops_on_request() {
        let mut registry = Registry::with_prefix(PREFIX);
        let metrics = Metrics::register(&mut registry);
        metrics.reconciled(Ok(()), Duration::from_millis(3));
        let readiness = Readiness::default();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(
            listener,
            State::new(Arc::new(registry), readiness.clone()),
            async {
                let _ = stopped.await;
            },
        ));
        crate::huawei::install_crypto_provider();
        let client = reqwest::Client::new();

        let (status, _, body) = get(&client, format!("{base}/healthz")).await;
        assert_eq!((status, body.as_str()), (200, "ok\n"));
        let (status, _, _) = get(&client, format!("{base}/readyz")).await;
        assert_eq!(status, 503, "not ready before the watches synced");
        readiness.set_ready();
        let (status, _, _) = get(&client, format!("{base}/readyz")).await;
        assert_eq!(status, 200);

        let (status, content_type, body) = get(&client, format!("{base}/metrics")).await;
        assert_eq!(status, 200);
        assert!(content_type.starts_with("text/plain"), "{content_type}");
        assert!(
            body.contains("# TYPE vpnjob_reconcile_duration_seconds histogram"),
            "{body}"
        );
        assert!(
            body.contains("vpnjob_reconciles_total{result=\"ok\"} 1"),
            "{body}"
        );

        let (status, _, _) = get(&client, format!("{base}/nope")).await;
        assert_eq!(status, 404);

        drop(client);
        stop.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(5), server)
            .await
            .expect("the server stops when asked")
            .unwrap()
            .unwrap();
    }
}
