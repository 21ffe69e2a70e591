//! The runner: brings the setup level up, runs the steps in order, checks expectations at once and
//! snapshots after the lab is gone, records every phase in the run directory, and always tears
//! the lab down, also when a step fails.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use super::artifacts::{now_ms, Event, RunDir};
use super::{bind, command, fault, hold, mc, runbook, tree, wait};
use super::{Action, Binding, Check, Condition, Fault, Scenario, Step, Template};
use crate::engine::Engine;
use crate::flavour::Flavour;
use crate::lab::{self as labs, Lab, Owner, UpOptions, HOSTNAMES};
use crate::normalize::Normalizer;
use crate::progress::Progress;
use crate::timing::Timing;

/// What a run needs besides the scenario.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Where the `.snap` files live (the conformance crate's `snapshots/`).
    pub snapshots: PathBuf,
    pub timing: Timing,
    /// Which cache node the lab runs.
    pub flavour: Flavour,
    /// When a step fails, leave the lab up (kept until `lab down`) instead of tearing it down.
    pub keep_on_failure: bool,
}

/// A passed run.
#[derive(Debug)]
pub struct RunReport {
    pub run_dir: PathBuf,
    pub elapsed: Duration,
}

/// What an observing step (`run`, `runbook`, `tree`) saw.
pub(super) struct Observed {
    /// Normalized: what snapshots and expectations see.
    pub text: String,
    /// As it came, for the run directory.
    pub raw: String,
    pub exit: Option<i64>,
}

/// What the steps share while a scenario runs.
pub(super) struct Ctx<'a> {
    pub lab: &'a Lab,
    pub normalizer: Normalizer,
    pub bound: HashMap<String, String>,
    /// The default deadline of waits, from the timing profile.
    pub deadline: Duration,
}

impl Ctx<'_> {
    pub fn render(&self, template: &Template) -> Result<String> {
        template.render(&self.bound)
    }

    /// A host name from a template, checked against the lab's hosts.
    pub fn host(&self, template: &Template) -> Result<String> {
        let host = self.render(template)?;
        anyhow::ensure!(HOSTNAMES.contains(&host.as_str()), "{:?} is {host:?}, not a host of the lab", template.0);
        Ok(host)
    }
}

/// The default deadline of a wait: three times the longest session the profile allows a node.
pub fn default_deadline(timing: Timing) -> Duration {
    match timing {
        Timing::Fast => Duration::from_secs(30),
        Timing::Seed => Duration::from_secs(90),
    }
}

