//! Helpers shared by the integration test crates (`mod support;` in each).
// Each test crate uses a different subset of these.
#![allow(dead_code)]

use std::{
    future::Future,
    process::{Child, Command, ExitStatus},
    time::{Duration, Instant},
};

use jiff::Timestamp;
use serde_json::{Value, json};

/// Gateways of the client and simulator scenarios.
pub const GW_A: &str = "3d8f6a2e-5b1c-4e7a-9f0d-2c4b6e8a1d3f";
pub const GW_B: &str = "7a1e4c9b-2d5f-4b8a-a6c3-9e0f1b2d4c6a";

/// Where the manual clocks of the client and simulator tests start.
pub fn t0() -> Timestamp {
    "2026-03-18T15:00:00Z".parse().unwrap()
}

/// Bounds every network wait: a hang fails the test instead of stalling it.
pub async fn within<T>(future: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), future)
        .await
        .expect("no answer within 10 s")
}

/// A finished upgrade job of `gateway`, as the API returns it.
pub fn finished_job(id: &str, gateway: &str, created_at: &str) -> Value {
    json!({
        "id": id,
        "resource_id": gateway,
        "job_type": "upgrade",
        "status": "success",
        "created_at": created_at,
        "sub_jobs": [],
    })
}

/// A child process killed if a test fails before it exited (a no-op after).
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Sends SIGTERM and waits (at most 15 s, without blocking the runtime) for the
/// process to exit.
pub async fn terminate(child: &mut Child) -> ExitStatus {
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "the process ignored SIGTERM");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
