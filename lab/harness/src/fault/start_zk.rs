//! `start-zk`: the operator's `bin/zkServer.sh start` on a host; in effect once the server answers
//! a four-letter word (any answer: a server still looking for its quorum says it is not serving).

use anyhow::Result;

use super::{host_verb, zk_server};
use crate::lab::{HostName, Lab};
use crate::probe::zk;
use crate::timing::Timing;
use crate::wait;

host_verb!(
    "start-zk",
    "`bin/zkServer.sh start` on `host`; returns once the server answers `srvr`, serving or not",
    super::Reach::heals_zookeeper,
    |env, host| {
        let answer = start_zk(env.lab, host, env.timing).await?;
        Ok(format!("started ZooKeeper on {host}; it answers: {answer}"))
    }
);

/// Starts the ZooKeeper server on `host`; returns the first line of its first answer to `srvr`.
pub async fn start_zk(lab: &Lab, host: HostName, timing: Timing) -> Result<String> {
    zk_server(lab, host, "start").await?;
    let addr = zk::server(lab, host)?.addr;
    let guard = lab.guard();
    let what = format!("the ZooKeeper server on {host} ({addr}) to answer srvr");
    let reply = wait::until(&what, timing.started(), std::time::Duration::from_millis(100), || async {
        match zk::four_letter(&guard, addr, "srvr").await {
            Ok(reply) if !reply.trim().is_empty() => Ok(reply),
            Ok(_) => Err("an empty answer".to_string()),
            Err(e) => Err(format!("{e:#}")),
        }
    })
    .await?;
    Ok(reply.lines().next().unwrap_or_default().trim().to_string())
}
