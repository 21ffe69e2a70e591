//! `cargo xtask lab ...`: up, down, status, exec, logs, gc. The current lab (the last one `lab up`
//! started without `--run`) is remembered in `target/arcus-lab/current`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use arcus_lab::build_times;
use arcus_lab::cloud::{self, Level, Step, UpOptions};
use arcus_lab::interrupt::Interrupted;
use arcus_lab::lab::{self as labs, LabError};
use arcus_lab::scenario::{self, RunOptions};
use arcus_lab::{Engine, Lab, LabSpec, Owner, Progress, RunId, Timing, Topology};
use clap::{Args, Subcommand};

use crate::flavour_args::FlavourArgs;
use crate::lab_view::LabView;

#[derive(Subcommand)]
pub enum LabCommand {
    /// Build the images if needed, start arcus and memcached-1..3 (or the topology given) on a
    /// private network, and go through the runbook (steps 5-14) to a cloud with every node online;
    /// prints the lab and the cloud.
    Up(UpArgs),
    /// Remove a lab: its containers and network (by label).
    Down(DownArgs),
    /// Show a lab's hosts, addresses and states (all labs with --all).
    Status(StatusArgs),
    /// Run a command on a lab host; its exit code is passed through.
    Exec(ExecArgs),
    /// Print a host's container output and syslog.
    Logs(LogsArgs),
    /// Remove labs whose owning process is gone (labs from `lab up` stay until `lab down`), and
    /// lab images older than the newest of their kind that nothing uses.
    Gc,
    /// Run scenario files (paths, or names under scenarios/), each on a fresh lab, checked against
    /// the snapshots in tests/snapshots/.
    Run(RunArgs),
    /// Print the scenario vocabulary: every step kind, fault verb, wait condition and binding with
    /// its keys (`key`? is optional), as the README lists it.
    Steps,
}

#[derive(Args)]
pub struct RunArgs {
    /// Scenario files or names (`s02_zk_leader_killed`, `scenarios/s02_zk_leader_killed.toml`).
    #[arg(required = true)]
    scenarios: Vec<String>,
    /// Timing profile: fast (tickTime 500) or seed (the runbook's 2000).
    #[arg(long, default_value = "fast", value_parser = Timing::parse)]
    profile: Timing,
    #[command(flatten)]
    flavour: FlavourArgs,
    /// When a step fails, leave that lab up and print how to reach it and how to remove it.
    #[arg(long)]
    keep_on_failure: bool,
    /// The snapshot directory the steps are checked against (default: tests/snapshots/).
    #[arg(long, value_name = "DIR")]
    snapshots: Option<PathBuf>,
    #[command(flatten)]
    images: crate::image_args::ImageArgs,
}

#[derive(Args)]
pub struct UpArgs {
    #[command(flatten)]
    images: crate::image_args::ImageArgs,
    /// Run id (letters, digits, '_', '.', '-'); default: a fresh one, remembered as the current lab.
    #[arg(long)]
    run: Option<String>,
    /// Stop at the bare level: four machines with sshd, nothing of Arcus running.
    #[arg(long, conflicts_with = "until")]
    bare: bool,
    /// Stop after this runbook step: zklist, keys, conf, deploy, zk-init, zk-start, register, start, list.
    #[arg(long, value_name = "STEP", value_parser = parse_step)]
    until: Option<Step>,
    /// Timing profile written into zoo.cfg: fast (tickTime 500, sessions 1-10 s) or seed (the runbook's 2000).
    #[arg(long, default_value = "fast", value_parser = Timing::parse)]
    profile: Timing,
    #[command(flatten)]
    flavour: FlavourArgs,
    #[command(flatten)]
    topology: TopologyArgs,
}

/// The lab's shape; the defaults are the runbook's four machines.
#[derive(Args)]
pub struct TopologyArgs {
    /// Cache hosts memcached-1..N (1 to 32).
    #[arg(long, value_name = "N", default_value_t = 3)]
    hosts: u8,
    /// ZooKeeper members on the first hosts: 1, 3 or 5 (at most --hosts).
    #[arg(long, value_name = "M", default_value_t = 3)]
    zk: u8,
    /// Cache nodes per host and service, on ports from 11211 on.
    #[arg(long, value_name = "K", default_value_t = 2)]
    nodes_per_host: u8,
    /// Service codes (comma-separated); each has its nodes on every host.
    #[arg(long, value_name = "SVC,...", value_delimiter = ',', default_value = "ruo91-cloud")]
    services: Vec<String>,
}

impl TopologyArgs {
    /// The topology, checked (the message names the number that does not fit).
    pub fn topology(&self) -> Result<Topology> {
        let t = Topology {
            hosts: self.hosts,
            zk: self.zk,
            nodes_per_host: self.nodes_per_host,
            services: self.services.clone(),
        };
        t.check()?;
        Ok(t)
    }
}

#[derive(Args)]
pub struct DownArgs {
    /// The lab to remove (default: the current lab).
    #[arg(long, conflicts_with = "all")]
    run: Option<String>,
    /// Remove every lab on this engine (only what carries the lab's labels).
    #[arg(long)]
    all: bool,
}

