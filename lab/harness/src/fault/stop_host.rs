//! `stop-host`: a whole host stopped the way `docker stop` does (SIGTERM to its init, SIGKILL after
//! a grace period); in effect once the container has exited. The host image's boot script passes
//! SIGTERM on to the cache nodes, waits for them, then to ZooKeeper, so the nodes stop gracefully
//! while their sessions' servers still serve: their znodes go at once, not after the session
//! timeout as with `kill-host`.

use anyhow::Result;

use super::{host_verb, wait_state};
use crate::lab::{HostName, Lab};
use crate::timing::Timing;

host_verb!(
    "stop-host",
    "a graceful stop of the host `host` (docker stop: the nodes leave at once); returns once it has exited",
    super::Reach::breaks_host,
    |env, host| {
        stop_host(env.lab, host, env.timing).await?;
        Ok(format!("stopped the host {host}"))
    }
);

/// Stops a whole host gracefully; returns once its container has exited.
pub async fn stop_host(lab: &Lab, host: HostName, timing: Timing) -> Result<()> {
    let container = &lab.host(host)?.container;
    lab.engine.stop_within(container, timing.stop_grace()).await?;
    wait_state(lab, host, "exited", timing).await
}
