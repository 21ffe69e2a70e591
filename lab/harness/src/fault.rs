//! Fault verbs: each acts on a lab (a host's process through the engine, or a znode) and returns
//! only once the fault is in effect (the process is gone or stopped, the znode deleted), or fails
//! saying what it waited for.

use std::time::Duration;

use anyhow::{Context, Result};

use crate::lab::Lab;
use crate::wait;
use crate::zk::ZkSession;

/// How long a verb waits for its fault to take effect.
const IN_EFFECT: Duration = Duration::from_secs(10);
const POLL: Duration = Duration::from_millis(50);

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

/// Starts a killed host again (same address, same disk); returns once its sshd answers. Nothing
/// of Arcus runs on it until a step starts it, as after a machine's reboot.
pub async fn start_host(lab: &Lab, host: &str) -> Result<()> {
    let container = &lab.host(host)?.container;
    lab.engine.start(container).await?;
    lab.wait_sshd(Duration::from_secs(30)).await
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
}
