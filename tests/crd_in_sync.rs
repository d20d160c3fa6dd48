//! The committed CRD (crds/) and the Helm chart's copy
//! (charts/vpnjob-operator/crds/) are exactly what `vpnjob-operator crd` prints.
//! Regenerate both with `UPDATE_CRDS=1 cargo test --test crd_in_sync`.

use std::path::Path;

use vpnjob_operator::crd::crd_yaml;

const FILE: &str = "vpngatewayjobwatches.vpnjob.io.yaml";
const DIRS: [&str; 2] = ["crds", "charts/vpnjob-operator/crds"];

#[test]
fn committed_crds_match_the_generated_one() {
    let generated = crd_yaml();
    for dir in DIRS {
        let committed = format!("{dir}/{FILE}");
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(&committed);
        if std::env::var_os("UPDATE_CRDS").is_some() {
            std::fs::write(&path, &generated).unwrap();
        }
        let on_disk = std::fs::read_to_string(&path).unwrap();
        assert!(
            on_disk == generated,
            "{committed} is stale: run `UPDATE_CRDS=1 cargo test --test crd_in_sync` and commit it"
        );
    }
}
