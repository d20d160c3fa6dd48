//! Scenario files: who may call the simulator, which jobs each project has at
//! which moment, and which faults to inject.
//!
//! Parsing is two-step: serde reads the YAML into raw types (unknown fields are
//! refused, so a typo fails loudly), then [`Scenario::from_yaml`] validates the
//! values and converts them, naming the offending field and value in every error
//! (`projects."abc".timeline[1].at: invalid duration "5 sec"`). Jobs stay
//! untyped `serde_json::Value`s and are served exactly as written, malformed ones
//! included. Pure: no clock, no I/O except [`Scenario::load`] reading its file.

use std::{
    collections::{BTreeMap, HashSet},
    path::{Path, PathBuf},
    time::Duration,
};

use serde::Deserialize;
use serde_json::Value;

use crate::huawei::Credentials;

/// A parsed, validated scenario. Build one with [`Scenario::from_yaml`] or
/// [`Scenario::load`].
#[derive(Debug, Clone)]
pub struct Scenario {
    credentials: Vec<Credentials>,
    projects: BTreeMap<String, Project>,
    faults: Vec<Fault>,
}

/// The scripted jobs of one project.
#[derive(Debug, Clone)]
struct Project {
    /// Strictly ascending in `at`.
    timeline: Vec<Snapshot>,
}

/// The complete job list of a project from `at` (since simulator start) on.
#[derive(Debug, Clone)]
struct Snapshot {
    at: Duration,
    jobs: Vec<Value>,
}

/// A fault to inject into authenticated requests.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Fault {
    /// Only this project; every project when `None`.
    pub project: Option<String>,
    /// Active from this time since start (inclusive).
    pub from: Duration,
    /// Active until this time since start (exclusive); forever when `None`.
    pub until: Option<Duration>,
    /// Only the first `times` requests it applies to.
    pub times: Option<u32>,
    /// What happens.
    pub kind: FaultKind,
}

/// What a fault does to a request.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum FaultKind {
    /// Answer with this status and body instead of the jobs.
    Error {
        status: u16,
        body: Option<Value>,
        retry_after: Option<String>,
    },
    /// Wait this long (wall-clock time), then answer normally.
    Delay(Duration),
    /// Answer 200 with the normal body cut in half (invalid JSON).
    Malformed,
    /// Answer normally but with `next_marker` equal to the request's `marker`.
    RepeatMarker,
}

impl FaultKind {
    /// The kind's name as written in scenario files.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Self::Error { .. } => "error",
            Self::Delay(_) => "delay",
            Self::Malformed => "malformed",
            Self::RepeatMarker => "repeatMarker",
        }
    }
}

/// Why a scenario could not be loaded. Every variant names where the problem is.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("could not read scenario file {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file was read but its content is not a valid scenario.
    #[error("invalid scenario file {}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        #[source]
        source: Box<ScenarioError>,
    },
    /// The text is not YAML of the scenario's shape (syntax error, unknown
    /// field, wrong type).
    #[error("invalid scenario at {path}")]
    Decode {
        /// Path of the field where decoding stopped (`.` for the document).
        path: String,
        /// The YAML reader's error, with line and column.
        #[source]
        source: Box<serde_saphyr::Error>,
    },
    /// A field has a value the scenario does not accept.
    #[error("{path}: {problem}")]
    Invalid {
        /// Path of the field, e.g. `projects."0123…".timeline[1].at`.
        path: String,
        /// What is wrong, quoting the value.
        problem: String,
    },
}

impl Scenario {
    /// Parses and validates a scenario from YAML text.
    pub fn from_yaml(text: &str) -> Result<Self, ScenarioError> {
        let raw = decode(text)?;
        validate(raw)
    }

