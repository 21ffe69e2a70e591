//! `cargo xtask conformance --arcus PREFIX | --arcus-src DIR [SCENARIO...]`: runs the scenarios on
//! the reference node and on a real arcus-memcached, one after the other, and writes one report,
//! `target/arcus-lab/conformance.md` and `.json`: per scenario and snapshot, whether each flavour
//! took the stored snapshot (and the diff where not), and the timings each measured, side by side.

use std::collections::BTreeMap;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use arcus_lab::interrupt::Interrupted;
use arcus_lab::scenario::{self, Policy, RunOptions, Snapshots, TakenSnapshot, Verdict};
use arcus_lab::{paths, Engine, Flavour, Progress};
use clap::Args;
use serde::Serialize;

use crate::flavour_args::FlavourArgs;

#[derive(Args)]
pub struct ConformanceArgs {
    /// The real node to compare with the reference node (one of the two is required).
    #[command(flatten)]
    flavour: FlavourArgs,
    /// Scenario files or names; default: every file under scenarios/.
    scenarios: Vec<String>,
}

/// One flavour's run of one scenario.
#[derive(Serialize)]
struct FlavourRun {
    /// `passed` (every step), or the failing step's message.
    steps: String,
    seconds: f64,
    run_dir: String,
    /// snapshot name → `equal`, `missing` or the diff from the stored snapshot.
    snapshots: BTreeMap<String, String>,
    /// timings.json's measures and waits (since the last fault where there was one), in milliseconds.
    timings: BTreeMap<String, u64>,
}

#[derive(Serialize)]
struct ScenarioRow {
    scenario: String,
    reference: FlavourRun,
    arcus: FlavourRun,
}

