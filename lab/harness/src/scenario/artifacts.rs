//! A run's directory `target/arcus-lab/runs/<run-id>/`: `events.jsonl` (one line per setup, step,
//! heal before teardown and teardown, with times and outcome; a measure step's line carries its
//! measurement), each observing step's raw output, every host's container log and syslog,
//! `timings.json` (`waits`: each wait and its time since the last fault; `measures`: each measure
//! step's value by name), `summary.md`, and the `runs/latest` link. The timings are kept from the
//! steps' typed observations as they happen. A run with traffic adds `client.jsonl` (written by
//! the load as it runs), `client.json` (the client view's report), `timeline.html`, and the
//! report's section in `summary.md`.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};

use arcus_client::Report;

use super::observation::{Measurement, Observation};
use super::traffic::TrafficBounds;
use crate::lab::{Lab, RunId};
use crate::paths;
use crate::probe::client::ClientEnd;

pub(super) struct RunDir {
    pub dir: PathBuf,
    file: File,
    events: Vec<Event>,
    timings: Timings,
    /// The end of the last fault step and what it did.
    last_fault: Option<(u128, String)>,
    /// The client view's section of summary.md, once its report is written.
    client_section: Option<String>,
}

/// One line of events.jsonl; times are milliseconds since the Unix epoch.
#[derive(Debug, Clone, serde::Serialize)]
pub(super) struct Event {
    /// `setup`, `step`, `teardown` (its `heal` event, then the teardown itself), and last, when a
    /// signal stopped the run, `interrupted` (its detail says where).
    pub phase: &'static str,
    pub step: Option<usize>,
    pub kind: String,
    pub what: String,
    pub start_ms: u128,
    pub end_ms: u128,
    pub elapsed_ms: u128,
    /// `ok`, `failed`, or `interrupted` (the phase or step a signal cut short).
    pub outcome: &'static str,
    pub detail: String,
    /// A measure step's measurement (also when it failed its bounds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub measure: Option<Measurement>,
}

impl Event {
    /// An event ending now.
    pub fn new(
        phase: &'static str,
        step: Option<usize>,
        kind: &str,
        what: &str,
        start_ms: u128,
        outcome: Result<String, String>,
    ) -> Event {
        let end_ms = now_ms();
        let (outcome, detail) = match outcome {
            Ok(detail) => ("ok", detail),
            Err(e) => ("failed", e),
        };
        Event {
            phase,
            step,
            kind: kind.into(),
            what: what.into(),
            start_ms,
            end_ms,
            elapsed_ms: end_ms.saturating_sub(start_ms),
            outcome,
            detail,
            measure: None,
        }
    }
}

/// timings.json.
#[derive(Default, serde::Serialize)]
struct Timings {
    waits: Vec<WaitTiming>,
    /// By measure name.
    measures: BTreeMap<String, Measurement>,
}

/// One line of timings.json: how long a wait took, and how long after the last fault it ended
/// (a failover time, a removal delay).
#[derive(serde::Serialize)]
struct WaitTiming {
    step: usize,
    what: String,
    waited_ms: u128,
    since_fault_ms: Option<u128>,
    fault: Option<String>,
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
        Ok(RunDir {
            dir,
            file,
            events: Vec::new(),
            timings: Timings::default(),
            last_fault: None,
            client_section: None,
        })
    }

    /// Appends an event. A record that cannot be written is reported on stderr and does not
    /// stop the run (the lab must still be torn down).
    pub fn record(&mut self, event: Event) {
        let written = serde_json::to_string(&event).map_err(anyhow::Error::from).and_then(|line| {
            writeln!(self.file, "{line}").with_context(|| format!("write {}/events.jsonl", self.dir.display()))
        });
        if let Err(e) = written {
            eprintln!("arcus-lab: {e:#}");
        }
        if let Some(m) = &event.measure {
            self.timings.measures.insert(m.name.clone(), m.clone());
        }
        self.events.push(event);
    }

    /// Notes what a passed step observed for timings.json: a fault's end, a wait's time since it.
    pub fn observed(&mut self, observed: &Observation, step: usize, what: &str, end_ms: u128) {
        match observed {
            Observation::Fault(_) => self.last_fault = Some((end_ms, what.to_string())),
            Observation::Waited { .. } => {
                let started = self.events.last().map(|e| e.start_ms).unwrap_or(end_ms);
                self.timings.waits.push(WaitTiming {
                    step,
                    what: what.to_string(),
                    waited_ms: end_ms.saturating_sub(started),
                    since_fault_ms: self.last_fault.as_ref().map(|(end, _)| end_ms.saturating_sub(*end)),
                    fault: self.last_fault.as_ref().map(|(_, what)| what.clone()),
                });
            }
            _ => {}
        }
    }

    /// Writes a file of the run; like `record`, never fails the run.
    pub fn write(&self, name: &str, content: &str) {
        let path = self.dir.join(name);
        if let Err(e) = std::fs::write(&path, content) {
            eprintln!("arcus-lab: write {}: {e}", path.display());
        }
    }

    /// The client view's report from the stopped traffic: `client.json`, `timeline.html` and the
    /// section of summary.md; returns the bounds it does not keep.
    pub fn client_report(&mut self, end: &ClientEnd, bounds: &TrafficBounds) -> Result<Vec<String>> {
        let records = arcus_client::report::read_records(&end.records)?;
        let report = Report::compute(records, &end.events, &end.markers, end.totals.started)
            .context("compute the client view's report")?;
        let json = serde_json::to_string_pretty(&report).context("client.json")?;
        std::fs::write(self.dir.join("client.json"), json + "\n")
            .with_context(|| format!("write {}/client.json", self.dir.display()))?;
        std::fs::write(self.dir.join("timeline.html"), arcus_client::timeline::render(&report))
            .with_context(|| format!("write {}/timeline.html", self.dir.display()))?;
        let violations = bounds.violations(&report);
        let mut section = report.markdown();
        if !violations.is_empty() {
            section.push_str("\n**Bounds not kept:**\n\n");
            for v in &violations {
                section.push_str(&format!("- {v}\n"));
            }
        }
        self.client_section = Some(section);
        Ok(violations)
    }

    /// Every host's container output (`<host>.log`) and syslog (`<host>.syslog`).
    pub async fn collect_logs(&self, lab: &Lab) {
        for host in &lab.hosts {
            let log = lab.engine.logs(&host.container).await.unwrap_or_else(|e| format!("(no container log: {e:#})\n"));
            self.write(&format!("{}.log", host.name), &log);
            let syslog = match lab.sh(host.name, "cat /var/log/syslog").await {
                Ok(out) => out.stdout + &out.stderr,
                Err(e) => format!("(no syslog: {e:#})\n"),
            };
            self.write(&format!("{}.syslog", host.name), &syslog);
        }
    }

    /// timings.json and summary.md.
    pub fn finish(&self, title: &str, file: &str, outcome: &str) {
        match serde_json::to_string_pretty(&self.timings) {
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
        if let Some(section) = &self.client_section {
            md.push('\n');
            md.push_str(section);
        }
        self.write("summary.md", &md);
    }
}
