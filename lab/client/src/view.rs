//! The client view: a ZooKeeper session that follows one service's `cache_list` the way an Arcus
//! client library does (contract section 7): a 15 s session, the service check, an ephemeral
//! `client_list` entry, a watch on `cache_list/<svc>`'s children cut at the first `-`, and the
//! ketama ring kept current. Each ring change is a [`RingEvent`] with its moment and the nodes
//! added and removed.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use std::net::{IpAddr, SocketAddr};

use arcus_facts::znode::{self, NodeName};
use serde::Serialize;
use tokio::sync::{oneshot, watch};
use zookeeper_client as zk;

use crate::time::Moment;
use crate::{ClientError, Guard, Ring};

/// The session timeout an Arcus client asks for.
pub const SESSION_TIMEOUT: Duration = Duration::from_secs(15);

/// How to connect a [`View`].
#[derive(Debug, Clone)]
pub struct ViewConfig {
    /// The ensemble as a ZooKeeper connect string: `ip:port,ip:port,...`.
    pub ensemble: String,
    /// The service code (`ruo91-cloud`).
    pub service: String,
    /// The addresses that may be connected to; every ZooKeeper server is checked before the session.
    pub guard: Guard,
    /// The session timeout asked for (default 15 s; ZooKeeper clamps it to its own bounds).
    pub session_timeout: Duration,
    /// The `<pool>` field of the client_list entry (default 1).
    pub pool: u32,
    /// The `<lang>` field of the client_list entry (default `rust`).
    pub lang: String,
    /// The `<version>` field of the client_list entry (default this crate's version).
    pub version: String,
}

impl ViewConfig {
    /// A config with the defaults: 15 s session, pool 1, lang `rust`, this crate's version.
    pub fn new(ensemble: impl Into<String>, service: impl Into<String>, guard: Guard) -> ViewConfig {
        ViewConfig {
            ensemble: ensemble.into(),
            service: service.into(),
            guard,
            session_timeout: SESSION_TIMEOUT,
            pool: 1,
            lang: "rust".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }
}

/// One change of the ring (the first one is the initial read of `cache_list`, all nodes added).
#[derive(Debug, Clone, Serialize)]
pub struct RingEvent {
    /// When the new ring was in place (what the load routes by from then on).
    #[serde(skip)]
    pub at: Moment,
    /// `at` on the wall clock, ms since the Unix epoch.
    pub wall_ms: u64,
    /// When the watch fired (or the session re-read the list) that led to this change.
    #[serde(skip)]
    pub seen: Moment,
    /// The ring's nodes after the change (`ip:port`, sorted).
    pub nodes: Vec<String>,
    /// Nodes that joined the ring.
    pub added: Vec<String>,
    /// Nodes that left the ring.
    pub removed: Vec<String>,
}

/// A connected client view of one service. Dropping it ends the session (and so the client_list
/// entry); [`close`](Self::close) does the same and returns the ring's history.
pub struct View {
    ring: watch::Receiver<Arc<Ring>>,
    events: Arc<Mutex<Vec<RingEvent>>>,
    client_znode: Arc<Mutex<String>>,
    guard: Guard,
    task: Option<tokio::task::JoinHandle<()>>,
    close: Option<oneshot::Sender<()>>,
}

impl View {
    /// Connects to the ensemble (each server checked by the guard first), checks that the service
    /// exists, creates the client_list entry, reads `cache_list/<svc>` with a watch and starts
    /// following it. Returns once the first ring is in place.
    pub async fn connect(config: ViewConfig) -> Result<View, ClientError> {
        let servers = ensemble_addrs(&config.ensemble, &config.guard).await?;
        let client = connect(&config).await?;
        let root = service_root(&client, &config.service).await?;
        let client_znode = create_client_entry(&client, &config, root, servers[0]).await?;
        let cache_list = format!("{root}/cache_list/{}", config.service);
        let seen = Moment::now();
        let (names, watcher) = list_and_watch(&client, &cache_list).await?;
        let ring = Arc::new(ring_of(&names));
        let events = Arc::new(Mutex::new(vec![event(seen, &Ring::default(), &ring)]));
        let (ring_tx, ring_rx) = watch::channel(ring);
        let (close_tx, close_rx) = oneshot::channel();
        let client_znode = Arc::new(Mutex::new(client_znode));
        let guard = config.guard.clone();
        let follower = Follower {
            config,
            client,
            cache_list,
            root,
            first_server: servers[0],
            client_znode: client_znode.clone(),
            ring: ring_tx,
            events: events.clone(),
        };
        let task = tokio::spawn(follower.run(watcher, close_rx));
        Ok(View { ring: ring_rx, events, client_znode, guard, task: Some(task), close: Some(close_tx) })
    }

