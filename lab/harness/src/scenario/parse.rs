//! The scenario file parser: the file's top level (title, setup, topology), then each step checked
//! against its kind's declaration by the generic key checker (`crate::keys`), every mistake
//! reported as file:line and key before any lab is started: unknown keys, step kinds, verbs,
//! hosts, durations, unbound `$names`, unknown or repeated labels and snapshot names.

use std::collections::HashSet;
use std::path::Path;

use toml::de::{DeTable, DeValue};
use toml::Spanned;

use super::steps::KINDS;
use super::traffic::{self, TrafficPlan};
use super::{Check, Defines, Expect, Kind, Output, Scenario, Setup, Step, TrafficMark};
use crate::keys::{is_label, may, FromKey, Key, KeyError, Keys, Labelled, OneOrMany, Scope, Source};
use crate::lab::Topology;

/// Everything wrong with a scenario file, found before a lab is started.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("{file}: cannot read: {source}")]
    Read { file: String, source: std::io::Error },
    #[error(transparent)]
    Invalid(#[from] KeyError),
}

/// Keys every step takes.
const LABEL: Key = may("label", "a name later steps refer to (measure, expect.same_sessions, snapshot = true)");
/// The output checks, by what a kind's [`Output`] allows.
const SNAPSHOT: Key =
    may("snapshot", "the snapshot's name (tests/snapshots/<scenario>@<name>.snap), or true: the label");
const CONTAINS: Key = may("expect.contains", "a text (or a list) the normalized output must contain");
const EXIT: Key = may("expect.exit", "the command's exit status");

/// Reads and checks a scenario file.
pub fn parse(file: &Path) -> Result<Scenario, ScenarioError> {
    let shown = file.display().to_string();
    let text = std::fs::read_to_string(file).map_err(|source| ScenarioError::Read { file: shown, source })?;
    parse_str(file, &text)
}

/// Checks a scenario's text; `file` names it in errors and gives the scenario its name.
pub fn parse_str(file: &Path, text: &str) -> Result<Scenario, ScenarioError> {
    let source = Source { name: file.display().to_string(), text: text.to_string() };
    let doc = DeTable::parse(text).map_err(|e| {
        let at = e.span().unwrap_or(0..0);
        source.error(at.clone(), &key_near(text, at.start), e.message().to_string())
    })?;
    let top = doc.get_ref();
    for (key, _) in top.iter() {
        if !["title", "setup", "topology", "traffic", "step"].contains(&key.get_ref().as_ref()) {
            let message = format!(
                "unknown key `{}`: a scenario has title, setup, topology, traffic and [[step]]s",
                key.get_ref()
            );
            return Err(source.error(key.span(), key.get_ref(), message).into());
        }
    }
    let title: String = top_value(&source, top, "title", doc.span())?;
    let setup_name: String = top_value(&source, top, "setup", doc.span())?;
    let setup = setup_name.parse::<Setup>().map_err(|_| {
        use strum::VariantNames;
        let message = format!("unknown setup {setup_name:?}: use one of {}", Setup::VARIANTS.join(", "));
        source.error(span_of(top, "setup"), "setup", message)
    })?;
    let topology = topology(&source, top)?;
    let mut scope = Scope { topology: topology.clone(), ..Scope::default() };
    let mut traffic = top.get("traffic").map(|value| traffic::parse(&source, value, &scope)).transpose()?;
    // the traffic steps so far: (index, line, mark)
    let mut marks: Vec<(usize, usize, TrafficMark)> = Vec::new();
    let mut measures: HashSet<String> = HashSet::new();
    let mut snapshots: HashSet<String> = HashSet::new();
    let mut steps = Vec::new();
    let tables: Vec<&Spanned<DeValue>> = match top.get("step").map(|s| (s.get_ref(), s.span())) {
        None => Vec::new(),
        Some((DeValue::Array(items), _)) => items.iter().collect(),
        Some((_, at)) => return Err(source.error(at, "step", "steps are [[step]] tables").into()),
    };
    for (i, table) in tables.into_iter().enumerate() {
        let keys = Keys::new(&source, table, &scope, i + 1)?;
        let mut defines = Defines::default();
        let step = step(&keys, &mut defines, &mut snapshots)?;
        if let Some(mark) = defines.traffic {
            check_mark(&keys, &marks, mark)?;
            marks.push((step.index, step.line, mark));
        }
        if let Some(name) = defines.measure {
            if !measures.insert(name.clone()) {
                return Err(keys.error("measure", format!("the measure {name:?} is named twice in this file")).into());
            }
        }
        if let Some(label) = &step.label {
            scope.labels.insert(label.clone(), Labelled { index: step.index, line: step.line, kind: step.kind });
        }
        if let Some(name) = defines.bound {
            scope.bound.insert(name);
        }
        steps.push(step);
    }
    match (&mut traffic, marks.is_empty()) {
        (Some(plan), true) => plan.whole = true,
        (None, false) => traffic = Some(TrafficPlan::default()),
        _ => {}
    }
    let end = text.trim_end().len()..text.trim_end().len();
    if steps.is_empty() {
        return Err(source.error(end, "[[step]]", "the scenario has no step: it would show nothing").into());
    }
    if !steps.iter().any(|s| s.check != Check::Done || s.action.can_fail()) {
        let message = "no step checks anything (only hold, bind and unbounded measure steps): add a snapshot, \
                       an `expect`, a wait or a fault";
        return Err(source.error(end, "[[step]]", message).into());
    }
    let name = file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    Ok(Scenario { name, file: file.to_path_buf(), title, setup, topology, steps, traffic })
}

