//! The cache cloud in ZooKeeper and on the hosts: `memcached register|unregister|start|stop|list|listall`.

use crate::conf::{self, CloudConf, Server};
use crate::remote::Job;
use crate::table::{self, ServiceStatus};
use crate::zk::{Op, Zk};
use crate::zookeeper::python_list;
use crate::{all_succeeded, Ctx};
use arcus_facts::znode::{self, CACHE_LIST, CACHE_SERVER_MAPPING, CLIENT_LIST};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;

/// `memcached register <conf>`.
pub async fn register(ctx: &Ctx, conf_path: &Path) -> anyhow::Result<()> {
    let conf = conf::load(conf_path)?;
    ctx.out.server_roles(&ctx.zk_hosts(), &server_ips(&conf));
    register_conf(ctx, &conf).await?;
    ctx.out.done();
    Ok(())
}

/// Every server's IP, duplicates kept (the `memcached` role list).
pub fn server_ips(conf: &CloudConf) -> Vec<String> {
    conf.servers.iter().map(|s| s.ip.clone()).collect()
}

/// Registers `conf` in one transaction and prints the created paths.
pub async fn register_conf(ctx: &Ctx, conf: &CloudConf) -> anyhow::Result<()> {
    let zk = ctx.zk().await?;
    require_structure(ctx, zk).await?;
    let svc = &conf.service_code;
    let service_path = znode::cache_list(svc);
    let now = python_now();
    let mut document = conf.document.clone();
    let mut ops = Vec::new();
    match zk.data(&service_path).await? {
        Some((old, version)) => {
            let created = serde_json::from_slice::<Value>(&old).ok().and_then(|v| v.get("created").cloned());
            document.insert("created".into(), created.unwrap_or_else(|| now.clone().into()));
            document.insert("modified".into(), now.into());
            ops.push(Op::Set { path: service_path, data: serde_json::to_vec(&document)?, version });
        }
        None => {
            document.insert("created".into(), now.into());
            ops.push(Op::Create { path: service_path, data: serde_json::to_vec(&document)? });
        }
    }
    let client_path = znode::client_list(svc);
    if !zk.exists(&client_path).await? {
        ops.push(Op::Create { path: client_path, data: Vec::new() });
    }
    // as the original: every mapping of the service goes, then the conf's servers are mapped
    // anew; those the conf no longer lists stay removed, and are named below
    let listed: Vec<String> = conf.servers.iter().map(Server::address).collect();
    let mut removed = Vec::new();
    for address in mapped_to(&mappings(zk).await?, svc) {
        ops.push(Op::Delete { path: format!("{}/{svc}", znode::mapping(&address)) });
        ops.push(Op::Delete { path: znode::mapping(&address) });
        if !listed.contains(&address) {
            removed.push(address);
        }
    }
    for server in &conf.servers {
        let path = znode::mapping(&server.address());
        ops.push(Op::Create { path: path.clone(), data: serde_json::to_vec(&server.config)? });
        ops.push(Op::Create { path: format!("{path}/{svc}"), data: Vec::new() });
    }
    let joined = zk.children(&znode::cache_list(svc)).await?.unwrap_or_default();
    let created = zk.commit(&ops).await?;
    ctx.out.line(&python_list(&created));
    for address in removed {
        let mut line =
            format!("removed mapping {} ({svc}): the conf no longer lists {address}", znode::mapping(&address));
        let prefix = format!("{address}-");
        if let Some(node) = joined.iter().find(|n| n.starts_with(&prefix)) {
            line.push_str(&format!("; its node {node} is still joined and is now Undefined"));
        }
        ctx.out.line(&line);
    }
    Ok(())
}

