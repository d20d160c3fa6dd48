//! The real `huawei::Client` against the in-process simulator over loopback HTTP.
//!
//! The client and the simulator share one `ManualClock`: a back-off "sleep"
//! returns at once, is recorded, and moves the simulator's time forward too, so
//! retries are asserted from the recorded sleeps instead of being waited out.
//! Every await is bounded by a timeout so a hang fails fast. The one real wait is
//! the request-timeout test (200 ms).

mod support;

use support::{GW_A, GW_B, finished_job as job, t0, within};

use std::{
    fmt::Debug,
    sync::Arc,
    time::{Duration, Instant},
};

use jiff::Timestamp;
use serde_json::{Value, json};
use vpnjob_operator::{
    clock::{Clock, ManualClock},
    huawei::{
        Class, Client, Credentials, Endpoint, Error, JobStatus, JobType, RetryPolicy, Settings,
        SubJobStatus, SubJobType,
        model::{self, PageInfo, SubJobEntity},
    },
    simulator::{self, Options, RequestRecord, Running, Scenario},
};

const PROJECT: &str = "0123456789abcdef0123456789abcdef";
const UNKNOWN_PROJECT: &str = "ffffffffffffffffffffffffffffffff";
const AK: &str = "AKCLIENTTEST00000001";
const SK: &str = "sk-client-test-SECRET-000000000000000001";
const TEMP_AK: &str = "AKCLIENTTEMP00000001";
const TEMP_SK: &str = "sk-client-temp-SECRET-00000000000000001";
const TOKEN: &str = "token-client-SECRET-abc";
const WRONG_SK: &str = "sk-client-wrong-SECRET-0000000000000001";
const WRONG_TOKEN: &str = "token-client-wrong-SECRET";
/// Every secret any test here hands to a client or a scenario.
const SECRETS: [&str; 5] = [SK, TEMP_SK, TOKEN, WRONG_SK, WRONG_TOKEN];

const API_EXAMPLE: &str = include_str!("fixtures/api-example-list-jobs.json");

/// Five jobs of `GW_A` and one of `GW_B`, in scrambled order. Their timestamps
/// have 0 to 9 fractional digits, so a marker that was reformatted on its way
/// back would not match.
fn six_jobs() -> Vec<Value> {
    vec![
        job("a3", GW_A, "2026-03-18T10:00:03.3Z"),
        job("b9", GW_B, "2026-03-18T10:00:09Z"),
        job("a1", GW_A, "2026-03-18T10:00:01Z"),
        job("a5", GW_A, "2026-03-18T10:00:05.55555Z"),
        job("a2", GW_A, "2026-03-18T10:00:02.200096878Z"),
        job("a4", GW_A, "2026-03-18T10:00:04.47287635Z"),
    ]
}

/// A scenario with a permanent and a temporary credential, `PROJECT` holding
/// `jobs` from 0s, and `faults` (YAML list items, may be empty).
fn scenario_yaml(jobs: &[Value], faults: &str) -> String {
    format!(
        "credentials:
  - {{accessKey: {AK}, secretKey: {SK}}}
  - {{accessKey: {TEMP_AK}, secretKey: {TEMP_SK}, securityToken: {TOKEN}}}
projects:
  \"{PROJECT}\":
    timeline:
      - at: 0s
        jobs: {jobs}
faults: [{faults}]
",
        jobs = serde_json::to_string(jobs).unwrap()
    )
}

/// A simulator and the clock it shares with every client made from it.
struct Harness {
    sim: Running,
    clock: Arc<ManualClock>,
}

async fn harness(jobs: &[Value], faults: &str) -> Harness {
    let clock = ManualClock::new(t0());
    let scenario = Scenario::from_yaml(&scenario_yaml(jobs, faults)).unwrap();
    let sim = within(simulator::start(
        scenario,
        "127.0.0.1:0".parse().unwrap(),
        clock.clone(),
        Options::default(),
    ))
    .await
    .unwrap();
    Harness { sim, clock }
}

/// Default settings, except a request timeout short enough for a test.
fn settings() -> Settings {
    Settings {
        request_timeout: Duration::from_secs(5),
        ..Settings::default()
    }
}

impl Harness {
    fn client(&self) -> Client {
        self.client_with(Credentials::new(AK, SK), settings())
    }

    fn client_with(&self, credentials: Credentials, settings: Settings) -> Client {
        let endpoint = Endpoint::parse(&self.sim.url()).unwrap();
        let clock: Arc<dyn Clock> = self.clock.clone();
        let client = Client::with_settings(endpoint, credentials, settings, clock).unwrap();
        assert_no_secrets(&client);
        client
    }

