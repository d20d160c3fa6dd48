//! Wire types of `GET /v5/{project_id}/vpn-gateways/jobs`, spelled exactly as the
//! API spells them (snake_case), so `-o json` output pipes into the same tools as
//! the cloud's own answers.
//!
//! Decoding is forgiving where the API is loosely specified and strict where a
//! value would be meaningless:
//! - every enum is open: an unknown status or type keeps its raw string;
//! - timestamps take 0 to 9 fractional digits, an offset or none (UTC), and `""`;
//! - unknown fields are ignored, except in `SubJobEntity`, which keeps them;
//! - a job that cannot be decoded becomes a [`MalformedJob`] naming the field,
//!   and the rest of the page is still returned.
//!
//! No Kubernetes types here: `status.rs` translates these into the CRD's status.

use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

/// Declares an open string enum: known values get variants, anything else is kept
/// verbatim in `Other`, so a new cloud value never fails a page.
macro_rules! open_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $wire:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
            /// A value this version does not know, kept exactly as received.
            Other(String),
        }

        impl $name {
            /// Every value this version knows, in documentation order.
            pub const KNOWN: &'static [$name] = &[$($name::$variant,)+];

            /// The value as the API spells it.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $wire,)+
                    Self::Other(raw) => raw,
                }
            }

            /// True for a value this version does not know.
            pub fn is_unknown(&self) -> bool {
                matches!(self, Self::Other(_))
            }
        }

        impl From<&str> for $name {
            fn from(raw: &str) -> Self {
                match raw {
                    $($wire => Self::$variant,)+
                    other => Self::Other(other.to_owned()),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let raw = std::borrow::Cow::<'de, str>::deserialize(d)?;
                Ok(Self::from(raw.as_ref()))
            }
        }
    };
}

open_enum! {
    /// Status of a gateway job.
    JobStatus {
        /// Initialisation is in progress.
        Init = "init",
        /// A task is in progress.
        Running = "running",
        /// The upgrade is in progress.
        Upgrading = "upgrading",
        /// The upgrade waits for someone to commit (`finish`) or roll it back.
        PendingUpgradeConfirm = "pending_upgrade_confirm",
        /// The job finished successfully.
        Success = "success",
        /// A rollback is in progress.
        RollingBack = "rolling_back",
        /// The rollback finished.
        RollbackSuccess = "rollback_success",
        /// The job failed.
        Fail = "fail",
    }
}

impl JobStatus {
    /// True once the job can no longer change: `success`, `rollback_success`, `fail`.
    pub fn is_terminal(&self) -> bool {
        matches!(self, Self::Success | Self::RollbackSuccess | Self::Fail)
    }
}

open_enum! {
    /// Type of a gateway job.
    JobType {
        /// An upgrade of the gateway.
        Upgrade = "upgrade",
        /// A rollback of an upgrade.
        Rollback = "rollback",
    }
}

open_enum! {
    /// Status of one step (sub-job) of a job.
    SubJobStatus {
        /// Initialisation is in progress.
        Init = "init",
        /// The step is in progress.
        Running = "running",
        /// The step is upgrading.
        Upgrading = "upgrading",
        /// The step finished successfully.
        Success = "success",
        /// The step failed.
        Fail = "fail",
    }
}

impl SubJobStatus {
    /// True once the step can no longer change.
    pub fn is_terminal(&self) -> bool {
        matches!(self, Self::Success | Self::Fail)
    }
}

open_enum! {
    /// Type of one step of a job.
    SubJobType {
        /// Prepare the new resources.
        PrepareResource = "prepare_resource",
        /// Upgrade the first worker.
        UpgradeWorker1 = "upgrade_worker_1",
        /// Upgrade the second worker.
        UpgradeWorker2 = "upgrade_worker_2",
        /// Move traffic of the first worker.
        MigrateTraffic1 = "migrate_traffic_1",
        /// Move traffic of the second worker.
        MigrateTraffic2 = "migrate_traffic_2",
        /// Move the network of the first worker.
        MigrateNetwork1 = "migrate_network_1",
        /// Move the network of the second worker.
        MigrateNetwork2 = "migrate_network_2",
        /// Check the first worker serves.
        ServiceReadyCheck1 = "service_ready_check_1",
        /// Check the second worker serves.
        ServiceReadyCheck2 = "service_ready_check_2",
    }
}

