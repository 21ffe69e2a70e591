//! Scenarios: the model of a scenario file (`scenarios/*.toml`), its parser and its runner.
//!
//! A scenario is a title, a setup level and a list of steps from a closed vocabulary; each step
//! kind lives in a file of its own (`command`, `runbook`, `mc`, `tree`, `wait`, `fault`, `hold`, `bind`,
//! `measure`). `parse` checks a whole file before any lab exists; `runner` brings a lab up, runs
//! the steps, checks snapshots and expectations, records the run, heals what the faults left
//! (network rules, paused hosts) and always tears the lab down.
//!
//! # The file format
//!
//! ```toml
//! title = "what the scenario shows"
//! setup = "cloud"            # bare: four machines | zk: runbook through `zookeeper start`
//!                            # cloud: runbook through `listall`, six nodes online
//! [[step]]
//! bind = "zk-leader"         # (or zk-follower; or ip with host) the leader's host, usable as $leader in later steps ($$ = a literal $)
//! as = "leader"
//!
//! [[step]]
//! fault = "kill-zk"          # SIGKILL to the ZooKeeper JVM on host; "stop-zk" / "start-zk": bin/zkServer.sh stop / start
//! host = "$leader"           # (start-zk returns once the server answers a four-letter word, serving or not)
//! label = "killed"           # any step may carry a label: `measure` and `expect.same_sessions` refer to it
//!
//! [[step]]
//! fault = "kill-node"        # a signal (KILL, TERM, INT, STOP, CONT; default KILL) to the node on host:port
//! host = "memcached-2"
//! port = 11211
//! signal = "KILL"
//!
//! [[step]]
//! fault = "kill-host"        # SIGKILL to a whole host's container; "stop-host": docker stop (SIGTERM, then
//! host = "memcached-3"       # SIGKILL after 10 s); "start-host" starts it again; "pause-host" / "resume-host":
//!                            # docker pause / unpause (every process of the host frozen)
//!
//! [[step]]
//! fault = "partition"        # packets between the two sets of hosts dropped, both directions (silence, not refusal)
//! hosts = ["memcached-3"]
//! from = ["memcached-1", "memcached-2"]
//!
//! [[step]]
//! fault = "cut-zk-ports"     # host can reach no ZooKeeper client port 2181 (its own server's included); its
//! host = "memcached-3"       # server keeps serving the others and the quorum ports stay open. "isolate" with
//!                            # host: that host partitioned from all the others
//!
//! [[step]]
//! fault = "heal"             # every network fault on every host removed (the runner heals and resumes what is
//!                            # left before teardown by itself)
//!
//! [[step]]
//! fault = "delete-znode"     # the operator deletes a znode and its subtree
//! path = "/arcus/cache_list/ruo91-cloud/..."
//!
//! [[step]]
//! mc = "ready"               # protocol lines (one per line) to the node on host:port
//! host = "memcached-1"
//! port = 11211
//! expect.contains = "< READY"
//!
//! [[step]]
//! wait = "zk-quorum"         # a leader and a serving majority; or "zk-new-leader" with host (the
//!                            # same, the leader on another host than that one, the old leader's);
//!                            # or "children" with path and count,
//!                            # "zk-mode" with host and mode, "node-exited" with host and port,
//!                            # "reply" with host, port, send (a line) and until (a reply line)
//! timeout = "20s"            # optional; default from the timing profile (fast: 30 s)
//! label = "gone"
//!
//! [[step]]
//! measure = "removal delay"  # the time from the end of step `from` to the end of step `to` (labels of
//! from = "killed"            # earlier steps, `to` after `from`), into timings.json and the events by name
//! to = "gone"
//! expect.min = "6s"          # optional bounds; outside them the step fails
//! expect.max = "13s"
//!
//! [[step]]
//! hold = "5s"                # ms, s or m; the only sleep
//!
//! [[step]]
//! runbook = "zklist"         # a runbook step as `lab up` runs it: zklist, keys, conf, deploy, ...
//!
//! [[step]]
//! run = "./arcus.sh memcached listall"   # on host (default arcus, from /opt/arcus/scripts)
//! snapshot = true            # tests/snapshots/<file stem>@<step index, 2 digits>.snap
//!
//! [[step]]
//! tree = "/arcus/cache_list" # the znode subtree, normalized and sorted
//! expect.contains = "ephemeral"          # or a list; `expect.exit = 0` for `run`
//! expect.same_sessions = "before"        # every ephemeral znode has the owner (session) it had in the
//!                                        # earlier tree step labelled "before", and the paths are the same
//! ```
//!
//! `run`, `mc` and `tree` need `snapshot = true` or an `expect`; `runbook` may have one; `measure` may
//! have `expect.min`/`expect.max`; the other kinds take neither (they fail by themselves). A tree
//! step's `expect.same_sessions` may go with `snapshot = true`. Each kind takes only its own keys.

