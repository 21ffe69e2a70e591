//! ZooKeeper seen from the host: four-letter words (`srvr`) per server and the mode they report,
//! the ensemble's leader, and a client session for tree dumps and waits on znodes. Every address
//! passes the lab's guard.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub use arcus_facts::ZkMode;

use crate::lab::{AddressGuard, HostName, Lab};
use crate::wait;

/// ZooKeeper's client port on every member.
pub const CLIENT_PORT: u16 = 2181;

/// One znode of a dump.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Znode {
    pub path: String,
    pub data: String,
    /// The session that owns an ephemeral znode (the stat's `ephemeralOwner`); `None` for a
    /// persistent one.
    pub owner: Option<SessionId>,
}

/// A ZooKeeper session id, shown as ZooKeeper logs it (`0x1000a2b3c4d0001`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct SessionId(pub u64);

impl std::fmt::Display for SessionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

impl Znode {
    /// A znode from its stat's ephemeral owner (0: persistent).
    pub fn new(path: String, data: String, ephemeral_owner: i64) -> Znode {
        let owner = (ephemeral_owner != 0).then_some(SessionId(ephemeral_owner as u64));
        Znode { path, data, owner }
    }

    /// Whether a session owns it (an ephemeral znode).
    pub fn is_ephemeral(&self) -> bool {
        self.owner.is_some()
    }
}

/// A znode subtree, parents before children, children sorted by name.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ZnodeTree(pub Vec<Znode>);

impl ZnodeTree {
    /// One line per znode: `path` (`  [ephemeral <owner>]`) (` = data` when there is data).
    pub fn render(&self) -> String {
        let mut out = String::new();
        for z in &self.0 {
            out.push_str(&z.path);
            if let Some(owner) = z.owner {
                out.push_str(&format!("  [ephemeral {owner}]"));
            }
            if !z.data.is_empty() {
                out.push_str(" = ");
                out.push_str(&z.data);
            }
            out.push('\n');
        }
        out
    }

    pub fn paths(&self) -> Vec<&str> {
        self.0.iter().map(|z| z.path.as_str()).collect()
    }
}

/// One ZooKeeper member of the lab.
#[derive(Debug, Clone)]
pub struct Server {
    pub host: HostName,
    pub addr: SocketAddr,
}

/// The ensemble's members, in myid order.
pub fn servers(lab: &Lab) -> Vec<Server> {
    lab.cache_hosts()
        .filter(|h| lab.topology.is_zk_member(h.name))
        .map(|h| Server { host: h.name, addr: SocketAddr::new(h.ip.into(), CLIENT_PORT) })
        .collect()
}

/// The member on `host`, if it is one.
pub fn server(lab: &Lab, host: HostName) -> Result<Server> {
    servers(lab)
        .into_iter()
        .find(|s| s.host == host)
        .with_context(|| format!("{host} runs no ZooKeeper member (the members are memcached-1..{})", lab.topology.zk))
}

/// Sends a four-letter word and returns the reply (empty when the server closes at once).
pub async fn four_letter(guard: &AddressGuard, addr: SocketAddr, word: &str) -> Result<String> {
    let exchange = async {
        let mut stream = guard.connect(addr).await?;
        stream.write_all(word.as_bytes()).await?;
        let mut reply = String::new();
        stream.read_to_string(&mut reply).await?;
        anyhow::Ok(reply)
    };
    tokio::time::timeout(Duration::from_secs(2), exchange)
        .await
        .with_context(|| format!("{word} to {addr} timed out"))?
}

/// The mode a server reports, or `None` while it does not serve.
pub async fn mode(guard: &AddressGuard, addr: SocketAddr) -> Option<ZkMode> {
    let reply = four_letter(guard, addr, "srvr").await.ok()?;
    ZkMode::from_reply(&reply)
}

/// Every member's mode as seen now (`None`: not serving).
#[derive(Debug, Clone)]
pub struct Modes(pub Vec<(HostName, Option<ZkMode>)>);

impl Modes {
    /// Asks every member of the lab.
    pub async fn of(lab: &Lab) -> Modes {
        let guard = lab.guard();
        let mut seen = Vec::new();
        for server in servers(lab) {
            seen.push((server.host, mode(&guard, server.addr).await));
        }
        Modes(seen)
    }

    /// The hosts whose member is in `mode`, in myid order.
    pub fn in_mode(&self, wanted: impl Fn(ZkMode) -> bool) -> Vec<HostName> {
        self.0.iter().filter(|(_, m)| m.is_some_and(&wanted)).map(|(h, _)| *h).collect()
    }

    /// How many members serve at all.
    pub fn serving(&self) -> usize {
        self.0.iter().filter(|(_, m)| m.is_some()).count()
    }

