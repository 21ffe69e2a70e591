//! arcus-lab: the engine behind `cargo xtask lab` and the conformance suite.
//!
//! Where things live: `engine` (every Docker call), `images` (base/host/admin images), `lab`
//! (the four machines, run ids, the address guard), `flavour` (reference node or a user's Arcus),
//! `runbook` (the runbook's admin steps), `zk` (ZooKeeper probes), `timing` (profiles),
//! `wait` (bounded polling), `progress` (progress lines), `paths` (state directory), `fault`
//! (fault verbs), `normalize` (snapshot redactions), `scenario` (scenario files: parser, runner),
//! `fixture` (one-container test fixtures: a standalone ZooKeeper).

pub mod engine;
pub mod fault;
pub mod fixture;
pub mod flavour;
pub mod images;
pub mod lab;
pub mod normalize;
pub mod paths;
pub mod progress;
pub mod runbook;
pub mod scenario;
pub mod timing;
pub mod wait;
pub mod zk;

pub use engine::Engine;
pub use flavour::Flavour;
pub use lab::{AddressGuard, Lab, LabError, Level, Owner, RunId, UpOptions};
pub use progress::Progress;
pub use timing::Timing;
