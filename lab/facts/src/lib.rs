//! arcus-facts: the domain facts that the harness, the admin tool `arcus`, the reference node and
//! the tests would otherwise each restate. Small on purpose: no async, no Docker, no I/O.
//!
//! `zk_mode` (a ZooKeeper server's mode and the questions asked of an ensemble's modes), `timing`
//! (the two timing profiles and every value derived from one), `znode` (the ZooKeeper tree of
//! contract section 3), `labels` (the Docker label keys of the lab's resources), `shell` (how a node is started over ssh).

pub mod labels;
pub mod shell;
pub mod timing;
pub mod zk_mode;
pub mod znode;

pub use timing::Timing;
pub use zk_mode::ZkMode;
pub use znode::NodeName;
