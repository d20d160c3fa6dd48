//! The Argo CD health script, tested the way Argo CD tests its own
//! `resource_customizations`: every directory holding `health.lua` has a
//! `health_test.yaml` whose cases name a testdata manifest and the exact
//! `status` and `message` the script must return. Argo runs scripts with
//! gopher-lua (Lua 5.1); argocd-cm scripts run without the string library, so
//! every case runs twice: full standard library, then base + table only.
//!
//! The testdata is kept honest: each manifest's `status` is what the operator's
//! own pure functions (`status::observe`, `status::initializing`) write for that
//! situation, compared field by field (lastTransitionTime aside). Regenerate the
//! manifests with `UPDATE_TESTDATA=1 cargo test --test argocd_health`.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use jiff::Timestamp;
use mlua::{Lua, LuaOptions, LuaSerdeExt, StdLib, Table};
use serde_json::{Value, json};
use vpnjob_operator::{
    crd::VpnGatewayJobWatchSpec,
    huawei::Job,
    status::{self, Observation},
};

const ROOT: &str = "docs/integrations/argocd/resource_customizations";
const KIND_DIR: &str =
    "docs/integrations/argocd/resource_customizations/vpnjob.io/VpnGatewayJobWatch";
const GATEWAY: &str = "3d8f6a2e-5b1c-4e7a-9f0d-2c4b6e8a1d3f";

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn read_yaml(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

// ---------------------------------------------------------------- the script

/// Runs `script` with global `obj` set to `manifest` (JSON nulls become nil, as
/// Argo's decoder does) and returns (status, message); a missing message is "".
fn health(lua: &Lua, script: &str, manifest: &Value) -> mlua::Result<(String, String)> {
    let options = mlua::serde::ser::Options::new()
        .serialize_none_to_null(false)
        .serialize_unit_to_null(false);
    let obj = lua.to_value_with(manifest, options)?;
    lua.globals().set("obj", obj)?;
    let hs: Table = lua.load(script).set_name("health.lua").eval()?;
    let status: Option<String> = hs.get("status")?;
    let message: Option<String> = hs.get("message")?;
    Ok((status.unwrap_or_default(), message.unwrap_or_default()))
}

fn script_dirs(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            script_dirs(&path, found);
        } else if path.file_name().is_some_and(|n| n == "health.lua") {
            found.push(dir.to_owned());
        }
    }
}

