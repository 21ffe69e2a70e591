//! `deploy <conf>`: copies the Arcus install to every ZooKeeper and cache host as a tar stream over
//! ssh, hosts in parallel; one host's failure does not stop the others.

use crate::remote::{self, Input, Job, Outcome, RunError};
use crate::{all_succeeded, conf, memcached, Ctx};
use std::path::Path;
use std::time::Duration;

/// The deadline of one host's copy.
const COPY_DEADLINE: Duration = Duration::from_secs(300);

pub async fn deploy(ctx: &Ctx, conf_path: &Path) -> anyhow::Result<()> {
    let conf = conf::load(conf_path)?;
    let ips = memcached::server_ips(&conf);
    ctx.out.server_roles(&ctx.zk_hosts(), &ips);
    let mut hosts = ctx.zk_hosts();
    for ip in ips {
        if !hosts.contains(&ip) {
            hosts.push(ip);
        }
    }
    copy_to(ctx, &hosts).await?;
    ctx.out.done();
    Ok(())
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
    let copies = remote.iter().map(|host| copy_one(host.to_string(), parent.clone(), name.clone()));
    let handles: Vec<_> = copies.map(tokio::spawn).collect();
    let mut outcomes = Vec::new();
    for handle in handles {
        outcomes.push(handle.await.expect("a deploy task panicked"));
    }
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

/// Streams `tar -cf - -C <parent> <name>` into `tar -xf - -C <parent>` on `host`.
async fn copy_one(host: String, parent: String, name: String) -> Outcome {
    let failed = |host: String, cause| Outcome {
        host,
        remote: true,
        output: String::new(),
        result: Err(RunError::Spawn { program: "tar", cause }),
    };
    let (reader, writer) = match std::io::pipe() {
        Ok(pipe) => pipe,
        Err(e) => return failed(host, e),
    };
    let tar = tokio::process::Command::new("tar")
        .args(["-cf", "-", "-C", &parent, &name])
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn();
    // The Command (and our copy of the pipe's write end) is gone now: the pipe ends with tar.
    let tar = match tar {
        Ok(tar) => tar,
        Err(e) => return failed(host, e),
    };
    let command = format!("mkdir -p {p} && tar -xf - -C {p}", p = remote::sh_quote(&parent));
    let mut job = Job::new(&host, None, command);
    job.input = Input::Pipe(reader);
    job.deadline = COPY_DEADLINE;
    let mut outcome = remote::run(job).await;
    match tokio::time::timeout(Duration::from_secs(10), tar.wait_with_output()).await {
        Ok(Ok(out)) if out.status.success() => {}
        Ok(Ok(out)) => {
            outcome.output.push_str(&String::from_utf8_lossy(&out.stderr));
            if outcome.result.is_ok() {
                outcome.result = Err(RunError::Exit(out.status.code().unwrap_or(-1)));
            }
        }
        Ok(Err(cause)) => outcome.result = Err(RunError::Spawn { program: "tar", cause }),
        Err(_) => outcome.result = Err(RunError::Timeout(10)),
    }
    outcome
}
