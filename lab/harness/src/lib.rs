//! arcus-lab: the engine behind `cargo xtask lab` and the conformance suite, in layers; each
//! imports only those above it in this list:
//!
//! - `engine` (every Docker call), `images` (base/host/admin images); beside them the utilities
//!   `paths`, `progress`, `wait` (bounded polling), `timing` (the profile, from `arcus-facts`),
//!   `flavour` (reference node or a user's Arcus), `interrupt` (SIGINT, SIGTERM, SIGHUP),
//!   `build_times` (how long the images and binaries took here last)
//! - `lab`: typed hosts, the topology, run ids and ownership, the address guard, lifecycle
//! - `arcus_build`: our recipe that builds a user's arcus-memcached checkout into a prefix
//! - `probe`: read-only looks (ZooKeeper modes, tree and sessions; node processes and replies), and
//!   the client view on the lab (`probe::client`: crate `arcus-client`'s view and load)
//! - `keys`: a scenario step's keys, typed, with their places in the file (for declarations)
//! - `fault`: the fault verbs, one file each
//! - `cloud`: the runbook's steps, setup levels, named ready conditions
//! - `normalize`: snapshot redactions
//! - `scenario`: scenario files, step kinds (one file each), the runner
//!
//! `fixture` (single-container test fixtures) uses `lab` and `images`.

pub mod arcus_build;
pub mod build_times;
pub mod cloud;
pub mod engine;
pub mod fault;
pub mod fixture;
pub mod flavour;
pub mod images;
pub mod interrupt;
pub mod keys;
pub mod lab;
pub mod normalize;
pub mod paths;
pub mod probe;
pub mod progress;
pub mod scenario;
pub mod timing;
pub mod wait;

pub use engine::Engine;
pub use flavour::Flavour;
pub use lab::{AddressGuard, HostName, Lab, LabError, LabSpec, Owner, RunId, Topology};
pub use progress::Progress;
pub use timing::Timing;
