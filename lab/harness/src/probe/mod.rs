//! Read-only looks into a running lab: ZooKeeper (each server's mode, the tree, a client session)
//! and the cache nodes (their processes, their replies to protocol lines). Nothing here changes
//! the lab, except `ZkSession::delete` for the operator's delete-znode fault; and the client view
//! (`client`), which reads and writes the cache as an application does.

pub mod client;
pub mod node;
pub mod zk;
