//! The HTTP side: one fallback handler that routes, authenticates, applies
//! faults, looks the project up and answers a page, in that order, and records
//! and logs every request.
//!
//! Faults apply only after successful authentication, so an authentication
//! failure is never masked by a fault, and a test with a wrong key gives the same
//! answer whatever faults are active.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use axum::{
    body::{Body, Bytes},
    extract::{Request, State},
    http::{HeaderValue, Method, StatusCode, header, request::Parts},
    response::Response,
};
use jiff::Timestamp;
use percent_encoding::percent_decode_str;
use rand::Rng;
use serde_json::{Value, json};
use tracing::info;

use super::{
    Options, Records, RequestRecord,
    auth::{self, Incoming, Lockouts},
    listing::{self, PageBody},
    lock,
    scenario::{FaultKind, Scenario},
};
use crate::clock::Clock;

/// Largest request body read (the jobs API takes none).
const MAX_REQUEST_BODY: usize = 1024 * 1024;

/// The gateway's message for an unknown path or method.
const API_NOT_FOUND: &str = "The API does not exist or has not been published in the environment";

/// State shared by every request of one simulator.
pub(crate) struct Shared {
    clock: Arc<dyn Clock>,
    started_at: Timestamp,
    options: Options,
    live: Mutex<Live>,
    pub(crate) records: Mutex<Records>,
    count: AtomicUsize,
}

/// What a scenario swap replaces.
struct Live {
    scenario: Arc<Scenario>,
    /// How many requests each fault (by index) has been applied to.
    fault_uses: Vec<u32>,
    lockouts: Lockouts,
}

impl Live {
    fn new(scenario: Scenario) -> Self {
        Self {
            fault_uses: vec![0; scenario.faults().len()],
            scenario: Arc::new(scenario),
            lockouts: Lockouts::default(),
        }
    }
}

/// When in the pipeline a fault is looked for.
#[derive(Debug, Clone, Copy)]
enum Phase {
    /// After authentication: `error` and `delay`.
    BeforeAnswer,
    /// On a 200 page: `malformed`, and `repeatMarker` when the request had a marker.
    OnPage { has_marker: bool },
}

impl Shared {
    pub(crate) fn new(scenario: Scenario, clock: Arc<dyn Clock>, options: Options) -> Self {
        Self {
            started_at: clock.now(),
            clock,
            options,
            live: Mutex::new(Live::new(scenario)),
            records: Mutex::new(Records::default()),
            count: AtomicUsize::new(0),
        }
    }

    pub(crate) fn started_at(&self) -> Timestamp {
        self.started_at
    }

    /// Time since start; zero if the clock went backwards.
    pub(crate) fn elapsed(&self) -> Duration {
        Duration::try_from(self.clock.now().duration_since(self.started_at))
            .unwrap_or(Duration::ZERO)
    }

    pub(crate) fn request_count(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }

    pub(crate) fn set_scenario(&self, scenario: Scenario) {
        *lock(&self.live) = Live::new(scenario);
    }

    fn scenario(&self) -> Arc<Scenario> {
        Arc::clone(&lock(&self.live).scenario)
    }

    /// The first fault that matches and still has uses left, counting this use.
    fn take_fault(&self, project: &str, elapsed: Duration, phase: Phase) -> Option<FaultKind> {
        let mut live = lock(&self.live);
        let scenario = Arc::clone(&live.scenario);
        for (i, fault) in scenario.faults().iter().enumerate() {
            let in_phase = match (&fault.kind, phase) {
                (FaultKind::Error { .. } | FaultKind::Delay(_), Phase::BeforeAnswer) => true,
                (FaultKind::Malformed, Phase::OnPage { .. }) => true,
                (FaultKind::RepeatMarker, Phase::OnPage { has_marker }) => has_marker,
                _ => false,
            };
            let matches = in_phase
                && fault.project.as_deref().is_none_or(|p| p == project)
                && elapsed >= fault.from
                && fault.until.is_none_or(|until| elapsed < until)
                && fault.times.is_none_or(|times| live.fault_uses[i] < times);
            if matches {
                live.fault_uses[i] += 1;
                return Some(fault.kind.clone());
            }
        }
        None
    }