/// `memcached unregister <svc>`: asks for `Delete <svc>`, refuses while nodes or clients are registered.
pub async fn unregister(ctx: &Ctx, svc: &str) -> anyhow::Result<()> {
    ctx.out.server_roles(&ctx.zk_hosts(), &[]);
    let zk = ctx.zk().await?;
    service_data(ctx, zk, svc).await?;
    for (what, path) in [("cache node", znode::cache_list(svc)), ("client", znode::client_list(svc))] {
        let mut members = zk.children(&path).await?.unwrap_or_default();
        // ZooKeeper's order varies: sorted, the refusal reads the same every time
        members.sort();
        if !members.is_empty() {
            anyhow::bail!(
                "unregister refused: {} {what}(s) registered under {path}: {}; nothing was deleted",
                members.len(),
                members.join(", ")
            );
        }
    }
    ctx.out.line("!!Caution!!");
    ctx.out.line("This will delete an Arcus cluster permanently.");
    ctx.out.line(&format!("Please type in the following texts to confirm: \"Delete {svc}\""));
    if read_confirmation(ctx)? != format!("Delete {svc}") {
        ctx.out.line("Delete canceled.");
        ctx.out.done();
        return Ok(());
    }
    let mut ops = Vec::new();
    for address in mapped_to(&mappings(zk).await?, svc) {
        ops.push(Op::Delete { path: format!("{}/{svc}", znode::mapping(&address)) });
        ops.push(Op::Delete { path: znode::mapping(&address) });
    }
    let client_path = znode::client_list(svc);
    if zk.exists(&client_path).await? {
        ops.push(Op::Delete { path: client_path });
    }
    ops.push(Op::Delete { path: znode::cache_list(svc) });
    zk.commit(&ops).await?;
    let deleted: Vec<String> = ops
        .iter()
        .map(|op| match op {
            Op::Delete { path } => path.clone(),
            other => unreachable!("unregister only deletes, not {other:?}"),
        })
        .collect();
    ctx.out.line(&python_list(&deleted));
    ctx.out.done();
    Ok(())
}

/// Prints the `>> ` prompt and reads one line. On a terminal the prompt waits on the line; when
/// stdin is not a terminal the line read is shown after the prompt, as a terminal would echo it.
fn read_confirmation(ctx: &Ctx) -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    let terminal = stdin.is_terminal();
    if terminal {
        print!(">> ");
        std::io::stdout().flush()?;
    }
    let mut line = String::new();
    tokio::task::block_in_place(|| stdin.lock().read_line(&mut line))?;
    let line = line.trim_end_matches(['\r', '\n']).to_string();
    if !terminal {
        ctx.out.line(&format!(">> {line}"));
    }
    Ok(line)
}

/// `memcached start <svc>`: the runbook's command line for every node, on its host.
pub async fn start(ctx: &Ctx, svc: &str) -> anyhow::Result<()> {
    ctx.out.server_roles(&ctx.zk_hosts(), &[]);
    start_service(ctx, svc).await?;
    ctx.out.done();
    Ok(())
}

/// Starts every node of a registered service; a server whose config lacks a start key is skipped.
pub async fn start_service(ctx: &Ctx, svc: &str) -> anyhow::Result<()> {
    let conf = registered_conf(ctx, svc).await?;
    let mut skipped = Vec::new();
    let mut jobs = Vec::new();
    for server in &conf.servers {
        match start_command(&ctx.home, server, &ctx.zklist) {
            Some(command) => jobs.push((format!("run: {command}"), Job::new(&server.ip, None, detached(&command)))),
            None => {
                ctx.out.line(&format!("Skipping {}: config not found", server.address()));
                skipped.push(server.address());
            }
        }
    }
    all_succeeded("mc_start_server", &ctx.tasks("mc_start_server", jobs).await)?;
    if !skipped.is_empty() {
        anyhow::bail!(
            "skipped {} (the merged config needs port, memlimit, connections and threads)",
            skipped.join(", ")
        );
    }
    Ok(())
}

