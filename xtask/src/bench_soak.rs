//! `cargo xtask bench soak`: the lab's lifecycle over and over through this very binary's `lab`
//! commands, each a child in a process group of its own, counting after each what its lab left:
//! containers, networks and marker volumes on the engine, fault chains in containers, the host's
//! iptables rules naming the lab's bridge or subnet, and processes of the command's group. Parts:
//! `--cycles` consecutive `lab up` / `lab down` pairs; a SIGINT during `lab up` (once every host
//! runs, or with `--bare` once the network exists); a SIGINT during `lab run s04_node_sigkill` once
//! its steps have begun; two labs brought up and down at the same time; then the scenario suite
//! `--suite-runs` times in a row, with every failure, its run directory, and the labs each run
//! left. Results → `target/arcus-lab/bench/soak.json`. A figure, never a verdict: it exits 0
//! whatever it counted.

use std::path::PathBuf;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use arcus_lab::engine::LABEL_RUN;
use arcus_lab::fault::net::CHAIN;
use arcus_lab::lab::traces::{processes_in_group, Footprint, Traces};
use arcus_lab::lab::{self as labs, owner_pid};
use arcus_lab::{interrupt, wait, Engine, RunId, Topology};
use clap::Args;
use serde_json::{json, Value};

use crate::child;

/// The scenario interrupted in the soak (a SIGKILLed node: a fault in place, then a hold).
const INTERRUPTED_SCENARIO: &str = "s04_node_sigkill";
/// How long a part may take to reach the point where it is interrupted.
const REACH: Duration = Duration::from_secs(600);

#[derive(Args)]
pub struct SoakArgs {
    /// Consecutive `lab up` / `lab down` pairs.
    #[arg(long, default_value_t = 20)]
    cycles: usize,
    /// `lab up --bare` (the machines only) instead of the whole runbook.
    #[arg(long)]
    bare: bool,
    /// Times the scenario suite runs in a row after the lifecycle parts (0: the lifecycle only).
    #[arg(long, value_name = "N", default_value_t = 5)]
    suite_runs: usize,
}

/// One command of the soak and what it left.
#[derive(serde::Serialize)]
struct Checked {
    command: String,
    exit: Option<i32>,
    expected_exit: i32,
    seconds: f64,
    /// Processes of its process group still running after it exited.
    processes_left: Vec<u32>,
    /// The last lines of its stderr when it did not exit as expected.
    #[serde(skip_serializing_if = "Option::is_none")]
    stderr: Option<String>,
}

impl Checked {
    fn ok(&self) -> bool {
        self.exit == Some(self.expected_exit) && self.processes_left.is_empty()
    }
}

pub async fn run(args: SoakArgs) -> Result<std::process::ExitCode> {
    let engine = Engine::connect().await?;
    let tag = RunId::fresh();
    let bin = Binary::copy(&tag)?;
    let soaked = soak(&args, &engine, &tag, &bin).await;
    if soaked.is_err() {
        // a part that failed to run (not one that left something: that is a figure) leaves no lab
        for run in child::runs(&engine).await? {
            if run.as_str().starts_with(&format!("soak-{tag}-")) {
                labs::down(&engine, &run).await?;
                eprintln!("removed lab {run} of the failed soak");
            }
        }
    }
    soaked
}

