//! Errors of the Huawei Cloud client, how to read the cloud's error bodies, and
//! which errors are worth another try.
//!
//! Every API error keeps the HTTP status, the error code, the message and the
//! request ID: the request ID is what Huawei support asks for.

use std::{fmt, time::Duration};

use serde_json::{Map, Value};

/// How an error should be handled by whoever called the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Worth another try after a back-off: throttling, a busy service, 5xx,
    /// timeouts, connection errors.
    Retryable,
    /// The credentials were refused (401/403). Never retried in a tight loop:
    /// after five consecutive 401s the cloud locks the access key for 5 minutes.
    Authentication,
    /// The project or resource does not exist.
    NotFound,
    /// The request itself is wrong; repeating it will not help.
    InvalidRequest,
    /// Anything else (a malformed answer, a local configuration problem).
    Other,
}

/// An error answer of the cloud API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: u16,
    /// The cloud's error code (`APIGW.0301`, `VPN.0030`...), or the HTTP status
    /// as text when the body carries none.
    pub code: String,
    /// The cloud's message (at most 512 bytes are kept).
    pub message: String,
    /// Request ID from the body, else from the `X-Request-Id` header.
    pub request_id: Option<String>,
    /// How long the server asked us to wait (`Retry-After`).
    pub retry_after: Option<Duration>,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cloud API answered HTTP {} {}: {} (request id {})",
            self.status,
            self.code,
            self.message,
            self.request_id.as_deref().unwrap_or("none")
        )
    }
}

/// Errors of the Huawei Cloud client.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The API answered with an error status.
    #[error("{0}")]
    Api(ApiError),
    /// No complete answer within the request timeout.
    #[error("request to {url} timed out after {after:?}")]
    Timeout {
        /// The URL (without query).
        url: String,
        /// The timeout that elapsed.
        after: Duration,
    },
    /// The connection could not be made or broke.
    #[error("could not reach {url}")]
    Transport {
        /// The URL (without query).
        url: String,
        /// What went wrong.
        #[source]
        source: reqwest::Error,
    },
    /// The body is not the JSON the API documents.
    #[error("malformed response body (request id {}, starts with {snippet:?})", request_id.as_deref().unwrap_or("none"))]
    Decode {
        /// The request ID, when known.
        request_id: Option<String>,
        /// The first bytes of the body.
        snippet: String,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// The body is larger than the configured cap.
    #[error("response body exceeds {limit} bytes (request id {})", request_id.as_deref().unwrap_or("none"))]
    BodyTooLarge {
        /// The cap in bytes.
        limit: usize,
        /// The request ID, when known.
        request_id: Option<String>,
    },
    /// The API sent a page marker it had sent before: following it would loop.
    #[error("the API repeated page marker {marker:?}")]
    RepeatedMarker {
        /// The repeated marker.
        marker: String,
    },
    /// More pages than the configured cap.
    #[error("listing stopped after {cap} pages")]
    TooManyPages {
        /// The cap.
        cap: usize,
    },
    /// The endpoint or region cannot be used.
    #[error("invalid endpoint {endpoint:?}: {reason}")]
    Endpoint {
        /// What was given.
        endpoint: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// The HTTP client could not be built.
    #[error("could not build the HTTP client")]
    Build(#[source] reqwest::Error),
}

impl Error {
    /// How the caller should treat this error.
    pub fn class(&self) -> Class {
        match self {
            Error::Api(api) => classify(api.status, &api.code),
            Error::Timeout { .. } | Error::Transport { .. } => Class::Retryable,
            Error::Endpoint { .. } => Class::InvalidRequest,
            Error::Decode { .. }
            | Error::BodyTooLarge { .. }
            | Error::RepeatedMarker { .. }
            | Error::TooManyPages { .. }
            | Error::Build(_) => Class::Other,
        }
    }

    /// True when another try after a back-off may succeed.
    pub fn is_retryable(&self) -> bool {
        self.class() == Class::Retryable
    }

    /// A stable PascalCase tag for condition reasons, event reasons and metric
    /// labels. The set is fixed, so labels stay bounded.
    pub fn reason(&self) -> &'static str {
        match self {
            Error::Api(api) => match (classify(api.status, &api.code), api.status) {
                (Class::Authentication, _) => "AuthenticationFailed",
                (Class::NotFound, _) => "NotFound",
                (Class::InvalidRequest, _) => "InvalidRequest",
                (_, 429) => "Throttled",
                _ if is_throttle_code(&api.code) => "Throttled",
                _ if api.code == "VPN.0030" => "ServiceBusy",
                (_, 408) => "Timeout",
                // Redirects are never followed (they would carry a signed request
                // elsewhere), so a 3xx ends here.
                (_, 300..=399) => "UnexpectedRedirect",
                _ => "ServerError",
            },
            Error::Timeout { .. } => "Timeout",
            Error::Transport { .. } => "ConnectionFailed",
            Error::Decode { .. } => "MalformedResponse",
            Error::BodyTooLarge { .. } => "ResponseTooLarge",
            Error::RepeatedMarker { .. } => "RepeatedMarker",
            Error::TooManyPages { .. } => "TooManyPages",
            Error::Endpoint { .. } => "InvalidEndpoint",
            Error::Build(_) => "ClientSetup",
        }
    }

    /// The request ID of the failed call, when the answer carried one.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Error::Api(api) => api.request_id.as_deref(),
            Error::Decode { request_id, .. } | Error::BodyTooLarge { request_id, .. } => {
                request_id.as_deref()
            }
            _ => None,
        }
    }

    /// How long the server asked us to wait before the next try.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::Api(api) => api.retry_after,
            _ => None,
        }
    }
}