    /// Whether more than half of the members serve.
    pub fn majority_serving(&self) -> bool {
        self.serving() * 2 > self.0.len()
    }
}

impl std::fmt::Display for Modes {
    /// `memcached-1: follower, memcached-2: leader, memcached-3: not serving`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown: Vec<String> = self
            .0
            .iter()
            .map(|(host, m)| format!("{host}: {}", m.map(|m| m.to_string()).unwrap_or_else(|| "not serving".into())))
            .collect();
        f.write_str(&shown.join(", "))
    }
}

/// Waits until a member serves in a mode `wanted` accepts; returns the first such host by myid.
pub async fn wait_mode(lab: &Lab, what: &str, wanted: impl Fn(ZkMode) -> bool, deadline: Duration) -> Result<HostName> {
    Ok(wait::until(what, deadline, wait::POLL, || async {
        let seen = Modes::of(lab).await;
        seen.in_mode(&wanted).first().copied().ok_or_else(|| seen.to_string())
    })
    .await?)
}

/// Waits until a member leads (a leader, or a standalone server); returns its host.
pub async fn wait_leader(lab: &Lab, deadline: Duration) -> Result<HostName> {
    wait_mode(lab, "a ZooKeeper leader in the lab", ZkMode::leads, deadline).await
}

/// A client session on the lab's ensemble.
pub struct ZkSession {
    client: zookeeper_client::Client,
}

impl ZkSession {
    /// Connects to any member of the lab's ensemble, within `deadline`.
    pub async fn connect(lab: &Lab, deadline: Duration) -> Result<ZkSession> {
        let guard = lab.guard();
        let servers = servers(lab);
        for server in &servers {
            guard.check(server.addr.ip())?;
        }
        let cluster = servers.iter().map(|s| s.addr.to_string()).collect::<Vec<_>>().join(",");
        let client =
            wait::until(&format!("a ZooKeeper session on {cluster}"), deadline, Duration::from_millis(200), || {
                let cluster = cluster.clone();
                async move {
                    zookeeper_client::Client::connector()
                        .with_session_timeout(Duration::from_secs(10))
                        // short: a server on a stopped host must not hold up a wait (a live one answers in ms)
                        .with_connection_timeout(Duration::from_millis(500))
                        .connect(&cluster)
                        .await
                        .map_err(|e| e.to_string())
                }
            })
            .await?;
        Ok(ZkSession { client })
    }

    /// The subtree under `root` (root included); a missing root gives an empty tree.
    pub async fn tree(&self, root: &str) -> Result<ZnodeTree> {
        let mut nodes = Vec::new();
        let mut stack = vec![root.to_string()];
        while let Some(path) = stack.pop() {
            let (data, stat) = match self.client.get_data(&path).await {
                Ok(found) => found,
                Err(zookeeper_client::Error::NoNode) => continue,
                Err(e) => return Err(e).with_context(|| format!("read znode {path}")),
            };
            let mut children = match self.client.list_children(&path).await {
                Ok(children) => children,
                Err(zookeeper_client::Error::NoNode) => continue,
                Err(e) => return Err(e).with_context(|| format!("list children of {path}")),
            };
            nodes.push(Znode::new(path.clone(), String::from_utf8_lossy(&data).into_owned(), stat.ephemeral_owner));
            children.sort();
            for child in children.into_iter().rev() {
                stack.push(if path == "/" { format!("/{child}") } else { format!("{path}/{child}") });
            }
        }
        Ok(ZnodeTree(nodes))
    }

    /// The children of `path` and a watch that fires once when they change (or the session
    /// breaks).
    pub async fn children_and_watch(&self, path: &str) -> Result<(Vec<String>, zookeeper_client::OneshotWatcher)> {
        self.client
            .list_and_watch_children(path)
            .await
            .with_context(|| format!("list and watch the children of {path}"))
    }

    /// Deletes one znode (any version); one already gone is fine.
    pub async fn delete(&self, path: &str) -> Result<()> {
        match self.client.delete(path, None).await {
            Ok(()) | Err(zookeeper_client::Error::NoNode) => Ok(()),
            Err(e) => Err(e).with_context(|| format!("delete znode {path}")),
        }
    }

    /// Children of `path`, sorted; none when it is missing.
    pub async fn children(&self, path: &str) -> Result<Vec<String>> {
        match self.client.list_children(path).await {
            Ok(mut children) => {
                children.sort();
                Ok(children)
            }
            Err(zookeeper_client::Error::NoNode) => Ok(Vec::new()),
            Err(e) => Err(e).with_context(|| format!("list children of {path}")),
        }
    }
}