    async fn respond(&self, parts: &Parts, body: &[u8], record: &mut RequestRecord) -> Response {
        let id = record.request_id.clone();
        let Some(project) = route(&parts.method, parts.uri.path()) else {
            record.error = Some(API_NOT_FOUND.to_owned());
            return json_response(
                StatusCode::NOT_FOUND,
                &id,
                &json!({
                    "error_code": "APIGW.0101",
                    "error_msg": API_NOT_FOUND,
                    "request_id": id,
                }),
            );
        };
        record.project = Some(project.clone());

        let query = listing::decode_query(&record.query);
        let incoming = Incoming {
            method: parts.method.as_str(),
            path: parts.uri.path(),
            query: &query,
            headers: &parts.headers,
            body,
        };
        let now = self.clock.now();
        let authenticated = {
            let mut live = lock(&self.live);
            let scenario = Arc::clone(&live.scenario);
            auth::authenticate(&incoming, &scenario, &mut live.lockouts, now)
        };
        match authenticated {
            Ok(access_key) => record.access_key = Some(access_key),
            Err(failure) => {
                record.access_key = failure.access_key;
                let message = format!(
                    "Incorrect IAM authentication information: {}",
                    failure.reason
                );
                let body =
                    json!({"error_code": "APIGW.0301", "error_msg": message, "request_id": id});
                record.error = Some(message);
                return json_response(StatusCode::UNAUTHORIZED, &id, &body);
            }
        }

        let fault = self.take_fault(&project, self.elapsed(), Phase::BeforeAnswer);
        record.faults.extend(fault.as_ref().map(FaultKind::name));
        match fault {
            Some(FaultKind::Error {
                status,
                body,
                retry_after,
            }) => {
                return fault_response(status, body, retry_after.as_deref(), &id);
            }
            Some(FaultKind::Delay(delay)) => {
                // Wall-clock time on purpose: this exercises real client timeouts.
                tokio::time::sleep(delay).await;
            }
            Some(FaultKind::Malformed | FaultKind::RepeatMarker) | None => {}
        }

        let scenario = self.scenario();
        let elapsed = self.elapsed();
        let Some(jobs) = scenario.jobs_at(&project, elapsed) else {
            let message = format!("project {project} not found");
            let body = json!({"error_code": "VPN.0004", "error_msg": message, "request_id": id});
            record.error = Some(message);
            return json_response(StatusCode::NOT_FOUND, &id, &body);
        };
        let query = match listing::parse_query(
            &query,
            self.options.page_size_default,
            self.options.page_size_max,
        ) {
            Ok(query) => query,
            Err(message) => {
                let body =
                    json!({"error_code": "VPN.0001", "error_msg": message, "request_id": id});
                record.error = Some(message);
                return json_response(StatusCode::BAD_REQUEST, &id, &body);
            }
        };
        let mut page = PageBody::new(listing::list(jobs, &query), &id);
        let phase = Phase::OnPage {
            has_marker: query.marker.is_some(),
        };
        let fault = self.take_fault(&project, elapsed, phase);
        record.faults.extend(fault.as_ref().map(FaultKind::name));
        match fault {
            Some(FaultKind::RepeatMarker) => {
                page.page_info.next_marker = query.marker.map(|m| m.raw);
                json_response(StatusCode::OK, &id, &page)
            }
            Some(FaultKind::Malformed) => {
                let full = serde_json::to_string(&page).unwrap_or_default();
                let mut cut = full.len() / 2;
                while !full.is_char_boundary(cut) {
                    cut -= 1;
                }
                response(
                    StatusCode::OK,
                    &id,
                    "application/json",
                    Bytes::from(full[..cut].to_owned()),
                )
            }
            _ => json_response(StatusCode::OK, &id, &page),
        }
    }
}

/// Status recorded for a request whose client went away before the answer
/// (e.g. a client timeout during a `delay` fault), as nginx logs it.
pub(crate) const CLIENT_CLOSED_REQUEST: u16 = 499;

/// Answers one request; the single handler of the router.
pub(crate) async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let mut entry = Entry {
        record: RequestRecord {
            at: shared.clock.now(),
            method: parts.method.to_string(),
            path: parts.uri.path().to_owned(),
            query: parts.uri.query().unwrap_or_default().to_owned(),
            status: CLIENT_CLOSED_REQUEST,
            request_id: new_request_id(),
            access_key: None,
            project: None,
            faults: Vec::new(),
            error: None,
        },
        shared: Arc::clone(&shared),
    };
    let record = &mut entry.record;
    let response = match axum::body::to_bytes(body, MAX_REQUEST_BODY).await {
        Ok(body) => shared.respond(&parts, &body, record).await,
        Err(_) => json_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            &record.request_id,
            &json!({
                "error_code": "APIGW.0201",
                "error_msg": "Request entity too large",
                "request_id": record.request_id,
            }),
        ),
    };
    record.status = response.status().as_u16();
    response
}

