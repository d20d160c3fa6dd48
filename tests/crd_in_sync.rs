//! The committed CRD (crds/) is exactly what `vpnjob-operator crd` prints.
//! Regenerate with `UPDATE_CRDS=1 cargo test --test crd_in_sync`.

use std::path::Path;

use vpnjob_operator::crd::crd_yaml;

const COMMITTED: &str = "crds/vpngatewayjobwatches.vpnjob.io.yaml";

#[test]
fn committed_crd_matches_the_generated_one() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(COMMITTED);
    let generated = crd_yaml();
    if std::env::var_os("UPDATE_CRDS").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap();
    assert!(
        committed == generated,
        "{COMMITTED} is stale: run `UPDATE_CRDS=1 cargo test --test crd_in_sync` and commit it"
    );
}
