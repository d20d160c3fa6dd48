//! The simulator over real HTTP: requests are signed by hand with
//! `huawei::signer::sign` and sent with reqwest, time is a `ManualClock`, and
//! every network wait is bounded by a timeout. Only the delay-fault test sleeps
//! (300 ms of wall-clock time, which is what that fault is for).

mod support;

use support::{GW_A, GW_B, finished_job as job, t0, within};

use std::{
    path::Path,
    sync::Arc,
    time::{Duration, Instant},
};

use jiff::Timestamp;
use serde_json::{Value, json};
use vpnjob_operator::{
    clock::{Clock, ManualClock},
    huawei::{self, model, signer},
    simulator::{self, Options, Running, Scenario, ScenarioError},
};

const PROJECT: &str = "0123456789abcdef0123456789abcdef";
const OTHER_PROJECT: &str = "fedcba9876543210fedcba9876543210";
const AK: &str = "AKSIMTEST00000000001";
const SK: &str = "sk-sim-test-0000000000000000000000000001";
const AK2: &str = "AKSIMTEST00000000002";
const SK2: &str = "sk-sim-test-0000000000000000000000000002";
const TEMP_AK: &str = "AKTEMPORARY000000001";
const TEMP_SK: &str = "sk-temporary-000000000000000000000000001";
const TOKEN: &str = "security-token-abc";

/// A scenario with three credentials (two permanent, one temporary), `PROJECT`
/// holding `jobs` from 0s, an empty `OTHER_PROJECT`, and `extra` appended.
fn scenario_yaml(jobs: &[Value], extra: &str) -> String {
    format!(
        "credentials:
  - {{accessKey: {AK}, secretKey: {SK}}}
  - {{accessKey: {AK2}, secretKey: {SK2}}}
  - {{accessKey: {TEMP_AK}, secretKey: {TEMP_SK}, securityToken: {TOKEN}}}
projects:
  \"{PROJECT}\":
    timeline:
      - at: 0s
        jobs: {jobs}
  \"{OTHER_PROJECT}\":
    timeline: []
{extra}",
        jobs = serde_json::to_string(jobs).unwrap()
    )
}

struct Sim {
    running: Running,
    clock: Arc<ManualClock>,
    http: reqwest::Client,
}

async fn sim(yaml: &str) -> Sim {
    sim_with(yaml, Options::default()).await
}

async fn sim_with(yaml: &str, options: Options) -> Sim {
    huawei::install_crypto_provider();
    let clock = ManualClock::new(t0());
    let scenario = Scenario::from_yaml(yaml).unwrap();
    let running = simulator::start(
        scenario,
        "127.0.0.1:0".parse().unwrap(),
        clock.clone(),
        options,
    )
    .await
    .unwrap();
    Sim {
        running,
        clock,
        http: reqwest::Client::new(),
    }
}

/// One request to send: signed over `query` with `ak`/`sk` at `at` (the
/// simulator's clock when `None`).
#[derive(Clone)]
struct Req {
    method: &'static str,
    path: String,
    query: Vec<(String, String)>,
    /// Sent instead of the canonical query string, to test decoding.
    wire_query: Option<String>,
    ak: &'static str,
    sk: &'static str,
    token: Option<&'static str>,
    at: Option<Timestamp>,
    /// Leaves the Authorization header off.
    unsigned: bool,
}

#[derive(Debug)]
struct Answer {
    status: u16,
    request_id: Option<String>,
    retry_after: Option<String>,
    text: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    fn ids(&self) -> Vec<String> {
        self.json()["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|j| j["id"].as_str().unwrap_or("?").to_owned())
            .collect()
    }

    fn next_marker(&self) -> Option<String> {
        self.json()["page_info"]
            .get("next_marker")
            .map(|m| m.as_str().unwrap().to_owned())
    }

    fn error(&self) -> (String, String) {
        let body = self.json();
        assert_eq!(
            body["request_id"].as_str(),
            self.request_id.as_deref(),
            "the body and X-Request-Id carry the same request ID"
        );
        (
            body["error_code"].as_str().unwrap().to_owned(),
            body["error_msg"].as_str().unwrap().to_owned(),
        )
    }
}

fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

impl Sim {
    fn req(&self) -> Req {
        Req {
            method: "GET",
            path: format!("/v5/{PROJECT}/vpn-gateways/jobs"),
            query: Vec::new(),
            wire_query: None,
            ak: AK,
            sk: SK,
            token: None,
            at: None,
            unsigned: false,
        }
    }

    async fn list(&self, query: &[(&str, &str)]) -> Answer {
        self.send(Req {
            query: q(query),
            ..self.req()
        })
        .await
    }

    async fn send(&self, req: Req) -> Answer {
        self.try_send(req).await.unwrap()
    }

