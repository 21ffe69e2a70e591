//! ZooKeeper membership (`-z`): the start sequence of arcus-memcached (local IP, hostname,
//! session, server mapping, ephemeral znode, cache_server_log entry, cache_list watch), the
//! session watcher (same session across server loss, expiry → exit 75 or pause), the znode
//! deletion pause, `zkensemble` requests and the graceful close.
//!
//! zookeeper-client declares a session `Expired` by itself after a long disconnection; only the
//! server's refusal of the old session (learnt by re-establishing it) counts as expiry here.

use std::ffi::CStr;
use std::net::{IpAddr, ToSocketAddrs, UdpSocket};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arcus_facts::znode;
use nix::sys::socket::{SockaddrLike, SockaddrStorage};
use thiserror::Error;
use tokio::sync::{mpsc, oneshot};
use zookeeper_client as zk;

use crate::state::{ClusterRequest, State};
use crate::{log, logv};

/// A start-up failure; its message was logged already.
#[derive(Debug, Error)]
pub enum StartError {
    #[error("no ensemble host is resolvable")]
    NoEnsembleHost,
    #[error("hostname longer than 128 bytes")]
    HostnameTooLong,
    #[error("ZooKeeper start-up failed")]
    Zk,
}

impl StartError {
    pub fn exit_code(&self) -> i32 {
        match self {
            StartError::NoEnsembleHost => 69,
            StartError::HostnameTooLong => 65,
            StartError::Zk => 76,
        }
    }
}

/// A failure while joining (start or rejoin), logged where it happens.
#[derive(Debug, Error)]
#[error("join failed")]
struct JoinFailed;

pub struct Config {
    pub ensemble: String,
    pub port: u16,
    pub memory_mb: u64,
    pub timeout: Duration,
    /// the raw `-o` value for the init line (0 if absent)
    pub raw_timeout: i64,
}

/// Who this node is in the tree.
struct Identity {
    ip: IpAddr,
    hostname: String,
    svc: String,
}

impl Identity {
    fn name(&self, port: u16) -> String {
        znode::node_name(self.ip, port, &self.hostname)
    }
}

/// The running membership: a task owning the session.
pub struct Cluster {
    close: mpsc::Sender<oneshot::Sender<()>>,
}

impl Cluster {
    /// Removes the znode and closes the session (graceful stop).
    pub async fn close(&self) {
        let (tx, rx) = oneshot::channel();
        if self.close.send(tx).await.is_ok() {
            let _ = rx.await;
        }
    }
}

/// Runs the start sequence; on success the node is a member and the watcher task runs.
pub async fn start(
    cfg: Config,
    state: Arc<State>,
    requests: mpsc::Receiver<(ClusterRequest, oneshot::Sender<Vec<u8>>)>,
) -> Result<Cluster, StartError> {
    log!("arcus_zk_init(ensemble={}, zk_timeout={})", cfg.ensemble, cfg.raw_timeout);
    crate::startup_log::heartbeat();
    let picked = tokio::task::spawn_blocking({
        let list = cfg.ensemble.clone();
        move || kernel_picked_ip(&list)
    })
    .await
    .ok()
    .flatten();
    let Some(picked) = picked else {
        log!("not able to connect any Ensemble server");
        return Err(StartError::NoEnsembleHost);
    };
    let ip = std::env::var("ARCUS_CACHE_PUBLIC_IP").ok().and_then(|s| s.parse().ok()).unwrap_or(picked);
    let hostname = match std::env::var("ARCUS_CACHE_HOSTNAME_OVERWRITE") {
        Ok(h) if !h.is_empty() => h,
        _ => tokio::task::spawn_blocking(move || reverse_lookup(picked))
            .await
            .ok()
            .flatten()
            .unwrap_or_else(system_hostname),
    };
    if hostname.len() > 128 {
        log!("hostname is too long: {hostname}");
        return Err(StartError::HostnameTooLong);
    }
    let Ok(client) = connect(&cfg.ensemble, cfg.timeout, None).await else {
        log!("cannot to be ZOO_CONNECTED_STATE");
        log!("Failed to initialize zk client");
        return Err(StartError::Zk);
    };
    let established = Instant::now();
    log_connected(&cfg.ensemble, &client);
    log!("ZooKeeper client initialized. (ZK session timeout={} sec)", client.session_timeout().as_secs());
    let zkst = state.zk.as_ref().expect("cluster runs only with -z");
    zkst.timeout_ms.store(client.session_timeout().as_millis() as u64, Ordering::Relaxed);
    zkst.connected.store(true, Ordering::Relaxed);
    let Ok(svc) = find_mapping(&client, ip, &hostname, cfg.port).await else {
        log!("Failed to check server mapping for this cache node. (zk_root={})", znode::ARCUS);
        return Err(StartError::Zk);
    };
    let me = Identity { ip, hostname, svc };
    let mut member = Member { cfg, state: state.clone(), me, client: Some(client), paused: false };
    if member.join("join", established).await.is_err() {
        return Err(StartError::Zk);
    }
    let watcher = member.watch_list(true).await;
    let (close_tx, close_rx) = mpsc::channel(1);
    tokio::spawn(member.run(watcher, requests, close_rx));
    Ok(Cluster { close: close_tx })
}

