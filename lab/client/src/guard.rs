//! The addresses the view and the load may connect to: a caller's rule (the harness passes its
//! lab's `AddressGuard`), or a list of networks; loopback is always allowed. Every ZooKeeper server
//! and every cache node is checked before a connection is made.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use ipnet::IpNet;

use crate::ClientError;

/// Which addresses may be connected to. Cheap to clone.
#[derive(Clone)]
pub struct Guard {
    allows: Arc<dyn Fn(IpAddr) -> bool + Send + Sync>,
    describe: Arc<str>,
}

impl Guard {
    /// Addresses for which `allows` returns true (loopback is allowed whatever it says).
    pub fn from_fn(allows: impl Fn(IpAddr) -> bool + Send + Sync + 'static) -> Guard {
        Guard { allows: Arc::new(allows), describe: "a caller's rule".into() }
    }

    /// Addresses inside one of `networks`, and loopback.
    pub fn networks(networks: Vec<IpNet>) -> Guard {
        let describe = networks.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(", ");
        Guard {
            allows: Arc::new(move |ip| networks.iter().any(|n| n.contains(&ip))),
            describe: format!("{describe} and loopback").into(),
        }
    }

    /// Loopback only.
    pub fn loopback() -> Guard {
        Guard { allows: Arc::new(|_| false), describe: "loopback".into() }
    }

    /// Whether `ip` may be connected to.
    pub fn allows(&self, ip: IpAddr) -> bool {
        ip.is_loopback() || (self.allows)(ip)
    }

    /// `Ok` when `addr` may be connected to, else an error naming it and `what` it is.
    pub fn check(&self, what: &str, addr: SocketAddr) -> Result<(), ClientError> {
        if self.allows(addr.ip()) {
            Ok(())
        } else {
            Err(ClientError::OutsideGuard { what: what.to_string(), addr: addr.ip() })
        }
    }
}

impl fmt::Debug for Guard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Guard({})", self.describe)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_and_loopback() {
        let guard = Guard::networks(vec!["10.213.1.0/24".parse().unwrap()]);
        assert!(guard.allows("10.213.1.11".parse().unwrap()));
        assert!(guard.allows("127.0.0.1".parse().unwrap()));
        assert!(guard.allows("::1".parse().unwrap()));
        assert!(!guard.allows("10.213.2.11".parse().unwrap()));
        let err = guard.check("ZooKeeper server", "8.8.8.8:2181".parse().unwrap()).unwrap_err();
        assert_eq!(err.to_string(), "ZooKeeper server 8.8.8.8 is outside the addresses this client may connect to");
        assert!(!Guard::loopback().allows("10.213.1.11".parse().unwrap()));
        assert!(Guard::from_fn(|ip| ip.is_ipv4()).allows("1.2.3.4".parse().unwrap()));
    }
}
