//! `starve-cpu`: a host that gets only a small share of one CPU (`docker update` with a CFS quota
//! through the engine): every process of it, ZooKeeper's JVM and the nodes alike, runs but slowly.
//! In effect once the host's own cgroup (`cpu.cfs_quota_us`, read inside it) shows the quota.
//! `heal` lifts the quota of every host that has one ([`restore`]): the hosts are created without
//! one, so no limit is what they get back.

use anyhow::Result;
use futures_util::future::{try_join_all, BoxFuture};

use super::{Env, Fault, Reach, Verb};
use crate::engine::CPU_PERIOD_US;
use crate::keys::{may, need, HostRef, KeyError, Keys};
use crate::lab::{HostName, Lab};
use crate::timing::Timing;
use crate::wait;

pub const VERB: Verb = Verb {
    name: "starve-cpu",
    summary: "limits the host `host` to `percent` (default 5) percent of one CPU (docker update); returns once its cgroup shows it",
    keys: &[need("host", "the host"), may("percent", "percent of one CPU it keeps, 1..=100 (default 5)")],
    parse,
};

/// The share a starved host keeps when the step gives none.
const DEFAULT_PERCENT: u8 = 5;
/// The host's CFS quota as its processes see it.
const QUOTA_FILE: &str = "/sys/fs/cgroup/cpu/cpu.cfs_quota_us";

#[derive(Debug)]
struct StarveCpu {
    host: HostRef,
    percent: u8,
}

fn parse(keys: &Keys) -> Result<Box<dyn Fault>, KeyError> {
    let percent = keys.get::<u8>("percent")?.unwrap_or(DEFAULT_PERCENT);
    if !(1..=100).contains(&percent) {
        return Err(keys.error("percent", format!("{percent} is not a share of a CPU (1..=100)")));
    }
    Ok(Box::new(StarveCpu { host: keys.need("host")?, percent }))
}

impl Fault for StarveCpu {
    fn describe(&self) -> String {
        format!("starve-cpu {} {}%", self.host.as_written(), self.percent)
    }

    fn apply<'a>(&'a self, env: &'a mut Env<'_>) -> BoxFuture<'a, Result<String>> {
        Box::pin(async move {
            let host = env.host(&self.host)?;
            env.left.network = true;
            let quota = starve_cpu(env.lab, host, self.percent, env.timing).await?;
            Ok(format!("starved {host}: {quota} µs of CPU per {CPU_PERIOD_US} µs"))
        })
    }

    fn reach(&self, env: &Env<'_>) -> Result<Reach> {
        Ok(Reach::breaks_host(env.host(&self.host)?))
    }
}

/// The quota for `percent` of one CPU.
pub fn quota_of(percent: u8) -> i64 {
    CPU_PERIOD_US * i64::from(percent) / 100
}

/// Limits `host` to `percent` of one CPU; returns the quota once the host's cgroup shows it.
pub async fn starve_cpu(lab: &Lab, host: HostName, percent: u8, timing: Timing) -> Result<i64> {
    let quota = quota_of(percent);
    lab.engine.set_cpu_quota(&lab.host(host)?.container, Some(quota)).await?;
    wait_quota(lab, host, quota, timing).await?;
    Ok(quota)
}

/// Lifts the CPU quota of every host that has one; returns those hosts once their cgroups show
/// no limit.
pub async fn restore(lab: &Lab, running: &[HostName], timing: Timing) -> Result<Vec<HostName>> {
    let restored = try_join_all(running.iter().map(|&host| async move {
        let container = &lab.host(host)?.container;
        if lab.engine.cpu_quota(container).await?.is_none() {
            return anyhow::Ok(None);
        }
        lab.engine.set_cpu_quota(container, None).await?;
        wait_quota(lab, host, -1, timing).await?;
        Ok(Some(host))
    }))
    .await?;
    Ok(restored.into_iter().flatten().collect())
}

/// Waits until `host`'s cgroup reads `quota` (-1: none).
async fn wait_quota(lab: &Lab, host: HostName, quota: i64, timing: Timing) -> Result<()> {
    let what = format!("{QUOTA_FILE} on {host} to read {quota}");
    wait::until(&what, timing.in_effect(), wait::POLL, || async {
        let out = lab.exec(host, &["cat", QUOTA_FILE]).await.map_err(|e| format!("{e:#}"))?;
        match out.stdout.trim() {
            read if read == quota.to_string() => Ok(()),
            read => Err(format!("reads {read:?} {}", out.stderr.trim())),
        }
    })
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_percent_of_one_cpu_is_that_part_of_the_period() {
        assert_eq!(quota_of(5), 5_000);
        assert_eq!(quota_of(100), 100_000);
    }
}