struct Member {
    cfg: Config,
    state: Arc<State>,
    me: Identity,
    /// None while paused
    client: Option<zk::Client>,
    paused: bool,
}

enum Event {
    Session(zk::SessionState),
    List(zk::WatchedEvent),
    Request(ClusterRequest, oneshot::Sender<Vec<u8>>),
    Close(oneshot::Sender<()>),
}

impl Member {
    fn znode(&self) -> String {
        format!("{}/{}", self.list_path(), self.me.name(self.cfg.port))
    }

    fn list_path(&self) -> String {
        znode::cache_list(&self.me.svc)
    }

    /// Creates the ephemeral znode and the log entry; logs the join line.
    async fn join(&mut self, kind: &str, since: Instant) -> Result<(), JoinFailed> {
        let client = self.client.as_ref().ok_or(JoinFailed)?;
        let path = self.znode();
        let data = format!("{}MB", self.cfg.memory_mb);
        let opts = zk::CreateMode::Ephemeral.with_acls(zk::Acls::anyone_all());
        match client.create(&path, data.as_bytes(), &opts).await {
            Ok((stat, _)) => log!("Joined Arcus cloud at {path}(ver={})", stat.version),
            Err(e) => {
                log!("cannot create znode {path}: error={}", zk_error(&e));
                log!("arcus_create_ephemeral_znode() failed.");
                return Err(JoinFailed);
            }
        }
        self.log_entry(kind).await;
        let took = since.elapsed().as_micros();
        let verb = if kind == "join" { "joined" } else { "rejoined" };
        log!("Memcached {verb} Arcus cache cloud for \"{}\" service (took {took} microsec)", self.me.svc);
        let zkst = self.state.zk.as_ref().expect("cluster runs only with -z");
        zkst.ready.store(true, Ordering::Relaxed);
        zkst.connected.store(true, Ordering::Relaxed);
        self.paused = false;
        self.state.serving.send_replace(true);
        Ok(())
    }

    /// `cache_server_log/<date>/<name>-NNNNNNNNNN` with "join"/"rejoin", only if the parent exists.
    async fn log_entry(&self, kind: &str) {
        let Some(client) = &self.client else { return };
        let parent = znode::CACHE_SERVER_LOG;
        if !matches!(client.check_stat(parent).await, Ok(Some(_))) {
            return;
        }
        let persistent = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
        let day = format!("{parent}/{}", local_date());
        match client.create(&day, b"", &persistent).await {
            Ok(_) | Err(zk::Error::NodeExists) => {}
            Err(e) => return log!("cannot create znode {day}: error={}", zk_error(&e)),
        }
        let entry = format!("{day}/{}-", self.me.name(self.cfg.port));
        let seq = zk::CreateMode::PersistentSequential.with_acls(zk::Acls::anyone_all());
        if let Err(e) = client.create(&entry, kind.as_bytes(), &seq).await {
            log!("cannot create znode {entry}: error={}", zk_error(&e));
        }
    }

