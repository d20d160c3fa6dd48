//! The Huawei Cloud VPN jobs API client: `GET /v5/{project_id}/vpn-gateways/jobs`.
//!
//! Owns signing, pagination, retries and error classification. Knows nothing of
//! Kubernetes (no `kube` or `crd` imports) so it can move into a crate of its own.
//!
//! - Every attempt is signed afresh just before it is sent (`X-Sdk-Date` within
//!   the gateway's 15-minute window), and the query string sent is the one signed.
//! - Only GETs are retried: bounded, full-jitter exponential back-off, honouring
//!   `Retry-After`. 401/403 are never retried here (five consecutive 401s lock the
//!   access key for five minutes); the caller decides when to try again.
//! - TLS verification is always on; plain `http` is accepted for loopback only.
//! - Each attempt's outcome (status, timeout...) goes to an optional [`Observer`],
//!   so metrics can count requests without this module knowing about them.

pub mod credentials;
pub mod error;
pub mod model;
pub mod signer;

use std::{collections::HashSet, net::IpAddr, sync::Arc, time::Duration};

use rand::Rng;
use reqwest::{Url, header::HeaderValue};
use tracing::debug;

pub use self::{
    credentials::Credentials,
    error::{ApiError, Class, Error},
    model::{Job, JobStatus, JobType, MalformedJob, Page, SubJob, SubJobStatus, SubJobType},
};
use crate::clock::{Clock, SystemClock};

/// Default number of jobs asked for per page (the documented maximum of the
/// sibling VPN v5 list APIs).
pub const DEFAULT_PAGE_SIZE: u32 = 200;

/// Where the API is: `https://vpn.{region}.myhuaweicloud.com`, or an explicit URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    url: Url,
}

impl Endpoint {
    /// The public endpoint of a region, e.g. `cn-north-4`.
    pub fn for_region(region: &str) -> Result<Self, Error> {
        let valid = !region.is_empty()
            && region.len() <= 63
            && region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !valid {
            return Err(Error::Endpoint {
                endpoint: region.to_owned(),
                reason: "a region is lowercase letters, digits and '-', e.g. cn-north-4",
            });
        }
        Self::parse(&format!("https://vpn.{region}.myhuaweicloud.com"))
    }

    /// An explicit endpoint URL. `https` always; `http` only for loopback hosts.
    /// A path prefix is kept; a query or fragment is refused.
    pub fn parse(raw: &str) -> Result<Self, Error> {
        let refuse = |reason| Error::Endpoint {
            endpoint: raw.to_owned(),
            reason,
        };
        let url = Url::parse(raw).map_err(|_| refuse("not an absolute URL"))?;
        if url.host_str().is_none_or(str::is_empty) {
            return Err(refuse("no host"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(refuse("an endpoint has no query or fragment"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(refuse("an endpoint carries no user information"));
        }
        match url.scheme() {
            "https" => {}
            "http" if is_loopback(&url) => {}
            "http" => return Err(refuse("plain http is only allowed for loopback hosts")),
            _ => return Err(refuse("the scheme must be https")),
        }
        Ok(Self { url })
    }

    /// The endpoint as a URL string, without a trailing slash.
    pub fn as_str(&self) -> &str {
        self.url.as_str().trim_end_matches('/')
    }

    /// `host[:port]` exactly as sent in `Host` and signed.
    fn authority(&self) -> String {
        let host = self.url.host_str().unwrap_or_default();
        match self.url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        }
    }

    fn path_prefix(&self) -> &str {
        self.url.path().trim_end_matches('/')
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

/// Bounded, full-jitter exponential back-off for retryable errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (0 disables retrying).
    pub max_retries: u32,
    /// Upper bound of the first back-off.
    pub base_delay: Duration,
    /// Upper bound of any back-off.
    pub max_delay: Duration,
    /// A `Retry-After` longer than this is not waited out here: the error is
    /// returned (carrying the delay) so the caller can reschedule instead.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 3,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(10),
            max_retry_after: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// The back-off before retry number `retry` (0-based) when the server gave no
    /// `Retry-After`: uniform in `[0, min(max_delay, base_delay * 2^retry)]`.
    pub fn backoff(&self, retry: u32, rng: &mut impl Rng) -> Duration {
        let ceiling = self
            .base_delay
            .saturating_mul(1u32.checked_shl(retry).unwrap_or(u32::MAX))
            .min(self.max_delay);
        Duration::from_nanos(rng.random_range(0..=ceiling.as_nanos() as u64))
    }
}

/// What one attempt of a request came to: an HTTP status, or no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequestOutcome {
    /// The server answered with this HTTP status (counted when the headers
    /// arrive, whatever happens to the body afterwards).
    Status(u16),
    /// No answer within the request (or connect) timeout.
    Timeout,
    /// The connection could not be established.
    Connect,
    /// The transport failed otherwise before an answer (e.g. a reset).
    Transport,
}

impl RequestOutcome {
    fn of_send_error(error: &reqwest::Error) -> Self {
        if error.is_timeout() {
            Self::Timeout
        } else if error.is_connect() {
            Self::Connect
        } else {
            Self::Transport
        }
    }
}

/// Told the [`RequestOutcome`] of every attempt, retries included, e.g. to count
/// requests by status. It sees nothing else: no URL, header or credential.
#[derive(Clone)]
pub struct Observer(Arc<dyn Fn(RequestOutcome) + Send + Sync>);

impl Observer {
    /// An observer calling `f` once per attempt. `f` must be quick: it runs on
    /// the request's task.
    pub fn new(f: impl Fn(RequestOutcome) + Send + Sync + 'static) -> Self {
        Self(Arc::new(f))
    }
}

impl std::fmt::Debug for Observer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Observer(..)")
    }
}

/// Settings shared by every request of a [`Client`].
#[derive(Debug, Clone)]
pub struct Settings {
    /// Time to establish a connection (TCP + TLS).
    pub connect_timeout: Duration,
    /// Time for a whole request, body included.
    pub request_timeout: Duration,
    /// Retries of retryable errors.
    pub retry: RetryPolicy,
    /// Most pages one listing follows before giving up.
    pub max_pages: usize,
    /// Largest response body accepted.
    pub max_body_bytes: usize,
    /// `User-Agent` (not signed: proxies may rewrite it).
    pub user_agent: String,
    /// Told the outcome of every attempt (none by default).
    pub observer: Option<Observer>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
            max_pages: 100,
            max_body_bytes: 16 * 1024 * 1024,
            user_agent: concat!("vpnjob-operator/", env!("CARGO_PKG_VERSION")).to_owned(),
            observer: None,
        }
    }
}