    fn records(&self) -> Vec<RequestRecord> {
        self.sim.requests()
    }

    fn statuses(&self) -> Vec<u16> {
        self.records().iter().map(|r| r.status).collect()
    }

    fn slept(&self) -> Vec<Duration> {
        self.clock.slept()
    }

    async fn shutdown(self) {
        within(self.sim.shutdown()).await;
    }
}

/// `Debug` (plain and pretty) never shows a secret key or a security token.
fn assert_no_secrets(value: &impl Debug) {
    for text in [format!("{value:?}"), format!("{value:#?}")] {
        for secret in SECRETS {
            assert!(!text.contains(secret), "{secret} leaked into {text}");
        }
    }
}

/// An error's `Debug`, `Display` and source chain never show a secret.
fn assert_error_has_no_secrets(err: &Error) {
    assert_no_secrets(err);
    let mut chain = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        chain.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    for secret in SECRETS {
        assert!(!chain.contains(secret), "{secret} leaked into {chain}");
    }
}

/// The back-off ceiling of retry `n` (0-based): `min(max_delay, base · 2^n)`.
fn ceiling(policy: &RetryPolicy, retry: u32) -> Duration {
    (policy.base_delay * 2u32.pow(retry)).min(policy.max_delay)
}

fn ids(jobs: &[vpnjob_operator::huawei::Job]) -> Vec<&str> {
    jobs.iter().map(|j| j.id.as_str()).collect()
}

/// The raw query string a page request carries, as the client signs and sends
/// it: keys sorted, values percent-encoded with the unreserved set.
fn query(limit: u32, marker: Option<&str>, gateway: Option<&str>) -> String {
    let mut query = format!("limit={limit}");
    if let Some(marker) = marker {
        query.push_str("&marker=");
        query.push_str(&marker.replace(':', "%3A"));
    }
    if let Some(gateway) = gateway {
        query.push_str(&format!("&resource_id={gateway}"));
    }
    query
}

// ---- pagination -----------------------------------------------------------

/// `list_jobs` follows `next_marker` across three pages and returns every job
/// exactly once, newest first; each marker sent back is exactly the one
/// received (percent-encoded on the wire, `:` → `%3A`), and the request ID of
/// every page is collected.
#[tokio::test]
async fn list_jobs_walks_three_pages_and_sends_each_next_marker_back_verbatim() {
    let h = harness(&six_jobs(), "").await;
    let list = within(h.client().list_jobs(PROJECT, Some(GW_A), Some(2)))
        .await
        .unwrap();

    assert_eq!(ids(&list.jobs), ["a5", "a4", "a3", "a2", "a1"]);
    assert!(list.malformed.is_empty());
    assert_eq!(list.pages, 3);
    let records = h.records();
    assert_eq!(h.statuses(), [200, 200, 200]);
    let queries: Vec<&str> = records.iter().map(|r| r.query.as_str()).collect();
    assert_eq!(
        queries,
        [
            query(2, None, Some(GW_A)),
            query(2, Some("2026-03-18T10:00:04.47287635Z"), Some(GW_A)),
            query(2, Some("2026-03-18T10:00:02.200096878Z"), Some(GW_A)),
        ]
    );
    assert_eq!(
        queries[1],
        "limit=2&marker=2026-03-18T10%3A00%3A04.47287635Z&resource_id=3d8f6a2e-5b1c-4e7a-9f0d-2c4b6e8a1d3f"
    );
    let sent_ids: Vec<String> = records.iter().map(|r| r.request_id.clone()).collect();
    assert_eq!(list.request_ids, sent_ids);
    assert!(h.slept().is_empty(), "no retries on a clean listing");
    h.shutdown().await;
}

/// Without a page size the client asks for the default of 200, and a listing
/// that fits one page takes one request.
#[tokio::test]
async fn without_a_page_size_one_request_with_limit_200_lists_everything() {
    let h = harness(&six_jobs(), "").await;
    let list = within(h.client().list_jobs(PROJECT, None, None))
        .await
        .unwrap();
    assert_eq!(ids(&list.jobs), ["b9", "a5", "a4", "a3", "a2", "a1"]);
    assert_eq!(list.pages, 1);
    assert_eq!(h.records()[0].query, "limit=200");
    h.shutdown().await;
}