    /// Reads cache_list/<svc> (with a watch), logs the members; pauses if the own znode or the
    /// list itself is gone.
    async fn watch_list(&mut self, first: bool) -> Option<zk::OneshotWatcher> {
        let client = self.client.as_ref()?;
        let path = self.list_path();
        match client.get_and_watch_children(&path).await {
            Ok((mut children, _, watcher)) => {
                children.sort();
                log!("update cluster config. (count={})", children.len());
                for (i, c) in children.iter().enumerate() {
                    logv!("server[{i}] = {c}");
                }
                if first {
                    log!("Memcached is watching Arcus cache cloud for \"{path}\"");
                }
                if !self.paused && !children.contains(&self.me.name(self.cfg.port)) {
                    log!("My ephemeral znode in cache_list is deleted. Please check and rejoin.");
                    self.pause();
                    return None;
                }
                Some(watcher)
            }
            Err(e) => {
                log!("Failed to reload cache_list in zpath={path}: error={}", zk_error(&e));
                if matches!(e, zk::Error::NoNode) {
                    self.pause();
                }
                None
            }
        }
    }

    /// Leaves the cloud but keeps serving: the session is closed.
    fn pause(&mut self) {
        self.paused = true;
        let zkst = self.state.zk.as_ref().expect("cluster runs only with -z");
        zkst.ready.store(false, Ordering::Relaxed);
        zkst.connected.store(false, Ordering::Relaxed);
        self.client = None;
        log!("zk connection closed by mc_pause.");
    }

    async fn run(
        mut self,
        watcher: Option<zk::OneshotWatcher>,
        mut requests: mpsc::Receiver<(ClusterRequest, oneshot::Sender<Vec<u8>>)>,
        mut close: mpsc::Receiver<oneshot::Sender<()>>,
    ) {
        let mut states = self.client.as_ref().map(|c| c.state_watcher());
        // the pending list watch, kept across loop turns (a oneshot watcher is consumed by waiting)
        let mut list = watcher.map(watch_future);
        loop {
            let event = tokio::select! {
                s = async { states.as_mut().expect("guarded").changed().await }, if states.is_some() => Event::Session(s),
                e = async { list.as_mut().expect("guarded").await }, if list.is_some() => Event::List(e),
                Some((r, tx)) = requests.recv() => Event::Request(r, tx),
                Some(tx) = close.recv() => Event::Close(tx),
            };
            match event {
                Event::Session(zk::SessionState::Disconnected) => log!("ZOO_SESSION_EVENT Connecting."),
                Event::Session(zk::SessionState::SyncConnected | zk::SessionState::ConnectedReadOnly) => {
                    if let Some(c) = &self.client {
                        log_connected(&self.cfg.ensemble, c);
                    }
                    // every reconnect re-reads the list; the pending watch stays registered
                    self.reread_list().await;
                }
                Event::Session(zk::SessionState::AuthFailed) => {
                    log!("ZOO_SESSION_EVENT AuthFailed. shutting down");
                    log!("shutting down");
                    std::process::exit(77);
                }
                Event::Session(_) => {
                    // Expired or Closed as the crate sees it: only the server can say expired
                    states = None;
                    list = None;
                    if self.reestablish().await {
                        states = self.client.as_ref().map(|c| c.state_watcher());
                        list = self.watch_list(false).await.map(watch_future);
                    }
                }
                Event::List(e) => {
                    list = None;
                    if e.event_type == zk::EventType::Session {
                        // the session behind this watch ended; the session branch handles it
                        continue;
                    }
                    log!("ZOO_CHILD_EVENT from ZK cache list: state=3, path={}", e.path);
                    list = self.watch_list(false).await.map(watch_future);
                }
                Event::Request(ClusterRequest::Rejoin, tx) => {
                    let (reply, rejoined) = self.rejoin().await;
                    if rejoined {
                        states = self.client.as_ref().map(|c| c.state_watcher());
                        list = self.watch_list(true).await.map(watch_future);
                    }
                    let _ = tx.send(reply);
                }
                Event::Request(ClusterRequest::SetEnsemble(l), tx) => {
                    let _ = tx.send(self.set_ensemble(l));
                }
                Event::Close(tx) => {
                    self.close().await;
                    let _ = tx.send(());
                    return;
                }
            }
            if self.paused {
                states = None;
                list = None;
            }
        }
    }

