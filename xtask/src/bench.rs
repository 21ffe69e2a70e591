//! `cargo xtask bench ...`: benchmarks that print figures and write them to
//! `target/arcus-lab/bench/<name>.json`. They measure; they never pass or fail on a figure.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use arcus_lab::cloud::{self, Level, Step, UpOptions};
use arcus_lab::interrupt::{self, Interrupted};
use arcus_lab::lab as labs;
use arcus_lab::{Engine, LabSpec, Progress, Topology};
use clap::Subcommand;

use crate::child;

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Time `lab up --bare` until every sshd answers (or, with --cloud, the whole runbook until
    /// every node is online): cold (lab images removed first) and warm (median of 5), plus the
    /// idle cache hosts' memory (with and without a ZooKeeper member). `--hosts/--zk/--nodes-per-host` give the
    /// topology (default: the runbook's).
    LabUp {
        /// Skip the cold run (keeps the images).
        #[arg(long)]
        warm_only: bool,
        /// Go through the runbook to a cloud with every node online, not just the bare machines.
        #[arg(long)]
        cloud: bool,
        #[arg(long, default_value_t = 5)]
        runs: usize,
        #[command(flatten)]
        topology: crate::lab::TopologyArgs,
        #[command(flatten)]
        images: crate::image_args::ImageArgs,
    },
    /// Wall time of the whole scenario suite (as `cargo xtask test` runs it, in parallel) and of
    /// each scenario.
    Suite {
        #[command(flatten)]
        images: crate::image_args::ImageArgs,
    },
    /// memcaslap against the reference node and Debian's memcached at the same -t/-c/-m, alternating.
    Node(crate::bench_node::BenchNodeArgs),
    /// `bop insert` and `bop get` of a range in a large b+tree (10^5 elements by default) on the
    /// reference node and, with --arcus PREFIX, on a real arcus-memcached, both on loopback.
    Btree(crate::bench_btree::BenchBtreeArgs),
    /// The lab's lifecycle over and over through `cargo xtask lab ...` (up/down pairs, SIGINT during
    /// `lab up` and `lab run`, two labs at once), counting what each left behind, then the scenario
    /// suite several times in a row with its failures → target/arcus-lab/bench/soak.json.
    Soak(crate::bench_soak::SoakArgs),
    /// What each failure story costs a client: the scenarios with traffic, each story's seconds
    /// unavailable, share of keys affected, failed operations and values lost (with --arcus or
    /// --arcus-src beside a real node's) → target/arcus-lab/bench/client.json; or, with
    /// --max-rate, the load generator's throughput and CPU share against a lab.
    Client(crate::bench_client::BenchClientArgs),
}

pub async fn run(cmd: BenchCommand) -> Result<ExitCode> {
    match cmd {
        BenchCommand::LabUp { warm_only, cloud, runs, topology, images } => {
            images.apply();
            lab_up(warm_only, cloud, runs, topology.topology()?).await
        }
        BenchCommand::Suite { images } => {
            images.apply();
            suite().await
        }
        BenchCommand::Node(args) => crate::bench_node::run(args).await.map(|()| ExitCode::SUCCESS),
        BenchCommand::Btree(args) => crate::bench_btree::run(args).await.map(|()| ExitCode::SUCCESS),
        BenchCommand::Soak(args) => crate::bench_soak::run(args).await,
        BenchCommand::Client(args) => crate::bench_client::run(args).await,
    }
}

