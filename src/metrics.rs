//! The operator's Prometheus metrics (served on `/metrics` by [`crate::server`]).
//!
//! Every label value comes from a fixed set (result, `reason()` tags, HTTP
//! statuses, Ready reasons), never from free text, so series stay bounded and no
//! message, URL or credential can reach a scrape.
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `vpnjob_reconciles_total` | counter | `result`: `ok`, `error` |
//! | `vpnjob_reconcile_errors_total` | counter | `reason`: [`crate::reconciler::Error::reason`] |
//! | `vpnjob_reconcile_duration_seconds` | histogram | |
//! | `vpnjob_cloud_requests_total` | counter | `status`: HTTP status, `timeout`, `connect_error`, `transport_error` |
//! | `vpnjob_watches` | gauge | `ready_reason`: a [`status::READY_REASONS`] entry, `None`, `Other` |
//!
//! `vpnjob_watches` is counted at scrape time from the controllers' caches (see
//! [`Metrics::count_watches`]): those hold exactly the statuses the reconciler
//! wrote, as the API server returned them, and drop a watch as soon as it is
//! deleted, so the gauge needs no bookkeeping of its own and cannot keep a
//! deleted watch.

use std::{
    collections::BTreeMap,
    fmt,
    sync::{Arc, RwLock},
    time::Duration,
};

use prometheus_client::{
    collector::Collector,
    encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric},
    metrics::{
        counter::Counter,
        family::Family,
        gauge::Gauge,
        histogram::{Histogram, exponential_buckets},
    },
    registry::{Registry, Unit},
};

use crate::{huawei, status};

/// The prefix of every metric name.
pub const PREFIX: &str = "vpnjob";

/// `ready_reason` of a watch without a Ready condition yet.
const NO_REASON: &str = "None";
/// `ready_reason` of a reason this version does not know (written by someone else).
const OTHER_REASON: &str = "Other";

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    result: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabels {
    status: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReadyReasonLabels {
    ready_reason: &'static str,
}

/// The operator's metrics. Cheap to update from any task.
#[derive(Debug)]
pub struct Metrics {
    reconciles: Family<ResultLabels, Counter>,
    reconcile_errors: Family<ReasonLabels, Counter>,
    reconcile_duration: Histogram,
    cloud_requests: Family<StatusLabels, Counter>,
    watches: Arc<WatchCensus>,
}

impl Default for Metrics {
    /// Metrics registered nowhere: updates are kept but never served.
    fn default() -> Self {
        Self {
            reconciles: Family::default(),
            reconcile_errors: Family::default(),
            // 5 ms .. ~82 s: a reconcile may wait out cloud timeouts and retries.
            reconcile_duration: Histogram::new(exponential_buckets(0.005, 2.0, 15)),
            cloud_requests: Family::default(),
            watches: Arc::default(),
        }
    }
}

impl Metrics {
    /// Creates the metrics and registers them in `registry`, whose prefix should
    /// be [`PREFIX`] (`Registry::with_prefix(PREFIX)`).
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self::default();
        // Both results are present from the start, so `rate()` sees the first error.
        for result in ["ok", "error"] {
            let _ = metrics.reconciles.get_or_create(&ResultLabels { result });
        }
        registry.register(
            "reconciles",
            "Reconciles of VpnGatewayJobWatch objects, by result (error: a Kubernetes API \
             failure; cloud failures are conditions and count as ok)",
            metrics.reconciles.clone(),
        );
        registry.register(
            "reconcile_errors",
            "Reconciles that failed, by reason",
            metrics.reconcile_errors.clone(),
        );
        registry.register_with_unit(
            "reconcile_duration",
            "Duration of one reconcile",
            Unit::Seconds,
            metrics.reconcile_duration.clone(),
        );
        registry.register(
            "cloud_requests",
            "Huawei Cloud API requests by HTTP status (or timeout, connect_error, \
             transport_error), every attempt including retries",
            metrics.cloud_requests.clone(),
        );
        registry.register_collector(Box::new(metrics.watches.clone()));
        metrics
    }

    /// Records one reconcile: `Err` carries the error's `reason()` tag.
    pub fn reconciled(&self, result: Result<(), &'static str>, took: Duration) {
        self.reconcile_duration.observe(took.as_secs_f64());
        let result = match result {
            Ok(()) => "ok",
            Err(reason) => {
                self.reconcile_errors
                    .get_or_create(&ReasonLabels { reason })
                    .inc();
                "error"
            }
        };
        self.reconciles
            .get_or_create(&ResultLabels { result })
            .inc();
    }

    /// Records one cloud API attempt.
    pub fn cloud_request(&self, outcome: huawei::RequestOutcome) {
        let status = match outcome {
            huawei::RequestOutcome::Status(code) => code.to_string(),
            huawei::RequestOutcome::Timeout => "timeout".into(),
            huawei::RequestOutcome::Connect => "connect_error".into(),
            huawei::RequestOutcome::Transport => "transport_error".into(),
        };
        self.cloud_requests
            .get_or_create(&StatusLabels { status })
            .inc();
    }

    /// An observer for `huawei::Settings::observer` feeding
    /// `vpnjob_cloud_requests_total`.
    pub fn cloud_observer(self: &Arc<Self>) -> huawei::Observer {
        let metrics = Arc::clone(self);
        huawei::Observer::new(move |outcome| metrics.cloud_request(outcome))
    }

    /// Where `vpnjob_watches` is counted from at each scrape: `visit` is called
    /// with `visitor`, which it must call once per watch with the reason of its
    /// Ready condition (`None` without one). Replaces any earlier source.
    pub fn count_watches(
        &self,
        visit: impl Fn(&mut dyn FnMut(Option<&str>)) + Send + Sync + 'static,
    ) {
        *self
            .watches
            .visit
            .write()
            .unwrap_or_else(|e| e.into_inner()) = Some(Box::new(visit));
    }
}

