//! `cargo xtask bench node`: memcaslap against the reference node (release build) and Debian's
//! memcached started with the same -t, -c and -m, runs alternating; prints ops/s of each, the
//! ratio and both processes' peak RSS, and writes them to `target/arcus-lab/bench/node.json`.

use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};
use clap::Args;

use crate::local_node::LocalNode;

const DEBIAN_MEMCACHED: &str = "/usr/bin/memcached";

#[derive(Args, Debug)]
pub struct BenchNodeArgs {
    /// worker threads of both servers (-t)
    #[arg(long, default_value_t = 4)]
    pub threads: usize,
    /// max connections of both servers (-c)
    #[arg(long, default_value_t = 1024)]
    pub conns: usize,
    /// memory limit of both servers in MB (-m)
    #[arg(long, default_value_t = 64)]
    pub memory: u64,
    /// seconds per memcaslap run
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// memcaslap runs per server (alternating)
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// memcaslap concurrency (-c)
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// memcaslap threads (-T)
    #[arg(long, default_value_t = 2)]
    pub client_threads: usize,
}

struct Server {
    name: &'static str,
    node: LocalNode,
    port: u16,
    tps: Vec<f64>,
}

pub async fn run(args: BenchNodeArgs) -> Result<()> {
    tokio::task::spawn_blocking(move || bench(&args)).await.context("the benchmark thread")?
}

fn bench(args: &BenchNodeArgs) -> Result<()> {
    for tool in ["memcaslap", DEBIAN_MEMCACHED] {
        let found = Command::new("sh").args(["-c", &format!("command -v {tool}")]).output().context("sh")?;
        if !found.status.success() {
            bail!("{tool} is missing: apt-get install -y libmemcached-tools memcached");
        }
    }
    let root = arcus_lab::paths::workspace_root();
    eprintln!("building the reference node (cargo build --release -p arcus-node)");
    let status = Command::new(env!("CARGO"))
        .args(["build", "--release", "-p", "arcus-node"])
        .current_dir(&root)
        .status()
        .context("cargo build")?;
    if !status.success() {
        bail!("cargo build --release -p arcus-node failed");
    }
    let node_bin = arcus_lab::paths::target_dir().join("release/memcached");
    let mut servers = vec![
        start("debian-memcached-1.6.18", Path::new(DEBIAN_MEMCACHED), args)?,
        start("reference-node", &node_bin, args)?,
    ];
    for run in 0..args.runs {
        for server in servers.iter_mut() {
            // main listens for signals: stop here (the servers are killed as they drop)
            if let Some(signal) = arcus_lab::interrupt::received() {
                return Err(arcus_lab::interrupt::Interrupted { signal }.into());
            }
            let tps = memcaslap(server.port, args).with_context(|| format!("memcaslap against {}", server.name))?;
            eprintln!("run {}: {:<24} {:>10.0} ops/s", run + 1, server.name, tps);
            server.tps.push(tps);
        }
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let peak = |s: &Server| s.node.peak_rss_kib().unwrap_or(0);
    let (debian, reference) = (&servers[0], &servers[1]);
    let ratio = mean(&reference.tps) / mean(&debian.tps);
    println!("{:<26} {:>12} {:>14}", "server", "ops/s (mean)", "peak RSS MiB");
    for s in [debian, reference] {
        println!("{:<26} {:>12.0} {:>14.1}", s.name, mean(&s.tps), peak(s) as f64 / 1024.0);
    }
    println!("ratio reference/debian: {ratio:.3} (target >= 0.8)");
    let json = serde_json::json!({
        "threads": args.threads, "conns": args.conns, "memory_mb": args.memory,
        "seconds_per_run": args.seconds, "runs": args.runs,
        "memcaslap": { "concurrency": args.concurrency, "threads": args.client_threads },
        "debian": { "ops_per_sec": debian.tps, "mean": mean(&debian.tps), "peak_rss_kib": peak(debian) },
        "reference": { "ops_per_sec": reference.tps, "mean": mean(&reference.tps), "peak_rss_kib": peak(reference) },
        "ratio": ratio,
    });
    let dir = arcus_lab::paths::state_dir().join("bench");
    std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
    let file = dir.join("node.json");
    std::fs::write(&file, serde_json::to_string_pretty(&json)?).with_context(|| format!("write {}", file.display()))?;
    eprintln!("wrote {}", file.display());
    servers.clear();
    Ok(())
}

fn start(name: &'static str, bin: &Path, args: &BenchNodeArgs) -> Result<Server> {
    let flags = ["-t", &args.threads.to_string(), "-c", &args.conns.to_string(), "-m", &args.memory.to_string()]
        .map(String::from);
    let node = LocalNode::start(name, bin, &flags, None)?;
    Ok(Server { name, port: node.port, node, tps: Vec::new() })
}

/// One memcaslap run; returns the TPS of its final "Run time" line.
fn memcaslap(port: u16, args: &BenchNodeArgs) -> Result<f64> {
    let out = Command::new("memcaslap")
        .args(["-s", &format!("127.0.0.1:{port}"), "-T", &args.client_threads.to_string()])
        .args(["-c", &args.concurrency.to_string(), "-t", &format!("{}s", args.seconds)])
        .output()
        .context("run memcaslap")?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .rfind(|l| l.starts_with("Run time"))
        .with_context(|| format!("no `Run time` line in memcaslap's output:\n{text}"))?;
    let tps = line.split("TPS:").nth(1).and_then(|t| t.split_whitespace().next()).and_then(|t| t.parse().ok());
    tps.with_context(|| format!("no TPS in {line:?}"))
}
