//! ZooKeeper seen from the host: four-letter words (`srvr`) per server, the ensemble's leader, a
//! client session for tree dumps and waits on znodes. Every address passes the lab's guard.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::lab::{AddressGuard, Lab};
use crate::wait;

/// ZooKeeper's client port on every lab host.
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

/// The ensemble's client addresses: memcached-1..3, port 2181.
pub fn ensemble(lab: &Lab) -> Vec<SocketAddr> {
    servers(lab).into_iter().map(|(_, addr)| addr).collect()
}

/// The ensemble's servers by host name, with their client addresses.
pub fn servers(lab: &Lab) -> Vec<(String, SocketAddr)> {
    lab.hosts
        .iter()
        .filter(|h| h.name != "arcus")
        .map(|h| (h.name.clone(), SocketAddr::new(h.ip.into(), CLIENT_PORT)))
        .collect()
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

/// The `Mode:` of a server (`leader`, `follower`, `standalone`), or `None` while it does not serve.
pub async fn mode(guard: &AddressGuard, addr: SocketAddr) -> Option<String> {
    let reply = four_letter(guard, addr, "srvr").await.ok()?;
    reply.lines().find_map(|l| l.strip_prefix("Mode: ")).map(|m| m.trim().to_string())
}

/// Every server's mode as seen now (`None`: not serving), by host name.
pub async fn modes(guard: &AddressGuard, servers: &[(String, SocketAddr)]) -> Vec<(String, Option<String>)> {
    let mut seen = Vec::new();
    for (name, addr) in servers {
        seen.push((name.clone(), mode(guard, *addr).await));
    }
    seen
}

/// `host: mode, ...` for a wait's report.
pub fn show_modes(modes: &[(String, Option<String>)]) -> String {
    let shown: Vec<String> =
        modes.iter().map(|(name, m)| format!("{name}: {}", m.as_deref().unwrap_or("not serving"))).collect();
    shown.join(", ")
}

/// A client session on the lab's ensemble.
pub struct ZkSession {
    client: zookeeper_client::Client,
}

impl ZkSession {
    /// Connects to any member of the lab's ensemble, within `deadline`.
    pub async fn connect(lab: &Lab, deadline: Duration) -> Result<ZkSession> {
        let guard = lab.guard();
        let servers = ensemble(lab);
        for addr in &servers {
            guard.check(addr.ip())?;
        }
        let cluster = servers.iter().map(ToString::to_string).collect::<Vec<_>>().join(",");
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

    /// Waits until `path` has exactly `count` children.
    pub async fn wait_children(&self, path: &str, count: usize, deadline: Duration) -> Result<Vec<String>> {
        let what = format!("{count} children under {path}");
        Ok(wait::until(&what, deadline, Duration::from_millis(50), || async {
            let children = self.children(path).await.map_err(|e| format!("{e:#}"))?;
            if children.len() == count {
                Ok(children)
            } else {
                Err(format!("{} children: {children:?}", children.len()))
            }
        })
        .await?)
    }
}

/// Waits until one server of the lab's ensemble says `leader` (or `standalone`); returns its host.
pub async fn wait_leader(lab: &Lab, deadline: Duration) -> Result<String> {
    wait_mode(lab, "a ZooKeeper leader in the lab", &["leader", "standalone"], deadline).await
}

/// Waits until a server of the lab's ensemble says `follower`; returns the first such host by name.
pub async fn wait_follower(lab: &Lab, deadline: Duration) -> Result<String> {
    wait_mode(lab, "a ZooKeeper follower in the lab", &["follower"], deadline).await
}

/// Waits until a server serves in one of `modes`; returns the first such host by name.
async fn wait_mode(lab: &Lab, what: &str, modes: &[&str], deadline: Duration) -> Result<String> {
    let guard = lab.guard();
    let servers = servers(lab);
    Ok(wait::until(what, deadline, Duration::from_millis(50), || async {
        let seen = self::modes(&guard, &servers).await;
        let found = seen.iter().find(|(_, m)| m.as_deref().is_some_and(|m| modes.contains(&m)));
        found.map(|(name, _)| name.clone()).ok_or_else(|| show_modes(&seen))
    })
    .await?)
}