type Visit = Box<dyn Fn(&mut dyn FnMut(Option<&str>)) + Send + Sync>;

/// `vpnjob_watches`, counted afresh at every scrape.
#[derive(Default)]
struct WatchCensus {
    visit: RwLock<Option<Visit>>,
}

impl fmt::Debug for WatchCensus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WatchCensus").finish_non_exhaustive()
    }
}

impl WatchCensus {
    fn counts(&self) -> BTreeMap<&'static str, i64> {
        let mut counts = BTreeMap::new();
        let visit = self.visit.read().unwrap_or_else(|e| e.into_inner());
        if let Some(visit) = visit.as_ref() {
            visit(&mut |reason| *counts.entry(ready_reason_label(reason)).or_default() += 1);
        }
        counts
    }
}

impl Collector for WatchCensus {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        let counts = self.counts();
        if counts.is_empty() {
            // Like an empty family in the registry: no series, no descriptor.
            return Ok(());
        }
        let family = Family::<ReadyReasonLabels, Gauge>::default();
        for (ready_reason, n) in counts {
            family
                .get_or_create(&ReadyReasonLabels { ready_reason })
                .set(n);
        }
        let metric = encoder.encode_descriptor(
            "watches",
            "VpnGatewayJobWatch objects by the reason of their Ready condition",
            None,
            family.metric_type(),
        )?;
        family.encode(metric)
    }
}

/// A Ready reason as a label value from a fixed set.
fn ready_reason_label(reason: Option<&str>) -> &'static str {
    match reason {
        None => NO_REASON,
        Some(reason) => status::READY_REASONS
            .iter()
            .find(|known| **known == reason)
            .copied()
            .unwrap_or(OTHER_REASON),
    }
}

/// Renders `registry` in the Prometheus text format (version 0.0.4).
pub fn render(registry: &Registry) -> Result<String, fmt::Error> {
    let mut text = String::new();
    prometheus_client::encoding::prometheus_text::encode(&mut text, registry)?;
    Ok(text)
}

