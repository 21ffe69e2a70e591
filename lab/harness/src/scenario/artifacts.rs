//! A run's directory `target/arcus-lab/runs/<run-id>/`: `events.jsonl` (one line per setup, step
//! and teardown, with times and outcome), each observed step's raw output, and the `latest` link.

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};

use crate::lab::RunId;
use crate::paths;

pub(super) struct RunDir {
    pub dir: PathBuf,
    events: File,
}

/// One line of events.jsonl; times are milliseconds since the Unix epoch.
#[derive(serde::Serialize)]
pub(super) struct Event<'a> {
    /// `setup`, `step`, `teardown`.
    pub phase: &'a str,
    pub step: Option<usize>,
    pub kind: &'a str,
    pub what: &'a str,
    pub start_ms: u128,
    pub end_ms: u128,
    pub elapsed_ms: u128,
    /// `ok` or `failed`.
    pub outcome: &'a str,
    pub detail: &'a str,
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
        let events =
            File::create(dir.join("events.jsonl")).with_context(|| format!("create {}/events.jsonl", dir.display()))?;
        let latest = runs.join("latest");
        let _ = std::fs::remove_file(&latest);
        std::os::unix::fs::symlink(run.as_str(), &latest).with_context(|| format!("link {}", latest.display()))?;
        Ok(RunDir { dir, events })
    }

    /// Appends an event. A record that cannot be written is reported on stderr and does not
    /// stop the run (the lab must still be torn down).
    pub fn event(&mut self, event: &Event<'_>) {
        let written = serde_json::to_string(event).map_err(anyhow::Error::from).and_then(|line| {
            writeln!(self.events, "{line}").with_context(|| format!("write {}/events.jsonl", self.dir.display()))
        });
        if let Err(e) = written {
            eprintln!("arcus-lab: {e:#}");
        }
    }

    /// Writes a file of the run (a step's raw output); like `event`, never fails the run.
    pub fn write(&self, name: &str, content: &str) {
        let path = self.dir.join(name);
        if let Err(e) = std::fs::write(&path, content) {
            eprintln!("arcus-lab: write {}: {e}", path.display());
        }
    }
}
