//! `resume-host`: a paused host thawed; in effect once the engine reports it running.

use anyhow::Result;

use super::{host_verb, wait_state};
use crate::lab::{HostName, Lab};
use crate::timing::Timing;

host_verb!(
    "resume-host",
    "thaws the paused host `host`; returns once it runs",
    super::Reach::heals_host,
    |env, host| {
        resume_host(env.lab, host, env.timing).await?;
        env.left.paused.remove(&host);
        Ok(format!("resumed the host {host}"))
    }
);

/// Thaws a paused host; returns once the engine reports it running.
pub async fn resume_host(lab: &Lab, host: HostName, timing: Timing) -> Result<()> {
    lab.engine.unpause(&lab.host(host)?.container).await?;
    wait_state(lab, host, "running", timing).await
}
