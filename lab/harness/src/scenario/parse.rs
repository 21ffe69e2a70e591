//! The scenario file parser: TOML into the model, every mistake reported as file:line and key
//! before any lab is started (unknown keys, step kinds, hosts, durations, unbound `$names`,
//! unknown or repeated labels).

use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::{Action, Binding, Check, Condition, Expect, Fault, Scenario, ScenarioError, Setup, Step, Template};
use crate::fault::Signal;
use crate::lab::HOSTNAMES;
use crate::runbook::Step as RunbookStep;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    title: Spanned<String>,
    setup: Spanned<String>,
    #[serde(default)]
    step: Vec<Spanned<RawStep>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    run: Option<Spanned<String>>,
    runbook: Option<Spanned<String>>,
    mc: Option<Spanned<String>>,
    tree: Option<Spanned<String>>,
    wait: Option<Spanned<String>>,
    fault: Option<Spanned<String>>,
    hold: Option<Spanned<String>>,
    bind: Option<Spanned<String>>,
    measure: Option<Spanned<String>>,
    label: Option<Spanned<String>>,
    host: Option<Spanned<String>>,
    hosts: Option<Spanned<Vec<String>>>,
    from: Option<Spanned<OneOrMany>>,
    to: Option<Spanned<String>>,
    port: Option<Spanned<u16>>,
    signal: Option<Spanned<String>>,
    mode: Option<Spanned<String>>,
    send: Option<Spanned<String>>,
    until: Option<Spanned<String>>,
    path: Option<Spanned<String>>,
    count: Option<Spanned<usize>>,
    timeout: Option<Spanned<String>>,
    #[serde(rename = "as")]
    as_: Option<Spanned<String>>,
    snapshot: Option<Spanned<bool>>,
    expect: Option<Spanned<RawExpect>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExpect {
    exit: Option<i64>,
    contains: Option<OneOrMany>,
    same_sessions: Option<Spanned<String>>,
    min: Option<Spanned<String>>,
    max: Option<Spanned<String>>,
}

/// A string or a list of strings (`contains`; `from`: a label for `measure`, hosts for `partition`).
#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

/// Step kinds that take a key.
type KindList = &'static [&'static str];

/// The step kinds, in the order they are looked for.
const KINDS: [&str; 9] = ["run", "runbook", "mc", "tree", "wait", "fault", "hold", "bind", "measure"];

/// The fault verbs.
const FAULTS: [&str; 14] = [
    "kill-zk",
    "stop-zk",
    "start-zk",
    "kill-node",
    "kill-host",
    "stop-host",
    "start-host",
    "pause-host",
    "resume-host",
    "partition",
    "isolate",
    "cut-zk-ports",
    "heal",
    "delete-znode",
];

/// Reads and checks a scenario file.
pub fn parse(file: &Path) -> Result<Scenario, ScenarioError> {
    let shown = file.display().to_string();
    let text = std::fs::read_to_string(file).map_err(|source| ScenarioError::Read { file: shown.clone(), source })?;
    parse_str(file, &text)
}

/// Checks a scenario's text; `file` names it in errors and gives the scenario its name.
pub fn parse_str(file: &Path, text: &str) -> Result<Scenario, ScenarioError> {
    let p = Parser { file: file.display().to_string(), text };
    let raw: RawScenario = toml::from_str(text).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        p.error_at(span, None, e.message().to_string())
    })?;
    let setup = Setup::parse(raw.setup.get_ref()).ok_or_else(|| {
        p.error(
            &raw.setup,
            "setup",
            format!("unknown setup {:?}: use one of {}", raw.setup.get_ref(), Setup::NAMES.join(", ")),
        )
    })?;
    let mut seen = Seen::default();
    let mut steps = Vec::new();
    for (i, raw_step) in raw.step.iter().enumerate() {
        steps.push(p.step(i + 1, raw_step, &mut seen)?);
    }
    let name = file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    Ok(Scenario { name, file: file.to_path_buf(), title: raw.title.into_inner(), setup, steps })
}

/// What earlier steps defined: `$names`, labels, measure names.
#[derive(Default)]
struct Seen {
    bound: HashSet<String>,
    /// label → (step index, line, step kind)
    labels: HashMap<String, (usize, usize, &'static str)>,
    /// measure name → step index
    measures: HashMap<String, usize>,
}

struct Parser<'a> {
    file: String,
    text: &'a str,
}

