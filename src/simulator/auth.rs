//! Checks `SDK-HMAC-SHA256` signatures as Huawei Cloud's API gateway does, and
//! emulates its lockout of an access key after repeated failures.
//!
//! The canonical request is rebuilt from what arrived: the raw path, the raw
//! query decoded pair by pair, and exactly the headers the client named in
//! `SignedHeaders`, then signed with [`signer::signature`]. The client and this
//! check share `huawei::signer`; the signer is pinned separately by the official
//! SDK's vectors, so a mirrored bug would still be caught there.

use std::{collections::HashMap, time::Duration};

use axum::http::HeaderMap;
use jiff::{SignedDuration, Timestamp};

use super::scenario::Scenario;
use crate::{clock, huawei::signer};

/// Largest difference between `X-Sdk-Date` and the simulator's clock.
pub const MAX_CLOCK_SKEW: Duration = Duration::from_secs(15 * 60);
/// Consecutive authentication failures of one access key that lock it.
pub const LOCKOUT_AFTER_FAILURES: u32 = 5;
/// How long a locked access key is refused.
pub const LOCKOUT_DURATION: Duration = Duration::from_secs(5 * 60);

/// The gateway's message for a locked access key.
pub(crate) const LOCKED: &str = "AK access failed to reach the limit,forbidden";

/// The parts of a request the signature covers.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Incoming<'a> {
    pub method: &'a str,
    /// The path exactly as received (still percent-encoded).
    pub path: &'a str,
    /// The query, decoded pair by pair.
    pub query: &'a [(String, String)],
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

/// Why a request was not authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failure {
    /// The access key the request claimed, when it could be read.
    pub access_key: Option<String>,
    /// Short reason, appended to "Incorrect IAM authentication information: ".
    pub reason: String,
}

/// Per access key: consecutive failures, and the end of a lockout.
#[derive(Debug, Default)]
pub(crate) struct Lockouts {
    keys: HashMap<String, KeyState>,
}

#[derive(Debug, Default)]
struct KeyState {
    failures: u32,
    locked_until: Option<Timestamp>,
}

impl Lockouts {
    fn is_locked(&mut self, access_key: &str, now: Timestamp) -> bool {
        let Some(state) = self.keys.get_mut(access_key) else {
            return false;
        };
        match state.locked_until {
            Some(until) if now < until => true,
            Some(_) => {
                *state = KeyState::default();
                false
            }
            None => false,
        }
    }

    fn failed(&mut self, access_key: &str, now: Timestamp) {
        let state = self.keys.entry(access_key.to_owned()).or_default();
        state.failures += 1;
        if state.failures >= LOCKOUT_AFTER_FAILURES {
            state.failures = 0;
            state.locked_until = Some(clock::add(now, LOCKOUT_DURATION));
        }
    }

    fn succeeded(&mut self, access_key: &str) {
        self.keys.remove(access_key);
    }
}

/// Authenticates `request` against the scenario's credentials at `now`, updating
/// the lockout state. Returns the access key on success.
///
/// Only keys the scenario knows are counted towards a lockout; a locked key is
/// refused whatever its signature, and refusals while locked do not extend it.
pub(crate) fn authenticate(
    request: &Incoming<'_>,
    scenario: &Scenario,
    lockouts: &mut Lockouts,
    now: Timestamp,
) -> Result<String, Failure> {
    let fail = |access_key: Option<&str>, reason: &str| Failure {
        access_key: access_key.map(str::to_owned),
        reason: reason.to_owned(),
    };
    let Some(value) = request.headers.get(axum::http::header::AUTHORIZATION) else {
        return Err(fail(None, "Authorization not found in header"));
    };
    let Some(auth) = value.to_str().ok().and_then(signer::parse_authorization) else {
        return Err(fail(
            None,
            "Authorization is not SDK-HMAC-SHA256 Access=..., SignedHeaders=..., Signature=...",
        ));
    };
    let access_key = auth.access;
    let Some(credentials) = scenario.credential(access_key) else {
        return Err(fail(Some(access_key), "access key not found"));
    };
    if lockouts.is_locked(access_key, now) {
        return Err(fail(Some(access_key), LOCKED));
    }
    match check(request, &auth, credentials, now) {
        Ok(()) => {
            lockouts.succeeded(access_key);
            Ok(access_key.to_owned())
        }
        Err(reason) => {
            lockouts.failed(access_key, now);
            Err(Failure {
                access_key: Some(access_key.to_owned()),
                reason,
            })
        }
    }
}

