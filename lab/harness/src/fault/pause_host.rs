//! `pause-host`: every process of a host frozen (`docker pause`); in effect once the engine reports
//! the container paused. The host stays paused (noted in the leftovers) until `resume-host` or
//! the heal before teardown.

use anyhow::{Context, Result};

use super::{host_verb, wait_state};
use crate::lab::{HostName, Lab};
use crate::timing::Timing;

host_verb!(
    "pause-host",
    "freezes every process of the host `host` (docker pause); returns once it is paused",
    super::Reach::breaks_host,
    |env, host| {
        env.left.paused.insert(host);
        pause_host(env.lab, host, env.timing).await?;
        Ok(format!("paused the host {host}"))
    }
);

/// Freezes a whole host; returns once the engine reports it paused.
pub async fn pause_host(lab: &Lab, host: HostName, timing: Timing) -> Result<()> {
    let container = &lab.host(host)?.container;
    // The cgroup freezer gives up on a task it cannot stop at once (runc: "unable to freeze",
    // and the container stays running); seen once in some forty runs of a paused ZooKeeper host on
    // this engine's fuse-overlayfs storage. That failure is tried again until the fault's
    // deadline; any other fails at once (which `wait::until`, where every error means "not yet",
    // cannot say).
    let started = std::time::Instant::now();
    loop {
        match lab.engine.pause(container).await {
            Ok(()) => break,
            Err(e) if e.to_string().contains("unable to freeze") && started.elapsed() < timing.in_effect() => {
                tokio::time::sleep(timing.poll()).await;
            }
            Err(e) => {
                return Err(e).with_context(|| format!("pause the host {host} (tried for {:?})", started.elapsed()))
            }
        }
    }
    wait_state(lab, host, "paused", timing).await
}
