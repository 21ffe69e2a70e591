//! The `bind` step: look a value up in the lab (the ZooKeeper leader's or a follower's host, a
//! host's address) and bind it to a name that later steps use as `$name`.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Result;

use super::runner::Ctx;
use super::Binding;
use crate::{wait, zk};

/// Returns the bound value.
pub(super) async fn run(ctx: &mut Ctx<'_>, what: &Binding, name: &str) -> Result<String> {
    let value = match what {
        Binding::Ip { host } => {
            let host = ctx.host(host)?;
            ctx.lab.host(&host)?.ip.to_string()
        }
        Binding::ZkLeader => zk::wait_leader(ctx.lab, ctx.deadline).await?,
        Binding::ZkFollower => first_follower(ctx).await?,
    };
    ctx.bound.insert(name.to_string(), value.clone());
    Ok(value)
}

/// The first host, by name, whose ZooKeeper server says `follower`.
async fn first_follower(ctx: &Ctx<'_>) -> Result<String> {
    let guard = ctx.lab.guard();
    let hosts: Vec<(String, SocketAddr)> = ctx
        .lab
        .hosts
        .iter()
        .filter(|h| h.name != "arcus")
        .map(|h| (h.name.clone(), SocketAddr::new(h.ip.into(), zk::CLIENT_PORT)))
        .collect();
    Ok(wait::until("a ZooKeeper follower in the lab", ctx.deadline, Duration::from_millis(100), || async {
        let mut seen = Vec::new();
        for (name, addr) in &hosts {
            let mode = zk::mode(&guard, *addr).await;
            if mode.as_deref() == Some("follower") {
                return Ok(name.clone());
            }
            seen.push(format!("{name}: {}", mode.unwrap_or_else(|| "not serving".into())));
        }
        Err(seen.join(", "))
    })
    .await?)
}
