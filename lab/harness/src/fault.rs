//! Fault verbs: each acts on a lab (a process or a whole host through the engine, a host's
//! packet filter, or a znode) and returns only once the fault is in effect (the process is gone
//! or stopped, the container stopped or paused, the rules listed, the znode deleted), or fails
//! saying what it waited for.
//!
//! Network faults are iptables DROP rules inside the hosts (the containers have NET_ADMIN), all in
//! the lab's own chain [`CHAIN`], which INPUT and OUTPUT jump to: a partition looks like silence,
//! not a refusal, and [`heal`] is a flush of that chain on every host. Rules name lab addresses
//! only (resolved from the lab, never free text). Traffic from the machine running the harness
//! (the lab network's gateway) is never dropped: probes and tree dumps see through every fault.

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use anyhow::{Context, Result};
use futures_util::future::try_join_all;

use crate::lab::Lab;
use crate::wait;
use crate::zk::{self, ZkSession};

/// How long a verb waits for its fault to take effect.
const IN_EFFECT: Duration = Duration::from_secs(10);
/// How long a verb that starts something (a ZooKeeper server) waits for it to answer.
const STARTED: Duration = Duration::from_secs(30);
/// How long `stop-host` lets a host's processes end before the engine kills them (docker stop's default).
const STOP_GRACE: Duration = Duration::from_secs(10);
const POLL: Duration = Duration::from_millis(50);

/// The lab's iptables chain on every host, jumped to from INPUT and OUTPUT.
pub const CHAIN: &str = "ARCUS-LAB-FAULT";
/// The iptables of the host image (Debian's default, nf_tables). iptables-legacy works in the lab's
/// containers too; one of them is used, never both (their rules would add up unseen).
const IPTABLES: &str = "iptables-nft";
/// The ZooKeeper installation `deploy` puts on every host.
const ZK_HOME: &str = "/opt/arcus/zookeeper";

/// The signals a fault may send to a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Kill,
    Term,
    Int,
    Stop,
    Cont,
}

impl Signal {
    /// `KILL`, `SIGKILL`, `kill`, ... (TERM, INT, STOP, CONT likewise).
    pub fn parse(name: &str) -> Result<Signal, String> {
        let upper = name.to_ascii_uppercase();
        match upper.strip_prefix("SIG").unwrap_or(&upper) {
            "KILL" => Ok(Signal::Kill),
            "TERM" => Ok(Signal::Term),
            "INT" => Ok(Signal::Int),
            "STOP" => Ok(Signal::Stop),
            "CONT" => Ok(Signal::Cont),
            _ => Err(format!("unknown signal {name:?}: use KILL, TERM, INT, STOP or CONT")),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Signal::Kill => "KILL",
            Signal::Term => "TERM",
            Signal::Int => "INT",
            Signal::Stop => "STOP",
            Signal::Cont => "CONT",
        }
    }
}

/// SIGKILL to the ZooKeeper JVM on `host`; returns once no such JVM runs there.
pub async fn kill_zk(lab: &Lab, host: &str) -> Result<()> {
    let out = lab.exec(host, &["pkill", "-KILL", "-f", "QuorumPeerMain"]).await?;
    anyhow::ensure!(
        out.exit == 0,
        "kill-zk: no ZooKeeper JVM (QuorumPeerMain) runs on {host} (pkill exited {})",
        out.exit
    );
    zk_gone(lab, host).await
}

/// Stops the ZooKeeper server on `host` as an operator does (`bin/zkServer.sh stop`); returns once
/// no ZooKeeper JVM runs there.
pub async fn stop_zk(lab: &Lab, host: &str) -> Result<()> {
    zk_server(lab, host, "stop").await?;
    zk_gone(lab, host).await
}

/// Starts the ZooKeeper server on `host` (`bin/zkServer.sh start`); returns once it answers a
/// four-letter word (any answer: a server still looking for its quorum says it is not serving),
/// with the first line of that answer.
pub async fn start_zk(lab: &Lab, host: &str) -> Result<String> {
    zk_server(lab, host, "start").await?;
    let addr = SocketAddr::new(lab.host(host)?.ip.into(), zk::CLIENT_PORT);
    let guard = lab.guard();
    let what = format!("the ZooKeeper server on {host} ({addr}) to answer srvr");
    let reply = wait::until(&what, STARTED, Duration::from_millis(100), || async {
        match zk::four_letter(&guard, addr, "srvr").await {
            Ok(reply) if !reply.trim().is_empty() => Ok(reply),
            Ok(_) => Err("an empty answer".to_string()),
            Err(e) => Err(format!("{e:#}")),
        }
    })
    .await?;
    Ok(reply.lines().next().unwrap_or_default().trim().to_string())
}

