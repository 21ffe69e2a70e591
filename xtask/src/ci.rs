//! `cargo xtask ci ...`: what a CI job needs besides `cargo xtask test`: the image references the
//! inputs hash to (the key of the image cache), and a markdown summary of the scenario runs under
//! `target/arcus-lab/runs/` (for `$GITHUB_STEP_SUMMARY`).

use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use arcus_lab::{Engine, Progress};
use clap::Subcommand;
use serde_json::Value;

use crate::image_args::ImageArgs;

#[derive(Subcommand)]
pub enum CiCommand {
    /// Print the base and host image references the current inputs hash to, one a line, building
    /// nothing (CI keys its image cache by them and `docker save`s them); with --build, build the
    /// missing ones first.
    Images {
        #[arg(long)]
        build: bool,
        #[command(flatten)]
        images: ImageArgs,
    },
    /// Render every scenario run under target/arcus-lab/runs/ as markdown: each run's scenario,
    /// outcome and time, then the timings the scenarios measured.
    Summary,
}

pub async fn run(cmd: CiCommand) -> Result<ExitCode> {
    match cmd {
        CiCommand::Images { build, images } => {
            images.apply();
            let engine = Engine::connect().await?;
            if build {
                arcus_lab::images::ensure_host(&engine, &Progress::stderr()).await?;
            }
            for reference in arcus_lab::images::references(&engine).await? {
                println!("{reference}");
            }
        }
        CiCommand::Summary => print!("{}", summary(&arcus_lab::paths::state_dir().join("runs"))?),
    }
    Ok(ExitCode::SUCCESS)
}

/// One scenario run as its directory tells it.
struct Run {
    id: String,
    title: String,
    file: String,
    outcome: String,
    start_ms: u64,
    seconds: f64,
    /// The first failed event: `step N kind what: detail`.
    failure: Option<String>,
    timings: Value,
}

/// The markdown for every run directory under `runs` that has a `summary.md` (a scenario's run;
/// `lab up` and other tests leave none), oldest first.
pub fn summary(runs: &Path) -> Result<String> {
    let mut all = Vec::new();
    if runs.is_dir() {
        for entry in std::fs::read_dir(runs).with_context(|| format!("read {}", runs.display()))? {
            let dir = entry?.path();
            if !dir.is_symlink() && dir.join("summary.md").is_file() {
                all.push(read_run(&dir)?);
            }
        }
    }
    all.sort_by(|a, b| (a.start_ms, &a.id).cmp(&(b.start_ms, &b.id)));
    let mut md = String::new();
    let passed = all.iter().filter(|r| r.outcome == "steps passed").count();
    writeln!(md, "## Scenario runs: {} ({passed} passed their steps)\n", all.len())?;
    if all.is_empty() {
        writeln!(md, "No scenario ran (no run directory with a summary.md under {}).", runs.display())?;
        return Ok(md);
    }
    writeln!(md, "| scenario | file | outcome | seconds | run |\n|---|---|---|---:|---|")?;
    for r in &all {
        // a failed run says where in its first failed event; an interrupted one says it itself
        let outcome = match &r.failure {
            Some(failure) if r.outcome.starts_with("failed") || r.outcome == "teardown failed" => {
                format!("{} ({})", r.outcome, cell(failure, 160))
            }
            _ => r.outcome.clone(),
        };
        writeln!(md, "| {} | {} | {outcome} | {:.1} | `{}` |", cell(&r.title, 100), r.file, r.seconds, r.id)?;
    }
    let mut measures = String::new();
    let mut waits = String::new();
    for r in &all {
        let name = Path::new(&r.file).file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        for (measure, m) in r.timings["measures"].as_object().into_iter().flatten() {
            let bound = |key: &str| m[key].as_u64().map(seconds).unwrap_or_else(|| "-".into());
            let bounds = if m["min_ms"].is_null() && m["max_ms"].is_null() {
                String::new()
            } else {
                format!("{}..{}", bound("min_ms"), bound("max_ms"))
            };
            let value = m["ms"].as_u64().map(seconds).unwrap_or_default();
            writeln!(measures, "| {name} | `{}` | {} | {value} | {bounds} |", r.id, cell(measure, 60))?;
        }
        for w in r.timings["waits"].as_array().into_iter().flatten() {
            let since = match (w["since_fault_ms"].as_u64(), w["fault"].as_str()) {
                (Some(ms), Some(fault)) => format!("{} after {}", seconds(ms), cell(fault, 60)),
                _ => "-".into(),
            };
            let waited = w["waited_ms"].as_u64().map(seconds).unwrap_or_default();
            let what = cell(w["what"].as_str().unwrap_or(""), 80);
            writeln!(waits, "| {name} | `{}` | {} | {what} | {waited} | {since} |", r.id, w["step"])?;
        }
    }
    if !measures.is_empty() {
        writeln!(
            md,
            "\n### Measures\n\n| scenario | run | measure | value | bounds |\n|---|---|---|---:|---|\n{measures}"
        )?;
    }
    if !waits.is_empty() {
        writeln!(
            md,
            "\n### Waits\n\n| scenario | run | step | condition | waited | since the last fault |\n|---|---|---:|---|---:|---|"
        )?;
        md.push_str(&waits);
    }
    Ok(md)
}

fn read_run(dir: &Path) -> Result<Run> {
    let read = |name: &str| {
        let path = dir.join(name);
        std::fs::read_to_string(&path).with_context(|| format!("read {}", path.display()))
    };
    // summary.md starts `# <title>`, then `<file>: **<outcome>**`
    let summary = read("summary.md")?;
    let mut lines = summary.lines().filter(|l| !l.trim().is_empty());
    let title = lines.next().unwrap_or_default().trim_start_matches("# ").to_string();
    let (file, outcome) = lines
        .next()
        .and_then(|l| l.rsplit_once(": **"))
        .map(|(file, outcome)| (file.to_string(), outcome.trim_end_matches("**").to_string()))
        .with_context(|| format!("{}/summary.md: no `<file>: **<outcome>**` line", dir.display()))?;
    let events: Vec<Value> =
        read("events.jsonl").unwrap_or_default().lines().filter_map(|line| serde_json::from_str(line).ok()).collect();
    let start_ms = events.iter().filter_map(|e| e["start_ms"].as_u64()).min().unwrap_or(0);
    let end_ms = events.iter().filter_map(|e| e["end_ms"].as_u64()).max().unwrap_or(start_ms);
    let failure = events.iter().find(|e| e["outcome"] != "ok").map(|e| {
        let step = e["step"].as_u64().map(|s| format!("step {s} ")).unwrap_or_default();
        let (kind, what, detail) = (e["kind"].as_str(), e["what"].as_str(), e["detail"].as_str());
        format!("{step}{} {}: {}", kind.unwrap_or(""), what.unwrap_or(""), detail.unwrap_or(""))
    });
    let timings = read("timings.json").ok().and_then(|t| serde_json::from_str(&t).ok()).unwrap_or(Value::Null);
    Ok(Run {
        id: dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
        title,
        file,
        outcome,
        start_ms,
        seconds: end_ms.saturating_sub(start_ms) as f64 / 1000.0,
        failure,
        timings,
    })
}

/// Text fit for one table cell: one line, no column break, at most `max` characters.
fn cell(text: &str, max: usize) -> String {
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ").replace('|', "\\|");
    match line.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line,
    }
}

fn seconds(ms: u64) -> String {
    format!("{:.3} s", ms as f64 / 1000.0)
}