impl Parser<'_> {
    fn line_of(&self, offset: usize) -> usize {
        self.text[..offset.min(self.text.len())].matches('\n').count() + 1
    }

    fn error<T>(&self, at: &Spanned<T>, key: &str, message: String) -> ScenarioError {
        self.error_at(at.span(), Some(key), message)
    }

    /// An error at a span; without a key, the key is the one written on that line.
    fn error_at(&self, span: Range<usize>, key: Option<&str>, message: String) -> ScenarioError {
        let line = self.line_of(span.start);
        let key = key.map(str::to_string).unwrap_or_else(|| {
            let text = self.text.lines().nth(line - 1).unwrap_or("");
            text.split_once('=').map(|(k, _)| k.trim().to_string()).unwrap_or_else(|| text.trim().to_string())
        });
        ScenarioError::Invalid { file: self.file.clone(), line, key, message }
    }

    fn step(&self, index: usize, raw: &Spanned<RawStep>, seen: &mut Seen) -> Result<Step, ScenarioError> {
        let s = raw.get_ref();
        let bound = &seen.bound;
        let kinds: Vec<(&'static str, &Spanned<String>)> =
            [&s.run, &s.runbook, &s.mc, &s.tree, &s.wait, &s.fault, &s.hold, &s.bind, &s.measure]
                .into_iter()
                .zip(KINDS)
                .filter_map(|(value, kind)| value.as_ref().map(|v| (kind, v)))
                .collect();
        let (kind, value) = match kinds.as_slice() {
            [one] => *one,
            [] => {
                return Err(self.error(
                    raw,
                    "[[step]]",
                    format!("step {index} has no kind: give one of {}", KINDS.join(", ")),
                ));
            }
            [_, (second, at), ..] => {
                return Err(self.error(
                    at,
                    second,
                    format!("step {index} has two kinds: one of {} per step", KINDS.join(", ")),
                ));
            }
        };

        // the keys each kind takes besides its own (`label` goes with every kind)
        let allowed: &[&str] = match kind {
            "run" => &["host", "snapshot", "expect"],
            "runbook" => &["snapshot", "expect"],
            "tree" => &["snapshot", "expect"],
            "wait" => &["path", "count", "host", "port", "mode", "send", "until", "timeout"],
            "fault" => &["host", "hosts", "from", "port", "signal", "path"],
            "mc" => &["host", "port", "snapshot", "expect"],
            "bind" => &["as", "host"],
            "measure" => &["from", "to", "expect"],
            _ => &[],
        };
        let present: [(&str, Option<Range<usize>>); 15] = [
            ("host", s.host.as_ref().map(Spanned::span)),
            ("hosts", s.hosts.as_ref().map(Spanned::span)),
            ("from", s.from.as_ref().map(Spanned::span)),
            ("to", s.to.as_ref().map(Spanned::span)),
            ("mode", s.mode.as_ref().map(Spanned::span)),
            ("send", s.send.as_ref().map(Spanned::span)),
            ("until", s.until.as_ref().map(Spanned::span)),
            ("port", s.port.as_ref().map(Spanned::span)),
            ("signal", s.signal.as_ref().map(Spanned::span)),
            ("path", s.path.as_ref().map(Spanned::span)),
            ("count", s.count.as_ref().map(Spanned::span)),
            ("timeout", s.timeout.as_ref().map(Spanned::span)),
            ("as", s.as_.as_ref().map(Spanned::span)),
            ("snapshot", s.snapshot.as_ref().map(Spanned::span)),
            ("expect", s.expect.as_ref().map(Spanned::span)),
        ];
        for (key, span) in present {
            if let Some(span) = span {
                if !allowed.contains(&key) {
                    let takes = if allowed.is_empty() { "nothing else".to_string() } else { allowed.join(", ") };
                    return Err(self.error_at(
                        span,
                        Some(key),
                        format!("a `{kind}` step does not take `{key}` (it takes {takes})"),
                    ));
                }
            }
        }

        // which keys of `expect` each kind takes
        let expect = s.expect.as_ref();
        if let Some(expect) = expect {
            let e = expect.get_ref();
            // each key, where it is written, and the step kinds that take it
            let given: [(&str, Option<Range<usize>>, KindList); 5] = [
                ("exit", e.exit.map(|_| expect.span()), &["run"]),
                ("contains", e.contains.as_ref().map(|_| expect.span()), &["run", "runbook", "mc", "tree"]),
                ("same_sessions", e.same_sessions.as_ref().map(Spanned::span), &["tree"]),
                ("min", e.min.as_ref().map(Spanned::span), &["measure"]),
                ("max", e.max.as_ref().map(Spanned::span), &["measure"]),
            ];
            for (key, span, kinds) in given {
                if let Some(span) = span {
                    if !kinds.contains(&kind) {
                        let message = if key == "exit" {
                            format!("a `{kind}` step has no exit status")
                        } else {
                            format!("a `{kind}` step does not take `expect.{key}` (only {})", kinds.join(", "))
                        };
                        return Err(self.error_at(span, Some(&format!("expect.{key}")), message));
                    }
                }
            }
        }

        let action = match kind {
            "run" => {
                let host = match &s.host {
                    Some(h) => self.host(h, bound)?,
                    None => Template("arcus".into()),
                };
                Action::Run { command: self.template(value, "run", bound)?, host }
            }
            "runbook" => Action::Runbook(
                RunbookStep::parse(value.get_ref()).map_err(|e| self.error(value, "runbook", format!("{e:#}")))?,
            ),
            "tree" => {
                let same_sessions = match expect.and_then(|e| e.get_ref().same_sessions.as_ref()) {
                    Some(label) => {
                        let (step, _, of) = self.label_ref(label, "expect.same_sessions", seen)?;
                        if of != "tree" {
                            return Err(self.error(
                                label,
                                "expect.same_sessions",
                                format!(
                                    "{:?} labels step {step}, a `{of}` step: name an earlier tree step",
                                    label.get_ref()
                                ),
                            ));
                        }
                        Some(label.get_ref().clone())
                    }
                    None => None,
                };
                Action::Tree { path: self.znode(value, "tree", bound)?, same_sessions }
            }
            "wait" => {
                let timeout = s.timeout.as_ref().map(|t| self.duration(t, "timeout")).transpose()?;
                let cond = value.get_ref().as_str();
                // the keys each condition takes
                let takes: &[&str] = match cond {
                    "zk-quorum" => &[],
                    "zk-new-leader" => &["host"],
                    "children" => &["path", "count"],
                    "zk-mode" => &["host", "mode"],
                    "node-exited" => &["host", "port"],
                    "reply" => &["host", "port", "send", "until"],
                    other => {
                        return Err(self.error(
                            value,
                            "wait",
                            format!(
                                "unknown condition {other:?}: use zk-quorum, zk-new-leader, children, zk-mode, node-exited \
                                 or reply"
                            ),
                        ));
                    }
                };
                let given = [
                    ("path", s.path.as_ref().map(Spanned::span)),
                    ("count", s.count.as_ref().map(Spanned::span)),
                    ("host", s.host.as_ref().map(Spanned::span)),
                    ("port", s.port.as_ref().map(Spanned::span)),
                    ("mode", s.mode.as_ref().map(Spanned::span)),
                    ("send", s.send.as_ref().map(Spanned::span)),
                    ("until", s.until.as_ref().map(Spanned::span)),
                ];
                for (key, span) in given {
                    match span {
                        Some(span) if !takes.contains(&key) => {
                            return Err(self.error_at(span, Some(key), format!("`{cond}` does not take `{key}`")));
                        }
                        None if takes.contains(&key) => {
                            return Err(self.error(value, "wait", format!("`{cond}` needs `{key}`")));
                        }
                        _ => {}
                    }
                }
                // every key the condition takes is present from here on
                let condition = match cond {
                    "zk-quorum" => Condition::ZkQuorum,
                    "zk-new-leader" => {
                        Condition::ZkNewLeader { old: self.host(s.host.as_ref().expect("checked"), bound)? }
                    }
                    "children" => Condition::Children {
                        path: self.template(s.path.as_ref().expect("checked"), "path", bound)?,
                        count: *s.count.as_ref().expect("checked").get_ref(),
                    },
                    "zk-mode" => {
                        let mode = s.mode.as_ref().expect("checked");
                        if !["leader", "follower", "standalone"].contains(&mode.get_ref().as_str()) {
                            return Err(self.error(
                                mode,
                                "mode",
                                format!("unknown mode {:?}: use leader, follower or standalone", mode.get_ref()),
                            ));
                        }
                        Condition::ZkMode {
                            host: self.host(s.host.as_ref().expect("checked"), bound)?,
                            mode: mode.get_ref().clone(),
                        }
                    }
                    "reply" => Condition::Reply {
                        host: self.host(s.host.as_ref().expect("checked"), bound)?,
                        port: *s.port.as_ref().expect("checked").get_ref(),
                        send: self.template(s.send.as_ref().expect("checked"), "send", bound)?,
                        until: s.until.as_ref().expect("checked").get_ref().clone(),
                    },
                    _ => Condition::NodeExited {
                        host: self.host(s.host.as_ref().expect("checked"), bound)?,
                        port: *s.port.as_ref().expect("checked").get_ref(),
                    },
                };
                Action::Wait { condition, timeout }
            }
            "fault" => {
                let verb = value.get_ref().as_str();
                // the keys each verb needs, and those it may have
                let (needs, may): (&[&str], &[&str]) = match verb {
                    "kill-zk" | "stop-zk" | "start-zk" | "kill-host" | "stop-host" | "start-host" | "pause-host"
                    | "resume-host" | "isolate" | "cut-zk-ports" => (&["host"], &[]),
                    "kill-node" => (&["host", "port"], &["signal"]),
                    "partition" => (&["hosts", "from"], &[]),
                    "heal" => (&[], &[]),
                    "delete-znode" => (&["path"], &[]),
                    other => {
                        return Err(self.error(
                            value,
                            "fault",
                            format!("unknown fault {other:?}: use {}", FAULTS.join(", ")),
                        ));
                    }
                };
                let given = [
                    ("host", s.host.as_ref().map(Spanned::span)),
                    ("hosts", s.hosts.as_ref().map(Spanned::span)),
                    ("from", s.from.as_ref().map(Spanned::span)),
                    ("port", s.port.as_ref().map(Spanned::span)),
                    ("signal", s.signal.as_ref().map(Spanned::span)),
                    ("path", s.path.as_ref().map(Spanned::span)),
                ];
                // a stray key first: it is often the needed one misspelt or misplaced
                for (key, span) in &given {
                    if let Some(span) = span {
                        if !needs.contains(key) && !may.contains(key) {
                            let message = format!("`{verb}` does not take `{key}`");
                            return Err(self.error_at(span.clone(), Some(key), message));
                        }
                    }
                }
                if let Some((key, _)) = given.iter().find(|(key, span)| span.is_none() && needs.contains(key)) {
                    return Err(self.error(value, "fault", format!("`{verb}` needs `{key}`")));
                }
                // every key the verb needs is present from here on
                let host = || self.host(s.host.as_ref().expect("checked"), bound);
                Action::Fault(match verb {
                    "kill-zk" => Fault::KillZk { host: host()? },
                    "stop-zk" => Fault::StopZk { host: host()? },
                    "start-zk" => Fault::StartZk { host: host()? },
                    "kill-host" => Fault::KillHost { host: host()? },
                    "stop-host" => Fault::StopHost { host: host()? },
                    "start-host" => Fault::StartHost { host: host()? },
                    "pause-host" => Fault::PauseHost { host: host()? },
                    "resume-host" => Fault::ResumeHost { host: host()? },
                    "isolate" => Fault::Isolate { host: host()? },
                    "cut-zk-ports" => Fault::CutZkPorts { host: host()? },
                    "heal" => Fault::Heal,
                    "kill-node" => {
                        let signal = match &s.signal {
                            Some(sig) => Signal::parse(sig.get_ref()).map_err(|e| self.error(sig, "signal", e))?,
                            None => Signal::Kill,
                        };
                        Fault::KillNode { host: host()?, port: *s.port.as_ref().expect("checked").get_ref(), signal }
                    }
                    "partition" => self.partition(s, bound)?,
                    _ => Fault::DeleteZnode { path: self.znode(s.path.as_ref().expect("checked"), "path", bound)? },
                })
            }
            "mc" => {
                let host = s.host.as_ref().ok_or_else(|| self.error(value, "mc", "`mc` needs `host`".into()))?;
                let port = s.port.as_ref().ok_or_else(|| self.error(value, "mc", "`mc` needs `port`".into()))?;
                Action::Mc {
                    host: self.host(host, bound)?,
                    port: *port.get_ref(),
                    lines: self.template(value, "mc", bound)?,
                }
            }
            "hold" => Action::Hold(self.duration(value, "hold")?),
            "measure" => self.measure(index, value, s, seen)?,
            "bind" => {
                let what = match value.get_ref().as_str() {
                    "zk-leader" => Binding::ZkLeader,
                    "zk-follower" => Binding::ZkFollower,
                    "ip" => {
                        let host =
                            s.host.as_ref().ok_or_else(|| self.error(value, "bind", "`ip` needs `host`".into()))?;
                        Binding::Ip { host: self.host(host, bound)? }
                    }
                    other => {
                        return Err(self.error(
                            value,
                            "bind",
                            format!("unknown value {other:?} to bind: use zk-leader, zk-follower or ip"),
                        ))
                    }
                };
                if let (Some(host), false) = (&s.host, matches!(what, Binding::Ip { .. })) {
                    let message = format!("`{}` does not take `host`", value.get_ref());
                    return Err(self.error(host, "host", message));
                }
                let name =
                    s.as_.as_ref().ok_or_else(|| self.error(value, "bind", "`bind` needs `as = \"<name>\"`".into()))?;
                if !is_name(name.get_ref()) {
                    return Err(self.error(
                        name,
                        "as",
                        format!("{:?} is not a name: letters, digits and _ (not first)", name.get_ref()),
                    ));
                }
                seen.bound.insert(name.get_ref().clone());
                Action::Bind { what, name: name.get_ref().clone() }
            }
            _ => unreachable!("KINDS is closed"),
        };

        // the output checks; `same_sessions` and a measure's bounds live in the action
        let (exit, contains) = match expect.map(Spanned::get_ref) {
            Some(e) => (
                e.exit,
                match &e.contains {
                    None => Vec::new(),
                    Some(OneOrMany::One(one)) => vec![one.clone()],
                    Some(OneOrMany::Many(many)) => many.clone(),
                },
            ),
            None => (None, Vec::new()),
        };
        let on_output = exit.is_some() || !contains.is_empty();
        let check = match (&s.snapshot, on_output) {
            (Some(snap), true) => {
                return Err(self.error(snap, "snapshot", "a step has `snapshot = true` or `expect`, not both".into()))
            }
            (Some(snap), false) if !*snap.get_ref() => {
                return Err(self.error(
                    snap,
                    "snapshot",
                    "`snapshot = false`: leave it out and give `expect` instead".into(),
                ));
            }
            (Some(_), false) => Check::Snapshot,
            (None, true) => Check::Expect(Expect { exit, contains }),
            (None, false) => {
                if let Some(expect) = expect {
                    let e = expect.get_ref();
                    if e.same_sessions.is_none() && e.min.is_none() && e.max.is_none() {
                        return Err(self.error(
                            expect,
                            "expect",
                            "an empty expectation: give `exit` or `contains`".into(),
                        ));
                    }
                }
                let relation = matches!(&action, Action::Tree { same_sessions: Some(_), .. });
                if matches!(kind, "run" | "mc" | "tree") && !relation {
                    return Err(self.error(
                        value,
                        kind,
                        format!("a `{kind}` step needs `snapshot = true` or an `expect`"),
                    ));
                }
                Check::Done
            }
        };

        // a step's own label is for later steps only
        let label = match &s.label {
            Some(label) => {
                let name = label.get_ref();
                if !is_label(name) {
                    return Err(self.error(
                        label,
                        "label",
                        format!("{name:?} is not a label: letters, digits, - and _, a letter first"),
                    ));
                }
                if let Some((step, line, _)) = seen.labels.get(name) {
                    return Err(self.error(
                        label,
                        "label",
                        format!("label {name:?} is defined twice: step {step} (line {line}) has it already"),
                    ));
                }
                seen.labels.insert(name.clone(), (index, self.line_of(raw.span().start), kind));
                Some(name.clone())
            }
            None => None,
        };
        Ok(Step { index, line: self.line_of(raw.span().start), label, action, check })
    }

    /// `partition`: two lists of hosts (`hosts`, `from`), neither empty, no host on both sides.
    fn partition(&self, s: &RawStep, bound: &HashSet<String>) -> Result<Fault, ScenarioError> {
        let hosts_at = s.hosts.as_ref().expect("checked");
        let from_at = s.from.as_ref().expect("checked");
        let OneOrMany::Many(from) = from_at.get_ref() else {
            return Err(self.error(
                from_at,
                "from",
                "`from` of a partition is a list of hosts: [\"memcached-1\"]".into(),
            ));
        };
        let mut sides = Vec::new();
        for (key, names, span) in [("hosts", hosts_at.get_ref(), hosts_at.span()), ("from", from, from_at.span())] {
            if names.is_empty() {
                return Err(self.error_at(
                    span,
                    Some(key),
                    format!("`{key}` is empty: a partition has a host on either side"),
                ));
            }
            let side =
                names.iter().map(|n| self.host_at(n, span.clone(), key, bound)).collect::<Result<Vec<_>, _>>()?;
            sides.push(side);
        }
        let from = sides.pop().expect("two sides");
        let hosts = sides.pop().expect("two sides");
        if let Some(twice) = from.iter().find(|f| hosts.contains(f)) {
            return Err(self.error(from_at, "from", format!("{:?} is on both sides of the partition", twice.0)));
        }
        Ok(Fault::Partition { hosts, from })
    }

    /// `measure`: a name of its own, `from` and `to` labels of earlier steps (`to` the later one),
    /// optional bounds `expect.min` ≤ `expect.max`.
    fn measure(
        &self,
        index: usize,
        value: &Spanned<String>,
        s: &RawStep,
        seen: &mut Seen,
    ) -> Result<Action, ScenarioError> {
        let name = value.get_ref().trim();
        if name.is_empty() {
            return Err(self.error(value, "measure", "a measure needs a name: measure = \"removal delay\"".into()));
        }
        if let Some(step) = seen.measures.get(name) {
            return Err(self.error(value, "measure", format!("the measure {name:?} is taken already by step {step}")));
        }
        let from_at = s.from.as_ref().ok_or_else(|| self.error(value, "measure", "`measure` needs `from`".into()))?;
        let to_at = s.to.as_ref().ok_or_else(|| self.error(value, "measure", "`measure` needs `to`".into()))?;
        let OneOrMany::One(from) = from_at.get_ref() else {
            return Err(self.error(from_at, "from", "`from` of a measure is one label".into()));
        };
        let (from_step, ..) = self.label_at(from, from_at.span(), "from", seen)?;
        let (to_step, ..) = self.label_ref(to_at, "to", seen)?;
        if to_step <= from_step {
            return Err(self.error(
                to_at,
                "to",
                format!(
                    "`to` ({:?}, step {to_step}) must be a later step than `from` ({from:?}, step {from_step})",
                    to_at.get_ref()
                ),
            ));
        }
        let bound = |key: &str| {
            let e = s.expect.as_ref()?.get_ref();
            let at = if key == "min" { e.min.as_ref() } else { e.max.as_ref() }?;
            Some(self.duration(at, &format!("expect.{key}")).map(|d| (d, at)))
        };
        let min = bound("min").transpose()?;
        let max = bound("max").transpose()?;
        if let (Some((min, at)), Some((max, _))) = (min, max) {
            if min > max {
                return Err(self.error(
                    at,
                    "expect.min",
                    format!("the bounds are reversed: min {min:?} > max {max:?}"),
                ));
            }
        }
        seen.measures.insert(name.to_string(), index);
        Ok(Action::Measure {
            name: name.to_string(),
            from: from.clone(),
            to: to_at.get_ref().clone(),
            min: min.map(|(d, _)| d),
            max: max.map(|(d, _)| d),
        })
    }

    /// An earlier step's label: (its step index, line, kind).
    fn label_ref(
        &self,
        at: &Spanned<String>,
        key: &str,
        seen: &Seen,
    ) -> Result<(usize, usize, &'static str), ScenarioError> {
        self.label_at(at.get_ref(), at.span(), key, seen)
    }

    fn label_at(
        &self,
        label: &str,
        span: Range<usize>,
        key: &str,
        seen: &Seen,
    ) -> Result<(usize, usize, &'static str), ScenarioError> {
        seen.labels.get(label).copied().ok_or_else(|| {
            let mut known: Vec<&str> = seen.labels.keys().map(String::as_str).collect();
            known.sort();
            let known = if known.is_empty() {
                "no earlier step has a label".to_string()
            } else {
                format!("the labels so far: {}", known.join(", "))
            };
            self.error_at(span, Some(key), format!("unknown label {label:?} ({known})"))
        })
    }

    fn template(&self, value: &Spanned<String>, key: &str, bound: &HashSet<String>) -> Result<Template, ScenarioError> {
        self.template_at(value.get_ref(), value.span(), key, bound)
    }

    fn template_at(
        &self,
        text: &str,
        span: Range<usize>,
        key: &str,
        bound: &HashSet<String>,
    ) -> Result<Template, ScenarioError> {
        for piece in template_pieces(text) {
            if let Piece::Name(name) = piece {
                if name.is_empty() {
                    return Err(self.error_at(
                        span,
                        Some(key),
                        "a `$` without a name (write `$$` for a literal `$`)".into(),
                    ));
                }
                if !bound.contains(name) {
                    return Err(self.error_at(
                        span,
                        Some(key),
                        format!("${name} is not bound by an earlier `bind` step"),
                    ));
                }
            }
        }
        Ok(Template(text.to_string()))
    }

    fn znode(&self, value: &Spanned<String>, key: &str, bound: &HashSet<String>) -> Result<Template, ScenarioError> {
        let path = self.template(value, key, bound)?;
        if !path.0.starts_with('/') {
            return Err(self.error(value, key, format!("{:?} is not a znode path (it must start with /)", path.0)));
        }
        Ok(path)
    }

    fn host(&self, value: &Spanned<String>, bound: &HashSet<String>) -> Result<Template, ScenarioError> {
        self.host_at(value.get_ref(), value.span(), "host", bound)
    }

    /// A host name or a `$name` bound to one.
    fn host_at(
        &self,
        text: &str,
        span: Range<usize>,
        key: &str,
        bound: &HashSet<String>,
    ) -> Result<Template, ScenarioError> {
        let template = self.template_at(text, span.clone(), key, bound)?;
        let is_reference = template_pieces(&template.0).iter().any(|p| matches!(p, Piece::Name(_)));
        if !is_reference && !HOSTNAMES.contains(&template.0.as_str()) {
            return Err(self.error_at(
                span,
                Some(key),
                format!("unknown host {:?}: the hosts are {}", template.0, HOSTNAMES.join(", ")),
            ));
        }
        Ok(template)
    }

    fn duration(&self, value: &Spanned<String>, key: &str) -> Result<Duration, ScenarioError> {
        parse_duration(value.get_ref()).map_err(|e| self.error(value, key, e))
    }
}