async fn soak(args: &SoakArgs, engine: &Engine, tag: &RunId, bin: &Binary) -> Result<std::process::ExitCode> {
    let started = Instant::now();
    let mut left = Traces::default();
    let mut problems = Vec::new();

    eprintln!("soak {tag}: {} × lab up / lab down{}", args.cycles, if args.bare { " (--bare)" } else { "" });
    let mut cycles = Vec::new();
    for i in 1..=args.cycles {
        let run = RunId::parse(&format!("soak-{tag}-{i}"))?;
        let (up, down, traces) = up_and_down(bin, engine, &run, args.bare).await?;
        eprintln!("  cycle {i}: up {:.1} s, down {:.1} s; left {traces}", up.seconds, down.seconds);
        note(&mut problems, &format!("cycle {i}"), &[&up, &down], traces);
        left.add(traces);
        cycles.push(json!({ "run": run.as_str(), "up": up, "down": down, "left": traces }));
    }

    eprintln!("soak {tag}: SIGINT during lab up");
    let (during_up, traces) =
        interrupt_up(bin, engine, &RunId::parse(&format!("soak-{tag}-int-up"))?, args.bare).await?;
    eprintln!("  exit {:?}; left {traces}", during_up.exit);
    note(&mut problems, "SIGINT during lab up", &[&during_up], traces);
    left.add(traces);
    let sigint_up = json!({ "command": during_up, "left": traces });

    eprintln!("soak {tag}: SIGINT during lab run {INTERRUPTED_SCENARIO}");
    let (during_run, run_dir, summary, traces) = interrupt_run(bin, engine).await?;
    eprintln!("  exit {:?}; {summary}; left {traces}", during_run.exit);
    note(&mut problems, "SIGINT during lab run", &[&during_run], traces);
    if !summary.contains("interrupted") {
        problems.push(format!("SIGINT during lab run: summary.md says {summary:?}"));
    }
    left.add(traces);
    let sigint_run = json!({ "command": during_run, "run_dir": run_dir, "summary": summary, "left": traces });

    eprintln!("soak {tag}: two labs at the same time");
    let (a, b) = (RunId::parse(&format!("soak-{tag}-a"))?, RunId::parse(&format!("soak-{tag}-b"))?);
    let (first, second) =
        tokio::join!(up_and_down(bin, engine, &a, args.bare), up_and_down(bin, engine, &b, args.bare));
    let mut two = Vec::new();
    for (run, (up, down, traces)) in [(&a, first?), (&b, second?)] {
        eprintln!("  {run}: up {:.1} s, down {:.1} s; left {traces}", up.seconds, down.seconds);
        note(&mut problems, &format!("two labs at once ({run})"), &[&up, &down], traces);
        left.add(traces);
        two.push(json!({ "run": run.as_str(), "up": up, "down": down, "left": traces }));
    }

    let mut suite = Vec::new();
    let mut flaky = 0;
    for i in 1..=args.suite_runs {
        eprintln!("soak {tag}: scenario suite, run {i} of {}", args.suite_runs);
        let before = child::runs(engine).await?;
        let ran = crate::bench::run_suite().await?;
        let failures = failures(&ran);
        flaky += failures.len();
        let new_labs: Vec<RunId> = child::runs(engine).await?.difference(&before).cloned().collect();
        let mut labs_left = Vec::new();
        for run in new_labs {
            let traces = Footprint::new(run.clone()).traces(engine, CHAIN).await?;
            left.add(traces);
            labs_left.push(json!({ "run": run.as_str(), "left": traces }));
        }
        eprintln!("  {} scenarios, {} failed, {} labs left", ran.scenarios.len(), failures.len(), labs_left.len());
        if !labs_left.is_empty() {
            problems.push(format!("suite run {i}: {} labs left", labs_left.len()));
        }
        suite.push(json!({
            "run": i,
            "wall_seconds": ran.wall_seconds,
            "scenarios": ran.scenarios.len(),
            "failures": failures,
            "labs_left": labs_left,
        }));
    }

    // whatever this soak's run ids still name (the suite's are counted above)
    let own: Vec<RunId> =
        child::runs(engine).await?.into_iter().filter(|r| r.as_str().contains(tag.as_str())).collect();
    for run in &own {
        problems.push(format!("lab {run} is still on the engine"));
    }
    let json = json!({
        "tag": tag.as_str(),
        "level": if args.bare { "bare" } else { "cloud" },
        "cycles": cycles,
        "sigint_during_up": sigint_up,
        "sigint_during_run": sigint_run,
        "two_labs_at_once": two,
        "suite_runs": suite,
        "suite_failures": flaky,
        "left_in_all": left,
        "problems": problems,
        "wall_seconds": started.elapsed().as_secs_f64(),
        "machine_reference_seconds": crate::bench::machine_reference()?,
    });
    let dir = arcus_lab::paths::state_dir().join("bench");
    std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
    let file = dir.join("soak.json");
    std::fs::write(&file, serde_json::to_string_pretty(&json)?).with_context(|| format!("write {}", file.display()))?;
    println!("left in all: {left}");
    println!("suite failures in {} runs: {flaky}", args.suite_runs);
    for problem in &problems {
        println!("PROBLEM {problem}");
    }
    println!("written to {}", file.display());
    Ok(std::process::ExitCode::SUCCESS)
}