/// `bin/zkServer.sh <verb>` on `host`, which must exit 0.
async fn zk_server(lab: &Lab, host: &str, verb: &str) -> Result<()> {
    let line = format!("cd {ZK_HOME} && bin/zkServer.sh {verb}");
    let out = lab.sh(host, &line).await?;
    anyhow::ensure!(out.exit == 0, "`{line}` on {host} exited {}:\n{}{}", out.exit, out.stdout, out.stderr);
    Ok(())
}

/// Waits until no ZooKeeper JVM (QuorumPeerMain) runs on `host`.
async fn zk_gone(lab: &Lab, host: &str) -> Result<()> {
    wait::until(&format!("the ZooKeeper JVM on {host} to be gone"), IN_EFFECT, POLL, || async {
        match lab.exec(host, &["pgrep", "-f", "QuorumPeerMain"]).await {
            Ok(out) if out.exit == 1 => Ok(()),
            Ok(out) => Err(format!("still running: pid {}", out.stdout.trim())),
            Err(e) => Err(format!("{e:#}")),
        }
    })
    .await?;
    Ok(())
}

/// Sends `signal` to the cache node listening on `port` on `host`; returns its pid once the
/// signal took effect: the process is gone (KILL, TERM, INT), stopped (STOP) or running (CONT).
pub async fn kill_node(lab: &Lab, host: &str, port: u16, signal: Signal) -> Result<u32> {
    let pid = node_pid(lab, host, port).await?;
    let out = lab.sh(host, &format!("kill -s {} {pid}", signal.name())).await?;
    anyhow::ensure!(
        out.exit == 0,
        "kill -s {} {pid} on {host} exited {}: {}",
        signal.name(),
        out.exit,
        out.stderr.trim()
    );
    let what = format!("SIG{} to take effect on the node {host}:{port} (pid {pid})", signal.name());
    wait::until(&what, IN_EFFECT, POLL, || async {
        let state = process_state(lab, host, pid).await.map_err(|e| format!("{e:#}"))?;
        let done = match signal {
            Signal::Kill | Signal::Term | Signal::Int => matches!(state, None | Some('Z')),
            Signal::Stop => state == Some('T'),
            // resumed: running, or already gone (a node whose session expired exits at once)
            Signal::Cont => state != Some('T'),
        };
        if done {
            Ok(())
        } else {
            Err(format!("process state {}", state.map(String::from).unwrap_or_else(|| "gone".into())))
        }
    })
    .await?;
    Ok(pid)
}

/// Kills a whole host: SIGKILL to its container (every process in it); returns once the
/// container is no longer running.
pub async fn kill_host(lab: &Lab, host: &str) -> Result<()> {
    let container = &lab.host(host)?.container;
    lab.engine.kill(container, "KILL").await?;
    wait::until(&format!("the host {host} ({container}) to be down"), IN_EFFECT, POLL, || async {
        match lab.engine.is_running(container).await {
            Ok(false) => Ok(()),
            Ok(true) => Err("still running".to_string()),
            Err(e) => Err(format!("{e:#}")),
        }
    })
    .await?;
    Ok(())
}

/// Stops a whole host the way `docker stop` does (SIGTERM to its init, SIGKILL after a grace
/// period); returns once the container is no longer running. The host image's boot script passes
/// SIGTERM on to the cache nodes, waits for them, then to ZooKeeper, so the nodes stop gracefully
/// while their sessions' servers still serve: their znodes go at once, not after the session
/// timeout as with `kill-host`.
pub async fn stop_host(lab: &Lab, host: &str) -> Result<()> {
    let container = &lab.host(host)?.container;
    lab.engine.stop_within(container, STOP_GRACE).await?;
    wait_state(lab, host, "exited", IN_EFFECT).await
}

