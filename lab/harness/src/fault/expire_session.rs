//! `expire-session`: one node's ZooKeeper session ends on the servers while the node lives and
//! stays connected, as when ZooKeeper itself expires it. ZooKeeper has no four-letter or admin
//! command that ends a session (JMX's `terminateSession` is off in the lab's JVMs), and cutting the
//! node's traffic for longer than its session is `cut-zk-ports` (which also takes its host's other
//! node). What ZooKeeper does offer: any client holding a session's id and password may attach to
//! it and close it, and a server derives a session's password from its id alone (ZooKeeper's
//! `generatePasswd`: 16 bytes of `java.util.Random` seeded with the id XOR `0xB3415C00`). So the
//! harness reads the session id from the node's ephemeral znode (`ephemeralOwner`), computes the
//! password, connects to a member with both (ZooKeeper's `ConnectRequest`) and sends
//! `closeSession`: the ensemble ends the session, deletes its ephemeral znode and drops the node's
//! connection; the node reconnects, is told the session expired and takes its expiry path
//! (contract section 5: failstop on, exit 75). In effect once the znode is gone. Nothing remains
//! for `heal` to undo.

use std::time::Duration;

use anyhow::{Context, Result};
use futures_util::future::BoxFuture;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{Env, Fault, Reach, Verb};
use crate::keys::{need, HostRef, KeyError, Keys};
use crate::lab::{HostName, Lab};
use crate::probe::zk::{self, SessionId, ZkSession};
use crate::timing::Timing;
use crate::wait;

pub const VERB: Verb = Verb {
    name: "expire-session",
    summary: "ZooKeeper ends the session of the node on `host`:`port` while it lives; returns once its znode is gone",
    keys: &[need("host", "the node's host"), need("port", "the node's port")],
    parse,
};

/// Where the nodes' znodes live.
const CACHE_LIST: &str = "/arcus/cache_list";
/// ZooKeeper's `superSecret`, XORed with a session id to seed its password.
const SUPER_SECRET: i64 = 0xB341_5C00;
/// ZooKeeper's opcode for closing a session.
const CLOSE_SESSION: i32 = -11;

#[derive(Debug)]
struct ExpireSession {
    host: HostRef,
    port: u16,
}

fn parse(keys: &Keys) -> Result<Box<dyn Fault>, KeyError> {
    Ok(Box::new(ExpireSession { host: keys.need("host")?, port: keys.need("port")? }))
}

impl Fault for ExpireSession {
    fn describe(&self) -> String {
        format!("expire-session {}:{}", self.host.as_written(), self.port)
    }

    fn apply<'a>(&'a self, env: &'a mut Env<'_>) -> BoxFuture<'a, Result<String>> {
        Box::pin(async move {
            let host = env.host(&self.host)?;
            let (path, session) = expire_session(env.lab, host, self.port, env.timing).await?;
            Ok(format!("ended session {session} of the node {host}:{}; {path} is gone", self.port))
        })
    }

    fn reach(&self, env: &Env<'_>) -> Result<Reach> {
        Ok(Reach { nodes: vec![(env.host(&self.host)?, self.port)], ..Reach::default() })
    }
}

/// `java.util.Random(seed).nextBytes(16)`: the password ZooKeeper gives session `id`.
pub fn session_password(id: i64) -> [u8; 16] {
    const MULTIPLIER: i64 = 0x5_DEEC_E66D;
    const MASK: i64 = (1 << 48) - 1;
    let mut seed = ((id ^ SUPER_SECRET) ^ MULTIPLIER) & MASK;
    let mut next_int = || {
        seed = (seed.wrapping_mul(MULTIPLIER).wrapping_add(0xB)) & MASK;
        (seed >> 16) as i32
    };
    let mut password = [0u8; 16];
    for chunk in password.chunks_mut(4) {
        let mut rnd = next_int();
        for byte in chunk {
            *byte = rnd as u8;
            rnd >>= 8;
        }
    }
    password
}

