//! One page of `GET /v5/{project_id}/vpn-gateways/jobs`, computed from a job list
//! and the request's query. Pure: no I/O, no clock.
//!
//! Our reading of the (undocumented) paging rules:
//! - jobs are sorted newest first by `created_at`; jobs whose `created_at` is
//!   missing or unparsable sort last, in scenario order;
//! - `marker` is a creation time; the page holds the jobs strictly older than it
//!   (jobs without a usable `created_at` count as older than any marker), so jobs
//!   sharing a creation time can be skipped at a page boundary, as with any
//!   keyset pagination;
//! - `page_info.next_marker` is the `created_at` of the page's last job, exactly
//!   as written in the job, and is absent on the last page.

use jiff::Timestamp;
use percent_encoding::percent_decode_str;
use serde::Serialize;
use serde_json::Value;

use crate::huawei::model::parse_time;

/// The validated query of a list request.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ListQuery {
    /// Only jobs whose `resource_id` equals this.
    pub resource_id: Option<String>,
    /// Page size.
    pub limit: u32,
    /// Only jobs created strictly before this.
    pub marker: Option<Marker>,
}

/// A `marker` parameter: its raw text and the time it names.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Marker {
    pub raw: String,
    pub at: Timestamp,
}

/// One page, borrowing the scenario's jobs.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Listing<'a> {
    /// The jobs on this page, in order.
    pub jobs: Vec<&'a Value>,
    /// How many jobs match the `resource_id` filter (on every page).
    pub total_count: usize,
    /// Marker of the next page; `None` on the last page.
    pub next_marker: Option<String>,
}

/// Splits a raw query string into decoded pairs, as the signature check needs
/// them: split on `&` and the first `=`, percent-decode both sides, and keep `+`
/// as a plus (the SDK encodes a space as `%20`, never `+`).
pub(crate) fn decode_query(raw: &str) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|piece| !piece.is_empty())
        .map(|piece| {
            let (key, value) = piece.split_once('=').unwrap_or((piece, ""));
            (decode(key), decode(value))
        })
        .collect()
}

fn decode(raw: &str) -> String {
    percent_decode_str(raw).decode_utf8_lossy().into_owned()
}

/// Validates `resource_id`, `limit` and `marker` (the first of each wins; other
/// parameters are ignored). The error is the `VPN.0001` message, naming the
/// parameter and its value.
pub(crate) fn parse_query(
    pairs: &[(String, String)],
    default_limit: u32,
    max_limit: u32,
) -> Result<ListQuery, String> {
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let limit = match get("limit") {
        None => default_limit,
        Some(raw) => raw
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=max_limit).contains(n))
            .ok_or_else(|| {
                format!("invalid request: limit {raw:?} must be an integer from 1 to {max_limit}")
            })?,
    };
    let marker = match get("marker") {
        None | Some("") => None,
        Some(raw) => Some(Marker {
            raw: raw.to_owned(),
            at: parse_time(raw).map_err(|_| {
                format!(
                    "invalid request: marker {raw:?} is not a creation time such as 2026-03-18T15:08:53.679462Z"
                )
            })?,
        }),
    };
    Ok(ListQuery {
        resource_id: get("resource_id")
            .filter(|v| !v.is_empty())
            .map(str::to_owned),
        limit,
        marker,
    })
}

/// Selects one page of `jobs` for `query`.
pub(crate) fn list<'a>(jobs: &'a [Value], query: &ListQuery) -> Listing<'a> {
    let mut matching: Vec<(Option<Timestamp>, &Value)> = jobs
        .iter()
        .filter(|job| match &query.resource_id {
            Some(id) => job.get("resource_id").and_then(Value::as_str) == Some(id),
            None => true,
        })
        .map(|job| (created_at(job), job))
        .collect();
    let total_count = matching.len();
    // Newest first; `None` (no usable created_at) is smallest, so it sorts last.
    // The sort is stable, so ties keep scenario order.
    matching.sort_by_key(|(created, _)| std::cmp::Reverse(*created));
    let remaining: Vec<&Value> = matching
        .into_iter()
        .filter(|(created, _)| match (&query.marker, created) {
            (None, _) | (Some(_), None) => true,
            (Some(marker), Some(created)) => *created < marker.at,
        })
        .map(|(_, job)| job)
        .collect();
    let take = remaining.len().min(query.limit as usize);
    let more = remaining.len() > take;
    let jobs: Vec<&Value> = remaining.into_iter().take(take).collect();
    let next_marker = if more {
        jobs.last()
            .and_then(|job| job.get("created_at"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    } else {
        None
    };
    Listing {
        jobs,
        total_count,
        next_marker,
    }
}

fn created_at(job: &Value) -> Option<Timestamp> {
    job.get("created_at")
        .and_then(Value::as_str)
        .and_then(|raw| parse_time(raw).ok())
}

/// The response body of a page, fields in the order of the documented example.
#[derive(Debug, Serialize)]
pub(crate) struct PageBody<'a> {
    pub request_id: &'a str,
    pub jobs: Vec<&'a Value>,
    pub total_count: usize,
    pub page_info: PageInfo,
}

