//! What a lab leaves on this machine once it should be gone, counted by the soak and the tests: its
//! containers, networks and marker volumes on the engine, the fault chain in any container still
//! there, the host's iptables rules that name its bridge (`br-<network id>`) or its subnet, and the
//! processes of a command's process group still running. The bridge and the subnet are noted while
//! the lab lives ([`Footprint::note`]): once its network is gone, nothing else knows them.

use std::collections::BTreeSet;
use std::process::Command;

use anyhow::{Context, Result};

use super::RunId;
use crate::engine::{Engine, LABEL_RUN};

/// A lab's run id and the networks it was seen with.
#[derive(Debug, Clone)]
pub struct Footprint {
    pub run: RunId,
    /// `(bridge interface, subnet)` of each network noted.
    networks: BTreeSet<(String, String)>,
}

/// What was left, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Traces {
    pub containers: usize,
    pub networks: usize,
    /// Marker volumes.
    pub volumes: usize,
    /// Containers still holding the faults' iptables chain.
    pub fault_chains: usize,
    /// The host's iptables rules (nf_tables and legacy) naming the lab's bridge or subnet.
    pub host_rules: usize,
}

impl Traces {
    pub fn is_empty(&self) -> bool {
        *self == Traces::default()
    }

    /// Adds another lab's traces.
    pub fn add(&mut self, other: Traces) {
        self.containers += other.containers;
        self.networks += other.networks;
        self.volumes += other.volumes;
        self.fault_chains += other.fault_chains;
        self.host_rules += other.host_rules;
    }
}

impl std::fmt::Display for Traces {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} containers, {} networks, {} marker volumes, {} fault chains, {} host iptables rules",
            self.containers, self.networks, self.volumes, self.fault_chains, self.host_rules
        )
    }
}

impl Footprint {
    pub fn new(run: RunId) -> Footprint {
        Footprint { run, networks: BTreeSet::new() }
    }

    /// Notes the run's networks as they are now; returns how many are noted in all.
    pub async fn note(&mut self, engine: &Engine) -> Result<usize> {
        for network in engine.list_networks(LABEL_RUN, Some(self.run.as_str())).await? {
            let bridge = format!("br-{}", network.id.get(..12).unwrap_or(&network.id));
            for subnet in network.subnets {
                self.networks.insert((bridge.clone(), subnet));
            }
        }
        Ok(self.networks.len())
    }

    /// Counts what is left of the lab: on the engine by its run label, in the containers left the
    /// chain `fault_chain`, on the host the iptables rules naming a noted bridge or subnet.
    pub async fn traces(&self, engine: &Engine, fault_chain: &str) -> Result<Traces> {
        let run = Some(self.run.as_str());
        let containers = engine.list_containers(LABEL_RUN, run).await?;
        let mut fault_chains = 0;
        for c in containers.iter().filter(|c| c.state == "running") {
            let listed = engine.exec(&c.name, &["iptables-nft", "-S", fault_chain]).await?;
            fault_chains += usize::from(listed.exit == 0);
        }
        let needles: Vec<&str> = self.networks.iter().flat_map(|(b, s)| [b.as_str(), s.as_str()]).collect();
        Ok(Traces {
            containers: containers.len(),
            networks: engine.list_networks(LABEL_RUN, run).await?.len(),
            volumes: engine.list_volumes(LABEL_RUN, run).await?.len(),
            fault_chains,
            host_rules: host_rules_naming(&needles)?,
        })
    }
}

/// The host's iptables rules, of both backends Docker may use, that name any of `needles`.
fn host_rules_naming(needles: &[&str]) -> Result<usize> {
    if needles.is_empty() {
        return Ok(0);
    }
    let mut count = 0;
    for save in ["iptables-nft-save", "iptables-legacy-save"] {
        let out = Command::new(save).output();
        // a machine without the legacy backend has no legacy rules
        let Ok(out) = out else { continue };
        anyhow::ensure!(
            out.status.success(),
            "{save} failed (it needs root): {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
        let text = String::from_utf8(out.stdout).with_context(|| format!("{save}'s output"))?;
        count += text.lines().filter(|l| l.starts_with('-') && needles.iter().any(|n| l.contains(n))).count();
    }
    Ok(count)
}

/// The processes of process group `pgid` still running (zombies excluded): a command started in a
/// group of its own left these behind if any remain after it exited.
pub fn processes_in_group(pgid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    let mut pids: Vec<u32> = entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return false };
            // after the command name in parentheses: state, ppid, pgrp
            let Some(after) = stat.rfind(')').map(|i| &stat[i + 2..]) else { return false };
            let fields: Vec<&str> = after.split_whitespace().collect();
            fields.first() != Some(&"Z") && fields.get(2).and_then(|g| g.parse::<u32>().ok()) == Some(pgid)
        })
        .collect();
    pids.sort_unstable();
    pids
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_process_group_is_found_until_its_processes_are_gone() {
        use std::os::unix::process::CommandExt;
        let mut child = Command::new("sleep").arg("60").process_group(0).spawn().unwrap();
        let group = child.id();
        let found = processes_in_group(group);
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(found, vec![group]);
        assert_eq!(processes_in_group(group), Vec::<u32>::new());
    }
}