    async fn reread_list(&mut self) {
        let Some(client) = &self.client else { return };
        match client.list_children(&self.list_path()).await {
            Ok(mut children) => {
                children.sort();
                log!("update cluster config. (count={})", children.len());
                for (i, c) in children.iter().enumerate() {
                    logv!("server[{i}] = {c}");
                }
            }
            Err(e) => log!("Failed to reload cache_list in zpath={}: error={}", self.list_path(), zk_error(&e)),
        }
    }

    /// The crate gave the session up; ask the servers for it again until one answers.
    /// Returns true with the same session back, false after a real expiry (paused, or exited).
    async fn reestablish(&mut self) -> bool {
        let Some(old) = self.client.take() else { return false };
        let info = old.session().clone();
        drop(old);
        let zkst = self.state.zk.as_ref().expect("cluster runs only with -z");
        loop {
            match connect(&self.cfg.ensemble, self.cfg.timeout, Some(info.clone())).await {
                Ok(client) => {
                    log_connected(&self.cfg.ensemble, &client);
                    self.client = Some(client);
                    return true;
                }
                Err(zk::Error::SessionExpired) => break,
                // no server answered within the session timeout: the session may still live
                Err(_) => continue,
            }
        }
        if zkst.failstop.load(Ordering::Relaxed) {
            log!("ZOO_SESSION_EVENT Expired. shutting down");
            log!("shutting down");
            std::process::exit(75);
        }
        log!("ZOO_SESSION_EVENT Expired. pausing memcached (zk_failstop: off)");
        self.pause();
        false
    }

    /// `zkensemble rejoin`: the reply, and whether the node is a member again.
    async fn rejoin(&mut self) -> (Vec<u8>, bool) {
        const FAILED: &[u8] = b"ERROR failed to rejoin ensemble\r\n";
        if !self.paused {
            log!("Failed to rejoin ensemble. It's already a member of cloud.");
            return (FAILED.to_vec(), false);
        }
        let since = Instant::now();
        let Ok(client) = connect(&self.cfg.ensemble, self.cfg.timeout, None).await else {
            log!("cannot to be ZOO_CONNECTED_STATE");
            return (FAILED.to_vec(), false);
        };
        log_connected(&self.cfg.ensemble, &client);
        let zkst = self.state.zk.as_ref().expect("cluster runs only with -z");
        zkst.timeout_ms.store(client.session_timeout().as_millis() as u64, Ordering::Relaxed);
        self.client = Some(client);
        if self.join("rejoin", since).await.is_err() {
            self.client = None;
            return (FAILED.to_vec(), false);
        }
        (b"Successfully rejoined\r\n".to_vec(), true)
    }

    fn set_ensemble(&mut self, list: String) -> Vec<u8> {
        let valid = !list.is_empty()
            && list
                .split(',')
                .all(|hp| hp.rsplit_once(':').is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok()));
        if !valid {
            log!("Invalid ensemble address: {list}");
            return b"ERROR failed to set the new ensemble address (check logs)\r\n".to_vec();
        }
        log!("Successfully changed the ensemble address to {list}; used from the next session on.");
        *self.state.zk.as_ref().expect("cluster runs only with -z").ensemble.lock().unwrap() = list.clone();
        self.cfg.ensemble = list;
        b"OK\r\n".to_vec()
    }

    async fn close(&mut self) {
        log!("arcus_zk_final(graceful shutdown)");
        log!("zk threads terminated");
        if let Some(client) = self.client.take() {
            let path = self.znode();
            if !self.paused {
                if let Err(e) = client.delete(&path, None).await {
                    logv!("cannot delete znode {path}: error={}", zk_error(&e));
                }
            }
            drop(client);
        }
        log!("zk connection closed");
    }
}

type WatchFuture = std::pin::Pin<Box<dyn std::future::Future<Output = zk::WatchedEvent> + Send>>;

fn watch_future(w: zk::OneshotWatcher) -> WatchFuture {
    Box::pin(w.changed())
}