    async fn try_send(&self, req: Req) -> reqwest::Result<Answer> {
        let authority = self.running.addr().to_string();
        let mut headers = vec![
            ("Content-Type".to_owned(), "application/json".to_owned()),
            (signer::PROJECT_ID_HEADER.to_owned(), PROJECT.to_owned()),
        ];
        if let Some(token) = req.token {
            headers.push((signer::SECURITY_TOKEN_HEADER.to_owned(), token.to_owned()));
        }
        let signed = signer::sign(
            &signer::Request {
                method: req.method,
                authority: &authority,
                path: &req.path,
                query: &req.query,
                headers: &headers,
                body: b"",
            },
            req.ak,
            req.sk.as_bytes(),
            req.at.unwrap_or_else(|| self.clock.now()),
        );
        let query = req.wire_query.unwrap_or(signed.query_string);
        let mut url = format!("{}{}", self.running.url(), req.path);
        if !query.is_empty() {
            url.push('?');
            url.push_str(&query);
        }
        let method = reqwest::Method::from_bytes(req.method.as_bytes()).unwrap();
        let mut request = self.http.request(method, url);
        for (name, value) in &signed.headers {
            if req.unsigned && name == "Authorization" {
                continue;
            }
            request = request.header(name, value);
        }
        self.try_send_raw(request).await
    }

    async fn send_raw(&self, request: reqwest::RequestBuilder) -> Answer {
        self.try_send_raw(request).await.unwrap()
    }

    async fn try_send_raw(&self, request: reqwest::RequestBuilder) -> reqwest::Result<Answer> {
        let response = within(request.send()).await?;
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
        };
        let (request_id, retry_after) = (header("x-request-id"), header("retry-after"));
        let status = response.status().as_u16();
        let text = within(response.text()).await?;
        Ok(Answer {
            status,
            request_id,
            retry_after,
            text,
        })
    }

    fn advance(&self, seconds: u64) {
        self.clock.advance(Duration::from_secs(seconds));
    }
}

/// Seven jobs in scrambled order with 0 to 9 fractional digits.
fn seven_jobs() -> Vec<Value> {
    vec![
        job("j3", GW_A, "2026-03-18T10:00:03.3Z"),
        job("j7", GW_B, "2026-03-18T10:00:07.700000001Z"),
        job("j1", GW_A, "2026-03-18T10:00:01Z"),
        job("j5", GW_B, "2026-03-18T10:00:05.55555Z"),
        job("j2", GW_A, "2026-03-18T10:00:02.200096878Z"),
        job("j6", GW_A, "2026-03-18T10:00:06.679462Z"),
        job("j4", GW_B, "2026-03-18T10:00:04.47287635Z"),
    ]
}

// ---- listing --------------------------------------------------------------

/// Pages are newest first; each `next_marker` is the last job's `created_at`
/// verbatim; the last page has none, even when it is full.
#[tokio::test]
async fn pages_walk_newest_first_with_exact_markers_and_no_marker_on_the_last_page() {
    let sim = sim(&scenario_yaml(&seven_jobs(), "")).await;

    let first = sim.list(&[("limit", "3")]).await;
    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!(first.ids(), ["j7", "j6", "j5"]);
    let body = first.json();
    assert_eq!(body["total_count"], 7);
    assert_eq!(body["page_info"]["current_count"], 3);
    assert_eq!(body["request_id"].as_str(), first.request_id.as_deref());
    let id = first.request_id.clone().unwrap();
    assert!(
        id.len() == 32
            && id
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    );
    assert_eq!(
        first.next_marker().as_deref(),
        Some("2026-03-18T10:00:05.55555Z")
    );

    let second = sim
        .list(&[("limit", "3"), ("marker", "2026-03-18T10:00:05.55555Z")])
        .await;
    assert_eq!(second.ids(), ["j4", "j3", "j2"]);
    assert_eq!(second.json()["total_count"], 7);
    assert_eq!(
        second.next_marker().as_deref(),
        Some("2026-03-18T10:00:02.200096878Z")
    );

    let third = sim
        .list(&[("limit", "3"), ("marker", "2026-03-18T10:00:02.200096878Z")])
        .await;
    assert_eq!(third.ids(), ["j1"]);
    assert_eq!(third.json()["page_info"], json!({"current_count": 1}));

    let exact = sim
        .list(&[("limit", "3"), ("marker", "2026-03-18T10:00:04.47287635Z")])
        .await;
    assert_eq!(exact.ids(), ["j3", "j2", "j1"]);
    assert_eq!(
        exact.next_marker(),
        None,
        "a full last page has no next_marker"
    );
}

/// The marker page holds only jobs created strictly before the marker, and the
/// marker may be written in any RFC 3339 form.
#[tokio::test]
async fn a_marker_returns_only_jobs_strictly_older_than_it() {
    let sim = sim(&scenario_yaml(&seven_jobs(), "")).await;
    let cases = [
        (
            "2026-03-18T10:00:06.679462Z",
            vec!["j5", "j4", "j3", "j2", "j1"],
        ),
        (
            "2026-03-18T10:00:06.679462001Z",
            vec!["j6", "j5", "j4", "j3", "j2", "j1"],
        ),
        ("2026-03-18T18:00:03.3+08:00", vec!["j2", "j1"]),
        ("2026-03-18T10:00:01Z", vec![]),
        ("", vec!["j7", "j6", "j5", "j4", "j3", "j2", "j1"]),
    ];
    for (marker, want) in cases {
        let page = sim.list(&[("limit", "10"), ("marker", marker)]).await;
        assert_eq!(page.status, 200, "{marker}: {}", page.text);
        assert_eq!(page.ids(), want, "marker {marker:?}");
        assert_eq!(page.next_marker(), None);
    }
}

