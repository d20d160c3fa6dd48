//! The Flux `healthCheckExprs` of docs/integrations/flux.md, read out of that
//! file's yaml blocks (so the docs cannot drift from what is tested) and
//! evaluated with a CEL implementation over the Argo CD testdata, whose statuses
//! are generated from the operator's own status code (tests/argocd_health.rs).
//!
//! Evaluation follows Flux's generic CEL status reader: the object's top-level
//! fields are the variables; a status.observedGeneration that differs from
//! metadata.generation is InProgress; then `inProgress`, `failed`, `current` in
//! that order, the first true one wins; none true is InProgress; an evaluation
//! error (e.g. no `status` yet) leaves the health Unknown and Flux keeps waiting.

use std::path::{Path, PathBuf};

use cel::{Context, Program, Value as CelValue};
use serde_json::Value;

const DOC: &str = "docs/integrations/flux.md";
const TESTDATA: &str =
    "docs/integrations/argocd/resource_customizations/vpnjob.io/VpnGatewayJobWatch/testdata";

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// (owner kind, the entry for VpnGatewayJobWatch) of every yaml block in the doc.
fn documented_exprs() -> Vec<(String, Value)> {
    let doc = std::fs::read_to_string(repo(DOC)).unwrap();
    let mut found = Vec::new();
    let mut rest = doc.as_str();
    while let Some(start) = rest.find("```yaml\n") {
        let block = &rest[start + 8..];
        let end = block.find("```").expect("an unclosed yaml block");
        let manifest: Value = serde_saphyr::from_str(&block[..end])
            .unwrap_or_else(|e| panic!("{DOC}: bad yaml block: {e}"));
        for entry in manifest["spec"]["healthCheckExprs"]
            .as_array()
            .into_iter()
            .flatten()
        {
            if entry["kind"] == "VpnGatewayJobWatch" {
                assert_eq!(entry["apiVersion"], "vpnjob.io/v1alpha1");
                found.push((
                    manifest["kind"].as_str().unwrap_or_default().to_owned(),
                    entry.clone(),
                ));
            }
        }
        rest = &block[end + 3..];
    }
    found
}

#[derive(Debug, PartialEq, Eq)]
enum Health {
    InProgress,
    Failed,
    Current,
    /// An evaluation error: Flux keeps waiting.
    Unknown,
}

fn eval(expr: &str, object: &Value) -> Result<bool, String> {
    let program = Program::compile(expr).map_err(|e| format!("{expr}: {e}"))?;
    let mut context = Context::default();
    for (key, value) in object.as_object().unwrap() {
        context.add_variable(key.as_str(), value).unwrap();
    }
    match program.execute(&context) {
        Ok(CelValue::Bool(b)) => Ok(b),
        Ok(other) => Err(format!("{expr}: not a bool: {other:?}")),
        Err(e) => Err(format!("{expr}: {e}")),
    }
}

/// Flux's verdict; `gate` applies its observedGeneration check first.
fn health(entry: &Value, object: &Value, gate: bool) -> Health {
    let status_gen = &object["status"]["observedGeneration"];
    if gate && !status_gen.is_null() && *status_gen != object["metadata"]["generation"] {
        return Health::InProgress;
    }
    for (field, verdict) in [
        ("inProgress", Health::InProgress),
        ("failed", Health::Failed),
        ("current", Health::Current),
    ] {
        let Some(expr) = entry[field].as_str() else {
            continue;
        };
        match eval(expr, object) {
            Ok(true) => return verdict,
            Ok(false) => {}
            Err(_) => return Health::Unknown,
        }
    }
    Health::InProgress
}

fn testdata(name: &str) -> Value {
    let path = repo(TESTDATA).join(format!("{name}.yaml"));
    serde_saphyr::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

#[test]
fn the_doc_has_the_same_expressions_for_kustomization_and_helmrelease() {
    let exprs = documented_exprs();
    let kinds: Vec<&str> = exprs.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(kinds, ["Kustomization", "HelmRelease"]);
    assert_eq!(exprs[0].1, exprs[1].1);
    for field in ["failed", "current"] {
        let expr = exprs[0].1[field].as_str().unwrap();
        assert!(
            expr.contains(".exists(") && expr.contains("metadata.generation"),
            "{field}: {expr}"
        );
    }
}

#[test]
fn documented_expressions_gate_the_testdata_as_flux_should() {
    let cases = [
        ("progressing_noStatus", Health::Unknown),
        ("progressing_initializing", Health::InProgress),
        ("progressing_upgrading", Health::InProgress),
        ("progressing_staleGeneration", Health::InProgress),
        ("suspended_awaitingConfirmation", Health::InProgress),
        ("healthy_success", Health::Current),
        ("degraded_fail", Health::Failed),
        ("degraded_rolledBack", Health::Failed),
    ];
    let files = std::fs::read_dir(repo(TESTDATA)).unwrap().count();
    assert_eq!(files, cases.len(), "a testdata file has no Flux case");
    for (owner, entry) in documented_exprs() {
        for (name, want) in &cases {
            let object = testdata(name);
            // With Flux's generation gate, and on the expressions' own: they
            // must not depend on the gate (older Flux versions lack it).
            assert_eq!(&health(&entry, &object, true), want, "{owner} {name}");
            assert_eq!(
                &health(&entry, &object, false),
                want,
                "{owner} {name} (no gate)"
            );
        }
    }
}

/// The harness itself: `exists` is false on a missing condition, and a
/// stale condition does not count even when the status' generation is current.
#[test]
fn the_expressions_handle_missing_and_stale_conditions() {
    let (_, entry) = documented_exprs().remove(0);
    let mut object = testdata("healthy_success");
    object["status"]["conditions"] = Value::Array(vec![]);
    assert_eq!(health(&entry, &object, true), Health::InProgress);

    let mut object = testdata("healthy_success");
    object["metadata"]["generation"] = 2.into();
    object["status"]["observedGeneration"] = 2.into();
    assert_eq!(health(&entry, &object, true), Health::InProgress);
    object["status"]["conditions"][0]["observedGeneration"] = 2.into();
    assert_eq!(health(&entry, &object, true), Health::Current);
}