/// Every job of a listing, across pages, de-duplicated by job ID.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobList {
    /// The jobs, in the order the API returned them.
    pub jobs: Vec<Job>,
    /// Jobs that could not be decoded (the others are still in `jobs`).
    pub malformed: Vec<MalformedJob>,
    /// How many pages were read.
    pub pages: usize,
    /// The request ID of each page.
    pub request_ids: Vec<String>,
}

/// A client of the VPN jobs API for one endpoint and one credential.
///
/// Cheap to clone; [`Client::with_target`] makes a client for another endpoint or
/// credential that shares the connection pool.
#[derive(Clone)]
pub struct Client {
    transport: Transport,
    endpoint: Endpoint,
    credentials: Credentials,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("endpoint", &self.endpoint)
            .field("credentials", &self.credentials)
            .finish_non_exhaustive()
    }
}

/// What clients for different endpoints and credentials share: the connection
/// pool, the clock and the settings. Cheap to clone.
#[derive(Clone)]
pub struct Transport {
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
    settings: Arc<Settings>,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Transport {
    /// A transport with explicit settings and clock.
    pub fn new(settings: Settings, clock: Arc<dyn Clock>) -> Result<Self, Error> {
        install_crypto_provider();
        let http = reqwest::Client::builder()
            .connect_timeout(settings.connect_timeout)
            .timeout(settings.request_timeout)
            // Never follow a redirect: it would carry a signed request elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(settings.user_agent.clone())
            .build()
            .map_err(Error::Build)?;
        Ok(Self {
            http,
            clock,
            settings: Arc::new(settings),
        })
    }

    /// A client for one endpoint and credential over this transport.
    pub fn client(&self, endpoint: Endpoint, credentials: Credentials) -> Client {
        Client {
            transport: self.clone(),
            endpoint,
            credentials,
        }
    }
}

impl Client {
    /// A client with default settings and the system clock.
    pub fn new(endpoint: Endpoint, credentials: Credentials) -> Result<Self, Error> {
        Self::with_settings(
            endpoint,
            credentials,
            Settings::default(),
            Arc::new(SystemClock),
        )
    }

