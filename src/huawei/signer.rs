//! `SDK-HMAC-SHA256`, the AK/SK request signature of Huawei Cloud's API gateway.
//!
//! A pure function of the request, the key and the time: no clock, no I/O, no HTTP
//! client types. The client and the simulator both call [`sign`]; the simulator
//! verifies with [`canonicalize`] + [`signature`]. Because both sides share this
//! code, it is also pinned by the official Python SDK's own output
//! (`tests/fixtures/signer-vectors.json`), so a mirrored bug cannot hide.
//!
//! Wire rules that matter (see docs/huawei-client.md):
//! - the canonical path is decoded, split on `/`, each segment re-encoded with the
//!   RFC 3986 unreserved set, and always ends in `/` (only in the canonical form);
//! - query pairs are sorted on their *raw* key and value, then encoded the same
//!   way; the client sends exactly that string on the wire;
//! - every header is signed except names containing `_`; values are trimmed at the
//!   ends only.

use hmac::{Hmac, Mac};
use jiff::Timestamp;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use sha2::{Digest, Sha256};

/// The algorithm name that starts the `Authorization` header.
pub const ALGORITHM: &str = "SDK-HMAC-SHA256";
/// Header carrying the signing time, basic ISO 8601 in UTC.
pub const DATE_HEADER: &str = "X-Sdk-Date";
/// Header carrying a temporary credential's security token (signed).
pub const SECURITY_TOKEN_HEADER: &str = "X-Security-Token";
/// Header carrying the project ID, as the official SDK sends it.
pub const PROJECT_ID_HEADER: &str = "X-Project-Id";
/// Header that replaces the payload hash for non-JSON bodies.
pub const CONTENT_SHA256_HEADER: &str = "X-Sdk-Content-Sha256";
/// Value of [`CONTENT_SHA256_HEADER`] for bodies that are not hashed.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
/// SHA-256 of the empty string: the payload hash of every body-less request.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

const DATE_FORMAT: &str = "%Y%m%dT%H%M%SZ";

/// RFC 3986 unreserved characters stay literal; every other byte is `%XX` (uppercase).
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// A request as it will be sent, before signing.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// HTTP method, any case.
    pub method: &'a str,
    /// The authority the request goes to (`host[:port]`); signed as `Host` unless
    /// `headers` already holds a `Host`.
    pub authority: &'a str,
    /// The path as sent on the wire (already percent-encoded), without the query.
    pub path: &'a str,
    /// Query pairs, unencoded, in any order. Repeated keys are allowed.
    pub query: &'a [(String, String)],
    /// Headers to send, in any case. `Host` and `X-Sdk-Date` are added when absent.
    pub headers: &'a [(String, String)],
    /// The exact body bytes sent (empty for none).
    pub body: &'a [u8],
}

/// The outcome of [`sign`]: everything to put on the wire, plus the intermediate
/// values so tests can compare them byte for byte.
///
/// `Debug` is hand-written: the signature is a bearer credential for about 15
/// minutes, so it is never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Signed {
    /// The canonical request that was hashed.
    pub canonical_request: String,
    /// The string whose HMAC is the signature.
    pub string_to_sign: String,
    /// Lower-cased, sorted names of the signed headers.
    pub signed_headers: Vec<String>,
    /// Value of the `Authorization` header.
    pub authorization: String,
    /// The encoded query string to send (empty when there is none); identical to
    /// the canonical one.
    pub query_string: String,
    /// Every header to send, in order: the caller's (values trimmed), then the
    /// added `X-Sdk-Content-Sha256`, `X-Sdk-Date`, `Host`, and `Authorization`.
    pub headers: Vec<(String, String)>,
}

impl std::fmt::Debug for Signed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signed")
            .field("signed_headers", &self.signed_headers)
            .field("query_string", &self.query_string)
            .field("authorization", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// The parts of a request that the signature covers, in canonical form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Canonical {
    /// The full canonical request text.
    pub request: String,
    /// Lower-cased, sorted names of the signed headers.
    pub signed_headers: Vec<String>,
    /// The `X-Sdk-Date` value the signature is bound to.
    pub date: String,
}

