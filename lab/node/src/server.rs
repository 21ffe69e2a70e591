//! The TCP side: binding the listener, accepting within the connection limit, and each
//! connection's read-parse-reply loop (pipelined: replies are written once the buffer is parsed).

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::oneshot;

use crate::protocol::{self, Step};
use crate::state::{bump, State};

const READ_CHUNK: usize = 16 * 1024;

/// Binds and listens with memcached's options (address reuse, the `-b` backlog): on `ip` if
/// `-l` gave one, else on every IPv4 and (where the host has IPv6) every IPv6 address, one socket
/// each, as memcached's passive getaddrinfo does.
pub fn bind(ip: Option<IpAddr>, port: u16, backlog: u32) -> io::Result<Vec<TcpListener>> {
    let Some(ip) = ip else {
        let mut listeners = vec![bind_one(SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), port), backlog)?];
        match bind_one(SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), port), backlog) {
            Ok(v6) => listeners.push(v6),
            // no IPv6 on this host: IPv4 only, as getaddrinfo would answer
            Err(e) if e.raw_os_error() == Some(nix::libc::EAFNOSUPPORT) || e.kind() == io::ErrorKind::AddrNotAvailable => {}
            Err(e) => return Err(e),
        }
        return Ok(listeners);
    };
    Ok(vec![bind_one(SocketAddr::new(ip, port), backlog)?])
}

fn bind_one(addr: SocketAddr, backlog: u32) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    if addr.is_ipv6() {
        // the IPv4 socket has the IPv4 addresses: this one only IPv6's
        nix::sys::socket::setsockopt(&socket, nix::sys::socket::sockopt::Ipv6V6Only, &true)?;
    }
    socket.bind(addr)?;
    socket.listen(backlog)
}

/// Accepts connections on every listener until the task is dropped.
pub async fn accept_loop(listeners: Vec<TcpListener>, state: Arc<State>) {
    let mut loops = tokio::task::JoinSet::new();
    for listener in listeners {
        loops.spawn(accept_on(listener, state.clone()));
    }
    while loops.join_next().await.is_some() {}
}

async fn accept_on(listener: TcpListener, state: Arc<State>) {
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
        let state = state.clone();
        tokio::spawn(async move {
            let _ = serve(stream, &state).await;
            state.counters.curr_conns.fetch_sub(1, Ordering::Relaxed);
        });
    }
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