    /// The current ring.
    pub fn ring(&self) -> Arc<Ring> {
        self.ring.borrow().clone()
    }

    /// A receiver that sees every new ring (what the load routes by).
    pub fn subscribe(&self) -> watch::Receiver<Arc<Ring>> {
        self.ring.clone()
    }

    /// The ring changes so far, the initial read first.
    pub fn events(&self) -> Vec<RingEvent> {
        self.events.lock().unwrap().clone()
    }

    /// The full path of this client's ephemeral client_list entry (a new session after an expiry
    /// makes a new one).
    pub fn client_znode(&self) -> String {
        self.client_znode.lock().unwrap().clone()
    }

    /// The guard this view was made with (the load checks the nodes with it).
    pub fn guard(&self) -> &Guard {
        &self.guard
    }

    /// Waits until the ring has exactly `count` nodes, within `deadline`.
    pub async fn wait_for_nodes(&self, count: usize, deadline: Duration) -> Result<Arc<Ring>, ClientError> {
        self.wait_for(&format!("{count} nodes on the ring"), deadline, |ring| ring.nodes().len() == count).await
    }

    /// Waits until `holds` is true of the ring, within `deadline`; `what` names the condition in
    /// the timeout error.
    pub async fn wait_for(
        &self,
        what: &str,
        deadline: Duration,
        holds: impl Fn(&Ring) -> bool,
    ) -> Result<Arc<Ring>, ClientError> {
        let mut rx = self.ring.clone();
        let waited = tokio::time::timeout(deadline, async {
            loop {
                let ring = rx.borrow_and_update().clone();
                if holds(&ring) {
                    return Some(ring);
                }
                if rx.changed().await.is_err() {
                    return None;
                }
            }
        })
        .await;
        match waited {
            Ok(Some(ring)) => Ok(ring),
            _ => Err(ClientError::Timeout {
                what: format!("{what} (the ring has {:?})", self.ring().nodes()),
                after: deadline,
            }),
        }
    }

    /// Deletes the client_list entry, ends the session and returns the ring's history.
    pub async fn close(mut self) -> Vec<RingEvent> {
        if let Some(close) = self.close.take() {
            let _ = close.send(());
        }
        if let Some(task) = self.task.take() {
            // The follower deletes the entry within a request timeout; a session that is not
            // connected is dropped as it is (the server removes the entry at its expiry).
            let _ = tokio::time::timeout(CLOSE_DEADLINE, task).await;
        }
        self.events()
    }
}

impl Drop for View {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// How long [`View::close`] waits for the entry's deletion.
const CLOSE_DEADLINE: Duration = Duration::from_secs(3);
/// Pause between attempts at a new session after the old one expired.
const RECONNECT_PAUSE: Duration = Duration::from_secs(1);

/// The task that follows `cache_list/<svc>` and keeps the ring.
struct Follower {
    config: ViewConfig,
    client: zk::Client,
    cache_list: String,
    root: &'static str,
    first_server: SocketAddr,
    client_znode: Arc<Mutex<String>>,
    ring: watch::Sender<Arc<Ring>>,
    events: Arc<Mutex<Vec<RingEvent>>>,
}

impl Follower {
    async fn run(mut self, watcher: zk::OneshotWatcher, mut close: oneshot::Receiver<()>) {
        let mut watcher = Some(watcher);
        loop {
            let Some(pending) = watcher.take() else {
                // No watch: the session ended. A client library makes a new one.
                tokio::select! {
                    _ = &mut close => break,
                    renewed = self.renew() => watcher = renewed,
                }
                continue;
            };
            let fired = tokio::select! {
                _ = &mut close => break,
                fired = pending.changed() => fired,
            };
            let seen = Moment::now();
            if fired.event_type == zk::EventType::Session {
                // The session behind the watch ended (expired or closed).
                if fired.session_state == zk::SessionState::Closed {
                    return;
                }
                continue;
            }
            watcher = self.reread(seen).await;
        }
        let path = self.client_znode.lock().unwrap().clone();
        let _ = tokio::time::timeout(CLOSE_DEADLINE, self.client.delete(&path, None)).await;
    }

