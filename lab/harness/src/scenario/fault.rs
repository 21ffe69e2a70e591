//! The `fault` step: one fault verb of `crate::fault`, returning once the fault is in effect.

use anyhow::Result;

use super::runner::Ctx;
use super::Fault;
use crate::fault;

/// Returns what was done, for the run's events.
pub(super) async fn run(ctx: &Ctx<'_>, f: &Fault) -> Result<String> {
    match f {
        Fault::KillZk { host } => {
            let host = ctx.host(host)?;
            fault::kill_zk(ctx.lab, &host).await?;
            Ok(format!("SIGKILL to ZooKeeper on {host}"))
        }
        Fault::KillHost { host } => {
            let host = ctx.host(host)?;
            fault::kill_host(ctx.lab, &host).await?;
            Ok(format!("SIGKILL to the host {host}"))
        }
        Fault::StartHost { host } => {
            let host = ctx.host(host)?;
            fault::start_host(ctx.lab, &host).await?;
            Ok(format!("started the host {host}"))
        }
        Fault::DeleteZnode { path } => {
            let path = ctx.render(path)?;
            let count = fault::delete_znode(ctx.lab, &path).await?;
            Ok(format!("deleted {path} ({count} znodes)"))
        }
        Fault::KillNode { host, port, signal } => {
            let host = ctx.host(host)?;
            let pid = fault::kill_node(ctx.lab, &host, *port, *signal).await?;
            Ok(format!("SIG{} to the node {host}:{port} (pid {pid})", signal.name()))
        }
    }
}
