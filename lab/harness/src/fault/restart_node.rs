//! `restart-node`: a cache node stopped gracefully and started again with the command line it was
//! started with (the runbook's `memcached start` line): SIGTERM, wait for it to exit, the same
//! command line run again on its host; in effect once a new process listens on the port's
//! command line again and the old one is gone.

use anyhow::{Context, Result};
use futures_util::future::BoxFuture;

use super::kill_node::{kill_node, Signal};
use super::{Env, Fault, Reach, Verb};
use crate::keys::{need, HostRef, KeyError, Keys};
use crate::lab::{HostName, Lab};
use crate::probe::node;
use crate::timing::Timing;
use crate::wait;

pub const VERB: Verb = Verb {
    name: "restart-node",
    summary: "SIGTERM to the node on `host`:`port`, then its own command line again once it exited",
    keys: &[need("host", "the node's host"), need("port", "the node's port")],
    parse,
};

#[derive(Debug)]
struct RestartNode {
    host: HostRef,
    port: u16,
}

fn parse(keys: &Keys) -> Result<Box<dyn Fault>, KeyError> {
    Ok(Box::new(RestartNode { host: keys.need("host")?, port: keys.need("port")? }))
}

impl Fault for RestartNode {
    fn describe(&self) -> String {
        format!("restart-node {}:{}", self.host.as_written(), self.port)
    }

    fn apply<'a>(&'a self, env: &'a mut Env<'_>) -> BoxFuture<'a, Result<String>> {
        Box::pin(async move {
            let host = env.host(&self.host)?;
            let (old, new) = restart_node(env.lab, host, self.port, env.timing).await?;
            Ok(format!("restarted the node {host}:{} (pid {old} → {new})", self.port))
        })
    }

    fn reach(&self, env: &Env<'_>) -> Result<Reach> {
        Ok(Reach { nodes: vec![(env.host(&self.host)?, self.port)], ..Reach::default() })
    }
}

/// Restarts the node on `host`:`port`; returns the old and the new pid.
pub async fn restart_node(lab: &Lab, host: HostName, port: u16, timing: Timing) -> Result<(u32, u32)> {
    let old = node::pid(lab, host, port).await?;
    let argv = node::command_line(lab, host, old)
        .await?
        .with_context(|| format!("the node {host}:{port} (pid {old}) exited before its command line was read"))?;
    kill_node(lab, host, port, Signal::Term, timing).await?;
    // as the admin tool starts a node, so that a daemon (-d) keeps no pipe of ours open
    let line = shlex::try_join(argv.iter().map(String::as_str)).context("quote the node's command line")?;
    let out = lab.sh(host, &arcus_facts::shell::detached(&line)).await?;
    anyhow::ensure!(
        out.exit == 0,
        "starting the node {host}:{port} again (`{line}`) exited {}:\n{}",
        out.exit,
        out.stdout
    );
    let what = format!("a new node process with -p {port} on {host}");
    let new = wait::until(&what, timing.started(), wait::POLL, || async {
        match node::pids(lab, host, port).await {
            Ok(pids) => match pids.as_slice() {
                [pid] if *pid != old => Ok(*pid),
                other => Err(format!("pids {other:?}")),
            },
            Err(e) => Err(format!("{e:#}")),
        }
    })
    .await?;
    Ok((old, new))
}
