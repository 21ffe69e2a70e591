//! `isolate`: one host partitioned from every other host of the lab.

use anyhow::Result;

use super::host_verb;
use super::partition::partition;
use crate::lab::{HostName, Lab};
use crate::timing::Timing;

host_verb!(
    "isolate",
    "partitions the host `host` from every other host of the lab",
    super::Reach::breaks_host,
    |env, host| {
        env.left.network = true;
        let rules = isolate(env.lab, host, env.timing).await?;
        Ok(format!("isolated {host} from every other host ({rules} rules)"))
    }
);

/// Partitions `host` from every other host of the lab; returns the number of rules.
pub async fn isolate(lab: &Lab, host: HostName, timing: Timing) -> Result<usize> {
    let others: Vec<HostName> = lab.hosts.iter().map(|h| h.name).filter(|h| *h != host).collect();
    partition(lab, &[host], &others, timing).await
}