    /// A client with explicit settings and clock.
    pub fn with_settings(
        endpoint: Endpoint,
        credentials: Credentials,
        settings: Settings,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, Error> {
        Ok(Transport::new(settings, clock)?.client(endpoint, credentials))
    }

    /// A client for another endpoint or credential, sharing this one's
    /// connection pool, clock and settings.
    pub fn with_target(&self, endpoint: Endpoint, credentials: Credentials) -> Self {
        Self {
            endpoint,
            credentials,
            ..self.clone()
        }
    }

    /// The endpoint this client calls.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Lists every job of `project_id` (of one gateway when `gateway_id` is
    /// given), following `page_info.next_marker` until it is absent.
    ///
    /// Fails on a repeated marker or past `max_pages`. Jobs are de-duplicated by
    /// ID; malformed jobs are reported in [`JobList::malformed`].
    pub async fn list_jobs(
        &self,
        project_id: &str,
        gateway_id: Option<&str>,
        page_size: Option<u32>,
    ) -> Result<JobList, Error> {
        let mut list = JobList::default();
        let mut seen_ids = HashSet::new();
        let mut seen_markers = HashSet::new();
        let mut marker: Option<String> = None;
        loop {
            if list.pages >= self.transport.settings.max_pages {
                return Err(Error::TooManyPages {
                    cap: self.transport.settings.max_pages,
                });
            }
            let page = self
                .get_page(project_id, gateway_id, page_size, marker.as_deref())
                .await?;
            list.pages += 1;
            list.request_ids.extend(page.request_id.clone());
            let empty = page.jobs.is_empty() && page.malformed.is_empty();
            let next = page.next_marker().map(str::to_owned);
            list.malformed.extend(page.malformed);
            for job in page.jobs {
                if seen_ids.insert(job.id.clone()) {
                    list.jobs.push(job);
                }
            }
            match next {
                Some(next) if !empty => {
                    if let Some(sent) = marker.take() {
                        seen_markers.insert(sent);
                    }
                    if seen_markers.contains(&next) {
                        return Err(Error::RepeatedMarker { marker: next });
                    }
                    marker = Some(next);
                }
                _ => return Ok(list),
            }
        }
    }

    /// Fetches one page, retrying retryable errors per the [`RetryPolicy`].
    pub async fn get_page(
        &self,
        project_id: &str,
        gateway_id: Option<&str>,
        page_size: Option<u32>,
        marker: Option<&str>,
    ) -> Result<Page, Error> {
        let mut query = Vec::with_capacity(3);
        if let Some(gateway_id) = gateway_id {
            query.push(("resource_id".to_owned(), gateway_id.to_owned()));
        }
        let limit = page_size.unwrap_or(DEFAULT_PAGE_SIZE);
        query.push(("limit".to_owned(), limit.to_string()));
        if let Some(marker) = marker {
            query.push(("marker".to_owned(), marker.to_owned()));
        }
        let path = format!(
            "{}/v5/{}/vpn-gateways/jobs",
            self.endpoint.path_prefix(),
            signer::encode(project_id)
        );
        let policy = &self.transport.settings.retry;
        let mut retry = 0;
        loop {
            let err = match self.send_get(project_id, &path, &query).await {
                Ok(page) => return Ok(page),
                Err(err) => err,
            };
            if !err.is_retryable() || retry >= policy.max_retries {
                return Err(err);
            }
            let delay = match err.retry_after() {
                Some(after) if after > policy.max_retry_after => return Err(err),
                Some(after) => after,
                None => policy.backoff(retry, &mut rand::rng()),
            };
            debug!(
                reason = err.reason(),
                request_id = err.request_id(),
                retry = retry + 1,
                delay_ms = delay.as_millis() as u64,
                "retrying jobs request"
            );
            self.transport.clock.sleep(delay).await;
            retry += 1;
        }
    }

    async fn send_get(
        &self,
        project_id: &str,
        path: &str,
        query: &[(String, String)],
    ) -> Result<Page, Error> {
        let mut headers = vec![
            ("Content-Type".to_owned(), "application/json".to_owned()),
            (signer::PROJECT_ID_HEADER.to_owned(), project_id.to_owned()),
        ];
        if let Some(token) = self.credentials.security_token() {
            headers.push((signer::SECURITY_TOKEN_HEADER.to_owned(), token.to_owned()));
        }
        let authority = self.endpoint.authority();
        let signed = signer::sign(
            &signer::Request {
                method: "GET",
                authority: &authority,
                path,
                query,
                headers: &headers,
                body: b"",
            },
            self.credentials.access_key(),
            self.credentials.secret_key(),
            self.transport.clock.now(),
        );
        let mut url = format!("{}://{authority}{path}", self.endpoint.url.scheme());
        let display_url = url.clone();
        if !signed.query_string.is_empty() {
            url.push('?');
            url.push_str(&signed.query_string);
        }
        let mut request = self.transport.http.get(&url);
        for (name, value) in &signed.headers {
            let mut value = HeaderValue::from_str(value).map_err(|_| Error::Endpoint {
                endpoint: self.endpoint.to_string(),
                reason: "a header value is not valid HTTP",
            })?;
            if name.eq_ignore_ascii_case("authorization")
                || name.eq_ignore_ascii_case(signer::SECURITY_TOKEN_HEADER)
            {
                value.set_sensitive(true);
            }
            request = request.header(name.as_str(), value);
        }

        let transport = |source: reqwest::Error| {
            if source.is_timeout() {
                Error::Timeout {
                    url: display_url.clone(),
                    after: self.transport.settings.request_timeout,
                }
            } else {
                Error::Transport {
                    url: display_url.clone(),
                    source,
                }
            }
        };
        let sent = request.send().await;
        self.observe(match &sent {
            Ok(response) => RequestOutcome::Status(response.status().as_u16()),
            Err(e) => RequestOutcome::of_send_error(e),
        });
        let mut response = sent.map_err(transport)?;
        let status = response.status().as_u16();
        let header_request_id = response
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, self.transport.clock.now()));