    /// Reads and parses a scenario file.
    pub fn load(path: &Path) -> Result<Self, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_yaml(&text).map_err(|source| ScenarioError::File {
            path: path.to_owned(),
            source: Box::new(source),
        })
    }

    /// The credentials the simulator accepts, ready for a `huawei::Client`.
    pub fn credentials(&self) -> &[Credentials] {
        &self.credentials
    }

    /// The project IDs the scenario knows, sorted.
    pub fn project_ids(&self) -> impl Iterator<Item = &str> {
        self.projects.keys().map(String::as_str)
    }

    /// The jobs `project` has `elapsed` after simulator start, as served (before
    /// sorting and paging): the newest snapshot whose `at` has passed, or none
    /// before the first one. `None` for an unknown project.
    pub fn jobs_at(&self, project: &str, elapsed: Duration) -> Option<&[Value]> {
        let project = self.projects.get(project)?;
        let current = project.timeline.iter().rev().find(|s| s.at <= elapsed);
        Some(current.map_or(&[][..], |s| s.jobs.as_slice()))
    }

    /// When the last scripted change happens (the latest `at` of any project):
    /// after this the jobs no longer change.
    pub fn last_change(&self) -> Duration {
        self.projects
            .values()
            .filter_map(|p| p.timeline.last())
            .map(|s| s.at)
            .max()
            .unwrap_or_default()
    }

    pub(crate) fn credential(&self, access_key: &str) -> Option<&Credentials> {
        self.credentials
            .iter()
            .find(|c| c.access_key() == access_key)
    }

    pub(crate) fn faults(&self) -> &[Fault] {
        &self.faults
    }
}

