//! A run's directory `target/arcus-lab/runs/<run-id>/`: `events.jsonl` (one line per setup, step,
//! heal before teardown and teardown, with times and outcome; a measure step's line carries its
//! measurement), each observed step's raw output, every host's container log and syslog,
//! `timings.json` (`waits`: each wait and its time since the last fault; `measures`: each measure
//! step's value by name), `summary.md`, and the `runs/latest` link.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};

use crate::lab::{Lab, RunId};
use crate::paths;

pub(super) struct RunDir {
    pub dir: PathBuf,
    file: File,
    events: Vec<Event>,
}

/// One line of events.jsonl; times are milliseconds since the Unix epoch.
#[derive(Debug, Clone, serde::Serialize)]
pub(super) struct Event {
    /// `setup`, `step`, `teardown` (its `heal` event, then the teardown itself).
    pub phase: String,
    pub step: Option<usize>,
    pub kind: String,
    pub what: String,
    pub start_ms: u128,
    pub end_ms: u128,
    pub elapsed_ms: u128,
    /// `ok` or `failed`.
    pub outcome: String,
    pub detail: String,
    /// A measure step's measurement (also when it failed its bounds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub measure: Option<Measurement>,
}

/// What a measure step measured: the time from the end of the step labelled `from` to the end of
/// the step labelled `to`, with the bounds it was held to.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub(super) struct Measurement {
    pub name: String,
    pub ms: u128,
    pub from: String,
    pub from_step: usize,
    pub to: String,
    pub to_step: usize,
    pub min_ms: Option<u128>,
    pub max_ms: Option<u128>,
}

/// timings.json.
#[derive(serde::Serialize)]
struct Timings<'a> {
    waits: Vec<Timing<'a>>,
    /// By measure name.
    measures: BTreeMap<&'a str, &'a Measurement>,
}

/// One line of timings.json: how long a wait took, and how long after the last fault it ended
/// (a failover time, a removal delay).
#[derive(serde::Serialize)]
struct Timing<'a> {
    step: Option<usize>,
    what: &'a str,
    waited_ms: u128,
    since_fault_ms: Option<u128>,
    fault: Option<&'a str>,
}

pub(super) fn now_ms() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0)
}

impl RunDir {
    /// Creates the run's directory and points `runs/latest` at it.
    pub fn create(run: &RunId) -> Result<RunDir> {
        let runs = paths::state_dir().join("runs");
        let dir = runs.join(run.as_str());
        std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
        let file =
            File::create(dir.join("events.jsonl")).with_context(|| format!("create {}/events.jsonl", dir.display()))?;
        // a fresh link renamed over the old one: scenarios running side by side never see it missing
        let latest = runs.join("latest");
        let fresh = runs.join(format!(".latest-{run}"));
        std::os::unix::fs::symlink(run.as_str(), &fresh).with_context(|| format!("link {}", fresh.display()))?;
        std::fs::rename(&fresh, &latest)
            .with_context(|| format!("rename {} to {}", fresh.display(), latest.display()))?;
        Ok(RunDir { dir, file, events: Vec::new() })
    }

    /// Appends an event. A record that cannot be written is reported on stderr and does not
    /// stop the run (the lab must still be torn down).
    pub fn event(&mut self, event: Event) {
        let written = serde_json::to_string(&event).map_err(anyhow::Error::from).and_then(|line| {
            writeln!(self.file, "{line}").with_context(|| format!("write {}/events.jsonl", self.dir.display()))
        });
        if let Err(e) = written {
            eprintln!("arcus-lab: {e:#}");
        }
        self.events.push(event);
    }

    /// Writes a file of the run; like `event`, never fails the run.
    pub fn write(&self, name: &str, content: &str) {
        let path = self.dir.join(name);
        if let Err(e) = std::fs::write(&path, content) {
            eprintln!("arcus-lab: write {}: {e}", path.display());
        }
    }

    /// Every host's container output (`<host>.log`) and syslog (`<host>.syslog`).
    pub async fn collect_logs(&self, lab: &Lab) {
        for host in &lab.hosts {
            let log = lab.engine.logs(&host.container).await.unwrap_or_else(|e| format!("(no container log: {e:#})\n"));
            self.write(&format!("{}.log", host.name), &log);
            let syslog = match lab.sh(&host.name, "cat /var/log/syslog").await {
                Ok(out) => out.stdout + &out.stderr,
                Err(e) => format!("(no syslog: {e:#})\n"),
            };
            self.write(&format!("{}.syslog", host.name), &syslog);
        }
    }

    /// timings.json and summary.md, from the events.
    pub fn finish(&self, title: &str, file: &str, outcome: &str) {
        let mut timings = Timings { waits: Vec::new(), measures: BTreeMap::new() };
        let mut last_fault: Option<&Event> = None;
        for e in &self.events {
            if let Some(m) = &e.measure {
                timings.measures.insert(&m.name, m);
            }
            match e.kind.as_str() {
                "fault" if e.outcome == "ok" => last_fault = Some(e),
                "wait" if e.outcome == "ok" => timings.waits.push(Timing {
                    step: e.step,
                    what: &e.what,
                    waited_ms: e.elapsed_ms,
                    since_fault_ms: last_fault.map(|f| e.end_ms.saturating_sub(f.end_ms)),
                    fault: last_fault.map(|f| f.what.as_str()),
                }),
                _ => {}
            }
        }
        match serde_json::to_string_pretty(&timings) {
            Ok(json) => self.write("timings.json", &(json + "\n")),
            Err(e) => eprintln!("arcus-lab: timings.json: {e}"),
        }
        let mut md = format!(
            "# {title}\n\n{file}: **{outcome}**\n\n| step | kind | what | ms | outcome |\n|---|---|---|---|---|\n"
        );
        for e in &self.events {
            let step = e.step.map(|s| s.to_string()).unwrap_or_default();
            let what = e.what.replace('|', "\\|");
            md.push_str(&format!("| {step} | {} | {what} | {} | {} |\n", e.kind, e.elapsed_ms, e.outcome));
        }
        let measures: Vec<&Event> = self.events.iter().filter(|e| e.measure.is_some()).collect();
        if !measures.is_empty() {
            md.push_str("\n## Measures\n\n");
            for e in measures {
                md.push_str(&format!("- {} ({})\n", e.detail, e.outcome));
            }
        }
        self.write("summary.md", &md);
    }
}
