//! The lab's shape as data: how many cache hosts, which of them run a ZooKeeper member, how many
//! cache nodes each host runs per service, and the services (clouds). Host names are typed:
//! `arcus` (the admin) and `memcached-<n>`, the runbook's pattern. The default is the runbook's
//! four machines: three hosts, three ZooKeeper members, two nodes per host, one service.

use std::fmt;
use std::str::FromStr;

/// One machine of the lab, by its runbook name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HostName {
    /// `arcus`: the admin host, where the operator types the runbook's lines.
    Admin,
    /// `memcached-<n>` (n from 1): a cache host with sshd, a JRE, and (if a member) ZooKeeper.
    Cache(u8),
}

impl HostName {
    /// The admin host's name.
    pub const ADMIN: &'static str = "arcus";
    const CACHE_PREFIX: &'static str = "memcached-";

    /// The role label of its container: `admin` or `host`.
    pub fn role(self) -> &'static str {
        match self {
            HostName::Admin => "admin",
            HostName::Cache(_) => "host",
        }
    }

    pub fn is_admin(self) -> bool {
        self == HostName::Admin
    }
}

impl fmt::Display for HostName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostName::Admin => f.write_str(Self::ADMIN),
            HostName::Cache(n) => write!(f, "{}{n}", Self::CACHE_PREFIX),
        }
    }
}

impl FromStr for HostName {
    type Err = String;

    /// `arcus` or `memcached-<n>` (n ≥ 1, no leading zero); whether the lab has that host is the
    /// topology's question ([`Topology::has`]).
    fn from_str(name: &str) -> Result<HostName, String> {
        if name == Self::ADMIN {
            return Ok(HostName::Admin);
        }
        let number = name.strip_prefix(Self::CACHE_PREFIX).filter(|n| !n.starts_with('0'));
        match number.and_then(|n| n.parse::<u8>().ok()) {
            Some(n) if n >= 1 => Ok(HostName::Cache(n)),
            _ => Err(format!("{name:?} is not a host name: arcus or memcached-<n>")),
        }
    }
}

/// The first port of the first service's nodes on every host (the runbook's 11211).
pub const FIRST_NODE_PORT: u16 = 11211;
/// The runbook's service code.
pub const RUNBOOK_SERVICE: &str = "ruo91-cloud";
/// The most cache hosts a lab may have (its /24 holds them with room to spare).
pub const MAX_HOSTS: u8 = 32;

/// What a lab is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    /// Cache hosts `memcached-1..=hosts`.
    pub hosts: u8,
    /// ZooKeeper members: the first `zk` cache hosts (1, 3 or 5).
    pub zk: u8,
    /// Cache nodes per host, for each service.
    pub nodes_per_host: u8,
    /// Service codes; every service has `nodes_per_host` nodes on every host, the first service
    /// on the ports from [`FIRST_NODE_PORT`], the next after it.
    pub services: Vec<String>,
}

impl Default for Topology {
    /// The runbook's: memcached-1..3, three ZooKeeper members, nodes on 11211 and 11212, one
    /// service `ruo91-cloud`.
    fn default() -> Topology {
        Topology { hosts: 3, zk: 3, nodes_per_host: 2, services: vec![RUNBOOK_SERVICE.to_string()] }
    }
}

/// A topology that cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopologyError {
    #[error("hosts = {0}: a lab has 1 to {MAX_HOSTS} cache hosts")]
    Hosts(u8),
    #[error("zk = {zk}: a ZooKeeper ensemble has 1, 3 or 5 members, on as many hosts (this lab has {hosts})")]
    Zk { zk: u8, hosts: u8 },
    #[error("nodes-per-host = {0}: a host runs 1 to 8 nodes of each service")]
    NodesPerHost(u8),
    #[error("services: {0}")]
    Services(String),
}

impl Topology {
    /// Checks the numbers; the error names the one that does not fit.
    pub fn check(&self) -> Result<(), TopologyError> {
        if !(1..=MAX_HOSTS).contains(&self.hosts) {
            return Err(TopologyError::Hosts(self.hosts));
        }
        if ![1, 3, 5].contains(&self.zk) || self.zk > self.hosts {
            return Err(TopologyError::Zk { zk: self.zk, hosts: self.hosts });
        }
        if !(1..=8).contains(&self.nodes_per_host) {
            return Err(TopologyError::NodesPerHost(self.nodes_per_host));
        }
        if self.services.is_empty() || self.services.len() > 4 {
            return Err(TopologyError::Services("give 1 to 4 service codes".into()));
        }
        for (i, name) in self.services.iter().enumerate() {
            let ok = name.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
                && name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
            if !ok {
                return Err(TopologyError::Services(format!(
                    "{name:?} is not a service code: letters, digits, '-', '_' and '.'"
                )));
            }
            if self.services[..i].contains(name) {
                return Err(TopologyError::Services(format!("{name:?} is named twice")));
            }
        }
        Ok(())
    }