/// Connects (or re-establishes `session`) with a deadline of the session timeout.
async fn connect(ensemble: &str, timeout: Duration, session: Option<zk::SessionInfo>) -> Result<zk::Client, zk::Error> {
    let mut connector = zk::Client::connector().with_session_timeout(timeout);
    if let Some(info) = session {
        connector = connector.with_session(info);
    }
    match tokio::time::timeout(timeout + Duration::from_secs(1), connector.connect(ensemble)).await {
        Ok(result) => result,
        Err(_) => Err(zk::Error::Timeout),
    }
}

fn log_connected(ensemble: &str, client: &zk::Client) {
    let ports: Vec<u16> = ensemble.split(',').filter_map(|hp| hp.rsplit_once(':')?.1.parse().ok()).collect();
    let server = connected_server(&ports).map(|addr| addr.to_string()).unwrap_or_else(|| {
        // no socket found (it closed meanwhile): the first server of the list, resolved
        let first = ensemble.split(',').next().unwrap_or_default();
        first.to_socket_addrs().ok().and_then(|mut a| a.next()).map_or(first.to_string(), |a| a.to_string())
    });
    log!("ZOO_SESSION_EVENT Connected. server={server}, session_id={:#x}", client.session_id().0);
}

/// The server this process's ZooKeeper session is connected to, as arcus-memcached names it
/// (its resolved address): the remote end of this process's own established TCP socket to one of
/// the ensemble's ports. zookeeper-client does not say which server it picked; /proc does.
fn connected_server(ports: &[u16]) -> Option<std::net::SocketAddr> {
    let own_sockets: std::collections::HashSet<u64> = std::fs::read_dir("/proc/self/fd")
        .ok()?
        .filter_map(|entry| std::fs::read_link(entry.ok()?.path()).ok())
        .filter_map(|target| target.to_str()?.strip_prefix("socket:[")?.strip_suffix(']')?.parse().ok())
        .collect();
    for table in ["/proc/self/net/tcp", "/proc/self/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else { continue };
        // sl local_address rem_address st ... inode (the tenth field); st 01 = ESTABLISHED
        for fields in text.lines().skip(1).map(|l| l.split_whitespace().collect::<Vec<_>>()) {
            if fields.len() < 10 || fields[3] != "01" {
                continue;
            }
            if !fields[9].parse().is_ok_and(|inode: u64| own_sockets.contains(&inode)) {
                continue;
            }
            if let Some(remote) = proc_net_address(fields[2]).filter(|a| ports.contains(&a.port())) {
                return Some(remote);
            }
        }
    }
    None
}

/// `0B07D50A:0885` (IPv4) or 32 hex digits (IPv6, four host-order words) and a port, as
/// /proc/net/tcp{,6} write them; an IPv4-mapped IPv6 address comes back as IPv4.
fn proc_net_address(text: &str) -> Option<std::net::SocketAddr> {
    let (ip, port) = text.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let word = |hex: &str| u32::from_str_radix(hex, 16).ok().map(u32::to_le_bytes);
    let ip: IpAddr = match ip.len() {
        8 => std::net::Ipv4Addr::from(word(ip)?).into(),
        32 => {
            let mut bytes = [0u8; 16];
            for (i, chunk) in bytes.chunks_mut(4).enumerate() {
                chunk.copy_from_slice(&word(&ip[i * 8..i * 8 + 8])?);
            }
            let v6 = std::net::Ipv6Addr::from(bytes);
            v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4)
        }
        _ => return None,
    };
    Some(std::net::SocketAddr::new(ip, port))
}