/// A job ID seen on an earlier page is not listed again: the first copy wins,
/// and the listing still goes on to the end.
#[tokio::test]
async fn a_job_seen_on_two_pages_is_listed_once_keeping_the_first_copy() {
    let mut newer = job("dup", GW_A, "2026-03-18T10:00:05Z");
    newer["status"] = json!("running");
    let older = job("dup", GW_A, "2026-03-18T10:00:03Z");
    let jobs = [
        newer,
        job("a4", GW_A, "2026-03-18T10:00:04Z"),
        older,
        job("a2", GW_A, "2026-03-18T10:00:02Z"),
        job("a1", GW_A, "2026-03-18T10:00:01Z"),
    ];
    let h = harness(&jobs, "").await;
    let list = within(h.client().list_jobs(PROJECT, None, Some(2)))
        .await
        .unwrap();
    assert_eq!(ids(&list.jobs), ["dup", "a4", "a2", "a1"]);
    assert_eq!(list.jobs[0].status, JobStatus::Running, "the first copy");
    assert_eq!(list.pages, 3);
    assert_eq!(list.request_ids.len(), 3);
    h.shutdown().await;
}

/// A server that answers a marker with that same marker would loop forever:
/// the listing fails with `RepeatedMarker` naming it, after two requests.
#[tokio::test]
async fn a_repeated_marker_stops_the_listing_with_an_error_naming_the_marker() {
    let h = harness(&six_jobs(), "{kind: repeatMarker}").await;
    let err = within(h.client().list_jobs(PROJECT, None, Some(2)))
        .await
        .unwrap_err();
    let marker = "2026-03-18T10:00:05.55555Z";
    assert!(
        matches!(&err, Error::RepeatedMarker { marker: m } if m == marker),
        "{err:?}"
    );
    assert!(err.to_string().contains(marker), "{err}");
    assert_eq!(
        (err.class(), err.reason()),
        (Class::Other, "RepeatedMarker")
    );
    assert_eq!(h.statuses(), [200, 200]);
    assert_eq!(h.records()[1].faults, ["repeatMarker"]);
    assert_error_has_no_secrets(&err);
    h.shutdown().await;
}

/// `max_pages` bounds a listing: one page more than the cap allows is an error
/// after exactly `max_pages` requests; a listing of exactly `max_pages` pages
/// succeeds.
#[tokio::test]
async fn the_page_cap_stops_a_listing_after_max_pages_requests() {
    let h = harness(&six_jobs(), "").await;
    let capped = |max_pages| {
        h.client_with(
            Credentials::new(AK, SK),
            Settings {
                max_pages,
                ..settings()
            },
        )
    };
    let err = within(capped(2).list_jobs(PROJECT, Some(GW_A), Some(2)))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::TooManyPages { cap: 2 }), "{err:?}");
    assert_eq!(err.reason(), "TooManyPages");
    assert_eq!(h.sim.request_count(), 2);
    assert_error_has_no_secrets(&err);

    let list = within(capped(3).list_jobs(PROJECT, Some(GW_A), Some(2)))
        .await
        .unwrap();
    assert_eq!((list.pages, list.jobs.len()), (3, 5));
    h.shutdown().await;
}

// ---- retries --------------------------------------------------------------

/// Throttling (429 `APIGW.0308`) is retried with full-jitter back-off under
/// the exponential ceiling, and never turns into a 401: every retry is signed
/// again and accepted.
#[tokio::test]
async fn throttling_is_retried_under_the_backoff_ceiling_until_it_succeeds() {
    let h = harness(&six_jobs(), "{status: 429, times: 2}").await;
    let list = within(h.client().list_jobs(PROJECT, None, None))
        .await
        .unwrap();
    assert_eq!(list.jobs.len(), 6);
    assert_eq!(h.statuses(), [429, 429, 200]);
    assert!(h.records().iter().all(|r| r.error.is_none()), "no 401");
    let slept = h.slept();
    assert_eq!(slept.len(), 2);
    let policy = settings().retry;
    for (retry, delay) in slept.iter().enumerate() {
        assert!(
            *delay <= ceiling(&policy, retry as u32),
            "retry {retry} slept {delay:?}"
        );
    }
    assert_eq!(list.request_ids, [h.records()[2].request_id.clone()]);
    h.shutdown().await;
}

/// A `Retry-After` in seconds is waited exactly, instead of the back-off.
#[tokio::test]
async fn a_retry_after_in_seconds_is_waited_exactly() {
    let h = harness(&six_jobs(), "{status: 429, retryAfter: \"3\", times: 1}").await;
    within(h.client().list_jobs(PROJECT, None, None))
        .await
        .unwrap();
    assert_eq!(h.slept(), [Duration::from_secs(3)]);
    let records = h.records();
    assert_eq!(h.statuses(), [429, 200]);
    assert_eq!(records[1].at.duration_since(records[0].at).as_secs(), 3);
    h.shutdown().await;
}