/// Signs `request` with the access key `ak` and secret key `sk` at time `at`.
///
/// `at` is used only when the request carries no `X-Sdk-Date` header of its own.
pub fn sign(request: &Request<'_>, ak: &str, sk: &[u8], at: Timestamp) -> Signed {
    let mut headers: Vec<(String, String)> = request
        .headers
        .iter()
        .map(|(name, value)| (name.clone(), value.trim().to_owned()))
        .collect();
    if let Some(content_type) = header(&headers, "content-type")
        && !content_type.starts_with("application/json")
        && !content_type.starts_with("application/bson")
        && header(&headers, CONTENT_SHA256_HEADER).is_none()
    {
        headers.push((
            CONTENT_SHA256_HEADER.to_owned(),
            UNSIGNED_PAYLOAD.to_owned(),
        ));
    }
    if header(&headers, DATE_HEADER).is_none() {
        headers.push((DATE_HEADER.to_owned(), format_date(at)));
    }
    if header(&headers, "host").is_none() {
        headers.push(("Host".to_owned(), request.authority.to_owned()));
    }

    let canonical = canonicalize(&Request {
        headers: &headers,
        ..*request
    });
    let string_to_sign = string_to_sign(&canonical);
    let authorization = format!(
        "{ALGORITHM} Access={ak}, SignedHeaders={}, Signature={}",
        canonical.signed_headers.join(";"),
        signature(&string_to_sign, sk),
    );
    headers.push(("Authorization".to_owned(), authorization.clone()));
    Signed {
        query_string: canonical_query(request.query),
        canonical_request: canonical.request,
        string_to_sign,
        signed_headers: canonical.signed_headers,
        authorization,
        headers,
    }
}

/// Builds the canonical request over every header of `request` whose name has no
/// `_`. The caller must already have added `Host` and `X-Sdk-Date`.
pub fn canonicalize(request: &Request<'_>) -> Canonical {
    let mut signed: Vec<(String, &str)> = request
        .headers
        .iter()
        .filter(|(name, _)| !name.contains('_'))
        .map(|(name, value)| (name.to_ascii_lowercase(), value.trim()))
        .collect();
    signed.sort_by(|a, b| a.0.cmp(&b.0));

    let mut text = String::with_capacity(512);
    text.push_str(&request.method.to_ascii_uppercase());
    text.push('\n');
    text.push_str(&canonical_path(request.path));
    text.push('\n');
    text.push_str(&canonical_query(request.query));
    text.push('\n');
    for (name, value) in &signed {
        text.push_str(name);
        text.push(':');
        text.push_str(value);
        text.push('\n');
    }
    text.push('\n');
    let signed_headers: Vec<String> = signed.iter().map(|(name, _)| name.clone()).collect();
    text.push_str(&signed_headers.join(";"));
    text.push('\n');
    text.push_str(&payload_hash(request.headers, request.body));

    Canonical {
        request: text,
        signed_headers,
        date: header(request.headers, DATE_HEADER)
            .unwrap_or_default()
            .to_owned(),
    }
}

/// `SDK-HMAC-SHA256 \n date \n hex(sha256(canonical request))`.
pub fn string_to_sign(canonical: &Canonical) -> String {
    format!(
        "{ALGORITHM}\n{}\n{}",
        canonical.date,
        hex::encode(Sha256::digest(canonical.request.as_bytes()))
    )
}

/// Lower-hex HMAC-SHA256 of `string_to_sign`, keyed with the raw secret key bytes.
pub fn signature(string_to_sign: &str, sk: &[u8]) -> String {
    // HMAC accepts keys of any length; `new_from_slice` cannot fail for it.
    let mut mac = Hmac::<Sha256>::new_from_slice(sk).expect("HMAC takes keys of any length");
    mac.update(string_to_sign.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Formats a time as `X-Sdk-Date` wants it: `20260318T150853Z`.
pub fn format_date(at: Timestamp) -> String {
    at.strftime(DATE_FORMAT).to_string()
}

/// Parses an `X-Sdk-Date` value; `None` when it is not `YYYYMMDDTHHMMSSZ`.
pub fn parse_date(value: &str) -> Option<Timestamp> {
    if value.len() != 16 || !value.ends_with('Z') {
        return None;
    }
    jiff::civil::DateTime::strptime("%Y%m%dT%H%M%S", &value[..15])
        .ok()?
        .to_zoned(jiff::tz::TimeZone::UTC)
        .ok()
        .map(|zoned| zoned.timestamp())
}

/// The parts of an `Authorization: SDK-HMAC-SHA256 ...` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization<'a> {
    /// The access key.
    pub access: &'a str,
    /// The `;`-separated signed header names, as sent.
    pub signed_headers: Vec<&'a str>,
    /// The hex signature.
    pub signature: &'a str,
}

/// Parses an `Authorization` header value; `None` when it is not ours.
pub fn parse_authorization(value: &str) -> Option<Authorization<'_>> {
    let rest = value.strip_prefix(ALGORITHM)?.strip_prefix(' ')?;
    let (mut access, mut signed, mut sig) = (None, None, None);
    for part in rest.split(',') {
        let (key, val) = part.trim().split_once('=')?;
        match key {
            "Access" => access = Some(val),
            "SignedHeaders" => signed = Some(val),
            "Signature" => sig = Some(val),
            _ => return None,
        }
    }
    Some(Authorization {
        access: access?,
        signed_headers: signed?.split(';').collect(),
        signature: sig?,
    })
}