/// Classifies an API error answer by HTTP status and error code.
///
/// `VPN.0030` ("system busy") is retryable although it comes as 400; throttling
/// (`APIG(W).0308`) is retryable whatever status carries it.
pub fn classify(status: u16, code: &str) -> Class {
    if status == 429 || is_throttle_code(code) || code == "VPN.0030" {
        return Class::Retryable;
    }
    match status {
        408 | 500..=599 => Class::Retryable,
        401 | 403 => Class::Authentication,
        404 => Class::NotFound,
        400..=499 => Class::InvalidRequest,
        _ => Class::Other,
    }
}

fn is_throttle_code(code: &str) -> bool {
    matches!(code, "APIGW.0308" | "APIG.0308")
}

const MAX_MESSAGE_BYTES: usize = 512;

impl ApiError {
    /// Reads an error answer. Understands every body shape the cloud is known to
    /// use: `error_code`/`error_msg`, `error_code`/`error_message`, `code`/`message`,
    /// `errorCode`/`errorMsg`, and any of them nested (e.g. under `error`). When the
    /// body has none, the code is the HTTP status and the message is the body text.
    pub fn from_response(
        status: u16,
        body: &[u8],
        header_request_id: Option<&str>,
        retry_after: Option<Duration>,
    ) -> Self {
        let json: Option<Map<String, Value>> = serde_json::from_slice(body).ok();
        let pair = json.as_ref().and_then(find_code_and_message);
        let body_request_id = json.as_ref().and_then(find_request_id);
        let (code, message) = pair.unwrap_or_else(|| {
            (
                status.to_string(),
                String::from_utf8_lossy(body).trim().to_owned(),
            )
        });
        ApiError {
            status,
            code,
            message: truncate(&message, MAX_MESSAGE_BYTES),
            request_id: body_request_id
                .or_else(|| header_request_id.map(str::to_owned))
                .filter(|id| !id.is_empty()),
            retry_after,
        }
    }
}

const CODE_KEYS: [&str; 3] = ["error_code", "code", "errorCode"];
const MESSAGE_KEYS: [&str; 4] = ["error_msg", "error_message", "message", "errorMsg"];

fn find_code_and_message(obj: &Map<String, Value>) -> Option<(String, String)> {
    let code = CODE_KEYS
        .iter()
        .filter_map(|k| obj.get(*k).and_then(scalar))
        .find(|c| !c.is_empty());
    if let Some(code) = code {
        let message = MESSAGE_KEYS
            .iter()
            .filter_map(|k| obj.get(*k).and_then(scalar))
            .find(|m| !m.is_empty())
            .unwrap_or_default();
        return Some((code, message));
    }
    // `error` first, then any other nested object, as the SDKs recurse.
    let nested = obj.get("error").into_iter().chain(obj.values());
    nested
        .filter_map(Value::as_object)
        .find_map(find_code_and_message)
}

fn find_request_id(obj: &Map<String, Value>) -> Option<String> {
    obj.get("request_id")
        .and_then(scalar)
        .filter(|id| !id.is_empty())
        .or_else(|| {
            obj.values()
                .filter_map(Value::as_object)
                .find_map(find_request_id)
        })
}

fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Cuts `text` to at most `max` bytes on a character boundary, marking the cut.
pub fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max.saturating_sub(3);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(status: u16, body: &str) -> ApiError {
        ApiError::from_response(status, body.as_bytes(), Some("hdr-id"), None)
    }

    #[test]
    fn every_known_error_body_shape_is_read() {
        let cases = [
            (
                r#"{"error_code":"APIGW.0301","error_msg":"Incorrect IAM authentication information","request_id":"body-id"}"#,
                "APIGW.0301",
                "Incorrect IAM authentication information",
                "body-id",
            ),
            (
                r#"{"status_code":401,"error_code":"APIG.0301","error_message":"signature expired","encoded_authorization_message":"x"}"#,
                "APIG.0301",
                "signature expired",
                "hdr-id",
            ),
            (
                r#"{"code":"VPN.0001","message":"invalid request:limit"}"#,
                "VPN.0001",
                "invalid request:limit",
                "hdr-id",
            ),
            (
                r#"{"errorCode":"VPN.0004","errorMsg":"not found"}"#,
                "VPN.0004",
                "not found",
                "hdr-id",
            ),
            (
                r#"{"error":{"code":"VPN.0002","message":"server error","request_id":"nested-id"}}"#,
                "VPN.0002",
                "server error",
                "nested-id",
            ),
            (
                r#"{"error_code":"VPN.0030","error_msg":"The system is busy","error":{"code":"x","message":"y"}}"#,
                "VPN.0030",
                "The system is busy",
                "hdr-id",
            ),
        ];
        for (body, code, message, request_id) in cases {
            let err = parse(400, body);
            assert_eq!(
                (err.code.as_str(), err.message.as_str()),
                (code, message),
                "{body}"
            );
            assert_eq!(err.request_id.as_deref(), Some(request_id), "{body}");
        }
    }

    #[test]
    fn a_body_without_a_code_falls_back_to_status_and_text() {
        let err = parse(502, "<html>Bad Gateway</html>");
        assert_eq!(err.code, "502");
        assert_eq!(err.message, "<html>Bad Gateway</html>");
        let empty = ApiError::from_response(503, b"", None, None);
        assert_eq!((empty.code.as_str(), empty.request_id), ("503", None));
    }

    #[test]
    fn long_messages_are_cut_on_a_char_boundary() {
        let long = "网".repeat(400);
        let err = parse(500, &format!(r#"{{"code":"X","message":"{long}"}}"#));
        assert!(err.message.len() <= MAX_MESSAGE_BYTES);
        assert!(err.message.ends_with("..."));
    }

    /// The retry table of docs/huawei-client.md: throttling and a busy service are
    /// retried whatever their status; 401/403 never are.
    #[test]
    fn classification_follows_the_retry_table() {
        let table = [
            (429, "APIGW.0308", Class::Retryable, "Throttled"),
            (429, "429", Class::Retryable, "Throttled"),
            (400, "VPN.0030", Class::Retryable, "ServiceBusy"),
            (408, "408", Class::Retryable, "Timeout"),
            (500, "VPN.0002", Class::Retryable, "ServerError"),
            (502, "APIGW.0201", Class::Retryable, "ServerError"),
            (503, "503", Class::Retryable, "ServerError"),
            (504, "APIGW.0201", Class::Retryable, "ServerError"),
            (
                401,
                "APIGW.0301",
                Class::Authentication,
                "AuthenticationFailed",
            ),
            (
                403,
                "APIGW.0302",
                Class::Authentication,
                "AuthenticationFailed",
            ),
            (
                403,
                "VPN.0003",
                Class::Authentication,
                "AuthenticationFailed",
            ),
            (404, "VPN.0004", Class::NotFound, "NotFound"),
            (404, "APIGW.0101", Class::NotFound, "NotFound"),
            (400, "VPN.0001", Class::InvalidRequest, "InvalidRequest"),
            (400, "VPN.0031", Class::InvalidRequest, "InvalidRequest"),
            (302, "302", Class::Other, "UnexpectedRedirect"),
        ];
        for (status, code, class, reason) in table {
            let err = Error::Api(parse(status, &format!(r#"{{"error_code":"{code}"}}"#)));
            assert_eq!(err.class(), class, "{status} {code}");
            assert_eq!(err.reason(), reason, "{status} {code}");
            assert_eq!(err.is_retryable(), class == Class::Retryable);
        }
    }

    #[test]
    fn display_names_status_code_message_and_request_id() {
        let err = Error::Api(parse(
            401,
            r#"{"error_code":"APIGW.0301","error_msg":"bad signature","request_id":"r-1"}"#,
        ));
        assert_eq!(
            err.to_string(),
            "cloud API answered HTTP 401 APIGW.0301: bad signature (request id r-1)"
        );
        assert_eq!(err.request_id(), Some("r-1"));
    }
}
