//! `lossy-link`: a lossy, duplicating link instead of a dead one. Rules in the lab's iptables chain
//! ([`net::CHAIN`]) on the host: `-m statistic --mode random` picks a share of what the host
//! sends to every other lab host (`to = "hosts"`), or only of the ZooKeeper client traffic to and
//! from them (`to = "zk"`: port 2181 as destination or source), and DROPs it (`loss`) or clones it
//! to the same address with `TEE` (`duplicate`). Egress only: a round trip through the host loses
//! or doubles its own half; traffic to itself (over `lo`) and the gateway's probes are never
//! touched. In effect once `iptables -S` lists every rule; `heal` flushes the chain.
//!
//! Delay and jitter are not here: `tc netem` is what gives them, and this machine's kernel has
//! neither `sch_netem` nor `sch_prio` (`tc qdisc add ... netem` answers "Specified qdisc kind is
//! unknown"; only htb and pfifo are built in), and the hosts cannot load modules.

use anyhow::Result;
use futures_util::future::BoxFuture;

use super::net::{self, HostRules};
use super::{Env, Fault, Reach, Verb};
use crate::keys::{may, need, HostRef, KeyError, Keys};
use crate::lab::{HostName, Lab};
use crate::probe::zk::CLIENT_PORT;
use crate::timing::Timing;

pub const VERB: Verb = Verb {
    name: "lossy-link",
    summary: "drops `loss` and sends twice `duplicate` percent of what `host` sends to the other hosts (`to = \"zk\"`: their ZooKeeper client traffic only)",
    keys: &[
        need("host", "the host whose sent packets suffer"),
        may("loss", "percent of packets dropped (whole number; 10 when neither loss nor duplicate is given)"),
        may("duplicate", "percent of packets sent twice (whole number)"),
        may("to", "hosts (default): everything to the other hosts; zk: only ZooKeeper client traffic"),
    ],
    parse,
};

/// The loss when the step gives neither loss nor duplicate.
const DEFAULT_LOSS: u8 = 10;

/// Which packets of the host suffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Everything sent to another lab host.
    Hosts,
    /// Only ZooKeeper client traffic to and from another lab host.
    Zk,
}

/// What happens to the chosen packets: percentages, each 0..=100.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Impairment {
    pub loss: Option<u8>,
    pub duplicate: Option<u8>,
}

#[derive(Debug)]
struct LossyLink {
    host: HostRef,
    impairment: Impairment,
    scope: Scope,
}

fn parse(keys: &Keys) -> Result<Box<dyn Fault>, KeyError> {
    let percent = |key: &str| -> Result<Option<u8>, KeyError> {
        match keys.get::<u8>(key)? {
            Some(p) if p > 100 => Err(keys.error(key, format!("{p} is not a percentage (0..=100)"))),
            p => Ok(p),
        }
    };
    let mut impairment = Impairment { loss: percent("loss")?, duplicate: percent("duplicate")? };
    if impairment == Impairment::default() {
        impairment.loss = Some(DEFAULT_LOSS);
    }
    let scope = match keys.get::<String>("to")?.as_deref() {
        None | Some("hosts") => Scope::Hosts,
        Some("zk") => Scope::Zk,
        Some(other) => return Err(keys.error("to", format!("unknown scope {other:?}: use hosts or zk"))),
    };
    Ok(Box::new(LossyLink { host: keys.need("host")?, impairment, scope }))
}

impl Fault for LossyLink {
    fn describe(&self) -> String {
        let to = match self.scope {
            Scope::Hosts => "hosts",
            Scope::Zk => "zk",
        };
        let Impairment { loss, duplicate } = self.impairment;
        format!(
            "lossy-link {} loss {}% duplicate {}% to {to}",
            self.host.as_written(),
            loss.unwrap_or(0),
            duplicate.unwrap_or(0)
        )
    }

