//! `start-host`: a killed or stopped host started again (same address, same disk); in effect once
//! its sshd answers. Nothing of Arcus runs on it until a step starts it, as after a reboot.

use anyhow::Result;

use super::host_verb;
use crate::lab::{HostName, Lab};
use crate::timing::Timing;

host_verb!(
    "start-host",
    "starts a killed or stopped host `host` again; returns once its sshd answers",
    super::Reach::heals_host,
    |env, host| {
        start_host(env.lab, host, env.timing).await?;
        Ok(format!("started the host {host}"))
    }
);

/// Starts a host again; returns once every sshd of the lab answers.
pub async fn start_host(lab: &Lab, host: HostName, timing: Timing) -> Result<()> {
    lab.engine.start(&lab.host(host)?.container).await?;
    lab.wait_sshd(timing.started()).await
}