/// ruo91/arcus's start line, or `None` if the merged config lacks memlimit, connections or threads.
pub fn start_command(home: &str, server: &Server, zklist: &str) -> Option<String> {
    let (memlimit, connections, threads) =
        (server.get("memlimit")?, server.get("connections")?, server.get("threads")?);
    Some(format!(
        "{home}/bin/memcached -u memcached -E {home}/lib/default_engine.so -X {home}/lib/syslog_logger.so \
         -X {home}/lib/ascii_scrub.so -d -v -r -R5 -U 0 -D: -b 8192 -m{memlimit} -p {} -c {connections} -t {threads} \
         -z {zklist}",
        server.port
    ))
}

pub use arcus_facts::shell::detached;

/// `memcached stop <svc>`: SIGINT to each node's process (the one whose arguments have `-p <port>`).
pub async fn stop(ctx: &Ctx, svc: &str) -> anyhow::Result<()> {
    ctx.out.server_roles(&ctx.zk_hosts(), &[]);
    let conf = registered_conf(ctx, svc).await?;
    let jobs = conf
        .servers
        .iter()
        .map(|server| {
            let command = stop_command(server.port);
            (format!("run: {command}"), Job::new(&server.ip, None, command))
        })
        .collect();
    all_succeeded("mc_stop_server", &ctx.tasks("mc_stop_server", jobs).await)?;
    ctx.out.done();
    Ok(())
}

/// A shell loop that sends SIGINT to every process whose program is `memcached` and whose
/// arguments have `-p` followed by exactly `port`. Its own text never matches (the port stands
/// in a variable, and its program is the shell).
pub fn stop_command(port: u16) -> String {
    format!(
        "port={port}; found=; for d in /proc/[0-9]*; do a=$(tr '\\0' ' ' 2>/dev/null < $d/cmdline); \
         case \"${{a%% *}}\" in */memcached|memcached) case \" $a\" in *\" -p $port \"*) \
         kill -INT ${{d#/proc/}} && found=1;; esac;; esac; done; \
         [ -n \"$found\" ] || echo \"no memcached with -p $port is running\""
    )
}

/// `memcached list <svc>`: the table, then the Online/Offline/Undefined blocks.
pub async fn list(ctx: &Ctx, svc: &str) -> anyhow::Result<()> {
    if ctx.json {
        let zk = ctx.zk().await?;
        let status = read_status(ctx, zk, svc).await?;
        println!("{}", serde_json::to_string_pretty(&status)?);
        return Ok(());
    }
    ctx.out.server_roles(&ctx.zk_hosts(), &[]);
    list_service(ctx, svc).await?;
    ctx.out.done();
    Ok(())
}

async fn read_status(ctx: &Ctx, zk: &Zk, svc: &str) -> anyhow::Result<ServiceStatus> {
    let data = service_data(ctx, zk, svc).await?;
    service_status(zk, svc, &data, &mappings(zk).await?).await
}

/// Prints the table and the non-empty blocks of one service.
pub async fn list_service(ctx: &Ctx, svc: &str) -> anyhow::Result<()> {
    let zk = ctx.zk().await?;
    let status = read_status(ctx, zk, svc).await?;
    for line in table::render(std::slice::from_ref(&status)) {
        ctx.out.line(&line);
    }
    for (title, members) in [("Online", &status.online), ("Offline", &status.offline), ("Undefined", &status.undefined)]
    {
        if !members.is_empty() {
            ctx.out.line("");
            ctx.out.line(title);
            for member in members {
                ctx.out.line(&format!("\t{member}"));
            }
        }
    }
    Ok(())
}

/// `memcached listall`: one row per child of `cache_list`, sorted by service code.
pub async fn listall(ctx: &Ctx) -> anyhow::Result<()> {
    if !ctx.json {
        ctx.out.server_roles(&ctx.zk_hosts(), &[]);
    }
    let zk = ctx.zk().await?;
    require_structure(ctx, zk).await?;
    let mut services = zk.children(CACHE_LIST).await?.unwrap_or_default();
    services.sort();
    let mappings = mappings(zk).await?;
    let mut statuses = Vec::new();
    for svc in &services {
        // A service unregistered while we read is left out.
        if let Some((data, _)) = zk.data(&znode::cache_list(svc)).await? {
            statuses.push(service_status(zk, svc, &data, &mappings).await?);
        }
    }
    if ctx.json {
        #[derive(serde::Serialize)]
        struct Listing<'a> {
            services: &'a [ServiceStatus],
        }
        println!("{}", serde_json::to_string_pretty(&Listing { services: &statuses })?);
        return Ok(());
    }
    for line in table::render(&statuses) {
        ctx.out.line(&line);
    }
    ctx.out.done();
    Ok(())
}