/// Notes what went wrong in a part: an unexpected exit, a process left, a trace left.
fn note(problems: &mut Vec<String>, part: &str, commands: &[&Checked], traces: Traces) {
    for c in commands.iter().filter(|c| !c.ok()) {
        problems.push(format!(
            "{part}: `{}` exited {:?} (expected {}), processes left {:?}",
            c.command, c.exit, c.expected_exit, c.processes_left
        ));
    }
    if !traces.is_empty() {
        problems.push(format!("{part}: left {traces}"));
    }
}

/// A copy of this binary for the soak's commands: the one at target/debug is replaced by every
/// build in the checkout meanwhile (it may even be missing for a moment), and the soak measures
/// one build. Removed when dropped.
struct Binary(PathBuf);

impl Binary {
    fn copy(tag: &RunId) -> Result<Binary> {
        let copy = arcus_lab::paths::state_dir().join("bench").join(format!("soak-xtask-{tag}"));
        std::fs::create_dir_all(copy.parent().expect("a parent")).context("create target/arcus-lab/bench")?;
        // /proc/self/exe is this very build, even once its path names another
        std::fs::copy("/proc/self/exe", &copy).with_context(|| format!("copy this binary to {}", copy.display()))?;
        Ok(Binary(copy))
    }

    /// `cargo xtask <args>`, its output piped.
    fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(&self.0);
        cmd.args(args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        cmd
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Waits for a started command and checks it (the signals the soak receives are passed on).
async fn finish(
    child: tokio::process::Child,
    command: String,
    expected_exit: i32,
    started: Instant,
) -> Result<Checked> {
    let group = child.id().context("the child has no pid")?;
    let out: Output = child::wait_passing_signals(child, &command).await?;
    let exit = out.status.code();
    let stderr = (exit != Some(expected_exit)).then(|| {
        let text = String::from_utf8_lossy(&out.stderr);
        text.lines().rev().take(12).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n")
    });
    if let Some(signal) = interrupt::received() {
        return Err(interrupt::Interrupted { signal }).with_context(|| format!("the soak, during `{command}`"));
    }
    Ok(Checked {
        command,
        exit,
        expected_exit,
        seconds: started.elapsed().as_secs_f64(),
        processes_left: processes_in_group(group),
        stderr,
    })
}

/// Runs `cargo xtask <args>` to its end and checks it.
async fn run_xtask(bin: &Binary, args: &[&str], expected_exit: i32) -> Result<Checked> {
    let command = format!("cargo xtask {}", args.join(" "));
    let started = Instant::now();
    let child = child::spawn(&mut bin.command(args), &command)?;
    finish(child, command, expected_exit, started).await
}

/// `lab up --run <run>`, then `lab down --run <run>`; what the lab left.
async fn up_and_down(bin: &Binary, engine: &Engine, run: &RunId, bare: bool) -> Result<(Checked, Checked, Traces)> {
    let mut up_args = vec!["lab", "up", "--run", run.as_str()];
    if bare {
        up_args.push("--bare");
    }
    let up = run_xtask(bin, &up_args, 0).await?;
    let mut footprint = Footprint::new(run.clone());
    footprint.note(engine).await?;
    let down = run_xtask(bin, &["lab", "down", "--run", run.as_str()], 0).await?;
    Ok((up, down, footprint.traces(engine, CHAIN).await?))
}

/// `lab up --run <run>`, SIGINT once every host runs (with `--bare`, once its network exists).
async fn interrupt_up(bin: &Binary, engine: &Engine, run: &RunId, bare: bool) -> Result<(Checked, Traces)> {
    let mut args = vec!["lab", "up", "--run", run.as_str()];
    if bare {
        args.push("--bare");
    }
    let command = format!("cargo xtask {}", args.join(" "));
    let started = Instant::now();
    let mut child = child::spawn(&mut bin.command(&args), &command)?;
    let hosts = usize::from(Topology::default().hosts) + 1;
    let point = if bare { "its network to exist".to_string() } else { format!("its {hosts} hosts to run") };
    let reached = wait::until(&format!("`{command}`: {point}"), REACH, wait::POLL, || async {
        let containers = engine.list_containers(LABEL_RUN, Some(run.as_str())).await.map_err(|e| e.to_string())?;
        let networks = engine.list_networks(LABEL_RUN, Some(run.as_str())).await.map_err(|e| e.to_string())?;
        let running = containers.iter().filter(|c| c.state == "running").count();
        match (bare, networks.len(), running) {
            (true, 1.., _) => Ok(()),
            (false, _, n) if n == hosts => Ok(()),
            (_, n, r) => Err(format!("{n} networks, {r} hosts running")),
        }
    })
    .await;
    let mut footprint = Footprint::new(run.clone());
    footprint.note(engine).await?;
    if reached.is_ok() {
        signal(&child, libc::SIGINT);
    } else {
        let _ = child.start_kill();
    }
    let checked = finish(child, command, 130, started).await?;
    reached?;
    Ok((checked, footprint.traces(engine, CHAIN).await?))
}

/// `lab run s04_node_sigkill`, SIGINT once its first step has ended; its run directory and what
/// its summary says, and what its lab left.
async fn interrupt_run(bin: &Binary, engine: &Engine) -> Result<(Checked, PathBuf, String, Traces)> {
    let args = ["lab", "run", INTERRUPTED_SCENARIO];
    let command = format!("cargo xtask {}", args.join(" "));
    let started = Instant::now();
    let mut child = child::spawn(&mut bin.command(&args), &command)?;
    let pid = child.id().context("the child has no pid")?;
    // its lab is the one this child owns
    let found = wait::until(&format!("`{command}`: a lab owned by pid {pid}"), REACH, wait::POLL, || async {
        let all = labs::labs(engine).await.map_err(|e| format!("{e:#}"))?;
        all.into_iter().find(|l| owner_pid(&l.owner) == Some(pid)).map(|l| l.run).ok_or("none yet".to_string())
    })
    .await;
    let Ok(run) = found else {
        let _ = child.start_kill();
        finish(child, command, 130, started).await?;
        return Err(found.unwrap_err().into());
    };
    let run_dir = arcus_lab::paths::state_dir().join("runs").join(run.as_str());
    let events = run_dir.join("events.jsonl");
    let stepping =
        wait::until(&format!("`{command}`: a step recorded in {}", events.display()), REACH, wait::POLL, || {
            let events = events.clone();
            async move {
                let text = std::fs::read_to_string(&events).unwrap_or_default();
                if text.contains("\"phase\":\"step\"") {
                    Ok(())
                } else {
                    Err(format!("{} lines", text.lines().count()))
                }
            }
        })
        .await;
    let mut footprint = Footprint::new(run.clone());
    footprint.note(engine).await?;
    if stepping.is_ok() {
        signal(&child, libc::SIGINT);
    } else {
        let _ = child.start_kill();
    }
    let checked = finish(child, command, 130, started).await?;
    stepping?;
    let summary = std::fs::read_to_string(run_dir.join("summary.md")).unwrap_or_default();
    let said = summary.lines().find(|l| l.contains("**")).unwrap_or_default().to_string();
    Ok((checked, run_dir, said, footprint.traces(engine, CHAIN).await?))
}

fn signal(child: &tokio::process::Child, signal: i32) {
    if let Some(pid) = child.id() {
        // SAFETY: kill only sends a signal to our own child.
        unsafe { libc::kill(pid as i32, signal) };
    }
}

/// Each failed scenario of a suite run with the run directory its message names.
fn failures(ran: &crate::bench::SuiteRun) -> Vec<Value> {
    ran.scenarios
        .iter()
        .filter(|(_, status, _)| status != "PASS")
        .map(|(name, status, seconds)| {
            let file = format!("scenarios/{name}.toml");
            let run_dir = ran
                .text
                .lines()
                .filter(|l| l.contains(&file))
                .find_map(|l| l.split_once("run directory ").map(|(_, rest)| rest))
                .map(|rest| rest.split(|c: char| c.is_whitespace() || c == ';' || c == ':').next().unwrap_or(rest));
            json!({ "scenario": name, "result": status, "seconds": seconds, "run_dir": run_dir })
        })
        .collect()
}
