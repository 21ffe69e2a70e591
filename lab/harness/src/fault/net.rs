//! Network faults' mechanics: iptables DROP rules inside the hosts (the containers have
//! NET_ADMIN), all in the lab's own chain [`CHAIN`], which INPUT and OUTPUT jump to. A partition
//! looks like silence, not a refusal, and a heal is a flush of that chain on every host. Rules name
//! lab addresses only (resolved from the lab, never free text). Traffic from the machine running
//! the harness (the lab network's gateway) is never dropped: probes see through every fault.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use anyhow::Result;
use futures_util::future::try_join_all;

use crate::lab::{HostName, Lab};
use crate::probe::zk::CLIENT_PORT;
use crate::timing::Timing;
use crate::wait;

/// The lab's iptables chain on every host, jumped to from INPUT and OUTPUT.
pub const CHAIN: &str = "ARCUS-LAB-FAULT";
/// The iptables of the host image (Debian's default, nf_tables). iptables-legacy works in the lab's
/// containers too; one of them is used, never both (their rules would add up unseen).
const IPTABLES: &str = "iptables-nft";

/// The DROP rules of a network fault, per host: what each host gets in [`CHAIN`], as `iptables -S`
/// lists a rule after `-A <chain> `.
pub type HostRules = Vec<(HostName, Vec<String>)>;

/// Both directions between every host of `hosts` and every host of `from` dropped, on both sides.
/// The two sets must be disjoint and not empty.
pub fn partition_rules(hosts: &[(HostName, Ipv4Addr)], from: &[(HostName, Ipv4Addr)]) -> Result<HostRules> {
    anyhow::ensure!(!hosts.is_empty() && !from.is_empty(), "a partition needs a host on either side");
    let names = |side: &[(HostName, Ipv4Addr)]| side.iter().map(|(n, _)| *n).collect::<BTreeSet<_>>();
    let both: Vec<HostName> = names(hosts).intersection(&names(from)).copied().collect();
    anyhow::ensure!(both.is_empty(), "{} on both sides of the partition", super::names(&both));
    let side = |mine: &[(HostName, Ipv4Addr)], theirs: &[(HostName, Ipv4Addr)]| {
        mine.iter()
            .map(|(name, _)| {
                let rules =
                    theirs.iter().flat_map(|(_, ip)| [format!("-s {ip}/32 -j DROP"), format!("-d {ip}/32 -j DROP")]);
                (*name, rules.collect())
            })
            .collect::<Vec<_>>()
    };
    let mut rules = side(hosts, from);
    rules.extend(side(from, hosts));
    Ok(rules)
}

/// `host` can reach no ZooKeeper client port any more, its own server's included: its packets to
/// any client port and the answers from any client port are dropped, on its address and on
/// loopback. Its own server keeps serving the other hosts, and the quorum ports 2888/3888 stay open.
pub fn cut_zk_rules(host: HostName, ip: Ipv4Addr) -> HostRules {
    let port = CLIENT_PORT;
    let rules = [format!("{ip}/32"), "127.0.0.0/8".to_string()]
        .iter()
        .flat_map(|own| {
            [
                format!("-s {own} -p tcp -m tcp --dport {port} -j DROP"),
                format!("-d {own} -p tcp -m tcp --sport {port} -j DROP"),
            ]
        })
        .collect();
    vec![(host, rules)]
}

/// Each lab host with its address.
pub fn resolve(lab: &Lab, hosts: &[HostName]) -> Result<Vec<(HostName, Ipv4Addr)>> {
    hosts.iter().map(|h| Ok((*h, lab.host(*h)?.ip))).collect()
}

/// Adds the rules to each host's chain (made, with its jumps, the first time); returns once every
/// rule and both jumps are listed by `iptables -S` on every affected host, with the rule count.
pub async fn apply(lab: &Lab, rules: &HostRules, timing: Timing) -> Result<usize> {
    try_join_all(rules.iter().map(|(host, rules)| async move {
        let host = *host;
        let mut script = format!(
            "set -e\n{IPTABLES} -S {CHAIN} >/dev/null 2>&1 || {IPTABLES} -N {CHAIN}\n\
             for from in INPUT OUTPUT; do {IPTABLES} -C $from -j {CHAIN} 2>/dev/null || {IPTABLES} -I $from 1 -j {CHAIN}; done\n"
        );
        for rule in rules {
            script.push_str(&format!("{IPTABLES} -A {CHAIN} {rule}\n"));
        }
        let out = lab.sh(host, &script).await?;
        anyhow::ensure!(out.exit == 0, "adding rules to {CHAIN} on {host} exited {}: {}", out.exit, out.stderr.trim());
        let mut wanted: Vec<String> = ["INPUT", "OUTPUT"].iter().map(|from| format!("-A {from} -j {CHAIN}")).collect();
        wanted.extend(rules.iter().map(|rule| format!("-A {CHAIN} {rule}")));
        let what = format!("{} rules of {CHAIN} to be listed on {host}", rules.len());
        wait::until(&what, timing.in_effect(), wait::POLL, || async {
            let listed = listed(lab, host).await.map_err(|e| format!("{e:#}"))?;
            let missing: Vec<&String> = wanted.iter().filter(|w| !listed.contains(w)).collect();
            if missing.is_empty() {
                Ok(())
            } else {
                Err(format!("missing {missing:?}"))
            }
        })
        .await?;
        anyhow::Ok(())
    }))
    .await?;
    Ok(rules.iter().map(|(_, r)| r.len()).sum())
}

