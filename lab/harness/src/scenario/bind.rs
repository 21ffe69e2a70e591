//! The `bind` step: look a value up in the lab (the ZooKeeper leader's or a follower's host, a
//! host's address) and bind it to a name that later steps use as `$name`.

use anyhow::Result;

use super::runner::Ctx;
use super::Binding;
use crate::zk;

/// Returns the bound value.
pub(super) async fn run(ctx: &mut Ctx<'_>, what: &Binding, name: &str) -> Result<String> {
    let value = match what {
        Binding::Ip { host } => {
            let host = ctx.host(host)?;
            ctx.lab.host(&host)?.ip.to_string()
        }
        Binding::ZkLeader => zk::wait_leader(ctx.lab, ctx.deadline).await?,
        Binding::ZkFollower => zk::wait_follower(ctx.lab, ctx.deadline).await?,
    };
    ctx.bound.insert(name.to_string(), value.clone());
    Ok(value)
}