#[test]
fn health_scripts_pass_their_tests_with_and_without_the_string_library() {
    let mut dirs = Vec::new();
    script_dirs(&repo(ROOT), &mut dirs);
    assert!(!dirs.is_empty(), "no health.lua under {ROOT}");
    let mut cases = 0;
    for dir in dirs {
        let script = std::fs::read_to_string(dir.join("health.lua")).unwrap();
        let tests = read_yaml(&dir.join("health_test.yaml"));
        let tests = tests["tests"].as_array().expect("a tests: list");
        assert!(!tests.is_empty(), "{}: no cases", dir.display());
        for case in tests {
            let input = case["inputPath"].as_str().expect("inputPath");
            let manifest = read_yaml(&dir.join(input));
            let want = (
                case["healthStatus"]["status"]
                    .as_str()
                    .expect("healthStatus.status")
                    .to_owned(),
                case["healthStatus"]["message"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            );
            let libs = [
                ("full stdlib", Lua::new()),
                (
                    "base + table (argocd-cm)",
                    Lua::new_with(StdLib::TABLE, LuaOptions::default()).unwrap(),
                ),
            ];
            for (libs, lua) in libs {
                let got = health(&lua, &script, &manifest)
                    .unwrap_or_else(|e| panic!("{input} with {libs}: {e}"));
                assert_eq!(got, want, "{} {input} with {libs}", dir.display());
            }
            cases += 1;
        }
    }
    assert!(cases >= 7, "only {cases} cases");
}

/// The no-string run really has no string library, so it would catch `string.*`.
#[test]
fn the_argocd_cm_run_has_no_string_library() {
    let lua = Lua::new_with(StdLib::TABLE, LuaOptions::default()).unwrap();
    let err = health(
        &lua,
        "return {status = string.upper('healthy')}",
        &json!({}),
    );
    assert!(err.is_err(), "{err:?}");
}

// ---------------------------------------------------------------- testdata

/// A job of GATEWAY with nine sub-jobs, the first `done` finished, in the
/// cloud's wire format.
fn job(status: &str, job_type: &str, done: usize, error: Option<(&str, &str)>) -> Job {
    const STEPS: [&str; 9] = [
        "prepare_resource",
        "upgrade_worker_1",
        "migrate_traffic_1",
        "migrate_network_1",
        "service_ready_check_1",
        "upgrade_worker_2",
        "migrate_traffic_2",
        "migrate_network_2",
        "service_ready_check_2",
    ];
    let finished_at = |i: usize| format!("2026-12-01T10:{:02}:{:02}.412308Z", 1 + i * 2, 7 * i);
    let sub_jobs: Vec<Value> = STEPS
        .iter()
        .enumerate()
        .map(|(i, step)| {
            let sub_status = match i.cmp(&done) {
                std::cmp::Ordering::Less => "success",
                std::cmp::Ordering::Equal if error.is_some() => "fail",
                std::cmp::Ordering::Equal if status == "upgrading" => "running",
                _ => "init",
            };
            let terminal = matches!(sub_status, "success" | "fail");
            json!({
                "id": format!("a7c0e2b4-1d3f-4e5a-8b6c-{i:012}"),
                "job_type": step,
                "entity": if i == 0 { json!({}) } else { json!({"ip_address": format!("192.168.10.{}", 10 + i % 2)}) },
                "status": sub_status,
                "created_at": "2026-12-01T10:00:00.731215Z",
                "finished_at": if terminal { json!(finished_at(i)) } else { Value::Null },
                "error_message": if sub_status == "fail" { json!(error.unwrap().1) } else { Value::Null },
            })
        })
        .collect();
    let finished = matches!(status, "success" | "fail" | "rollback_success");
    serde_json::from_value(json!({
        "id": "5968875c-8c28-447c-bd36-7b4917e5b742",
        "resource_id": GATEWAY,
        "job_type": job_type,
        "status": status,
        "created_at": "2026-12-01T10:00:00.679462Z",
        "finished_at": if finished { json!("2026-12-01T10:19:41.215004Z") } else { Value::Null },
        "expected_time_seconds": if finished { Value::Null } else { json!(754) },
        "error_message": error.map(|(job, _)| job),
        "sub_jobs": sub_jobs,
    }))
    .unwrap()
}

fn spec() -> VpnGatewayJobWatchSpec {
    serde_json::from_value(json!({
        "projectId": "0123456789abcdef0123456789abcdef",
        "gatewayId": GATEWAY,
        "region": "cn-north-4",
        "credentialsSecretRef": {"name": "huaweicloud-credentials"},
        "notBefore": "2026-12-01T09:55:00Z",
    }))
    .unwrap()
}

fn now() -> Timestamp {
    "2026-12-01T10:20:00Z".parse().unwrap()
}

fn observe(generation: i64, job: Job) -> Value {
    // The first observation of that job, after the initial status the operator
    // writes before any cloud call.
    let initial = status::initializing(None, generation, "2026-12-01T09:55:02Z".parse().unwrap());
    let Observation { status, .. } = status::observe(
        Some(&initial),
        &spec(),
        generation,
        &[job],
        now(),
        Duration::from_secs(5),
    );
    serde_json::to_value(status).unwrap()
}

/// (file, metadata.generation, the status the operator writes in that situation).
fn situations() -> Vec<(&'static str, i64, Option<Value>)> {
    let initializing = status::initializing(None, 1, "2026-12-01T09:55:02Z".parse().unwrap());
    vec![
        ("progressing_noStatus", 1, None),
        (
            "progressing_initializing",
            1,
            Some(serde_json::to_value(initializing).unwrap()),
        ),
        (
            "progressing_upgrading",
            1,
            Some(observe(1, job("upgrading", "upgrade", 3, None))),
        ),
        // A finished, successful job observed for generation 1, after the spec
        // moved to generation 2: it must not count yet.
        (
            "progressing_staleGeneration",
            2,
            Some(observe(1, job("success", "upgrade", 9, None))),
        ),
        (
            "suspended_awaitingConfirmation",
            1,
            Some(observe(
                1,
                job("pending_upgrade_confirm", "upgrade", 9, None),
            )),
        ),
        (
            "healthy_success",
            1,
            Some(observe(1, job("success", "upgrade", 9, None))),
        ),
        (
            "degraded_fail",
            1,
            Some(observe(
                1,
                job(
                    "fail",
                    "upgrade",
                    2,
                    Some((
                        "VPN gateway upgrade failed at step migrate_traffic_1: BGP session did not re-establish",
                        "BGP session did not re-establish within 300s",
                    )),
                ),
            )),
        ),
        (
            "degraded_rolledBack",
            1,
            Some(observe(1, job("rollback_success", "upgrade", 9, None))),
        ),
    ]
}

fn manifest(generation: i64, status: Option<Value>) -> Value {
    let mut manifest = json!({
        "apiVersion": "vpnjob.io/v1alpha1",
        "kind": "VpnGatewayJobWatch",
        "metadata": {
            "name": "gw-a-upgrade",
            "namespace": "network",
            "uid": "6c1f3a52-8e0d-4b7a-9c2e-5f4d3b2a1c0e",
            "resourceVersion": "48213",
            "generation": generation,
            "creationTimestamp": "2026-12-01T09:55:01Z",
        },
        "spec": spec(),
    });
    if let Some(status) = status {
        manifest["status"] = status;
    }
    manifest
}

fn without_transition_times(mut status: Value) -> Value {
    if let Some(conditions) = status["conditions"].as_array_mut() {
        for c in conditions {
            c.as_object_mut().unwrap().remove("lastTransitionTime");
        }
    }
    status
}

#[test]
fn testdata_statuses_are_what_the_operator_writes() {
    let dir = repo(KIND_DIR).join("testdata");
    let update = std::env::var_os("UPDATE_TESTDATA").is_some();
    let mut names = Vec::new();
    for (name, generation, status) in situations() {
        let path = dir.join(format!("{name}.yaml"));
        let want = manifest(generation, status);
        if update {
            let yaml = serde_saphyr::to_string(&want).unwrap();
            std::fs::write(&path, yaml).unwrap();
        }
        let on_disk = read_yaml(&path);
        assert_eq!(
            on_disk["metadata"]["generation"], want["metadata"]["generation"],
            "{name}: generation"
        );
        let (got, want) = (
            without_transition_times(on_disk["status"].clone()),
            without_transition_times(want["status"].clone()),
        );
        if let (Some(got), Some(want)) = (got.as_object(), want.as_object()) {
            for (field, value) in want {
                assert_eq!(got.get(field), Some(value), "{name}: status.{field}");
            }
        }
        assert_eq!(
            got, want,
            "{name}.yaml is not what the operator writes: run `UPDATE_TESTDATA=1 cargo test --test argocd_health`"
        );
        names.push(format!("{name}.yaml"));
    }
    // Every testdata file is covered here (so none can be hand-invented).
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    names.sort();
    assert_eq!(files, names);
}
