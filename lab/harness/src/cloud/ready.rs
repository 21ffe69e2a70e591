//! Named ready conditions, in the manner of testcontainers' wait strategies: each says what it
//! waits for and is polled within a deadline until it holds, returning what it saw then. The
//! runbook waits on them after `zookeeper start` and `memcached start`; the scenarios' `wait`
//! step names them.

use std::time::Duration;

use anyhow::Result;

use crate::lab::{HostName, Lab};
use crate::probe::node;
use crate::probe::zk::{self, Modes, ZkMode, ZkSession};
use crate::timing::Timing;
use crate::wait;

/// What a wait waits for; `H` names a host and `T` is a text (a scenario's wait step holds them
/// as written, with `$names`, and resolves them to a `Ready` when it runs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ready<H = HostName, T = String> {
    /// One leader (or a standalone server) and a serving majority; the leader not on `not_on` when
    /// given (that host must not lead either: a new leader after the old one's fault).
    Quorum { not_on: Option<H> },
    /// No leader, and fewer than a majority of the members serving (the ensemble has lost its quorum).
    NoQuorum,
    /// `path` has exactly `count` children.
    Children { path: T, count: usize },
    /// The member on `host` serves in `mode`.
    ZkMode { host: H, mode: ZkMode },
    /// No cache node listens with `-p port` on `host` any more.
    NodeExited { host: H, port: u16 },
    /// The node on `host`:`port` answers `send` with a reply that has the line `until`.
    Reply { host: H, port: u16, send: T, until: String },
}

impl<H: std::fmt::Display, T: std::fmt::Display> Ready<H, T> {
    /// What is waited for, for messages.
    pub fn describe(&self) -> String {
        match self {
            Ready::Quorum { not_on: None } => "a ZooKeeper leader and a serving majority".into(),
            Ready::Quorum { not_on: Some(old) } => {
                format!("a ZooKeeper leader other than {old} and a serving majority")
            }
            Ready::NoQuorum => "the ZooKeeper ensemble to have no leader and no serving majority".into(),
            Ready::Children { path, count } => format!("{count} children under {path}"),
            Ready::ZkMode { host, mode } => format!("ZooKeeper on {host} to serve as {mode}"),
            Ready::NodeExited { host, port } => format!("the cache node {host}:{port} to exit"),
            Ready::Reply { host, port, send, until } => format!("{until} from the node {host}:{port} to \"{send}\""),
        }
    }
}

impl Ready {
    /// Polls until the condition holds; returns what was seen then.
    pub async fn wait(&self, lab: &Lab, deadline: Duration, timing: Timing) -> Result<String> {
        let what = self.describe();
        let interval = timing.poll().max(Duration::from_millis(100));
        match self {
            Ready::Quorum { not_on } => Ok(wait::until(&what, deadline, interval, || async {
                let modes = Modes::of(lab).await;
                let leaders = modes.in_mode(ZkMode::leads);
                let new_leader = leaders.len() == 1 && not_on.is_none_or(|old| leaders[0] != old);
                if new_leader && modes.majority_serving() {
                    Ok(modes.to_string())
                } else {
                    Err(modes.to_string())
                }
            })
            .await?),
            Ready::NoQuorum => Ok(wait::until(&what, deadline, interval, || async {
                let modes = Modes::of(lab).await;
                if modes.in_mode(ZkMode::leads).is_empty() && !modes.majority_serving() {
                    Ok(modes.to_string())
                } else {
                    Err(modes.to_string())
                }
            })
            .await?),
            Ready::Children { path, count } => {
                let session = ZkSession::connect(lab, deadline).await?;
                let children = wait::until(&what, deadline, timing.poll(), || async {
                    let children = session.children(path).await.map_err(|e| format!("{e:#}"))?;
                    if children.len() == *count {
                        Ok(children)
                    } else {
                        Err(format!("{} children: {children:?}", children.len()))
                    }
                })
                .await?;
                Ok(format!("{path}: {}", children.join(", ")))
            }
            Ready::ZkMode { host, mode } => {
                let addr = zk::server(lab, *host)?.addr;
                let guard = lab.guard();
                wait::until(&what, deadline, interval, || async {
                    match zk::mode(&guard, addr).await {
                        Some(m) if m == *mode => Ok(()),
                        other => Err(other.map(|m| m.to_string()).unwrap_or_else(|| "not serving".into())),
                    }
                })
                .await?;
                Ok(format!("{host}: {mode}"))
            }
            Ready::NodeExited { host, port } => {
                wait::until(&what, deadline, interval, || async {
                    match node::pids(lab, *host, *port).await {
                        Ok(pids) if pids.is_empty() => Ok(()),
                        Ok(pids) => Err(format!("still running: pid {pids:?}")),
                        Err(e) => Err(format!("{e:#}")),
                    }
                })
                .await?;
                Ok(format!("{host}:{port} exited"))
            }
            Ready::Reply { host, port, send, until } => Ok(wait::until(&what, deadline, interval, || async {
                match node::exchange(lab, *host, *port, send).await {
                    Ok(replies) if replies.has_reply_line(until) => Ok(replies.transcript()),
                    Ok(replies) => Err(replies.transcript()),
                    Err(e) => Err(format!("{e:#}")),
                }
            })
            .await?),
        }
    }
}