// ---- raw YAML shape -------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    #[serde(default)]
    credentials: Vec<RawCredential>,
    #[serde(default)]
    projects: BTreeMap<String, RawProject>,
    #[serde(default)]
    faults: Vec<RawFault>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawCredential {
    access_key: String,
    secret_key: String,
    #[serde(default)]
    security_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProject {
    #[serde(default)]
    timeline: Vec<RawSnapshot>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSnapshot {
    at: String,
    #[serde(default)]
    jobs: Vec<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawFault {
    #[serde(default)]
    project: Option<String>,
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    until: Option<String>,
    #[serde(default)]
    times: Option<u32>,
    #[serde(default)]
    kind: Option<RawKind>,
    #[serde(default)]
    status: Option<u16>,
    #[serde(default)]
    body: Option<Value>,
    #[serde(default)]
    retry_after: Option<String>,
    #[serde(default)]
    delay: Option<String>,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "camelCase")]
enum RawKind {
    Error,
    Delay,
    Malformed,
    RepeatMarker,
}

fn decode(text: &str) -> Result<RawScenario, ScenarioError> {
    let mut options = serde_saphyr::Options::default();
    // Keep messages on one line; the path names the field.
    options.with_snippet = false;
    // Only `true`/`false` are booleans: `on`/`yes` in a job stay strings.
    options.strict_booleans = true;
    // Scenarios repeat finished jobs by alias from entry to entry, far more than
    // the default 10 aliases per anchor; the absolute caps still hold.
    if let Some(budget) = options.budget.as_mut() {
        budget.alias_anchor_ratio_multiplier = 1_000;
    }
    let mut path = None;
    let result = serde_saphyr::with_deserializer_from_str_with_options(text, options, |de| {
        serde_path_to_error::deserialize(de).map_err(|e| {
            path = Some(e.path().to_string());
            e.into_inner()
        })
    });
    result.map_err(|source| ScenarioError::Decode {
        path: path.unwrap_or_else(|| ".".to_owned()),
        source: Box::new(source),
    })
}

// ---- validation -----------------------------------------------------------

fn invalid(path: impl Into<String>, problem: impl Into<String>) -> ScenarioError {
    ScenarioError::Invalid {
        path: path.into(),
        problem: problem.into(),
    }
}

fn validate(raw: RawScenario) -> Result<Scenario, ScenarioError> {
    let credentials = validate_credentials(raw.credentials)?;
    let mut projects = BTreeMap::new();
    for (id, project) in raw.projects {
        let path = format!("projects.{id:?}");
        if !is_project_id(&id) {
            return Err(invalid(
                path,
                "a project ID is 32 lowercase hexadecimal characters",
            ));
        }
        let mut timeline: Vec<Snapshot> = Vec::with_capacity(project.timeline.len());
        for (i, snapshot) in project.timeline.into_iter().enumerate() {
            let at_path = format!("{path}.timeline[{i}].at");
            let at = parse_duration(&at_path, &snapshot.at)?;
            if let Some(previous) = timeline.last()
                && at <= previous.at
            {
                return Err(invalid(
                    at_path,
                    format!(
                        "{:?} is not after the previous entry's {:?}: entries must be in ascending `at`",
                        snapshot.at,
                        humantime::format_duration(previous.at).to_string()
                    ),
                ));
            }
            timeline.push(Snapshot {
                at,
                jobs: snapshot.jobs,
            });
        }
        projects.insert(id, Project { timeline });
    }
    let faults = raw
        .faults
        .into_iter()
        .enumerate()
        .map(|(i, fault)| validate_fault(&format!("faults[{i}]"), fault, &projects))
        .collect::<Result<_, _>>()?;
    Ok(Scenario {
        credentials,
        projects,
        faults,
    })
}

fn validate_credentials(raw: Vec<RawCredential>) -> Result<Vec<Credentials>, ScenarioError> {
    if raw.is_empty() {
        return Err(invalid(
            "credentials",
            "at least one credential (accessKey, secretKey) is required",
        ));
    }
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(raw.len());
    for (i, c) in raw.into_iter().enumerate() {
        let path = format!("credentials[{i}]");
        if c.access_key.trim().is_empty() {
            return Err(invalid(format!("{path}.accessKey"), "must not be empty"));
        }
        if c.access_key.trim() != c.access_key || c.access_key.contains([',', ' ']) {
            return Err(invalid(
                format!("{path}.accessKey"),
                format!("{:?} must not contain spaces or commas", c.access_key),
            ));
        }
        if c.secret_key.is_empty() {
            return Err(invalid(format!("{path}.secretKey"), "must not be empty"));
        }
        if c.security_token.as_deref() == Some("") {
            return Err(invalid(
                format!("{path}.securityToken"),
                "must not be empty (leave it out for permanent credentials)",
            ));
        }
        if !seen.insert(c.access_key.clone()) {
            return Err(invalid(
                format!("{path}.accessKey"),
                format!("duplicate access key {:?}", c.access_key),
            ));
        }
        out.push(
            Credentials::new(c.access_key, c.secret_key).with_security_token(c.security_token),
        );
    }
    Ok(out)
}

fn validate_fault(
    path: &str,
    raw: RawFault,
    projects: &BTreeMap<String, Project>,
) -> Result<Fault, ScenarioError> {
    if let Some(project) = &raw.project
        && !projects.contains_key(project)
    {
        return Err(invalid(
            format!("{path}.project"),
            format!("unknown project {project:?} (not under `projects`)"),
        ));
    }
    let from = match &raw.from {
        Some(from) => parse_duration(&format!("{path}.from"), from)?,
        None => Duration::ZERO,
    };
    let until = match &raw.until {
        Some(until) => Some(parse_duration(&format!("{path}.until"), until)?),
        None => None,
    };
    if let (Some(until), Some(raw_until)) = (until, &raw.until)
        && until <= from
    {
        return Err(invalid(
            format!("{path}.until"),
            format!("{raw_until:?} is not after `from`"),
        ));
    }
    if raw.times == Some(0) {
        return Err(invalid(
            format!("{path}.times"),
            "0 would never apply; use 1 or more, or leave it out",
        ));
    }

    let kind = match (raw.kind, raw.status) {
        (Some(kind), _) => kind,
        (None, Some(_)) => RawKind::Error,
        (None, None) => {
            return Err(invalid(
                path,
                "a fault needs `status` (an error answer) or a `kind` (error, delay, malformed, repeatMarker)",
            ));
        }
    };
    let forbid = |field: &str, present: bool, kind: &str| {
        if present {
            Err(invalid(
                format!("{path}.{field}"),
                format!("not allowed with kind {kind}"),
            ))
        } else {
            Ok(())
        }
    };
    let kind = match kind {
        RawKind::Error => {
            forbid("delay", raw.delay.is_some(), "error")?;
            let status = raw.status.ok_or_else(|| {
                invalid(
                    format!("{path}.status"),
                    "required for kind error (400 to 599)",
                )
            })?;
            if !(400..=599).contains(&status) {
                return Err(invalid(
                    format!("{path}.status"),
                    format!("{status} is not an error status (400 to 599)"),
                ));
            }
            if let Some(after) = &raw.retry_after
                && (after.is_empty() || axum::http::HeaderValue::from_str(after).is_err())
            {
                return Err(invalid(
                    format!("{path}.retryAfter"),
                    format!("{after:?} is not a valid header value"),
                ));
            }
            FaultKind::Error {
                status,
                body: raw.body,
                retry_after: raw.retry_after,
            }
        }
        RawKind::Delay => {
            forbid("status", raw.status.is_some(), "delay")?;
            forbid("body", raw.body.is_some(), "delay")?;
            forbid("retryAfter", raw.retry_after.is_some(), "delay")?;
            let delay = raw
                .delay
                .as_deref()
                .ok_or_else(|| invalid(format!("{path}.delay"), "required for kind delay"))?;
            FaultKind::Delay(parse_duration(&format!("{path}.delay"), delay)?)
        }
        RawKind::Malformed | RawKind::RepeatMarker => {
            let name = if matches!(kind, RawKind::Malformed) {
                "malformed"
            } else {
                "repeatMarker"
            };
            forbid("status", raw.status.is_some(), name)?;
            forbid("body", raw.body.is_some(), name)?;
            forbid("retryAfter", raw.retry_after.is_some(), name)?;
            forbid("delay", raw.delay.is_some(), name)?;
            if name == "malformed" {
                FaultKind::Malformed
            } else {
                FaultKind::RepeatMarker
            }
        }
    };
    Ok(Fault {
        project: raw.project,
        from,
        until,
        times: raw.times,
        kind,
    })
}

/// Parses a humantime duration written without spaces (`0s`, `90s`, `1m30s`,
/// `250ms`). humantime alone would also take `5 sec` or `1m 30s`; one spelling
/// keeps scenario files uniform and easy to grep.
fn parse_duration(path: &str, raw: &str) -> Result<Duration, ScenarioError> {
    let parsed = if raw.is_empty() || raw.contains(char::is_whitespace) {
        None
    } else {
        humantime::parse_duration(raw).ok()
    };
    parsed.ok_or_else(|| {
        invalid(
            path,
            format!("invalid duration {raw:?} (e.g. \"0s\", \"90s\", \"1m30s\", \"250ms\")"),
        )
    })
}

/// 32 lowercase hexadecimal characters, as Huawei Cloud project IDs are.
pub(crate) fn is_project_id(id: &str) -> bool {
    id.len() == 32
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROJECT: &str = "0123456789abcdef0123456789abcdef";

    fn scenario(rest: &str) -> Result<Scenario, ScenarioError> {
        Scenario::from_yaml(&format!(
            "credentials:\n  - {{accessKey: AK, secretKey: SK}}\n{rest}"
        ))
    }

    #[test]
    fn the_newest_snapshot_whose_time_has_passed_is_served() {
        let s = scenario(&format!(
            "projects:\n  \"{PROJECT}\":\n    timeline:\n      - at: 2s\n        jobs: [{{id: a}}]\n      - at: 1m30s\n        jobs: [{{id: b}}, {{id: c}}]\n"
        ))
        .unwrap();
        let ids = |t: u64| -> Vec<String> {
            s.jobs_at(PROJECT, Duration::from_secs(t))
                .unwrap()
                .iter()
                .map(|j| j["id"].as_str().unwrap().to_owned())
                .collect()
        };
        assert!(ids(0).is_empty(), "nothing before the first entry");
        assert_eq!(ids(2), ["a"]);
        assert_eq!(ids(89), ["a"]);
        assert_eq!(ids(90), ["b", "c"]);
        assert!(
            s.jobs_at("ffffffffffffffffffffffffffffffff", Duration::ZERO)
                .is_none()
        );
        assert_eq!(s.last_change(), Duration::from_secs(90));
    }

    #[test]
    fn jobs_keep_their_yaml_values_as_json() {
        let s = scenario(&format!(
            "projects:\n  \"{PROJECT}\":\n    timeline:\n      - at: 0s\n        jobs:\n          - id: a\n            expected_time_seconds: 40\n            created_at: 2026-03-18T15:08:53.679462Z\n            flag: on\n            entity: {{}}\n"
        ))
        .unwrap();
        let job = &s.jobs_at(PROJECT, Duration::ZERO).unwrap()[0];
        assert_eq!(job["expected_time_seconds"], 40);
        assert_eq!(job["created_at"], "2026-03-18T15:08:53.679462Z");
        assert_eq!(job["flag"], "on");
        assert_eq!(job["entity"], serde_json::json!({}));
    }

    #[test]
    fn a_bad_duration_names_the_field_and_value() {
        let err = scenario(&format!(
            "projects:\n  \"{PROJECT}\":\n    timeline:\n      - at: 0s\n      - at: 5 sec\n"
        ))
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "projects.\"{PROJECT}\".timeline[1].at: invalid duration \"5 sec\" (e.g. \"0s\", \"90s\", \"1m30s\", \"250ms\")"
            )
        );
    }

    #[test]
    fn an_unknown_field_names_its_path() {
        let err = scenario("faults:\n  - status: 429\n    tmes: 2\n").unwrap_err();
        assert!(err.to_string().contains("faults[0]"), "{err}");
        let cause = std::error::Error::source(&err).unwrap().to_string();
        assert!(cause.contains("tmes"), "{cause}");
    }

    #[test]
    fn fault_kinds_are_inferred_and_checked() {
        let s = scenario(&format!(
            "projects:\n  \"{PROJECT}\": {{}}\nfaults:\n  - {{status: 429, retryAfter: \"1\", times: 2}}\n  - {{kind: delay, delay: 250ms, project: \"{PROJECT}\", from: 1s, until: 2s}}\n  - {{kind: malformed}}\n  - {{kind: repeatMarker}}\n"
        ))
        .unwrap();
        let kinds: Vec<&str> = s.faults().iter().map(|f| f.kind.name()).collect();
        assert_eq!(kinds, ["error", "delay", "malformed", "repeatMarker"]);
        assert_eq!(
            s.faults()[1].kind,
            FaultKind::Delay(Duration::from_millis(250))
        );
        assert_eq!(s.faults()[1].until, Some(Duration::from_secs(2)));
        assert_eq!(s.faults()[0].times, Some(2));

        for (yaml, want) in [
            (
                "faults:\n  - {times: 1}\n",
                "faults[0]: a fault needs `status`",
            ),
            (
                "faults:\n  - {status: 200}\n",
                "faults[0].status: 200 is not an error",
            ),
            ("faults:\n  - {kind: delay}\n", "faults[0].delay: required"),
            (
                "faults:\n  - {kind: malformed, status: 500}\n",
                "faults[0].status: not allowed",
            ),
            (
                "faults:\n  - {status: 500, from: 2s, until: 1s}\n",
                "faults[0].until: \"1s\" is not after",
            ),
            (
                "faults:\n  - {status: 500, times: 0}\n",
                "faults[0].times: 0 would never",
            ),
            (
                "faults:\n  - {status: 500, project: \"ffffffffffffffffffffffffffffffff\"}\n",
                "faults[0].project: unknown project",
            ),
        ] {
            let err = scenario(yaml).unwrap_err().to_string();
            assert!(err.starts_with(want), "{yaml}: {err}");
        }
    }

    #[test]
    fn project_ids_and_timeline_order_are_checked() {
        let err = scenario("projects:\n  ABC: {}\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "projects.\"ABC\": a project ID is 32 lowercase hexadecimal characters"
        );
        let err = scenario(&format!(
            "projects:\n  \"{PROJECT}\":\n    timeline:\n      - at: 5s\n      - at: 5s\n"
        ))
        .unwrap_err();
        assert!(
            err.to_string().starts_with(&format!(
                "projects.\"{PROJECT}\".timeline[1].at: \"5s\" is not after the previous entry's \"5s\""
            )),
            "{err}"
        );
    }

    #[test]
    fn credentials_are_required_unique_and_non_empty() {
        let err = Scenario::from_yaml("projects: {}\n").unwrap_err();
        assert!(
            err.to_string().starts_with("credentials: at least one"),
            "{err}"
        );
        let err = Scenario::from_yaml(
            "credentials:\n  - {accessKey: AK, secretKey: a}\n  - {accessKey: AK, secretKey: b}\n",
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "credentials[1].accessKey: duplicate access key \"AK\""
        );
        let err = Scenario::from_yaml(
            "credentials:\n  - {accessKey: AK, secretKey: a, securityToken: \"\"}\n",
        )
        .unwrap_err();
        assert!(
            err.to_string().starts_with("credentials[0].securityToken"),
            "{err}"
        );
    }

    #[test]
    fn yaml_syntax_errors_are_reported_not_panicked_on() {
        let err = Scenario::from_yaml("credentials: [\n").unwrap_err();
        assert!(matches!(err, ScenarioError::Decode { .. }), "{err}");
    }
}