pub async fn run(args: ConformanceArgs) -> Result<ExitCode> {
    if args.flavour.arcus.is_none() && args.flavour.arcus_src.is_none() {
        bail!("conformance compares the reference node with a real one: give --arcus PREFIX or --arcus-src DIR");
    }
    let engine = Engine::connect().await?;
    let arcus = args.flavour.flavour(&engine, &Progress::stderr()).await?;
    let files = if args.scenarios.is_empty() {
        paths::scenario_files().context("read scenarios/")?
    } else {
        args.scenarios.iter().map(|name| crate::lab::scenario_file(name)).collect::<Result<_>>()?
    };
    // every file is checked before the first lab starts
    let scenarios = files.iter().map(|file| Ok(scenario::parse(file)?)).collect::<Result<Vec<_>>>()?;
    let mut rows = Vec::new();
    for scenario in &scenarios {
        eprintln!("==> {}", scenario.name);
        let reference = run_one(scenario, Flavour::Reference).await?;
        let real = run_one(scenario, arcus.clone()).await?;
        rows.push(ScenarioRow { scenario: scenario.name.clone(), reference, arcus: real });
    }
    let out = paths::state_dir();
    std::fs::create_dir_all(&out)?;
    let json = out.join("conformance.json");
    std::fs::write(&json, serde_json::to_string_pretty(&rows)? + "\n")
        .with_context(|| format!("write {}", json.display()))?;
    let md = out.join("conformance.md");
    std::fs::write(&md, markdown(&rows, &arcus)).with_context(|| format!("write {}", md.display()))?;
    let (equal, total) = count_equal(&rows);
    println!("{equal} of {total} runs equal (every step passed, every snapshot as stored); report: {}", md.display());
    Ok(if equal == total { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// One run; a failed step is part of the report, a signal ends the whole command.
async fn run_one(scenario: &scenario::Scenario, flavour: Flavour) -> Result<FlavourRun> {
    let options = RunOptions::reporting(flavour);
    let started = std::time::Instant::now();
    Ok(match scenario::run(scenario, &options).await {
        Err(e) if Interrupted::in_chain(&e).is_some() => return Err(e),
        Ok(report) => FlavourRun {
            steps: "passed".into(),
            seconds: report.elapsed.as_secs_f64(),
            timings: timings(&report.run_dir),
            run_dir: report.run_dir.display().to_string(),
            snapshots: report.snapshots.iter().map(|s| (s.name.clone(), verdict(scenario, s))).collect(),
        },
        Err(e) => FlavourRun {
            steps: format!("{e:#}").lines().next().unwrap_or_default().to_string(),
            seconds: started.elapsed().as_secs_f64(),
            run_dir: String::new(),
            snapshots: BTreeMap::new(),
            timings: BTreeMap::new(),
        },
    })
}

/// `equal`, `missing` (with what was taken), or the diff from the stored snapshot to what was
/// taken: the suite's own check, writing nothing.
fn verdict(scenario: &scenario::Scenario, taken: &TakenSnapshot) -> String {
    let snapshots = Snapshots::new(paths::snapshots_dir());
    let source = scenario.file.display().to_string();
    match snapshots.check(Policy::CheckOnly, &scenario.name, &taken.name, &source, &taken.description, &taken.text) {
        Ok(Verdict::Matches) => "equal".into(),
        Ok(Verdict::Missing { diff, .. }) => format!("missing:\n{diff}"),
        Ok(Verdict::Differs { diff, .. }) => diff,
        Err(e) => format!("unreadable: {e}"),
    }
}

/// The run's timings.json, flattened: each measure and each wait's time since the last fault.
fn timings(run_dir: &std::path::Path) -> BTreeMap<String, u64> {
    let Ok(text) = std::fs::read_to_string(run_dir.join("timings.json")) else { return BTreeMap::new() };
    let Ok(json) = serde_json::from_str::<serde_json::Value>(&text) else { return BTreeMap::new() };
    let mut out = BTreeMap::new();
    if let Some(measures) = json.get("measures").and_then(|m| m.as_object()) {
        for (name, m) in measures {
            if let Some(ms) = m.get("ms").or_else(|| m.get("elapsed_ms")).and_then(|v| v.as_u64()) {
                out.insert(name.clone(), ms);
            }
        }
    }
    if let Some(waits) = json.get("waits").and_then(|w| w.as_array()) {
        for wait in waits {
            let what = wait.get("what").and_then(|v| v.as_str()).unwrap_or("wait");
            let step = wait.get("step").and_then(|v| v.as_u64()).unwrap_or(0);
            if let Some(ms) = wait.get("since_fault_ms").and_then(|v| v.as_u64()) {
                out.insert(format!("step {step}: {what} (after the fault)"), ms);
            } else if let Some(ms) = wait.get("waited_ms").and_then(|v| v.as_u64()) {
                out.insert(format!("step {step}: {what} (waited)"), ms);
            }
        }
    }
    out
}

fn count_equal(rows: &[ScenarioRow]) -> (usize, usize) {
    let mut equal = 0;
    let mut total = 0;
    for row in rows {
        for run in [&row.reference, &row.arcus] {
            total += 1;
            if run.steps == "passed" && run.snapshots.values().all(|v| v == "equal") {
                equal += 1;
            }
        }
    }
    (equal, total)
}

fn markdown(rows: &[ScenarioRow], arcus: &Flavour) -> String {
    let mut md = format!(
        "# Conformance: the reference node and {}\n\nEach scenario ran once per flavour on a fresh lab \
         (profile fast). `equal`: every step passed and every snapshot equals the stored one.\n\n\
         | scenario | snapshots | reference | arcus-memcached |\n|---|---|---|---|\n",
        arcus.name()
    );
    let cell = |run: &FlavourRun| {
        if run.steps != "passed" {
            return format!("failed: {}", run.steps.replace('|', "\\|"));
        }
        let differing: Vec<&str> =
            run.snapshots.iter().filter(|(_, v)| *v != "equal").map(|(k, _)| k.as_str()).collect();
        if differing.is_empty() {
            format!("equal ({:.1} s)", run.seconds)
        } else {
            format!("differs: {}", differing.join(", "))
        }
    };
    for row in rows {
        let names: Vec<&String> = row.reference.snapshots.keys().chain(row.arcus.snapshots.keys()).collect();
        let count = names.iter().collect::<std::collections::BTreeSet<_>>().len();
        md.push_str(&format!("| {} | {count} | {} | {} |\n", row.scenario, cell(&row.reference), cell(&row.arcus)));
    }
    let (equal, total) = count_equal(rows);
    md.push_str(&format!("\n{equal} of {total} runs equal.\n\n## Timings (ms), side by side\n\n| scenario | timing | reference | arcus-memcached |\n|---|---|---|---|\n"));
    for row in rows {
        let keys: std::collections::BTreeSet<&String> =
            row.reference.timings.keys().chain(row.arcus.timings.keys()).collect();
        for key in keys {
            let get = |run: &FlavourRun| run.timings.get(key).map_or("–".to_string(), |v| v.to_string());
            md.push_str(&format!("| {} | {key} | {} | {} |\n", row.scenario, get(&row.reference), get(&row.arcus)));
        }
    }
    let diffs: Vec<String> = rows
        .iter()
        .flat_map(|row| {
            [("reference", &row.reference), ("arcus-memcached", &row.arcus)].into_iter().flat_map(move |(who, run)| {
                run.snapshots
                    .iter()
                    .filter(|(_, v)| *v != "equal")
                    .map(move |(name, diff)| format!("### {}@{name} on {who}\n\n```diff\n{diff}\n```\n", row.scenario))
            })
        })
        .collect();
    if !diffs.is_empty() {
        md.push_str("\n## Differences\n\n");
        md.push_str(&diffs.join("\n"));
    }
    md
}