/// A `traffic` step in its place: one start, then at most one stop (one load, one report).
fn check_mark(keys: &Keys, earlier: &[(usize, usize, TrafficMark)], mark: TrafficMark) -> Result<(), KeyError> {
    match (mark, earlier.last()) {
        (TrafficMark::Stop, None) => {
            Err(keys.error("traffic", "no traffic runs here: a `traffic = \"start\"` step comes first"))
        }
        (TrafficMark::Stop, Some((_, _, TrafficMark::Start))) | (TrafficMark::Start, None) => Ok(()),
        (_, Some((index, line, done))) => {
            let done = if *done == TrafficMark::Start { "started" } else { "stopped" };
            let message = format!(
                "the traffic was {done} at step {index} (line {line}): a scenario starts one load and stops it once"
            );
            Err(keys.error("traffic", message))
        }
    }
}

/// What a TOML syntax error at `at` is named by: the key of its line (the text before `=`), or
/// the line itself (a table header, a stray value); for a blank line the nearest such line above.
fn key_near(text: &str, at: usize) -> String {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let line_end = text[at..].find('\n').map_or(text.len(), |i| at + i);
    let name = |line: &str| line.split_once('=').map_or(line, |(key, _)| key).trim().to_string();
    text[..line_end]
        .lines()
        .rev()
        .map(name)
        .find(|key| !key.is_empty())
        .unwrap_or_else(|| "(start of the file)".to_string())
}

fn span_of(table: &DeTable, key: &str) -> std::ops::Range<usize> {
    table.get(key).map(Spanned::span).unwrap_or(0..0)
}

/// A top-level value the file must have.
fn top_value<T: FromKey>(
    source: &Source,
    top: &DeTable,
    key: &str,
    doc: std::ops::Range<usize>,
) -> Result<T, KeyError> {
    let value =
        top.get(key).ok_or_else(|| source.error(doc.start..doc.start, key, format!("a scenario needs `{key}`")))?;
    T::from_key(value.get_ref(), &Scope::default()).map_err(|m| source.error(value.span(), key, m))
}

/// The `[topology]` table (every key optional: the runbook's shape by default).
fn topology(source: &Source, top: &DeTable) -> Result<Topology, KeyError> {
    let mut t = Topology::default();
    let Some(value) = top.get("topology") else { return Ok(t) };
    let Some(table) = value.get_ref().as_table() else {
        return Err(source.error(value.span(), "topology", "a [topology] table"));
    };
    let scope = Scope::default();
    for (key, value) in table.iter() {
        let name = key.get_ref().as_ref();
        let error = |m: String| source.error(value.span(), &format!("topology.{name}"), m);
        match name {
            "hosts" => t.hosts = u8::from_key(value.get_ref(), &scope).map_err(error)?,
            "zk" => t.zk = u8::from_key(value.get_ref(), &scope).map_err(error)?,
            "nodes-per-host" => t.nodes_per_host = u8::from_key(value.get_ref(), &scope).map_err(error)?,
            "services" => t.services = OneOrMany::from_key(value.get_ref(), &scope).map_err(error)?.0,
            other => {
                let message = format!("unknown key `{other}`: the topology takes hosts, zk, nodes-per-host, services");
                return Err(source.error(key.span(), &format!("topology.{other}"), message));
            }
        }
    }
    t.check().map_err(|e| source.error(value.span(), "topology", e.to_string()))?;
    Ok(t)
}