/// Starts a killed or stopped host again (same address, same disk); returns once its sshd
/// answers. Nothing of Arcus runs on it until a step starts it, as after a machine's reboot.
pub async fn start_host(lab: &Lab, host: &str) -> Result<()> {
    let container = &lab.host(host)?.container;
    lab.engine.start(container).await?;
    lab.wait_sshd(STARTED).await
}

/// Freezes a whole host (every process in its container, `docker pause`); returns once the engine
/// reports the container paused.
pub async fn pause_host(lab: &Lab, host: &str) -> Result<()> {
    let container = &lab.host(host)?.container;
    // The cgroup freezer gives up on a task it cannot stop at once (runc: "unable to freeze",
    // and the container stays running); seen once in some forty runs of a paused ZooKeeper host on
    // this engine's fuse-overlayfs storage. That failure is tried again until IN_EFFECT; any other
    // fails at once.
    let started = std::time::Instant::now();
    loop {
        match lab.engine.pause(container).await {
            Ok(()) => break,
            Err(e) if e.to_string().contains("unable to freeze") && started.elapsed() < IN_EFFECT => {
                tokio::time::sleep(POLL).await;
            }
            Err(e) => {
                return Err(e).with_context(|| format!("pause the host {host} (tried for {:?})", started.elapsed()))
            }
        }
    }
    wait_state(lab, host, "paused", IN_EFFECT).await
}

/// Thaws a paused host; returns once the engine reports the container running.
pub async fn resume_host(lab: &Lab, host: &str) -> Result<()> {
    lab.engine.unpause(&lab.host(host)?.container).await?;
    wait_state(lab, host, "running", IN_EFFECT).await
}