fn check(
    request: &Incoming<'_>,
    auth: &signer::Authorization<'_>,
    credentials: &crate::huawei::Credentials,
    now: Timestamp,
) -> Result<(), String> {
    let signed = &auth.signed_headers;
    let well_formed = signed.iter().all(|name| {
        !name.is_empty() && !name.contains('_') && !name.bytes().any(|b| b.is_ascii_uppercase())
    }) && signed.windows(2).all(|pair| pair[0] < pair[1]);
    if !well_formed {
        return Err("SignedHeaders must be unique lowercase names, sorted".to_owned());
    }
    for required in ["host", "x-sdk-date"] {
        if !signed.contains(&required) {
            return Err(format!("{required} must be signed"));
        }
    }

    let date_header = signer::DATE_HEADER.to_ascii_lowercase();
    let date = header_value(request.headers, &date_header)
        .ok_or_else(|| "X-Sdk-Date not found in header".to_owned())?;
    let date = signer::parse_date(date.trim())
        .ok_or_else(|| "X-Sdk-Date is not in the format YYYYMMDDTHHMMSSZ".to_owned())?;
    let skew = now.duration_since(date).abs();
    if skew > SignedDuration::try_from(MAX_CLOCK_SKEW).unwrap_or(SignedDuration::MAX) {
        return Err(
            "signature expired: X-Sdk-Date is more than 15 minutes from the server time".to_owned(),
        );
    }

    if let Some(token) = credentials.security_token() {
        let token_header = signer::SECURITY_TOKEN_HEADER.to_ascii_lowercase();
        if !signed.contains(&token_header.as_str()) {
            return Err("X-Security-Token is required and must be signed".to_owned());
        }
        match header_value(request.headers, &token_header) {
            Some(sent) if constant_time_eq(sent.trim().as_bytes(), token.as_bytes()) => {}
            Some(_) => return Err("security token does not match".to_owned()),
            None => return Err("X-Security-Token not found in header".to_owned()),
        }
    }

    let mut headers = Vec::with_capacity(signed.len());
    for name in signed {
        let value = header_value(request.headers, name)
            .ok_or_else(|| format!("signed header {name} not found in request"))?;
        headers.push(((*name).to_owned(), value));
    }
    let canonical = signer::canonicalize(&signer::Request {
        method: request.method,
        authority: "",
        path: request.path,
        query: request.query,
        headers: &headers,
        body: request.body,
    });
    let expected = signer::signature(
        &signer::string_to_sign(&canonical),
        credentials.secret_key(),
    );
    if constant_time_eq(expected.as_bytes(), auth.signature.as_bytes()) {
        Ok(())
    } else {
        Err("verify aksk signature fail".to_owned())
    }
}

/// Every value of header `name`, joined with `,` as HTTP folds repeated headers.
fn header_value(headers: &HeaderMap, name: &str) -> Option<String> {
    let values: Vec<String> = headers
        .get_all(name)
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .collect();
    (!values.is_empty()).then(|| values.join(","))
}

/// Compares without an early exit on the first differing byte.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn five_consecutive_failures_lock_a_key_for_five_minutes() {
        let now = at("2026-03-18T15:00:00Z");
        let mut lockouts = Lockouts::default();
        for _ in 0..4 {
            lockouts.failed("AK", now);
        }
        assert!(!lockouts.is_locked("AK", now));
        lockouts.failed("AK", now);
        assert!(lockouts.is_locked("AK", now));
        assert!(!lockouts.is_locked("OTHER", now));
        assert!(lockouts.is_locked("AK", at("2026-03-18T15:04:59Z")));
        assert!(!lockouts.is_locked("AK", at("2026-03-18T15:05:00Z")));
        lockouts.failed("AK", now);
        assert!(
            !lockouts.is_locked("AK", now),
            "the count restarts after a lockout"
        );
    }

    #[test]
    fn a_success_resets_the_failure_count() {
        let now = at("2026-03-18T15:00:00Z");
        let mut lockouts = Lockouts::default();
        for _ in 0..4 {
            lockouts.failed("AK", now);
        }
        lockouts.succeeded("AK");
        for _ in 0..4 {
            lockouts.failed("AK", now);
        }
        assert!(!lockouts.is_locked("AK", now));
    }

    #[test]
    fn constant_time_eq_compares_length_and_content() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }
}
