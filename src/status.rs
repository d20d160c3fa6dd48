//! The pure core of the operator: (stored status, spec, cloud jobs, now) → the new
//! status, the Events to announce, and when to poll next.
//!
//! No async, no Kubernetes client, no clock: the reconciler reads the clock once
//! and passes `now` in, so every rule here is a plain `#[test]`. This module
//! translates `huawei::model` wire types into `crd` types; neither of those
//! depends on it.
//!
//! Three rules keep the reconciler from looping or spamming:
//! - the same inputs give the same status whatever `now` is (`lastTransitionTime`
//!   moves only when a condition's status flips, and nothing here counts down), so
//!   an unchanged world needs no write;
//! - Events come only from diffing the stored status with the new one
//!   ([`transitions`]), so a restarted operator emits no duplicates;
//! - a finished job is never polled again for the same generation ([`needs_poll`]).

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::{
    crd::{
        Condition, ConditionStatus, READY, RECONCILING, STALLED, SubJobSummary,
        VpnGatewayJobWatchSpec as Spec, VpnGatewayJobWatchStatus as Status,
    },
    huawei::model::{Job, JobStatus, JobType, SubJob, SubJobStatus},
};

/// Condition and Event reasons. PascalCase and stable: people grep for them and
/// gate on them.
pub mod reason {
    /// First reconcile, before any cloud call.
    pub const INITIALIZING: &str = "Initializing";
    /// No job matches the spec yet.
    pub const WAITING_FOR_JOB: &str = "WaitingForJob";
    /// Job status `init`.
    pub const JOB_INITIALIZING: &str = "JobInitializing";
    /// Job status `running`.
    pub const JOB_RUNNING: &str = "JobRunning";
    /// Job status `upgrading`.
    pub const UPGRADING: &str = "Upgrading";
    /// Job status `pending_upgrade_confirm`: a human must commit or roll back.
    pub const AWAITING_CONFIRMATION: &str = "AwaitingConfirmation";
    /// Job status `rolling_back`.
    pub const ROLLING_BACK: &str = "RollingBack";
    /// Job status `success` of an upgrade job.
    pub const UPGRADE_SUCCEEDED: &str = "UpgradeSucceeded";
    /// Job status `success` of a rollback job.
    pub const ROLLBACK_SUCCEEDED: &str = "RollbackSucceeded";
    /// Job status `rollback_success`.
    pub const ROLLED_BACK: &str = "RolledBack";
    /// Job status `fail`.
    pub const UPGRADE_FAILED: &str = "UpgradeFailed";
    /// A job status this version does not know.
    pub const UNKNOWN_JOB_STATUS: &str = "UnknownJobStatus";
    /// `spec.progressDeadlineSeconds` passed while the job was unfinished.
    pub const PROGRESS_DEADLINE_EXCEEDED: &str = "ProgressDeadlineExceeded";
    /// Reconciling reason while a transient error is retried.
    pub const RETRYING_AFTER_ERROR: &str = "RetryingAfterError";

    /// The credentials Secret or one of its keys is missing (transient).
    pub const CREDENTIALS_NOT_FOUND: &str = "CredentialsNotFound";
    /// The cloud refused the credentials (transient: a Secret fix cures it).
    pub const AUTHENTICATION_FAILED: &str = "AuthenticationFailed";
    /// Any other cloud or transport error (transient).
    pub const CLOUD_API_ERROR: &str = "CloudAPIError";
    /// The endpoint is not allowed by `--allowed-endpoints` (stalled).
    pub const ENDPOINT_NOT_ALLOWED: &str = "EndpointNotAllowed";
    /// The cloud says the gateway or project does not exist (stalled).
    pub const GATEWAY_NOT_FOUND: &str = "GatewayNotFound";
    /// The spec cannot work, or the cloud says the request is invalid (stalled).
    pub const INVALID_SPEC: &str = "InvalidSpec";

    /// Event: the job to watch was resolved, or changed.
    pub const JOB_FOUND: &str = "JobFound";
    /// Event: a sub-job started.
    pub const SUB_JOB_STARTED: &str = "SubJobStarted";
    /// Event: a sub-job succeeded.
    pub const SUB_JOB_SUCCEEDED: &str = "SubJobSucceeded";
    /// Event: a sub-job failed.
    pub const SUB_JOB_FAILED: &str = "SubJobFailed";
}

/// Event actions: what the operator was doing when it noticed the transition.
pub mod action {
    /// Choosing which job to watch.
    pub const RESOLVE_JOB: &str = "ResolveJob";
    /// Polling the job.
    pub const POLL_JOB: &str = "PollJob";
    /// Reading the credentials Secret.
    pub const READ_CREDENTIALS: &str = "ReadCredentials";
    /// Calling the cloud API.
    pub const CALL_CLOUD_API: &str = "CallCloudAPI";
    /// Checking the endpoint against the operator's allow-list.
    pub const CHECK_ENDPOINT: &str = "CheckEndpoint";
    /// A sub-job event whose sub-job has no type.
    pub const SUB_JOB: &str = "SubJob";
}

/// Error reasons [`on_error`] accepts, with the action their Event carries. A
/// reason missing here still lands in the status but announces no Event.
pub const ERROR_REASONS: &[(&str, &str)] = &[
    (reason::CREDENTIALS_NOT_FOUND, action::READ_CREDENTIALS),
    (reason::AUTHENTICATION_FAILED, action::CALL_CLOUD_API),
    (reason::CLOUD_API_ERROR, action::CALL_CLOUD_API),
    (reason::ENDPOINT_NOT_ALLOWED, action::CHECK_ENDPOINT),
    (reason::GATEWAY_NOT_FOUND, action::CALL_CLOUD_API),
    (reason::INVALID_SPEC, action::CALL_CLOUD_API),
];

/// Every reason the Ready condition can carry: a fixed set, so metric labels
/// derived from it stay bounded.
pub const READY_REASONS: &[&str] = &[
    reason::INITIALIZING,
    reason::WAITING_FOR_JOB,
    reason::JOB_INITIALIZING,
    reason::JOB_RUNNING,
    reason::UPGRADING,
    reason::AWAITING_CONFIRMATION,
    reason::ROLLING_BACK,
    reason::UPGRADE_SUCCEEDED,
    reason::ROLLBACK_SUCCEEDED,
    reason::ROLLED_BACK,
    reason::UPGRADE_FAILED,
    reason::UNKNOWN_JOB_STATUS,
    reason::PROGRESS_DEADLINE_EXCEEDED,
    reason::CREDENTIALS_NOT_FOUND,
    reason::AUTHENTICATION_FAILED,
    reason::CLOUD_API_ERROR,
    reason::ENDPOINT_NOT_ALLOWED,
    reason::GATEWAY_NOT_FOUND,
    reason::INVALID_SPEC,
];

/// Longest Event note, in bytes (events.k8s.io limit).
pub const MAX_NOTE_BYTES: usize = 1024;
/// Longest Event action, in bytes (events.k8s.io limit).
pub const MAX_ACTION_BYTES: usize = 128;
/// Longest condition message, in bytes (meta/v1 Condition limit).
pub const MAX_MESSAGE_BYTES: usize = 32 * 1024;
/// Longest job error message kept in the status, in bytes.
pub const MAX_JOB_ERROR_BYTES: usize = 4096;
/// Longest sub-job error message kept in the status, in bytes.
pub const MAX_SUB_JOB_ERROR_BYTES: usize = 1024;

/// What one look at the cloud's jobs amounts to.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    /// The status to write (when it differs from the stored one).
    pub status: Status,
    /// The Events to announce once the status is written, in order.
    pub transitions: Vec<Transition>,
    /// When to poll again; `None` once the job has finished: wait for a spec change.
    pub poll_after: Option<Duration>,
}

/// Type of an Event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransitionType {
    /// Expected progress.
    Normal,
    /// Something a human may need to look at.
    Warning,
}

