//! The ZooKeeper ensemble on the zklist's hosts: zoo.cfg and myid, start and stop through
//! `zookeeper/bin/zkServer.sh`, the wait for a leader, `stat`, and the `/arcus` structure.

use crate::remote::Job;
use crate::zk::{Op, Zk};
use crate::{all_succeeded, Ctx};
use arcus_facts::timing::LeaderPace;
use arcus_facts::{zk_mode, znode, Timing, ZkMode};
use std::time::{Duration, Instant};

/// The timing profile named by `ARCUS_ZK_PROFILE` (`fast` or `seed`); unset or empty: the lab's
/// default, `fast` (the lab always sets it).
pub fn profile_from_env() -> anyhow::Result<Timing> {
    profile_named(&std::env::var("ARCUS_ZK_PROFILE").unwrap_or_default())
}

fn profile_named(name: &str) -> anyhow::Result<Timing> {
    match name {
        "" => Ok(Timing::default()),
        name => name.parse().map_err(|_| anyhow::anyhow!("ARCUS_ZK_PROFILE={name:?}: expected \"seed\" or \"fast\"")),
    }
}

/// zoo.cfg for an ensemble: `servers` are the zklist's hosts, `client_port` the first entry's port.
pub fn render_zoo_cfg(servers: &[String], client_port: u16, zookeeper_dir: &str, profile: Timing) -> String {
    let (tick, min, max) = (
        profile.tick_time().as_millis(),
        profile.min_session_timeout().as_millis(),
        profile.max_session_timeout().as_millis(),
    );
    let mut cfg = format!(
        "maxClientCnxns=100\ntickTime={tick}\ninitLimit=10\nsyncLimit=5\ndataDir={zookeeper_dir}/data\n\
         clientPort={client_port}\n4lw.commands.whitelist=*\nminSessionTimeout={min}\nmaxSessionTimeout={max}\n"
    );
    for (i, host) in servers.iter().enumerate() {
        cfg.push_str(&format!("server.{}={host}:2888:3888\n", i + 1));
    }
    cfg
}

fn zookeeper_dir(ctx: &Ctx) -> String {
    format!("{}/zookeeper", ctx.home)
}

/// `zookeeper init`: configure, start, wait for a leader, create the structure, stop.
pub async fn init(ctx: &Ctx) -> anyhow::Result<()> {
    let profile = profile_from_env()?;
    ctx.out.server_roles(&ctx.zk_hosts(), &[]);
    ctx.out.banner("Task: zk_config");
    configure(ctx, profile).await?;
    let result = async {
        ctx.out.banner("Task: zk_start");
        zk_start(ctx).await?;
        ctx.out.banner("Func: zk_wait");
        wait_for_leader(ctx, profile).await?;
        ctx.out.banner("Task: zk_create_arcus_structure");
        if create_structure(ctx).await? {
            Ok(())
        } else {
            Err(anyhow::anyhow!("init_arcus_structure: {} already exists; nothing was created", znode::ARCUS))
        }
    }
    .await;
    // Stop whatever started, whatever happened after the start.
    ctx.out.banner("Task: zk_stop");
    let stopped = zk_stop(ctx).await;
    result?;
    stopped?;
    ctx.out.done();
    Ok(())
}

/// `zookeeper start`.
pub async fn start(ctx: &Ctx) -> anyhow::Result<()> {
    ctx.out.server_roles(&ctx.zk_hosts(), &[]);
    zk_start(ctx).await?;
    ctx.out.done();
    Ok(())
}

/// `zookeeper stop`.
pub async fn stop(ctx: &Ctx) -> anyhow::Result<()> {
    ctx.out.server_roles(&ctx.zk_hosts(), &[]);
    zk_stop(ctx).await?;
    ctx.out.done();
    Ok(())
}

/// Writes myid (1-based position in the zklist) and zoo.cfg on every ZooKeeper host.
pub async fn configure(ctx: &Ctx, profile: Timing) -> anyhow::Result<()> {
    let dir = zookeeper_dir(ctx);
    let cfg = render_zoo_cfg(&ctx.zk_hosts(), ctx.zk_port(), &dir, profile);
    let jobs = ctx
        .zk_hosts()
        .iter()
        .enumerate()
        .map(|(i, host)| {
            let command = format!("mkdir -p data conf && echo {} > data/myid && cat > conf/zoo.cfg", i + 1);
            let mut job = Job::new(host, Some(&dir), command.clone());
            job.input = crate::remote::Input::Bytes(cfg.clone().into_bytes());
            (format!("run: {command}"), job)
        })
        .collect();
    all_succeeded("zk_config_id", &ctx.tasks("zk_config_id", jobs).await)
}

