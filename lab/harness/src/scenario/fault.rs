//! The `fault` step: one fault verb of `crate::fault`, returning once the fault is in effect.
//! What it leaves behind (network rules, paused hosts) is noted in the context, for the heal the
//! runner does before teardown.

use anyhow::Result;

use super::runner::Ctx;
use super::Fault;
use crate::fault;

/// Returns what was done, for the run's events.
pub(super) async fn run(ctx: &mut Ctx<'_>, f: &Fault) -> Result<String> {
    match f {
        Fault::KillZk { host } => {
            let host = ctx.host(host)?;
            fault::kill_zk(ctx.lab, &host).await?;
            Ok(format!("SIGKILL to ZooKeeper on {host}"))
        }
        Fault::StopZk { host } => {
            let host = ctx.host(host)?;
            fault::stop_zk(ctx.lab, &host).await?;
            Ok(format!("stopped ZooKeeper on {host}"))
        }
        Fault::StartZk { host } => {
            let host = ctx.host(host)?;
            let answer = fault::start_zk(ctx.lab, &host).await?;
            Ok(format!("started ZooKeeper on {host}; it answers: {answer}"))
        }
        Fault::KillHost { host } => {
            let host = ctx.host(host)?;
            fault::kill_host(ctx.lab, &host).await?;
            Ok(format!("SIGKILL to the host {host}"))
        }
        Fault::StopHost { host } => {
            let host = ctx.host(host)?;
            fault::stop_host(ctx.lab, &host).await?;
            Ok(format!("stopped the host {host}"))
        }
        Fault::StartHost { host } => {
            let host = ctx.host(host)?;
            fault::start_host(ctx.lab, &host).await?;
            Ok(format!("started the host {host}"))
        }
        Fault::PauseHost { host } => {
            let host = ctx.host(host)?;
            ctx.applied.paused.insert(host.clone());
            fault::pause_host(ctx.lab, &host).await?;
            Ok(format!("paused the host {host}"))
        }
        Fault::ResumeHost { host } => {
            let host = ctx.host(host)?;
            fault::resume_host(ctx.lab, &host).await?;
            ctx.applied.paused.remove(&host);
            Ok(format!("resumed the host {host}"))
        }
        Fault::Partition { hosts, from } => {
            let hosts = hosts.iter().map(|h| ctx.host(h)).collect::<Result<Vec<_>>>()?;
            let from = from.iter().map(|h| ctx.host(h)).collect::<Result<Vec<_>>>()?;
            ctx.applied.network = true;
            let rules = fault::partition(ctx.lab, &hosts, &from).await?;
            Ok(format!("partitioned {} from {} ({rules} rules)", hosts.join(", "), from.join(", ")))
        }
        Fault::Isolate { host } => {
            let host = ctx.host(host)?;
            ctx.applied.network = true;
            let rules = fault::isolate(ctx.lab, &host).await?;
            Ok(format!("isolated {host} from every other host ({rules} rules)"))
        }
        Fault::CutZkPorts { host } => {
            let host = ctx.host(host)?;
            ctx.applied.network = true;
            let rules = fault::cut_zk_ports(ctx.lab, &host).await?;
            Ok(format!("cut {host} off every ZooKeeper client port ({rules} rules)"))
        }
        Fault::Heal => {
            let healed = fault::heal(ctx.lab).await?;
            ctx.applied.network = false;
            Ok(if healed.is_empty() {
                "no network fault to heal".into()
            } else {
                format!("healed {}", healed.join(", "))
            })
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