/// One job of a VPN gateway (`Job` in the API reference).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    /// Job ID (a UUID).
    pub id: String,
    /// The VPN gateway the job belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_id: Option<String>,
    /// `upgrade` or `rollback`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_type: Option<JobType>,
    /// The job's status.
    pub status: JobStatus,
    /// Expected remaining run time in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_time_seconds: Option<i64>,
    /// When the job was created.
    #[serde(default, with = "api_time", skip_serializing_if = "Option::is_none")]
    pub created_at: Option<Timestamp>,
    /// When the job finished.
    #[serde(default, with = "api_time", skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Timestamp>,
    /// When the job last changed. Undocumented; read by Terraform's data source.
    #[serde(default, with = "api_time", skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<Timestamp>,
    /// Why the job failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    /// The job's steps.
    #[serde(default, deserialize_with = "null_as_default")]
    pub sub_jobs: Vec<SubJob>,
}

impl Job {
    /// How many sub-jobs are finished (successfully or not).
    pub fn sub_jobs_finished(&self) -> usize {
        self.sub_jobs
            .iter()
            .filter(|s| s.status.is_terminal())
            .count()
    }
}

/// One step of a job (`SubJob` in the API reference).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubJob {
    /// Sub-job ID (a UUID).
    pub id: String,
    /// What the step does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_type: Option<SubJobType>,
    /// The resource the step works on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity: Option<SubJobEntity>,
    /// The step's status.
    pub status: SubJobStatus,
    /// Expected duration in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_time_seconds: Option<i64>,
    /// When the step was created.
    #[serde(default, with = "api_time", skip_serializing_if = "Option::is_none")]
    pub created_at: Option<Timestamp>,
    /// When the step finished.
    #[serde(default, with = "api_time", skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Timestamp>,
    /// Why the step failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
}

/// The resource a sub-job works on. Only `ip_address` is documented; any other
/// key is kept as received.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SubJobEntity {
    /// The worker's IP address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_address: Option<String>,
    /// Undocumented keys, kept verbatim.
    #[serde(flatten)]
    pub other: serde_json::Map<String, serde_json::Value>,
}

// Hand-written: `#[serde(flatten)]` buffers every entity through serde's generic
// content type, which dominated decoding of large pages (docs/benchmarks.md).
impl<'de> Deserialize<'de> for SubJobEntity {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = SubJobEntity;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an entity object")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<SubJobEntity, A::Error> {
                let mut entity = SubJobEntity::default();
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    if key == "ip_address" {
                        entity.ip_address = map.next_value()?;
                    } else {
                        entity.other.insert(key.into_owned(), map.next_value()?);
                    }
                }
                Ok(entity)
            }
        }
        d.deserialize_map(Visitor)
    }
}

/// Pagination information of one page.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageInfo {
    /// Marker of the next page (the `created_at` of this page's last job); absent
    /// or empty on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
    /// Number of jobs on this page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_count: Option<u64>,
}

/// A job of a page that could not be decoded. The rest of the page still is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MalformedJob {
    /// Position of the job on its page (0-based).
    pub index: usize,
    /// The job's `id`, when it has a readable one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// What is wrong, naming the field (e.g. `sub_jobs[2].created_at: ...`).
    pub error: String,
}

impl fmt::Display for MalformedJob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.id {
            Some(id) => write!(f, "job {id} (#{}): {}", self.index, self.error),
            None => write!(f, "job #{}: {}", self.index, self.error),
        }
    }
}

/// One decoded page of the jobs list.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Page {
    /// The jobs that decoded.
    pub jobs: Vec<Job>,
    /// The jobs that did not.
    pub malformed: Vec<MalformedJob>,
    /// `total_count` (it counts jobs, whatever the reference says).
    pub total_count: Option<u64>,
    /// Pagination information.
    pub page_info: Option<PageInfo>,
    /// The request ID the body carries.
    pub request_id: Option<String>,
}

impl Page {
    /// The marker of the next page, if there is one.
    pub fn next_marker(&self) -> Option<&str> {
        self.page_info
            .as_ref()
            .and_then(|p| p.next_marker.as_deref())
            .filter(|m| !m.is_empty())
    }
}

