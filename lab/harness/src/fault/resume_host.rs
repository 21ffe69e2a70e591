//! `resume-host`: a paused host thawed; in effect once the engine reports it running.

use anyhow::Result;
use futures_util::future::BoxFuture;

use super::{host_verb, wait_state, Env, Fault};
use crate::lab::{HostName, Lab};
use crate::timing::Timing;

host_verb!("resume-host", ResumeHost, "thaws the paused host `host`; returns once it runs");

impl Fault for ResumeHost {
    fn describe(&self) -> String {
        format!("resume-host {}", self.host.as_written())
    }

    fn apply<'a>(&'a self, env: &'a mut Env<'_>) -> BoxFuture<'a, Result<String>> {
        Box::pin(async move {
            let host = env.host(&self.host)?;
            resume_host(env.lab, host, env.timing).await?;
            env.left.paused.remove(&host);
            Ok(format!("resumed the host {host}"))
        })
    }
}

/// Thaws a paused host; returns once the engine reports it running.
pub async fn resume_host(lab: &Lab, host: HostName, timing: Timing) -> Result<()> {
    lab.engine.unpause(&lab.host(host)?.container).await?;
    wait_state(lab, host, "running", timing).await
}