/// A `Retry-After` given as an HTTP date is read relative to the client's
/// clock.
#[tokio::test]
async fn a_retry_after_http_date_is_waited_until_that_moment() {
    let h = harness(
        &six_jobs(),
        "{status: 503, retryAfter: \"Wed, 18 Mar 2026 15:00:07 GMT\", times: 1}",
    )
    .await;
    within(h.client().list_jobs(PROJECT, None, None))
        .await
        .unwrap();
    assert_eq!(h.slept(), [Duration::from_secs(7)]);
    h.shutdown().await;
}

/// A `Retry-After` longer than `max_retry_after` is not waited out: the error
/// comes back after one request, carrying the delay for the caller.
#[tokio::test]
async fn a_retry_after_beyond_the_limit_is_returned_at_once_with_the_delay() {
    let h = harness(&six_jobs(), "{status: 429, retryAfter: \"120\"}").await;
    let err = within(h.client().list_jobs(PROJECT, None, None))
        .await
        .unwrap_err();
    assert_eq!(err.retry_after(), Some(Duration::from_secs(120)));
    assert_eq!((err.class(), err.reason()), (Class::Retryable, "Throttled"));
    let Error::Api(api) = &err else {
        panic!("{err:?}")
    };
    assert_eq!((api.status, api.code.as_str()), (429, "APIGW.0308"));
    assert_eq!(h.sim.request_count(), 1);
    assert!(h.slept().is_empty());
    assert_error_has_no_secrets(&err);
    h.shutdown().await;
}

/// Each attempt is signed when it is sent: after a 16-minute `Retry-After`
/// the first signature's `X-Sdk-Date` would be outside the 15-minute window
/// (the simulator would answer 401), yet the retry is accepted.
#[tokio::test]
async fn a_retry_after_a_long_wait_is_signed_afresh() {
    let h = harness(&six_jobs(), "{status: 429, retryAfter: \"960\", times: 1}").await;
    let mut settings = settings();
    settings.retry.max_retry_after = Duration::from_secs(20 * 60);
    let client = h.client_with(Credentials::new(AK, SK), settings);
    within(client.list_jobs(PROJECT, None, None)).await.unwrap();
    assert_eq!(h.statuses(), [429, 200]);
    assert_eq!(h.slept(), [Duration::from_secs(960)]);
    assert!(simulator::MAX_CLOCK_SKEW < Duration::from_secs(960));
    h.shutdown().await;
}

/// `VPN.0030` ("the system is busy") is retried although it comes as a 400.
#[tokio::test]
async fn a_busy_service_400_vpn_0030_is_retried() {
    let h = harness(
        &six_jobs(),
        "{status: 400, times: 1, body: {error_code: VPN.0030, error_msg: \"The system is busy, please try later.\"}}",
    )
    .await;
    let list = within(h.client().list_jobs(PROJECT, None, None))
        .await
        .unwrap();
    assert_eq!(list.jobs.len(), 6);
    assert_eq!(h.statuses(), [400, 200]);
    assert_eq!(h.slept().len(), 1);
    h.shutdown().await;
}

/// Any other 400 is the request's fault: returned after one request, as
/// `InvalidRequest`, with the cloud's code and message.
#[tokio::test]
async fn an_invalid_request_400_is_returned_without_a_retry() {
    let h = harness(&six_jobs(), "").await;
    let err = within(h.client().list_jobs(PROJECT, None, Some(0)))
        .await
        .unwrap_err();
    assert_eq!(
        (err.class(), err.reason()),
        (Class::InvalidRequest, "InvalidRequest")
    );
    let Error::Api(api) = &err else {
        panic!("{err:?}")
    };
    assert_eq!((api.status, api.code.as_str()), (400, "VPN.0001"));
    assert!(api.message.contains("limit \"0\""), "{}", api.message);
    assert_eq!(h.sim.request_count(), 1);
    assert!(h.slept().is_empty());
    h.shutdown().await;
}

/// Retries are bounded: a permanent 503 is tried `max_retries + 1` times, then
/// returned as a retryable `ServerError` with the last answer's request ID.
#[tokio::test]
async fn a_permanent_server_error_is_returned_after_max_retries() {
    let h = harness(&six_jobs(), "{status: 503}").await;
    let err = within(h.client().list_jobs(PROJECT, None, None))
        .await
        .unwrap_err();
    let policy = settings().retry;
    assert_eq!(h.sim.request_count(), policy.max_retries as usize + 1);
    assert_eq!(
        (err.class(), err.reason()),
        (Class::Retryable, "ServerError")
    );
    let last = h.records().pop().unwrap();
    assert_eq!(err.request_id(), Some(last.request_id.as_str()));
    let Error::Api(api) = &err else {
        panic!("{err:?}")
    };
    assert_eq!((api.status, api.code.as_str()), (503, "APIGW.0201"));
    let slept = h.slept();
    assert_eq!(slept.len(), policy.max_retries as usize);
    for (retry, delay) in slept.iter().enumerate() {
        assert!(*delay <= ceiling(&policy, retry as u32), "{delay:?}");
    }
    assert_error_has_no_secrets(&err);
    h.shutdown().await;
}