async fn zk_server_sh(ctx: &Ctx, task: &str, action: &str) -> anyhow::Result<()> {
    let dir = zookeeper_dir(ctx);
    let command = format!("bin/zkServer.sh {action}");
    let jobs =
        ctx.zk_hosts().iter().map(|h| (format!("run: {command}"), Job::new(h, Some(&dir), command.clone()))).collect();
    all_succeeded(task, &ctx.tasks(task, jobs).await)
}

pub async fn zk_start(ctx: &Ctx) -> anyhow::Result<()> {
    zk_server_sh(ctx, "zk_start", "start").await
}

async fn zk_stop(ctx: &Ctx) -> anyhow::Result<()> {
    zk_server_sh(ctx, "zk_stop", "stop").await
}

/// The mode a ZooKeeper says it is in; `None` (which the runbook's line prints as `stale`) if it
/// does not answer `stat` with one.
fn mode_of(output: &str) -> Option<ZkMode> {
    ZkMode::from_reply(output)
}

/// Polls every host's `stat` until one is the leader (or standalone), printing each round.
pub async fn wait_for_leader(ctx: &Ctx, profile: Timing) -> anyhow::Result<()> {
    let command = format!(
        "GOT=$(echo stat | nc localhost {} | grep Mode:); if [ -z \"$GOT\" ]; then echo \"Mode: stale\"; else echo $GOT; fi",
        ctx.zk_port()
    );
    let started = Instant::now();
    let pace = profile.leader_pace();
    loop {
        if let LeaderPace::LookBefore(longest) = pace {
            until_complete(ctx, longest).await;
        }
        let jobs: Vec<Job> = ctx.zk_hosts().iter().map(|h| Job::new(h, None, command.clone())).collect();
        let outcomes = crate::remote::run_all(jobs).await;
        for outcome in &outcomes {
            ctx.out.host(&outcome.host, &format!("run: {command}"));
            ctx.print_outcome(outcome);
        }
        let modes: Vec<Option<ZkMode>> =
            outcomes.iter().map(|o| if o.result.is_ok() { mode_of(&o.output) } else { None }).collect();
        if zk_mode::has_leader(modes.iter().copied()) {
            if zk_mode::all_serving(modes.iter().copied()) {
                ctx.out.line("got a leader, and all nodes are up");
            } else {
                ctx.out.line("got a leader, but some nodes are out of order");
            }
            return Ok(());
        }
        if started.elapsed() >= profile.leader_wait() {
            anyhow::bail!(
                "zk_wait: no ZooKeeper leader among {} after {} s",
                ctx.zk_hosts().join(", "),
                profile.leader_wait().as_secs()
            );
        }
        ctx.out.line("zookeeper cluster not complete yet; sleeping 3 seconds");
        if let LeaderPace::SleepBetween(pause) = pace {
            tokio::time::sleep(pause).await;
        }
    }
}

/// The pause before each round of the fast profile's leader wait: up to `longest`, over as soon
/// as every host's client port answers `srvr` with a mode and one of them leads. These looks are
/// made from here, over TCP, 50 times a second: a round of the runbook's line costs each host an
/// ssh session and a shell pipeline, and the hosts' CPUs are busy starting ZooKeeper.
async fn until_complete(ctx: &Ctx, longest: Duration) {
    const LOOK_EVERY: Duration = Duration::from_millis(20);
    let deadline = Instant::now() + longest;
    while Instant::now() < deadline {
        let looks = ctx.zk_hosts().into_iter().map(|host| srvr_reply(host, ctx.zk_port()));
        let replies = futures_util::future::join_all(looks).await;
        let modes: Vec<Option<ZkMode>> = replies.iter().map(|reply| mode_of(reply)).collect();
        if zk_mode::has_leader(modes.iter().copied()) && zk_mode::all_serving(modes.iter().copied()) {
            return;
        }
        tokio::time::sleep(LOOK_EVERY.min(deadline.saturating_duration_since(Instant::now()))).await;
    }
}

/// A ZooKeeper's reply to `srvr`, asked over TCP; empty if it does not answer within 200 ms.
async fn srvr_reply(host: String, port: u16) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let ask = async {
        let mut stream = tokio::net::TcpStream::connect((host.as_str(), port)).await.ok()?;
        stream.write_all(b"srvr").await.ok()?;
        let mut reply = String::new();
        stream.read_to_string(&mut reply).await.ok()?;
        Some(reply)
    };
    tokio::time::timeout(Duration::from_millis(200), ask).await.ok().flatten().unwrap_or_default()
}

