//! The runner: brings the setup level up, runs the steps in order, checks expectations at once and
//! snapshots after the lab is gone, records every phase in the run directory, heals what the faults
//! left (paused hosts resumed, network rules flushed) and always tears the lab down, also when a
//! step fails (unless `--keep-on-failure` keeps the failed lab as it is).

use std::collections::{BTreeSet, HashMap};
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use super::artifacts::{now_ms, Event, Measurement, RunDir};
use super::{bind, command, fault, hold, mc, measure, runbook, tree, wait};
use super::{Action, Binding, Check, Condition, Fault, Scenario, Step, Template};
use crate::engine::Engine;
use crate::flavour::Flavour;
use crate::lab::{self as labs, Lab, Owner, UpOptions, HOSTNAMES};
use crate::normalize::Normalizer;
use crate::progress::Progress;
use crate::timing::Timing;
use crate::zk::ZnodeTree;

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
    /// A `tree` step's dump, owners included.
    pub tree: Option<ZnodeTree>,
}

/// What a step did: the detail for its event, and what it observed or measured.
pub(super) struct Done {
    pub detail: String,
    pub observed: Option<Observed>,
    pub measurement: Option<Measurement>,
}

impl Done {
    fn with_detail(detail: String) -> Done {
        Done { detail, observed: None, measurement: None }
    }
}

/// What the steps share while a scenario runs.
pub(super) struct Ctx<'a> {
    pub lab: &'a Lab,
    pub normalizer: Normalizer,
    pub bound: HashMap<String, String>,
    /// The default deadline of waits, from the timing profile.
    pub deadline: Duration,
    /// Each label's step index and the time its step ended (ms since the epoch).
    pub ends: HashMap<String, (usize, u128)>,
    /// The dumps of labelled tree steps.
    pub trees: HashMap<String, ZnodeTree>,
    /// What the faults left behind, for the heal before teardown.
    pub applied: Applied,
}

/// Faults that outlive their step until a later step undoes them.
#[derive(Debug, Default)]
pub(super) struct Applied {
    /// A network fault was applied and not healed since.
    pub network: bool,
    /// Hosts paused and not resumed since.
    pub paused: BTreeSet<String>,
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
        None,
    );
    let lab = lab.with_context(|| place("in setup (the lab did not come up)", &dir))?;

    let mut ctx = Ctx {
        lab: &lab,
        normalizer: Normalizer::for_lab(&lab),
        bound: HashMap::new(),
        deadline: default_deadline(options.timing),
        ends: HashMap::new(),
        trees: HashMap::new(),
        applied: Applied::default(),
    };
    let mut snapshots = Vec::new();
    let mut failed = None;
    for step in &scenario.steps {
        let t0 = now_ms();
        let (result, measurement) = match perform(&mut ctx, step).await {
            Ok(done) => {
                if let Some(observed) = &done.observed {
                    dir.write(&format!("step-{:02}.txt", step.index), &observed.raw);
                }
                let measurement = done.measurement.clone();
                (judge(&ctx, step, &done).map(|()| done), measurement)
            }
            Err(e) => (Err(e), None),
        };
        let (kind, what) = describe(step);
        let outcome = match &result {
            Ok(done) => Ok(done.detail.clone()),
            Err(e) => Err(format!("{e:#}")),
        };
        let end_ms = record(&mut dir, "step", Some(step.index), kind, &what, t0, outcome, measurement);
        match result {
            Ok(done) => {
                if let Some(label) = &step.label {
                    ctx.ends.insert(label.clone(), (step.index, end_ms));
                    if let Some(tree) = done.observed.as_ref().and_then(|o| o.tree.clone()) {
                        ctx.trees.insert(label.clone(), tree);
                    }
                }
                if let (Some(observed), Check::Snapshot) = (done.observed, &step.check) {
                    snapshots.push((step.index, ctx.normalizer.text(&what), observed.text));
                }
            }
            Err(e) => {
                failed = Some(
                    e.context(place(&format!("at step {} (line {}, {kind} {what})", step.index, step.line), &dir)),
                );
                break;
            }
        }
    }

    // heal first: a paused host cannot even give its logs, and no fault outlives its scenario
    let keep = failed.is_some() && options.keep_on_failure;
    let mut heal_failed = None;
    if !keep && (ctx.applied.network || !ctx.applied.paused.is_empty()) {
        let t0 = now_ms();
        let healed = heal_all(&lab, &ctx.applied).await;
        let what = "every network fault and paused host";
        let outcome = healed.as_ref().map(Clone::clone).map_err(|e| format!("{e:#}"));
        record(&mut dir, "teardown", None, "heal", what, t0, outcome, None);
        heal_failed = healed.err();
    }
    dir.collect_logs(&lab).await;
    if let (Some(e), true) = (&failed, keep) {
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
        None,
    );
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

/// Resumes every host left paused, then removes every network fault; returns what was done. Both
/// are tried even when one fails.
async fn heal_all(lab: &Lab, applied: &Applied) -> Result<String> {
    let mut done = Vec::new();
    let mut errors = Vec::new();
    for host in &applied.paused {
        match crate::fault::resume_host(lab, host).await {
            Ok(()) => done.push(format!("resumed {host}")),
            Err(e) => errors.push(format!("resume {host}: {e:#}")),
        }
    }
    if applied.network {
        match crate::fault::heal(lab).await {
            Ok(healed) if healed.is_empty() => done.push("no network rule left".to_string()),
            Ok(healed) => done.push(format!("healed {}", healed.join(", "))),
            Err(e) => errors.push(format!("heal: {e:#}")),
        }
    }
    anyhow::ensure!(errors.is_empty(), "{}", errors.join("; "));
    Ok(done.join("; "))
}