/// The kind a step's keys name: exactly one of the declared kinds.
fn kind_of(keys: &Keys) -> Result<&'static Kind, KeyError> {
    let named: Vec<&'static Kind> =
        keys.present().iter().filter_map(|k| KINDS.iter().copied().find(|d| d.name == *k)).collect();
    let kinds = || KINDS.iter().map(|k| k.name).collect::<Vec<_>>().join(", ");
    match named.as_slice() {
        [one] => Ok(one),
        [] => Err(keys.error("[[step]]", format!("step {} has no kind: give one of {}", keys.index, kinds()))),
        [_, second, ..] => {
            Err(keys.error(second.name, format!("step {} has two kinds: one of {} per step", keys.index, kinds())))
        }
    }
}

fn step(keys: &Keys, defines: &mut Defines, snapshots: &mut HashSet<String>) -> Result<Step, ScenarioError> {
    let kind = kind_of(keys)?;
    // the keys this step may have: the kind's own, its variant's, the label, the output checks
    let mut takes: Vec<Key> = vec![may(kind.name, kind.summary)];
    takes.extend_from_slice(kind.keys);
    takes.push(LABEL);
    match kind.output {
        Output::None => {}
        Output::Optional | Output::Required => takes.extend([SNAPSHOT, CONTAINS]),
        Output::RequiredWithExit => takes.extend([SNAPSHOT, CONTAINS, EXIT]),
    }
    let owner = match &kind.variants {
        Some(variants) => {
            let name: String = keys.need(kind.name)?;
            let list = (variants.list)();
            let Some(variant) = list.iter().find(|v| v.name == name) else {
                let names: Vec<&str> = list.iter().map(|v| v.name).collect();
                let message = format!("unknown {} {name:?}: use {}", variants.what, names.join(", "));
                return Err(keys.error(kind.name, message).into());
            };
            takes.extend_from_slice(variant.keys);
            format!("`{name}`")
        }
        None => format!("a `{}` step", kind.name),
    };
    if keys.has("expect") {
        return Err(keys.error("expect", "an empty expectation: give `contains` or `exit`").into());
    }
    keys.check(&owner, kind.name, &takes)?;
    let action = (kind.parse)(keys, defines)?;

    let label = match keys.get::<String>("label")? {
        Some(label) if !is_label(&label) => {
            return Err(keys
                .error("label", format!("{label:?} is not a label: letters, digits, - and _, a letter first"))
                .into());
        }
        Some(label) => match keys.scope.labels.get(&label) {
            Some(earlier) => {
                let message = format!(
                    "label {label:?} is defined twice: step {} (line {}) has it already",
                    earlier.index, earlier.line
                );
                return Err(keys.error("label", message).into());
            }
            None => Some(label),
        },
        None => None,
    };

    let expect = Expect {
        exit: keys.get("expect.exit")?,
        contains: keys.get::<OneOrMany>("expect.contains")?.map(|c| c.0).unwrap_or_default(),
    };
    let on_output = expect.exit.is_some() || !expect.contains.is_empty();
    let check = match (snapshot_name(keys, label.as_deref())?, on_output) {
        (Some(_), true) => return Err(keys.error("snapshot", "a step has a snapshot or `expect`, not both").into()),
        (Some(name), false) => {
            if !snapshots.insert(name.clone()) {
                return Err(keys
                    .error("snapshot", format!("the snapshot {name:?} is named twice in this file"))
                    .into());
            }
            Check::Snapshot(name)
        }
        (None, true) => Check::Expect(expect),
        (None, false) => {
            let required = matches!(kind.output, Output::Required | Output::RequiredWithExit);
            if required && !action.judges_itself() {
                let message = format!("a `{}` step needs `snapshot = \"<name>\"` or an `expect`", kind.name);
                return Err(keys.error(kind.name, message).into());
            }
            Check::Done
        }
    };
    Ok(Step { index: keys.index, line: keys.line(), kind: kind.name, label, action, check })
}