/// Fails unless `init` made the three lists.
async fn require_structure(ctx: &Ctx, zk: &Zk) -> anyhow::Result<()> {
    for path in [CACHE_LIST, CLIENT_LIST, CACHE_SERVER_MAPPING] {
        if !zk.exists(path).await? {
            anyhow::bail!("ZooKeeper at {} has no {path}: run `zookeeper init` first", ctx.zklist);
        }
    }
    Ok(())
}

/// The data of `cache_list/<svc>`; an unknown service is an error that says so.
async fn service_data(ctx: &Ctx, zk: &Zk, svc: &str) -> anyhow::Result<Vec<u8>> {
    require_structure(ctx, zk).await?;
    let path = znode::cache_list(svc);
    match zk.data(&path).await? {
        Some((data, _)) => Ok(data),
        None => anyhow::bail!("unknown service code {svc:?}: {path} does not exist"),
    }
}

/// The config a service was registered with, read back from `cache_list/<svc>`.
async fn registered_conf(ctx: &Ctx, svc: &str) -> anyhow::Result<CloudConf> {
    let zk = ctx.zk().await?;
    let data = service_data(ctx, zk, svc).await?;
    Ok(conf::parse(&znode::cache_list(svc), &String::from_utf8_lossy(&data))?)
}

/// Every mapping node (`ip:port`) with its first child (the service it maps to), if any.
async fn mappings(zk: &Zk) -> anyhow::Result<BTreeMap<String, Option<String>>> {
    let mut mappings = BTreeMap::new();
    for address in zk.children(CACHE_SERVER_MAPPING).await?.unwrap_or_default() {
        // A mapping deleted while we read is left out.
        if let Some(children) = zk.children(&znode::mapping(&address)).await? {
            mappings.insert(address, children.into_iter().next());
        }
    }
    Ok(mappings)
}

/// The mapping nodes whose first child is `svc`.
fn mapped_to(mappings: &BTreeMap<String, Option<String>>, svc: &str) -> Vec<String> {
    mappings.iter().filter(|(_, first)| first.as_deref() == Some(svc)).map(|(a, _)| a.clone()).collect()
}

async fn service_status(
    zk: &Zk,
    svc: &str,
    data: &[u8],
    mappings: &BTreeMap<String, Option<String>>,
) -> anyhow::Result<ServiceStatus> {
    let joined = zk.children(&znode::cache_list(svc)).await?.unwrap_or_default();
    let document: Value = serde_json::from_slice(data).unwrap_or(Value::Null);
    let field = |key: &str| document.get(key).and_then(Value::as_str).map(String::from);
    Ok(ServiceStatus::new(svc, &mapped_to(mappings, svc), &joined, field("created"), field("modified")))
}

/// Local time as Python's `str(datetime.now())`.
pub fn python_now() -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("the clock is after 1970");
    let secs = now.as_secs() as libc::time_t;
    // SAFETY: localtime_r reads `secs` and writes only into the `tm` we pass (glibc's reads the
    // time zone once, from TZ or /etc/localtime).
    let tm = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        libc::localtime_r(&secs, &mut tm);
        tm
    };
    let fields = [tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec];
    python_datetime(fields, now.subsec_micros())
}