/// The children of /arcus that init creates (their paths), in the order it prints them.
const STRUCTURE: [&str; 3] = [znode::CACHE_LIST, znode::CLIENT_LIST, znode::CACHE_SERVER_MAPPING];

/// Creates /arcus and its three children in one transaction (nothing if /arcus exists), prints
/// the created paths and then /arcus's children. Returns whether it created them. Uses a session of
/// its own, closed before returning, since `init` stops the ensemble next.
pub async fn create_structure(ctx: &Ctx) -> anyhow::Result<bool> {
    let zk = Zk::connect(&ctx.zklist).await?;
    let result = structure_with(ctx, &zk).await;
    zk.close().await;
    result
}

async fn structure_with(ctx: &Ctx, zk: &Zk) -> anyhow::Result<bool> {
    let existed = zk.exists(znode::ARCUS).await?;
    if existed {
        ctx.out.line(&format!("init_arcus_structure: fail ({} exists)", znode::ARCUS));
    } else {
        let paths = std::iter::once(znode::ARCUS).chain(STRUCTURE).map(String::from);
        let ops: Vec<Op> = paths.map(|path| Op::Create { path, data: Vec::new() }).collect();
        let created = zk.commit(&ops).await?;
        ctx.out.line(&python_list(&created));
    }
    let mut children: Vec<String> = zk
        .children(znode::ARCUS)
        .await?
        .unwrap_or_default()
        .into_iter()
        .map(|child| format!("{}/{child}", znode::ARCUS))
        .collect();
    children.sort_by_key(|c| (STRUCTURE.iter().position(|s| s == c).unwrap_or(STRUCTURE.len()), c.clone()));
    for child in children {
        ctx.out.line(&child);
    }
    Ok(!existed)
}

/// A list of strings in Python's repr: `['/arcus', '/arcus/cache_list']`.
pub fn python_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| format!("'{i}'")).collect();
    format!("[{}]", quoted.join(", "))
}

/// `zookeeper stat`: the `stat` four-letter reply of every host, or one JSON document.
pub async fn stat(ctx: &Ctx) -> anyhow::Result<()> {
    let command = format!("echo stat | nc localhost {}", ctx.zk_port());
    let outcomes = stat_replies(ctx, &command).await;
    if ctx.json {
        let hosts: Vec<serde_json::Value> = outcomes.iter().map(stat_json).collect();
        println!("{}", serde_json::to_string_pretty(&hosts)?);
        return all_succeeded("zk_stat", &outcomes);
    }
    ctx.out.server_roles(&ctx.zk_hosts(), &[]);
    for outcome in &outcomes {
        ctx.out.host(&outcome.host, "Executing task 'zk_stat'");
        ctx.out.host(&outcome.host, &format!("run: {command}"));
        ctx.print_outcome(outcome);
    }
    all_succeeded("zk_stat", &outcomes)?;
    ctx.out.done();
    Ok(())
}

/// Runs `command` on every host; an empty reply is asked again, up to 3 times in all. (`echo
/// stat` sends "stat\n"; ZooKeeper reads 4 bytes, answers and closes with the newline unread, so
/// the kernel may reset the connection and nc lose the answer.)
async fn stat_replies(ctx: &Ctx, command: &str) -> Vec<crate::remote::Outcome> {
    let jobs = ctx.zk_hosts().iter().map(|h| Job::new(h, None, command)).collect();
    let mut outcomes = crate::remote::run_all(jobs).await;
    for _ in 1..3 {
        let empty: Vec<usize> =
            (0..outcomes.len()).filter(|&i| outcomes[i].result.is_ok() && outcomes[i].output.is_empty()).collect();
        if empty.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        let again =
            crate::remote::run_all(empty.iter().map(|&i| Job::new(&outcomes[i].host, None, command)).collect()).await;
        for (i, outcome) in empty.into_iter().zip(again) {
            outcomes[i] = outcome;
        }
    }
    outcomes
}