/// Runs a scenario on a fresh lab. The error names the file, the failing step and the run
/// directory; mismatching snapshots are reported once the lab is gone.
pub async fn run(scenario: &Scenario, options: &RunOptions) -> Result<RunReport> {
    let started = Instant::now();
    let engine = Engine::connect().await?;
    let mut up = UpOptions::owned(scenario.setup.level());
    up.timing = options.timing;
    up.flavour = options.flavour.clone();
    if options.keep_on_failure {
        up.owner = Owner::Kept;
    }
    let mut dir = RunDir::create(&up.run)?;
    let file = scenario.file.display().to_string();
    let place =
        |what: &str, dir: &RunDir| format!("scenario {file} failed {what}; run directory {}", dir.dir.display());

    let t0 = now_ms();
    let lab = Lab::up(&engine, &up, &Progress::silent()).await;
    let setup = format!("{:?}", scenario.setup).to_lowercase();
    record(
        &mut dir,
        "setup",
        None,
        "setup",
        &setup,
        t0,
        lab.as_ref().map(|_| String::new()).map_err(|e| format!("{e:#}")),
    );
    let lab = lab.with_context(|| place("in setup (the lab did not come up)", &dir))?;

    let mut ctx = Ctx {
        lab: &lab,
        normalizer: Normalizer::for_lab(&lab),
        bound: HashMap::new(),
        deadline: default_deadline(options.timing),
    };
    let mut snapshots = Vec::new();
    let mut failed = None;
    for step in &scenario.steps {
        let t0 = now_ms();
        let result = match perform(&mut ctx, step).await {
            Ok((detail, Some(observed))) => {
                dir.write(&format!("step-{:02}.txt", step.index), &observed.raw);
                check(step, &observed).map(|()| (detail, Some(observed)))
            }
            other => other,
        };
        let (kind, what) = describe(step);
        let outcome = match &result {
            Ok((detail, _)) => Ok(detail.clone()),
            Err(e) => Err(format!("{e:#}")),
        };
        record(&mut dir, "step", Some(step.index), kind, &what, t0, outcome);
        match result {
            Ok((_, Some(observed))) => {
                if step.check == Check::Snapshot {
                    snapshots.push((step.index, ctx.normalizer.text(&what), observed.text));
                }
            }
            Ok((_, None)) => {}
            Err(e) => {
                failed = Some(
                    e.context(place(&format!("at step {} (line {}, {kind} {what})", step.index, step.line), &dir)),
                );
                break;
            }
        }
    }

    dir.collect_logs(&lab).await;
    if let (Some(e), true) = (&failed, options.keep_on_failure) {
        dir.finish(&scenario.title, &file, "failed; lab kept");
        let run = &lab.run;
        anyhow::bail!(
            "{e:#}\nthe lab is still up (--keep-on-failure): `cargo xtask lab status --run {run}`, \
             `cargo xtask lab exec --run {run} HOST -- CMD`; remove it with `cargo xtask lab down --run {run}`"
        );
    }
    let t0 = now_ms();
    let down = labs::down(&engine, &lab.run).await;
    record(
        &mut dir,
        "teardown",
        None,
        "teardown",
        lab.run.as_str(),
        t0,
        down.as_ref().map(|n| format!("{n} containers")).map_err(|e| format!("{e:#}")),
    );
    let outcome = match (&failed, &down) {
        (Some(_), _) => "failed",
        (None, Err(_)) => "teardown failed",
        (None, Ok(_)) => "steps passed",
    };
    dir.finish(&scenario.title, &file, outcome);
    if let Some(e) = failed {
        return Err(e);
    }
    down.with_context(|| place("in teardown", &dir))?;

    // insta prints each diff, then panics: keep checking the others, quietly
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let mismatched: Vec<String> = snapshots
        .into_iter()
        .filter_map(|(index, description, text)| {
            let name = snapshot_name(&scenario.name, index);
            let checked = std::panic::catch_unwind(AssertUnwindSafe(|| {
                assert_snapshot(options, &scenario.name, index, &description, &text)
            }));
            checked.is_err().then_some(name)
        })
        .collect();
    std::panic::set_hook(hook);
    anyhow::ensure!(
        mismatched.is_empty(),
        "{}: these snapshots differ (diffs above; `cargo insta review` accepts new ones): {}",
        place("its snapshots", &dir),
        mismatched.join(", ")
    );
    Ok(RunReport { run_dir: dir.dir, elapsed: started.elapsed() })
}

/// `<scenario>@<step index, two digits>`: the snapshot's name and file stem.
pub fn snapshot_name(scenario: &str, index: usize) -> String {
    format!("{scenario}@{index:02}")
}

fn assert_snapshot(options: &RunOptions, scenario: &str, index: usize, description: &str, text: &str) {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(&options.snapshots);
    settings.set_prepend_module_to_snapshot(false);
    settings.set_snapshot_suffix(format!("{index:02}"));
    settings.set_description(description);
    settings.set_omit_expression(true);
    settings.bind(|| insta::assert_snapshot!(scenario, text));
}

/// Runs one step; returns the detail for the events and what it observed.
async fn perform(ctx: &mut Ctx<'_>, step: &Step) -> Result<(String, Option<Observed>)> {
    let observed = match &step.action {
        Action::Run { command: line, host } => {
            let host = ctx.host(host)?;
            let line = ctx.render(line)?;
            command::run(ctx, &host, &line).await?
        }
        Action::Runbook(s) => runbook::run(ctx, *s).await?,
        Action::Mc { host, port, lines } => {
            let host = ctx.host(host)?;
            let lines = ctx.render(lines)?;
            mc::run(ctx, &host, *port, &lines).await?
        }
        Action::Tree(path) => {
            let path = ctx.render(path)?;
            tree::run(ctx, &path).await?
        }
        Action::Wait { condition, timeout } => {
            let seen = wait::run(ctx, condition, timeout.unwrap_or(ctx.deadline)).await?;
            return Ok((seen, None));
        }
        Action::Fault(f) => return Ok((fault::run(ctx, f).await?, None)),
        Action::Hold(duration) => {
            hold::run(*duration).await;
            return Ok((String::new(), None));
        }
        Action::Bind { what, name } => {
            let value = bind::run(ctx, what, name).await?;
            return Ok((format!("${name} = {value}"), None));
        }
    };
    let detail = observed.exit.map(|e| format!("exit {e}")).unwrap_or_default();
    Ok((detail, Some(observed)))
}