    /// Reads the list again with a new watch and applies it; None when the session is gone.
    async fn reread(&mut self, seen: Moment) -> Option<zk::OneshotWatcher> {
        loop {
            match list_and_watch(&self.client, &self.cache_list).await {
                Ok((names, watcher)) => {
                    self.apply(seen, &names);
                    return Some(watcher);
                }
                Err(ClientError::ZooKeeper { source: zk::Error::NoNode, .. }) => {
                    // The service was unregistered: no nodes. Watch for it to come back.
                    self.apply(seen, &[]);
                    match self.client.check_and_watch_stat(&self.cache_list).await {
                        Ok((None, watcher)) => return Some(watcher),
                        // created meanwhile: read it
                        Ok((Some(_), _)) => continue,
                        Err(_) => return None,
                    }
                }
                Err(ClientError::ZooKeeper { source: zk::Error::ConnectionLoss | zk::Error::Timeout, .. }) => {
                    // Connection loss: the client reconnects within the session; try again.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    if self.client.state().is_terminated() {
                        return None;
                    }
                }
                Err(_) => return None,
            }
        }
    }

    /// A new session after the old one ended: the entry again, the list again.
    async fn renew(&mut self) -> Option<zk::OneshotWatcher> {
        loop {
            if let Ok(client) = connect(&self.config).await {
                self.client = client;
                if let Ok(path) = create_client_entry(&self.client, &self.config, self.root, self.first_server).await {
                    *self.client_znode.lock().unwrap() = path;
                }
                if let Some(watcher) = self.reread(Moment::now()).await {
                    return Some(watcher);
                }
            }
            tokio::time::sleep(RECONNECT_PAUSE).await;
        }
    }

    /// Makes `names` the ring, recording an event when its nodes changed.
    fn apply(&self, seen: Moment, names: &[String]) {
        let next = ring_of(names);
        let current = self.ring.borrow().clone();
        if next.nodes() == current.nodes() {
            return;
        }
        let next = Arc::new(next);
        self.ring.send_replace(next.clone());
        self.events.lock().unwrap().push(event(seen, &current, &next));
    }
}

/// The ring of `cache_list` child names, each cut at its first `-`.
fn ring_of(names: &[String]) -> Ring {
    Ring::new(names.iter().map(|n| NodeName::parse(n).addr))
}

/// The event of a change from `before` to `after`, in place now.
fn event(seen: Moment, before: &Ring, after: &Ring) -> RingEvent {
    let at = Moment::now();
    let names = |ring: &Ring, other: &Ring| -> Vec<String> {
        ring.nodes().iter().filter(|n| !other.contains(n)).map(|n| n.to_string()).collect()
    };
    RingEvent {
        at,
        wall_ms: at.wall_ms(),
        seen,
        nodes: after.nodes().iter().map(|n| n.to_string()).collect(),
        added: names(after, before),
        removed: names(before, after),
    }
}

/// The ensemble's servers, resolved, each checked by the guard.
async fn ensemble_addrs(ensemble: &str, guard: &Guard) -> Result<Vec<SocketAddr>, ClientError> {
    // A connect string may end in a chroot (`/path`); the servers come before it.
    let servers = ensemble.split('/').next().unwrap_or_default();
    let mut addrs = Vec::new();
    for server in servers.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let resolved: Vec<SocketAddr> = match server.parse::<SocketAddr>() {
            Ok(addr) => vec![addr],
            Err(_) => tokio::net::lookup_host(server)
                .await
                .map_err(|e| ClientError::BadAddress { addr: server.to_string(), reason: e.to_string() })?
                .collect(),
        };
        for addr in resolved {
            guard.check("ZooKeeper server", addr)?;
            addrs.push(addr);
        }
    }
    if addrs.is_empty() {
        return Err(ClientError::BadAddress { addr: ensemble.to_string(), reason: "no server in it".to_string() });
    }
    Ok(addrs)
}

