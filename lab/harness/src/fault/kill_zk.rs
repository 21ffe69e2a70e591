//! `kill-zk`: SIGKILL to the ZooKeeper JVM on a host; in effect once no such JVM runs there.

use anyhow::Result;

use super::{host_verb, zk_gone, zk_member};
use crate::lab::{HostName, Lab};
use crate::timing::Timing;

host_verb!(
    "kill-zk",
    "SIGKILL to the ZooKeeper JVM on `host`; returns once no such JVM runs there",
    super::Reach::breaks_zookeeper,
    |env, host| {
        kill_zk(env.lab, host, env.timing).await?;
        Ok(format!("SIGKILL to ZooKeeper on {host}"))
    }
);

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