/// A 502 with an HTML body still yields an error with the status as code, the
/// body as message and the request ID from `X-Request-Id`.
#[tokio::test]
async fn a_server_error_with_an_html_body_keeps_the_header_request_id() {
    let h = harness(
        &six_jobs(),
        "{status: 502, body: \"<html>Bad Gateway</html>\"}",
    )
    .await;
    let settings = Settings {
        retry: RetryPolicy {
            max_retries: 0,
            ..RetryPolicy::default()
        },
        ..settings()
    };
    let err = within(
        h.client_with(Credentials::new(AK, SK), settings)
            .list_jobs(PROJECT, None, None),
    )
    .await
    .unwrap_err();
    let Error::Api(api) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(
        (api.status, api.code.as_str(), api.message.as_str()),
        (502, "502", "<html>Bad Gateway</html>")
    );
    assert_eq!(err.request_id(), Some(h.records()[0].request_id.as_str()));
    assert_eq!(err.reason(), "ServerError");
    h.shutdown().await;
}

// ---- authentication -------------------------------------------------------

/// A wrong secret key is an `Authentication` error with the gateway's request
/// ID, sent exactly once: retrying 401s would lock the access key.
#[tokio::test]
async fn a_wrong_secret_key_fails_authentication_after_exactly_one_request() {
    let h = harness(&six_jobs(), "").await;
    let client = h.client_with(Credentials::new(AK, WRONG_SK), settings());
    let err = within(client.list_jobs(PROJECT, None, None))
        .await
        .unwrap_err();
    assert_eq!(
        (err.class(), err.reason()),
        (Class::Authentication, "AuthenticationFailed")
    );
    let records = h.records();
    assert_eq!(records.len(), 1, "never retried");
    assert_eq!(records[0].status, 401);
    assert_eq!(err.request_id(), Some(records[0].request_id.as_str()));
    let Error::Api(api) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(api.code, "APIGW.0301");
    assert!(h.slept().is_empty());
    assert_error_has_no_secrets(&err);
    h.shutdown().await;
}

/// Temporary credentials with a wrong security token, or without one, fail
/// authentication once each; with the right token they work.
#[tokio::test]
async fn a_wrong_or_missing_security_token_fails_authentication_once() {
    let h = harness(&six_jobs(), "").await;
    for (token, want) in [
        (Some(WRONG_TOKEN), "security token does not match"),
        (None, "X-Security-Token is required"),
    ] {
        let before = h.sim.request_count();
        let credentials =
            Credentials::new(TEMP_AK, TEMP_SK).with_security_token(token.map(str::to_owned));
        let err = within(
            h.client_with(credentials, settings())
                .list_jobs(PROJECT, None, None),
        )
        .await
        .unwrap_err();
        assert_eq!(err.class(), Class::Authentication, "{err}");
        assert_eq!(err.reason(), "AuthenticationFailed");
        assert_eq!(h.sim.request_count(), before + 1, "never retried");
        let record = h.records().pop().unwrap();
        assert_eq!(err.request_id(), Some(record.request_id.as_str()));
        assert!(err.to_string().contains(want), "{err}");
        assert_error_has_no_secrets(&err);
    }
    let credentials = Credentials::new(TEMP_AK, TEMP_SK).with_security_token(Some(TOKEN.into()));
    let list = within(
        h.client_with(credentials, settings())
            .list_jobs(PROJECT, None, None),
    )
    .await
    .unwrap();
    assert_eq!(list.jobs.len(), 6);
    h.shutdown().await;
}

// ---- bad answers ----------------------------------------------------------

