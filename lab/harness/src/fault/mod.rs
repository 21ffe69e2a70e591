//! Fault verbs, one file each: its name, its keys, a one-line summary, how it is applied. Every
//! verb returns only once its fault is in effect (the process gone or stopped, the container
//! stopped or paused, the rules listed, the znode deleted), or fails saying what it waited for.
//! A scenario's `fault` step reads a verb from [`VERBS`]; Rust callers use each file's function.
//!
//! What outlives its step (network rules, paused hosts) is noted in [`Leftovers`], and
//! [`heal_all`] undoes it before a lab is torn down. Network faults are iptables DROP rules in the
//! lab's own chain on each host ([`net`]).
//!
//! Adding a verb: a new file here with its `VERB` (and its function for Rust callers), its `mod`
//! line and its line in [`VERBS`].

pub mod cut_zk_ports;
pub mod delete_znode;
pub mod expire_session;
pub mod fill_zk_disk;
pub mod heal;
pub mod isolate;
pub mod kill_host;
pub mod kill_node;
pub mod kill_zk;
pub mod lossy_link;
pub mod net;
pub mod partition;
pub mod pause_host;
pub mod restart_node;
pub mod resume_host;
pub mod start_host;
pub mod start_zk;
pub mod starve_cpu;
pub mod stop_host;
pub mod stop_zk;

use std::collections::BTreeSet;

use anyhow::Result;
use futures_util::future::BoxFuture;

use crate::keys::{Bindings, HostRef, Key, KeyError, Keys};
use crate::lab::{HostName, Lab};
use crate::timing::Timing;
use crate::wait;

/// The ZooKeeper installation `deploy` puts on every host.
const ZK_HOME: &str = "/opt/arcus/zookeeper";

/// Every fault verb, in the order the README lists them.
pub const VERBS: &[&Verb] = &[
    &kill_zk::VERB,
    &stop_zk::VERB,
    &start_zk::VERB,
    &kill_node::VERB,
    &restart_node::VERB,
    &kill_host::VERB,
    &stop_host::VERB,
    &start_host::VERB,
    &pause_host::VERB,
    &resume_host::VERB,
    &partition::VERB,
    &isolate::VERB,
    &cut_zk_ports::VERB,
    &heal::VERB,
    &delete_znode::VERB,
    &lossy_link::VERB,
    &starve_cpu::VERB,
    &fill_zk_disk::VERB,
    &expire_session::VERB,
];

/// A fault verb's declaration.
pub struct Verb {
    /// As a scenario writes it: `fault = "kill-zk"`.
    pub name: &'static str,
    /// One line: what it does and when it returns.
    pub summary: &'static str,
    /// The keys it takes besides `fault`.
    pub keys: &'static [Key],
    /// Reads its keys (already checked against `keys`).
    pub parse: ParseFault,
}

/// How a verb reads a step's keys into its fault.
pub type ParseFault = fn(&Keys) -> Result<Box<dyn Fault>, KeyError>;

/// The verb of that name.
pub fn verb(name: &str) -> Option<&'static Verb> {
    VERBS.iter().copied().find(|v| v.name == name)
}

/// A fault as a scenario gave it, ready to apply.
pub trait Fault: std::fmt::Debug + Send + Sync {
    /// As the file writes it: `kill-zk $leader`.
    fn describe(&self) -> String;
    /// Applies it; returns once it is in effect, with what was done.
    fn apply<'a>(&'a self, env: &'a mut Env<'_>) -> BoxFuture<'a, Result<String>>;
    /// What it reaches (its `$names` resolved as `apply` resolves them): for the client view's
    /// markers and its report's nodes that were never faulted.
    fn reach(&self, env: &Env<'_>) -> Result<Reach>;
}

/// What a fault reaches of the cache nodes: whether it breaks something or undoes a fault, and
/// the hosts (all their nodes) and single nodes it touches. A ZooKeeper fault touches no node.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reach {
    pub heals: bool,
    /// Hosts every node of which it touches.
    pub hosts: Vec<HostName>,
    /// Single nodes, by host and port.
    pub nodes: Vec<(HostName, u16)>,
    /// A znode it removes (`delete-znode`).
    pub znode: Option<String>,
}

impl Reach {
    /// A fault on the whole host (its nodes with it).
    pub fn breaks_host(host: HostName) -> Reach {
        Reach { hosts: vec![host], ..Reach::default() }
    }

    /// The end of a fault on the whole host.
    pub fn heals_host(host: HostName) -> Reach {
        Reach { heals: true, hosts: vec![host], ..Reach::default() }
    }

    /// A fault of the ZooKeeper member on the host: no node is touched.
    pub fn breaks_zookeeper(_: HostName) -> Reach {
        Reach::default()
    }

    /// The ZooKeeper member on the host back.
    pub fn heals_zookeeper(_: HostName) -> Reach {
        Reach { heals: true, ..Reach::default() }
    }
}

/// What a fault is applied with.
pub struct Env<'a> {
    pub lab: &'a Lab,
    pub bound: &'a Bindings,
    pub timing: Timing,
    pub left: &'a mut Leftovers,
}

