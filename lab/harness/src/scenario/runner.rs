//! The runner: brings the setup level up, runs the steps in order, judges each observation at once
//! and checks snapshots after the lab is gone, records every phase in the run directory, heals
//! what the faults left (paused hosts resumed, network rules flushed) and always tears the lab
//! down, also when a step fails (unless `--keep-on-failure` keeps the failed lab as it is) and when
//! a signal interrupts the run (`crate::interrupt`): the step under way is dropped where it stands,
//! the faults are healed, the logs collected (unless a second signal came), the lab removed, and
//! the run directory says where the run was interrupted. A scenario's traffic starts before the
//! first step (or at its `traffic = "start"` step) and stops after the last (or at its `stop`),
//! before any heal; its report, timeline and bounds follow.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use super::artifacts::{now_ms, Event, RunDir};
use super::snapshot::{Policy, Snapshots, TakenSnapshot};
use super::traffic::TrafficState;
use super::{Check, Ctx, Observation, Scenario, Step};
use crate::cloud::{self, UpOptions};
use crate::engine::Engine;
use crate::fault;
use crate::flavour::Flavour;
use crate::interrupt::{self, Interrupted};
use crate::lab::{self, LabSpec, Mark};
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
    /// Compare what the snapshot steps took with the stored snapshots (a mismatch fails the run);
    /// off, the run only returns them (`cargo xtask conformance` compares flavours itself).
    pub compare_snapshots: bool,
}

impl RunOptions {
    /// A run whose snapshots are returned rather than compared, with the stock snapshots and the
    /// `fast` profile, torn down even when a step fails: what the commands that run every
    /// scenario once per flavour and report (`conformance`, `bench client`) need.
    pub fn reporting(flavour: Flavour) -> RunOptions {
        RunOptions {
            snapshots: crate::paths::snapshots_dir(),
            timing: Timing::Fast,
            flavour,
            keep_on_failure: false,
            compare_snapshots: false,
        }
    }
}

/// A passed run.
#[derive(Debug)]
pub struct RunReport {
    pub run_dir: PathBuf,
    pub elapsed: Duration,
    /// What each snapshot step took, normalized, in step order.
    pub snapshots: Vec<TakenSnapshot>,
}