/// `snapshot = "<name>"`, or `snapshot = true` for the step's label.
fn snapshot_name(keys: &Keys, label: Option<&str>) -> Result<Option<String>, KeyError> {
    if !keys.has("snapshot") {
        return Ok(None);
    }
    if let Ok(Some(flag)) = keys.get::<bool>("snapshot") {
        return match (flag, label) {
            (true, Some(label)) => Ok(Some(label.to_string())),
            (true, None) => Err(keys.error(
                "snapshot",
                "`snapshot = true` names the snapshot after the step's label: give the step a label, or write snapshot = \"<name>\"",
            )),
            (false, _) => Err(keys.error("snapshot", "`snapshot = false`: leave it out and give `expect` instead")),
        };
    }
    let name: String = keys.need("snapshot")?;
    if !is_label(&name) {
        return Err(keys
            .error("snapshot", format!("{name:?} is not a snapshot name: letters, digits, - and _, a letter first")));
    }
    Ok(Some(name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fault::VERBS;

    fn parse(text: &str) -> Result<Scenario, ScenarioError> {
        parse_str(Path::new("scenarios/x.toml"), text)
    }

    /// The error's `file:line: key` prefix and message.
    fn error(text: &str) -> (String, String) {
        match parse(text).expect_err("parsed") {
            ScenarioError::Invalid(KeyError { file, line, key, message }) => (format!("{file}:{line}: {key}"), message),
            other => panic!("{other}"),
        }
    }

    const HEAD: &str = "title = \"t\"\nsetup = \"cloud\"\n\n";

    #[test]
    fn a_scenario_parses_into_its_steps() {
        let text = format!(
            "{HEAD}[[step]]\nbind = \"zk-leader\"\nas = \"leader\"\n\n[[step]]\nfault = \"kill-zk\"\nhost = \"$leader\"\n\n\
             [[step]]\nrun = \"./arcus.sh memcached listall\"\nsnapshot = \"listall\"\n\n\
             [[step]]\nrun = \"ls\"\nhost = \"memcached-2\"\nexpect.exit = 0\nexpect.contains = \"OK\"\n\n\
             [[step]]\nhold = \"1500ms\"\n\n[[step]]\nwait = \"children\"\npath = \"/arcus\"\ncount = 3\ntimeout = \"20s\"\n"
        );
        let s = parse(&text).unwrap();
        assert_eq!(s.setup, Setup::Cloud);
        assert_eq!(s.topology, Topology::default());
        let kinds: Vec<&str> = s.steps.iter().map(|s| s.kind).collect();
        assert_eq!(kinds, ["bind", "fault", "run", "run", "hold", "wait"]);
        assert_eq!(s.steps[1].line, 8);
        assert_eq!(s.steps[1].action.describe(), "kill-zk $leader");
        assert_eq!(s.steps[2].check, Check::Snapshot("listall".into()));
        assert_eq!(s.steps[2].action.describe(), "./arcus.sh memcached listall on arcus");
        assert_eq!(s.steps[3].check, Check::Expect(Expect { exit: Some(0), contains: vec!["OK".into()] }));
        assert_eq!(s.steps[4].action.describe(), "1.5s");
        assert_eq!(s.steps[5].action.describe(), "3 children under /arcus");
        assert_eq!(s.snapshots(), ["listall"]);
    }

    #[test]
    fn an_unknown_key_names_file_line_and_key() {
        let (at, message) = error(&format!("{HEAD}[[step]]\nrun = \"ls\"\nsnapshot = \"s\"\nsleep = \"3s\"\n"));
        assert_eq!(at, "scenarios/x.toml:7: sleep");
        assert!(message.contains("a `run` step does not take `sleep` (it takes host, label, snapshot"), "{message}");
        let (at, _) = error("title = \"t\"\nsetup = \"zk\"\nowner = \"me\"\n");
        assert_eq!(at, "scenarios/x.toml:3: owner");
        let (at, message) = error(&format!("{HEAD}[[step]]\nrun = \"ls\"\nexpect.exot = 0\n"));
        assert_eq!(at, "scenarios/x.toml:6: expect.exot");
        assert!(message.contains("does not take `expect.exot`"), "{message}");
        let (at, message) = error(&format!("{HEAD}[[step]]\nhold = \"1s\"\nhost = \"memcached-1\"\n"));
        assert_eq!(at, "scenarios/x.toml:6: host");
        assert!(message.contains("a `hold` step does not take `host` (it takes label)"), "{message}");
    }

    #[test]
    fn a_scenario_without_steps_or_that_checks_nothing_is_refused() {
        let (at, message) = error("title = \"t\"\nsetup = \"cloud\"\n");
        assert_eq!(at, "scenarios/x.toml:2: [[step]]");
        assert!(message.contains("has no step"), "{message}");
        let idle = format!(
            "{HEAD}[[step]]\nbind = \"zk-leader\"\nas = \"l\"\nlabel = \"a\"\n\n[[step]]\nhold = \"1s\"\nlabel = \"b\"\n\n\
             [[step]]\nmeasure = \"m\"\nfrom = \"a\"\nto = \"b\"\n"
        );
        let (at, message) = error(&idle);
        assert_eq!(at, "scenarios/x.toml:16: [[step]]");
        assert!(message.contains("no step checks anything"), "{message}");
        assert!(parse(&format!("{idle}expect.max = \"2s\"\n")).is_ok(), "a bounded measure checks");
        assert!(parse(&format!("{HEAD}[[step]]\nhold = \"1s\"\n\n[[step]]\nwait = \"zk-quorum\"\n")).is_ok());
    }

    #[test]
    fn a_step_without_a_kind_or_with_two_is_refused() {
        let (at, message) = error(&format!("{HEAD}[[step]]\nsnapshot = \"s\"\n"));
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
        assert!(message.contains("unknown fault \"nuke\": use kill-zk, stop-zk"), "{message}");
        let (at, message) = error(&format!("{HEAD}[[step]]\nwait = \"sunrise\"\n"));
        assert_eq!(at, "scenarios/x.toml:5: wait");
        assert!(message.contains("unknown condition \"sunrise\": use zk-quorum"), "{message}");
        let (at, _) = error("title = \"t\"\nsetup = \"cluod\"\n");
        assert_eq!(at, "scenarios/x.toml:2: setup");
        let (at, message) = error(&format!("{HEAD}[[step]]\nrunbook = \"deploi\"\n"));
        assert_eq!(at, "scenarios/x.toml:5: runbook");
        assert!(message.contains("zk-init"), "{message}");
        let (at, _) = error(&format!("{HEAD}[[step]]\nbind = \"weather\"\nas = \"w\"\n"));
        assert_eq!(at, "scenarios/x.toml:5: bind");
    }

    #[test]
    fn hosts_are_checked_against_the_topology() {
        let (at, message) = error(&format!("{HEAD}[[step]]\nrun = \"ls\"\nhost = \"memcached-4\"\nsnapshot = \"s\"\n"));
        assert_eq!(at, "scenarios/x.toml:6: host");
        assert!(message.contains("unknown host \"memcached-4\": the hosts are arcus, memcached-1"), "{message}");
        let five = "title = \"t\"\nsetup = \"cloud\"\n[topology]\nhosts = 5\nzk = 5\n\n[[step]]\nfault = \"kill-zk\"\nhost = \"memcached-5\"\n";
        let s = parse(five).unwrap();
        assert_eq!(s.topology.hosts, 5);
        assert_eq!(s.topology.zk, 5);
        let (at, message) = error("title = \"t\"\nsetup = \"cloud\"\n[topology]\nhosts = 3\nzk = 5\n");
        assert_eq!(at, "scenarios/x.toml:3: topology");
        assert!(message.contains("zk = 5"), "{message}");
        let (at, message) = error("title = \"t\"\nsetup = \"cloud\"\n[topology]\nhots = 3\n");
        assert_eq!(at, "scenarios/x.toml:4: topology.hots");
        assert!(message.contains("the topology takes hosts, zk"), "{message}");
    }

    #[test]
    fn bad_durations_are_refused_without_a_panic() {
        for bad in ["3", "s", "3x", "1.2.3s", "", "99999999999999999999m", "18446744073709551616s"] {
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
        assert!(parse(&format!("{HEAD}[[step]]\nrun = \"echo $$HOME\"\nsnapshot = \"s\"\n")).is_ok());
    }

    #[test]
    fn observations_need_a_check_and_actions_take_none() {
        let (at, message) = error(&format!("{HEAD}[[step]]\nrun = \"ls\"\n"));
        assert_eq!(at, "scenarios/x.toml:5: run");
        assert!(message.contains("needs `snapshot = \"<name>\"` or an `expect`"), "{message}");
        let (at, _) = error(&format!("{HEAD}[[step]]\nhold = \"1s\"\nsnapshot = \"s\"\n"));
        assert_eq!(at, "scenarios/x.toml:6: snapshot");
        let (at, _) = error(&format!("{HEAD}[[step]]\ntree = \"/arcus\"\nexpect.exit = 0\n"));
        assert_eq!(at, "scenarios/x.toml:6: expect.exit");
        let (at, message) = error(&format!("{HEAD}[[step]]\nrun = \"ls\"\nexpect = {{}}\n"));
        assert_eq!(at, "scenarios/x.toml:6: expect");
        assert!(message.contains("an empty expectation"), "{message}");
    }

    #[test]
    fn snapshots_are_named_once_by_a_name_or_the_label() {
        let s = parse(&format!("{HEAD}[[step]]\nrun = \"ls\"\nlabel = \"ls-out\"\nsnapshot = true\n")).unwrap();
        assert_eq!(s.steps[0].check, Check::Snapshot("ls-out".into()));
        let (at, message) = error(&format!("{HEAD}[[step]]\nrun = \"ls\"\nsnapshot = true\n"));
        assert_eq!(at, "scenarios/x.toml:6: snapshot");
        assert!(message.contains("give the step a label"), "{message}");
        let twice =
            format!("{HEAD}[[step]]\nrun = \"ls\"\nsnapshot = \"a\"\n\n[[step]]\nrun = \"ls\"\nsnapshot = \"a\"\n");
        let (at, message) = error(&twice);
        assert_eq!(at, "scenarios/x.toml:10: snapshot");
        assert!(message.contains("named twice"), "{message}");
        let (at, _) = error(&format!("{HEAD}[[step]]\nrun = \"ls\"\nsnapshot = \"no spaces\"\n"));
        assert_eq!(at, "scenarios/x.toml:6: snapshot");
    }

    #[test]
    fn each_fault_verb_takes_its_own_keys() {
        let (at, message) = error(&format!("{HEAD}[[step]]\nfault = \"delete-znode\"\nhost = \"memcached-1\"\n"));
        assert_eq!(at, "scenarios/x.toml:6: host");
        assert!(message.contains("`delete-znode` does not take `host`"), "{message}");
        let (at, message) = error(&format!("{HEAD}[[step]]\nfault = \"kill-node\"\nhost = \"memcached-1\"\n"));
        assert_eq!(at, "scenarios/x.toml:5: fault");
        assert!(message.contains("`kill-node` needs `port`"), "{message}");
        let (at, message) =
            error(&format!("{HEAD}[[step]]\nfault = \"kill-node\"\nhost = \"memcached-1\"\nport = \"x\"\n"));
        assert_eq!(at, "scenarios/x.toml:7: port");
        assert!(message.contains("expected a whole number, found string"), "{message}");
        let (at, message) =
            error(&format!("{HEAD}[[step]]\nfault = \"kill-node\"\nhost = \"memcached-1\"\nport = 70000\n"));
        assert_eq!(at, "scenarios/x.toml:7: port");
        assert!(message.contains("out of range"), "{message}");
        let (at, message) = error(&format!(
            "{HEAD}[[step]]\nfault = \"kill-node\"\nhost = \"memcached-1\"\nport = 1\nsignal = \"HUP\"\n"
        ));
        assert_eq!(at, "scenarios/x.toml:8: signal");
        assert!(message.contains("unknown signal"), "{message}");
        let (at, _) = error(&format!("{HEAD}[[step]]\nfault = \"delete-znode\"\npath = \"arcus\"\n"));
        assert_eq!(at, "scenarios/x.toml:6: path");
        let (at, message) =
            error(&format!("{HEAD}[[step]]\nmc = \"ready\"\nhost = \"memcached-1\"\nsnapshot = \"s\"\n"));
        assert_eq!(at, "scenarios/x.toml:5: mc");
        assert!(message.contains("a `mc` step needs `port`"), "{message}");
        // every verb parses with the keys it declares
        for verb in VERBS {
            let mut step = format!("{HEAD}[[step]]\nfault = \"{}\"\n", verb.name);
            for key in verb.keys.iter().filter(|k| k.needed) {
                let value = match key.name {
                    "port" => "11211".to_string(),
                    "path" => "\"/arcus\"".to_string(),
                    "hosts" => "[\"memcached-1\"]".to_string(),
                    "from" => "[\"memcached-2\"]".to_string(),
                    _ => "\"memcached-3\"".to_string(),
                };
                step.push_str(&format!("{} = {value}\n", key.name));
            }
            let parsed = parse(&step).unwrap_or_else(|e| panic!("{}: {e}", verb.name));
            assert!(parsed.steps[0].action.describe().starts_with(verb.name), "{}", verb.name);
        }
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
        assert!(message.contains("an empty list of hosts"), "{message}");
        let (at, message) = error(&step("hosts = [\"memcached-3\"]\nfrom = [\"memcached-3\"]\n"));
        assert_eq!(at, "scenarios/x.toml:7: from");
        assert!(message.contains("\"memcached-3\" is on both sides"), "{message}");
        let s = parse(&step("hosts = [\"memcached-3\"]\nfrom = [\"memcached-1\", \"arcus\"]\n")).unwrap();
        assert_eq!(s.steps[0].action.describe(), "partition [memcached-3] from [memcached-1, arcus]");
    }

    const KILL_AND_GONE: &str =
        "[[step]]\nfault = \"kill-node\"\nhost = \"memcached-2\"\nport = 11211\nlabel = \"killed\"\n\n\
         [[step]]\nwait = \"children\"\npath = \"/arcus\"\ncount = 5\nlabel = \"gone\"\n\n";

    #[test]
    fn measure_mistakes_name_file_line_and_key() {
        let measure = |keys: &str| format!("{HEAD}{KILL_AND_GONE}[[step]]\nmeasure = \"delay\"\n{keys}");
        assert!(
            parse(&measure("from = \"killed\"\nto = \"gone\"\nexpect.min = \"6s\"\nexpect.max = \"13s\"\n")).is_ok()
        );
        let (at, message) = error(&measure("from = \"killed\"\nto = \"gnoe\"\n"));
        assert_eq!(at, "scenarios/x.toml:19: to");
        assert!(message.contains("unknown label \"gnoe\" (the labels so far: gone, killed)"), "{message}");
        let (at, message) = error(&measure("from = \"gone\"\nto = \"killed\"\n"));
        assert_eq!(at, "scenarios/x.toml:19: to");
        assert!(message.contains("must be a later step than `from` (\"gone\", step 2)"), "{message}");
        let (at, message) = error(&measure("from = \"killed\"\nto = \"gone\"\nexpect.max = \"13\"\n"));
        assert_eq!(at, "scenarios/x.toml:20: expect.max");
        assert!(message.contains("bad duration \"13\""), "{message}");
        let (at, message) =
            error(&measure("from = \"killed\"\nto = \"gone\"\nexpect.min = \"9s\"\nexpect.max = \"8s\"\n"));
        assert_eq!(at, "scenarios/x.toml:20: expect.min");
        assert!(message.contains("reversed"), "{message}");
        let (at, message) = error(&measure("to = \"gone\"\n"));
        assert_eq!(at, "scenarios/x.toml:17: measure");
        assert!(message.contains("a `measure` step needs `from`"), "{message}");
        let (at, message) = error(&measure("from = \"killed\"\nto = \"gone\"\nsnapshot = \"s\"\n"));
        assert_eq!(at, "scenarios/x.toml:20: snapshot");
        assert!(message.contains("a `measure` step does not take `snapshot`"), "{message}");
        let twice = format!(
            "{HEAD}{KILL_AND_GONE}[[step]]\nmeasure = \"delay\"\nfrom = \"killed\"\nto = \"gone\"\n\n\
             [[step]]\nmeasure = \"delay\"\nfrom = \"killed\"\nto = \"gone\"\n"
        );
        let (at, message) = error(&twice);
        assert_eq!(at, "scenarios/x.toml:22: measure");
        assert!(message.contains("named twice"), "{message}");
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
    }

    #[test]
    fn same_sessions_names_an_earlier_tree_step() {
        let before = "[[step]]\ntree = \"/arcus\"\nlabel = \"before\"\nexpect.contains = \"ephemeral\"\n\n";
        let ok = format!(
            "{HEAD}{before}[[step]]\ntree = \"/arcus\"\nsnapshot = \"after\"\nexpect.same_sessions = \"before\"\n\n\
             [[step]]\ntree = \"/arcus\"\nexpect.same_sessions = \"before\"\n"
        );
        let s = parse(&ok).unwrap();
        assert_eq!(s.steps[1].check, Check::Snapshot("after".into()));
        assert_eq!(s.steps[2].check, Check::Done);
        let (at, message) = error(&format!(
            "{HEAD}[[step]]\nhold = \"1s\"\nlabel = \"h\"\n\n[[step]]\ntree = \"/arcus\"\nexpect.same_sessions = \"h\"\n"
        ));
        assert_eq!(at, "scenarios/x.toml:10: expect.same_sessions");
        assert!(message.contains("a `hold` step: name an earlier tree step"), "{message}");
        let (at, _) = error(&format!("{HEAD}{before}[[step]]\nrun = \"ls\"\nexpect.same_sessions = \"before\"\n"));
        assert_eq!(at, "scenarios/x.toml:11: expect.same_sessions");
    }

    #[test]
    fn a_traffic_table_runs_through_the_whole_scenario_with_its_bounds() {
        let text = format!(
            "title = \"t\"\nsetup = \"cloud\"\n\n[traffic]\nrate = 800\ngets = 0.75\ntimeout = \"1s\"\n\n\
             [traffic.bounds]\nmax-unavailable = \"12s\"\nmax-lost-unfaulted = 0\nmax-keys-affected = 0.5\n\n{KILL_AND_GONE}"
        );
        let s = parse(&text).unwrap();
        let plan = s.traffic.expect("a traffic plan");
        assert!(plan.whole);
        assert_eq!(plan.line, 4);
        assert_eq!((plan.rate, plan.gets, plan.keys), (Some(800), Some(0.75), None));
        assert_eq!(plan.bounds.max_unavailable, Some(std::time::Duration::from_secs(12)));
        assert_eq!(plan.bounds.max_lost_unfaulted, Some(0));
        assert_eq!(plan.bounds.count(), 3);
        let spec = plan.load_spec();
        assert_eq!((spec.rate, spec.get_ratio, spec.timeout), (800, 0.75, std::time::Duration::from_secs(1)));
        assert_eq!(spec.keys, arcus_client::LoadSpec::default().keys);
        assert!(parse(&format!("{HEAD}{KILL_AND_GONE}")).unwrap().traffic.is_none());
    }

    #[test]
    fn traffic_mistakes_name_file_line_and_key() {
        let with = |table: &str| format!("title = \"t\"\nsetup = \"cloud\"\n{table}\n{KILL_AND_GONE}");
        let (at, message) = error(&with("[traffic]\nrate = 100\nrat = 5\n"));
        assert_eq!(at, "scenarios/x.toml:5: rat");
        assert!(message.contains("[traffic] does not take `rat` (it takes service, rate, keys"), "{message}");
        let (at, message) = error(&with("[traffic]\nrate = 0\n"));
        assert_eq!(at, "scenarios/x.toml:4: rate");
        assert!(message.contains("no traffic"), "{message}");
        let (at, message) = error(&with("[traffic]\ngets = 1.5\n"));
        assert_eq!(at, "scenarios/x.toml:4: gets");
        assert!(message.contains("0 to 1"), "{message}");
        let (at, message) = error(&with("[traffic]\nservice = \"other\"\n"));
        assert_eq!(at, "scenarios/x.toml:4: service");
        assert!(message.contains("unknown service \"other\": the services are ruo91-cloud"), "{message}");
        let (at, message) = error(&with("[traffic.bounds]\nmax-unavailable = \"12s\"\nmax-faild = 0\n"));
        assert_eq!(at, "scenarios/x.toml:5: max-faild");
        assert!(message.contains("[traffic.bounds] does not take `max-faild`"), "{message}");
        let (at, message) = error(&with("[traffic.bounds]\nmax-unavailable = 12\n"));
        assert_eq!(at, "scenarios/x.toml:4: max-unavailable");
        assert!(message.contains("expected a string"), "{message}");
        let (at, message) = error(&with("[traffic.bounds]\nmin-unavailable = \"13s\"\nmax-unavailable = \"12s\"\n"));
        assert_eq!(at, "scenarios/x.toml:4: min-unavailable");
        assert!(message.contains("reversed"), "{message}");
        let (at, message) = error(&with("traffic = 3\n"));
        assert_eq!(at, "scenarios/x.toml:3: traffic");
        assert!(message.contains("a [traffic] table"), "{message}");
    }

    #[test]
    fn traffic_steps_start_once_and_stop_after_the_start() {
        let start = "[[step]]\ntraffic = \"start\"\n\n";
        let stop = "[[step]]\ntraffic = \"stop\"\n\n";
        let s = parse(&format!("{HEAD}{start}{KILL_AND_GONE}{stop}")).unwrap();
        let plan = s.traffic.expect("the defaults");
        assert!(!plan.whole);
        assert_eq!(plan.load_spec(), arcus_client::LoadSpec::default());
        assert_eq!(s.steps[0].kind, "traffic");
        assert_eq!(s.steps[3].action.describe(), "stop");
        let (at, message) = error(&format!("{HEAD}{stop}{KILL_AND_GONE}"));
        assert_eq!(at, "scenarios/x.toml:5: traffic");
        assert!(message.contains("a `traffic = \"start\"` step comes first"), "{message}");
        let (at, message) = error(&format!("{HEAD}{start}{KILL_AND_GONE}{start}"));
        assert_eq!(at, "scenarios/x.toml:20: traffic");
        assert!(message.contains("the traffic was started at step 1 (line 4)"), "{message}");
        let (at, message) = error(&format!("{HEAD}[[step]]\ntraffic = \"pause\"\n"));
        assert_eq!(at, "scenarios/x.toml:5: traffic");
        assert!(message.contains("unknown traffic step \"pause\": use start, stop"), "{message}");
        let (at, _) = error(&format!("{HEAD}[[step]]\ntraffic = \"start\"\nrate = 5\n"));
        assert_eq!(at, "scenarios/x.toml:6: rate");
    }
}