/// `250ms`, `3s`, `1.5s`, `2m`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("bad duration {text:?}: write a number and ms, s or m (250ms, 3s, 1.5s, 2m)");
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).ok_or_else(bad)?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().map_err(|_| bad())?;
    let seconds = match unit {
        "ms" => number / 1000.0,
        "s" => number,
        "m" => number * 60.0,
        _ => return Err(bad()),
    };
    Ok(Duration::from_secs_f64(seconds))
}

/// A label: letters, digits, `-` and `_`, a letter first.
fn is_label(label: &str) -> bool {
    let mut chars = label.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A piece of a template: literal text or a `$name` (`$$` is the text `$`).
#[derive(Debug, PartialEq, Eq)]
pub enum Piece<'a> {
    Text(&'a str),
    Name(&'a str),
}

pub fn template_pieces(text: &str) -> Vec<Piece<'_>> {
    let mut pieces = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        if at > 0 {
            pieces.push(Piece::Text(&rest[..at]));
        }
        let after = &rest[at + 1..];
        if let Some(stripped) = after.strip_prefix('$') {
            pieces.push(Piece::Text("$"));
            rest = stripped;
            continue;
        }
        let end = after.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(after.len());
        pieces.push(Piece::Name(&after[..end]));
        rest = &after[end..];
    }
    if !rest.is_empty() {
        pieces.push(Piece::Text(rest));
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Scenario, ScenarioError> {
        parse_str(Path::new("scenarios/x.toml"), text)
    }

    /// The error's `file:line: key` prefix and message.
    fn error(text: &str) -> (String, String) {
        match parse(text).expect_err("parsed") {
            ScenarioError::Invalid { file, line, key, message } => (format!("{file}:{line}: {key}"), message),
            other => panic!("{other}"),
        }
    }

    const HEAD: &str = "title = \"t\"\nsetup = \"cloud\"\n\n";

    #[test]
    fn a_good_file_parses_into_the_model() {
        let text = format!(
            "{HEAD}[[step]]\nbind = \"zk-leader\"\nas = \"leader\"\n\n[[step]]\nfault = \"kill-zk\"\nhost = \"$leader\"\n\n\
             [[step]]\nwait = \"zk-quorum\"\n\n[[step]]\ntree = \"/arcus/cache_list\"\nsnapshot = true\n\n\
             [[step]]\nrun = \"./arcus.sh memcached listall\"\nexpect.exit = 0\nexpect.contains = \"OK\"\n\n\
             [[step]]\nfault = \"kill-node\"\nhost = \"memcached-2\"\nport = 11211\nsignal = \"SIGKILL\"\n\n\
             [[step]]\nhold = \"1.5s\"\n\n[[step]]\nwait = \"children\"\npath = \"/arcus\"\ncount = 3\ntimeout = \"20s\"\n"
        );
        let s = parse(&text).unwrap();
        assert_eq!(s.name, "x");
        assert_eq!(s.setup, Setup::Cloud);
        assert_eq!(s.steps.len(), 8);
        assert_eq!(s.steps[1].line, 8);
        assert!(matches!(&s.steps[1].action, Action::Fault(Fault::KillZk { host }) if host.0 == "$leader"));
        assert_eq!(s.steps[3].check, Check::Snapshot);
        assert_eq!(s.steps[4].check, Check::Expect(Expect { exit: Some(0), contains: vec!["OK".into()] }));
        assert!(matches!(&s.steps[4].action, Action::Run { host, .. } if host.0 == "arcus"));
        assert!(matches!(s.steps[5].action, Action::Fault(Fault::KillNode { port: 11211, signal: Signal::Kill, .. })));
        assert!(matches!(s.steps[6].action, Action::Hold(d) if d == Duration::from_millis(1500)));
        assert!(
            matches!(&s.steps[7].action, Action::Wait { condition: Condition::Children { count: 3, .. }, timeout: Some(t) } if t.as_secs() == 20)
        );
    }

    #[test]
    fn an_unknown_key_names_file_line_and_key() {
        let (at, message) = error(&format!("{HEAD}[[step]]\nrun = \"ls\"\nsnapshot = true\nsleep = \"3s\"\n"));
        assert_eq!(at, "scenarios/x.toml:7: sleep");
        assert!(message.contains("unknown field `sleep`"), "{message}");
        let (at, _) = error("title = \"t\"\nsetup = \"zk\"\nowner = \"me\"\n");
        assert_eq!(at, "scenarios/x.toml:3: owner");
        let (at, message) = error(&format!("{HEAD}[[step]]\nrun = \"ls\"\nexpect.exot = 0\n"));
        assert_eq!(at, "scenarios/x.toml:6: expect.exot");
        assert!(message.contains("unknown field `exot`"), "{message}");
    }

    #[test]
    fn a_key_of_another_step_kind_is_refused() {
        let (at, message) = error(&format!("{HEAD}[[step]]\nhold = \"1s\"\nhost = \"memcached-1\"\n"));
        assert_eq!(at, "scenarios/x.toml:6: host");
        assert!(message.contains("a `hold` step does not take `host`"), "{message}");
    }

    #[test]
    fn a_step_without_a_kind_or_with_two_is_refused() {
        let (at, message) = error(&format!("{HEAD}[[step]]\nsnapshot = true\n"));
        assert_eq!(at, "scenarios/x.toml:4: [[step]]");
        assert!(message.contains("has no kind"), "{message}");
        let (at, message) = error(&format!("{HEAD}[[step]]\nrun = \"ls\"\ntree = \"/arcus\"\n"));
        assert_eq!(at, "scenarios/x.toml:6: tree");
        assert!(message.contains("two kinds"), "{message}");
    }

    #[test]
    fn unknown_verbs_conditions_setups_and_runbook_steps_are_refused() {
        let (at, message) = error(&format!("{HEAD}[[step]]\nfault = \"nuke\"\nhost = \"memcached-1\"\n"));
        assert_eq!(at, "scenarios/x.toml:5: fault");
        assert!(message.contains("unknown fault \"nuke\""), "{message}");
        let (at, _) = error(&format!("{HEAD}[[step]]\nwait = \"sunrise\"\n"));
        assert_eq!(at, "scenarios/x.toml:5: wait");
        let (at, _) = error("title = \"t\"\nsetup = \"cluod\"\n");
        assert_eq!(at, "scenarios/x.toml:2: setup");
        let (at, message) = error(&format!("{HEAD}[[step]]\nrunbook = \"deploi\"\n"));
        assert_eq!(at, "scenarios/x.toml:5: runbook");
        assert!(message.contains("zk-init"), "{message}");
        let (at, _) = error(&format!("{HEAD}[[step]]\nbind = \"weather\"\nas = \"w\"\n"));
        assert_eq!(at, "scenarios/x.toml:5: bind");
    }

    #[test]
    fn an_unknown_host_is_refused() {
        let (at, message) = error(&format!("{HEAD}[[step]]\nrun = \"ls\"\nhost = \"memcached-4\"\nsnapshot = true\n"));
        assert_eq!(at, "scenarios/x.toml:6: host");
        assert!(message.contains("unknown host \"memcached-4\""), "{message}");
    }

    #[test]
    fn a_bad_duration_is_refused() {
        for bad in ["3", "3 s", "s", "3h", "1.2.3s", ""] {
            let (at, message) = error(&format!("{HEAD}[[step]]\nhold = \"{bad}\"\n"));
            assert_eq!(at, "scenarios/x.toml:5: hold", "{bad:?}");
            assert!(message.contains("bad duration"), "{message}");
        }
        let (at, _) = error(&format!("{HEAD}[[step]]\nwait = \"zk-quorum\"\ntimeout = \"soon\"\n"));
        assert_eq!(at, "scenarios/x.toml:6: timeout");
    }

    #[test]
    fn an_unbound_name_is_refused_even_when_bound_later() {
        let text = format!(
            "{HEAD}[[step]]\nfault = \"kill-zk\"\nhost = \"$leader\"\n\n[[step]]\nbind = \"zk-leader\"\nas = \"leader\"\n"
        );
        let (at, message) = error(&text);
        assert_eq!(at, "scenarios/x.toml:6: host");
        assert!(message.contains("$leader is not bound"), "{message}");
        let (at, _) = error(&format!("{HEAD}[[step]]\nrun = \"echo $HOME\"\nsnapshot = true\n"));
        assert_eq!(at, "scenarios/x.toml:5: run");
        assert!(parse(&format!("{HEAD}[[step]]\nrun = \"echo $$HOME\"\nsnapshot = true\n")).is_ok());
    }

    #[test]
    fn observations_need_a_check_and_actions_take_none() {
        let (at, message) = error(&format!("{HEAD}[[step]]\nrun = \"ls\"\n"));
        assert_eq!(at, "scenarios/x.toml:5: run");
        assert!(message.contains("needs `snapshot = true` or an `expect`"), "{message}");
        let (at, _) = error(&format!("{HEAD}[[step]]\nhold = \"1s\"\nsnapshot = true\n"));
        assert_eq!(at, "scenarios/x.toml:6: snapshot");
        let (at, _) = error(&format!("{HEAD}[[step]]\ntree = \"/arcus\"\nexpect.exit = 0\n"));
        assert_eq!(at, "scenarios/x.toml:6: expect.exit");
    }

    #[test]
    fn each_wait_condition_takes_its_own_keys() {
        let ok = format!(
            "{HEAD}[[step]]\nbind = \"zk-follower\"\nas = \"f\"\n\n[[step]]\nwait = \"zk-mode\"\nhost = \"$f\"\nmode = \"follower\"\n\n\
             [[step]]\nwait = \"node-exited\"\nhost = \"memcached-1\"\nport = 11211\n"
        );
        let s = parse(&ok).unwrap();
        assert!(
            matches!(&s.steps[1].action, Action::Wait { condition: Condition::ZkMode { mode, .. }, .. } if mode == "follower")
        );
        assert!(matches!(
            &s.steps[2].action,
            Action::Wait { condition: Condition::NodeExited { port: 11211, .. }, .. }
        ));
        let (at, message) = error(&format!("{HEAD}[[step]]\nwait = \"zk-mode\"\nhost = \"memcached-1\"\n"));
        assert_eq!(at, "scenarios/x.toml:5: wait");
        assert!(message.contains("`zk-mode` needs `mode`"), "{message}");
        let (at, _) = error(&format!("{HEAD}[[step]]\nwait = \"zk-mode\"\nhost = \"memcached-1\"\nmode = \"boss\"\n"));
        assert_eq!(at, "scenarios/x.toml:7: mode");
        let (at, message) = error(&format!("{HEAD}[[step]]\nwait = \"zk-quorum\"\npath = \"/arcus\"\n"));
        assert_eq!(at, "scenarios/x.toml:6: path");
        assert!(message.contains("`zk-quorum` does not take `path`"), "{message}");
        let new_leader = format!(
            "{HEAD}[[step]]\nbind = \"zk-leader\"\nas = \"old\"\n\n[[step]]\nwait = \"zk-new-leader\"\nhost = \"$old\"\n"
        );
        assert!(matches!(
            &parse(&new_leader).unwrap().steps[1].action,
            Action::Wait { condition: Condition::ZkNewLeader { old }, .. } if old.0 == "$old"
        ));
        let (at, message) = error(&format!("{HEAD}[[step]]\nwait = \"zk-new-leader\"\n"));
        assert_eq!(at, "scenarios/x.toml:5: wait");
        assert!(message.contains("`zk-new-leader` needs `host`"), "{message}");
        let (at, _) = error(&format!("{HEAD}[[step]]\nwait = \"node-exited\"\nhost = \"memcached-9\"\nport = 1\n"));
        assert_eq!(at, "scenarios/x.toml:6: host");
    }

    #[test]
    fn each_fault_verb_takes_its_own_keys() {
        let ok = format!(
            "{HEAD}[[step]]\nfault = \"delete-znode\"\npath = \"/arcus/cache_list/x\"\n\n\
             [[step]]\nmc = \"ready\\nversion\"\nhost = \"memcached-1\"\nport = 11211\nsnapshot = true\n"
        );
        let s = parse(&ok).unwrap();
        assert!(
            matches!(&s.steps[0].action, Action::Fault(Fault::DeleteZnode { path }) if path.0 == "/arcus/cache_list/x")
        );
        assert!(matches!(&s.steps[1].action, Action::Mc { port: 11211, lines, .. } if lines.0 == "ready\nversion"));
        let (at, message) = error(&format!("{HEAD}[[step]]\nfault = \"delete-znode\"\nhost = \"memcached-1\"\n"));
        assert_eq!(at, "scenarios/x.toml:6: host");
        assert!(message.contains("`delete-znode` does not take `host`"), "{message}");
        let (at, message) = error(&format!("{HEAD}[[step]]\nfault = \"kill-node\"\nhost = \"memcached-1\"\n"));
        assert_eq!(at, "scenarios/x.toml:5: fault");
        assert!(message.contains("`kill-node` needs `port`"), "{message}");
        let s = parse(&format!("{HEAD}[[step]]\nfault = \"kill-host\"\nhost = \"memcached-3\"\n\n[[step]]\nfault = \"start-host\"\nhost = \"memcached-3\"\n")).unwrap();
        assert!(matches!(&s.steps[0].action, Action::Fault(Fault::KillHost { host }) if host.0 == "memcached-3"));
        assert!(matches!(&s.steps[1].action, Action::Fault(Fault::StartHost { .. })));
        let (at, _) = error(&format!("{HEAD}[[step]]\nfault = \"kill-host\"\nhost = \"memcached-3\"\nport = 1\n"));
        assert_eq!(at, "scenarios/x.toml:7: port");
        let (at, _) = error(&format!("{HEAD}[[step]]\nfault = \"delete-znode\"\npath = \"arcus\"\n"));
        assert_eq!(at, "scenarios/x.toml:6: path");
        let (at, message) =
            error(&format!("{HEAD}[[step]]\nmc = \"ready\"\nhost = \"memcached-1\"\nsnapshot = true\n"));
        assert_eq!(at, "scenarios/x.toml:5: mc");
        assert!(message.contains("`mc` needs `port`"), "{message}");
    }

    #[test]
    fn reply_waits_and_ip_bindings_parse() {
        let ok = format!(
            "{HEAD}[[step]]\nbind = \"ip\"\nhost = \"memcached-1\"\nas = \"m1\"\n\n\
             [[step]]\nfault = \"delete-znode\"\npath = \"/arcus/cache_list/svc/$m1:11211-memcached-1\"\n\n\
             [[step]]\nwait = \"reply\"\nhost = \"memcached-1\"\nport = 11211\nsend = \"ready\"\nuntil = \"NOT_READY\"\n"
        );
        let s = parse(&ok).unwrap();
        assert!(matches!(&s.steps[0].action, Action::Bind { what: Binding::Ip { .. }, name } if name == "m1"));
        assert!(
            matches!(&s.steps[2].action, Action::Wait { condition: Condition::Reply { until, .. }, .. } if until == "NOT_READY")
        );
        let (at, _) = error(&format!("{HEAD}[[step]]\nbind = \"zk-leader\"\nhost = \"memcached-1\"\nas = \"l\"\n"));
        assert_eq!(at, "scenarios/x.toml:6: host");
        let (at, message) =
            error(&format!("{HEAD}[[step]]\nwait = \"reply\"\nhost = \"memcached-1\"\nport = 1\nsend = \"ready\"\n"));
        assert_eq!(at, "scenarios/x.toml:5: wait");
        assert!(message.contains("`reply` needs `until`"), "{message}");
    }

    #[test]
    fn host_and_network_fault_verbs_parse() {
        let ok = format!(
            "{HEAD}[[step]]\nfault = \"stop-zk\"\nhost = \"memcached-1\"\n\n[[step]]\nfault = \"start-zk\"\nhost = \"memcached-1\"\n\n\
             [[step]]\nfault = \"stop-host\"\nhost = \"memcached-2\"\n\n[[step]]\nfault = \"pause-host\"\nhost = \"memcached-2\"\n\n\
             [[step]]\nfault = \"resume-host\"\nhost = \"memcached-2\"\n\n\
             [[step]]\nfault = \"partition\"\nhosts = [\"memcached-3\"]\nfrom = [\"memcached-1\", \"arcus\"]\n\n\
             [[step]]\nfault = \"isolate\"\nhost = \"memcached-3\"\n\n[[step]]\nfault = \"cut-zk-ports\"\nhost = \"memcached-3\"\n\n\
             [[step]]\nfault = \"heal\"\n"
        );
        let s = parse(&ok).unwrap();
        let faults: Vec<&Fault> = s
            .steps
            .iter()
            .map(|step| match &step.action {
                Action::Fault(f) => f,
                other => panic!("{other:?}"),
            })
            .collect();
        assert!(matches!(faults[0], Fault::StopZk { host } if host.0 == "memcached-1"));
        assert!(matches!(faults[1], Fault::StartZk { .. }));
        assert!(matches!(faults[2], Fault::StopHost { .. }));
        assert!(matches!(faults[3], Fault::PauseHost { .. }));
        assert!(matches!(faults[4], Fault::ResumeHost { .. }));
        let t = |names: &[&str]| names.iter().map(|n| Template(n.to_string())).collect::<Vec<_>>();
        assert_eq!(*faults[5], Fault::Partition { hosts: t(&["memcached-3"]), from: t(&["memcached-1", "arcus"]) });
        assert!(matches!(faults[6], Fault::Isolate { host } if host.0 == "memcached-3"));
        assert!(matches!(faults[7], Fault::CutZkPorts { host } if host.0 == "memcached-3"));
        assert_eq!(*faults[8], Fault::Heal);
    }

    #[test]
    fn a_partition_takes_two_disjoint_lists_of_lab_hosts() {
        let step = |keys: &str| format!("{HEAD}[[step]]\nfault = \"partition\"\n{keys}");
        let (at, message) = error(&step("hosts = [\"memcached-3\"]\n"));
        assert_eq!(at, "scenarios/x.toml:5: fault");
        assert!(message.contains("`partition` needs `from`"), "{message}");
        let (at, message) = error(&step("hosts = [\"memcached-3\"]\nfrom = \"memcached-1\"\n"));
        assert_eq!(at, "scenarios/x.toml:7: from");
        assert!(message.contains("a list of hosts"), "{message}");
        let (at, message) = error(&step("hosts = []\nfrom = [\"memcached-1\"]\n"));
        assert_eq!(at, "scenarios/x.toml:6: hosts");
        assert!(message.contains("`hosts` is empty"), "{message}");
        let (at, message) = error(&step("hosts = [\"memcached-3\"]\nfrom = [\"memcached-1\", \"memcached-9\"]\n"));
        assert_eq!(at, "scenarios/x.toml:7: from");
        assert!(message.contains("unknown host \"memcached-9\""), "{message}");
        let (at, message) = error(&step("hosts = [\"memcached-3\"]\nfrom = [\"memcached-3\"]\n"));
        assert_eq!(at, "scenarios/x.toml:7: from");
        assert!(message.contains("\"memcached-3\" is on both sides"), "{message}");
        let (at, message) = error(&step("hosts = [\"$x\"]\nfrom = [\"memcached-3\"]\n"));
        assert_eq!(at, "scenarios/x.toml:6: hosts");
        assert!(message.contains("$x is not bound"), "{message}");
        let (at, message) = error(&format!("{HEAD}[[step]]\nfault = \"heal\"\nhost = \"memcached-1\"\n"));
        assert_eq!(at, "scenarios/x.toml:6: host");
        assert!(message.contains("`heal` does not take `host`"), "{message}");
        let (at, message) = error(&format!("{HEAD}[[step]]\nfault = \"isolate\"\nhosts = [\"memcached-1\"]\n"));
        assert_eq!(at, "scenarios/x.toml:6: hosts");
        assert!(message.contains("`isolate` does not take `hosts`"), "{message}");
        let (at, message) = error(&format!("{HEAD}[[step]]\nfault = \"cut-zk-ports\"\n"));
        assert_eq!(at, "scenarios/x.toml:5: fault");
        assert!(message.contains("`cut-zk-ports` needs `host`"), "{message}");
    }

    const KILL_AND_GONE: &str =
        "[[step]]\nfault = \"kill-node\"\nhost = \"memcached-2\"\nport = 11211\nlabel = \"killed\"\n\n\
                                 [[step]]\nwait = \"children\"\npath = \"/arcus\"\ncount = 5\nlabel = \"gone\"\n\n";

    #[test]
    fn a_measure_names_two_earlier_labels_and_optional_bounds() {
        let text = format!(
            "{HEAD}{KILL_AND_GONE}[[step]]\nmeasure = \"removal delay\"\nfrom = \"killed\"\nto = \"gone\"\n\
             expect.min = \"6s\"\nexpect.max = \"13s\"\n\n\
             [[step]]\nmeasure = \"unbounded\"\nfrom = \"killed\"\nto = \"gone\"\n"
        );
        let s = parse(&text).unwrap();
        assert_eq!(s.steps[0].label.as_deref(), Some("killed"));
        assert_eq!(s.steps[1].label.as_deref(), Some("gone"));
        assert!(matches!(
            &s.steps[2].action,
            Action::Measure { name, from, to, min: Some(min), max: Some(max) }
                if name == "removal delay" && from == "killed" && to == "gone"
                    && *min == Duration::from_secs(6) && *max == Duration::from_secs(13)
        ));
        assert_eq!(s.steps[2].check, Check::Done);
        assert!(matches!(&s.steps[3].action, Action::Measure { min: None, max: None, .. }));
    }

    #[test]
    fn measure_mistakes_name_file_line_and_key() {
        let measure = |keys: &str| format!("{HEAD}{KILL_AND_GONE}[[step]]\nmeasure = \"delay\"\n{keys}");
        // steps 1 and 2 take lines 4-15; the measure step: [[step]] 16, measure 17, its keys from 18 on
        let (at, message) = error(&measure("from = \"killed\"\nto = \"gnoe\"\n"));
        assert_eq!(at, "scenarios/x.toml:19: to");
        assert!(message.contains("unknown label \"gnoe\" (the labels so far: gone, killed)"), "{message}");
        let (at, message) = error(&measure("from = \"gone\"\nto = \"killed\"\n"));
        assert_eq!(at, "scenarios/x.toml:19: to");
        assert!(message.contains("must be a later step than `from` (\"gone\", step 2)"), "{message}");
        let (at, _) = error(&measure("from = \"gone\"\nto = \"gone\"\n"));
        assert_eq!(at, "scenarios/x.toml:19: to");
        let (at, message) = error(&measure("from = \"killed\"\nto = \"gone\"\nexpect.max = \"13\"\n"));
        assert_eq!(at, "scenarios/x.toml:20: expect.max");
        assert!(message.contains("bad duration \"13\""), "{message}");
        let (at, message) =
            error(&measure("from = \"killed\"\nto = \"gone\"\nexpect.min = \"9s\"\nexpect.max = \"8s\"\n"));
        assert_eq!(at, "scenarios/x.toml:20: expect.min");
        assert!(message.contains("reversed"), "{message}");
        let (at, message) = error(&measure("to = \"gone\"\n"));
        assert_eq!(at, "scenarios/x.toml:17: measure");
        assert!(message.contains("`measure` needs `from`"), "{message}");
        let (at, message) = error(&measure("from = [\"killed\"]\nto = \"gone\"\n"));
        assert_eq!(at, "scenarios/x.toml:18: from");
        assert!(message.contains("one label"), "{message}");
        let (at, message) = error(&measure("from = \"killed\"\nto = \"gone\"\nexpect.contains = \"x\"\n"));
        assert_eq!(at, "scenarios/x.toml:20: expect.contains");
        assert!(message.contains("does not take `expect.contains`"), "{message}");
        let (at, message) = error(&measure("from = \"killed\"\nto = \"gone\"\nsnapshot = true\n"));
        assert_eq!(at, "scenarios/x.toml:20: snapshot");
        assert!(message.contains("a `measure` step does not take `snapshot`"), "{message}");
        let twice = format!(
            "{HEAD}{KILL_AND_GONE}[[step]]\nmeasure = \"delay\"\nfrom = \"killed\"\nto = \"gone\"\n\n\
             [[step]]\nmeasure = \"delay\"\nfrom = \"killed\"\nto = \"gone\"\n"
        );
        let (at, message) = error(&twice);
        assert_eq!(at, "scenarios/x.toml:22: measure");
        assert!(message.contains("taken already by step 3"), "{message}");
        // a label is for later steps: a measure cannot name a label defined after it
        let later = format!(
            "{HEAD}[[step]]\nhold = \"1s\"\nlabel = \"a\"\n\n[[step]]\nmeasure = \"m\"\nfrom = \"a\"\nto = \"b\"\n\n\
             [[step]]\nhold = \"1s\"\nlabel = \"b\"\n"
        );
        let (at, message) = error(&later);
        assert_eq!(at, "scenarios/x.toml:11: to");
        assert!(message.contains("unknown label \"b\" (the labels so far: a)"), "{message}");
        let (at, message) = error(&format!("{HEAD}[[step]]\nhold = \"1s\"\nexpect.min = \"1s\"\n"));
        assert_eq!(at, "scenarios/x.toml:6: expect");
        assert!(message.contains("a `hold` step does not take `expect`"), "{message}");
        let (at, message) = error(&format!("{HEAD}[[step]]\nrun = \"ls\"\nexpect.max = \"1s\"\n"));
        assert_eq!(at, "scenarios/x.toml:6: expect.max");
        assert!(message.contains("a `run` step does not take `expect.max` (only measure)"), "{message}");
    }

    #[test]
    fn a_label_is_defined_once_and_well_formed() {
        let text = format!("{HEAD}[[step]]\nhold = \"1s\"\nlabel = \"t\"\n\n[[step]]\nhold = \"1s\"\nlabel = \"t\"\n");
        let (at, message) = error(&text);
        assert_eq!(at, "scenarios/x.toml:10: label");
        assert!(message.contains("label \"t\" is defined twice: step 1 (line 4) has it already"), "{message}");
        let (at, message) = error(&format!("{HEAD}[[step]]\nhold = \"1s\"\nlabel = \"1st one\"\n"));
        assert_eq!(at, "scenarios/x.toml:6: label");
        assert!(message.contains("is not a label"), "{message}");
        assert!(parse(&format!("{HEAD}[[step]]\nwait = \"zk-quorum\"\nlabel = \"new-leader_2\"\n")).is_ok());
    }

    #[test]
    fn same_sessions_names_an_earlier_tree_step() {
        let before = "[[step]]\ntree = \"/arcus\"\nlabel = \"before\"\nexpect.contains = \"ephemeral\"\n\n";
        let ok = format!(
            "{HEAD}{before}[[step]]\ntree = \"/arcus\"\nsnapshot = true\nexpect.same_sessions = \"before\"\n\n\
             [[step]]\ntree = \"/arcus\"\nexpect.same_sessions = \"before\"\n\n\
             [[step]]\ntree = \"/arcus\"\nexpect.same_sessions = \"before\"\nexpect.contains = \"x\"\n"
        );
        let s = parse(&ok).unwrap();
        assert!(matches!(&s.steps[1].action, Action::Tree { same_sessions: Some(l), .. } if l == "before"));
        assert_eq!(s.steps[1].check, Check::Snapshot);
        assert_eq!(s.steps[2].check, Check::Done);
        assert_eq!(s.steps[3].check, Check::Expect(Expect { exit: None, contains: vec!["x".into()] }));
        let (at, message) =
            error(&format!("{HEAD}{before}[[step]]\ntree = \"/arcus\"\nexpect.same_sessions = \"after\"\n"));
        assert_eq!(at, "scenarios/x.toml:11: expect.same_sessions");
        assert!(message.contains("unknown label \"after\""), "{message}");
        let (at, message) = error(&format!(
            "{HEAD}[[step]]\nhold = \"1s\"\nlabel = \"h\"\n\n[[step]]\ntree = \"/arcus\"\nexpect.same_sessions = \"h\"\n"
        ));
        assert_eq!(at, "scenarios/x.toml:10: expect.same_sessions");
        assert!(message.contains("a `hold` step: name an earlier tree step"), "{message}");
        let (at, message) =
            error(&format!("{HEAD}{before}[[step]]\nrun = \"ls\"\nexpect.same_sessions = \"before\"\n"));
        assert_eq!(at, "scenarios/x.toml:11: expect.same_sessions");
        assert!(message.contains("only tree"), "{message}");
        let (at, _) = error(&format!(
            "{HEAD}{before}[[step]]\ntree = \"/arcus\"\nsnapshot = true\nexpect.same_sessions = \"before\"\nexpect.contains = \"x\"\n"
        ));
        assert_eq!(at, "scenarios/x.toml:11: snapshot");
    }

    #[test]
    fn a_type_error_names_the_key() {
        let (at, message) =
            error(&format!("{HEAD}[[step]]\nfault = \"kill-node\"\nhost = \"memcached-1\"\nport = \"x\"\n"));
        assert_eq!(at, "scenarios/x.toml:7: port");
        assert!(message.contains("invalid type"), "{message}");
    }

    #[test]
    fn templates_split_into_text_and_names() {
        assert_eq!(
            template_pieces("a $x-b $$c$y_1"),
            vec![
                Piece::Text("a "),
                Piece::Name("x"),
                Piece::Text("-b "),
                Piece::Text("$"),
                Piece::Text("c"),
                Piece::Name("y_1")
            ]
        );
        let bound = std::collections::HashMap::from([("x".to_string(), "memcached-2".to_string())]);
        assert_eq!(Template("$x:2181 $$".into()).render(&bound).unwrap(), "memcached-2:2181 $");
    }
}