/// One Event to announce, within the events.k8s.io length limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    /// Normal or Warning.
    pub type_: TransitionType,
    /// One of the [`reason`] consts.
    pub reason: &'static str,
    /// What we were doing; a sub-job's type for sub-job Events, so that the
    /// Recorder does not fold different sub-jobs into one series.
    pub action: String,
    /// One human sentence, at most [`MAX_NOTE_BYTES`].
    pub note: String,
}

impl Transition {
    fn new(type_: TransitionType, reason: &'static str, action: &str, note: &str) -> Self {
        debug_assert!(reason.len() <= 128, "event reason too long: {reason}");
        Self {
            type_,
            reason,
            action: truncate(action, MAX_ACTION_BYTES),
            note: truncate(note, MAX_NOTE_BYTES),
        }
    }
}

/// Maps the cloud's jobs onto the watch: picks the job, derives the status and
/// conditions, the Events, and the next poll. `min_poll_interval` is the
/// operator's floor on every watch's interval.
pub fn observe(
    prev: Option<&Status>,
    spec: &Spec,
    generation: i64,
    jobs: &[Job],
    now: Timestamp,
    min_poll_interval: Duration,
) -> Observation {
    let job = select_job(spec, jobs);
    let mut status = job.map(job_status).unwrap_or_default();
    let verdict = match job {
        Some(_) => job_verdict(&status),
        None => waiting_verdict(spec),
    };
    let verdict = with_deadline(verdict, spec, job, prev, now);
    status.observed_generation = Some(generation);
    status.conditions = verdict.conditions(prev, generation, now);
    let finished = job.is_some_and(|j| j.status.is_terminal());
    Observation {
        transitions: transitions(prev, &status),
        poll_after: (!finished).then(|| poll_interval(spec, min_poll_interval)),
        status,
    }
}

/// The status for a watch's very first reconcile, written before any cloud call so
/// that a new watch never looks finished (no conditions = Current for kstatus).
/// Job data of `prev`, if any, is kept.
pub fn initializing(prev: Option<&Status>, generation: i64, now: Timestamp) -> Status {
    let verdict = Verdict {
        ready: ConditionStatus::Unknown,
        reason: reason::INITIALIZING,
        message: "Waiting for the first answer from Huawei Cloud".into(),
        also: Some((RECONCILING, reason::INITIALIZING)),
    };
    with_conditions(prev, verdict, generation, now)
}

/// The status after an error, job data left untouched. `reason` should be one of
/// [`ERROR_REASONS`]; `message` is one sentence for humans, without secrets.
///
/// Transient errors (`stalled == false`: missing Secret, refused credentials,
/// cloud trouble) give Ready False with `reason` (Unknown if it was True: the
/// error says nothing about the job) and Reconciling True / RetryingAfterError;
/// never Stalled, because a Secret created seconds later fixes them. Errors only
/// a spec change can fix (`stalled == true`) give Ready False and Stalled True
/// with `reason`.
pub fn on_error(
    prev: Option<&Status>,
    generation: i64,
    reason: &'static str,
    message: String,
    stalled: bool,
    now: Timestamp,
) -> Status {
    debug_assert!(
        error_action(reason).is_some(),
        "unlisted error reason {reason}"
    );
    let was_true = prev
        .and_then(|p| p.condition(READY))
        .is_some_and(|c| c.status == ConditionStatus::True);
    let verdict = Verdict {
        ready: if was_true && !stalled {
            ConditionStatus::Unknown
        } else {
            ConditionStatus::False
        },
        reason,
        message,
        also: Some(if stalled {
            (STALLED, reason)
        } else {
            (RECONCILING, reason::RETRYING_AFTER_ERROR)
        }),
    };
    with_conditions(prev, verdict, generation, now)
}

/// The watch's poll interval: `spec.pollInterval` (default 15s), never below the
/// operator's `min_poll_interval`.
///
/// The cloud's `expected_time_seconds` is deliberately not used: it is coarse,
/// and the interval is the user's explicit trade between latency and API quota.
pub fn poll_interval(spec: &Spec, min_poll_interval: Duration) -> Duration {
    spec.poll_interval().max(min_poll_interval)
}

/// Whether the reconciler should call the cloud for this watch now. False while
/// suspended, and once the stored status for this generation is settled: the job
/// finished, or the watch is stalled on an error only a spec change can fix.
/// (A progress deadline does not settle it: the job may still finish.)
pub fn needs_poll(spec: &Spec, status: Option<&Status>, generation: i64) -> bool {
    if spec.is_suspended() {
        return false;
    }
    let Some(status) = status.filter(|s| s.observed_generation == Some(generation)) else {
        return true;
    };
    if status.condition(RECONCILING).is_some() {
        return true;
    }
    let stalled_on_error = status
        .condition(STALLED)
        .is_some_and(|c| error_action(&c.reason).is_some());
    !(is_finished(status) || stalled_on_error)
}

/// The Events between two statuses: job level first (JobFound, a new unfinished
/// job status), then each sub-job change in the job's order, then the outcome (a
/// finished job, a new error reason, a passed deadline). Derived from the
/// statuses alone, so replaying a stored status yields nothing.
pub fn transitions(prev: Option<&Status>, next: &Status) -> Vec<Transition> {
    let same_job = prev.is_some_and(|p| p.job_id.is_some() && p.job_id == next.job_id);
    let prev_job = prev.filter(|_| same_job);
    let job_changed =
        next.job_status.is_some() && prev_job.map(|p| &p.job_status) != Some(&next.job_status);
    let finished = is_finished(next);
    let mut events = Vec::new();
    if next.job_id.is_some() && !same_job {
        events.push(job_found(next));
    }
    if job_changed && !finished {
        events.extend(job_event(next));
    }
    for sub in &next.sub_jobs {
        let before = prev_job.and_then(|p| p.sub_jobs.iter().find(|s| s.id == sub.id));
        if before.map(|b| &b.status) != Some(&sub.status) {
            events.extend(sub_job_event(before, sub));
        }
    }
    if job_changed && finished {
        events.extend(job_event(next));
    }
    events.extend(error_event(prev, next));
    events.extend(deadline_event(prev, next));
    events
}

// The conditions a status should carry, before lastTransitionTime bookkeeping.
struct Verdict {
    ready: ConditionStatus,
    reason: &'static str,
    message: String,
    // Reconciling or Stalled (always True) with its reason; None once the job
    // succeeded. One slot, so the two can never be set together.
    also: Option<(&'static str, &'static str)>,
}

impl Verdict {
    fn conditions(&self, prev: Option<&Status>, generation: i64, now: Timestamp) -> Vec<Condition> {
        let prev = prev.map_or(&[][..], |p| &p.conditions[..]);
        let set = |type_: &str, status, reason: &str| {
            // Reason, message and generation update in place; the time only moves
            // when the status flips.
            let last_transition_time = prev
                .iter()
                .find(|c| c.type_ == type_ && c.status == status)
                .map_or_else(|| whole_seconds(now), |c| c.last_transition_time.clone());
            Condition {
                type_: type_.to_owned(),
                status,
                observed_generation: Some(generation),
                last_transition_time,
                reason: reason.to_owned(),
                message: truncate(&self.message, MAX_MESSAGE_BYTES),
            }
        };
        let mut conditions = vec![set(READY, self.ready, self.reason)];
        if let Some((type_, reason)) = self.also {
            conditions.push(set(type_, ConditionStatus::True, reason));
        }
        conditions
    }
}

fn with_conditions(
    prev: Option<&Status>,
    verdict: Verdict,
    generation: i64,
    now: Timestamp,
) -> Status {
    let mut status = prev.cloned().unwrap_or_default();
    status.observed_generation = Some(generation);
    status.conditions = verdict.conditions(prev, generation, now);
    status
}

