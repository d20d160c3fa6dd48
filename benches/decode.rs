//! Decoding benchmark: the API reference's example page and a 2,000-job page.
//!
//! `make bench` (or `cargo bench --bench decode`). A plain harness, no extra
//! dependency: each case runs a warm-up, then reports the median and p90 of
//! many timed runs. Figures and how to read them are in docs/benchmarks.md.

use std::{hint::black_box, time::Instant};

use serde_json::{Value, json};
use vpnjob_operator::huawei::model::decode_page;

const EXAMPLE: &str = include_str!("../tests/fixtures/api-example-list-jobs.json");

fn big_page(jobs: usize) -> Vec<u8> {
    let example: Value = serde_json::from_str(EXAMPLE).expect("fixture is JSON");
    let template = &example["jobs"][0];
    let jobs: Vec<Value> = (0..jobs)
        .map(|i| {
            let mut job = template.clone();
            job["id"] = json!(format!("5968875c-8c28-447c-bd36-{i:012x}"));
            job["created_at"] = json!(format!(
                "2026-03-18T15:{:02}:{:02}.{:06}Z",
                (i / 60) % 60,
                i % 60,
                i
            ));
            job
        })
        .collect();
    serde_json::to_vec(&json!({
        "request_id": "7c938e41c510f1bf53b4cb3d142b841c",
        "jobs": jobs,
        "total_count": jobs.len(),
        "page_info": {"current_count": jobs.len(), "next_marker": "2026-03-18T15:00:00.000001Z"},
    }))
    .expect("page serialises")
}

fn measure(name: &str, body: &[u8], runs: usize) {
    for _ in 0..runs / 10 + 1 {
        black_box(decode_page(black_box(body)).expect("decodes"));
    }
    let mut samples: Vec<u128> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            let page = decode_page(black_box(body)).expect("decodes");
            let took = start.elapsed().as_nanos();
            assert!(page.malformed.is_empty());
            black_box(page);
            took
        })
        .collect();
    samples.sort_unstable();
    let median = samples[runs / 2];
    let p90 = samples[runs * 9 / 10];
    println!(
        "{name:<28} {:>9} bytes  median {:>10.3} ms  p90 {:>10.3} ms  ({runs} runs)",
        body.len(),
        median as f64 / 1e6,
        p90 as f64 / 1e6
    );
}

fn main() {
    // `cargo test --benches` runs this with --bench absent: keep it quick then.
    let quick = !std::env::args().any(|a| a == "--bench");
    let runs = if quick { 3 } else { 200 };
    measure("api example (1 job)", EXAMPLE.as_bytes(), runs * 10);
    measure("2,000-job page", &big_page(2_000), runs);
}