/// Runs one step; returns the detail for the events and what it observed or measured.
async fn perform(ctx: &mut Ctx<'_>, step: &Step) -> Result<Done> {
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
        Action::Tree { path, .. } => {
            let path = ctx.render(path)?;
            tree::run(ctx, &path).await?
        }
        Action::Wait { condition, timeout } => {
            let seen = wait::run(ctx, condition, timeout.unwrap_or(ctx.deadline)).await?;
            return Ok(Done::with_detail(seen));
        }
        Action::Fault(f) => return Ok(Done::with_detail(fault::run(ctx, f).await?)),
        Action::Hold(duration) => {
            hold::run(*duration).await;
            return Ok(Done::with_detail(String::new()));
        }
        Action::Bind { what, name } => {
            let value = bind::run(ctx, what, name).await?;
            return Ok(Done::with_detail(format!("${name} = {value}")));
        }
        Action::Measure { name, from, to, min, max } => {
            let measurement = measure::run(ctx, name, from, to, *min, *max)?;
            return Ok(Done { detail: measurement.detail(), observed: None, measurement: Some(measurement) });
        }
    };
    let detail = observed.exit.map(|e| format!("exit {e}")).unwrap_or_default();
    Ok(Done { detail, observed: Some(observed), measurement: None })
}

/// Judges what a step did: its output against the explicit expectation, a tree's sessions against
/// the labelled earlier tree, a measurement against its bounds.
fn judge(ctx: &Ctx<'_>, step: &Step, done: &Done) -> Result<()> {
    if let Some(observed) = &done.observed {
        check(step, observed)?;
        if let (Action::Tree { same_sessions: Some(label), .. }, Some(after)) = (&step.action, &observed.tree) {
            let before = ctx.trees.get(label).with_context(|| format!("no tree step labelled {label:?} has run"))?;
            tree::same_sessions(label, before, after, &ctx.normalizer)?;
        }
    }
    if let Some(measurement) = &done.measurement {
        measurement.check()?;
    }
    Ok(())
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
        Action::Tree { path, .. } => ("tree", path.0.clone()),
        Action::Wait { condition: Condition::ZkQuorum, .. } => ("wait", "zk-quorum".into()),
        Action::Wait { condition: Condition::ZkNewLeader { old }, .. } => {
            ("wait", format!("a ZooKeeper leader other than {}", old.0))
        }
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
        Action::Fault(Fault::StopHost { host }) => ("fault", format!("stop-host {}", host.0)),
        Action::Fault(Fault::StartHost { host }) => ("fault", format!("start-host {}", host.0)),
        Action::Fault(Fault::PauseHost { host }) => ("fault", format!("pause-host {}", host.0)),
        Action::Fault(Fault::ResumeHost { host }) => ("fault", format!("resume-host {}", host.0)),
        Action::Fault(Fault::StopZk { host }) => ("fault", format!("stop-zk on {}", host.0)),
        Action::Fault(Fault::StartZk { host }) => ("fault", format!("start-zk on {}", host.0)),
        Action::Fault(Fault::Partition { hosts, from }) => {
            let names = |side: &[Template]| side.iter().map(|h| h.0.as_str()).collect::<Vec<_>>().join(", ");
            ("fault", format!("partition [{}] from [{}]", names(hosts), names(from)))
        }
        Action::Fault(Fault::Isolate { host }) => ("fault", format!("isolate {}", host.0)),
        Action::Fault(Fault::CutZkPorts { host }) => ("fault", format!("cut-zk-ports {}", host.0)),
        Action::Fault(Fault::Heal) => ("fault", "heal".into()),
        Action::Fault(Fault::DeleteZnode { path }) => ("fault", format!("delete-znode {}", path.0)),
        Action::Fault(Fault::KillZk { host }) => ("fault", format!("kill-zk on {}", host.0)),
        Action::Fault(Fault::KillNode { host, port, signal }) => {
            ("fault", format!("kill-node {}:{port} SIG{}", host.0, signal.name()))
        }
        Action::Hold(d) => ("hold", format!("{d:?}")),
        Action::Bind { what: Binding::ZkLeader, name } => ("bind", format!("zk-leader as {name}")),
        Action::Bind { what: Binding::ZkFollower, name } => ("bind", format!("zk-follower as {name}")),
        Action::Bind { what: Binding::Ip { host }, name } => ("bind", format!("ip of {} as {name}", host.0)),
        Action::Measure { name, from, to, .. } => ("measure", format!("{name}: from {from} to {to}")),
    }
}

/// Records an event ending now; returns its end time.
#[allow(clippy::too_many_arguments)]
fn record(
    dir: &mut RunDir,
    phase: &str,
    step: Option<usize>,
    kind: &str,
    what: &str,
    start_ms: u128,
    outcome: Result<String, String>,
    measure: Option<Measurement>,
) -> u128 {
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
        measure,
    });
    end_ms
}