/// Waits until the engine reports `host`'s container in `state` (`running`, `paused`, `exited`).
async fn wait_state(lab: &Lab, host: &str, state: &str, deadline: Duration) -> Result<()> {
    let what = format!("the host {host} to be {state}");
    wait::until(&what, deadline, POLL, || async {
        match lab.states().await {
            Ok(states) => match states.get(host) {
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

/// The DROP rules of a network fault, per host: what each host gets in [`CHAIN`], as `iptables -S`
/// lists a rule after `-A <chain> `.
pub type HostRules = Vec<(String, Vec<String>)>;

/// Both directions between every host of `hosts` and every host of `from` dropped, on both sides.
/// The two sets must be disjoint and not empty.
pub fn partition_rules(hosts: &[(&str, Ipv4Addr)], from: &[(&str, Ipv4Addr)]) -> Result<HostRules> {
    anyhow::ensure!(!hosts.is_empty() && !from.is_empty(), "a partition needs a host on either side");
    let names = |side: &[(&str, Ipv4Addr)]| side.iter().map(|(n, _)| n.to_string()).collect::<BTreeSet<_>>();
    let both: Vec<String> = names(hosts).intersection(&names(from)).cloned().collect();
    anyhow::ensure!(both.is_empty(), "{} on both sides of the partition", both.join(", "));
    let side = |mine: &[(&str, Ipv4Addr)], theirs: &[(&str, Ipv4Addr)]| {
        mine.iter()
            .map(|(name, _)| {
                let rules =
                    theirs.iter().flat_map(|(_, ip)| [format!("-s {ip}/32 -j DROP"), format!("-d {ip}/32 -j DROP")]);
                (name.to_string(), rules.collect())
            })
            .collect::<Vec<_>>()
    };
    let mut rules = side(hosts, from);
    rules.extend(side(from, hosts));
    Ok(rules)
}

/// `host` can reach no ZooKeeper client port (2181) any more, its own server's included: its
/// packets to any port 2181 and the answers from any port 2181 are dropped, on its address and on
/// loopback. Its own server keeps serving the other hosts, and the quorum ports 2888/3888 stay open.
pub fn cut_zk_rules(host: &str, ip: Ipv4Addr) -> HostRules {
    let port = zk::CLIENT_PORT;
    let rules = [format!("{ip}/32"), "127.0.0.0/8".to_string()]
        .iter()
        .flat_map(|own| {
            [
                format!("-s {own} -p tcp -m tcp --dport {port} -j DROP"),
                format!("-d {own} -p tcp -m tcp --sport {port} -j DROP"),
            ]
        })
        .collect();
    vec![(host.to_string(), rules)]
}

/// Partitions the lab hosts `hosts` from the lab hosts `from` (both directions); returns once
/// every rule is listed on every affected host, with the number of rules.
pub async fn partition(lab: &Lab, hosts: &[String], from: &[String]) -> Result<usize> {
    let rules = partition_rules(&resolve(lab, hosts)?, &resolve(lab, from)?)?;
    apply(lab, &rules).await
}

/// Each lab host's name with its address.
fn resolve<'a>(lab: &Lab, names: &'a [String]) -> Result<Vec<(&'a str, Ipv4Addr)>> {
    names.iter().map(|n| Ok((n.as_str(), lab.host(n)?.ip))).collect()
}

/// Partitions `host` from every other host of the lab; returns the number of rules.
pub async fn isolate(lab: &Lab, host: &str) -> Result<usize> {
    let others: Vec<String> = lab.hosts.iter().filter(|h| h.name != host).map(|h| h.name.clone()).collect();
    partition(lab, &[host.to_string()], &others).await
}

/// Cuts `host` off every ZooKeeper client port (see [`cut_zk_rules`]); returns the number of rules.
pub async fn cut_zk_ports(lab: &Lab, host: &str) -> Result<usize> {
    apply(lab, &cut_zk_rules(host, lab.host(host)?.ip)).await
}

/// Adds the rules to each host's chain (made, with its jumps, the first time); returns once every
/// rule and both jumps are listed by `iptables -S` on every affected host.
async fn apply(lab: &Lab, rules: &HostRules) -> Result<usize> {
    try_join_all(rules.iter().map(|(host, rules)| async move {
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
        wait::until(&what, IN_EFFECT, POLL, || async {
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

/// Removes every network fault on every host: flushes [`CHAIN`] wherever it exists. Returns once
/// `iptables -S` lists no rule of the chain on any running host, with the names of the hosts
/// whose chain held rules. A stopped host has no rules (they went with its network namespace);
/// a paused host cannot be healed until it is resumed.
pub async fn heal(lab: &Lab) -> Result<Vec<String>> {
    let states = lab.states().await?;
    let paused: Vec<&String> = states.iter().filter(|(_, s)| *s == "paused").map(|(h, _)| h).collect();
    anyhow::ensure!(paused.is_empty(), "heal: {paused:?} paused (resume-host them first)");
    let running: Vec<&str> =
        lab.hosts.iter().map(|h| h.name.as_str()).filter(|h| states.get(*h).is_some_and(|s| s == "running")).collect();
    let healed = try_join_all(running.iter().map(|host| async move {
        let had = listed(lab, host).await?.iter().any(|l| l.starts_with(&format!("-A {CHAIN} ")));
        let script = format!("{IPTABLES} -S {CHAIN} >/dev/null 2>&1 || exit 0; {IPTABLES} -F {CHAIN}");
        let out = lab.sh(host, &script).await?;
        anyhow::ensure!(out.exit == 0, "flushing {CHAIN} on {host} exited {}: {}", out.exit, out.stderr.trim());
        wait::until(&format!("no rule of {CHAIN} to be listed on {host}"), IN_EFFECT, POLL, || async {
            let listed = listed(lab, host).await.map_err(|e| format!("{e:#}"))?;
            let left: Vec<&String> = listed.iter().filter(|l| l.starts_with(&format!("-A {CHAIN} "))).collect();
            if left.is_empty() {
                Ok(())
            } else {
                Err(format!("still listed: {left:?}"))
            }
        })
        .await?;
        anyhow::Ok(had.then(|| host.to_string()))
    }))
    .await?;
    Ok(healed.into_iter().flatten().collect())
}

/// Every line of `iptables -S` on `host`.
async fn listed(lab: &Lab, host: &str) -> Result<Vec<String>> {
    let out = lab.exec(host, &[IPTABLES, "-S"]).await?;
    anyhow::ensure!(out.exit == 0, "{IPTABLES} -S on {host} exited {}: {}", out.exit, out.stderr.trim());
    Ok(out.stdout.lines().map(str::to_string).collect())
}

/// Deletes a znode and its subtree (children first), as an operator would with zkCli; returns
/// the number of znodes deleted once the path is gone.
pub async fn delete_znode(lab: &Lab, path: &str) -> Result<usize> {
    let session = ZkSession::connect(lab, IN_EFFECT).await?;
    let tree = session.tree(path).await?;
    anyhow::ensure!(!tree.0.is_empty(), "delete-znode: {path} does not exist");
    for z in tree.0.iter().rev() {
        session.delete(&z.path).await?;
    }
    wait::until(&format!("{path} to be gone"), IN_EFFECT, POLL, || async {
        match session.tree(path).await {
            Ok(t) if t.0.is_empty() => Ok(()),
            Ok(t) => Err(format!("still there: {:?}", t.paths())),
            Err(e) => Err(format!("{e:#}")),
        }
    })
    .await?;
    Ok(tree.0.len())
}

/// The pid of the memcached process started with `-p <port>` on `host`.
pub async fn node_pid(lab: &Lab, host: &str, port: u16) -> Result<u32> {
    match node_pids(lab, host, port).await?.as_slice() {
        [pid] => Ok(*pid),
        [] => anyhow::bail!("no cache node with -p {port} runs on {host}"),
        many => anyhow::bail!("{} processes match -p {port} on {host}: {many:?}", many.len()),
    }
}

/// The pids of the memcached processes started with `-p <port>` on `host` (exited ones excluded).
pub async fn node_pids(lab: &Lab, host: &str, port: u16) -> Result<Vec<u32>> {
    let pattern = format!("memcached .*-p {port}( |$)");
    let out = lab.exec(host, &["pgrep", "-f", &pattern]).await?;
    anyhow::ensure!(out.exit <= 1, "pgrep on {host} exited {}: {}", out.exit, out.stderr.trim());
    Ok(out.stdout.split_whitespace().filter_map(|p| p.parse().ok()).collect())
}

/// The state letter of a process (`R`, `S`, `T`, `Z`, ...), `None` once it is gone.
async fn process_state(lab: &Lab, host: &str, pid: u32) -> Result<Option<char>> {
    let out = lab.exec(host, &["cat", &format!("/proc/{pid}/stat")]).await?;
    if out.exit != 0 {
        return Ok(None);
    }
    // the command name may hold spaces: the state follows the closing parenthesis
    let after = out.stdout.rfind(')').map(|i| &out.stdout[i + 1..]).context("unreadable /proc stat")?;
    Ok(after.trim_start().chars().next())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_parse_with_or_without_sig() {
        assert_eq!(Signal::parse("SIGKILL"), Ok(Signal::Kill));
        assert_eq!(Signal::parse("kill"), Ok(Signal::Kill));
        assert_eq!(Signal::parse("STOP"), Ok(Signal::Stop));
        assert!(Signal::parse("HUP").unwrap_err().contains("unknown signal"));
    }

    fn ip(last: u8) -> Ipv4Addr {
        Ipv4Addr::new(10, 213, 7, last)
    }

    #[test]
    fn a_partition_drops_both_directions_on_both_sides() {
        let rules =
            partition_rules(&[("memcached-3", ip(13))], &[("memcached-1", ip(11)), ("memcached-2", ip(12))]).unwrap();
        assert_eq!(
            rules,
            vec![
                (
                    "memcached-3".to_string(),
                    vec![
                        "-s 10.213.7.11/32 -j DROP".to_string(),
                        "-d 10.213.7.11/32 -j DROP".to_string(),
                        "-s 10.213.7.12/32 -j DROP".to_string(),
                        "-d 10.213.7.12/32 -j DROP".to_string(),
                    ]
                ),
                (
                    "memcached-1".to_string(),
                    vec!["-s 10.213.7.13/32 -j DROP".to_string(), "-d 10.213.7.13/32 -j DROP".to_string()]
                ),
                (
                    "memcached-2".to_string(),
                    vec!["-s 10.213.7.13/32 -j DROP".to_string(), "-d 10.213.7.13/32 -j DROP".to_string()]
                ),
            ]
        );
    }

    #[test]
    fn a_partition_needs_two_disjoint_sides() {
        let err = partition_rules(&[("memcached-1", ip(11))], &[("memcached-1", ip(11))]).unwrap_err();
        assert!(err.to_string().contains("memcached-1 on both sides"), "{err}");
        assert!(partition_rules(&[], &[("memcached-1", ip(11))]).is_err());
    }

    #[test]
    fn cutting_zk_ports_drops_only_the_hosts_own_client_traffic() {
        let rules = cut_zk_rules("memcached-3", ip(13));
        assert_eq!(
            rules,
            vec![(
                "memcached-3".to_string(),
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