/// The `Content-Type` of [`render`]'s output.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::{
        clock::{Clock, SystemClock},
        huawei::{Credentials, Endpoint, RequestOutcome, RetryPolicy, Settings, Transport},
        simulator::{self, Scenario},
    };

    const PROJECT: &str = "0123456789abcdef0123456789abcdef";
    const AK: &str = "METRICSTESTAK0000001";
    const SK: &str = "metrics-test-SECRET-key-000000000000001";
    const WRONG_SK: &str = "metrics-test-WRONG-secret-00000000000001";

    fn registered() -> (Registry, Arc<Metrics>) {
        let mut registry = Registry::with_prefix(PREFIX);
        let metrics = Arc::new(Metrics::register(&mut registry));
        (registry, metrics)
    }

    /// The sample lines of `text` (no `#` comments).
    fn samples(text: &str) -> Vec<&str> {
        text.lines().filter(|l| !l.starts_with('#')).collect()
    }

    #[test]
    fn every_metric_is_rendered_with_its_prefix_unit_and_labels() {
        let (registry, metrics) = registered();
        metrics.reconciled(Ok(()), Duration::from_millis(20));
        metrics.reconciled(Err("WriteStatusFailed"), Duration::from_millis(40));
        metrics.cloud_request(RequestOutcome::Status(200));
        metrics.cloud_request(RequestOutcome::Timeout);
        metrics.cloud_request(RequestOutcome::Connect);
        metrics.count_watches(|visitor| {
            for reason in [Some("Upgrading"), Some("Upgrading"), None, Some("Made up")] {
                visitor(reason);
            }
        });
        let text = render(&registry).unwrap();
        for line in [
            "# TYPE vpnjob_reconciles_total counter",
            "vpnjob_reconciles_total{result=\"ok\"} 1",
            "vpnjob_reconciles_total{result=\"error\"} 1",
            "vpnjob_reconcile_errors_total{reason=\"WriteStatusFailed\"} 1",
            "# TYPE vpnjob_reconcile_duration_seconds histogram",
            "vpnjob_reconcile_duration_seconds_count 2",
            "vpnjob_reconcile_duration_seconds_bucket{le=\"+Inf\"} 2",
            "# TYPE vpnjob_cloud_requests_total counter",
            "vpnjob_cloud_requests_total{status=\"200\"} 1",
            "vpnjob_cloud_requests_total{status=\"timeout\"} 1",
            "vpnjob_cloud_requests_total{status=\"connect_error\"} 1",
            "# TYPE vpnjob_watches gauge",
            "vpnjob_watches{ready_reason=\"Upgrading\"} 2",
            "vpnjob_watches{ready_reason=\"None\"} 1",
            "vpnjob_watches{ready_reason=\"Other\"} 1",
        ] {
            assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
        }
        assert!(!text.contains("Made up"), "free text became a label");
        for sample in samples(&text) {
            assert!(sample.starts_with("vpnjob_"), "{sample}");
        }
    }

    #[test]
    fn both_reconcile_results_exist_before_any_reconcile() {
        let (registry, _metrics) = registered();
        let text = render(&registry).unwrap();
        assert!(
            text.contains("vpnjob_reconciles_total{result=\"ok\"} 0"),
            "{text}"
        );
        assert!(
            text.contains("vpnjob_reconciles_total{result=\"error\"} 0"),
            "{text}"
        );
        assert!(
            !text.contains("vpnjob_watches"),
            "no census source, no series"
        );
    }

    #[test]
    fn the_watch_census_is_recounted_at_every_scrape() {
        let (registry, metrics) = registered();
        let watches = Arc::new(std::sync::Mutex::new(vec!["Upgrading", "UpgradeSucceeded"]));
        let source = watches.clone();
        metrics.count_watches(move |visitor| {
            for reason in source.lock().unwrap().iter() {
                visitor(Some(reason));
            }
        });
        let text = render(&registry).unwrap();
        assert!(
            text.contains("vpnjob_watches{ready_reason=\"Upgrading\"} 1"),
            "{text}"
        );
        // One watch finished, the other was deleted.
        *watches.lock().unwrap() = vec!["UpgradeSucceeded"];
        let text = render(&registry).unwrap();
        assert!(!text.contains("Upgrading\""), "{text}");
        assert!(
            text.contains("vpnjob_watches{ready_reason=\"UpgradeSucceeded\"} 1"),
            "{text}"
        );
    }

    /// The observer in the real client sees each attempt: a refused key is one
    /// 401 under status="401", and no credential reaches the scrape.
    #[tokio::test]
    async fn a_401_from_the_cloud_is_counted_under_its_status_without_secrets() {
        let scenario = Scenario::from_yaml(&format!(
            "credentials: [{{accessKey: {AK}, secretKey: {SK}}}]
projects: {{\"{PROJECT}\": {{timeline: [{{at: 0s, jobs: []}}]}}}}
faults: [{{status: 429, times: 2}}]
"
        ))
        .unwrap();
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let sim = simulator::start(
            scenario,
            "127.0.0.1:0".parse().unwrap(),
            clock.clone(),
            simulator::Options::default(),
        )
        .await
        .unwrap();
        let (registry, metrics) = registered();
        let transport = Transport::new(
            Settings {
                request_timeout: Duration::from_secs(5),
                retry: RetryPolicy {
                    base_delay: Duration::from_millis(1),
                    max_delay: Duration::from_millis(5),
                    ..RetryPolicy::default()
                },
                observer: Some(metrics.cloud_observer()),
                ..Settings::default()
            },
            clock,
        )
        .unwrap();
        let endpoint = Endpoint::parse(&sim.url()).unwrap();

        // Throttled twice, then answered: three attempts, all counted.
        transport
            .client(endpoint.clone(), Credentials::new(AK, SK))
            .list_jobs(PROJECT, None, None)
            .await
            .unwrap();
        let err = transport
            .client(endpoint, Credentials::new(AK, WRONG_SK))
            .list_jobs(PROJECT, None, None)
            .await
            .unwrap_err();
        assert_eq!(err.reason(), "AuthenticationFailed");

        let text = render(&registry).unwrap();
        for line in [
            "vpnjob_cloud_requests_total{status=\"429\"} 2",
            "vpnjob_cloud_requests_total{status=\"200\"} 1",
            "vpnjob_cloud_requests_total{status=\"401\"} 1",
        ] {
            assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
        }
        for secret in [AK, SK, WRONG_SK, PROJECT] {
            assert!(!text.contains(secret), "{secret} reached the metrics");
        }
        sim.shutdown().await;
    }
}
