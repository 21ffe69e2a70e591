//! The address guard: the lab sends traffic only to its own networks and to loopback. Every
//! direct connection of the harness goes through [`AddressGuard::connect`]. Also where a new lab's
//! /24 is carved from the pool, clear of Docker's networks and the host's routes.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use anyhow::{Context, Result};
use ipnet::Ipv4Net;

use super::LabError;

/// The /16 the lab carves its /24 networks from.
pub const POOL: Ipv4Net = match Ipv4Net::new(Ipv4Addr::new(10, 213, 0, 0), 16) {
    Ok(net) => net,
    Err(_) => panic!("the pool is a /16"),
};

/// Refuses any address outside the lab's networks; loopback is always allowed.
#[derive(Debug, Clone)]
pub struct AddressGuard {
    networks: Vec<Ipv4Net>,
}

impl AddressGuard {
    pub fn new(networks: Vec<Ipv4Net>) -> AddressGuard {
        AddressGuard { networks }
    }

    pub fn check(&self, ip: IpAddr) -> Result<(), LabError> {
        let inside = match ip {
            IpAddr::V4(v4) => v4.is_loopback() || self.networks.iter().any(|n| n.contains(&v4)),
            IpAddr::V6(v6) => v6.is_loopback(),
        };
        if inside {
            Ok(())
        } else {
            Err(LabError::OutsideLab(ip))
        }
    }

    /// Connects to `addr` after checking it.
    pub async fn connect(&self, addr: SocketAddr) -> Result<tokio::net::TcpStream> {
        self.check(addr.ip())?;
        tokio::net::TcpStream::connect(addr).await.with_context(|| format!("connect to {addr}"))
    }
}

/// The pool's /24s in the order a run tries them: from a place derived from the run id, so that
/// labs created at the same moment rarely try the same one first.
pub fn candidates(run: &str) -> impl Iterator<Item = Ipv4Net> {
    let subnets: Vec<Ipv4Net> = POOL.subnets(24).expect("a /16 has /24s").collect();
    let start = usize::from(run.bytes().fold(0u8, |a, b| a.wrapping_mul(31).wrapping_add(b)));
    let count = subnets.len();
    (0..count).map(move |offset| subnets[(start + offset) % count])
}

/// Whether `net` overlaps any of `taken` (Docker's subnets, the host's routes).
pub fn overlaps(net: Ipv4Net, taken: &[Ipv4Net]) -> bool {
    taken.iter().any(|t| t.contains(&net.network()) || net.contains(&t.network()))
}

/// The host's IPv4 routes other than the default one.
pub fn host_routes() -> Vec<Ipv4Net> {
    let Ok(text) = std::fs::read_to_string("/proc/net/route") else { return Vec::new() };
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let dest = u32::from_str_radix(f.get(1)?, 16).ok()?.swap_bytes();
            let mask = u32::from_str_radix(f.get(7)?, 16).ok()?.swap_bytes();
            (mask != 0).then(|| Ipv4Net::new(dest.into(), mask.count_ones() as u8).ok()).flatten()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guard_allows_the_lab_and_loopback_only() {
        let guard = AddressGuard::new(vec!["10.213.7.0/24".parse().unwrap()]);
        assert!(guard.check("10.213.7.11".parse().unwrap()).is_ok());
        assert!(guard.check("127.0.0.1".parse().unwrap()).is_ok());
        assert!(guard.check("::1".parse().unwrap()).is_ok());
        for outside in ["10.213.8.11", "8.8.8.8", "192.168.1.1", "172.17.0.2"] {
            let err = guard.check(outside.parse().unwrap()).unwrap_err();
            assert!(err.to_string().contains(outside), "{err}");
        }
    }

    #[test]
    fn candidates_cover_the_pool_once_and_overlaps_are_seen() {
        let all: Vec<Ipv4Net> = candidates("abc").collect();
        assert_eq!(all.len(), 256);
        let mut sorted = all.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), 256);
        let net: Ipv4Net = "10.213.7.0/24".parse().unwrap();
        assert!(overlaps(net, &["10.0.0.0/8".parse().unwrap()]));
        assert!(overlaps(net, &["10.213.7.128/25".parse().unwrap()]));
        assert!(!overlaps(net, &["10.213.8.0/24".parse().unwrap(), "172.17.0.0/16".parse().unwrap()]));
    }
}