#[derive(Deserialize)]
struct RawPage<'a> {
    #[serde(default, borrow)]
    jobs: Option<Vec<&'a RawValue>>,
    #[serde(default)]
    total_count: Option<u64>,
    #[serde(default)]
    page_info: Option<PageInfo>,
    #[serde(default)]
    request_id: Option<String>,
}

/// Decodes one page body. Fails only when the body as a whole is not a page;
/// a bad job is recorded in [`Page::malformed`] instead.
pub fn decode_page(body: &[u8]) -> Result<Page, serde_json::Error> {
    // serde accepts a struct from a JSON array too; a page is always an object.
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(serde::de::Error::custom("a jobs page is a JSON object"));
    }
    let raw: RawPage<'_> = serde_json::from_slice(body)?;
    let raw_jobs = raw.jobs.unwrap_or_default();
    let mut page = Page {
        jobs: Vec::with_capacity(raw_jobs.len()),
        malformed: Vec::new(),
        total_count: raw.total_count,
        page_info: raw.page_info,
        request_id: raw.request_id,
    };
    for (index, job) in raw_jobs.into_iter().enumerate() {
        match decode_job(job.get()) {
            Ok(job) => page.jobs.push(job),
            Err(error) => page.malformed.push(MalformedJob {
                index,
                id: readable_id(job.get()),
                error,
            }),
        }
    }
    Ok(page)
}

/// Decodes one job, with an error that names the failing field path.
pub fn decode_job(json: &str) -> Result<Job, String> {
    // The fast path skips path tracking; only a failure pays for naming the field.
    serde_json::from_str(json).or_else(|_| {
        let mut de = serde_json::Deserializer::from_str(json);
        serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            if path == "." {
                inner.to_string()
            } else {
                format!("{path}: {inner}")
            }
        })
    })
}

fn readable_id(json: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct IdOnly {
        id: String,
    }
    serde_json::from_str::<IdOnly>(json).ok().map(|j| j.id)
}

fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Parses a cloud timestamp: RFC 3339 with 0 to 9 fractional digits and `Z` or an
/// offset; without a zone (`2026-03-18T15:08:53` or with a space) it is UTC.
pub fn parse_time(raw: &str) -> Result<Timestamp, String> {
    let raw = raw.trim();
    if let Ok(ts) = raw.parse::<Timestamp>() {
        return Ok(ts);
    }
    raw.parse::<jiff::civil::DateTime>()
        .ok()
        .filter(|_| !raw.contains(['+', 'Z', 'z']) && raw.len() >= 19)
        .and_then(|dt| dt.to_zoned(jiff::tz::TimeZone::UTC).ok())
        .map(|z| z.timestamp())
        .ok_or_else(|| {
            format!("invalid timestamp {raw:?} (want RFC 3339, e.g. 2026-03-18T15:08:53.679462Z)")
        })
}

/// Serde adapter for optional cloud timestamps (`null` and `""` are none).
pub mod api_time {
    use super::*;

