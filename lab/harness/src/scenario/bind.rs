//! The `bind` step: look a value up in the lab (the ZooKeeper leader's host) and bind it to a
//! name that later steps use as `$name`.

use anyhow::Result;

use super::runner::Ctx;
use super::Binding;
use crate::zk;

/// Returns the bound value.
pub(super) async fn run(ctx: &mut Ctx<'_>, what: Binding, name: &str) -> Result<String> {
    let value = match what {
        Binding::ZkLeader => zk::wait_leader(ctx.lab, ctx.deadline).await?,
    };
    ctx.bound.insert(name.to_string(), value.clone());
    Ok(value)
}
