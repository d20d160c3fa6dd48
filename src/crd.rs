//! The `VpnGatewayJobWatch` custom resource (`vpnjob.io/v1alpha1`): spec, status
//! and condition types, the consts that name them, and the CRD rendered from them.
//!
//! Serde and schemars only: no I/O, no cloud wire types (`status.rs` translates
//! `huawei::model` into these), no clock. The `///` comments on spec and status
//! fields are user documentation: they become the schema descriptions that
//! `kubectl explain` prints. Developer notes go in `//` comments.
//!
//! Server-side validation lives here too, as schema patterns and CEL rules, so the
//! API server rejects a bad watch with a message that names the field.

use std::time::Duration;

use k8s_openapi::{
    apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
    apimachinery::pkg::apis::meta::v1::Time,
};
use kube::{CustomResource, CustomResourceExt, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Condition type: True only when the watched job finished successfully. Always present.
pub const READY: &str = "Ready";
/// Condition type: present (and True) only while the job is unfinished or we retry an error.
pub const RECONCILING: &str = "Reconciling";
/// Condition type: present (and True) only when the watch cannot progress without a human.
pub const STALLED: &str = "Stalled";

/// Poll interval used when `spec.pollInterval` is not set.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(15);

// Patterns the API server enforces (Go RE2 syntax, so no look-arounds).
const PROJECT_ID_PATTERN: &str = "^[0-9a-f]{32}$";
const UUID_PATTERN: &str = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$";
const JOB_ID_PATTERN: &str = "^[0-9A-Za-z][0-9A-Za-z_-]*$";
// A DNS label: also what keeps a region from smuggling a host or path into the URL
// the client builds from it.
const REGION_PATTERN: &str = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";
const SECRET_NAME_PATTERN: &str =
    "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";
// Hours, minutes and seconds in that order, e.g. 15s, 1m, 1m30s, 2h. It matches
// the empty string too; `length(min = 1)` closes that.
const POLL_INTERVAL_PATTERN: &str = "^([0-9]+h)?([0-9]+m)?([0-9]+s)?$";

/// Which VPN gateway job to watch, where and with which credentials, and how often to look.
// Each printcolumn repeats `type_ = "string"` etc.; clippy reads those as duplicates.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "vpnjob.io",
    version = "v1alpha1",
    kind = "VpnGatewayJobWatch",
    plural = "vpngatewayjobwatches",
    namespaced,
    status = "VpnGatewayJobWatchStatus",
    shortname = "vgjw",
    category = "huaweicloud",
    derive = "PartialEq",
    doc = "VpnGatewayJobWatch mirrors one Huawei Cloud VPN gateway upgrade job into Kubernetes: its progress, its sub-jobs and its outcome, as Ready/Reconciling/Stalled conditions that kubectl wait, Flux and Argo CD can gate on.",
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = r#".status.conditions[?(@.type=="Ready")].status"#
    ),
    printcolumn(
        name = "Reason",
        type_ = "string",
        json_path = r#".status.conditions[?(@.type=="Ready")].reason"#
    ),
    printcolumn(name = "Job", type_ = "string", json_path = ".status.jobStatus"),
    printcolumn(name = "Progress", type_ = "string", json_path = ".status.progress"),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    ),
    printcolumn(
        name = "Gateway",
        type_ = "string",
        json_path = ".spec.gatewayId",
        priority = 1
    ),
    printcolumn(
        name = "Message",
        type_ = "string",
        json_path = r#".status.conditions[?(@.type=="Ready")].message"#,
        priority = 1
    ),
    // The API server wants a leading dot here; users select with `spec.gatewayId=...`.
    selectable = ".spec.gatewayId",
    selectable = ".spec.projectId"
)]
#[x_kube(validation = Rule::new("has(self.region) != has(self.endpoint)")
    .message("exactly one of spec.region and spec.endpoint must be set"))]
// `self == oldSelf` on an optional field only runs when both sides have it, so
// adding or removing jobId needs this rule one level up.
#[x_kube(validation = Rule::new("has(self.jobId) == has(oldSelf.jobId)")
    .message("jobId cannot be added or removed once the watch exists")
    .field_path(".jobId"))]
#[serde(rename_all = "camelCase")]
pub struct VpnGatewayJobWatchSpec {
    /// ID of the Huawei Cloud project that owns the VPN gateway: 32 lowercase hexadecimal characters; immutable.
    #[schemars(regex(pattern = PROJECT_ID_PATTERN))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("projectId is immutable"))]
    pub project_id: String,