/// A truncated body is a `Decode` error carrying the request ID and the start
/// of the body; it is not retried.
#[tokio::test]
async fn a_truncated_body_is_a_decode_error_with_request_id_and_snippet() {
    let h = harness(&six_jobs(), "{kind: malformed}").await;
    let err = within(h.client().list_jobs(PROJECT, None, None))
        .await
        .unwrap_err();
    let record = h.records().pop().unwrap();
    let Error::Decode {
        request_id,
        snippet,
        ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(request_id.as_deref(), Some(record.request_id.as_str()));
    assert!(
        snippet.starts_with(&format!("{{\"request_id\":\"{}\"", record.request_id)),
        "{snippet}"
    );
    assert!(snippet.len() <= 120, "the snippet is bounded");
    assert_eq!(
        (err.class(), err.reason()),
        (Class::Other, "MalformedResponse")
    );
    assert_eq!(h.sim.request_count(), 1, "not retried");
    assert!(h.slept().is_empty());
    assert_error_has_no_secrets(&err);
    h.shutdown().await;
}

/// A body over `max_body_bytes` is refused with the limit and the request ID.
#[tokio::test]
async fn a_body_over_the_cap_is_refused_naming_the_limit() {
    let h = harness(&six_jobs(), "").await;
    let settings = Settings {
        max_body_bytes: 256,
        ..settings()
    };
    let err = within(
        h.client_with(Credentials::new(AK, SK), settings)
            .list_jobs(PROJECT, None, None),
    )
    .await
    .unwrap_err();
    let record = h.records().pop().unwrap();
    assert!(
        matches!(&err, Error::BodyTooLarge { limit: 256, request_id: Some(id) } if *id == record.request_id),
        "{err:?}"
    );
    assert_eq!(err.reason(), "ResponseTooLarge");
    assert_eq!(h.sim.request_count(), 1);
    h.shutdown().await;
}

/// An answer slower than `request_timeout` is a retryable `Timeout`, returned
/// promptly (with `max_retries: 0`), not after the server's delay.
#[tokio::test]
async fn a_slow_answer_times_out_as_a_retryable_error() {
    let h = harness(&six_jobs(), "{kind: delay, delay: 2s}").await;
    let settings = Settings {
        request_timeout: Duration::from_millis(200),
        retry: RetryPolicy {
            max_retries: 0,
            ..RetryPolicy::default()
        },
        ..settings()
    };
    let client = h.client_with(Credentials::new(AK, SK), settings);
    let started = Instant::now();
    let err = within(client.list_jobs(PROJECT, None, None))
        .await
        .unwrap_err();
    let took = started.elapsed();
    assert!(took < Duration::from_secs(1), "took {took:?}");
    let Error::Timeout { url, after } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(*after, Duration::from_millis(200));
    assert_eq!(
        *url,
        format!("{}/v5/{PROJECT}/vpn-gateways/jobs", h.sim.url()),
        "the URL without its query"
    );
    assert_eq!((err.class(), err.reason()), (Class::Retryable, "Timeout"));
    assert!(h.slept().is_empty());
    assert_error_has_no_secrets(&err);
    h.shutdown().await;
}

/// One job that does not decode is reported by field and position; the other
/// jobs, on its page and on later pages, are still listed. Unknown statuses
/// and types keep their raw strings.
#[tokio::test]
async fn a_malformed_job_does_not_hide_the_others_and_unknown_values_are_kept() {
    let mut bad_time = job("bad-time", GW_A, "2026-03-18T10:00:04Z");
    bad_time["sub_jobs"] = json!([{"id": "s1", "status": "init", "created_at": "soon"}]);
    let mut bad_type = job("bad-type", GW_A, "2026-03-18T10:00:02Z");
    bad_type["expected_time_seconds"] = json!("thirty");
    let mut novel = job("novel", GW_A, "2026-03-18T10:00:03Z");
    novel["status"] = json!("paused_by_ops");
    novel["job_type"] = json!("reboot");
    novel["sub_jobs"] = json!([
        {"id": "s2", "job_type": "upgrade_worker_3", "status": "queued"},
        {"id": "s3", "job_type": "upgrade_worker_1", "status": "success"},
    ]);
    let jobs = [
        job("a5", GW_A, "2026-03-18T10:00:05Z"),
        bad_time,
        novel,
        bad_type,
        job("a1", GW_A, "2026-03-18T10:00:01Z"),
    ];
    let h = harness(&jobs, "").await;
    let list = within(h.client().list_jobs(PROJECT, None, Some(2)))
        .await
        .unwrap();

    assert_eq!(ids(&list.jobs), ["a5", "novel", "a1"]);
    assert_eq!(list.pages, 3);
    let malformed: Vec<(usize, Option<&str>)> = list
        .malformed
        .iter()
        .map(|m| (m.index, m.id.as_deref()))
        .collect();
    assert_eq!(malformed, [(1, Some("bad-time")), (1, Some("bad-type"))]);
    assert!(
        list.malformed[0]
            .error
            .starts_with("sub_jobs[0].created_at: invalid timestamp \"soon\""),
        "{}",
        list.malformed[0].error
    );
    assert!(
        list.malformed[1]
            .error
            .starts_with("expected_time_seconds: invalid type"),
        "{}",
        list.malformed[1].error
    );

    let novel = &list.jobs[1];
    assert_eq!(novel.status, JobStatus::Other("paused_by_ops".into()));
    assert_eq!(novel.status.as_str(), "paused_by_ops");
    assert_eq!(novel.job_type, Some(JobType::Other("reboot".into())));
    assert_eq!(
        novel.sub_jobs[0].job_type,
        Some(SubJobType::Other("upgrade_worker_3".into()))
    );
    assert_eq!(
        novel.sub_jobs[0].status,
        SubJobStatus::Other("queued".into())
    );
    assert_eq!(novel.sub_jobs[1].job_type, Some(SubJobType::UpgradeWorker1));
    h.shutdown().await;
}

// ---- not found and configuration ------------------------------------------

/// A project the cloud does not know is `NotFound` with `VPN.0004`, not
/// retried.
#[tokio::test]
async fn an_unknown_project_is_not_found_with_vpn_0004() {
    let h = harness(&six_jobs(), "").await;
    let err = within(h.client().list_jobs(UNKNOWN_PROJECT, None, None))
        .await
        .unwrap_err();
    assert_eq!((err.class(), err.reason()), (Class::NotFound, "NotFound"));
    let Error::Api(api) = &err else {
        panic!("{err:?}")
    };
    assert_eq!((api.status, api.code.as_str()), (404, "VPN.0004"));
    assert_eq!(err.request_id(), Some(h.records()[0].request_id.as_str()));
    assert_eq!(h.sim.request_count(), 1);
    h.shutdown().await;
}

/// An endpoint that cannot be used is refused before any request, and the error
/// names the value given.
#[test]
fn endpoint_validation_errors_name_the_value() {
    for bad in [
        "http://10.0.0.1:8080",
        "http://vpn.cn-north-4.myhuaweicloud.com",
        "https://vpn.example.com/?x=1",
        "not a url",
    ] {
        let err = Endpoint::parse(bad).unwrap_err();
        assert!(err.to_string().contains(bad), "{err}");
        assert_eq!(
            (err.class(), err.reason()),
            (Class::InvalidRequest, "InvalidEndpoint")
        );
    }
    let err = Endpoint::for_region("cn north 4").unwrap_err();
    assert!(err.to_string().contains("\"cn north 4\""), "{err}");
    assert_eq!(
        Endpoint::for_region("cn-north-4").unwrap().as_str(),
        "https://vpn.cn-north-4.myhuaweicloud.com"
    );
}

// ---- the documented example -----------------------------------------------

/// 2026-03-18 at `h:m:s.nanos` UTC, built without parsing text.
fn at(h: i8, m: i8, s: i8, nanos: i32) -> Timestamp {
    jiff::civil::date(2026, 3, 18)
        .at(h, m, s, nanos)
        .to_zoned(jiff::tz::TimeZone::UTC)
        .unwrap()
        .timestamp()
}

/// The example response of the API reference page (`vpn_api_0154`) decodes
/// field by field, every timestamp to the nanosecond (6-, 8- and 9-digit
/// fractions), and encodes back to the same JSON.
#[test]
fn the_api_reference_example_decodes_field_by_field() {
    let page = model::decode_page(API_EXAMPLE.as_bytes()).unwrap();
    assert_eq!(
        page.request_id.as_deref(),
        Some("7c938e41c510f1bf53b4cb3d142b841c")
    );
    assert_eq!(page.total_count, Some(1));
    assert_eq!(
        page.page_info,
        Some(PageInfo {
            next_marker: None,
            current_count: Some(1),
        })
    );
    assert_eq!(page.next_marker(), None);
    assert!(page.malformed.is_empty());
    assert_eq!(page.jobs.len(), 1);

    let job = &page.jobs[0];
    assert_eq!(job.id, "5968875c-8c28-447c-bd36-7b4917e5b742");
    assert_eq!(
        job.resource_id.as_deref(),
        Some("f8576538-0ffa-45d7-97f5-9783e0228cb5")
    );
    assert_eq!(job.job_type, Some(JobType::Upgrade));
    assert_eq!(job.status, JobStatus::Success);
    assert_eq!(job.expected_time_seconds, None);
    assert_eq!(job.created_at, Some(at(15, 8, 53, 679_462_000)));
    assert_eq!(job.finished_at, Some(at(15, 10, 26, 953_831_000)));
    assert_eq!(job.updated_at, None);
    assert_eq!(job.error_message, None);
    assert_eq!(job.sub_jobs_finished(), 7);

    let ip1 = Some("192.168.1.2");
    let ip2 = Some("192.168.1.20");
    #[rustfmt::skip]
    let want = [
        ("ae7e8440-ce63-4fd0-98ae-84209fa4219d", SubJobType::PrepareResource, None,
         at(15, 8, 53, 200_096_878), at(15, 9, 38, 104_329_871)),
        ("c36cc41e-dc09-4e1f-9033-55bfc46628e0", SubJobType::MigrateTraffic1, ip1,
         at(15, 8, 53, 472_876_350), at(15, 9, 50, 56_544_567)),
        ("046158d6-9565-4696-b291-d86a4f76a387", SubJobType::MigrateNetwork1, ip1,
         at(15, 8, 53, 513_965_159), at(15, 10, 2, 279_932_603)),
        ("4f57ac3f-3052-4e17-a195-17a7d7e47b62", SubJobType::ServiceReadyCheck1, ip1,
         at(15, 8, 53, 556_529_748), at(15, 10, 2, 502_339_602)),
        ("41b9976e-5ff2-49db-8449-3abf804d9a57", SubJobType::MigrateTraffic2, ip2,
         at(15, 8, 53, 594_430_844), at(15, 10, 14, 503_148_811)),
        ("2505809a-bf52-4905-80fb-64ce2a204946", SubJobType::MigrateNetwork2, ip2,
         at(15, 8, 53, 631_862_559), at(15, 10, 26, 675_384_941)),
        ("5b56c1e4-d564-4089-811b-60effd36b062", SubJobType::ServiceReadyCheck2, ip2,
         at(15, 8, 53, 669_949_909), at(15, 10, 26, 876_399_281)),
    ];
    assert_eq!(job.sub_jobs.len(), want.len());
    for (sub, (id, job_type, ip, created, finished)) in job.sub_jobs.iter().zip(want) {
        assert_eq!(sub.id, id);
        assert_eq!(sub.job_type, Some(job_type), "{id}");
        assert_eq!(
            sub.entity,
            Some(SubJobEntity {
                ip_address: ip.map(str::to_owned),
                other: Default::default(),
            }),
            "{id}"
        );
        assert_eq!(sub.status, SubJobStatus::Success, "{id}");
        assert_eq!(sub.expected_time_seconds, Some(0), "{id}");
        assert_eq!(sub.created_at, Some(created), "{id}");
        assert_eq!(sub.finished_at, Some(finished), "{id}");
        assert_eq!(sub.error_message, None, "{id}");
    }

    // Encoding gives back the example's job, timestamps spelled as received.
    let example: Value = serde_json::from_str(API_EXAMPLE).unwrap();
    assert_eq!(serde_json::to_value(job).unwrap(), example["jobs"][0]);
}

/// The example's job served by the simulator comes out of the client equal to
/// the example decoded directly, with the page's request ID.
#[tokio::test]
async fn the_api_reference_example_job_survives_the_round_trip_through_the_client() {
    let example: Value = serde_json::from_str(API_EXAMPLE).unwrap();
    let h = harness(example["jobs"].as_array().unwrap(), "").await;
    let list = within(h.client().list_jobs(PROJECT, None, None))
        .await
        .unwrap();
    let direct = model::decode_page(API_EXAMPLE.as_bytes()).unwrap();
    assert_eq!(list.jobs, direct.jobs);
    assert_eq!(list.request_ids, [h.records()[0].request_id.clone()]);
    h.shutdown().await;
}

// ---- secrets --------------------------------------------------------------

/// Neither the client's `Debug` nor any error it returns shows the secret key
/// or the security token, whichever way the call fails.
#[tokio::test]
async fn secrets_never_reach_debug_of_the_client_or_its_errors() {
    let h = harness(&six_jobs(), "{status: 503, times: 1}").await;
    let with_token = Credentials::new(TEMP_AK, WRONG_SK).with_security_token(Some(TOKEN.into()));
    let client = h.client_with(with_token.clone(), settings());
    let text = format!("{client:?}");
    assert!(text.contains(TEMP_AK), "the access key identifies: {text}");
    assert_no_secrets(&with_token);

    let err = within(client.list_jobs(PROJECT, None, None))
        .await
        .unwrap_err();
    assert_eq!(err.class(), Class::Authentication);
    assert_error_has_no_secrets(&err);
    let page_err = within(client.get_page(PROJECT, Some(GW_A), Some(2), Some("x")))
        .await
        .unwrap_err();
    assert_error_has_no_secrets(&page_err);

    // The retryable path too: the 503 fault applies only to a request that
    // authenticates.
    let good = Credentials::new(TEMP_AK, TEMP_SK).with_security_token(Some(TOKEN.into()));
    let settings = Settings {
        retry: RetryPolicy {
            max_retries: 0,
            ..RetryPolicy::default()
        },
        ..settings()
    };
    let err = within(h.client_with(good, settings).list_jobs(PROJECT, None, None))
        .await
        .unwrap_err();
    assert_eq!(err.reason(), "ServerError");
    assert_error_has_no_secrets(&err);
    h.shutdown().await;
}