/// Ends the session of the node on `host`:`port`; returns its znode and session once the znode is
/// gone.
pub async fn expire_session(lab: &Lab, host: HostName, port: u16, timing: Timing) -> Result<(String, SessionId)> {
    let prefix = format!("{}:{port}-", lab.host(host)?.ip);
    let session = ZkSession::connect(lab, timing.in_effect()).await?;
    let tree = session.tree(CACHE_LIST).await?;
    let (path, owner) = tree
        .0
        .iter()
        .find_map(|z| {
            let name = z.path.rsplit('/').next()?;
            Some((z.path.clone(), z.owner?)).filter(|_| name.starts_with(&prefix))
        })
        .with_context(|| {
            format!("no ephemeral znode {prefix}* under {CACHE_LIST}: the node {host}:{port} is not in a cloud")
        })?;
    close_session(lab, owner, timing).await?;
    wait::until(&format!("{path} to be gone"), timing.in_effect(), wait::POLL, || async {
        match session.tree(&path).await {
            Ok(t) if t.0.is_empty() => Ok(()),
            Ok(_) => Err("still there".to_string()),
            Err(e) => Err(format!("{e:#}")),
        }
    })
    .await?;
    Ok((path, owner))
}

/// Attaches to `id` with its password on the first member that takes it, and closes it.
async fn close_session(lab: &Lab, id: SessionId, timing: Timing) -> Result<()> {
    let guard = lab.guard();
    let servers = zk::servers(lab);
    let what = format!("a ZooKeeper member to close session {id}");
    wait::until(&what, timing.in_effect(), wait::POLL, || async {
        let mut refused = Vec::new();
        for server in &servers {
            let attempt = async {
                let mut stream = guard.connect(server.addr).await?;
                stream.write_all(&connect_request(id)).await?;
                let reply = read_frame(&mut stream).await?;
                // protocolVersion, timeOut: a timeout of 0 means the session is not (or no longer) valid
                let timeout = i32::from_be_bytes(reply.get(4..8).context("short ConnectResponse")?.try_into()?);
                anyhow::ensure!(timeout > 0, "the server says session {id} is not valid");
                stream.write_all(&frame(&[1i32.to_be_bytes(), CLOSE_SESSION.to_be_bytes()].concat())).await?;
                let reply = read_frame(&mut stream).await?;
                // xid, zxid, err
                let err = i32::from_be_bytes(reply.get(12..16).context("short ReplyHeader")?.try_into()?);
                anyhow::ensure!(err == 0, "closeSession answered error {err}");
                anyhow::Ok(())
            };
            match tokio::time::timeout(Duration::from_secs(2), attempt).await {
                Ok(Ok(())) => return Ok(()),
                Ok(Err(e)) => refused.push(format!("{}: {e:#}", server.host)),
                Err(_) => refused.push(format!("{}: no answer within 2 s", server.host)),
            }
        }
        Err(refused.join("; "))
    })
    .await?;
    Ok(())
}

/// A ConnectRequest attaching to `id`: protocolVersion, lastZxidSeen, timeOut, sessionId, passwd,
/// readOnly.
fn connect_request(id: SessionId) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend(0i32.to_be_bytes());
    body.extend(0i64.to_be_bytes());
    body.extend(10_000i32.to_be_bytes());
    body.extend((id.0 as i64).to_be_bytes());
    body.extend(16i32.to_be_bytes());
    body.extend(session_password(id.0 as i64));
    body.push(0);
    frame(&body)
}

/// A length-prefixed frame, as ZooKeeper's wire protocol sends every packet.
fn frame(body: &[u8]) -> Vec<u8> {
    let mut out = (body.len() as i32).to_be_bytes().to_vec();
    out.extend(body);
    out
}

async fn read_frame(stream: &mut tokio::net::TcpStream) -> Result<Vec<u8>> {
    let len = stream.read_i32().await.context("read a frame's length")?;
    anyhow::ensure!((0..1 << 20).contains(&len), "a frame of {len} bytes");
    let mut body = vec![0; len as usize];
    stream.read_exact(&mut body).await.context("read a frame")?;
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_is_java_randoms_bytes_of_the_id_xor_the_secret() {
        // java.util.Random(42).nextInt() is -1170105035 (0xBA419D35, sent low byte first):
        // the id whose seed is 42 gives those four bytes first
        let password = session_password(42 ^ SUPER_SECRET);
        assert_eq!(password[..4], (-1170105035i32).to_le_bytes());
    }
}
