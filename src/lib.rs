//! vpnjob-operator: watches Huawei Cloud VPN gateway upgrade jobs and makes their
//! progress visible and gateable inside Kubernetes.
//!
//! Module map (dependencies point down only):
//! - [`cli`]: command-line parsing and the `jobs list` command;
//! - [`wait`]: `vpnjob-operator wait`, gating a pipeline on watches;
//! - [`server`]: the operator's HTTP port (`/healthz`, `/readyz`, `/metrics`);
//! - [`reconciler`]: the controllers, and [`metrics`] they record into;
//! - [`simulator`]: a local stand-in for the cloud API (tests, demo, users' CI);
//! - [`huawei`]: the cloud API client, no Kubernetes in it;
//! - [`clock`]: time as a parameter.
#![forbid(unsafe_code)]

pub mod cli;
pub mod clock;
pub mod crd;
pub mod huawei;
pub mod metrics;
pub mod reconciler;
pub mod server;
pub mod simulator;
pub mod source;
pub mod status;
pub mod telemetry;
pub mod wait;