/// Flushes [`CHAIN`] on every running host; returns once no rule of it is listed anywhere, with the
/// hosts whose chain held rules. A stopped host has no rules (they went with its network
/// namespace); a paused host cannot be healed until it is resumed.
pub async fn flush(lab: &Lab, timing: Timing) -> Result<Vec<HostName>> {
    let states = lab.states().await?;
    let paused: Vec<HostName> = states.iter().filter(|(_, s)| *s == "paused").map(|(h, _)| *h).collect();
    anyhow::ensure!(paused.is_empty(), "heal: {} paused (resume-host them first)", super::names(&paused));
    let running: Vec<HostName> =
        lab.hosts.iter().map(|h| h.name).filter(|h| states.get(h).is_some_and(|s| s == "running")).collect();
    let healed = try_join_all(running.iter().map(|&host| async move {
        let had = listed(lab, host).await?.iter().any(|l| l.starts_with(&format!("-A {CHAIN} ")));
        let script = format!("{IPTABLES} -S {CHAIN} >/dev/null 2>&1 || exit 0; {IPTABLES} -F {CHAIN}");
        let out = lab.sh(host, &script).await?;
        anyhow::ensure!(out.exit == 0, "flushing {CHAIN} on {host} exited {}: {}", out.exit, out.stderr.trim());
        wait::until(&format!("no rule of {CHAIN} to be listed on {host}"), timing.in_effect(), wait::POLL, || async {
            let listed = listed(lab, host).await.map_err(|e| format!("{e:#}"))?;
            let left: Vec<&String> = listed.iter().filter(|l| l.starts_with(&format!("-A {CHAIN} "))).collect();
            if left.is_empty() {
                Ok(())
            } else {
                Err(format!("still listed: {left:?}"))
            }
        })
        .await?;
        anyhow::Ok(had.then_some(host))
    }))
    .await?;
    Ok(healed.into_iter().flatten().collect())
}

/// Every line of `iptables -S` on `host`.
async fn listed(lab: &Lab, host: HostName) -> Result<Vec<String>> {
    let out = lab.exec(host, &[IPTABLES, "-S"]).await?;
    anyhow::ensure!(out.exit == 0, "{IPTABLES} -S on {host} exited {}: {}", out.exit, out.stderr.trim());
    Ok(out.stdout.lines().map(str::to_string).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> Ipv4Addr {
        Ipv4Addr::new(10, 213, 7, last)
    }

    const M1: HostName = HostName::Cache(1);
    const M2: HostName = HostName::Cache(2);
    const M3: HostName = HostName::Cache(3);

    #[test]
    fn a_partition_drops_both_directions_on_both_sides() {
        let rules = partition_rules(&[(M3, ip(13))], &[(M1, ip(11)), (M2, ip(12))]).unwrap();
        let drop = |ip: &str| vec![format!("-s {ip}/32 -j DROP"), format!("-d {ip}/32 -j DROP")];
        assert_eq!(
            rules,
            vec![
                (M3, [drop("10.213.7.11"), drop("10.213.7.12")].concat()),
                (M1, drop("10.213.7.13")),
                (M2, drop("10.213.7.13")),
            ]
        );
    }

    #[test]
    fn a_partition_needs_two_disjoint_sides() {
        let err = partition_rules(&[(M1, ip(11))], &[(M1, ip(11))]).unwrap_err();
        assert!(err.to_string().contains("memcached-1 on both sides"), "{err}");
        assert!(partition_rules(&[], &[(M1, ip(11))]).is_err());
    }

    #[test]
    fn cutting_zk_ports_drops_only_the_hosts_own_client_traffic() {
        let rules = cut_zk_rules(M3, ip(13));
        assert_eq!(
            rules,
            vec![(
                M3,
                vec![
                    "-s 10.213.7.13/32 -p tcp -m tcp --dport 2181 -j DROP".to_string(),
                    "-d 10.213.7.13/32 -p tcp -m tcp --sport 2181 -j DROP".to_string(),
                    "-s 127.0.0.0/8 -p tcp -m tcp --dport 2181 -j DROP".to_string(),
                    "-d 127.0.0.0/8 -p tcp -m tcp --sport 2181 -j DROP".to_string(),
                ]
            )]
        );
        // the quorum ports are never named
        assert!(rules[0].1.iter().all(|r| !r.contains("2888") && !r.contains("3888")));
    }
}
