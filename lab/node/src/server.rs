//! The TCP side: the listening sockets as memcached opens them for `-l` and `-p`, accepting
//! within the connection limit and handing each connection to a worker thread, and each
//! connection's read-parse-reply loop (pipelined: replies are written once the buffer is parsed).

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use nix::sys::socket::{setsockopt, sockopt::Ipv6V6Only};
use thiserror::Error;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinSet;

use crate::cli::{self, Args};
use crate::protocol::{self, Step};
use crate::state::{bump, State};
use crate::workers::Workers;

const READ_CHUNK: usize = 16 * 1024;

/// Why the listening sockets could not be opened; each is logged before `failed to listen ...`.
#[derive(Debug, Error)]
pub enum ListenError {
    /// getaddrinfo found nothing for the interface or the port: its text, errno 0
    #[error("getaddrinfo(): {0}")]
    Resolve(String),
    /// bind(2) refused one of the addresses
    #[error("bind() error({addr}:{port}): {}", strerror(.error))]
    Bind { addr: IpAddr, port: i32, error: io::Error },
    /// listen(2) refused it
    #[error("listen({addr}:{port}): {}", strerror(.error))]
    Listen { addr: IpAddr, port: i32, error: io::Error },
    /// no address gave a socket at all
    #[error("no socket for any address of the interface: {}", strerror(.0))]
    NoSocket(io::Error),
}

impl ListenError {
    /// Logs this failure as memcached does, then `failed to listen on <transport> port <n>: <errno
    /// text>` and `shutting down`; returns the exit code, 71.
    pub fn log_failure(&self, transport: &str, port: i32) -> i32 {
        let errno = match self {
            // errno is still 0 then: strerror(0)
            ListenError::Resolve(_) => "Success".to_string(),
            ListenError::Bind { error, .. } | ListenError::Listen { error, .. } | ListenError::NoSocket(error) => {
                strerror(error)
            }
        };
        crate::log!("{self}");
        crate::log!("failed to listen on {transport} port {port}: {errno}");
        crate::log!("shutting down");
        71
    }
}

/// strerror(3)'s text for an OS error: io::Error's Display is the C library's text followed by
/// " (os error N)".
pub fn strerror(error: &io::Error) -> String {
    let text = error.to_string();
    match error.raw_os_error() {
        Some(n) => text.strip_suffix(&format!(" (os error {n})")).unwrap_or(&text).to_string(),
        None => text,
    }
}

/// The TCP listening sockets for `-l` and `-p`, as memcached opens them: none for port 0; else
/// every address getaddrinfo gives for the interface (without `-l`: 0.0.0.0 and ::, the IPv6 one
/// IPv6-only), each with address reuse, keep-alive, no delay and the `-b` backlog. A port the
/// kernel picks (`-p -1`, `-p 65536`) is logged with the port it picked.
pub fn listen(args: &Args) -> Result<Vec<TcpListener>, ListenError> {
    if args.port == 0 {
        return Ok(Vec::new());
    }
    let port = cli::listen_port(args.port).ok_or_else(|| ListenError::Resolve(cli::NO_SUCH_SERVICE.into()))?;
    let addrs = interface_addrs(args.listen.as_deref())?;
    let mut listeners = Vec::new();
    let mut last_socket_error = None;
    for ip in addrs {
        let socket = match open_socket(ip) {
            Ok(socket) => socket,
            Err(e) => {
                // getaddrinfo may give addresses this host has no socket for: skip them
                last_socket_error = Some(e);
                continue;
            }
        };
        let error = |error| ListenError::Bind { addr: ip, port: args.port, error };
        socket.bind(SocketAddr::new(ip, port)).map_err(error)?;
        let listener = socket.listen(args.backlog as u32).map_err(|error| ListenError::Listen {
            addr: ip,
            port: args.port,
            error,
        })?;
        if port == 0 {
            if let Ok(local) = listener.local_addr() {
                crate::log!("-p {} listens on {local}, a port the kernel chose", args.port);
            }
        }
        listeners.push(listener);
    }
    match (listeners.is_empty(), last_socket_error) {
        (true, Some(e)) => Err(ListenError::NoSocket(e)),
        _ => Ok(listeners),
    }
}

/// memcached resolves the UDP port the same way before it opens its UDP sockets (UDP is not
/// served here, so nothing is opened): a port getaddrinfo has no service for is the same failure.
pub fn check_udp_port(args: &Args) -> Result<(), ListenError> {
    if args.udp_port != 0 && cli::listen_port(args.udp_port).is_none() {
        return Err(ListenError::Resolve(cli::NO_SUCH_SERVICE.into()));
    }
    Ok(())
}