    /// ID of the VPN gateway whose upgrade jobs are watched, a lowercase UUID; immutable.
    #[schemars(regex(pattern = UUID_PATTERN))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("gatewayId is immutable"))]
    pub gateway_id: String,

    /// Huawei Cloud region of the gateway, e.g. cn-north-4; set exactly one of region and endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63), regex(pattern = REGION_PATTERN))]
    pub region: Option<String>,

    /// Base URL of the VPN API, e.g. https://vpc.cn-north-4.myhuaweicloud.com; set exactly one of region and endpoint, and the operator must allow it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 2048))]
    #[x_kube(validation = Rule::new(
        "isURL(self) && url(self).getScheme() in ['http', 'https'] && url(self).getHost() != ''"
    ).message("endpoint must be an absolute http:// or https:// URL"))]
    pub endpoint: Option<String>,

    /// Secret in this watch's namespace holding the access key (keys accessKey, secretKey and optional securityToken); immutable.
    #[x_kube(validation = Rule::new("self == oldSelf").message("credentialsSecretRef is immutable"))]
    pub credentials_secret_ref: SecretReference,

    /// ID of the job to watch; when unset, the newest job of the gateway is watched. Cannot be added, removed or changed later.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64), regex(pattern = JOB_ID_PATTERN))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("jobId is immutable"))]
    pub job_id: Option<String>,

    /// Ignore jobs created before this RFC 3339 time, so a finished older job is never mistaken for the one just started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<Time>,

    /// How often to poll Huawei Cloud while the job is unfinished, e.g. 15s, 1m or 1m30s; at least 1s, default 15s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 32), regex(pattern = POLL_INTERVAL_PATTERN))]
    // The `!matches ||` guard keeps a malformed value from also failing this rule
    // with a CEL evaluation error: the pattern above already reports it.
    #[x_kube(validation = Rule::new(format!(
        "!self.matches('{POLL_INTERVAL_PATTERN}') || duration(self) >= duration('1s')"
    )).message("pollInterval must be at least 1s"))]
    pub poll_interval: Option<String>,

    /// Seconds the job may stay unfinished (counted from its creation) before the watch reports Stalled=True with reason ProgressDeadlineExceeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub progress_deadline_seconds: Option<i64>,

    /// Stop polling Huawei Cloud while true; the status keeps its last value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspend: Option<bool>,
}

impl VpnGatewayJobWatchSpec {
    /// The poll interval: `spec.pollInterval`, or [`DEFAULT_POLL_INTERVAL`] when it
    /// is unset or (only possible when the CRD's validation was bypassed) unparsable.
    pub fn poll_interval(&self) -> Duration {
        self.poll_interval
            .as_deref()
            .and_then(|raw| humantime::parse_duration(raw).ok())
            .unwrap_or(DEFAULT_POLL_INTERVAL)
    }

    /// True when `spec.suspend` is set: the reconciler makes no cloud calls.
    pub fn is_suspended(&self) -> bool {
        self.suspend.unwrap_or(false)
    }
}

/// A reference to a Secret in the same namespace as the object that refers to it.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq, Eq)]
pub struct SecretReference {
    /// Name of the Secret.
    #[schemars(length(min = 1, max = 253), regex(pattern = SECRET_NAME_PATTERN))]
    pub name: String,
}

/// Observed state of the watched job. Written by the operator only.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct VpnGatewayJobWatchStatus {
    /// The metadata.generation this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,

    /// Ready (always present), Reconciling (only while the job is unfinished or an error is retried) and Stalled (only when the watch cannot progress without a human).
    #[serde(default)]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,

    /// ID of the watched Huawei Cloud job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,

    /// Type of the watched job as Huawei Cloud reports it: upgrade or rollback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_type: Option<String>,

    /// Status of the watched job exactly as Huawei Cloud reports it (init, running, upgrading, pending_upgrade_confirm, rolling_back, success, rollback_success, fail); gate on the conditions, not on this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_status: Option<String>,

    /// When Huawei Cloud created the job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<Time>,

    /// When the job finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Time>,

    /// Huawei Cloud's estimate of the job's remaining run time, rounded up to whole minutes; absent once the job has finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_remaining_seconds: Option<i64>,

    /// Why the job failed, as Huawei Cloud reports it (truncated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,

    /// The job's steps, in the order Huawei Cloud lists them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sub_jobs: Vec<SubJobSummary>,

    /// Number of sub-jobs that have finished, successfully or not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_jobs_completed: Option<i32>,

    /// Number of sub-jobs of the job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_jobs_total: Option<i32>,

    /// Finished and total sub-jobs, e.g. 3/7.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<String>,
}