/// Percent-encodes one path segment, query key or query value.
pub fn encode(raw: &str) -> String {
    utf8_percent_encode(raw, UNRESERVED).to_string()
}

/// The canonical query string, which is also the string sent on the wire.
pub fn canonical_query(query: &[(String, String)]) -> String {
    let mut pairs: Vec<&(String, String)> = query.iter().collect();
    pairs.sort();
    let mut out = String::new();
    for (i, (key, value)) in pairs.into_iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(&encode(key));
        out.push('=');
        out.push_str(&encode(value));
    }
    out
}

fn canonical_path(path: &str) -> String {
    let decoded = percent_decode_str(path).decode_utf8_lossy();
    let mut out = decoded.split('/').map(encode).collect::<Vec<_>>().join("/");
    if !out.ends_with('/') {
        out.push('/');
    }
    out
}

fn payload_hash(headers: &[(String, String)], body: &[u8]) -> String {
    if body.is_empty() {
        return EMPTY_SHA256.to_owned();
    }
    match header(headers, CONTENT_SHA256_HEADER) {
        Some(value) => value.to_owned(),
        None => hex::encode(Sha256::digest(body)),
    }
}

fn header<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> Timestamp {
        "2026-03-18T15:08:53Z".parse().unwrap()
    }

    #[test]
    fn date_round_trips_through_the_basic_iso_format() {
        assert_eq!(format_date(at()), "20260318T150853Z");
        assert_eq!(parse_date("20260318T150853Z"), Some(at()));
        assert_eq!(parse_date("2026-03-18T15:08:53Z"), None);
        assert_eq!(parse_date("20260318T150853"), None);
    }

    #[test]
    fn canonical_path_always_ends_in_one_slash_and_reencodes_segments() {
        assert_eq!(canonical_path("/v5/p/jobs"), "/v5/p/jobs/");
        assert_eq!(canonical_path("/v5/p/jobs/"), "/v5/p/jobs/");
        assert_eq!(canonical_path("/a%20b/c~d"), "/a%20b/c~d/");
        assert_eq!(canonical_path("/é"), "/%C3%A9/");
    }

    #[test]
    fn query_sorts_on_raw_values_not_encoded_ones() {
        let q = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            canonical_query(&q(&[("a", "1"), ("é", "2"), ("{x}", "3"), ("Z", "4")])),
            "Z=4&a=1&%7Bx%7D=3&%C3%A9=2"
        );
        assert_eq!(
            canonical_query(&q(&[("marker", "2026-03-18T15:08:53.679462Z")])),
            "marker=2026-03-18T15%3A08%3A53.679462Z"
        );
        assert_eq!(canonical_query(&q(&[("k", "a b+c")])), "k=a%20b%2Bc");
    }

    #[test]
    fn sign_adds_date_and_host_and_the_authorization_header() {
        let signed = sign(
            &Request {
                method: "get",
                authority: "127.0.0.1:8080",
                path: "/v5/p/vpn-gateways/jobs",
                query: &[],
                headers: &[],
                body: b"",
            },
            "AK",
            b"SK",
            at(),
        );
        let names: Vec<&str> = signed.headers.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["X-Sdk-Date", "Host", "Authorization"]);
        assert_eq!(signed.signed_headers, ["host", "x-sdk-date"]);
        assert!(signed.canonical_request.starts_with("GET\n"));
        let parsed = parse_authorization(&signed.authorization).unwrap();
        assert_eq!(parsed.access, "AK");
        assert_eq!(parsed.signed_headers, ["host", "x-sdk-date"]);
        assert_eq!(
            parsed.signature,
            signature(&signed.string_to_sign, b"SK").as_str()
        );
    }

    #[test]
    fn debug_of_a_signed_request_hides_the_signature() {
        let signed = sign(
            &Request {
                method: "GET",
                authority: "h",
                path: "/",
                query: &[],
                headers: &[],
                body: b"",
            },
            "AK",
            b"SK",
            at(),
        );
        let sig = parse_authorization(&signed.authorization)
            .unwrap()
            .signature
            .to_owned();
        assert!(!format!("{signed:?}").contains(&sig));
    }

    #[test]
    fn foreign_authorization_headers_are_not_parsed() {
        assert!(parse_authorization("Bearer abc").is_none());
        assert!(parse_authorization("SDK-HMAC-SHA256 Access=a, SignedHeaders=h").is_none());
    }
}