async fn lab_up(warm_only: bool, cloud: bool, runs: usize, topology: Topology) -> Result<ExitCode> {
    let engine = Engine::connect().await?;
    let nodes = topology.nodes_per_service() * topology.services.len();
    let (level, name) = if cloud {
        (Level::Runbook(Step::List), format!("lab up (cloud, {nodes}/{nodes} online)"))
    } else {
        (Level::Bare, "lab up --bare".to_string())
    };
    let mut cold = None;
    if !warm_only {
        for image in arcus_lab::images::present(&engine).await? {
            engine.remove_image(&image).await?;
        }
        cold = Some(time_up(&engine, level, &topology).await?.0);
    }
    let reference = machine_reference()?;
    let mut warm = Vec::new();
    let mut idle = Vec::new();
    for i in 0..runs {
        let (took, memory) = time_up(&engine, level, &topology).await?;
        eprintln!("warm run {}: {:.2} s", i + 1, took.as_secs_f64());
        warm.push(took.as_secs_f64());
        idle = memory;
    }
    warm.sort_by(|a, b| a.total_cmp(b));
    let median = warm.get(warm.len() / 2).copied().unwrap_or(f64::NAN);
    println!("{:<44} {:>10}", "measure", "value");
    if let Some(cold) = cold {
        println!("{:<44} {:>8.2} s", format!("cold {name} (images built)"), cold.as_secs_f64());
    }
    println!("{:<44} {:>8.2} s", format!("warm {name} (median of {runs})"), median);
    let (members, others) = (mean_of(&idle, true), mean_of(&idle, false));
    let total: f64 = idle.iter().map(|(_, mib)| mib).sum();
    for (what, mib) in [("idle host with a ZooKeeper member (mean)", members), ("idle host without one (mean)", others)]
    {
        if let Some(mib) = mib {
            println!("{what:<44} {mib:>6.1} MiB");
        }
    }
    println!("{:<44} {:>6.1} MiB", "idle cache hosts in all", total);
    println!("{:<44} {:>8.2} s", "machine reference (sh loop, best of 3)", reference);
    let json = serde_json::json!({
        "level": name,
        "topology": topology.describe(),
        "cold_seconds": cold.map(|c| c.as_secs_f64()),
        "warm_seconds": warm,
        "warm_median_seconds": median,
        "idle_host_mib": idle.iter().map(|(_, mib)| mib).collect::<Vec<_>>(),
        "idle_zk_member_host_mean_mib": members,
        "idle_other_host_mean_mib": others,
        "idle_cache_hosts_total_mib": total,
        "machine_reference_seconds": reference,
    });
    let dir = arcus_lab::paths::state_dir().join("bench");
    std::fs::create_dir_all(&dir)?;
    let shape = if topology.is_runbook() {
        String::new()
    } else {
        format!("-{}h-{}zk-{}n", topology.hosts, topology.zk, topology.nodes_per_host)
    };
    let file = dir.join(format!("lab-up{}{shape}.json", if cloud { "-cloud" } else { "" }));
    std::fs::write(&file, serde_json::to_string_pretty(&json)?).with_context(|| format!("write {}", file.display()))?;
    println!("written to {}", file.display());
    Ok(ExitCode::SUCCESS)
}

/// How fast this machine is, to compare `lab up` figures taken on different machines (they were
/// 5.0 s and 9.6 s for the same commit on two machines of the same kind): the best of three runs
/// of a fixed single-core workload, a million iterations of a `sh` loop.
pub fn machine_reference() -> Result<f64> {
    let mut best = f64::INFINITY;
    for _ in 0..3 {
        let started = Instant::now();
        let status = std::process::Command::new("sh")
            .args(["-c", "i=0; while [ $i -lt 1000000 ]; do i=$((i+1)); done"])
            .status()
            .context("run the reference sh loop")?;
        anyhow::ensure!(status.success(), "the reference sh loop failed: {status}");
        best = best.min(started.elapsed().as_secs_f64());
    }
    Ok(best)
}

/// One `lab up` at `level`, then each cache host's memory after a second of idling (MiB, with
/// whether it runs a ZooKeeper member), then down.
async fn time_up(engine: &Engine, level: Level, topology: &Topology) -> Result<(Duration, Vec<(bool, f64)>)> {
    let mut lab = LabSpec::owned();
    lab.topology = topology.clone();
    let options = UpOptions { lab, level };
    let started = Instant::now();
    // an interrupt during up removes what up made; one during the measure, the lab
    let lab = cloud::up(engine, &options, &Progress::stderr()).await?;
    let took = started.elapsed();
    let measured = interrupt::or_interrupt(async {
        tokio::time::sleep(Duration::from_secs(1)).await; // idle on purpose: this is what is measured
        let mut memory = Vec::new();
        for host in lab.cache_hosts() {
            let bytes = engine.memory_usage(&host.container).await?;
            memory.push((topology.is_zk_member(host.name), bytes as f64 / (1u64 << 20) as f64));
        }
        anyhow::Ok(memory)
    })
    .await;
    labs::undo(engine, &options.lab).await?;
    Ok((took, measured??))
}