        let limit = self.transport.settings.max_body_bytes;
        let too_large = || Error::BodyTooLarge {
            limit,
            request_id: header_request_id.clone(),
        };
        if response.content_length().is_some_and(|n| n > limit as u64) {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport)? {
            if body.len() + chunk.len() > limit {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        debug!(
            status,
            request_id = header_request_id.as_deref(),
            bytes = body.len(),
            "jobs page answered"
        );

        if !(200..300).contains(&status) {
            return Err(Error::Api(ApiError::from_response(
                status,
                &body,
                header_request_id.as_deref(),
                retry_after,
            )));
        }
        let mut page = model::decode_page(&body).map_err(|source| Error::Decode {
            request_id: header_request_id.clone(),
            snippet: error::truncate(&String::from_utf8_lossy(&body), 120),
            source,
        })?;
        if page.request_id.is_none() {
            page.request_id = header_request_id;
        }
        Ok(page)
    }

    fn observe(&self, outcome: RequestOutcome) {
        if let Some(Observer(observer)) = &self.transport.settings.observer {
            observer(outcome);
        }
    }
}

/// Reads `Retry-After`: delay-seconds or an HTTP date (relative to `now`).
pub fn parse_retry_after(value: &str, now: jiff::Timestamp) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = jiff::fmt::rfc2822::parse(value).ok()?.timestamp();
    let wait = at.duration_since(now);
    Some(Duration::try_from(wait).unwrap_or(Duration::ZERO))
}

/// Installs rustls's ring provider once (the one kube uses too). Idempotent.
pub fn install_crypto_provider() {
    // Err means a provider is already installed, which is what we want.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{SeedableRng, rngs::StdRng};

    #[test]
    fn regions_map_to_the_public_vpn_endpoint() {
        let ep = Endpoint::for_region("cn-north-4").unwrap();
        assert_eq!(ep.as_str(), "https://vpn.cn-north-4.myhuaweicloud.com");
        assert_eq!(ep.authority(), "vpn.cn-north-4.myhuaweicloud.com");
        assert!(Endpoint::for_region("cn-north-4.evil.com/x").is_err());
        assert!(Endpoint::for_region("").is_err());
    }

    #[test]
    fn plain_http_is_accepted_for_loopback_only() {
        for ok in [
            "http://127.0.0.1:8080",
            "http://127.9.9.9",
            "http://[::1]:9000",
            "http://localhost:1",
            "https://vpn.example.com/prefix/",
        ] {
            assert!(Endpoint::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://10.0.0.1",
            "http://vpn.cn-north-4.myhuaweicloud.com",
            "ftp://127.0.0.1",
            "https://u:p@vpn.example.com",
            "https://vpn.example.com?x=1",
            "vpn.example.com",
        ] {
            let err = Endpoint::parse(bad).unwrap_err();
            assert!(err.to_string().contains(bad), "{err}");
        }
    }

    #[test]
    fn endpoint_authority_keeps_an_explicit_port_and_the_path_prefix() {
        let ep = Endpoint::parse("http://127.0.0.1:8443/base/").unwrap();
        assert_eq!(ep.authority(), "127.0.0.1:8443");
        assert_eq!(ep.path_prefix(), "/base");
        let v6 = Endpoint::parse("http://[::1]:9000").unwrap();
        assert_eq!(v6.authority(), "[::1]:9000");
    }

    #[test]
    fn backoff_is_full_jitter_under_an_exponential_ceiling() {
        let policy = RetryPolicy {
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(1000),
            ..RetryPolicy::default()
        };
        let mut rng = StdRng::seed_from_u64(7);
        for retry in 0..40 {
            let ceiling = Duration::from_millis((100u64 << retry.min(20)).min(1000));
            for _ in 0..50 {
                assert!(policy.backoff(retry, &mut rng) <= ceiling);
            }
        }
        let spread: HashSet<Duration> = (0..50).map(|_| policy.backoff(3, &mut rng)).collect();
        assert!(spread.len() > 40, "delays are jittered, not fixed");
    }

    #[test]
    fn retry_after_takes_seconds_or_an_http_date() {
        let now: jiff::Timestamp = "2026-03-18T15:08:53Z".parse().unwrap();
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Wed, 18 Mar 2026 15:09:03 GMT", now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            parse_retry_after("Wed, 18 Mar 2026 15:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