// `spec.jobId` picks exactly that job; otherwise the newest job created at or after
// `spec.notBefore`. Either way only jobs of the gateway count (a job without
// resource_id is taken to be one: the list is already filtered by gateway).
fn select_job<'a>(spec: &Spec, jobs: &'a [Job]) -> Option<&'a Job> {
    let mut of_gateway = jobs.iter().filter(|j| {
        j.resource_id
            .as_deref()
            .is_none_or(|r| r == spec.gateway_id)
    });
    if let Some(id) = &spec.job_id {
        return of_gateway.find(|j| &j.id == id);
    }
    let not_before = spec.not_before.as_ref().map(|t| t.0);
    of_gateway
        .filter(|j| not_before.is_none_or(|nb| j.created_at.is_some_and(|c| c >= nb)))
        // Ties broken by id, so the pick does not depend on the cloud's order.
        .max_by(|a, b| {
            a.created_at
                .cmp(&b.created_at)
                .then_with(|| a.id.cmp(&b.id))
        })
}

// The status's job fields; conditions come later.
fn job_status(job: &Job) -> Status {
    let finished = job.sub_jobs_finished();
    let total = job.sub_jobs.len();
    Status {
        job_id: Some(job.id.clone()),
        job_type: job.job_type.as_ref().map(|t| t.as_str().to_owned()),
        job_status: Some(job.status.as_str().to_owned()),
        created_at: job.created_at.map(whole_seconds),
        finished_at: job.finished_at.map(whole_seconds),
        // The cloud counts this down on every poll; whole minutes keep the status
        // from changing (and retriggering a reconcile) each time.
        expected_remaining_seconds: job
            .expected_time_seconds
            .filter(|_| !job.status.is_terminal())
            .map(|s| s.max(0).saturating_add(59) / 60 * 60),
        error_message: non_empty(&job.error_message).map(|m| truncate(m, MAX_JOB_ERROR_BYTES)),
        sub_jobs: job.sub_jobs.iter().map(sub_job_summary).collect(),
        sub_jobs_completed: Some(i32::try_from(finished).unwrap_or(i32::MAX)),
        sub_jobs_total: Some(i32::try_from(total).unwrap_or(i32::MAX)),
        progress: Some(format!("{finished}/{total}")),
        ..Status::default()
    }
}

fn sub_job_summary(sub: &SubJob) -> SubJobSummary {
    SubJobSummary {
        id: sub.id.clone(),
        type_: sub.job_type.as_ref().map(|t| t.as_str().to_owned()),
        status: sub.status.as_str().to_owned(),
        ip_address: sub.entity.as_ref().and_then(|e| e.ip_address.clone()),
        created_at: sub.created_at.map(whole_seconds),
        finished_at: sub.finished_at.map(whole_seconds),
        error_message: non_empty(&sub.error_message).map(|m| truncate(m, MAX_SUB_JOB_ERROR_BYTES)),
    }
}

// The conventions' mapping table: (Ready status, reason, Reconciling or Stalled).
fn job_conditions(
    status: &JobStatus,
    job_type: Option<&str>,
) -> (ConditionStatus, &'static str, Option<&'static str>) {
    use ConditionStatus::{False, True, Unknown};
    match status {
        JobStatus::Init => (False, reason::JOB_INITIALIZING, Some(RECONCILING)),
        JobStatus::Running => (False, reason::JOB_RUNNING, Some(RECONCILING)),
        JobStatus::Upgrading => (False, reason::UPGRADING, Some(RECONCILING)),
        JobStatus::PendingUpgradeConfirm => {
            (False, reason::AWAITING_CONFIRMATION, Some(RECONCILING))
        }
        JobStatus::RollingBack => (False, reason::ROLLING_BACK, Some(RECONCILING)),
        JobStatus::Success if is_rollback(job_type) => (True, reason::ROLLBACK_SUCCEEDED, None),
        JobStatus::Success => (True, reason::UPGRADE_SUCCEEDED, None),
        JobStatus::RollbackSuccess => (False, reason::ROLLED_BACK, Some(STALLED)),
        JobStatus::Fail => (False, reason::UPGRADE_FAILED, Some(STALLED)),
        JobStatus::Other(_) => (Unknown, reason::UNKNOWN_JOB_STATUS, Some(RECONCILING)),
    }
}

fn job_verdict(status: &Status) -> Verdict {
    let job_status = JobStatus::from(status.job_status.as_deref().unwrap_or_default());
    let (ready, reason, also) = job_conditions(&job_status, status.job_type.as_deref());
    Verdict {
        ready,
        reason,
        message: job_message(status),
        also: also.map(|type_| (type_, reason)),
    }
}

fn waiting_verdict(spec: &Spec) -> Verdict {
    let gateway = &spec.gateway_id;
    let message = match (&spec.job_id, &spec.not_before) {
        (Some(id), _) => format!("No job {id} found for gateway {gateway} yet"),
        (None, Some(t)) => format!(
            "No job created at or after {} found for gateway {gateway} yet",
            t.0
        ),
        (None, None) => format!("No upgrade job found for gateway {gateway} yet"),
    };
    Verdict {
        ready: ConditionStatus::False,
        reason: reason::WAITING_FOR_JOB,
        message,
        also: Some((RECONCILING, reason::WAITING_FOR_JOB)),
    }
}

// Past the deadline an unfinished watch (no job yet included) is Stalled. The clock
// starts at the job's creation; without one, when Ready last changed status while
// not True (the first reconcile, or the moment a success gave way to a new job).
// Both anchors are stored or cloud data, so the verdict is stable across polls.
fn with_deadline(
    verdict: Verdict,
    spec: &Spec,
    job: Option<&Job>,
    prev: Option<&Status>,
    now: Timestamp,
) -> Verdict {
    let Some(limit) = spec.progress_deadline_seconds.filter(|s| *s > 0) else {
        return verdict;
    };
    if job.is_some_and(|j| j.status.is_terminal()) {
        return verdict;
    }
    let since = job.and_then(|j| j.created_at).unwrap_or_else(|| {
        prev.and_then(|p| p.condition(READY))
            .filter(|c| c.status != ConditionStatus::True)
            .map_or(now, |c| c.last_transition_time.0)
    });
    if now.duration_since(since) <= SignedDuration::from_secs(limit) {
        return verdict;
    }
    Verdict {
        ready: ConditionStatus::False,
        reason: reason::PROGRESS_DEADLINE_EXCEEDED,
        message: format!(
            "{} (progress deadline of {limit}s exceeded)",
            verdict.message
        ),
        also: Some((STALLED, reason::PROGRESS_DEADLINE_EXCEEDED)),
    }
}

// One sentence describing the job, from the status alone so that conditions and
// Event notes say the same thing.
fn job_message(status: &Status) -> String {
    let job_status = JobStatus::from(status.job_status.as_deref().unwrap_or_default());
    let noun = if is_rollback(status.job_type.as_deref()) {
        "Rollback"
    } else {
        "Upgrade"
    };
    let progress = format!(
        "{}/{} sub-jobs finished",
        status.sub_jobs_completed.unwrap_or(0),
        status.sub_jobs_total.unwrap_or(0)
    );
    match job_status {
        JobStatus::Init => format!("{noun} job is initializing: {progress}"),
        JobStatus::Running => format!("{noun} job is running: {progress}"),
        JobStatus::Upgrading => format!("Upgrade in progress: {progress}"),
        JobStatus::PendingUpgradeConfirm => {
            "Upgrade is waiting for confirmation: someone must commit it or roll it back in Huawei Cloud"
                .to_owned()
        }
        JobStatus::RollingBack => format!("Rollback in progress: {progress}"),
        JobStatus::Success => format!("{noun} succeeded: {progress}"),
        JobStatus::RollbackSuccess => format!("Upgrade was rolled back: {progress}"),
        JobStatus::Fail => failure_message(status, noun),
        JobStatus::Other(raw) => {
            format!("Job reports status \"{raw}\", which this operator version does not know: {progress}")
        }
    }
}

// The job's own error message, else the first failing sub-job's.
fn failure_message(status: &Status, noun: &str) -> String {
    if let Some(message) = &status.error_message {
        return format!("{noun} failed: {message}");
    }
    let failed = status
        .sub_jobs
        .iter()
        .find(|s| SubJobStatus::from(s.status.as_str()) == SubJobStatus::Fail);
    match failed {
        Some(sub) => {
            let step = sub.type_.as_deref().unwrap_or(&sub.id);
            match &sub.error_message {
                Some(message) => format!("{noun} failed in step {step}: {message}"),
                None => format!("{noun} failed in step {step}; Huawei Cloud gave no error message"),
            }
        }
        None => format!("{noun} failed; Huawei Cloud gave no error message"),
    }
}