/// Runs a scenario on a fresh lab. The error names the file, the failing step and the run
/// directory; mismatching snapshots are reported once the lab is gone.
pub async fn run(scenario: &Scenario, options: &RunOptions) -> Result<RunReport> {
    let started = Instant::now();
    let policy = Policy::from_env()?;
    interrupt::listen().context("listen for SIGINT, SIGTERM and SIGHUP")?;
    let engine = Engine::connect().await?;
    let mut spec = LabSpec::owned();
    spec.timing = options.timing;
    spec.flavour = options.flavour.clone();
    spec.topology = scenario.topology.clone();
    let up = UpOptions { lab: spec, level: scenario.setup.level() };
    let mut dir = RunDir::create(&up.lab.run)?;
    let file = scenario.file.display().to_string();
    let place =
        |what: &str, dir: &RunDir| format!("scenario {file} failed {what}; run directory {}", dir.dir.display());

    let t0 = now_ms();
    let lab = cloud::up(&engine, &up, &Progress::silent()).await;
    let outcome = lab.as_ref().map(|_| String::new()).map_err(|e| format!("{e:#}"));
    let mut event = Event::new("setup", None, "setup", scenario.setup.name(), t0, outcome);
    if let Some(interrupted) = lab.as_ref().err().and_then(Interrupted::in_chain) {
        // cloud::up has removed what it made
        event.outcome = "interrupted";
        dir.record(event);
        return Err(stopped(&mut dir, scenario, interrupted, None, "during setup"));
    }
    dir.record(event);
    let lab = lab.with_context(|| place("in setup (the lab did not come up)", &dir))?;

    let traffic = TrafficState::new(scenario.traffic.clone(), dir.dir.join("client.jsonl"));
    let mut ctx = Ctx::new(&lab, options.timing, traffic);
    let mut snapshots = Vec::new();
    let mut failed = None;
    // the signal that stopped the steps, and where
    let mut interrupted = None;
    if scenario.traffic.as_ref().is_some_and(|plan| plan.whole) {
        let t0 = now_ms();
        let started = ctx.start_traffic().await;
        let outcome = started.as_ref().map(Clone::clone).map_err(|e| format!("{e:#}"));
        dir.record(Event::new("traffic", None, "traffic", "start (the whole scenario)", t0, outcome));
        if let Err(e) = started {
            failed = Some(e.context(place("starting its traffic", &dir)));
        }
    }
    for step in scenario.steps.iter().take_while(|_| failed.is_none()) {
        let t0 = now_ms();
        let what = step.action.describe();
        let at = format!("at step {} (line {}, {} {what})", step.index, step.line, step.kind);
        let ran = match interrupt::or_interrupt(step.action.run(&mut ctx)).await {
            Ok(ran) => ran,
            Err(signal) => {
                let mut event = Event::new("step", Some(step.index), step.kind, &what, t0, Err(signal.to_string()));
                event.outcome = "interrupted";
                dir.record(event);
                // a fault step cut short may have left what it had begun
                ctx.left.network |= step.kind == "fault";
                interrupted = Some((signal, Some(step.index), at));
                break;
            }
        };
        // what the step saw is kept (its transcript, a measurement) also when it is judged wrong
        let mut measure = None;
        let result = ran.and_then(|observed| {
            if let Some(transcript) = observed.transcript() {
                dir.write(&format!("step-{:02}.txt", step.index), &transcript);
            }
            if let Observation::Measured(m) = &observed {
                measure = Some(m.clone());
            }
            judge(&ctx, step, &observed).map(|()| observed)
        });
        let outcome = match &result {
            Ok(observed) => Ok(observed.detail()),
            Err(e) => Err(format!("{e:#}")),
        };
        let mut event = Event::new("step", Some(step.index), step.kind, &what, t0, outcome);
        event.measure = measure;
        let end_ms = event.end_ms;
        dir.record(event);
        match result {
            Ok(observed) => {
                dir.observed(&observed, step.index, &what, end_ms);
                if let Some(label) = &step.label {
                    ctx.ends.insert(label.clone(), (step.index, end_ms));
                    if let Observation::Tree(tree) = &observed {
                        ctx.trees.insert(label.clone(), tree.clone());
                    }
                }
                if let Check::Snapshot(name) = &step.check {
                    let text = observed.normalized(&ctx.normalizer).unwrap_or_default();
                    snapshots.push(TakenSnapshot { name: name.clone(), description: ctx.normalizer.text(&what), text });
                }
            }
            Err(e) => {
                failed = Some(e.context(place(&at, &dir)));
                break;
            }
        }
    }

    // the traffic ends with the steps, before the heal: the teardown is no part of the story
    if ctx.traffic.running.is_some() {
        let t0 = now_ms();
        let stopped = ctx.stop_traffic().await;
        let outcome = stopped.as_ref().map(Clone::clone).map_err(|e| format!("{e:#}"));
        dir.record(Event::new("traffic", None, "traffic", "stop (the end of the steps)", t0, outcome));
        if let (Err(e), None) = (stopped, &failed) {
            failed = Some(e.context(place("stopping its traffic", &dir)));
        }
    }
    if let Some(end) = ctx.traffic.ended.take() {
        let t0 = now_ms();
        let bounds = ctx.traffic.plan.as_ref().map(|p| p.bounds.clone()).unwrap_or_default();
        let judged = dir.client_report(&end, &bounds).and_then(|violations| {
            anyhow::ensure!(violations.is_empty(), "the client view's bounds do not hold:\n{}", violations.join("\n"));
            Ok(format!("client.json, timeline.html; {} bounds held", bounds.count()))
        });
        let outcome = judged.as_ref().map(Clone::clone).map_err(|e| format!("{e:#}"));
        dir.record(Event::new("traffic", None, "report", "the client view's report and bounds", t0, outcome));
        if let (Err(e), None) = (judged, &failed) {
            failed = Some(e.context(place("its traffic bounds", &dir)));
        }
    }

    // heal first: a paused host cannot even give its logs, and no fault outlives its scenario
    let keep = failed.is_some() && options.keep_on_failure && interrupt::received().is_none();
    if interrupt::received().is_some() {
        // a pause cut short before it was noted is still a pause
        if let Ok(states) = lab.states().await {
            ctx.left.paused.extend(states.into_iter().filter(|(_, state)| state == "paused").map(|(host, _)| host));
        }
    }
    let mut heal_failed = None;
    if !keep && !ctx.left.is_empty() {
        let t0 = now_ms();
        let healed = fault::heal_all(&lab, &ctx.left, options.timing).await;
        let outcome = healed.as_ref().map(Clone::clone).map_err(|e| format!("{e:#}"));
        dir.record(Event::new("teardown", None, "heal", "every network fault and paused host", t0, outcome));
        heal_failed = healed.err();
    }
    // a second signal skips the logs, never the teardown
    tokio::select! {
        biased;
        () = interrupt::second() => eprintln!("arcus-lab: second signal: the logs of run {} are not collected", lab.run),
        () = dir.collect_logs(&lab) => {}
    }
    if let (Some(e), true) = (&failed, keep) {
        let marked = lab::mark(&engine, &up.lab, Mark::Kept).await;
        dir.finish(&scenario.title, &file, "failed; lab kept");
        marked.with_context(|| format!("{e:#}\nmarking the failed lab {} kept", lab.run))?;
        let run = &lab.run;
        anyhow::bail!(
            "{e:#}\nthe lab is still up (--keep-on-failure): `cargo xtask lab status --run {run}`, \
             `cargo xtask lab exec --run {run} HOST -- CMD`; remove it with `cargo xtask lab down --run {run}`"
        );
    }
    let t0 = now_ms();
    let down = lab::undo(&engine, &up.lab).await;
    let outcome = down.as_ref().map(|n| format!("{n} containers")).map_err(|e| format!("{e:#}"));
    dir.record(Event::new("teardown", None, "teardown", lab.run.as_str(), t0, outcome));
    // a signal during the teardown of a run that had finished its steps interrupts it too
    let interrupted = interrupted
        .or_else(|| interrupt::received().map(|signal| (Interrupted { signal }, None, "after its steps".to_string())));
    if let Some((signal, step, at)) = interrupted {
        let e = stopped(&mut dir, scenario, signal, step, &at);
        return Err(match (heal_failed, down) {
            (Some(heal), _) => e.context(format!("the heal before teardown failed: {heal:#}")),
            (None, Err(down)) => e.context(format!("the teardown failed: {down:#}")),
            (None, Ok(_)) => e,
        });
    }
    let outcome = match (&failed, &heal_failed, &down) {
        (Some(_), _, _) => "failed",
        (None, Some(_), _) | (None, None, Err(_)) => "teardown failed",
        (None, None, Ok(_)) => "steps passed",
    };
    dir.finish(&scenario.title, &file, outcome);
    if let Some(e) = failed {
        return Err(e);
    }
    if let Some(e) = heal_failed {
        return Err(e.context(place("in the heal before teardown", &dir)));
    }
    down.with_context(|| place("in teardown", &dir))?;

    if options.compare_snapshots {
        if let Some(report) = Snapshots::new(&options.snapshots).check_all(policy, scenario, &snapshots)? {
            anyhow::bail!("{}: {report}", place("its snapshots", &dir));
        }
    }
    Ok(RunReport { run_dir: dir.dir, elapsed: started.elapsed(), snapshots })
}

