//! Read-only looks into a running lab: ZooKeeper (each server's mode, the tree, a client session)
//! and the cache nodes (their processes, their replies to protocol lines). Nothing here changes
//! the lab, except `ZkSession::delete` for the operator's delete-znode fault.

pub mod node;
pub mod zk;
