//! `stop-zk`: the operator's `bin/zkServer.sh stop` on a host; in effect once no ZooKeeper JVM
//! runs there.

use anyhow::Result;

use super::{host_verb, zk_gone, zk_server};
use crate::lab::{HostName, Lab};
use crate::timing::Timing;

host_verb!(
    "stop-zk",
    "`bin/zkServer.sh stop` on `host`; returns once no ZooKeeper JVM runs there",
    super::Reach::breaks_zookeeper,
    |env, host| {
        stop_zk(env.lab, host, env.timing).await?;
        Ok(format!("stopped ZooKeeper on {host}"))
    }
);

/// Stops the ZooKeeper server on `host` as an operator does; returns once no ZooKeeper JVM runs there.
pub async fn stop_zk(lab: &Lab, host: HostName, timing: Timing) -> Result<()> {
    zk_server(lab, host, "stop").await?;
    zk_gone(lab, host, timing).await
}
