//! `fill-zk-disk`: a ZooKeeper member whose disk is full, as its JVM sees it: every write that
//! would grow a file fails. Done with the JVM's soft file-size limit (`prlimit --fsize=0:`,
//! RLIMIT_FSIZE): writes then fail with EFBIG where a full disk gives ENOSPC, both the same
//! IOException to ZooKeeper's transaction log and snapshots. Why not a small tmpfs over the
//! dataDir (`zookeeper init` writes `dataDir=/opt/arcus/zookeeper/data`, no dataLogDir): the hosts
//! have NET_ADMIN but not SYS_ADMIN, so nothing can be mounted, and the running JVM would keep
//! writing its open log file on the old filesystem anyway; filling the container's own filesystem
//! would fill the machine's disk. The member notices only when it must write: a transaction (a
//! session or a znode created or removed), not a quiet ensemble. In effect once `prlimit` reads the
//! limit back from the JVM; `heal` raises the soft limit of every ZooKeeper JVM back to its hard
//! limit ([`free`]; no capability needed for that). A JVM started afresh has no limit.

use anyhow::Result;
use futures_util::future::try_join_all;

use super::{host_verb, zk_member};
use crate::lab::{HostName, Lab};
use crate::probe::node::zk_pids;
use crate::timing::Timing;
use crate::wait;

host_verb!(
    "fill-zk-disk",
    "the ZooKeeper member on `host` can grow no file any more (its disk full); returns once its JVM has the limit",
    super::Reach::breaks_zookeeper,
    |env, host| {
        env.left.network = true;
        let pid = fill_zk_disk(env.lab, host, env.timing).await?;
        Ok(format!("filled the disk of the ZooKeeper member on {host} (pid {pid})"))
    }
);

/// The soft file-size limit of `pid` on `host` as `prlimit` reads it (`unlimited` or bytes).
async fn soft_fsize(lab: &Lab, host: HostName, pid: u32) -> Result<String> {
    let pid = pid.to_string();
    let out = lab.exec(host, &["prlimit", "--pid", &pid, "--fsize", "--output", "SOFT", "--noheadings"]).await?;
    anyhow::ensure!(out.exit == 0, "prlimit --pid {pid} on {host} exited {}: {}", out.exit, out.stderr.trim());
    Ok(out.stdout.trim().to_string())
}

/// The ZooKeeper JVM of `host` (exactly one).
async fn zk_jvm(lab: &Lab, host: HostName) -> Result<u32> {
    zk_member(lab, host)?;
    match zk_pids(lab, host).await?[..] {
        [pid] => Ok(pid),
        [] => anyhow::bail!("no ZooKeeper JVM runs on {host}"),
        ref many => anyhow::bail!("more than one ZooKeeper JVM on {host}: {many:?}"),
    }
}

/// Sets the soft file-size limit of `host`'s ZooKeeper JVM to 0; returns its pid once `prlimit`
/// reads 0 back.
pub async fn fill_zk_disk(lab: &Lab, host: HostName, timing: Timing) -> Result<u32> {
    let pid = zk_jvm(lab, host).await?;
    let out = lab.exec(host, &["prlimit", "--pid", &pid.to_string(), "--fsize=0:"]).await?;
    anyhow::ensure!(out.exit == 0, "prlimit --fsize=0: on {host} exited {}: {}", out.exit, out.stderr.trim());
    let what = format!("the ZooKeeper JVM on {host} (pid {pid}) to have a file-size limit of 0");
    wait::until(&what, timing.in_effect(), wait::POLL, || async {
        match soft_fsize(lab, host, pid).await {
            Ok(soft) if soft == "0" => Ok(()),
            Ok(soft) => Err(format!("soft limit {soft}")),
            Err(e) => Err(format!("{e:#}")),
        }
    })
    .await?;
    Ok(pid)
}

/// Raises the soft file-size limit of every ZooKeeper JVM that has one back to its hard limit;
/// returns the hosts that had one, once `prlimit` reads `unlimited` there.
pub async fn free(lab: &Lab, running: &[HostName], timing: Timing) -> Result<Vec<HostName>> {
    let members: Vec<HostName> = running.iter().copied().filter(|h| zk_member(lab, *h).is_ok()).collect();
    let freed = try_join_all(members.iter().map(|&host| async move {
        let mut freed = false;
        for pid in zk_pids(lab, host).await? {
            // a JVM gone meanwhile has nothing to free
            let Ok(soft) = soft_fsize(lab, host, pid).await else { continue };
            if soft == "unlimited" {
                continue;
            }
            let out = lab.exec(host, &["prlimit", "--pid", &pid.to_string(), "--fsize=unlimited:"]).await?;
            anyhow::ensure!(
                out.exit == 0,
                "prlimit --fsize=unlimited: on {host} exited {}: {}",
                out.exit,
                out.stderr.trim()
            );
            let what = format!("the ZooKeeper JVM on {host} (pid {pid}) to have no file-size limit");
            wait::until(&what, timing.in_effect(), wait::POLL, || async {
                match soft_fsize(lab, host, pid).await {
                    Ok(soft) if soft == "unlimited" => Ok(()),
                    Ok(soft) => Err(format!("soft limit {soft}")),
                    Err(e) => Err(format!("{e:#}")),
                }
            })
            .await?;
            freed = true;
        }
        anyhow::Ok(freed.then_some(host))
    }))
    .await?;
    Ok(freed.into_iter().flatten().collect())
}
