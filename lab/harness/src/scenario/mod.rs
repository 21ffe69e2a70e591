//! Scenarios: a scenario file (`scenarios/*.toml`) is a title, a setup level, an optional
//! topology and a list of steps. Each step kind is declared once, in its own file under
//! `steps/` (its name, keys, one-line summary, how it runs), and listed in [`steps::KINDS`]; a
//! `fault` step's verbs are declared the same way in `crate::fault`. `parse` checks a whole file
//! against those declarations before any lab exists; `runner` brings the lab up, runs the steps,
//! checks their typed observations, records the run, heals what the faults left and always tears
//! the lab down.
//!
//! # The file format
//!
//! ```toml
//! title = "what the scenario shows"
//! setup = "cloud"            # bare: the machines | zk: the runbook through `zookeeper start`
//!                            # cloud: the runbook through `listall`, every node online
//! [topology]                 # optional; the default is the runbook's four machines:
//! hosts = 3                  # memcached-1..3
//! zk = 3                     # ZooKeeper members on the first hosts: 1, 3 or 5
//! nodes-per-host = 2         # nodes of each service on every host, from port 11211 on
//! services = ["ruo91-cloud"] # service codes; the next service's ports follow the previous one's
//!
//! [traffic]                  # optional: a load through the client view for the whole scenario
//! rate = 1000                # (or between `traffic = "start"` and `traffic = "stop"` steps);
//! bounds.max-failed = 0      # every key has a default; bounds on the client report's figures
//!
//! [[step]]
//! fault = "kill-zk"          # the step kind is the key that names it; its value and the
//! host = "$leader"           # other keys are the kind's (`cargo xtask lab run --help` lists them)
//! label = "killed"           # any step may carry a label: `measure`, `expect.same_sessions` and
//!                            # `snapshot = true` refer to it
//!
//! [[step]]
//! run = "./arcus.sh memcached listall"
//! snapshot = "listall-after-kill"  # tests/snapshots/<file stem>@<name>.snap (true: the label)
//!
//! [[step]]
//! tree = "/arcus/cache_list"
//! expect.contains = "ephemeral"    # or a list; `expect.exit = 0` for `run`
//! ```
//!
//! `run`, `mc` and `tree` need a snapshot or an `expect` (a tree step's `expect.same_sessions`
//! counts); `runbook` may have one; the other kinds fail by themselves. The README lists every
//! step kind, fault verb and wait condition with its keys (a test keeps that list equal to the
//! declarations).

mod artifacts;
mod context;
mod observation;
mod parse;
pub mod reference;
mod runner;
pub mod snapshot;
pub mod steps;
pub mod traffic;

use std::path::PathBuf;

use futures_util::future::BoxFuture;

pub use context::Ctx;
pub use observation::Observation;
pub use parse::{parse, parse_str, ScenarioError};
pub use runner::{run, RunOptions, RunReport};
pub use snapshot::{snapshot_name, Policy, Snapshots, TakenSnapshot, Verdict};
pub use traffic::{TrafficBounds, TrafficPlan};

use crate::cloud::{Level, Step as RunbookStep};
use crate::keys::{Key, KeyError, Keys};
use crate::lab::Topology;

/// A parsed scenario file.
#[derive(Debug)]
pub struct Scenario {
    /// The file's stem: the test's name and the prefix of its snapshots.
    pub name: String,
    pub file: PathBuf,
    pub title: String,
    pub setup: Setup,
    pub topology: Topology,
    pub steps: Vec<Step>,
    /// The load through the client view (`[traffic]`, or defaults when only `traffic` steps
    /// name it); `None`: no traffic.
    pub traffic: Option<TrafficPlan>,
}

impl Scenario {
    /// The names of the snapshots its steps are checked against.
    pub fn snapshots(&self) -> Vec<&str> {
        self.steps
            .iter()
            .filter_map(|s| match &s.check {
                Check::Snapshot(name) => Some(name.as_str()),
                _ => None,
            })
            .collect()
    }
}

/// How far the lab is brought before the first step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::EnumString, strum::IntoStaticStr, strum::VariantNames)]
#[strum(serialize_all = "lowercase")]
pub enum Setup {
    /// The machines, nothing of Arcus running.
    Bare,
    /// The runbook through `zookeeper start` (ensemble up, structure made, nothing registered).
    Zk,
    /// The runbook through `listall`: every node online.
    Cloud,
}