/// A session with the ensemble, within the session timeout (plus a second).
async fn connect(config: &ViewConfig) -> Result<zk::Client, ClientError> {
    let connector = zk::Client::connector().with_session_timeout(config.session_timeout);
    let deadline = config.session_timeout + Duration::from_secs(1);
    let what = format!("a session with {}", config.ensemble);
    match tokio::time::timeout(deadline, connector.connect(&config.ensemble)).await {
        Ok(Ok(client)) => Ok(client),
        Ok(Err(source)) => Err(ClientError::ZooKeeper { what, source }),
        Err(_) => Err(ClientError::Timeout { what, after: deadline }),
    }
}

/// `/arcus_repl` when `/arcus_repl/cache_list/<svc>` exists, else `/arcus` when
/// `/arcus/cache_list/<svc>` does, else "service code not found".
async fn service_root(client: &zk::Client, service: &str) -> Result<&'static str, ClientError> {
    for root in ["/arcus_repl", znode::ARCUS] {
        let path = format!("{root}/cache_list/{service}");
        let stat = client
            .check_stat(&path)
            .await
            .map_err(|source| ClientError::ZooKeeper { what: format!("exists {path}"), source })?;
        if stat.is_some() {
            return Ok(root);
        }
    }
    Err(ClientError::ServiceNotFound(service.to_string()))
}

/// Creates `client_list/<svc>/<hostname>_<ip>_<pool>_<lang>_<version>_<yyyyMMddHHmmss>_<session id>`
/// (ephemeral, empty); returns its path.
async fn create_client_entry(
    client: &zk::Client,
    config: &ViewConfig,
    root: &str,
    server: SocketAddr,
) -> Result<String, ClientError> {
    let hostname = nix::unistd::gethostname().ok().and_then(|h| h.into_string().ok()).unwrap_or_default();
    let ip = local_ip_towards(server).map(|ip| ip.to_string()).unwrap_or_else(|| "127.0.0.1".to_string());
    let stamp = jiff::Zoned::now().strftime("%Y%m%d%H%M%S").to_string();
    let session = client.session_id().0;
    let ViewConfig { service, pool, lang, version, .. } = config;
    let path = format!("{root}/client_list/{service}/{hostname}_{ip}_{pool}_{lang}_{version}_{stamp}_{session}");
    let options = zk::CreateMode::Ephemeral.with_acls(zk::Acls::anyone_all());
    client
        .create(&path, b"", &options)
        .await
        .map_err(|source| ClientError::ZooKeeper { what: format!("create {path}"), source })?;
    Ok(path)
}

/// The local address this machine uses towards `server` (a UDP socket's route; nothing is sent).
fn local_ip_towards(server: SocketAddr) -> Option<IpAddr> {
    let any: SocketAddr = if server.is_ipv4() { ([0, 0, 0, 0], 0).into() } else { ([0u16; 8], 0).into() };
    let socket = std::net::UdpSocket::bind(any).ok()?;
    socket.connect(server).ok()?;
    socket.local_addr().ok().map(|a| a.ip())
}

/// `cache_list/<svc>`'s children, with a watch.
async fn list_and_watch(client: &zk::Client, path: &str) -> Result<(Vec<String>, zk::OneshotWatcher), ClientError> {
    client
        .list_and_watch_children(path)
        .await
        .map_err(|source| ClientError::ZooKeeper { what: format!("children of {path}"), source })
}
