//! `heal`: every network fault on every host removed (lossy links among them), and the CPU quotas
//! and full ZooKeeper disks undone (the runner heals what is left before teardown by itself).

use anyhow::Result;
use futures_util::future::BoxFuture;

use super::{fill_zk_disk, names, net, starve_cpu, Env, Fault, Reach, Verb};
use crate::lab::{HostName, Lab};
use crate::timing::Timing;

pub const VERB: Verb = Verb {
    name: "heal",
    summary:
        "removes every network fault, CPU quota and full ZooKeeper disk on every host; returns once none is listed",
    keys: &[],
    parse: |_| Ok(Box::new(Heal)),
};

#[derive(Debug)]
struct Heal;

impl Fault for Heal {
    fn describe(&self) -> String {
        "heal".into()
    }

    fn apply<'a>(&'a self, env: &'a mut Env<'_>) -> BoxFuture<'a, Result<String>> {
        Box::pin(async move {
            let healed = heal(env.lab, env.timing).await?;
            env.left.network = false;
            Ok(if healed.is_empty() { "no network fault to heal".into() } else { format!("healed {}", names(&healed)) })
        })
    }

    fn reach(&self, _: &Env<'_>) -> Result<Reach> {
        Ok(Reach { heals: true, ..Reach::default() })
    }
}

/// Removes every network fault, CPU quota and file-size limit; returns the hosts that had
/// one.
pub async fn heal(lab: &Lab, timing: Timing) -> Result<Vec<HostName>> {
    let mut healed = net::flush(lab, timing).await?;
    let states = lab.states().await?;
    let running: Vec<HostName> =
        lab.hosts.iter().map(|h| h.name).filter(|h| states.get(h).is_some_and(|s| s == "running")).collect();
    healed.extend(starve_cpu::restore(lab, &running, timing).await?);
    healed.extend(fill_zk_disk::free(lab, &running, timing).await?);
    healed.sort();
    healed.dedup();
    Ok(healed)
}