impl Env<'_> {
    /// The host a reference names now.
    pub fn host(&self, host: &HostRef) -> Result<HostName> {
        host.resolve(self.bound, &self.lab.topology)
    }
}

/// Faults that outlive their step until a later step undoes them.
#[derive(Debug, Default)]
pub struct Leftovers {
    /// A fault that `heal` undoes (network rules, lossy links, a CPU quota, a full ZooKeeper disk) was
    /// applied and not healed since.
    pub network: bool,
    /// Hosts paused and not resumed since.
    pub paused: BTreeSet<HostName>,
}

impl Leftovers {
    pub fn is_empty(&self) -> bool {
        !self.network && self.paused.is_empty()
    }
}

/// Resumes every host left paused, then removes every network fault; returns what was done. Both
/// are tried even when one fails.
pub async fn heal_all(lab: &Lab, left: &Leftovers, timing: Timing) -> Result<String> {
    let mut done = Vec::new();
    let mut errors = Vec::new();
    for host in &left.paused {
        match resume_host::resume_host(lab, *host, timing).await {
            Ok(()) => done.push(format!("resumed {host}")),
            Err(e) => errors.push(format!("resume {host}: {e:#}")),
        }
    }
    if left.network {
        match heal::heal(lab, timing).await {
            Ok(healed) if healed.is_empty() => done.push("no network rule left".to_string()),
            Ok(healed) => done.push(format!("healed {}", names(&healed))),
            Err(e) => errors.push(format!("heal: {e:#}")),
        }
    }
    anyhow::ensure!(errors.is_empty(), "{}", errors.join("; "));
    Ok(done.join("; "))
}

/// `memcached-1, memcached-2`.
pub fn names(hosts: &[HostName]) -> String {
    hosts.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}

/// Waits until the engine reports `host`'s container in `state` (`running`, `paused`, `exited`).
async fn wait_state(lab: &Lab, host: HostName, state: &str, timing: Timing) -> Result<()> {
    let what = format!("the host {host} to be {state}");
    wait::until(&what, timing.in_effect(), wait::POLL, || async {
        match lab.states().await {
            Ok(states) => match states.get(&host) {
                Some(s) if s == state => Ok(()),
                Some(s) => Err(s.clone()),
                None => Err("no such container".to_string()),
            },
            Err(e) => Err(format!("{e:#}")),
        }
    })
    .await?;
    Ok(())
}

/// Checks that `host` runs a ZooKeeper member of the lab.
fn zk_member(lab: &Lab, host: HostName) -> Result<()> {
    crate::probe::zk::server(lab, host).map(|_| ())
}

/// `bin/zkServer.sh <verb>` on `host`, which must exit 0.
async fn zk_server(lab: &Lab, host: HostName, verb: &str) -> Result<()> {
    zk_member(lab, host)?;
    let line = format!("cd {ZK_HOME} && bin/zkServer.sh {verb}");
    let out = lab.sh(host, &line).await?;
    anyhow::ensure!(out.exit == 0, "`{line}` on {host} exited {}:\n{}{}", out.exit, out.stdout, out.stderr);
    Ok(())
}

/// Waits until no ZooKeeper JVM (QuorumPeerMain) runs on `host`.
async fn zk_gone(lab: &Lab, host: HostName, timing: Timing) -> Result<()> {
    wait::until(&format!("the ZooKeeper JVM on {host} to be gone"), timing.in_effect(), wait::POLL, || async {
        match crate::probe::node::zk_pids(lab, host).await {
            Ok(pids) if pids.is_empty() => Ok(()),
            Ok(pids) => Err(format!("still running: pid {pids:?}")),
            Err(e) => Err(format!("{e:#}")),
        }
    })
    .await?;
    Ok(())
}

/// A verb whose only key is `host`: its `VERB`, the fault it parses to, what it reaches (a
/// `fn(HostName) -> Reach`), and how it is applied
/// (`$env` and `$host` are bound in `$apply`, which returns what was done). The verb's file
/// keeps its function for Rust callers beside it.
macro_rules! host_verb {
    ($name:literal, $summary:literal, $reach:path, |$env:ident, $host:ident| $apply:block) => {
        pub const VERB: super::Verb = super::Verb {
            name: $name,
            summary: $summary,
            keys: &[crate::keys::need("host", "the host")],
            parse: |keys| Ok(Box::new(HostFault { host: keys.need("host")? })),
        };

        #[derive(Debug)]
        struct HostFault {
            host: crate::keys::HostRef,
        }

        impl super::Fault for HostFault {
            fn describe(&self) -> String {
                format!("{} {}", $name, self.host.as_written())
            }

            fn apply<'a>(
                &'a self,
                $env: &'a mut super::Env<'_>,
            ) -> futures_util::future::BoxFuture<'a, anyhow::Result<String>> {
                Box::pin(async move {
                    let $host = $env.host(&self.host)?;
                    $apply
                })
            }

            fn reach(&self, env: &super::Env<'_>) -> anyhow::Result<super::Reach> {
                Ok($reach(env.host(&self.host)?))
            }
        }
    };
}
use host_verb;