/// One step (sub-job) of the watched job.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SubJobSummary {
    /// ID of the sub-job.
    pub id: String,

    /// What the sub-job does, as Huawei Cloud names it, e.g. migrate_traffic_1.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,

    /// Status of the sub-job exactly as Huawei Cloud reports it (init, running, upgrading, success, fail).
    pub status: String,

    /// IP address of the gateway worker the sub-job works on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_address: Option<String>,

    /// When the sub-job was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<Time>,

    /// When the sub-job finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Time>,

    /// Why the sub-job failed, as Huawei Cloud reports it (truncated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
}

// Serialises exactly like meta/v1 Condition, and carries its validation, but with a
// typed status. `last_transition_time` holds whole seconds: `Time` writes nothing
// finer, so a sub-second value would never compare equal to what was read back.
/// One aspect of the watch's state, in the standard Kubernetes condition shape.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// Type of the condition: Ready, Reconciling or Stalled.
    #[serde(rename = "type")]
    #[schemars(length(min = 1, max = 316))]
    pub type_: String,

    /// Status of the condition: True, False or Unknown.
    pub status: ConditionStatus,

    /// The metadata.generation the condition was set for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub observed_generation: Option<i64>,

    /// When the condition last changed from one status to another.
    pub last_transition_time: Time,

    /// Machine-readable PascalCase reason for the condition's status, e.g. UpgradeFailed.
    #[schemars(
        length(min = 1, max = 1024),
        regex(pattern = "^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$")
    )]
    pub reason: String,

    /// Human-readable detail, e.g. the error message Huawei Cloud gave for a failed upgrade.
    #[schemars(length(max = 32768))]
    pub message: String,
}

/// Status of a [`Condition`].
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConditionStatus {
    /// The condition holds.
    True,
    /// The condition does not hold.
    False,
    /// It is not known (yet) whether the condition holds.
    Unknown,
}

impl ConditionStatus {
    /// The status as Kubernetes spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::True => "True",
            Self::False => "False",
            Self::Unknown => "Unknown",
        }
    }
}

impl VpnGatewayJobWatchStatus {
    /// The condition of the given type, if present.
    pub fn condition(&self, type_: &str) -> Option<&Condition> {
        self.conditions.iter().find(|c| c.type_ == type_)
    }
}

/// The CustomResourceDefinition of [`VpnGatewayJobWatch`].
pub fn crd() -> CustomResourceDefinition {
    VpnGatewayJobWatch::crd()
}

/// The CRD as YAML, as `vpnjob-operator crd` prints it and `crds/` commits it.
/// Deterministic: every map in the CRD type is ordered.
pub fn crd_yaml() -> String {
    // Serialising a CRD value cannot fail: it has no maps with non-string keys and
    // no custom serialisers that error.
    serde_saphyr::to_string(&crd()).expect("a CustomResourceDefinition serialises to YAML")
}