/// Mapping lookup: `<ip>:<port>`, `<hostname>:<port>`, `<ip>`; returns the service code.
async fn find_mapping(client: &zk::Client, ip: IpAddr, hostname: &str, port: u16) -> Result<String, JoinFailed> {
    let candidates = [
        znode::mapping(&format!("{ip}:{port}")),
        znode::mapping(&format!("{hostname}:{port}")),
        znode::mapping(&ip.to_string()),
    ];
    let mut last = String::new();
    for (i, path) in candidates.iter().enumerate() {
        if i == 2 {
            log!("Recheck the server mapping without port number. zpath={path}");
        }
        match client.list_children(path).await {
            Ok(children) if children.len() == 1 => {
                log!("Found the valid server mapping. service_code={}", children[0]);
                return Ok(children[0].clone());
            }
            Ok(children) => {
                log!("The server mapping exists but has {}(!= 1) mapping znodes. zpath={path}", children.len());
                return Err(JoinFailed);
            }
            Err(zk::Error::NoNode) => last = path.clone(),
            Err(e) => {
                log!("Failed to read the server mapping. zpath={path} error={}", zk_error(&e));
                return Err(JoinFailed);
            }
        }
    }
    log!("Failed to read the server mapping. zpath={last} error=-101(no node)");
    Err(JoinFailed)
}

/// The C client's error code and text for the errors the node reports.
fn zk_error(e: &zk::Error) -> String {
    match e {
        zk::Error::NoNode => "-101(no node)".into(),
        zk::Error::NodeExists => "-110(node exists)".into(),
        zk::Error::NoChildrenForEphemerals => "-108(no children for ephemerals)".into(),
        zk::Error::SessionExpired => "-112(session expired)".into(),
        zk::Error::ConnectionLoss => "-4(connection loss)".into(),
        zk::Error::Timeout => "-7(operation timeout)".into(),
        other => format!("-1({other})"),
    }
}

/// The source address the kernel picks towards the first resolvable ensemble host (port 514,
/// nothing is sent).
fn kernel_picked_ip(ensemble: &str) -> Option<IpAddr> {
    ensemble.split(',').filter(|e| !e.trim().is_empty()).find_map(|entry| {
        let host = entry.trim().rsplit_once(':').map_or(entry.trim(), |(h, _)| h);
        let addr = (host, 514).to_socket_addrs().ok()?.next()?;
        let sock = UdpSocket::bind(if addr.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" }).ok()?;
        sock.connect(addr).ok()?;
        Some(sock.local_addr().ok()?.ip())
    })
}

/// The name the resolver gives `ip` (getnameinfo with NI_NAMEREQD: no numeric fallback).
fn reverse_lookup(ip: IpAddr) -> Option<String> {
    let sa = SockaddrStorage::from(std::net::SocketAddr::new(ip, 0));
    let mut host = [0u8; 1025];
    // Neither std nor nix has a reverse lookup (std resolves names to addresses only), so this
    // one call stays on libc.
    // SAFETY: `sa` holds a valid sockaddr of `sa.len()` bytes; `host` is writable for its length
    // and no service buffer is passed.
    let rc = unsafe {
        libc::getnameinfo(
            sa.as_ptr(),
            sa.len(),
            host.as_mut_ptr().cast::<libc::c_char>(),
            host.len() as libc::socklen_t,
            std::ptr::null_mut(),
            0,
            libc::NI_NAMEREQD,
        )
    };
    if rc != 0 {
        return None;
    }
    Some(CStr::from_bytes_until_nul(&host).ok()?.to_string_lossy().into_owned())
}

fn system_hostname() -> String {
    nix::unistd::gethostname().map_or_else(|_| "localhost".into(), |name| name.to_string_lossy().into_owned())
}

/// Today's local date as YYYY-MM-DD.
fn local_date() -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let t = now as libc::time_t;
    // Neither std nor nix converts a time to the local calendar (time zone included): localtime_r
    // stays on libc.
    // SAFETY: localtime_r reads `t` and writes only into the `tm` passed; an all-zero `tm` is valid.
    let tm = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        libc::localtime_r(&t, &mut tm);
        tm
    };
    format!("{:04}-{:02}-{:02}", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_net_addresses_read_as_the_kernel_writes_them() {
        assert_eq!(proc_net_address("0B07D50A:0885"), Some("10.213.7.11:2181".parse().unwrap()));
        assert_eq!(
            proc_net_address("0000000000000000FFFF00000B07D50A:0885"),
            Some("10.213.7.11:2181".parse().unwrap())
        );
        assert_eq!(proc_net_address("00000000000000000000000001000000:2B67"), Some("[::1]:11111".parse().unwrap()));
        assert_eq!(proc_net_address("nonsense"), None);
    }
}
