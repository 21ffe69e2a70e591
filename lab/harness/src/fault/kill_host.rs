//! `kill-host`: SIGKILL to a whole host's container (every process in it); in effect once the
//! container no longer runs.

use anyhow::Result;

use super::host_verb;
use crate::lab::{HostName, Lab};
use crate::timing::Timing;
use crate::wait;

host_verb!(
    "kill-host",
    "SIGKILL to the whole host `host` (its container); returns once it no longer runs",
    super::Reach::breaks_host,
    |env, host| {
        kill_host(env.lab, host, env.timing).await?;
        Ok(format!("SIGKILL to the host {host}"))
    }
);

/// Kills a whole host; returns once its container is no longer running.
pub async fn kill_host(lab: &Lab, host: HostName, timing: Timing) -> Result<()> {
    let container = &lab.host(host)?.container;
    lab.engine.kill(container, "KILL").await?;
    wait::until(&format!("the host {host} ({container}) to be down"), timing.in_effect(), wait::POLL, || async {
        match lab.engine.is_running(container).await {
            Ok(false) => Ok(()),
            Ok(true) => Err("still running".to_string()),
            Err(e) => Err(format!("{e:#}")),
        }
    })
    .await?;
    Ok(())
}