/// `YYYY-MM-DD HH:MM:SS.ffffff`, without `.ffffff` when the microseconds are 0 (as Python does).
fn python_datetime([year, month, day, hour, minute, second]: [i32; 6], micros: u32) -> String {
    let base = format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02}:{second:02}");
    if micros == 0 {
        base
    } else {
        format!("{base}.{micros:06}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetimes_as_python_prints_them() {
        assert_eq!(python_datetime([2014, 5, 22, 7, 27, 21], 121711), "2014-05-22 07:27:21.121711");
        assert_eq!(python_datetime([2014, 5, 22, 7, 27, 21], 42), "2014-05-22 07:27:21.000042");
        assert_eq!(python_datetime([2014, 5, 22, 7, 27, 21], 0), "2014-05-22 07:27:21");
        let now = python_now();
        assert!(now.len() == 19 || now.len() == 26, "{now}");
    }

    #[test]
    fn the_runbooks_start_line() {
        let conf = conf::parse(
            "c",
            r#"{"serviceCode":"ruo91-cloud","servers":[{"ip":"172.17.0.3","config":{"port":"11211"}}],
                "config":{"threads":"6","memlimit":"100","connections":"1000"}}"#,
        )
        .unwrap();
        assert_eq!(
            start_command("/opt/arcus", &conf.servers[0], "172.17.0.3:2181,172.17.0.4:2181,172.17.0.5:2181").unwrap(),
            "/opt/arcus/bin/memcached -u memcached -E /opt/arcus/lib/default_engine.so -X /opt/arcus/lib/syslog_logger.so \
             -X /opt/arcus/lib/ascii_scrub.so -d -v -r -R5 -U 0 -D: -b 8192 -m100 -p 11211 -c 1000 -t 6 \
             -z 172.17.0.3:2181,172.17.0.4:2181,172.17.0.5:2181"
        );
        let bare =
            conf::parse("c", r#"{"serviceCode":"s","servers":[{"ip":"a","config":{"port":"1","memlimit":"5"}}]}"#)
                .unwrap();
        assert_eq!(start_command("/opt/arcus", &bare.servers[0], "a:1"), None);
    }

    #[test]
    fn stop_signals_exactly_the_port() {
        // Stand-ins: a copy of sh named memcached, on ports 1121 and 11211; the stop for 1121 must
        // spare 11211.
        let dir = std::env::temp_dir().join(format!("arcus-stop-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let program = dir.join("memcached");
        std::fs::copy("/bin/sh", &program).unwrap();
        // each says it is ready once its SIGINT trap is set (a signal before that would kill it)
        let spawn = |port: &str| {
            let ready = dir.join(format!("ready-{port}"));
            let child = std::process::Command::new(&program)
                .args(["-c", "trap 'exit 0' INT; : > \"$READY\"; while :; do sleep 0.05; done", "-p", port, "-c", "10"])
                .env("READY", &ready)
                .spawn()
                .unwrap();
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
            while !ready.exists() {
                assert!(std::time::Instant::now() < deadline, "the stand-in on {port} not ready within 5 s");
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            child
        };
        let (mut short, mut long) = (spawn("1121"), spawn("11211"));
        let out = std::process::Command::new("sh").arg("-c").arg(stop_command(1121)).output().unwrap();
        assert!(out.status.success());
        assert_eq!(String::from_utf8_lossy(&out.stdout), "");
        assert!(short.wait().unwrap().success());
        assert!(long.try_wait().unwrap().is_none(), "the node on 11211 must keep running");
        let out = std::process::Command::new("sh").arg("-c").arg(stop_command(1121)).output().unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "no memcached with -p 1121 is running\n");
        long.kill().unwrap();
        long.wait().unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn a_detached_start_returns_while_its_daemon_runs() {
        // The launcher prints, leaves a daemon holding its stdout and stderr, and exits 3.
        let command = detached("echo launched; (sleep 5 &); exit 3");
        let started = std::time::Instant::now();
        let out = tokio::process::Command::new("sh").arg("-c").arg(&command).output().await.unwrap();
        assert!(started.elapsed() < std::time::Duration::from_secs(2), "waited for the daemon");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "launched\n");
        assert_eq!(out.status.code(), Some(3));
    }
}
