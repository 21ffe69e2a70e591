//! `deploy <conf>`: copies the Arcus install to every ZooKeeper and cache host as a gzipped tar
//! archive over ssh, hosts in parallel; one host's failure does not stop the others.

use crate::conf::CloudConf;
use crate::remote::{self, Input, Job};
use crate::{all_succeeded, conf, memcached, Ctx};
use std::path::Path;
use std::time::Duration;

/// The deadline of one host's copy.
const COPY_DEADLINE: Duration = Duration::from_secs(300);

pub async fn deploy(ctx: &Ctx, conf_path: &Path) -> anyhow::Result<()> {
    let conf = conf::load(conf_path)?;
    ctx.out.server_roles(&ctx.zk_hosts(), &memcached::server_ips(&conf));
    copy_to(ctx, &hosts(ctx, &conf)).await?;
    ctx.out.done();
    Ok(())
}

/// The hosts a cloud lives on: the ZooKeeper hosts, then each server IP not among them yet.
pub fn hosts(ctx: &Ctx, conf: &CloudConf) -> Vec<String> {
    let mut hosts = ctx.zk_hosts();
    for ip in memcached::server_ips(conf) {
        if !hosts.contains(&ip) {
            hosts.push(ip);
        }
    }
    hosts
}

/// Copies `ctx.home` to the same path on every host that is not this machine.
pub async fn copy_to(ctx: &Ctx, hosts: &[String]) -> anyhow::Result<()> {
    let home = Path::new(&ctx.home);
    let (parent, name) = match (home.parent(), home.file_name()) {
        (Some(parent), Some(name)) => (parent.to_string_lossy().into_owned(), name.to_string_lossy().into_owned()),
        _ => anyhow::bail!("ARCUS_HOME={}: cannot deploy a filesystem root", ctx.home),
    };
    let parent = if parent.is_empty() { "/".to_string() } else { parent };
    let (local, remote): (Vec<&String>, Vec<&String>) = hosts.iter().partition(|h| remote::is_local(h));
    // One archive for every host: the tree is read once (parallel reads of the same tree on
    // overlayfs made tar report "file changed as we read it").
    let archive = if remote.is_empty() { Vec::new() } else { archive(&parent, &name).await? };
    // Unpack, then refresh the dynamic linker's cache so that the install's lib/ (on the hosts'
    // linker path) is found: only when lib/ brings a shared library (a real arcus-memcached's
    // engine and extensions), not for the reference node's empty stand-ins (ldconfig costs about
    // 70 ms a host). Decided here, on the tree that is sent.
    let mut command = format!("mkdir -p {p} && tar -xzf - -C {p}", p = remote::sh_quote(&parent));
    if brings_shared_library(&home.join("lib")) {
        command.push_str(" && ldconfig");
    }
    let jobs = remote
        .iter()
        .map(|host| {
            let mut job = Job::new(host, None, command.clone());
            job.input = Input::Bytes(archive.clone());
            job.deadline = COPY_DEADLINE;
            job
        })
        .collect();
    let outcomes = remote::run_all(jobs).await;
    for host in hosts {
        ctx.out.host(host, "Executing task 'deploy'");
        if local.contains(&host) {
            ctx.out.host(host, "skipping localhost");
            continue;
        }
        let outcome = outcomes.iter().find(|o| &o.host == host).expect("one outcome per remote host");
        ctx.out.host(host, &format!("put: {} -> {}", ctx.home, ctx.home));
        ctx.print_outcome(outcome);
    }
    all_succeeded("deploy", &outcomes)
}

/// Whether `dir` (searched through) holds a non-empty shared library (`*.so*`).
fn brings_shared_library(dir: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else { return false };
    entries.flatten().any(|entry| {
        let path = entry.path();
        match entry.file_type() {
            Ok(kind) if kind.is_dir() => brings_shared_library(&path),
            Ok(_) => {
                entry.file_name().to_string_lossy().contains(".so")
                    && std::fs::metadata(&path).is_ok_and(|m| m.len() > 0)
            }
            Err(_) => false,
        }
    })
}

/// `<parent>/<name>` as a gzipped tar archive in memory (with the tar crate: GNU tar on overlayfs
/// reports "file changed as we read it" for directories that a container has modified). Gzip's
/// fastest level: ssh moves this archive at about 20 MB/s on the lab's hosts, three at once, and
/// the install's binaries shrink to about 40 %.
async fn archive(parent: &str, name: &str) -> anyhow::Result<Vec<u8>> {
    let dir = Path::new(parent).join(name);
    let inner = name.to_string();
    tokio::task::spawn_blocking(move || {
        let gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let mut builder = tar::Builder::new(gzip);
        builder.follow_symlinks(false);
        builder.append_dir_all(&inner, &dir)?;
        builder.into_inner()?.finish()
    })
    .await?
    .map_err(|e| anyhow::anyhow!("cannot pack {parent}/{name}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::brings_shared_library;
    use std::fs;

    #[test]
    fn only_a_non_empty_shared_library_asks_for_ldconfig() {
        let lib = std::env::temp_dir().join(format!("arcus-deploy-lib-{}", std::process::id()));
        fs::create_dir_all(lib.join("engines")).unwrap();
        assert!(!brings_shared_library(&lib.join("missing")));
        // the reference node's stand-ins: empty files
        fs::write(lib.join("default_engine.so"), b"").unwrap();
        fs::write(lib.join("README"), b"not a library").unwrap();
        assert!(!brings_shared_library(&lib));
        fs::write(lib.join("engines").join("libarcus.so.1"), b"\x7fELF").unwrap();
        assert!(brings_shared_library(&lib));
        fs::remove_dir_all(&lib).unwrap();
    }
}
