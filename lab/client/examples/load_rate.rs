//! How fast the load generator goes on this machine: a standalone ZooKeeper (the lab's fixture
//! container), N reference nodes on loopback, a view and one load at the given rate; prints the
//! operations per second reached, how many the generator could not issue on time, the latency
//! percentiles and the CPU time of this process and of the nodes.
//!
//! ```sh
//! cargo build -p arcus-node --release --bin memcached
//! cargo run -p arcus-client --release --example load_rate -- --rate 25000 --seconds 10 --nodes 3
//! ```

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result};
use arcus_client::report::read_records;
use arcus_client::{Guard, Load, LoadSpec, Report, View, ViewConfig};
use arcus_lab::fixture::StandaloneZk;
use zookeeper_client as zk;

const SVC: &str = "load-rate";

struct Args {
    rate: u32,
    seconds: u64,
    nodes: usize,
    profile: String,
}

fn args() -> Result<Args> {
    let mut args = Args { rate: 20_000, seconds: 10, nodes: 3, profile: "release".to_string() };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--rate" => args.rate = value.parse()?,
            "--seconds" => args.seconds = value.parse()?,
            "--nodes" => args.nodes = value.parse()?,
            "--node-profile" => args.profile = value,
            other => {
                anyhow::bail!("unknown flag {other} (--rate N --seconds S --nodes K --node-profile release|debug)")
            }
        }
    }
    Ok(args)
}

struct Node(Child);

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// User + system CPU seconds of a process, from /proc/<pid>/stat.
fn cpu_seconds(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks: f64 = fields.get(11..13).map_or(0.0, |f| f.iter().filter_map(|v| v.parse::<f64>().ok()).sum());
    ticks / 100.0
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let args = args()?;
    let binary = arcus_lab::paths::target_dir().join(&args.profile).join("memcached");
    anyhow::ensure!(
        binary.exists(),
        "{} is missing: cargo build -p arcus-node --{} --bin memcached",
        binary.display(),
        args.profile
    );
    let zk = StandaloneZk::start("fixture-client-load-rate").await?;
    let admin = zk::Client::connector().with_session_timeout(Duration::from_secs(10)).connect(&zk.addr()).await?;
    let persistent = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
    for p in ["/arcus", "/arcus/cache_list", "/arcus/client_list", "/arcus/cache_server_mapping"] {
        admin.create(p, b"", &persistent).await?;
    }
    admin.create(&format!("/arcus/cache_list/{SVC}"), b"{}", &persistent).await?;
    admin.create(&format!("/arcus/client_list/{SVC}"), b"", &persistent).await?;
    let mut nodes = Vec::new();
    for _ in 0..args.nodes {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let mapping = format!("/arcus/cache_server_mapping/127.0.0.1:{port}");
        admin.create(&mapping, b"{}", &persistent).await?;
        admin.create(&format!("{mapping}/{SVC}"), b"", &persistent).await?;
        let child = Command::new(&binary)
            .args(["-u", "nobody", "-l", "127.0.0.1", "-p", &port.to_string(), "-m", "256", "-z", &zk.addr()])
            .env("ARCUS_CACHE_PUBLIC_IP", "127.0.0.1")
            .env("ARCUS_CACHE_HOSTNAME_OVERWRITE", "load-rate")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("start a node")?;
        nodes.push(Node(child));
    }
    let view = View::connect(ViewConfig::new(zk.addr(), SVC, Guard::networks(vec![zk.ip().into()]))).await?;
    view.wait_for_nodes(args.nodes, Duration::from_secs(15)).await?;

    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/tmp/load-rate");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("client.jsonl");
    let spec = LoadSpec {
        rate: args.rate,
        keys: 10_000,
        duration: Some(Duration::from_secs(args.seconds)),
        ..LoadSpec::default()
    };
    let own_before = cpu_seconds("self");
    let node_pids: Vec<String> = nodes.iter().map(|n| n.0.id().to_string()).collect();
    let nodes_before: f64 = node_pids.iter().map(|p| cpu_seconds(p)).sum();
    let load = Load::start(&view, spec, std::fs::File::create(&path)?)?;
    let totals = load.finish().await?;
    let own = cpu_seconds("self") - own_before;
    let node_cpu: f64 = node_pids.iter().map(|p| cpu_seconds(p)).sum::<f64>() - nodes_before;
    let events = view.close().await;
    let report = Report::compute(read_records(&path)?, &events, &[], totals.started)?;
    let phase = &report.phases[0];
    let secs = totals.elapsed.as_secs_f64();
    println!(
        "rate asked {} ops/s, reached {:.0} ops/s over {:.1} s ({} ops, {} failed, {} not issued on time)",
        args.rate, totals.ops_per_sec, secs, totals.ops, report.failed, totals.behind
    );
    println!("latency p50 {} µs, p99 {} µs, max {} µs", phase.p50_us, phase.p99_us, phase.max_us);
    println!(
        "CPU: this process (generator, records, ZooKeeper client) {:.2} s = {:.0} % of one core; the {} nodes {:.2} s = {:.0} %",
        own,
        100.0 * own / secs,
        args.nodes,
        node_cpu,
        100.0 * node_cpu / secs
    );
    Ok(())
}