fn job_found(status: &Status) -> Transition {
    let id = status.job_id.as_deref().unwrap_or_default();
    let noun = if is_rollback(status.job_type.as_deref()) {
        "rollback"
    } else {
        "upgrade"
    };
    let note = match &status.created_at {
        Some(t) => format!("Watching {noun} job {id}, created at {}", t.0),
        None => format!("Watching {noun} job {id}"),
    };
    Transition::new(
        TransitionType::Normal,
        reason::JOB_FOUND,
        action::RESOLVE_JOB,
        &note,
    )
}

// The Event for the job entering its current status; none for `init`.
fn job_event(status: &Status) -> Option<Transition> {
    let job_status = JobStatus::from(status.job_status.as_deref()?);
    if job_status == JobStatus::Init {
        return None;
    }
    let (_, reason, _) = job_conditions(&job_status, status.job_type.as_deref());
    let type_ = match job_status {
        JobStatus::RollingBack
        | JobStatus::RollbackSuccess
        | JobStatus::Fail
        | JobStatus::Other(_) => TransitionType::Warning,
        _ => TransitionType::Normal,
    };
    Some(Transition::new(
        type_,
        reason,
        action::POLL_JOB,
        &job_message(status),
    ))
}

// The Event for a sub-job entering its current status: started (first seen
// running or upgrading), succeeded or failed. None for init and unknown values.
fn sub_job_event(before: Option<&SubJobSummary>, sub: &SubJobSummary) -> Option<Transition> {
    let started_before = before.is_some_and(|b| {
        matches!(
            SubJobStatus::from(b.status.as_str()),
            SubJobStatus::Running
                | SubJobStatus::Upgrading
                | SubJobStatus::Success
                | SubJobStatus::Fail
        )
    });
    let step = sub.type_.as_deref().unwrap_or("(untyped)");
    let on = sub
        .ip_address
        .as_deref()
        .map(|ip| format!(" on {ip}"))
        .unwrap_or_default();
    let (type_, reason, note) = match SubJobStatus::from(sub.status.as_str()) {
        SubJobStatus::Running | SubJobStatus::Upgrading if !started_before => (
            TransitionType::Normal,
            reason::SUB_JOB_STARTED,
            format!("Sub-job {step}{on} started"),
        ),
        SubJobStatus::Success => (
            TransitionType::Normal,
            reason::SUB_JOB_SUCCEEDED,
            format!("Sub-job {step}{on} succeeded"),
        ),
        SubJobStatus::Fail => (
            TransitionType::Warning,
            reason::SUB_JOB_FAILED,
            match &sub.error_message {
                Some(message) => format!("Sub-job {step}{on} failed: {message}"),
                None => format!("Sub-job {step}{on} failed"),
            },
        ),
        _ => return None,
    };
    let action = sub
        .type_
        .as_deref()
        .map(pascal_case)
        .filter(|a| !a.is_empty());
    Some(Transition::new(
        type_,
        reason,
        action.as_deref().unwrap_or(action::SUB_JOB),
        &note,
    ))
}

// The error a status reports (its Ready reason, when that is a listed error), as
// the static reason and action of its Event.
fn error_event_reason(status: &Status) -> Option<(&'static str, &'static str)> {
    let ready = status.condition(READY)?;
    ERROR_REASONS
        .iter()
        .copied()
        .find(|(r, _)| *r == ready.reason)
}

fn error_action(reason: &str) -> Option<&'static str> {
    ERROR_REASONS
        .iter()
        .find(|(r, _)| *r == reason)
        .map(|(_, a)| *a)
}

// A new error reason (retries of the same one stay quiet).
fn error_event(prev: Option<&Status>, next: &Status) -> Option<Transition> {
    let (reason, action) = error_event_reason(next)?;
    if prev.and_then(error_event_reason).map(|(r, _)| r) == Some(reason) {
        return None;
    }
    let note = next.condition(READY).map_or("", |c| c.message.as_str());
    Some(Transition::new(
        TransitionType::Warning,
        reason,
        action,
        note,
    ))
}

fn deadline_event(prev: Option<&Status>, next: &Status) -> Option<Transition> {
    if prev.and_then(deadline_exceeded).is_some() {
        return None;
    }
    let note = &deadline_exceeded(next)?.message;
    Some(Transition::new(
        TransitionType::Warning,
        reason::PROGRESS_DEADLINE_EXCEEDED,
        action::POLL_JOB,
        note,
    ))
}

fn deadline_exceeded(status: &Status) -> Option<&Condition> {
    status
        .condition(STALLED)
        .filter(|c| c.reason == reason::PROGRESS_DEADLINE_EXCEEDED)
}

fn is_finished(status: &Status) -> bool {
    status
        .job_status
        .as_deref()
        .is_some_and(|s| JobStatus::from(s).is_terminal())
}

fn is_rollback(job_type: Option<&str>) -> bool {
    job_type.is_some_and(|t| JobType::from(t) == JobType::Rollback)
}

fn non_empty(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

// `Time` serialises whole seconds; holding whole seconds in memory too keeps a
// freshly computed status equal to the one read back from the API server.
fn whole_seconds(ts: Timestamp) -> Time {
    Time(Timestamp::from_second(ts.as_second()).unwrap_or(ts))
}

// `migrate_traffic_1` → `MigrateTraffic1`.
fn pascal_case(raw: &str) -> String {
    raw.split(|c: char| !c.is_ascii_alphanumeric())
        .flat_map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase())
                .into_iter()
                .chain(chars)
        })
        .collect()
}