/// One host's `stat` reply as JSON: `serving`, `mode`, the one-line fields, the client lines.
fn stat_json(outcome: &crate::remote::Outcome) -> serde_json::Value {
    let mut fields = serde_json::Map::new();
    let mut clients = Vec::new();
    let mut in_clients = false;
    for line in outcome.output.lines() {
        if line == "Clients:" {
            in_clients = true;
        } else if in_clients && line.starts_with(' ') {
            clients.push(line.trim().to_string());
        } else if let Some((key, value)) = line.split_once(": ") {
            in_clients = false;
            fields.insert(key.to_string(), value.trim().into());
        } else {
            in_clients = false;
        }
    }
    let mode = fields.get("Mode").cloned();
    serde_json::json!({
        "host": outcome.host,
        "serving": mode.is_some(),
        "mode": mode,
        "fields": fields,
        "clients": clients,
        "reply": outcome.output,
        "error": outcome.result.as_ref().err().map(|e| e.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zoo_cfg_seed() {
        let hosts = ["172.17.0.3".to_string(), "172.17.0.4".to_string(), "172.17.0.5".to_string()];
        assert_eq!(
            render_zoo_cfg(&hosts, 2181, "/opt/arcus/zookeeper", Timing::Seed),
            "maxClientCnxns=100\ntickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir=/opt/arcus/zookeeper/data\n\
             clientPort=2181\n4lw.commands.whitelist=*\nminSessionTimeout=4000\nmaxSessionTimeout=200000\n\
             server.1=172.17.0.3:2888:3888\nserver.2=172.17.0.4:2888:3888\nserver.3=172.17.0.5:2888:3888\n"
        );
    }

    #[test]
    fn zoo_cfg_fast() {
        let cfg = render_zoo_cfg(&["memcached-1".to_string()], 2182, "/tmp/a/zookeeper", Timing::Fast);
        assert!(cfg.contains("\ntickTime=500\n"));
        assert!(cfg.contains("\nminSessionTimeout=1000\nmaxSessionTimeout=10000\n"));
        assert!(cfg.contains("\nclientPort=2182\n"));
        assert!(cfg.contains("\ndataDir=/tmp/a/zookeeper/data\n"));
        assert!(cfg.ends_with("\nserver.1=memcached-1:2888:3888\n"));
    }

    #[test]
    fn modes() {
        assert_eq!(mode_of("Mode: follower\n"), Some(ZkMode::Follower));
        assert_eq!(mode_of("Mode: stale\n"), None);
        assert_eq!(mode_of(""), None);
        assert_eq!(mode_of("Zxid: 0x1\nMode: standalone\nNode count: 5\n"), Some(ZkMode::Standalone));
    }

    #[test]
    fn python_lists() {
        assert_eq!(python_list(&["/arcus".into(), "/arcus/cache_list".into()]), "['/arcus', '/arcus/cache_list']");
        assert_eq!(python_list(&[]), "[]");
    }

    #[test]
    fn stat_reply_as_json() {
        let reply = "Zookeeper version: 3.8.0--1, built on 2022-02-25\nClients:\n /127.0.0.1:43361[0](queued=0,recved=1,sent=0)\n\n\
                     Latency min/avg/max: 0/0.0/0\nMode: follower\nNode count: 8\n";
        let outcome = crate::remote::Outcome { host: "h".into(), remote: false, output: reply.into(), result: Ok(()) };
        let json = stat_json(&outcome);
        assert_eq!(json["mode"], "follower");
        assert_eq!(json["serving"], true);
        assert_eq!(json["fields"]["Node count"], "8");
        assert_eq!(json["fields"]["Latency min/avg/max"], "0/0.0/0");
        assert_eq!(json["clients"][0], "/127.0.0.1:43361[0](queued=0,recved=1,sent=0)");
        let outcome = crate::remote::Outcome {
            host: "h".into(),
            remote: false,
            output: "This ZooKeeper instance is not currently serving requests\n".into(),
            result: Ok(()),
        };
        let json = stat_json(&outcome);
        assert_eq!((json["serving"].clone(), json["mode"].clone()), (false.into(), serde_json::Value::Null));
    }

    #[test]
    fn profile_names() {
        // (ARCUS_ZK_PROFILE itself reaches the binary in tests/cli.rs: no test sets the process's
        // environment, which other test threads read)
        assert_eq!(profile_named("seed").unwrap(), Timing::Seed);
        assert_eq!(profile_named("fast").unwrap(), Timing::Fast);
        assert_eq!(
            profile_named("quick").unwrap_err().to_string(),
            "ARCUS_ZK_PROFILE=\"quick\": expected \"seed\" or \"fast\""
        );
        // unset or empty: the lab's default, fast
        assert_eq!(profile_named("").unwrap(), Timing::Fast);
    }
}