    fn apply<'a>(&'a self, env: &'a mut Env<'_>) -> BoxFuture<'a, Result<String>> {
        Box::pin(async move {
            let host = env.host(&self.host)?;
            env.left.network = true;
            let rules = lossy_link(env.lab, host, self.impairment, self.scope, env.timing).await?;
            Ok(format!("{} ({rules} rules)", self.describe()))
        })
    }

    /// Every node of the host: what it sends is impaired (only its ZooKeeper traffic with `to = "zk"`).
    fn reach(&self, env: &Env<'_>) -> Result<Reach> {
        Ok(Reach::breaks_host(env.host(&self.host)?))
    }
}

/// A percentage as iptables' statistic match lists it: the nearest 31-bit fraction, 11 digits.
pub fn probability(percent: u8) -> String {
    const SCALE: f64 = 2_147_483_648.0;
    format!("{:.11}", (f64::from(percent) / 100.0 * SCALE).round() / SCALE)
}

/// The host's rules, as `iptables -S` lists them after `-A <chain> `.
pub fn lossy_rules(host: HostName, others: &[std::net::Ipv4Addr], impairment: Impairment, scope: Scope) -> HostRules {
    let mut rules = Vec::new();
    for ip in others {
        let picks: Vec<String> = match scope {
            Scope::Hosts => vec![format!("-d {ip}/32")],
            Scope::Zk => vec![
                format!("-d {ip}/32 -p tcp -m tcp --dport {CLIENT_PORT}"),
                format!("-d {ip}/32 -p tcp -m tcp --sport {CLIENT_PORT}"),
            ],
        };
        for pick in picks {
            if let Some(p) = impairment.duplicate.filter(|p| *p > 0) {
                rules.push(format!(
                    "{pick} -m statistic --mode random --probability {} -j TEE --gateway {ip}",
                    probability(p)
                ));
            }
            if let Some(p) = impairment.loss.filter(|p| *p > 0) {
                rules.push(format!("{pick} -m statistic --mode random --probability {} -j DROP", probability(p)));
            }
        }
    }
    vec![(host, rules)]
}

/// Adds the rules on `host`; returns their number once all are listed.
pub async fn lossy_link(
    lab: &Lab,
    host: HostName,
    impairment: Impairment,
    scope: Scope,
    timing: Timing,
) -> Result<usize> {
    let others: Vec<_> = lab.hosts.iter().filter(|h| h.name != host).map(|h| h.ip).collect();
    net::apply(lab, &lossy_rules(host, &others, impairment, scope), timing).await
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    #[test]
    fn probabilities_are_written_as_iptables_lists_them() {
        // read back from iptables-nft -S in a lab host
        assert_eq!(probability(10), "0.10000000009");
        assert_eq!(probability(30), "0.29999999981");
        assert_eq!(probability(33), "0.33000000007");
        assert_eq!(probability(50), "0.50000000000");
        assert_eq!(probability(100), "1.00000000000");
    }

    #[test]
    fn the_zk_scope_picks_only_client_port_traffic_to_the_other_hosts() {
        let others = [Ipv4Addr::new(10, 213, 7, 12)];
        let m3 = HostName::Cache(3);
        let both = Impairment { loss: Some(50), duplicate: Some(10) };
        let [(host, rules)] = &lossy_rules(m3, &others, both, Scope::Zk)[..] else { panic!() };
        assert_eq!(*host, m3);
        assert_eq!(
            rules,
            &[
                "-d 10.213.7.12/32 -p tcp -m tcp --dport 2181 -m statistic --mode random --probability 0.10000000009 -j TEE --gateway 10.213.7.12",
                "-d 10.213.7.12/32 -p tcp -m tcp --dport 2181 -m statistic --mode random --probability 0.50000000000 -j DROP",
                "-d 10.213.7.12/32 -p tcp -m tcp --sport 2181 -m statistic --mode random --probability 0.10000000009 -j TEE --gateway 10.213.7.12",
                "-d 10.213.7.12/32 -p tcp -m tcp --sport 2181 -m statistic --mode random --probability 0.50000000000 -j DROP",
            ]
        );
        let hosts = lossy_rules(m3, &others, Impairment { loss: Some(20), duplicate: None }, Scope::Hosts);
        assert_eq!(hosts[0].1, ["-d 10.213.7.12/32 -m statistic --mode random --probability 0.20000000019 -j DROP"]);
    }
}