#[derive(Args)]
pub struct StatusArgs {
    #[arg(long, conflicts_with = "all")]
    run: Option<String>,
    /// List every lab on this engine.
    #[arg(long)]
    all: bool,
    /// Print it as JSON (for scripts): one lab's hosts, ZooKeeper connect string and members,
    /// services with their nodes; with --all, every lab's id, state and whether it is current.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct ExecArgs {
    #[arg(long)]
    run: Option<String>,
    /// arcus, memcached-1, memcached-2, ... (the lab's hosts).
    host: String,
    /// The command and its arguments (after `--`).
    #[arg(last = true, required = true)]
    cmd: Vec<String>,
}

#[derive(Args)]
pub struct LogsArgs {
    #[arg(long)]
    run: Option<String>,
    host: String,
}

pub async fn run(cmd: LabCommand) -> Result<ExitCode> {
    match cmd {
        LabCommand::Up(args) => up(args).await,
        LabCommand::Down(args) => down(args).await,
        LabCommand::Status(args) => status(args).await,
        LabCommand::Exec(args) => exec(args).await,
        LabCommand::Logs(args) => logs(args).await,
        LabCommand::Gc => gc().await,
        LabCommand::Run(args) => run_scenarios(args).await,
        LabCommand::Steps => {
            print!("{}", scenario::reference::markdown());
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn up(args: UpArgs) -> Result<ExitCode> {
    let started = std::time::Instant::now();
    args.images.apply();
    let run = match &args.run {
        Some(id) => RunId::parse(id)?,
        None => RunId::fresh(),
    };
    let topology = args.topology.topology()?;
    let engine = Engine::connect().await?;
    let flavour = args.flavour.flavour(&engine, &Progress::stderr()).await?;
    let level = if args.bare { Level::Bare } else { Level::Runbook(args.until.unwrap_or(Step::List)) };
    let lab =
        LabSpec { run: run.clone(), owner: Owner::Kept, flavour, timing: args.profile, topology, ..LabSpec::owned() };
    let options = UpOptions { lab, level };
    // on an interrupt (main listens) cloud::up removes what it made and says so with the signal
    let lab = cloud::up(&engine, &options, &Progress::stderr()).await.map_err(|e| match Interrupted::in_chain(&e) {
        Some(_) => e.context(format!("lab up (run {run}): what it had made is removed")),
        None => e,
    })?;
    if level == Level::Runbook(Step::List) {
        // for doctor's look ahead: a whole lab up, images built or not
        build_times::record(&arcus_lab::paths::state_dir(), build_times::LAB_UP, started.elapsed());
    }
    if args.run.is_none() {
        set_current(&run)?;
    }
    print!("{}", LabView::gather(&lab, current().as_ref() == Some(&run)).await?.text());
    Ok(ExitCode::SUCCESS)
}

async fn down(args: DownArgs) -> Result<ExitCode> {
    let engine = Engine::connect().await?;
    let runs = if args.all {
        labs::labs(&engine).await?.into_iter().map(|lab| lab.run).collect()
    } else {
        let run = chosen_run(args.run.as_deref())?;
        if !labs::labs(&engine).await?.iter().any(|lab| lab.run == run) {
            return Err(LabError::UnknownRun(run.to_string()).into());
        }
        vec![run]
    };
    for run in &runs {
        let removed = labs::down(&engine, run).await?;
        println!("lab {run}: removed {removed} containers and its network");
        if current().as_ref() == Some(run) {
            let _ = std::fs::remove_file(current_file());
        }
    }
    if runs.is_empty() {
        println!("no lab on this engine");
    }
    Ok(ExitCode::SUCCESS)
}

async fn status(args: StatusArgs) -> Result<ExitCode> {
    let engine = Engine::connect().await?;
    if args.all || (args.run.is_none() && current().is_none()) {
        let labs = labs::labs(&engine).await?;
        if args.json {
            let listed: Vec<serde_json::Value> = labs
                .iter()
                .map(|lab| {
                    let current = current().as_ref() == Some(&lab.run);
                    serde_json::json!({"run": lab.run.as_str(), "state": lab.state().to_string(), "current": current})
                })
                .collect();
            println!("{}", serde_json::to_string_pretty(&listed)?);
            return Ok(ExitCode::SUCCESS);
        }
        if labs.is_empty() {
            println!("no lab on this engine");
        }
        for lab in labs {
            let mark = if current().as_ref() == Some(&lab.run) { " (current)" } else { "" };
            println!("{}{mark}  {}", lab.run, lab.state());
        }
        return Ok(ExitCode::SUCCESS);
    }
    let run = chosen_run(args.run.as_deref())?;
    let info = labs::labs(&engine).await?.into_iter().find(|lab| lab.run == run);
    let info = info.ok_or_else(|| LabError::UnknownRun(run.to_string()))?;
    let lab = Lab::attach(&engine, &run).await;
    if args.json {
        let view = LabView::gather(&lab?, current().as_ref() == Some(&run)).await?;
        println!("{}", serde_json::to_string_pretty(&view)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!("{run}  {}", info.state());
    match lab {
        Ok(lab) => print!("{}", LabView::gather(&lab, current().as_ref() == Some(&run)).await?.text()),
        Err(_) => println!("(no hosts: only its network or markers are left)"),
    }
    Ok(ExitCode::SUCCESS)
}

async fn exec(args: ExecArgs) -> Result<ExitCode> {
    let engine = Engine::connect().await?;
    let lab = Lab::attach(&engine, &chosen_run(args.run.as_deref())?).await?;
    let cmd: Vec<&str> = args.cmd.iter().map(String::as_str).collect();
    let out = lab.exec(lab.host_named(&args.host)?.name, &cmd).await?;
    print!("{}", out.stdout);
    eprint!("{}", out.stderr);
    Ok(ExitCode::from(u8::try_from(out.exit).unwrap_or(1)))
}

async fn logs(args: LogsArgs) -> Result<ExitCode> {
    let engine = Engine::connect().await?;
    let lab = Lab::attach(&engine, &chosen_run(args.run.as_deref())?).await?;
    let host = lab.host_named(&args.host)?;
    println!("==> container output of {} ({})", host.name, host.container);
    print!("{}", engine.logs(&host.container).await?);
    let syslog = lab.exec(host.name, &["cat", "/var/log/syslog"]).await?;
    println!("==> /var/log/syslog on {}", host.name);
    print!("{}", syslog.stdout);
    Ok(ExitCode::SUCCESS)
}

async fn gc() -> Result<ExitCode> {
    let engine = Engine::connect().await?;
    let removed = labs::gc(&engine).await?;
    if removed.is_empty() {
        println!("no abandoned lab");
    }
    for lab in removed {
        println!("removed abandoned lab {} ({})", lab.run, lab.state());
    }
    for image in arcus_lab::images::prune(&engine).await? {
        println!("removed outdated image {image}");
    }
    Ok(ExitCode::SUCCESS)
}

async fn run_scenarios(args: RunArgs) -> Result<ExitCode> {
    args.images.apply();
    let options = RunOptions {
        snapshots: args.snapshots.clone().unwrap_or_else(arcus_lab::paths::snapshots_dir),
        timing: args.profile,
        flavour: args.flavour.flavour(&Engine::connect().await?, &Progress::stderr()).await?,
        keep_on_failure: args.keep_on_failure,
        compare_snapshots: true,
    };
    // every file is found and checked before the first lab starts
    let mut scenarios = Vec::new();
    for name in &args.scenarios {
        let file = scenario_file(name)?;
        scenarios.push((name, scenario::parse(&file)?));
    }
    let mut failed = 0;
    for (done, (name, scenario)) in scenarios.iter().enumerate() {
        eprintln!("==> {} ({})", scenario.title, scenario.file.display());
        match scenario::run(scenario, &options).await {
            Ok(report) => {
                println!("PASS {name} in {:.1?}; run directory {}", report.elapsed, report.run_dir.display())
            }
            Err(e) => match Interrupted::in_chain(&e) {
                Some(interrupted) => {
                    println!("INTERRUPTED {name}: {e:#}");
                    let not_run = scenarios.len() - done - 1;
                    println!("{} passed, {failed} failed, 1 interrupted, {not_run} not run", done - failed);
                    return Ok(ExitCode::from(interrupted.signal.exit_code()));
                }
                None => {
                    failed += 1;
                    println!("FAIL {name}: {e:#}");
                }
            },
        }
    }
    println!("{} passed, {failed} failed", scenarios.len() - failed);
    Ok(if failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// A scenario given as a path, or as a name under `scenarios/`.
pub fn scenario_file(name: &str) -> Result<PathBuf> {
    let as_path = PathBuf::from(name);
    if as_path.is_file() {
        return Ok(as_path);
    }
    let named = arcus_lab::paths::scenarios_dir().join(format!("{}.toml", name.trim_end_matches(".toml")));
    anyhow::ensure!(
        named.is_file(),
        "no scenario {name:?}: not a file, and no {} (see `ls scenarios/`)",
        named.display()
    );
    Ok(named)
}

fn parse_step(name: &str) -> Result<Step, String> {
    Step::parse(name).map_err(|e| e.to_string())
}

/// `--run ID` if given, else the current lab.
fn chosen_run(run: Option<&str>) -> Result<RunId> {
    match run {
        Some(id) => Ok(RunId::parse(id)?),
        None => current().context("no current lab: start one with `cargo xtask lab up`, or name one with --run ID"),
    }
}

fn current_file() -> PathBuf {
    arcus_lab::paths::state_dir().join("current")
}

fn current() -> Option<RunId> {
    let text = std::fs::read_to_string(current_file()).ok()?;
    RunId::parse(text.trim()).ok()
}

fn set_current(run: &RunId) -> Result<()> {
    let file = current_file();
    std::fs::create_dir_all(arcus_lab::paths::state_dir())?;
    std::fs::write(&file, format!("{run}\n")).with_context(|| format!("write {}", file.display()))
}
