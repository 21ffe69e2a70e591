//! The ZooKeeper tree of an Arcus cloud (contract section 3): the four persistent nodes
//! `zookeeper init` creates, the per-service nodes of `memcached register`, the mapping nodes, the
//! node's `cache_server_log`, and the name a cache node's ephemeral znode has in
//! `cache_list/<svc>`.
//!
//! ```text
//! /arcus/cache_list/<svc>/<ip>:<port>-<hostname>      EPHEMERAL   the node, at start
//! /arcus/client_list/<svc>/<client-info>              EPHEMERAL   client libraries
//! /arcus/cache_server_mapping/<ip>:<port>/<svc>       persistent  memcached register
//! /arcus/cache_server_log/<YYYY-MM-DD>/<ip>:<port>-<hostname>-NNNNNNNNNN
//! ```

use std::fmt::Display;

/// The root of everything Arcus keeps in ZooKeeper.
pub const ARCUS: &str = "/arcus";
/// The services, each with its cache nodes' ephemeral znodes.
pub const CACHE_LIST: &str = "/arcus/cache_list";
/// The services, each with its clients' ephemeral znodes.
pub const CLIENT_LIST: &str = "/arcus/client_list";
/// One node per registered `ip:port`, its child naming the service.
pub const CACHE_SERVER_MAPPING: &str = "/arcus/cache_server_mapping";
/// The dated join/rejoin log, written by a node only if this exists (`zookeeper init` does not
/// create it).
pub const CACHE_SERVER_LOG: &str = "/arcus/cache_server_log";

/// `/arcus/cache_list/<svc>`: the service's config, and its cache nodes as children.
pub fn cache_list(svc: &str) -> String {
    format!("{CACHE_LIST}/{svc}")
}

/// `/arcus/client_list/<svc>`: the service's clients as children.
pub fn client_list(svc: &str) -> String {
    format!("{CLIENT_LIST}/{svc}")
}

/// `/arcus/cache_server_mapping/<ip_port>`: the mapping node of one registered server (the node
/// also looks up `<hostname>:<port>` and a bare `<ip>` there).
pub fn mapping(ip_port: &str) -> String {
    format!("{CACHE_SERVER_MAPPING}/{ip_port}")
}

/// The name of a cache node's ephemeral znode under `cache_list/<svc>`: `<ip>:<port>-<hostname>`.
pub fn node_name(ip: impl Display, port: u16, hostname: &str) -> String {
    format!("{ip}:{port}-{hostname}")
}

/// A child name of `cache_list/<svc>`, read as Arcus's clients read it: cut at the first `-`
/// into the node's `ip:port` and its hostname (which may hold `-` itself: `memcached-1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeName<'a> {
    /// `<ip>:<port>`: what the mapping nodes are named after.
    pub addr: &'a str,
    /// Empty when the name has no `-`.
    pub hostname: &'a str,
}

impl<'a> NodeName<'a> {
    /// Cuts `name` at its first `-`; a name without one is all address.
    pub fn parse(name: &'a str) -> NodeName<'a> {
        let (addr, hostname) = name.split_once('-').unwrap_or((name, ""));
        NodeName { addr, hostname }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{IpAddr, Ipv4Addr};

    #[test]
    fn layout() {
        for path in [CACHE_LIST, CLIENT_LIST, CACHE_SERVER_MAPPING, CACHE_SERVER_LOG] {
            assert_eq!(path.rsplit_once('/').unwrap().0, ARCUS, "{path}");
        }
        assert_eq!(cache_list("ruo91-cloud"), "/arcus/cache_list/ruo91-cloud");
        assert_eq!(client_list("ruo91-cloud"), "/arcus/client_list/ruo91-cloud");
        assert_eq!(mapping("10.0.0.1:11211"), "/arcus/cache_server_mapping/10.0.0.1:11211");
    }

    #[test]
    fn node_names_round_trip() {
        let ip = IpAddr::V4(Ipv4Addr::new(10, 213, 0, 3));
        let name = node_name(ip, 11211, "memcached-1");
        assert_eq!(name, "10.213.0.3:11211-memcached-1");
        assert_eq!(NodeName::parse(&name), NodeName { addr: "10.213.0.3:11211", hostname: "memcached-1" });
        assert_eq!(NodeName::parse(&node_name("a", 1, "h")), NodeName { addr: "a:1", hostname: "h" });
        // IPv6: the address's own colons stay in `addr`.
        let name = node_name(IpAddr::from([0u16, 0, 0, 0, 0, 0, 0, 1]), 11211, "node-under-test");
        assert_eq!(NodeName::parse(&name), NodeName { addr: "::1:11211", hostname: "node-under-test" });
        // A name without `-` (not one a node makes) is all address.
        assert_eq!(NodeName::parse("10.0.0.9:11211"), NodeName { addr: "10.0.0.9:11211", hostname: "" });
        assert_eq!(NodeName::parse("a:1-"), NodeName { addr: "a:1", hostname: "" });
    }
}