/// Checks an observation against the step's explicit expectation.
fn check(step: &Step, observed: &Observed) -> Result<()> {
    if let Check::Expect(expect) = &step.check {
        if let Some(exit) = expect.exit {
            anyhow::ensure!(
                observed.exit == Some(exit),
                "expected exit {exit}, got {:?}; output:\n{}",
                observed.exit,
                observed.text
            );
        }
        for needle in &expect.contains {
            anyhow::ensure!(
                observed.text.contains(needle.as_str()),
                "expected the output to contain {needle:?}; output:\n{}",
                observed.text
            );
        }
    }
    Ok(())
}

/// The step's kind and its main value, as written in the file.
fn describe(step: &Step) -> (&'static str, String) {
    match &step.action {
        Action::Run { command, host } => ("run", format!("{} on {}", command.0, host.0)),
        Action::Runbook(s) => ("runbook", s.name().to_string()),
        Action::Mc { host, port, lines } => ("mc", format!("{} to {}:{port}", lines.0.replace('\n', "; "), host.0)),
        Action::Tree(path) => ("tree", path.0.clone()),
        Action::Wait { condition: Condition::ZkQuorum, .. } => ("wait", "zk-quorum".into()),
        Action::Wait { condition: Condition::ZkMode { host, mode }, .. } => {
            ("wait", format!("ZooKeeper on {} serving as {mode}", host.0))
        }
        Action::Wait { condition: Condition::Reply { host, port, send, until }, .. } => {
            ("wait", format!("{until} from {}:{port} to {}", host.0, send.0))
        }
        Action::Wait { condition: Condition::NodeExited { host, port }, .. } => {
            ("wait", format!("the node {}:{port} exited", host.0))
        }
        Action::Wait { condition: Condition::Children { path, count }, .. } => {
            ("wait", format!("{count} children of {}", path.0))
        }
        Action::Fault(Fault::KillHost { host }) => ("fault", format!("kill-host {}", host.0)),
        Action::Fault(Fault::StartHost { host }) => ("fault", format!("start-host {}", host.0)),
        Action::Fault(Fault::DeleteZnode { path }) => ("fault", format!("delete-znode {}", path.0)),
        Action::Fault(Fault::KillZk { host }) => ("fault", format!("kill-zk on {}", host.0)),
        Action::Fault(Fault::KillNode { host, port, signal }) => {
            ("fault", format!("kill-node {}:{port} SIG{}", host.0, signal.name()))
        }
        Action::Hold(d) => ("hold", format!("{d:?}")),
        Action::Bind { what: Binding::ZkLeader, name } => ("bind", format!("zk-leader as {name}")),
        Action::Bind { what: Binding::ZkFollower, name } => ("bind", format!("zk-follower as {name}")),
        Action::Bind { what: Binding::Ip { host }, name } => ("bind", format!("ip of {} as {name}", host.0)),
    }
}

fn record(
    dir: &mut RunDir,
    phase: &str,
    step: Option<usize>,
    kind: &str,
    what: &str,
    start_ms: u128,
    outcome: Result<String, String>,
) {
    let end_ms = now_ms();
    let (outcome, detail) = match &outcome {
        Ok(detail) => ("ok", detail.as_str()),
        Err(e) => ("failed", e.as_str()),
    };
    dir.event(Event {
        phase: phase.into(),
        step,
        kind: kind.into(),
        what: what.into(),
        start_ms,
        end_ms,
        elapsed_ms: end_ms.saturating_sub(start_ms),
        outcome: outcome.into(),
        detail: detail.into(),
    });
}
