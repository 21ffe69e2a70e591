//! The `wait` step: poll a condition until it holds, within the step's `timeout` or the timing
//! profile's deadline; the wait's duration goes into the run's events.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Result;

use super::mc;
use super::runner::Ctx;
use super::Condition;
use crate::zk::{self, ZkSession};
use crate::{fault, wait};

/// Returns what was seen when the condition held.
pub(super) async fn run(ctx: &Ctx<'_>, condition: &Condition, deadline: Duration) -> Result<String> {
    match condition {
        Condition::ZkQuorum => quorum(ctx, None, deadline).await,
        Condition::ZkNewLeader { old } => {
            let old = ctx.host(old)?;
            quorum(ctx, Some(&old), deadline).await
        }
        Condition::ZkMode { host, mode } => {
            let host = ctx.host(host)?;
            let ip = ctx.lab.host(&host)?.ip;
            let guard = ctx.lab.guard();
            let addr = SocketAddr::new(ip.into(), zk::CLIENT_PORT);
            let what = format!("ZooKeeper on {host} to serve as {mode}");
            wait::until(&what, deadline, Duration::from_millis(100), || async {
                match zk::mode(&guard, addr).await {
                    Some(m) if m == *mode => Ok(()),
                    other => Err(other.unwrap_or_else(|| "not serving".into())),
                }
            })
            .await?;
            Ok(format!("{host}: {mode}"))
        }
        Condition::Reply { host, port, send, until } => {
            let host = ctx.host(host)?;
            let send = ctx.render(send)?;
            let what = format!("{until} from the node {host}:{port} to {send:?}");
            let seen = wait::until(&what, deadline, Duration::from_millis(100), || async {
                match mc::run(ctx, &host, *port, &send).await {
                    Ok(o) if o.raw.lines().any(|l| l == format!("< {until}")) => Ok(o.raw),
                    Ok(o) => Err(o.raw),
                    Err(e) => Err(format!("{e:#}")),
                }
            })
            .await?;
            Ok(seen)
        }
        Condition::NodeExited { host, port } => {
            let host = ctx.host(host)?;
            let what = format!("the cache node {host}:{port} to exit");
            wait::until(&what, deadline, Duration::from_millis(100), || async {
                match fault::node_pids(ctx.lab, &host, *port).await {
                    Ok(pids) if pids.is_empty() => Ok(()),
                    Ok(pids) => Err(format!("still running: pid {pids:?}")),
                    Err(e) => Err(format!("{e:#}")),
                }
            })
            .await?;
            Ok(format!("{host}:{port} exited"))
        }
        Condition::Children { path, count } => {
            let path = ctx.render(path)?;
            let session = ZkSession::connect(ctx.lab, deadline).await?;
            let children = session.wait_children(&path, *count, deadline).await?;
            Ok(format!("{path}: {}", children.join(", ")))
        }
    }
}

/// Waits for one leader and a serving majority, the leader not on `not_on` when given (that host
/// must not lead either); returns every server's mode as seen then.
async fn quorum(ctx: &Ctx<'_>, not_on: Option<&str>, deadline: Duration) -> Result<String> {
    let guard = ctx.lab.guard();
    let servers = zk::servers(ctx.lab);
    let what = match not_on {
        Some(old) => format!("a ZooKeeper leader other than {old} and a serving majority"),
        None => "a ZooKeeper leader and a serving majority".to_string(),
    };
    Ok(wait::until(&what, deadline, Duration::from_millis(100), || async {
        let modes = zk::modes(&guard, &servers).await;
        let leaders: Vec<&str> =
            modes.iter().filter(|(_, m)| m.as_deref() == Some("leader")).map(|(n, _)| n.as_str()).collect();
        let serving = modes.iter().filter(|(_, m)| m.is_some()).count();
        let new_leader = match not_on {
            Some(old) => leaders.len() == 1 && leaders[0] != old,
            None => leaders.len() == 1,
        };
        let shown = zk::show_modes(&modes);
        if new_leader && serving * 2 > servers.len() {
            Ok(shown)
        } else {
            Err(shown)
        }
    })
    .await?)
}
