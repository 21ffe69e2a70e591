//! `stop-zk`: the operator's `bin/zkServer.sh stop` on a host; in effect once no ZooKeeper JVM
//! runs there.

use anyhow::Result;
use futures_util::future::BoxFuture;

use super::{host_verb, zk_gone, zk_server, Env, Fault};
use crate::lab::{HostName, Lab};
use crate::timing::Timing;

host_verb!("stop-zk", StopZk, "`bin/zkServer.sh stop` on `host`; returns once no ZooKeeper JVM runs there");

impl Fault for StopZk {
    fn describe(&self) -> String {
        format!("stop-zk on {}", self.host.as_written())
    }

    fn apply<'a>(&'a self, env: &'a mut Env<'_>) -> BoxFuture<'a, Result<String>> {
        Box::pin(async move {
            let host = env.host(&self.host)?;
            stop_zk(env.lab, host, env.timing).await?;
            Ok(format!("stopped ZooKeeper on {host}"))
        })
    }
}

/// Stops the ZooKeeper server on `host` as an operator does; returns once no ZooKeeper JVM runs there.
pub async fn stop_zk(lab: &Lab, host: HostName, timing: Timing) -> Result<()> {
    zk_server(lab, host, "stop").await?;
    zk_gone(lab, host, timing).await
}