/// Test builder: a minimal valid spec of `gateway_id` in region cn-north-4.
#[cfg(test)]
impl VpnGatewayJobWatchSpec {
    pub(crate) fn test(gateway_id: &str) -> Self {
        Self {
            project_id: "0123456789abcdef0123456789abcdef".into(),
            gateway_id: gateway_id.into(),
            region: Some("cn-north-4".into()),
            endpoint: None,
            credentials_secret_ref: SecretReference { name: "hw".into() },
            job_id: None,
            not_before: None,
            poll_interval: None,
            progress_deadline_seconds: None,
            suspend: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn crd_json() -> Value {
        serde_json::to_value(crd()).unwrap()
    }

    fn version(crd: &Value) -> &Value {
        &crd["spec"]["versions"][0]
    }

    fn spec_schema(crd: &Value) -> &Value {
        &version(crd)["schema"]["openAPIV3Schema"]["properties"]["spec"]
    }

    fn status_schema(crd: &Value) -> &Value {
        &version(crd)["schema"]["openAPIV3Schema"]["properties"]["status"]
    }

    fn rules(schema: &Value) -> Vec<(String, String)> {
        schema["x-kubernetes-validations"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| {
                (
                    r["rule"].as_str().unwrap().to_owned(),
                    r["message"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    }

    /// Users and the chart know the resource by these names; renaming any breaks them.
    #[test]
    fn crd_has_the_expected_names_scope_and_status_subresource() {
        let crd = crd_json();
        assert_eq!(crd["metadata"]["name"], "vpngatewayjobwatches.vpnjob.io");
        assert_eq!(crd["spec"]["group"], "vpnjob.io");
        assert_eq!(crd["spec"]["scope"], "Namespaced");
        let names = &crd["spec"]["names"];
        assert_eq!(names["kind"], "VpnGatewayJobWatch");
        assert_eq!(names["plural"], "vpngatewayjobwatches");
        assert_eq!(names["singular"], "vpngatewayjobwatch");
        assert_eq!(names["shortNames"], json!(["vgjw"]));
        assert_eq!(names["categories"], json!(["huaweicloud"]));
        let v = version(&crd);
        assert_eq!(v["name"], "v1alpha1");
        assert_eq!((&v["served"], &v["storage"]), (&json!(true), &json!(true)));
        assert_eq!(v["subresources"]["status"], json!({}));
    }

    /// `kubectl get vgjw` and `-o wide` show these columns, in this order.
    #[test]
    fn crd_has_the_printer_columns_in_order_with_wide_ones_at_priority_1() {
        let crd = crd_json();
        let columns: Vec<(String, String, String, i64)> = version(&crd)["additionalPrinterColumns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["name"].as_str().unwrap().to_owned(),
                    c["type"].as_str().unwrap().to_owned(),
                    c["jsonPath"].as_str().unwrap().to_owned(),
                    c["priority"].as_i64().unwrap_or(0),
                )
            })
            .collect();
        let ready = |field: &str| format!(r#".status.conditions[?(@.type=="Ready")].{field}"#);
        let want = [
            ("Ready", "string", ready("status"), 0),
            ("Reason", "string", ready("reason"), 0),
            ("Job", "string", ".status.jobStatus".to_owned(), 0),
            ("Progress", "string", ".status.progress".to_owned(), 0),
            ("Age", "date", ".metadata.creationTimestamp".to_owned(), 0),
            ("Gateway", "string", ".spec.gatewayId".to_owned(), 1),
            ("Message", "string", ready("message"), 1),
        ]
        .map(|(n, t, p, prio)| (n.to_owned(), t.to_owned(), p, prio));
        assert_eq!(columns, want);
    }

    #[test]
    fn crd_declares_gateway_and_project_as_selectable_fields() {
        let crd = crd_json();
        assert_eq!(
            version(&crd)["selectableFields"],
            json!([{"jsonPath": ".spec.gatewayId"}, {"jsonPath": ".spec.projectId"}])
        );
    }

    /// Server-side apply merges conditions by type; an atomic list would let one
    /// writer's condition wipe another's.
    #[test]
    fn conditions_are_a_list_map_keyed_by_type() {
        let crd = crd_json();
        let conditions = &status_schema(&crd)["properties"]["conditions"];
        assert_eq!(conditions["x-kubernetes-list-type"], "map");
        assert_eq!(conditions["x-kubernetes-list-map-keys"], json!(["type"]));
        let item = &conditions["items"];
        assert_eq!(
            item["properties"]["status"]["enum"],
            json!(["True", "False", "Unknown"])
        );
        let required: Vec<&str> = item["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        for field in ["type", "status", "lastTransitionTime", "reason", "message"] {
            assert!(
                required.contains(&field),
                "{field} not required: {required:?}"
            );
        }
    }

    #[test]
    fn spec_requires_identity_fields_and_constrains_their_format() {
        let crd = crd_json();
        let spec = spec_schema(&crd);
        assert_eq!(
            spec["required"],
            json!(["credentialsSecretRef", "gatewayId", "projectId"])
        );
        let p = &spec["properties"];
        assert_eq!(p["projectId"]["pattern"], PROJECT_ID_PATTERN);
        assert_eq!(p["gatewayId"]["pattern"], UUID_PATTERN);
        assert_eq!(p["region"]["pattern"], REGION_PATTERN);
        assert_eq!(p["pollInterval"]["pattern"], POLL_INTERVAL_PATTERN);
        assert_eq!(p["pollInterval"]["minLength"], 1);
        assert_eq!(p["progressDeadlineSeconds"]["minimum"].as_f64(), Some(1.0));
        assert_eq!(p["notBefore"]["format"], "date-time");
        assert_eq!(
            p["credentialsSecretRef"]["required"],
            json!(["name"]),
            "{}",
            p["credentialsSecretRef"]
        );
    }

    /// These rules are what make the API server itself reject a bad or changed spec.
    #[test]
    fn spec_carries_the_cel_rules_with_messages_naming_the_field() {
        let crd = crd_json();
        let spec = spec_schema(&crd);
        assert_eq!(
            rules(spec),
            [
                (
                    "has(self.region) != has(self.endpoint)".to_owned(),
                    "exactly one of spec.region and spec.endpoint must be set".to_owned()
                ),
                (
                    "has(self.jobId) == has(oldSelf.jobId)".to_owned(),
                    "jobId cannot be added or removed once the watch exists".to_owned()
                ),
            ]
        );
        assert_eq!(spec["x-kubernetes-validations"][1]["fieldPath"], ".jobId");
        let p = &spec["properties"];
        for field in ["projectId", "gatewayId", "credentialsSecretRef", "jobId"] {
            assert_eq!(
                rules(&p[field]),
                [(
                    "self == oldSelf".to_owned(),
                    format!("{field} is immutable")
                )],
                "{field}"
            );
        }
        let poll = rules(&p["pollInterval"]);
        assert_eq!(poll.len(), 1);
        assert!(
            poll[0].0.ends_with("duration(self) >= duration('1s')"),
            "{poll:?}"
        );
        assert!(poll[0].1.contains("pollInterval"));
        assert!(rules(&p["endpoint"])[0].0.starts_with("isURL(self)"));
        for tunable in ["notBefore", "progressDeadlineSeconds", "suspend", "region"] {
            assert!(rules(&p[tunable]).is_empty(), "{tunable} must stay mutable");
        }
    }

    /// `kubectl explain` prints these; an undocumented field is a support ticket.
    #[test]
    fn every_schema_property_has_a_description() {
        fn walk(path: &str, schema: &Value, missing: &mut Vec<String>) {
            if let Some(props) = schema["properties"].as_object() {
                for (name, prop) in props {
                    let path = format!("{path}.{name}");
                    if prop["description"].as_str().is_none_or(str::is_empty) {
                        missing.push(path.clone());
                    }
                    walk(&path, prop, missing);
                }
            }
            if schema["items"].is_object() {
                walk(&format!("{path}[]"), &schema["items"], missing);
            }
        }
        let crd = crd_json();
        let root = &version(&crd)["schema"]["openAPIV3Schema"];
        assert!(
            root["description"]
                .as_str()
                .unwrap()
                .starts_with("VpnGatewayJobWatch mirrors")
        );
        let mut missing = Vec::new();
        walk("", &root["properties"]["spec"], &mut missing);
        walk("", &root["properties"]["status"], &mut missing);
        assert!(missing.is_empty(), "undocumented: {missing:?}");
    }

    /// The committed `crds/` copy is compared byte for byte, so the rendering must
    /// be stable and lossless.
    #[test]
    fn crd_yaml_is_deterministic_and_round_trips() {
        let yaml = crd_yaml();
        assert_eq!(yaml, crd_yaml());
        let back: Value = serde_saphyr::from_str(&yaml).unwrap();
        assert_eq!(back, crd_json());
        assert!(yaml.contains("kind: CustomResourceDefinition"));
    }

    #[test]
    fn poll_interval_parses_go_style_durations_and_defaults_to_15s() {
        let mut spec = VpnGatewayJobWatchSpec::test("0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9");
        assert_eq!(spec.poll_interval(), Duration::from_secs(15));
        for (raw, secs) in [
            ("1s", 1),
            ("1m", 60),
            ("1m30s", 90),
            ("2h", 7200),
            ("1h1m1s", 3661),
        ] {
            spec.poll_interval = Some(raw.into());
            assert_eq!(spec.poll_interval(), Duration::from_secs(secs), "{raw}");
        }
        spec.poll_interval = Some("fast".into());
        assert_eq!(spec.poll_interval(), DEFAULT_POLL_INTERVAL);
        assert!(!spec.is_suspended());
        spec.suspend = Some(true);
        assert!(spec.is_suspended());
    }

    /// A spec as users write it decodes, and absent options stay absent when written back.
    #[test]
    fn spec_round_trips_camel_case_without_inventing_fields() {
        let raw = json!({
            "projectId": "0123456789abcdef0123456789abcdef",
            "gatewayId": "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9",
            "endpoint": "http://127.0.0.1:8080",
            "credentialsSecretRef": {"name": "hw"},
            "notBefore": "2026-03-18T15:08:53Z",
            "pollInterval": "1m30s"
        });
        let spec: VpnGatewayJobWatchSpec = serde_json::from_value(raw.clone()).unwrap();
        assert_eq!(serde_json::to_value(&spec).unwrap(), raw);
    }
}
