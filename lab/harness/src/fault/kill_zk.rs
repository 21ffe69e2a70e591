//! `kill-zk`: SIGKILL to the ZooKeeper JVM on a host; in effect once no such JVM runs there.

use anyhow::Result;
use futures_util::future::BoxFuture;

use super::{host_verb, zk_gone, zk_member, Env, Fault};
use crate::lab::{HostName, Lab};
use crate::timing::Timing;

host_verb!("kill-zk", KillZk, "SIGKILL to the ZooKeeper JVM on `host`; returns once no such JVM runs there");

impl Fault for KillZk {
    fn describe(&self) -> String {
        format!("kill-zk on {}", self.host.as_written())
    }

    fn apply<'a>(&'a self, env: &'a mut Env<'_>) -> BoxFuture<'a, Result<String>> {
        Box::pin(async move {
            let host = env.host(&self.host)?;
            kill_zk(env.lab, host, env.timing).await?;
            Ok(format!("SIGKILL to ZooKeeper on {host}"))
        })
    }
}

/// SIGKILL to the ZooKeeper JVM on `host`; returns once no such JVM runs there.
pub async fn kill_zk(lab: &Lab, host: HostName, timing: Timing) -> Result<()> {
    zk_member(lab, host)?;
    let out = lab.exec(host, &["pkill", "-KILL", "-f", "QuorumPeerMain"]).await?;
    anyhow::ensure!(
        out.exit == 0,
        "kill-zk: no ZooKeeper JVM (QuorumPeerMain) runs on {host} (pkill exited {})",
        out.exit
    );
    zk_gone(lab, host, timing).await
}