/// `page_info` of a page body.
#[derive(Debug, Serialize)]
pub(crate) struct PageInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
    pub current_count: usize,
}

impl<'a> PageBody<'a> {
    /// The body of `listing`.
    pub(crate) fn new(listing: Listing<'a>, request_id: &'a str) -> Self {
        Self {
            request_id,
            page_info: PageInfo {
                next_marker: listing.next_marker,
                current_count: listing.jobs.len(),
            },
            jobs: listing.jobs,
            total_count: listing.total_count,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn query(limit: u32, marker: Option<&str>) -> ListQuery {
        ListQuery {
            resource_id: None,
            limit,
            marker: marker.map(|m| Marker {
                raw: m.to_owned(),
                at: parse_time(m).unwrap(),
            }),
        }
    }

    fn ids(listing: &Listing<'_>) -> Vec<String> {
        listing
            .jobs
            .iter()
            .map(|j| j["id"].as_str().unwrap_or("?").to_owned())
            .collect()
    }

    fn jobs() -> Vec<Value> {
        vec![
            json!({"id": "b", "created_at": "2026-03-18T15:00:02.5Z"}),
            json!({"id": "nodate"}),
            json!({"id": "a", "created_at": "2026-03-18T15:00:01.000000001Z"}),
            json!({"id": "c", "created_at": "2026-03-18T15:00:03.123456Z"}),
            json!({"id": "bad", "created_at": "soon"}),
        ]
    }

    #[test]
    fn jobs_sort_newest_first_and_undated_ones_last_in_scenario_order() {
        let jobs = jobs();
        let page = list(&jobs, &query(10, None));
        assert_eq!(ids(&page), ["c", "b", "a", "nodate", "bad"]);
        assert_eq!(page.total_count, 5);
        assert_eq!(page.next_marker, None);
    }

    #[test]
    fn next_marker_is_the_last_created_at_verbatim_and_pages_are_strictly_older() {
        let jobs = jobs();
        let first = list(&jobs, &query(2, None));
        assert_eq!(ids(&first), ["c", "b"]);
        assert_eq!(first.next_marker.as_deref(), Some("2026-03-18T15:00:02.5Z"));
        let second = list(&jobs, &query(1, Some("2026-03-18T15:00:02.5Z")));
        assert_eq!(ids(&second), ["a"]);
        assert_eq!(
            second.next_marker.as_deref(),
            Some("2026-03-18T15:00:01.000000001Z")
        );
        let third = list(&jobs, &query(5, Some("2026-03-18T15:00:01.000000001Z")));
        assert_eq!(ids(&third), ["nodate", "bad"]);
        assert_eq!(third.next_marker, None);
        assert_eq!(third.total_count, 5, "total_count ignores the marker");
    }

    #[test]
    fn a_full_last_page_has_no_next_marker() {
        let jobs = jobs();
        let page = list(&jobs, &query(3, Some("2026-03-18T15:00:04Z")));
        assert_eq!(page.jobs.len(), 3);
        assert!(page.next_marker.is_some());
        let page = list(&jobs, &query(5, None));
        assert_eq!(page.next_marker, None);
    }

    #[test]
    fn resource_id_filters_jobs_and_total_count() {
        let jobs = vec![
            json!({"id": "1", "resource_id": "gw-a"}),
            json!({"id": "2", "resource_id": "gw-b"}),
            json!("not an object"),
        ];
        let q = ListQuery {
            resource_id: Some("gw-b".into()),
            ..query(10, None)
        };
        let page = list(&jobs, &q);
        assert_eq!(ids(&page), ["2"]);
        assert_eq!(page.total_count, 1);
    }

    #[test]
    fn query_decoding_keeps_plus_and_decodes_percent_escapes() {
        assert_eq!(
            decode_query("marker=2026-03-18T15%3A08%3A53.1%2B08%3A00&a+b=c%20d&flag&&x="),
            [
                ("marker".into(), "2026-03-18T15:08:53.1+08:00".into()),
                ("a+b".into(), "c d".into()),
                ("flag".into(), String::new()),
                ("x".into(), String::new()),
            ]
        );
    }

    #[test]
    fn bad_limits_and_markers_name_the_parameter_and_value() {
        let pairs = |q: &str| decode_query(q);
        for bad in ["limit=0", "limit=201", "limit=abc", "limit=-1", "limit="] {
            let err = parse_query(&pairs(bad), 200, 200).unwrap_err();
            let value = bad.trim_start_matches("limit=");
            assert_eq!(
                err,
                format!("invalid request: limit {value:?} must be an integer from 1 to 200")
            );
        }
        let err = parse_query(&pairs("marker=yesterday"), 200, 200).unwrap_err();
        assert!(
            err.starts_with("invalid request: marker \"yesterday\""),
            "{err}"
        );
        let ok = parse_query(&pairs("limit=200&marker=&resource_id="), 50, 200).unwrap();
        assert_eq!((ok.limit, ok.marker, ok.resource_id), (200, None, None));
        assert_eq!(parse_query(&[], 50, 200).unwrap().limit, 50);
    }
}