/// `resource_id` keeps one gateway's jobs and `total_count` counts only those.
#[tokio::test]
async fn resource_id_filters_the_jobs_and_the_total_count() {
    let sim = sim(&scenario_yaml(&seven_jobs(), "")).await;
    let page = sim.list(&[("resource_id", GW_B), ("limit", "2")]).await;
    assert_eq!(page.ids(), ["j7", "j5"]);
    assert_eq!(page.json()["total_count"], 3);
    let marker = page.next_marker().unwrap();
    let rest = sim
        .list(&[("resource_id", GW_B), ("limit", "2"), ("marker", &marker)])
        .await;
    assert_eq!(rest.ids(), ["j4"]);
    let none = sim
        .list(&[("resource_id", "00000000-0000-0000-0000-000000000000")])
        .await;
    assert_eq!(none.ids(), Vec::<String>::new());
    assert_eq!(none.json()["total_count"], 0);
}

/// A job the client cannot decode is served as written, and the other jobs of
/// the page still decode.
#[tokio::test]
async fn a_malformed_job_is_served_verbatim_without_hiding_the_others() {
    let bad = json!({"id": "bad", "resource_id": GW_A, "status": 7, "created_at": "2026-03-18T10:00:02Z"});
    let jobs = vec![
        job("good-1", GW_A, "2026-03-18T10:00:03Z"),
        bad.clone(),
        job("good-2", GW_A, "2026-03-18T10:00:01Z"),
        json!({"id": "undated", "status": "init"}),
    ];
    let sim = sim(&scenario_yaml(&jobs, "")).await;
    let page = sim.list(&[]).await;
    assert_eq!(page.ids(), ["good-1", "bad", "good-2", "undated"]);
    assert_eq!(page.json()["jobs"][1], bad);
    let decoded = model::decode_page(page.text.as_bytes()).unwrap();
    let ids: Vec<&str> = decoded.jobs.iter().map(|j| j.id.as_str()).collect();
    assert_eq!(ids, ["good-1", "good-2", "undated"]);
    assert_eq!(decoded.malformed.len(), 1);
    assert_eq!(decoded.malformed[0].id.as_deref(), Some("bad"));
}