mod artifacts;
mod bind;
mod command;
mod fault;
mod hold;
mod mc;
mod measure;
mod parse;
mod runbook;
mod runner;
mod tree;
mod wait;

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

pub use parse::{parse, parse_str};
pub use runner::{run, RunOptions, RunReport};

use crate::fault::Signal;
use crate::lab::Level;
use crate::runbook::Step as RunbookStep;

/// Everything wrong with a scenario file, found before a lab is started.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("{file}: cannot read: {source}")]
    Read { file: String, source: std::io::Error },
    #[error("{file}:{line}: `{key}`: {message}")]
    Invalid { file: String, line: usize, key: String, message: String },
}

/// A parsed scenario file.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// The file's stem: the test's name and the prefix of its snapshots.
    pub name: String,
    pub file: PathBuf,
    pub title: String,
    pub setup: Setup,
    pub steps: Vec<Step>,
}

/// How far the lab is brought before the first step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setup {
    /// Four machines, nothing of Arcus running.
    Bare,
    /// The runbook through `zookeeper start` (ensemble up, structure made, nothing registered).
    Zk,
    /// The runbook through `listall`: six nodes online.
    Cloud,
}

impl Setup {
    pub const NAMES: [&'static str; 3] = ["bare", "zk", "cloud"];

    pub fn parse(name: &str) -> Option<Setup> {
        match name {
            "bare" => Some(Setup::Bare),
            "zk" => Some(Setup::Zk),
            "cloud" => Some(Setup::Cloud),
            _ => None,
        }
    }

    pub fn level(self) -> Level {
        match self {
            Setup::Bare => Level::Bare,
            Setup::Zk => Level::Runbook(RunbookStep::ZkStart),
            Setup::Cloud => Level::Runbook(RunbookStep::List),
        }
    }
}

/// One step: what to do and how its result is checked.
#[derive(Debug, Clone)]
pub struct Step {
    /// 1-based position in the file (the snapshot suffix).
    pub index: usize,
    /// The line of its `[[step]]` header.
    pub line: usize,
    /// `label = "<name>"`: how `measure` and `expect.same_sessions` refer to the step.
    pub label: Option<String>,
    pub action: Action,
    pub check: Check,
}

/// A string that may hold `$name` references to bound values (`$$` is a literal `$`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template(pub String);

impl Template {
    /// The text with every `$name` replaced; the parser has made sure every name is bound.
    pub fn render(&self, bound: &HashMap<String, String>) -> anyhow::Result<String> {
        let mut out = String::new();
        for piece in parse::template_pieces(&self.0) {
            match piece {
                parse::Piece::Text(text) => out.push_str(text),
                parse::Piece::Name(name) => {
                    let value = bound.get(name).ok_or_else(|| anyhow::anyhow!("${name} is not bound"))?;
                    out.push_str(value);
                }
            }
        }
        Ok(out)
    }
}

/// The closed vocabulary of step kinds.
#[derive(Debug, Clone)]
pub enum Action {
    /// `run = "<command>"` on `host` (default `arcus`, from /opt/arcus/scripts).
    Run { command: Template, host: Template },
    /// `runbook = "<step>"`: one runbook step exactly as `lab up` runs it (its line on `arcus`).
    Runbook(RunbookStep),
    /// `mc = "<line>\n<line>..."`: protocol lines to the node on `host`:`port`.
    Mc { host: Template, port: u16, lines: Template },
    /// `tree = "<path>"`: the znode subtree under path; with `expect.same_sessions = "<label>"`, its
    /// ephemeral znodes must have the owners they had in that earlier tree step.
    Tree { path: Template, same_sessions: Option<String> },
    /// `wait = "<condition>"` within `timeout` (default from the timing profile).
    Wait { condition: Condition, timeout: Option<Duration> },
    /// `fault = "<verb>"`: returns once the fault is in effect.
    Fault(Fault),
    /// `hold = "<duration>"`: let time pass with the faults in place (the only sleep).
    Hold(Duration),
    /// `bind = "<what>"` `as = "<name>"`: later steps may use `$name`.
    Bind { what: Binding, name: String },
    /// `measure = "<name>"`: the time between the ends of the steps labelled `from` and `to`,
    /// within the bounds if given.
    Measure { name: String, from: String, to: String, min: Option<Duration>, max: Option<Duration> },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// A leader and a majority of the ensemble serving.
    ZkQuorum,
    /// A leader on a host other than `old`, `old` not leading, and a majority of the ensemble serving.
    ZkNewLeader { old: Template },
    /// `path` has exactly `count` children.
    Children { path: Template, count: usize },
    /// The ZooKeeper server on `host` serves in `mode` (leader, follower, standalone).
    ZkMode { host: Template, mode: String },
    /// No cache node listens on `port` on `host` any more (it exited).
    NodeExited { host: Template, port: u16 },
    /// The node on `host`:`port` answers `send` with a reply holding the line `until`.
    Reply { host: Template, port: u16, send: Template, until: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// SIGKILL to the ZooKeeper JVM on a host.
    KillZk { host: Template },
    /// `bin/zkServer.sh stop` on a host.
    StopZk { host: Template },
    /// `bin/zkServer.sh start` on a host.
    StartZk { host: Template },
    /// A signal to the cache node listening on `port` on a host.
    KillNode { host: Template, port: u16, signal: Signal },
    /// SIGKILL to a whole host (its container).
    KillHost { host: Template },
    /// A graceful stop of a whole host (docker stop).
    StopHost { host: Template },
    /// Start a killed or stopped host again.
    StartHost { host: Template },
    /// Freeze a whole host (docker pause).
    PauseHost { host: Template },
    /// Thaw a paused host.
    ResumeHost { host: Template },
    /// Drop every packet between the hosts of `hosts` and those of `from`, both directions.
    Partition { hosts: Vec<Template>, from: Vec<Template> },
    /// Partition a host from all the others.
    Isolate { host: Template },
    /// A host can no longer reach any ZooKeeper client port; its server keeps serving the others.
    CutZkPorts { host: Template },
    /// Remove every network fault on every host.
    Heal,
    /// The operator deletes a znode (with its subtree).
    DeleteZnode { path: Template },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Binding {
    /// The host whose ZooKeeper server is the leader now.
    ZkLeader,
    /// The first host (by name) whose ZooKeeper server is a follower now.
    ZkFollower,
    /// A host's address (znode names hold it: `$ip:11211-memcached-1`).
    Ip { host: Template },
}

/// How a step's result is judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// Actions (fault, wait, hold, bind, runbook) succeed or fail by themselves.
    Done,
    /// The normalized output must match `tests/snapshots/<scenario>@<index>.snap`.
    Snapshot,
    Expect(Expect),
}

/// An explicit expectation on the normalized output.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expect {
    pub exit: Option<i64>,
    pub contains: Vec<String>,
}