/// Logs and records its request when dropped: after the answer, or when the
/// client went away first (hyper then drops the handler mid-way, and the
/// status stays [`CLIENT_CLOSED_REQUEST`]).
struct Entry {
    record: RequestRecord,
    shared: Arc<Shared>,
}

impl Drop for Entry {
    fn drop(&mut self) {
        let record = &self.record;
        // Never the Authorization header, the token or the access key.
        info!(
            method = %record.method,
            path = %record.path,
            query = %record.query,
            status = record.status,
            request_id = %record.request_id,
            faults = ?record.faults,
            error = record.error.as_deref(),
            "request"
        );
        self.shared.count.fetch_add(1, Ordering::Relaxed);
        lock(&self.shared.records).push(record.clone());
    }
}

/// The project ID of `GET /v5/{project_id}/vpn-gateways/jobs`; `None` for any
/// other method or path.
fn route(method: &Method, path: &str) -> Option<String> {
    if method != Method::GET {
        return None;
    }
    let project = path
        .strip_prefix("/v5/")?
        .strip_suffix("/vpn-gateways/jobs")?;
    if project.is_empty() || project.contains('/') {
        return None;
    }
    Some(percent_decode_str(project).decode_utf8_lossy().into_owned())
}

/// 32 lowercase hex characters, like the gateway's request IDs.
fn new_request_id() -> String {
    format!("{:032x}", rand::rng().random::<u128>())
}

fn fault_response(
    status: u16,
    body: Option<Value>,
    retry_after: Option<&str>,
    id: &str,
) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = match body {
        Some(Value::String(text)) => {
            response(status, id, "text/plain; charset=utf-8", Bytes::from(text))
        }
        Some(Value::Object(mut object)) => {
            object
                .entry("request_id")
                .or_insert_with(|| Value::String(id.to_owned()));
            json_response(status, id, &object)
        }
        Some(other) => json_response(status, id, &other),
        None => json_response(status, id, &default_error_body(status, id)),
    };
    if let Some(value) = retry_after.and_then(|v| HeaderValue::from_str(v).ok()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

/// A plausible gateway or service error body for an injected status.
fn default_error_body(status: StatusCode, id: &str) -> Value {
    let (code, message) = match status.as_u16() {
        429 => (
            "APIGW.0308",
            "The throttling threshold has been reached: policy user over ratelimit,limit:200,time:1 second",
        ),
        502 => ("APIGW.0201", "Backend unavailable"),
        503 => ("APIGW.0201", "Backend unavailable"),
        504 => ("APIGW.0201", "Backend timeout"),
        401 => (
            "APIGW.0301",
            "Incorrect IAM authentication information: injected fault",
        ),
        400..=499 => ("VPN.0001", "invalid request: injected fault"),
        _ => ("VPN.0002", "server error"),
    };
    json!({"error_code": code, "error_msg": message, "request_id": id})
}

fn json_response(status: StatusCode, id: &str, body: &impl serde::Serialize) -> Response {
    // Serialising plain JSON values and derived structs cannot fail.
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    response(status, id, "application/json", Bytes::from(bytes))
}

fn response(status: StatusCode, id: &str, content_type: &'static str, body: Bytes) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(id) = HeaderValue::from_str(id) {
        headers.insert("x-request-id", id);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_get_on_the_jobs_path_is_routed() {
        let p = "0123456789abcdef0123456789abcdef";
        let path = format!("/v5/{p}/vpn-gateways/jobs");
        assert_eq!(route(&Method::GET, &path).as_deref(), Some(p));
        assert_eq!(route(&Method::POST, &path), None);
        assert_eq!(route(&Method::GET, &format!("{path}/")), None);
        assert_eq!(route(&Method::GET, "/v5//vpn-gateways/jobs"), None);
        assert_eq!(route(&Method::GET, "/v5/a/b/vpn-gateways/jobs"), None);
        assert_eq!(route(&Method::GET, "/v3/projects"), None);
    }

    #[test]
    fn request_ids_are_32_lowercase_hex() {
        let id = new_request_id();
        assert_eq!(id.len(), 32);
        assert!(
            id.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        );
    }
}