/// Before the first entry the project has no jobs; then the newest entry whose
/// `at` has passed on the simulator's clock is served.
#[tokio::test]
async fn the_newest_timeline_entry_whose_time_has_passed_is_served() {
    let yaml = format!(
        "credentials:
  - {{accessKey: {AK}, secretKey: {SK}}}
projects:
  \"{PROJECT}\":
    timeline:
      - at: 2s
        jobs: [{{id: j, status: upgrading, created_at: \"2026-03-18T10:00:00Z\"}}]
      - at: 1m30s
        jobs: [{{id: j, status: success, created_at: \"2026-03-18T10:00:00Z\"}}]
"
    );
    let sim = sim(&yaml).await;
    let status = |a: &Answer| a.json()["jobs"][0]["status"].as_str().map(str::to_owned);
    let page = sim.list(&[]).await;
    assert_eq!(
        (page.ids().len(), page.json()["total_count"].clone()),
        (0, json!(0))
    );
    sim.advance(2);
    assert_eq!(status(&sim.list(&[]).await).as_deref(), Some("upgrading"));
    sim.advance(87);
    assert_eq!(status(&sim.list(&[]).await).as_deref(), Some("upgrading"));
    sim.advance(1);
    assert_eq!(status(&sim.list(&[]).await).as_deref(), Some("success"));
    assert_eq!(sim.running.elapsed(), Duration::from_secs(90));
    assert_eq!(sim.running.started_at(), t0());
}

/// A running simulator can be given a new scenario; its times still count from
/// the original start.
#[tokio::test]
async fn set_scenario_replaces_the_jobs_of_a_running_simulator() {
    let sim = sim(&scenario_yaml(&seven_jobs(), "")).await;
    assert_eq!(sim.list(&[]).await.ids().len(), 7);
    sim.advance(10);
    let replacement = format!(
        "credentials:
  - {{accessKey: {AK}, secretKey: {SK}}}
projects:
  \"{PROJECT}\":
    timeline:
      - at: 5s
        jobs: [{{id: new, status: init}}]
      - at: 20s
        jobs: []
"
    );
    sim.running
        .set_scenario(Scenario::from_yaml(&replacement).unwrap());
    assert_eq!(sim.list(&[]).await.ids(), ["new"]);
}

/// Bad `limit` and `marker` values are `400 VPN.0001` naming the parameter and value.
#[tokio::test]
async fn bad_limits_and_markers_are_400_naming_the_parameter() {
    let sim = sim(&scenario_yaml(&seven_jobs(), "")).await;
    for (name, value) in [
        ("limit", "0"),
        ("limit", "201"),
        ("limit", "ten"),
        ("limit", "-3"),
        ("marker", "yesterday"),
    ] {
        let answer = sim.list(&[(name, value)]).await;
        assert_eq!(answer.status, 400, "{name}={value}");
        let (code, message) = answer.error();
        assert_eq!(code, "VPN.0001");
        assert!(
            message.starts_with(&format!("invalid request: {name} \"{value}\"")),
            "{message}"
        );
    }
    assert_eq!(sim.list(&[("limit", "200")]).await.status, 200);
}

/// Without `limit` the configured default page size applies; above the
/// configured maximum a limit is refused.
#[tokio::test]
async fn the_default_page_size_applies_when_limit_is_absent() {
    let options = Options {
        page_size_default: 2,
        page_size_max: 5,
    };
    let sim = sim_with(&scenario_yaml(&seven_jobs(), ""), options).await;
    assert_eq!(sim.list(&[]).await.ids(), ["j7", "j6"]);
    assert_eq!(sim.list(&[("limit", "5")]).await.ids().len(), 5);
    let (_, message) = sim.list(&[("limit", "6")]).await.error();
    assert!(message.contains("from 1 to 5"), "{message}");
}

#[tokio::test]
async fn start_refuses_inconsistent_page_sizes() {
    let scenario = Scenario::from_yaml(&scenario_yaml(&[], "")).unwrap();
    let err = simulator::start(
        scenario,
        "127.0.0.1:0".parse().unwrap(),
        ManualClock::new(t0()),
        Options {
            page_size_default: 300,
            page_size_max: 200,
        },
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
}

// ---- authentication -------------------------------------------------------

/// A signature made with the wrong secret key is refused with the gateway's
/// `APIGW.0301` body and an `X-Request-Id`.
#[tokio::test]
async fn a_wrong_secret_key_is_refused_with_an_apigw_0301_body() {
    let sim = sim(&scenario_yaml(&seven_jobs(), "")).await;
    let answer = sim
        .send(Req {
            sk: SK2,
            ..sim.req()
        })
        .await;
    assert_eq!(answer.status, 401);
    let (code, message) = answer.error();
    assert_eq!(code, "APIGW.0301");
    assert_eq!(
        message,
        "Incorrect IAM authentication information: verify aksk signature fail"
    );
    assert!(!answer.text.contains(SK) && !answer.text.contains(SK2));
}

#[tokio::test]
async fn an_unknown_access_key_is_refused() {
    let sim = sim(&scenario_yaml(&seven_jobs(), "")).await;
    let answer = sim
        .send(Req {
            ak: "AKNOBODY000000000000",
            ..sim.req()
        })
        .await;
    assert_eq!(answer.status, 401);
    assert!(answer.error().1.ends_with("access key not found"));
}

#[tokio::test]
async fn a_request_without_authorization_is_refused() {
    let sim = sim(&scenario_yaml(&seven_jobs(), "")).await;
    let answer = sim
        .send(Req {
            unsigned: true,
            ..sim.req()
        })
        .await;
    assert_eq!(answer.status, 401);
    assert!(
        answer
            .error()
            .1
            .ends_with("Authorization not found in header")
    );
    let garbage = sim
        .send_raw(
            sim.http
                .get(format!(
                    "{}/v5/{PROJECT}/vpn-gateways/jobs",
                    sim.running.url()
                ))
                .header("Authorization", "Bearer abc"),
        )
        .await;
    assert_eq!(garbage.status, 401);
    assert_eq!(garbage.error().0, "APIGW.0301");
}

/// A signature that leaves out `host` (as the Go SDK historically did) is
/// refused, even though it is otherwise correct.
#[tokio::test]
async fn host_and_sdk_date_must_be_signed() {
    let sim = sim(&scenario_yaml(&seven_jobs(), "")).await;
    let path = format!("/v5/{PROJECT}/vpn-gateways/jobs");
    let date = signer::format_date(sim.clock.now());
    let headers = vec![(signer::DATE_HEADER.to_owned(), date.clone())];
    let canonical = signer::canonicalize(&signer::Request {
        method: "GET",
        authority: "",
        path: &path,
        query: &[],
        headers: &headers,
        body: b"",
    });
    let signature = signer::signature(&signer::string_to_sign(&canonical), SK.as_bytes());
    let answer = sim
        .send_raw(
            sim.http
                .get(format!("{}{path}", sim.running.url()))
                .header(signer::DATE_HEADER, date)
                .header(
                    "Authorization",
                    format!("SDK-HMAC-SHA256 Access={AK}, SignedHeaders=x-sdk-date, Signature={signature}"),
                ),
        )
        .await;
    assert_eq!(answer.status, 401);
    assert!(
        answer.error().1.ends_with("host must be signed"),
        "{}",
        answer.text
    );
}

/// Temporary credentials need `X-Security-Token`, signed and matching.
#[tokio::test]
async fn temporary_credentials_need_their_signed_security_token() {
    let sim = sim(&scenario_yaml(&seven_jobs(), "")).await;
    let temp = Req {
        ak: TEMP_AK,
        sk: TEMP_SK,
        ..sim.req()
    };
    let missing = sim.send(temp.clone()).await;
    assert_eq!(missing.status, 401);
    assert!(
        missing.error().1.contains("X-Security-Token is required"),
        "{}",
        missing.text
    );

    let wrong = sim
        .send(Req {
            token: Some("another-token"),
            ..temp.clone()
        })
        .await;
    assert_eq!(wrong.status, 401);
    assert!(wrong.error().1.ends_with("security token does not match"));
    assert!(!wrong.text.contains(TOKEN));

    let right = sim
        .send(Req {
            token: Some(TOKEN),
            ..temp
        })
        .await;
    assert_eq!(right.status, 200, "{}", right.text);
}

/// `X-Sdk-Date` may be at most 15 minutes away from the simulator's clock, in
/// either direction.
#[tokio::test]
async fn a_signing_date_more_than_15_minutes_off_is_refused() {
    let sim = sim(&scenario_yaml(&seven_jobs(), "")).await;
    let now = sim.clock.now();
    let minutes = |m: i64| jiff::SignedDuration::from_mins(m);
    for (offset, status) in [(-16, 401), (16, 401), (-15, 200), (14, 200)] {
        let answer = sim
            .send(Req {
                at: Some(now.checked_add(minutes(offset)).unwrap()),
                ..sim.req()
            })
            .await;
        assert_eq!(answer.status, status, "{offset} min: {}", answer.text);
        if status == 401 {
            assert!(answer.error().1.contains("signature expired"));
        }
    }
}

/// After five consecutive failures an access key is refused for five minutes
/// of clock time, even with a correct signature; other keys are unaffected.
#[tokio::test]
async fn five_consecutive_failures_lock_the_access_key_for_five_minutes() {
    let sim = sim(&scenario_yaml(&seven_jobs(), "")).await;
    let bad = Req {
        sk: SK2,
        ..sim.req()
    };
    for _ in 0..4 {
        assert_eq!(sim.send(bad.clone()).await.status, 401);
    }
    assert_eq!(
        sim.list(&[]).await.status,
        200,
        "a success resets the count"
    );
    for attempt in 1..=5 {
        let answer = sim.send(bad.clone()).await;
        assert!(
            answer.error().1.ends_with("verify aksk signature fail"),
            "attempt {attempt}: {}",
            answer.text
        );
    }
    let locked = sim.list(&[]).await;
    assert_eq!(locked.status, 401);
    assert_eq!(
        locked.error(),
        (
            "APIGW.0301".to_owned(),
            "Incorrect IAM authentication information: AK access failed to reach the limit,forbidden".to_owned()
        )
    );
    let other = sim
        .send(Req {
            ak: AK2,
            sk: SK2,
            ..sim.req()
        })
        .await;
    assert_eq!(other.status, 200, "another key is not locked");

    sim.clock.advance(Duration::from_secs(4 * 60 + 59));
    assert_eq!(sim.list(&[]).await.status, 401);
    sim.advance(1);
    assert_eq!(sim.list(&[]).await.status, 200);
}

/// The raw query is split on `&` and `=` and percent-decoded before it is
/// signed again: `+` stays a plus, and lowercase escapes are fine.
#[tokio::test]
async fn query_values_are_decoded_without_turning_plus_into_space() {
    let jobs = vec![job("plus", "gw+1", "2026-03-18T10:00:00Z")];
    let sim = sim(&scenario_yaml(&jobs, "")).await;
    let answer = sim
        .send(Req {
            query: q(&[("resource_id", "gw+1"), ("marker", "2026-03-18T10:00:01Z")]),
            wire_query: Some("resource_id=gw+1&marker=2026-03-18T10%3a00%3a01Z".to_owned()),
            ..sim.req()
        })
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.ids(), ["plus"]);
}

// ---- routing --------------------------------------------------------------

/// An unknown project is a service-style `404 VPN.0004`, but only after the
/// request authenticated.
#[tokio::test]
async fn an_unknown_project_is_a_vpn_0004_after_authentication() {
    let sim = sim(&scenario_yaml(&seven_jobs(), "")).await;
    let missing = "00000000000000000000000000000000";
    let path = format!("/v5/{missing}/vpn-gateways/jobs");
    let answer = sim
        .send(Req {
            path: path.clone(),
            ..sim.req()
        })
        .await;
    assert_eq!(answer.status, 404);
    assert_eq!(
        answer.error(),
        (
            "VPN.0004".to_owned(),
            format!("project {missing} not found")
        )
    );
    let unsigned = sim
        .send(Req {
            path,
            unsigned: true,
            ..sim.req()
        })
        .await;
    assert_eq!(unsigned.status, 401);
}

/// Unknown paths and methods are the gateway's `404 APIGW.0101`, before any
/// authentication.
#[tokio::test]
async fn unknown_paths_and_methods_are_apigw_0101_before_authentication() {
    let sim = sim(&scenario_yaml(&seven_jobs(), "")).await;
    let jobs_path = format!("/v5/{PROJECT}/vpn-gateways/jobs");
    for req in [
        Req {
            path: "/v5/jobs".into(),
            ..sim.req()
        },
        Req {
            path: format!("{jobs_path}/"),
            ..sim.req()
        },
        Req {
            path: format!("/v3/{PROJECT}/vpn-gateways/jobs"),
            unsigned: true,
            ..sim.req()
        },
        Req {
            method: "POST",
            ..sim.req()
        },
        Req {
            method: "DELETE",
            path: format!("{jobs_path}/5968875c-8c28-447c-bd36-7b4917e5b742"),
            ..sim.req()
        },
    ] {
        let label = format!("{} {}", req.method, req.path);
        let answer = sim.send(req).await;
        assert_eq!(answer.status, 404, "{label}");
        let (code, message) = answer.error();
        assert_eq!(code, "APIGW.0101", "{label}");
        assert_eq!(
            message,
            "The API does not exist or has not been published in the environment"
        );
    }
}

// ---- faults ---------------------------------------------------------------

/// An error fault with `times: 2` answers its first two requests only, with its
/// status, body (plus a request ID) and Retry-After.
#[tokio::test]
async fn an_error_fault_applies_to_its_first_n_requests_only() {
    let faults = "faults:
  - status: 429
    times: 2
    retryAfter: \"1\"
    body: {\"error_code\": \"APIGW.0308\", \"error_msg\": \"The throttling threshold has been reached\"}
";
    let sim = sim(&scenario_yaml(&seven_jobs(), faults)).await;
    for _ in 0..2 {
        let answer = sim.list(&[]).await;
        assert_eq!(answer.status, 429);
        assert_eq!(answer.retry_after.as_deref(), Some("1"));
        assert_eq!(
            answer.error(),
            (
                "APIGW.0308".to_owned(),
                "The throttling threshold has been reached".to_owned()
            )
        );
    }
    let third = sim.list(&[]).await;
    assert_eq!((third.status, third.retry_after), (200, None));
    let faults: Vec<Vec<&str>> = sim
        .running
        .requests()
        .iter()
        .map(|r| r.faults.clone())
        .collect();
    assert_eq!(faults, [vec!["error"], vec!["error"], vec![]]);
}

/// A fault applies from `from` (inclusive) until `until` (exclusive) and only
/// to its project; an error fault without a body gets a plausible one.
#[tokio::test]
async fn a_fault_applies_only_inside_its_window_and_to_its_project() {
    let faults = format!(
        "faults:
  - {{status: 503, project: \"{PROJECT}\", from: 2s, until: 6s}}
"
    );
    let sim = sim(&scenario_yaml(&seven_jobs(), &faults)).await;
    let other = Req {
        path: format!("/v5/{OTHER_PROJECT}/vpn-gateways/jobs"),
        ..sim.req()
    };
    assert_eq!(sim.list(&[]).await.status, 200);
    sim.advance(2);
    let answer = sim.list(&[]).await;
    assert_eq!(answer.status, 503);
    assert_eq!(answer.error().0, "APIGW.0201");
    assert_eq!(sim.send(other.clone()).await.status, 200, "other project");
    sim.advance(3);
    assert_eq!(sim.list(&[]).await.status, 503);
    sim.advance(1);
    assert_eq!(sim.list(&[]).await.status, 200);
}

/// `kind: malformed` answers 200 with a body cut short.
#[tokio::test]
async fn a_malformed_fault_answers_200_with_a_truncated_body() {
    let sim = sim(&scenario_yaml(
        &seven_jobs(),
        "faults:\n  - {kind: malformed, times: 1}\n",
    ))
    .await;
    let answer = sim.list(&[]).await;
    assert_eq!(answer.status, 200);
    assert!(
        answer.text.starts_with("{\"request_id\""),
        "{}",
        answer.text
    );
    assert!(serde_json::from_str::<Value>(&answer.text).is_err());
    assert!(model::decode_page(answer.text.as_bytes()).is_err());
    assert_eq!(sim.list(&[]).await.ids().len(), 7);
}

/// `kind: repeatMarker` echoes the request's marker as `next_marker`; a request
/// without a marker is left alone and does not use the fault up.
#[tokio::test]
async fn a_repeat_marker_fault_echoes_the_request_marker() {
    let sim = sim(&scenario_yaml(
        &seven_jobs(),
        "faults:\n  - {kind: repeatMarker, times: 1}\n",
    ))
    .await;
    let first = sim.list(&[("limit", "2")]).await;
    let marker = first.next_marker().unwrap();
    let second = sim.list(&[("limit", "2"), ("marker", &marker)]).await;
    assert_eq!(second.ids(), ["j5", "j4"]);
    assert_eq!(second.next_marker(), Some(marker.clone()));
    let again = sim.list(&[("limit", "2"), ("marker", &marker)]).await;
    assert_eq!(
        again.next_marker().as_deref(),
        Some("2026-03-18T10:00:04.47287635Z")
    );
}

/// `kind: delay` holds the answer for the given wall-clock time, then answers
/// normally.
#[tokio::test]
async fn a_delay_fault_slows_the_answer_and_then_answers_normally() {
    let sim = sim(&scenario_yaml(
        &seven_jobs(),
        "faults:\n  - {kind: delay, delay: 300ms, times: 1}\n",
    ))
    .await;
    let started = Instant::now();
    let answer = sim.list(&[]).await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(answer.ids().len(), 7);
    assert_eq!(sim.running.requests()[0].faults, ["delay"]);
}

/// A client that gives up during a `delay` fault still leaves a record, with
/// status 499 (client closed request).
#[tokio::test]
async fn a_request_abandoned_during_a_delay_is_recorded_as_499() {
    let sim = sim(&scenario_yaml(
        &seven_jobs(),
        "faults:\n  - {kind: delay, delay: 400ms, times: 1}\n",
    ))
    .await;
    let impatient = Sim {
        http: reqwest::Client::builder()
            .timeout(Duration::from_millis(100))
            .build()
            .unwrap(),
        ..sim
    };
    let err = impatient.try_send(impatient.req()).await.unwrap_err();
    assert!(err.is_timeout(), "{err}");
    let deadline = Instant::now() + Duration::from_secs(2);
    while impatient.running.request_count() == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let records = impatient.running.requests();
    assert_eq!(records.len(), 1, "the abandoned request is recorded");
    assert_eq!(records[0].status, 499);
    assert_eq!(records[0].faults, ["delay"]);
    assert_eq!(records[0].access_key.as_deref(), Some(AK));
}

/// Faults apply only after authentication succeeded, so a bad signature gets
/// its 401 and does not use up a fault's `times`.
#[tokio::test]
async fn faults_never_mask_authentication_failures() {
    let sim = sim(&scenario_yaml(
        &seven_jobs(),
        "faults:\n  - {status: 500, times: 1}\n",
    ))
    .await;
    let bad = sim
        .send(Req {
            sk: SK2,
            ..sim.req()
        })
        .await;
    assert_eq!(bad.status, 401);
    let good = sim.list(&[]).await;
    assert_eq!(good.status, 500);
    assert_eq!(good.error().0, "VPN.0002");
    assert_eq!(sim.list(&[]).await.status, 200);
}

// ---- records, shutdown, client --------------------------------------------

/// Every request is recorded with its outcome; no secret ends up in a record.
#[tokio::test]
async fn requests_are_recorded_with_their_outcome() {
    let sim = sim(&scenario_yaml(&seven_jobs(), "")).await;
    let ok = sim.list(&[("limit", "1")]).await;
    sim.send(Req {
        sk: SK2,
        ..sim.req()
    })
    .await;
    sim.send(Req {
        path: "/nope".into(),
        ..sim.req()
    })
    .await;
    let records = sim.running.requests();
    assert_eq!(sim.running.request_count(), 3);
    assert_eq!(records[0].status, 200);
    assert_eq!(records[0].request_id, ok.request_id.unwrap());
    assert_eq!(records[0].query, "limit=1");
    assert_eq!(records[0].access_key.as_deref(), Some(AK));
    assert_eq!(records[0].project.as_deref(), Some(PROJECT));
    assert_eq!(records[0].at, t0());
    assert_eq!(
        (records[1].status, records[1].access_key.as_deref()),
        (401, Some(AK))
    );
    assert_eq!(
        (records[2].status, records[2].project.as_deref()),
        (404, None)
    );
    assert_eq!(records[0].error, None);
    assert_eq!(
        records[1].error.as_deref(),
        Some("Incorrect IAM authentication information: verify aksk signature fail")
    );
    assert!(!format!("{records:?}").contains(SK));
}

#[tokio::test]
async fn shutdown_stops_serving() {
    let sim = sim(&scenario_yaml(&seven_jobs(), "")).await;
    let url = sim.running.url();
    assert_eq!(sim.list(&[]).await.status, 200);
    within(sim.running.shutdown()).await;
    let fresh = reqwest::Client::new();
    let result = within(
        fresh
            .get(format!("{url}/v5/{PROJECT}/vpn-gateways/jobs"))
            .send(),
    )
    .await;
    assert!(result.is_err(), "still serving after shutdown");
}

/// The operator's own client follows every page of the demo scenario, through
/// the simulator's signature check, and decodes every job.
#[tokio::test]
async fn the_operator_client_lists_every_job_of_the_demo_scenario() {
    huawei::install_crypto_provider();
    let scenario = Scenario::load(Path::new("examples/scenarios/all.yaml")).unwrap();
    let project = scenario.project_ids().next().unwrap().to_owned();
    let credentials = scenario.credentials()[0].clone();
    let clock = ManualClock::new(t0());
    let running = simulator::start(
        scenario,
        "127.0.0.1:0".parse().unwrap(),
        clock.clone(),
        Options::default(),
    )
    .await
    .unwrap();
    let client = huawei::Client::with_settings(
        huawei::Endpoint::parse(&running.url()).unwrap(),
        credentials,
        huawei::Settings::default(),
        clock.clone(),
    )
    .unwrap();
    clock.advance(Duration::from_secs(60));
    let list = within(client.list_jobs(&project, None, Some(2)))
        .await
        .unwrap();
    assert_eq!(list.pages, 2);
    assert!(list.malformed.is_empty(), "{:?}", list.malformed);
    let statuses: Vec<(&str, &str)> = list
        .jobs
        .iter()
        .map(|j| (j.resource_id.as_deref().unwrap(), j.status.as_str()))
        .collect();
    assert_eq!(
        statuses,
        [
            ("c5b2e8d1-6f3a-4d9c-8e7b-1a0f3c5e7b92", "rollback_success"),
            ("7a1e4c9b-2d5f-4b8a-a6c3-9e0f1b2d4c6a", "fail"),
            ("3d8f6a2e-5b1c-4e7a-9f0d-2c4b6e8a1d3f", "success"),
            ("3d8f6a2e-5b1c-4e7a-9f0d-2c4b6e8a1d3f", "success"),
        ]
    );
    within(running.shutdown()).await;
}

// ---- scenario files -------------------------------------------------------

/// Scenario errors name the field and the value.
#[test]
fn scenario_errors_name_the_field_and_value() {
    let base = format!("credentials:\n  - {{accessKey: {AK}, secretKey: {SK}}}\n");
    let cases = [
        (
            format!(
                "{base}projects:\n  \"{PROJECT}\":\n    timeline:\n      - at: 0s\n      - at: 5 sec\n"
            ),
            format!("projects.\"{PROJECT}\".timeline[1].at: invalid duration \"5 sec\""),
        ),
        (
            format!(
                "{base}projects:\n  \"{PROJECT}\":\n    timeline:\n      - at: 10s\n      - at: 5s\n"
            ),
            format!("projects.\"{PROJECT}\".timeline[1].at: \"5s\" is not after"),
        ),
        (
            format!("{base}projects:\n  \"0123\": {{}}\n"),
            "projects.\"0123\": a project ID is 32 lowercase hexadecimal".to_owned(),
        ),
        (
            format!("{base}faults:\n  - {{times: 2}}\n"),
            "faults[0]: a fault needs `status`".to_owned(),
        ),
        (
            format!("{base}faults:\n  - {{kind: delay, delay: soon}}\n"),
            "faults[0].delay: invalid duration \"soon\"".to_owned(),
        ),
    ];
    for (yaml, want) in cases {
        let err = Scenario::from_yaml(&yaml).unwrap_err().to_string();
        assert!(err.starts_with(&want), "want {want:?}, got {err:?}");
    }

    let err =
        Scenario::from_yaml(&format!("{base}faults:\n  - {{status: 429, tmes: 2}}\n")).unwrap_err();
    assert!(matches!(err, ScenarioError::Decode { .. }));
    assert!(err.to_string().contains("faults[0]"), "{err}");
    let cause = std::error::Error::source(&err).unwrap().to_string();
    assert!(cause.contains("tmes"), "{cause}");

    let err = Scenario::load(Path::new("examples/scenarios/no-such-file.yaml")).unwrap_err();
    assert!(matches!(err, ScenarioError::Read { .. }));
    assert!(err.to_string().contains("no-such-file.yaml"));
}

/// The worked example in docs/simulator.md is a valid scenario.
#[test]
fn the_documented_example_scenario_parses() {
    let doc = std::fs::read_to_string("docs/simulator.md").unwrap();
    let start = doc.find("```yaml\n").expect("a yaml block") + "```yaml\n".len();
    let end = start + doc[start..].find("```").unwrap();
    let scenario = Scenario::from_yaml(&doc[start..end]).unwrap();
    let project = scenario.project_ids().next().unwrap().to_owned();
    let jobs = scenario.jobs_at(&project, Duration::from_secs(30)).unwrap();
    assert_eq!(jobs[0]["status"], "pending_upgrade_confirm");
    assert_eq!(
        jobs[0]["sub_jobs"][0]["status"], "success",
        "aliases resolve"
    );
    assert_eq!(scenario.credentials().len(), 2);
}

/// Every example scenario parses, uses the documented demo key, and every job
/// of every timeline entry decodes into the client's model.
#[test]
fn every_example_scenario_parses_and_its_jobs_decode() {
    let mut names = Vec::new();
    for entry in std::fs::read_dir("examples/scenarios").unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        let scenario =
            Scenario::load(&path).unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
        assert_eq!(
            scenario.credentials()[0].access_key(),
            "DEMOACCESSKEY0000001",
            "{}",
            path.display()
        );
        let project = scenario.project_ids().next().unwrap().to_owned();
        let end = scenario.last_change();
        assert!(end >= Duration::from_secs(15), "{}", path.display());
        for second in 0..=end.as_secs() {
            let jobs = scenario
                .jobs_at(&project, Duration::from_secs(second))
                .unwrap();
            for job in jobs {
                let decoded = model::decode_job(&job.to_string())
                    .unwrap_or_else(|e| panic!("{} at {second}s: {e}", path.display()));
                assert!(!decoded.status.is_unknown(), "{}", path.display());
            }
        }
        let last = scenario.jobs_at(&project, end).unwrap();
        assert!(
            last.iter().all(|j| model::decode_job(&j.to_string())
                .unwrap()
                .status
                .is_terminal()),
            "{} ends with every job finished",
            path.display()
        );
        names.push(path.file_name().unwrap().to_string_lossy().into_owned());
    }
    names.sort();
    assert_eq!(
        names,
        [
            "all.yaml",
            "rollback.yaml",
            "upgrade-failed.yaml",
            "upgrade-success.yaml"
        ]
    );
}