    /// Deserializes an optional timestamp.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
        match Option::<std::borrow::Cow<'de, str>>::deserialize(d)? {
            None => Ok(None),
            Some(raw) if raw.trim().is_empty() => Ok(None),
            Some(raw) => parse_time(&raw).map(Some).map_err(serde::de::Error::custom),
        }
    }

    /// Serializes as RFC 3339 in UTC with as many fractional digits as needed.
    pub fn serialize<S: Serializer>(ts: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
        match ts {
            Some(ts) => s.collect_str(ts),
            None => s.serialize_none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_enum_values_are_kept_verbatim_and_round_trip() {
        let status: JobStatus = serde_json::from_str(r#""paused_by_ops""#).unwrap();
        assert_eq!(status, JobStatus::Other("paused_by_ops".into()));
        assert!(status.is_unknown() && !status.is_terminal());
        assert_eq!(
            serde_json::to_string(&status).unwrap(),
            r#""paused_by_ops""#
        );
        let sub: SubJobType = serde_json::from_str(r#""upgrade_worker_3""#).unwrap();
        assert_eq!(sub.as_str(), "upgrade_worker_3");
    }

    #[test]
    fn every_known_value_round_trips() {
        for s in JobStatus::KNOWN {
            assert_eq!(&JobStatus::from(s.as_str()), s);
        }
        for s in SubJobStatus::KNOWN {
            assert_eq!(&SubJobStatus::from(s.as_str()), s);
        }
        for s in SubJobType::KNOWN {
            assert_eq!(&SubJobType::from(s.as_str()), s);
        }
        for s in JobType::KNOWN {
            assert_eq!(&JobType::from(s.as_str()), s);
        }
    }

    #[test]
    fn terminal_statuses_are_exactly_success_rollback_success_and_fail() {
        let terminal: Vec<&str> = JobStatus::KNOWN
            .iter()
            .filter(|s| s.is_terminal())
            .map(|s| s.as_str())
            .collect();
        assert_eq!(terminal, ["success", "rollback_success", "fail"]);
    }

    #[test]
    fn timestamps_take_zero_to_nine_fractional_digits() {
        let base: Timestamp = "2026-03-18T15:08:53Z".parse().unwrap();
        let cases = [
            ("2026-03-18T15:08:53Z", 0),
            ("2026-03-18T15:08:53.6Z", 600_000_000),
            ("2026-03-18T15:08:53.679Z", 679_000_000),
            ("2026-03-18T15:08:53.679462Z", 679_462_000),
            ("2026-03-18T15:08:53.47287635Z", 472_876_350),
            ("2026-03-18T15:08:53.200096878Z", 200_096_878),
        ];
        for (raw, nanos) in cases {
            let ts = parse_time(raw).unwrap();
            assert_eq!(ts.as_nanosecond() - base.as_nanosecond(), nanos, "{raw}");
        }
    }

    #[test]
    fn timestamps_without_a_zone_are_utc_and_offsets_are_honoured() {
        let want: Timestamp = "2026-03-18T15:08:53Z".parse().unwrap();
        assert_eq!(parse_time("2026-03-18T15:08:53").unwrap(), want);
        assert_eq!(parse_time("2026-03-18 15:08:53").unwrap(), want);
        assert_eq!(parse_time("2026-03-18T23:08:53+08:00").unwrap(), want);
    }

    #[test]
    fn bad_timestamps_are_rejected_with_the_value() {
        for raw in ["yesterday", "2026-03-18", "2026-03-18T15:08:53.1234567890Z"] {
            let err = parse_time(raw).unwrap_err();
            assert!(err.contains(raw), "{err}");
        }
    }

    #[test]
    fn empty_and_null_timestamps_are_absent() {
        let job: Job = serde_json::from_str(
            r#"{"id":"j","status":"running","created_at":"","finished_at":null,"sub_jobs":null}"#,
        )
        .unwrap();
        assert_eq!((job.created_at, job.finished_at), (None, None));
        assert!(job.sub_jobs.is_empty());
    }

    #[test]
    fn a_malformed_job_is_reported_by_field_and_the_others_survive() {
        let body = br#"{"jobs":[
            {"id":"a","status":"running","unknown_field":1},
            {"id":"b","status":"running","sub_jobs":[{"id":"s","status":"init","created_at":"soon"}]},
            {"status":"success"},
            {"id":"d","status":"success"}
        ],"page_info":{"next_marker":""}}"#;
        let page = decode_page(body).unwrap();
        let ids: Vec<&str> = page.jobs.iter().map(|j| j.id.as_str()).collect();
        assert_eq!(ids, ["a", "d"]);
        assert_eq!(page.malformed.len(), 2);
        assert_eq!(page.malformed[0].index, 1);
        assert_eq!(page.malformed[0].id.as_deref(), Some("b"));
        assert!(
            page.malformed[0]
                .error
                .starts_with("sub_jobs[0].created_at:"),
            "{}",
            page.malformed[0].error
        );
        assert_eq!(page.malformed[1].id, None);
        assert!(page.malformed[1].error.contains("missing field `id`"));
        assert_eq!(page.next_marker(), None, "an empty marker ends the listing");
    }

    #[test]
    fn a_body_that_is_not_a_page_fails_as_a_whole() {
        assert!(decode_page(b"{\"jobs\": [").is_err());
        assert!(decode_page(b"[]").is_err());
    }

    #[test]
    fn entity_keeps_undocumented_keys() {
        let sub: SubJob = serde_json::from_str(
            r#"{"id":"s","status":"success","entity":{"ip_address":"10.0.0.1","az":"az1"}}"#,
        )
        .unwrap();
        let entity = sub.entity.unwrap();
        assert_eq!(entity.ip_address.as_deref(), Some("10.0.0.1"));
        assert_eq!(entity.other["az"], "az1");
    }
}