// At most `max` bytes, cut on a char boundary; a cut is marked with "…".
fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mark = if max >= "…".len() { "…" } else { "" };
    let mut end = max - mark.len();
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{mark}", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::huawei::model::{SubJobEntity, SubJobType};

    const GATEWAY: &str = "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9";
    const MIN_POLL: Duration = Duration::from_secs(5);
    const POLL: Option<Duration> = Some(Duration::from_secs(15));

    fn ts(raw: &str) -> Timestamp {
        raw.parse().unwrap()
    }

    fn t0() -> Timestamp {
        ts("2026-03-18T15:00:00Z")
    }

    fn after(secs: i64) -> Timestamp {
        t0() + SignedDuration::from_secs(secs)
    }

    fn spec() -> Spec {
        Spec::test(GATEWAY)
    }

    fn spec_with(edit: impl FnOnce(&mut Spec)) -> Spec {
        let mut spec = spec();
        edit(&mut spec);
        spec
    }

    // Builders on the wire types, test-only.
    impl Job {
        /// An upgrade job of our gateway, created at t0, without sub-jobs.
        fn test(id: &str, status: &str) -> Self {
            Job {
                id: id.into(),
                resource_id: Some(GATEWAY.into()),
                job_type: Some(JobType::Upgrade),
                status: JobStatus::from(status),
                expected_time_seconds: None,
                created_at: Some(t0()),
                finished_at: None,
                updated_at: None,
                error_message: None,
                sub_jobs: Vec::new(),
            }
        }

        fn created(mut self, at: Timestamp) -> Self {
            self.created_at = Some(at);
            self
        }

        fn rollback(mut self) -> Self {
            self.job_type = Some(JobType::Rollback);
            self
        }

        fn error(mut self, message: &str) -> Self {
            self.error_message = Some(message.into());
            self
        }

        /// Sub-jobs `s0`, `s1`... with these statuses and the known types in order
        /// (prepare_resource, upgrade_worker_1, upgrade_worker_2, migrate_traffic_1...).
        fn subs(mut self, statuses: &[&str]) -> Self {
            let types = SubJobType::KNOWN.iter().cycle();
            self.sub_jobs = (statuses.iter().zip(types).enumerate())
                .map(|(i, (status, t))| SubJob::test(&format!("s{i}"), t.as_str(), status))
                .collect();
            self
        }
    }

    impl SubJob {
        fn test(id: &str, type_: &str, status: &str) -> Self {
            SubJob {
                id: id.into(),
                job_type: Some(SubJobType::from(type_)),
                entity: Some(SubJobEntity {
                    ip_address: Some("192.168.1.2".into()),
                    ..SubJobEntity::default()
                }),
                status: SubJobStatus::from(status),
                expected_time_seconds: None,
                created_at: Some(t0()),
                finished_at: None,
                error_message: None,
            }
        }
    }

    /// Observes with the default spec, generation 1, `secs` after t0.
    fn look(prev: Option<&Status>, jobs: &[Job], secs: i64) -> Observation {
        observe(prev, &spec(), 1, jobs, after(secs), MIN_POLL)
    }

    fn look_with(spec: &Spec, prev: Option<&Status>, jobs: &[Job], secs: i64) -> Observation {
        observe(prev, spec, 1, jobs, after(secs), MIN_POLL)
    }

    fn transient(prev: Option<&Status>, reason: &'static str, secs: i64) -> Status {
        on_error(
            prev,
            1,
            reason,
            format!("{reason} message"),
            false,
            after(secs),
        )
    }

    /// Every condition as `Type=Status/Reason`, in order, space-separated.
    fn conds(status: &Status) -> String {
        let all: Vec<String> = (status.conditions.iter())
            .map(|c| format!("{}={}/{}", c.type_, c.status.as_str(), c.reason))
            .collect();
        all.join(" ")
    }

    fn ready(status: &Status) -> &Condition {
        status.condition(READY).unwrap()
    }

    fn reasons(transitions: &[Transition]) -> Vec<&str> {
        transitions.iter().map(|t| t.reason).collect()
    }

    /// The invariants every status we write must hold.
    fn assert_invariants(status: &Status) {
        let types: Vec<&str> = status.conditions.iter().map(|c| c.type_.as_str()).collect();
        assert_eq!(
            types.first(),
            Some(&READY),
            "Ready first and present: {types:?}"
        );
        for c in &status.conditions[1..] {
            assert_eq!(
                c.status,
                ConditionStatus::True,
                "{} only while True",
                c.type_
            );
        }
        let both = types.contains(&RECONCILING) && types.contains(&STALLED);
        assert!(!both, "never Reconciling and Stalled together: {types:?}");
        for c in &status.conditions {
            assert_eq!(c.observed_generation, status.observed_generation);
            assert_eq!(c.last_transition_time.0.subsec_nanosecond(), 0);
            assert!(!c.message.is_empty() && c.message.len() <= MAX_MESSAGE_BYTES);
        }
    }

    /// The conventions' mapping table, for every job status, observed first and
    /// after an in-progress status: exact conditions and next poll.
    #[test]
    fn ready_reasons_lists_every_reason_ready_can_carry() {
        let job_statuses = [
            "init",
            "running",
            "upgrading",
            "pending_upgrade_confirm",
            "success",
            "rolling_back",
            "rollback_success",
            "fail",
            "something_new",
        ];
        let mut produced = vec![reason::INITIALIZING, reason::WAITING_FOR_JOB];
        produced.extend(ERROR_REASONS.iter().map(|(r, _)| *r));
        for raw in job_statuses {
            for job_type in [Some("upgrade"), Some("rollback"), None] {
                produced.push(job_conditions(&JobStatus::from(raw), job_type).1);
            }
        }
        let deadline = Spec {
            progress_deadline_seconds: Some(1),
            ..spec()
        };
        let seen = observe(None, &deadline, 1, &[], after(0), MIN_POLL);
        let later = observe(Some(&seen.status), &deadline, 1, &[], after(60), MIN_POLL);
        produced.push(&later.status.condition(READY).unwrap().reason);
        for reason in produced {
            assert!(READY_REASONS.contains(&reason), "{reason} is not listed");
        }
    }

    #[test]
    fn every_job_status_maps_to_the_conventions_table() {
        // Job status, job type, conditions. Unfinished jobs keep polling.
        let table = [
            (
                "init",
                "upgrade",
                "Ready=False/JobInitializing Reconciling=True/JobInitializing",
            ),
            (
                "running",
                "upgrade",
                "Ready=False/JobRunning Reconciling=True/JobRunning",
            ),
            (
                "upgrading",
                "upgrade",
                "Ready=False/Upgrading Reconciling=True/Upgrading",
            ),
            (
                "pending_upgrade_confirm",
                "upgrade",
                "Ready=False/AwaitingConfirmation Reconciling=True/AwaitingConfirmation",
            ),
            (
                "rolling_back",
                "upgrade",
                "Ready=False/RollingBack Reconciling=True/RollingBack",
            ),
            ("success", "upgrade", "Ready=True/UpgradeSucceeded"),
            ("success", "rollback", "Ready=True/RollbackSucceeded"),
            (
                "rollback_success",
                "upgrade",
                "Ready=False/RolledBack Stalled=True/RolledBack",
            ),
            (
                "fail",
                "upgrade",
                "Ready=False/UpgradeFailed Stalled=True/UpgradeFailed",
            ),
            (
                "fail",
                "rollback",
                "Ready=False/UpgradeFailed Stalled=True/UpgradeFailed",
            ),
            (
                "paused_by_ops",
                "upgrade",
                "Ready=Unknown/UnknownJobStatus Reconciling=True/UnknownJobStatus",
            ),
        ];
        let in_progress = look(None, &[Job::test("j", "upgrading").subs(&["running"])], 0);
        for (job_status, job_type, want) in table {
            let mut job = Job::test("j", job_status).subs(&["success", "running"]);
            job.job_type = Some(JobType::from(job_type));
            let finished = ["success", "fail", "rollback_success"].contains(&job_status);
            for prev in [None, Some(&in_progress.status)] {
                let obs = look(prev, std::slice::from_ref(&job), 30);
                let case = format!("{job_status} {job_type} prev={}", prev.is_some());
                assert_eq!(conds(&obs.status), want, "{case}");
                assert_eq!(obs.poll_after, if finished { None } else { POLL }, "{case}");
                assert_eq!(obs.status.job_status.as_deref(), Some(job_status), "{case}");
                assert_invariants(&obs.status);
            }
        }
    }

    #[test]
    fn no_job_is_waiting_for_job_and_keeps_polling() {
        let obs = look(None, &[], 0);
        assert_eq!(
            conds(&obs.status),
            "Ready=False/WaitingForJob Reconciling=True/WaitingForJob"
        );
        assert_eq!(obs.poll_after, POLL);
        assert!(obs.status.job_id.is_none() && obs.status.progress.is_none());
        assert!(ready(&obs.status).message.contains(GATEWAY));
        assert!(obs.transitions.is_empty());
        assert_invariants(&obs.status);
    }

    #[test]
    fn status_carries_job_and_sub_job_data() {
        let mut job = Job::test("j", "upgrading").subs(&["success", "fail", "running", "init"]);
        job.created_at = Some(ts("2026-03-18T15:08:53.679462Z"));
        job.finished_at = Some(ts("2026-03-18T15:10:26.953831Z"));
        job.expected_time_seconds = Some(61);
        job.sub_jobs[1].error_message = Some("boom".into());
        let status = look(None, &[job], 600).status;
        assert_eq!(status.observed_generation, Some(1));
        assert_eq!(status.job_id.as_deref(), Some("j"));
        assert_eq!(status.job_type.as_deref(), Some("upgrade"));
        assert_eq!(status.created_at, Some(Time(ts("2026-03-18T15:08:53Z"))));
        assert_eq!(status.finished_at, Some(Time(ts("2026-03-18T15:10:26Z"))));
        assert_eq!(status.expected_remaining_seconds, Some(120));
        assert_eq!(
            (status.sub_jobs_completed, status.sub_jobs_total),
            (Some(2), Some(4))
        );
        assert_eq!(status.progress.as_deref(), Some("2/4"));
        assert_eq!(
            ready(&status).message,
            "Upgrade in progress: 2/4 sub-jobs finished"
        );
        let sub = &status.sub_jobs[1];
        assert_eq!((sub.id.as_str(), sub.status.as_str()), ("s1", "fail"));
        assert_eq!(sub.type_.as_deref(), Some("upgrade_worker_1"));
        assert_eq!(sub.ip_address.as_deref(), Some("192.168.1.2"));
        assert_eq!(sub.error_message.as_deref(), Some("boom"));
    }

    /// The cloud counts the estimate down on every poll; whole minutes keep that
    /// from rewriting the status each time.
    #[test]
    fn expected_remaining_time_is_whole_minutes_and_dropped_once_finished() {
        for (secs, want) in [(0, 0), (1, 60), (60, 60), (61, 120), (-5, 0)] {
            let mut job = Job::test("j", "running");
            job.expected_time_seconds = Some(secs);
            let status = look(None, &[job], 0).status;
            assert_eq!(status.expected_remaining_seconds, Some(want), "{secs}");
        }
        let mut job = Job::test("j", "success");
        job.expected_time_seconds = Some(30);
        assert_eq!(
            look(None, &[job], 0).status.expected_remaining_seconds,
            None
        );
    }

    #[test]
    fn progress_counts_finished_sub_jobs_whatever_their_outcome() {
        let cases: [(&[&str], &str); 4] = [
            (&[], "0/0"),
            (&["init", "running", "upgrading"], "0/3"),
            (&["success", "fail", "running"], "2/3"),
            (&["success", "success", "paused"], "2/3"),
        ];
        for (subs, want) in cases {
            let status = look(None, &[Job::test("j", "running").subs(subs)], 0).status;
            assert_eq!(status.progress.as_deref(), Some(want), "{subs:?}");
        }
    }

    #[test]
    fn failure_message_is_the_cloud_error_of_the_job_else_of_the_first_failed_sub_job() {
        let message = |job: Job| ready(&look(None, &[job], 0).status).message.clone();
        let mut job = Job::test("j", "fail").subs(&["success", "fail", "fail"]);
        job.sub_jobs[1].error_message = Some("worker 1 did not come back".into());
        job.sub_jobs[2].error_message = Some("second".into());
        assert_eq!(
            message(job.clone()),
            "Upgrade failed in step upgrade_worker_1: worker 1 did not come back"
        );
        let job = job.error("VPN.0001 quota exceeded");
        assert_eq!(message(job), "Upgrade failed: VPN.0001 quota exceeded");
        let bare = Job::test("j", "fail").rollback();
        assert_eq!(
            message(bare),
            "Rollback failed; Huawei Cloud gave no error message"
        );
    }

    #[test]
    fn unknown_job_status_is_named_in_the_message() {
        let status = look(None, &[Job::test("j", "paused_by_ops")], 0).status;
        assert!(ready(&status).message.contains("\"paused_by_ops\""));
    }

    /// Same inputs at a later time must give an identical status, or every poll
    /// would write (and retrigger a reconcile).
    #[test]
    fn same_inputs_later_give_an_identical_status() {
        let mut job = Job::test("j", "upgrading").subs(&["success", "running"]);
        job.expected_time_seconds = Some(100);
        let s = spec_with(|s| s.progress_deadline_seconds = Some(3600));
        let now = ts("2026-03-18T15:00:01.75Z");
        let first = observe(None, &s, 1, std::slice::from_ref(&job), now, MIN_POLL);
        job.expected_time_seconds = Some(95);
        let second = look_with(&s, Some(&first.status), &[job], 45);
        assert_eq!(second.status, first.status);
        assert!(second.transitions.is_empty());
        let since = &ready(&first.status).last_transition_time;
        assert_eq!(since, &Time(ts("2026-03-18T15:00:01Z")), "whole seconds");
    }

    #[test]
    fn last_transition_time_moves_only_when_the_status_flips() {
        let first = look(None, &[Job::test("j", "running")], 0).status;
        let second = look(Some(&first), &[Job::test("j", "upgrading")], 60).status;
        // Ready stays False, Reconciling stays True: reasons change, times do not.
        assert_eq!(
            conds(&second),
            "Ready=False/Upgrading Reconciling=True/Upgrading"
        );
        assert!(
            second
                .conditions
                .iter()
                .all(|c| c.last_transition_time == Time(t0()))
        );
        let done = look(Some(&second), &[Job::test("j", "success")], 120).status;
        assert_eq!(ready(&done).last_transition_time, Time(after(120)));
    }

    #[test]
    fn observed_generation_is_set_on_status_and_every_condition() {
        let obs = observe(
            None,
            &spec(),
            7,
            &[Job::test("j", "running")],
            t0(),
            MIN_POLL,
        );
        assert_eq!(obs.status.observed_generation, Some(7));
        assert!(
            obs.status
                .conditions
                .iter()
                .all(|c| c.observed_generation == Some(7))
        );
    }

    #[test]
    fn job_id_picks_exactly_that_job() {
        let jobs = [
            Job::test("old", "success").created(after(-3600)),
            Job::test("new", "running"),
        ];
        let s = spec_with(|s| s.job_id = Some("old".into()));
        assert_eq!(
            look_with(&s, None, &jobs, 0).status.job_id.as_deref(),
            Some("old")
        );
        let s = spec_with(|s| s.job_id = Some("missing".into()));
        let status = look_with(&s, None, &jobs, 0).status;
        assert_eq!(ready(&status).reason, reason::WAITING_FOR_JOB);
        assert!(ready(&status).message.contains("missing"));
    }

    #[test]
    fn without_job_id_the_newest_job_of_the_gateway_is_picked() {
        let mut foreign = Job::test("foreign", "running").created(after(100));
        foreign.resource_id = Some("ffffffff-ffff-ffff-ffff-ffffffffffff".into());
        let mut unlabelled = Job::test("unlabelled", "running").created(after(50));
        unlabelled.resource_id = None;
        let jobs = [
            Job::test("old", "success").created(after(-3600)),
            foreign,
            unlabelled,
        ];
        assert_eq!(
            look(None, &jobs, 0).status.job_id.as_deref(),
            Some("unlabelled")
        );
        // Equal creation times: the pick does not depend on the cloud's order.
        let twins = [Job::test("b", "running"), Job::test("a", "running")];
        let reversed = [twins[1].clone(), twins[0].clone()];
        assert_eq!(look(None, &twins, 0).status.job_id.as_deref(), Some("b"));
        assert_eq!(look(None, &reversed, 0).status.job_id.as_deref(), Some("b"));
    }

    /// A pipeline that just started an upgrade must never take last month's
    /// finished job for it.
    #[test]
    fn not_before_ignores_older_jobs_and_jobs_without_a_creation_time() {
        let last_month = Job::test("last-month", "success").created(ts("2026-02-18T15:00:00Z"));
        let mut undated = Job::test("undated", "running");
        undated.created_at = None;
        let s = spec_with(|s| s.not_before = Some(Time(t0())));
        let status = look_with(&s, None, &[last_month.clone(), undated], 0).status;
        assert_eq!(ready(&status).reason, reason::WAITING_FOR_JOB);
        let jobs = [last_month, Job::test("exactly-then", "init").created(t0())];
        let status = look_with(&s, None, &jobs, 0).status;
        assert_eq!(status.job_id.as_deref(), Some("exactly-then"));
    }

    #[test]
    fn poll_after_is_the_spec_interval_with_the_operator_floor() {
        let job = [Job::test("j", "running")];
        let poll = |interval: Option<&str>, floor| {
            let s = spec_with(|s| s.poll_interval = interval.map(Into::into));
            observe(None, &s, 1, &job, t0(), floor).poll_after.unwrap()
        };
        assert_eq!(poll(None, MIN_POLL), Duration::from_secs(15));
        assert_eq!(poll(Some("1m30s"), MIN_POLL), Duration::from_secs(90));
        assert_eq!(poll(Some("1s"), MIN_POLL), MIN_POLL);
        assert_eq!(
            poll(Some("1s"), Duration::from_millis(100)),
            Duration::from_secs(1)
        );
    }

    #[test]
    fn deadline_stalls_an_unfinished_job_counted_from_its_creation() {
        let s = spec_with(|s| s.progress_deadline_seconds = Some(600));
        let job = [Job::test("j", "upgrading")];
        let before = look_with(&s, None, &job, 600);
        assert_eq!(ready(&before.status).reason, reason::UPGRADING);
        let past = look_with(&s, Some(&before.status), &job, 601);
        assert_eq!(
            conds(&past.status),
            "Ready=False/ProgressDeadlineExceeded Stalled=True/ProgressDeadlineExceeded"
        );
        assert_eq!(
            ready(&past.status).message,
            "Upgrade in progress: 0/0 sub-jobs finished (progress deadline of 600s exceeded)"
        );
        assert_eq!(
            past.poll_after, POLL,
            "keeps polling: the job may still finish"
        );
        assert_eq!(
            reasons(&past.transitions),
            [reason::PROGRESS_DEADLINE_EXCEEDED]
        );
        assert_invariants(&past.status);
        let again = look_with(&s, Some(&past.status), &job, 900);
        assert_eq!(again.status, past.status);
        assert!(again.transitions.is_empty());
        // Cleared once the job finishes.
        let done = look_with(&s, Some(&past.status), &[Job::test("j", "success")], 1000);
        assert_eq!(conds(&done.status), "Ready=True/UpgradeSucceeded");
    }

    #[test]
    fn deadline_without_a_job_counts_from_when_ready_stopped_being_true() {
        let s = spec_with(|s| s.progress_deadline_seconds = Some(60));
        let init = initializing(None, 1, t0());
        let waiting = look_with(&s, Some(&init), &[], 30).status;
        assert_eq!(ready(&waiting).reason, reason::WAITING_FOR_JOB);
        // Unknown -> False moved Ready's time to 30s; the deadline counts from there.
        let still = look_with(&s, Some(&waiting), &[], 90).status;
        assert_eq!(ready(&still).reason, reason::WAITING_FOR_JOB);
        let stalled = look_with(&s, Some(&still), &[], 91).status;
        assert!(conds(&stalled).ends_with(" Stalled=True/ProgressDeadlineExceeded"));
        let later = look_with(&s, Some(&stalled), &[], 500).status;
        assert_eq!(later, stalled, "stable once exceeded");
    }

    #[test]
    fn initializing_is_ready_unknown_and_reconciling() {
        let status = initializing(None, 3, after(1));
        assert_eq!(
            conds(&status),
            "Ready=Unknown/Initializing Reconciling=True/Initializing"
        );
        assert_eq!(status.observed_generation, Some(3));
        assert_invariants(&status);
        assert!(transitions(None, &status).is_empty());
    }

    #[test]
    fn transient_errors_retry_without_stalling_and_keep_job_data() {
        let running = look(None, &[Job::test("j", "running").subs(&["running"])], 0).status;
        let status = transient(Some(&running), reason::CLOUD_API_ERROR, 10);
        assert_eq!(
            conds(&status),
            "Ready=False/CloudAPIError Reconciling=True/RetryingAfterError"
        );
        assert_eq!(
            ready(&status).last_transition_time,
            Time(t0()),
            "still False"
        );
        assert_eq!(ready(&status).message, "CloudAPIError message");
        assert_eq!(
            (&status.job_id, &status.sub_jobs),
            (&running.job_id, &running.sub_jobs)
        );
        assert_invariants(&status);
        assert!(needs_poll(&spec(), Some(&status), 1));
        // From nothing (or Initializing) Ready is False too; after a success, Unknown.
        let fresh = transient(None, reason::CREDENTIALS_NOT_FOUND, 0);
        assert!(conds(&fresh).starts_with("Ready=False/CredentialsNotFound "));
        let succeeded = look(None, &[Job::test("j", "success")], 0).status;
        let after_success = transient(Some(&succeeded), reason::AUTHENTICATION_FAILED, 10);
        assert!(conds(&after_success).starts_with("Ready=Unknown/AuthenticationFailed "));
        assert_invariants(&after_success);
    }

    #[test]
    fn unfixable_errors_stall_and_stop_polling_until_the_spec_changes() {
        let prev = initializing(None, 1, t0());
        let message = "endpoint not allowed".to_owned();
        let status = on_error(
            Some(&prev),
            1,
            reason::ENDPOINT_NOT_ALLOWED,
            message,
            true,
            t0(),
        );
        let want = "Ready=False/EndpointNotAllowed Stalled=True/EndpointNotAllowed";
        assert_eq!(conds(&status), want);
        assert_invariants(&status);
        assert!(!needs_poll(&spec(), Some(&status), 1));
        assert!(needs_poll(&spec(), Some(&status), 2));
        let t = transitions(Some(&prev), &status);
        assert_eq!(reasons(&t), [reason::ENDPOINT_NOT_ALLOWED]);
        assert_eq!(t[0].action, action::CHECK_ENDPOINT);
    }

    #[test]
    fn needs_poll_stops_for_finished_jobs_and_suspended_watches() {
        let running = look(None, &[Job::test("j", "running")], 0).status;
        assert!(needs_poll(&spec(), None, 1));
        assert!(needs_poll(&spec(), Some(&running), 1));
        let suspended = spec_with(|s| s.suspend = Some(true));
        assert!(!needs_poll(&suspended, Some(&running), 1));
        for finished in ["success", "fail", "rollback_success"] {
            let status = look(None, &[Job::test("j", finished)], 0).status;
            assert!(!needs_poll(&spec(), Some(&status), 1), "{finished}");
            assert!(
                needs_poll(&spec(), Some(&status), 2),
                "{finished}: spec changed"
            );
        }
        let s = spec_with(|s| s.progress_deadline_seconds = Some(1));
        let late = look_with(&s, None, &[Job::test("j", "running")], 10).status;
        assert!(conds(&late).ends_with("Stalled=True/ProgressDeadlineExceeded"));
        assert!(
            needs_poll(&s, Some(&late), 1),
            "a late job may still finish"
        );
    }

    /// A first look at a running job announces the job, its state and the
    /// sub-jobs already under way, in that order.
    #[test]
    fn first_observation_of_a_running_job_announces_job_state_and_started_sub_jobs() {
        let job = Job::test("j", "running").subs(&["success", "running", "init", "upgrading"]);
        let t = look(None, &[job], 0).transitions;
        let want = [
            "JobFound",
            "JobRunning",
            "SubJobSucceeded",
            "SubJobStarted",
            "SubJobStarted",
        ];
        assert_eq!(reasons(&t), want);
        assert_eq!(
            (t[0].type_, t[0].action.as_str()),
            (TransitionType::Normal, "ResolveJob")
        );
        assert_eq!(
            t[0].note,
            "Watching upgrade job j, created at 2026-03-18T15:00:00Z"
        );
        assert_eq!(t[1].action, "PollJob");
        assert_eq!(t[1].note, "Upgrade job is running: 1/4 sub-jobs finished");
        assert_eq!(t[2].action, "PrepareResource");
        assert_eq!(t[3].action, "UpgradeWorker1");
        assert_eq!(t[3].note, "Sub-job upgrade_worker_1 on 192.168.1.2 started");
        assert_eq!(t[4].action, "MigrateTraffic1");
    }

    /// Restarting the operator replays the stored status: nothing new, no Events.
    #[test]
    fn the_same_status_again_or_after_a_restart_announces_nothing() {
        let job = [Job::test("j", "upgrading").subs(&["success", "running"])];
        let first = look(None, &job, 0);
        let json = serde_json::to_value(&first.status).unwrap();
        let stored: Status = serde_json::from_value(json).unwrap();
        assert_eq!(
            stored, first.status,
            "status survives the API server round trip"
        );
        let replay = look(Some(&stored), &job, 3600);
        assert!(replay.transitions.is_empty(), "{:?}", replay.transitions);
        assert_eq!(replay.status, stored);
    }

    #[test]
    fn sub_job_changes_announce_one_event_each_in_job_order_before_the_outcome() {
        let before = Job::test("j", "upgrading").subs(&["running", "running", "init", "init"]);
        let prev = look(None, &[before], 0).status;
        let mut next = Job::test("j", "fail")
            .error("worker 2 unreachable")
            .subs(&["success", "fail", "running", "init"]);
        next.sub_jobs[1].error_message = Some("timeout".into());
        let t = look(Some(&prev), &[next], 60).transitions;
        let want = [
            "SubJobSucceeded",
            "SubJobFailed",
            "SubJobStarted",
            "UpgradeFailed",
        ];
        assert_eq!(reasons(&t), want);
        assert_eq!(t[1].type_, TransitionType::Warning);
        assert_eq!(
            t[1].note,
            "Sub-job upgrade_worker_1 on 192.168.1.2 failed: timeout"
        );
        assert_eq!(t[3].type_, TransitionType::Warning);
        assert_eq!(t[3].note, "Upgrade failed: worker 2 unreachable");
    }

    #[test]
    fn every_sub_job_status_change_maps_to_its_event() {
        let cases = [
            (None, "init", None),
            (None, "running", Some("SubJobStarted")),
            (None, "upgrading", Some("SubJobStarted")),
            (None, "success", Some("SubJobSucceeded")),
            (None, "fail", Some("SubJobFailed")),
            (None, "paused", None),
            (Some("init"), "running", Some("SubJobStarted")),
            (Some("running"), "upgrading", None),
            (Some("upgrading"), "success", Some("SubJobSucceeded")),
            (Some("running"), "fail", Some("SubJobFailed")),
            (Some("running"), "running", None),
            (Some("running"), "paused", None),
        ];
        let job = |sub: &str| [Job::test("j", "running").subs(&[sub])];
        for (before, now, want) in cases {
            let prev = before.map(|b| look(None, &job(b), 0).status);
            let t = look(prev.as_ref(), &job(now), 1).transitions;
            let subs: Vec<&str> = reasons(&t)
                .into_iter()
                .filter(|r| r.starts_with("SubJob"))
                .collect();
            assert_eq!(subs, Vec::from_iter(want), "{before:?} -> {now}");
        }
    }

    #[test]
    fn job_status_events_follow_the_conventions_table() {
        use TransitionType::{Normal, Warning};
        let cases = [
            ("running", "upgrade", Some(("JobRunning", Normal))),
            ("upgrading", "upgrade", Some(("Upgrading", Normal))),
            (
                "pending_upgrade_confirm",
                "upgrade",
                Some(("AwaitingConfirmation", Normal)),
            ),
            ("rolling_back", "upgrade", Some(("RollingBack", Warning))),
            ("success", "upgrade", Some(("UpgradeSucceeded", Normal))),
            ("success", "rollback", Some(("RollbackSucceeded", Normal))),
            ("fail", "upgrade", Some(("UpgradeFailed", Warning))),
            ("rollback_success", "upgrade", Some(("RolledBack", Warning))),
            (
                "paused_by_ops",
                "upgrade",
                Some(("UnknownJobStatus", Warning)),
            ),
            ("init", "upgrade", None),
        ];
        let prev = look(None, &[Job::test("j", "init")], 0).status;
        for (job_status, job_type, want) in cases {
            let mut job = Job::test("j", job_status);
            job.job_type = Some(JobType::from(job_type));
            let t = look(Some(&prev), &[job], 1).transitions;
            let got: Vec<_> = t.iter().map(|t| (t.reason, t.type_)).collect();
            assert_eq!(got, Vec::from_iter(want), "{job_status}");
            assert!(t.iter().all(|t| t.action == action::POLL_JOB));
        }
        let confirm = look(Some(&prev), &[Job::test("j", "pending_upgrade_confirm")], 1);
        assert!(confirm.transitions[0].note.contains("must commit"));
    }

    #[test]
    fn a_new_job_is_found_again_and_its_sub_jobs_are_not_diffed_against_the_old_one() {
        let upgrade = Job::test("up", "pending_upgrade_confirm").subs(&["success"]);
        let prev = look(None, std::slice::from_ref(&upgrade), 0).status;
        let rollback = Job::test("down", "rolling_back")
            .rollback()
            .created(after(60));
        let t = look(Some(&prev), &[upgrade, rollback.subs(&["success"])], 61).transitions;
        assert_eq!(reasons(&t), ["JobFound", "RollingBack", "SubJobSucceeded"]);
        assert!(t[0].note.starts_with("Watching rollback job down"));
    }

    /// Retries of the same error must not announce it again; a new reason must.
    #[test]
    fn an_error_reason_is_announced_once_per_change() {
        let running = look(None, &[Job::test("j", "running")], 0).status;
        let missing = transient(Some(&running), reason::CREDENTIALS_NOT_FOUND, 1);
        let t = transitions(Some(&running), &missing);
        assert_eq!(reasons(&t), ["CredentialsNotFound"]);
        assert_eq!(
            (t[0].type_, t[0].action.as_str()),
            (TransitionType::Warning, "ReadCredentials")
        );
        assert_eq!(t[0].note, "CredentialsNotFound message");
        let retried = transient(Some(&missing), reason::CREDENTIALS_NOT_FOUND, 30);
        assert_eq!(retried, missing);
        assert!(transitions(Some(&missing), &retried).is_empty());
        let refused = transient(Some(&retried), reason::AUTHENTICATION_FAILED, 60);
        let t = transitions(Some(&retried), &refused);
        assert_eq!(reasons(&t), ["AuthenticationFailed"]);
        assert_eq!(t[0].action, "CallCloudAPI");
        // Recovery: the job is unchanged, so there is nothing to announce.
        let back = look(Some(&refused), &[Job::test("j", "running")], 90);
        assert!(back.transitions.is_empty());
        assert_eq!(
            conds(&back.status),
            "Ready=False/JobRunning Reconciling=True/JobRunning"
        );
    }

    #[test]
    fn notes_are_cut_at_1024_bytes_on_a_char_boundary() {
        let job = Job::test("j", "fail").error(&"é".repeat(3000));
        let obs = look(None, &[job], 0);
        let note = &obs.transitions.last().unwrap().note;
        assert!(
            (MAX_NOTE_BYTES - 4..=MAX_NOTE_BYTES).contains(&note.len()),
            "{}",
            note.len()
        );
        assert!(note.ends_with("é…"));
        // The status keeps more of the message than the note does.
        let kept = obs.status.error_message.unwrap();
        assert_eq!(kept.len(), MAX_JOB_ERROR_BYTES - 1);
        let text = "aé€😀bcdefghij";
        for max in 0..text.len() {
            let cut = truncate(text, max);
            assert!(cut.len() <= max, "{max}: {cut}");
            assert!(text.starts_with(cut.trim_end_matches('…')), "{max}: {cut}");
        }
        assert_eq!(truncate("short", 1024), "short");
        assert_eq!(truncate("aé€", 5), "a…");
    }

    #[test]
    fn sub_job_actions_are_pascal_case_types_within_128_bytes() {
        assert_eq!(pascal_case("migrate_traffic_1"), "MigrateTraffic1");
        assert_eq!(pascal_case("service_ready_check_2"), "ServiceReadyCheck2");
        assert_eq!(pascal_case("upgrade-worker 3"), "UpgradeWorker3");
        let mut job = Job::test("j", "running");
        job.sub_jobs = vec![SubJob::test("s", &"x_".repeat(200), "running")];
        let t = look(None, std::slice::from_ref(&job), 0).transitions;
        assert!(t.last().unwrap().action.len() <= MAX_ACTION_BYTES);
        job.sub_jobs[0].job_type = None;
        let t = look(None, &[job], 0).transitions;
        assert_eq!(t.last().unwrap().action, action::SUB_JOB);
    }

    #[test]
    fn condition_messages_are_capped_at_32_kib() {
        let long = "x".repeat(40_000);
        let status = on_error(None, 1, reason::CLOUD_API_ERROR, long, false, t0());
        assert!(
            status
                .conditions
                .iter()
                .all(|c| c.message.len() <= MAX_MESSAGE_BYTES)
        );
    }
}