/// Ends the record of a run a signal stopped (the lab is gone): the `interrupted` event last in
/// events.jsonl, and summary.md saying where. Returns the error, which carries the signal.
fn stopped(dir: &mut RunDir, scenario: &Scenario, signal: Interrupted, step: Option<usize>, at: &str) -> anyhow::Error {
    let mut event =
        Event::new("interrupted", step, "interrupted", &signal.signal.to_string(), now_ms(), Err(at.into()));
    event.outcome = "interrupted";
    dir.record(event);
    let file = scenario.file.display().to_string();
    dir.finish(&scenario.title, &file, &format!("{signal} {at}"));
    anyhow::Error::new(signal).context(format!("scenario {file} {signal} {at}; run directory {}", dir.dir.display()))
}

/// Judges what a step observed: its own judgement, then the explicit expectation.
fn judge(ctx: &Ctx<'_>, step: &Step, observed: &Observation) -> Result<()> {
    step.action.judge(ctx, observed)?;
    if let Check::Expect(expect) = &step.check {
        let text = observed.normalized(&ctx.normalizer).unwrap_or_default();
        if let Some(exit) = expect.exit {
            anyhow::ensure!(
                observed.exit() == Some(exit),
                "expected exit {exit}, got {:?}; output:\n{text}",
                observed.exit()
            );
        }
        for needle in &expect.contains {
            anyhow::ensure!(
                text.contains(needle.as_str()),
                "expected the output to contain {needle:?}; output:\n{text}"
            );
        }
    }
    Ok(())
}