    /// Every host, the admin first, then memcached-1..n.
    pub fn host_names(&self) -> Vec<HostName> {
        std::iter::once(HostName::Admin).chain(self.cache_hosts()).collect()
    }

    /// memcached-1..n.
    pub fn cache_hosts(&self) -> impl Iterator<Item = HostName> {
        (1..=self.hosts).map(HostName::Cache)
    }

    /// The hosts that run a ZooKeeper member (memcached-1..zk), in myid order.
    pub fn zk_hosts(&self) -> impl Iterator<Item = HostName> {
        (1..=self.zk).map(HostName::Cache)
    }

    pub fn has(&self, host: HostName) -> bool {
        match host {
            HostName::Admin => true,
            HostName::Cache(n) => (1..=self.hosts).contains(&n),
        }
    }

    pub fn is_zk_member(&self, host: HostName) -> bool {
        matches!(host, HostName::Cache(n) if n <= self.zk)
    }

    /// The ports of one service's nodes on every host.
    pub fn ports(&self, service: &str) -> Vec<u16> {
        let index = self.services.iter().position(|s| s == service).unwrap_or(0) as u16;
        let per = u16::from(self.nodes_per_host);
        (0..per).map(|k| FIRST_NODE_PORT + index * per + k).collect()
    }

    /// How many nodes each service has in all (every service has as many).
    pub fn nodes_per_service(&self) -> usize {
        usize::from(self.hosts) * usize::from(self.nodes_per_host)
    }

    /// Whether this is the runbook's own shape (its conf file is the seed's, as written).
    pub fn is_runbook(&self) -> bool {
        *self == Topology::default()
    }

    /// `3 hosts, 3 ZooKeeper members, 2 nodes per host, services ruo91-cloud`.
    pub fn describe(&self) -> String {
        format!(
            "{} hosts, {} ZooKeeper member{}, {} node{} per host, service{} {}",
            self.hosts,
            self.zk,
            if self.zk == 1 { "" } else { "s" },
            self.nodes_per_host,
            if self.nodes_per_host == 1 { "" } else { "s" },
            if self.services.len() == 1 { "" } else { "s" },
            self.services.join(", ")
        )
    }

    /// The names of every host, `arcus, memcached-1, ...`, for messages.
    pub fn host_list(&self) -> String {
        self.host_names().iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_round_trip_and_bad_ones_are_refused() {
        for name in ["arcus", "memcached-1", "memcached-12"] {
            assert_eq!(name.parse::<HostName>().unwrap().to_string(), name);
        }
        for bad in ["", "memcached-0", "memcached-01", "memcached-", "memcached-x", "admin", "Memcached-1"] {
            assert!(bad.parse::<HostName>().is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn the_default_is_the_runbooks_four_machines() {
        let t = Topology::default();
        t.check().unwrap();
        let names: Vec<String> = t.host_names().iter().map(ToString::to_string).collect();
        assert_eq!(names, ["arcus", "memcached-1", "memcached-2", "memcached-3"]);
        assert_eq!(t.ports("ruo91-cloud"), [11211, 11212]);
        assert_eq!(t.nodes_per_service(), 6);
        assert!(t.is_runbook());
    }

    #[test]
    fn services_take_the_ports_after_each_other() {
        let t = Topology { services: vec!["a".into(), "b".into()], ..Topology::default() };
        assert_eq!(t.ports("a"), [11211, 11212]);
        assert_eq!(t.ports("b"), [11213, 11214]);
    }

    #[test]
    fn numbers_that_do_not_fit_are_named() {
        let bad = |t: Topology| t.check().unwrap_err().to_string();
        assert!(bad(Topology { zk: 2, ..Topology::default() }).starts_with("zk = 2"));
        assert!(bad(Topology { zk: 5, ..Topology::default() }).contains("this lab has 3"));
        assert!(bad(Topology { hosts: 0, ..Topology::default() }).starts_with("hosts = 0"));
        assert!(bad(Topology { services: vec!["a".into(), "a".into()], ..Topology::default() }).contains("twice"));
    }
}