/// The mean of the hosts' memory that are (or are not) ZooKeeper members; `None` when there is none.
fn mean_of(memory: &[(bool, f64)], members: bool) -> Option<f64> {
    let picked: Vec<f64> = memory.iter().filter(|(m, _)| *m == members).map(|(_, mib)| *mib).collect();
    (!picked.is_empty()).then(|| picked.iter().sum::<f64>() / picked.len() as f64)
}

/// One run of the scenario suite under nextest.
pub struct SuiteRun {
    pub wall_seconds: f64,
    pub passed: bool,
    /// Each scenario: name, nextest's result (`PASS`, `FAIL`, `TIMEOUT`), seconds.
    pub scenarios: Vec<(String, String, f64)>,
    /// nextest's output, stdout and stderr.
    pub text: String,
}

/// Runs the conformance crate under nextest (signals passed on; what an interrupted test left is
/// removed) and reads each scenario's time from its result lines.
pub async fn run_suite() -> Result<SuiteRun> {
    let engine = Engine::connect().await?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let started = Instant::now();
    let mut nextest = tokio::process::Command::new(cargo);
    nextest
        .current_dir(arcus_lab::paths::workspace_root())
        .args(["nextest", "run", "-p", "conformance", "--no-fail-fast", "--color", "never"])
        .envs(arcus_lab::images::base_image_env())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let out = child::run_passing_signals(&mut nextest, "cargo nextest run -p conformance").await?;
    if let Some(signal) = interrupt::received() {
        for lab in child::remove_abandoned_of_children(&engine).await? {
            eprintln!("removed lab {} that an interrupted scenario left ({})", lab.run, lab.state());
        }
        return Err(Interrupted { signal }).context("the scenario suite");
    }
    let wall_seconds = started.elapsed().as_secs_f64();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    // e.g. `        PASS [  12.345s] ( 1/9) conformance::scenarios s01_runbook`
    let mut scenarios = Vec::new();
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        let (Some(status), Some(time)) = (words.first(), line.split_once('[').and_then(|(_, r)| r.split_once("s]")))
        else {
            continue;
        };
        if !["PASS", "FAIL", "TIMEOUT"].contains(status) || !line.contains("conformance::scenarios") {
            continue;
        }
        let seconds: f64 = time.0.trim().parse().unwrap_or(f64::NAN);
        let name = words.last().copied().unwrap_or_default().to_string();
        scenarios.push((name, status.to_string(), seconds));
    }
    scenarios.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(SuiteRun { wall_seconds, passed: out.status.success(), scenarios, text })
}

/// Wall time of the scenario suite and of each scenario → suite.json.
async fn suite() -> Result<ExitCode> {
    let SuiteRun { wall_seconds: wall, passed, scenarios, .. } = run_suite().await?;
    println!("{:<34} {:>7} {:>9}", "scenario", "result", "seconds");
    for (name, status, seconds) in &scenarios {
        println!("{name:<34} {status:>7} {seconds:>9.1}");
    }
    println!("{:<34} {:>7} {:>9.1}", "whole suite (wall, incl. build)", if passed { "PASS" } else { "FAIL" }, wall);
    let json = serde_json::json!({
        "wall_seconds": wall,
        "passed": passed,
        "scenarios": scenarios.iter().map(|(n, s, t)| serde_json::json!({"name": n, "result": s, "seconds": t})).collect::<Vec<_>>(),
    });
    let dir = arcus_lab::paths::state_dir().join("bench");
    std::fs::create_dir_all(&dir)?;
    let file = dir.join("suite.json");
    std::fs::write(&file, serde_json::to_string_pretty(&json)?).with_context(|| format!("write {}", file.display()))?;
    println!("written to {}", file.display());
    Ok(if passed { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