/// getaddrinfo's passive addresses: the wildcards without `-l`, else those of the name.
fn interface_addrs(interface: Option<&str>) -> Result<Vec<IpAddr>, ListenError> {
    let Some(name) = interface else {
        return Ok(vec![IpAddr::V4(Ipv4Addr::UNSPECIFIED), IpAddr::V6(Ipv6Addr::UNSPECIFIED)]);
    };
    let found = (name, 0).to_socket_addrs().map_err(|e| {
        // std words a lookup failure "failed to lookup address information: <gai_strerror>"
        let text = e.to_string();
        ListenError::Resolve(text.split_once(": ").map_or(text.clone(), |(_, gai)| gai.to_string()))
    })?;
    let mut addrs: Vec<IpAddr> = Vec::new();
    for addr in found {
        if !addrs.contains(&addr.ip()) {
            addrs.push(addr.ip());
        }
    }
    Ok(addrs)
}

fn open_socket(ip: IpAddr) -> io::Result<TcpSocket> {
    let socket = if ip.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
    if ip.is_ipv6() {
        setsockopt(&socket, Ipv6V6Only, &true)?;
    }
    socket.set_reuseaddr(true)?;
    // memcached sets these and goes on if they fail
    let _ = socket.set_keepalive(true);
    let _ = socket.set_nodelay(true);
    Ok(socket)
}

/// Accepts on every listener until the task is dropped, handing each connection to a worker.
pub async fn accept_loop(listeners: Vec<TcpListener>, state: Arc<State>, workers: Arc<Workers>) {
    let mut acceptors = JoinSet::new();
    for listener in listeners {
        acceptors.spawn(accept_on(listener, state.clone(), workers.clone()));
    }
    while acceptors.join_next().await.is_some() {}
    // without a listener (-p 0) there is nothing to accept: wait to be dropped
    std::future::pending::<()>().await;
}

async fn accept_on(listener: TcpListener, state: Arc<State>, workers: Arc<Workers>) {
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(conn) => conn,
            Err(e) => {
                // out of descriptors and the like: memcached logs and goes on accepting
                crate::logv!("accept() failed: {e}");
                tokio::task::yield_now().await;
                continue;
            }
        };
        let c = &state.counters;
        if c.curr_conns.load(Ordering::Relaxed) >= state.settings.max_conns {
            bump(&c.rejected_conns);
            tokio::spawn(async move {
                let mut stream = stream;
                let _ = stream.write_all(b"ERROR Too many open connections\r\n").await;
            });
            continue;
        }
        c.curr_conns.fetch_add(1, Ordering::Relaxed);
        bump(&c.total_conns);
        let handed = stream.into_std().is_ok_and(|stream| workers.hand(stream));
        if !handed {
            c.curr_conns.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// Serves one connection until it closes, then counts it gone.
pub async fn serve_counted(stream: TcpStream, state: Arc<State>) {
    let _ = serve(stream, &state).await;
    state.counters.curr_conns.fetch_sub(1, Ordering::Relaxed);
}

async fn serve(mut stream: TcpStream, state: &State) -> io::Result<()> {
    stream.set_nodelay(true)?;
    // no command is answered before the node has joined its cloud
    let mut serving = state.serving.subscribe();
    if serving.wait_for(|s| *s).await.is_err() {
        return Ok(());
    }
    let mut conn = protocol::Conn::default();
    let mut buf: Vec<u8> = Vec::with_capacity(READ_CHUNK);
    let mut out: Vec<u8> = Vec::with_capacity(READ_CHUNK);
    let mut start = 0;
    loop {
        let mut need = 0;
        while start < buf.len() {
            match protocol::step(&mut conn, &buf[start..], state, &mut out) {
                Step::Done(n) => start += n,
                Step::More(n) => {
                    need = n;
                    break;
                }
                Step::Cluster(n, req) => {
                    start += n;
                    out.extend_from_slice(&cluster_request(state, req).await);
                }
                Step::Close => {
                    stream.write_all(&out).await?;
                    return Ok(());
                }
            }
        }
        if !out.is_empty() {
            stream.write_all(&out).await?;
            out.clear();
            if out.capacity() > 4 * READ_CHUNK {
                out.shrink_to(READ_CHUNK);
            }
        }
        if start == buf.len() {
            buf.clear();
            if buf.capacity() > 4 * READ_CHUNK {
                buf.shrink_to(READ_CHUNK);
            }
        } else if start > 0 {
            buf.drain(..start);
        }
        start = 0;
        buf.reserve(need.saturating_sub(buf.len()).max(READ_CHUNK));
        if stream.read_buf(&mut buf).await? == 0 {
            return Ok(());
        }
    }
}

async fn cluster_request(state: &State, req: crate::state::ClusterRequest) -> Vec<u8> {
    let Some(zk) = &state.zk else {
        return b"ERROR not using ZooKeeper\r\n".to_vec();
    };
    let (tx, rx) = oneshot::channel();
    if zk.requests.send((req, tx)).await.is_err() {
        return b"SERVER_ERROR cluster task gone\r\n".to_vec();
    }
    rx.await.unwrap_or_else(|_| b"SERVER_ERROR cluster task gone\r\n".to_vec())
}