impl Setup {
    pub fn name(self) -> &'static str {
        self.into()
    }

    pub fn level(self) -> Level {
        match self {
            Setup::Bare => Level::Bare,
            Setup::Zk => Level::Runbook(RunbookStep::ZkStart),
            Setup::Cloud => Level::Runbook(RunbookStep::List),
        }
    }
}

/// One step: what to do and how its result is judged.
#[derive(Debug)]
pub struct Step {
    /// 1-based position in the file.
    pub index: usize,
    /// The line of its `[[step]]` header.
    pub line: usize,
    /// Its kind's name (`run`, `fault`, ...).
    pub kind: &'static str,
    /// `label = "<name>"`: how later steps refer to it.
    pub label: Option<String>,
    pub action: Box<dyn Action>,
    pub check: Check,
}

/// A step kind's declaration; every kind is listed in [`steps::KINDS`].
pub struct Kind {
    /// The key that names the kind (`run = "..."`).
    pub name: &'static str,
    /// One line: what a step of this kind does.
    pub summary: &'static str,
    /// Its keys besides its own and the common ones (`label`, the output checks).
    pub keys: &'static [Key],
    /// When the kind's value names one of several variants with keys of their own (a fault's verb,
    /// a wait's condition, what to bind).
    pub variants: Option<Variants>,
    /// Which output checks it takes.
    pub output: Output,
    /// Reads the step's keys (already checked against the declarations); notes what the step
    /// defines for later steps.
    pub parse: ParseStep,
}

/// How a kind reads a step's keys into its action.
pub type ParseStep = fn(&Keys, &mut Defines) -> Result<Box<dyn Action>, KeyError>;

/// The variants a kind's value may name.
pub struct Variants {
    /// What the value names, for messages: `fault`, `condition`, ...
    pub what: &'static str,
    /// Each variant's name, summary and keys.
    pub list: fn() -> Vec<Variant>,
}

/// One variant of a kind.
#[derive(Debug, Clone, Copy)]
pub struct Variant {
    pub name: &'static str,
    pub summary: &'static str,
    pub keys: &'static [Key],
}

/// The output checks a kind takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// None: the step fails by itself.
    None,
    /// `snapshot` or `expect.contains` may be given.
    Optional,
    /// `snapshot` or `expect.contains` (or a check of the kind's own) must be given.
    Required,
    /// Required, and `expect.exit` is taken too.
    RequiredWithExit,
}

/// What a step defines for the steps after it.
#[derive(Debug, Default)]
pub struct Defines {
    /// A `$name` bound by `bind`.
    pub bound: Option<String>,
    /// A measure's name (unique in a file).
    pub measure: Option<String>,
    /// A `traffic` step's start or stop.
    pub traffic: Option<TrafficMark>,
}

/// What a `traffic` step does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrafficMark {
    Start,
    Stop,
}

/// A step as the file gives it, ready to run.
pub trait Action: std::fmt::Debug + Send + Sync {
    /// Its main value as written (`kill-zk on $leader`, `./arcus.sh memcached listall on arcus`).
    fn describe(&self) -> String;
    /// Runs it and returns what it observed.
    fn run<'a>(&'a self, ctx: &'a mut Ctx<'_>) -> BoxFuture<'a, anyhow::Result<Observation>>;
    /// A judgement of its own on what it observed (a tree's sessions, a measure's bounds).
    fn judge(&self, _ctx: &Ctx<'_>, _observed: &Observation) -> anyhow::Result<()> {
        Ok(())
    }
    /// Whether [`Action::judge`] checks the output, so that it needs no snapshot or `expect`.
    fn judges_itself(&self) -> bool {
        false
    }
    /// Whether the step can fail on what it finds in the lab (a fault not in effect, a wait that
    /// times out, a command's exit), not only by a snapshot or `expect`: a scenario must have
    /// one such step or one checked output, or it shows nothing.
    fn can_fail(&self) -> bool {
        true
    }
}

/// How a step's output is judged besides [`Action::judge`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// Nothing more.
    Done,
    /// The normalized output must match `tests/snapshots/<scenario>@<name>.snap`.
    Snapshot(String),
    Expect(Expect),
}

/// An explicit expectation on the normalized output.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expect {
    pub exit: Option<i64>,
    pub contains: Vec<String>,
}
