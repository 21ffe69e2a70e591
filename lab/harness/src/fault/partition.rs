//! `partition`: every packet between two sets of hosts dropped, both directions (silence, not
//! refusal); in effect once every rule is listed on every affected host.

use anyhow::Result;
use futures_util::future::BoxFuture;

use super::net::{self, partition_rules};
use super::{names, Env, Fault, Reach, Verb};
use crate::keys::{need, HostRef, KeyError, Keys};
use crate::lab::{HostName, Lab};
use crate::timing::Timing;

pub const VERB: Verb = Verb {
    name: "partition",
    summary: "drops every packet between the hosts of `hosts` and those of `from`, both directions",
    keys: &[need("hosts", "one side: a list of hosts"), need("from", "the other side: a list of hosts")],
    parse,
};

#[derive(Debug)]
struct Partition {
    hosts: Vec<HostRef>,
    from: Vec<HostRef>,
}

fn parse(keys: &Keys) -> Result<Box<dyn Fault>, KeyError> {
    let hosts: Vec<HostRef> = keys.need("hosts")?;
    let from: Vec<HostRef> = keys.need("from")?;
    if let Some(twice) = from.iter().find(|f| hosts.contains(f)) {
        return Err(keys.error("from", format!("{:?} is on both sides of the partition", twice.as_written())));
    }
    Ok(Box::new(Partition { hosts, from }))
}

impl Fault for Partition {
    fn describe(&self) -> String {
        let side = |hosts: &[HostRef]| hosts.iter().map(HostRef::as_written).collect::<Vec<_>>().join(", ");
        format!("partition [{}] from [{}]", side(&self.hosts), side(&self.from))
    }

    fn apply<'a>(&'a self, env: &'a mut Env<'_>) -> BoxFuture<'a, Result<String>> {
        Box::pin(async move {
            let hosts = self.hosts.iter().map(|h| env.host(h)).collect::<Result<Vec<_>>>()?;
            let from = self.from.iter().map(|h| env.host(h)).collect::<Result<Vec<_>>>()?;
            env.left.network = true;
            let rules = partition(env.lab, &hosts, &from, env.timing).await?;
            Ok(format!("partitioned {} from {} ({rules} rules)", names(&hosts), names(&from)))
        })
    }

    /// Both sides: the nodes of either lose the other.
    fn reach(&self, env: &Env<'_>) -> Result<Reach> {
        let hosts = self.hosts.iter().chain(&self.from).map(|h| env.host(h)).collect::<Result<Vec<_>>>()?;
        Ok(Reach { hosts, ..Reach::default() })
    }
}

/// Partitions `hosts` from `from` (both directions); returns the number of rules once all are listed.
pub async fn partition(lab: &Lab, hosts: &[HostName], from: &[HostName], timing: Timing) -> Result<usize> {
    let rules = partition_rules(&net::resolve(lab, hosts)?, &net::resolve(lab, from)?)?;
    net::apply(lab, &rules, timing).await
}
