//! `cargo xtask bench client [--arcus PREFIX | --arcus-src DIR] [--max-rate [RATE]] [SCENARIO...]`:
//! what each failure story costs a client. Runs the scenarios that have traffic (each on a fresh
//! lab, the reference node, then with `--arcus`/`--arcus-src` the real one) and prints one table
//! from their `client.json`: per story the seconds unavailable (the longest of any node), the
//! share of keys affected, failed operations and values lost, side by side →
//! `target/arcus-lab/bench/client.json`. With `--max-rate` instead: the generator's throughput
//! against a lab (the runbook's cloud) at that rate for a while, with this process's CPU share →
//! `target/arcus-lab/bench/client-throughput.json`.

use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use arcus_lab::cloud::{self, Level, Step, UpOptions};
use arcus_lab::interrupt::{self, Interrupted};
use arcus_lab::lab as labs;
use arcus_lab::probe::client::ClientRun;
use arcus_lab::scenario::{self, RunOptions};
use arcus_lab::{paths, Engine, Flavour, LabSpec, Progress, Timing};
use clap::Args;
use serde::Serialize;

use crate::flavour_args::FlavourArgs;

#[derive(Args)]
pub struct BenchClientArgs {
    /// Also run the stories on a real node, side by side with the reference node.
    #[command(flatten)]
    flavour: FlavourArgs,
    /// Instead of the stories: the load's throughput against a lab at this rate (ops/s; 30000
    /// when no rate is given), with the harness's CPU share.
    #[arg(long, value_name = "RATE", num_args = 0..=1, default_missing_value = "30000")]
    max_rate: Option<u32>,
    /// How long the throughput load runs.
    #[arg(long, default_value = "15s", value_parser = arcus_lab::keys::parse_duration)]
    seconds: Duration,
    /// Scenario files or names; default: every scenario with traffic.
    scenarios: Vec<String>,
}

/// One story's client-visible cost on one node flavour.
#[derive(Serialize, Clone, Default)]
struct Cost {
    /// `passed`, or the failure's first line.
    outcome: String,
    /// The longest unavailable time of any one node.
    unavailable_s: f64,
    keys_affected_share: f64,
    failed_ops: u64,
    lost_values: u64,
    ops: u64,
    run_dir: String,
}

#[derive(Serialize)]
struct Row {
    scenario: String,
    reference: Cost,
    arcus: Option<Cost>,
}

pub async fn run(args: BenchClientArgs) -> Result<ExitCode> {
    if let Some(rate) = args.max_rate {
        return throughput(rate, args.seconds).await;
    }
    let engine = Engine::connect().await?;
    let real = match (&args.flavour.arcus, &args.flavour.arcus_src) {
        (None, None) => None,
        _ => Some(args.flavour.flavour(&engine, &Progress::stderr()).await?),
    };
    let files = if args.scenarios.is_empty() {
        paths::scenario_files().context("read scenarios/")?
    } else {
        args.scenarios.iter().map(|name| crate::lab::scenario_file(name)).collect::<Result<_>>()?
    };
    let scenarios = files.iter().map(|file| Ok(scenario::parse(file)?)).collect::<Result<Vec<_>>>()?;
    let with_traffic: Vec<_> = scenarios.into_iter().filter(|s| s.traffic.is_some()).collect();
    anyhow::ensure!(!with_traffic.is_empty(), "none of the scenarios has traffic ([traffic] or traffic steps)");
    let mut rows = Vec::new();
    for scenario in &with_traffic {
        eprintln!("==> {}", scenario.name);
        let reference = cost(scenario, Flavour::Reference).await?;
        let arcus = match &real {
            Some(flavour) => Some(cost(scenario, flavour.clone()).await?),
            None => None,
        };
        rows.push(Row { scenario: scenario.name.clone(), reference, arcus });
    }
    print!("{}", table(&rows));
    let dir = paths::state_dir().join("bench");
    std::fs::create_dir_all(&dir)?;
    let file = dir.join("client.json");
    std::fs::write(&file, serde_json::to_string_pretty(&rows)? + "\n")
        .with_context(|| format!("write {}", file.display()))?;
    println!("written to {}", file.display());
    let passed =
        rows.iter().all(|r| r.reference.outcome == "passed" && r.arcus.as_ref().is_none_or(|a| a.outcome == "passed"));
    Ok(if passed { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// One run of a story; its client.json's figures (a failed run is a row too, with what it has).
async fn cost(scenario: &scenario::Scenario, flavour: Flavour) -> Result<Cost> {
    let options = RunOptions::reporting(flavour);
    let (outcome, run_dir) = match scenario::run(scenario, &options).await {
        Err(e) if Interrupted::in_chain(&e).is_some() => return Err(e),
        Ok(report) => ("passed".to_string(), Some(report.run_dir)),
        Err(e) => {
            let text = format!("{e:#}");
            // the run directory is named in the message: its report is read all the same
            let dir = text.split("run directory ").nth(1).and_then(|rest| rest.split([';', '\n', ':']).next());
            (text.lines().next().unwrap_or_default().to_string(), dir.map(|d| d.trim().into()))
        }
    };
    let mut cost = Cost { outcome, ..Cost::default() };
    if let Some(dir) = run_dir {
        read_report(&dir, &mut cost);
        cost.run_dir = dir.display().to_string();
    }
    Ok(cost)
}

/// Fills the figures from `dir/client.json` (left at zero when there is none).
fn read_report(dir: &Path, cost: &mut Cost) {
    let Ok(text) = std::fs::read_to_string(dir.join("client.json")) else { return };
    let Ok(report) = serde_json::from_str::<serde_json::Value>(&text) else { return };
    let longest = report["nodes"]
        .as_array()
        .map(|nodes| nodes.iter().filter_map(|n| n["unavailable_ms"].as_f64()).fold(0.0, f64::max))
        .unwrap_or(0.0);
    cost.unavailable_s = longest / 1000.0;
    cost.keys_affected_share = report["keys_affected_share"].as_f64().unwrap_or(0.0);
    cost.failed_ops = report["failed"].as_u64().unwrap_or(0);
    cost.lost_values = report["lost_values"].as_u64().unwrap_or(0);
    cost.ops = report["ops"].as_u64().unwrap_or(0);
}

/// The table: one row per story, the real node's figures beside the reference's when there are.
fn table(rows: &[Row]) -> String {
    let real = rows.iter().any(|r| r.arcus.is_some());
    let cells = |c: &Cost| {
        let mark = if c.outcome == "passed" { "" } else { " (failed)" };
        format!(
            "{:.1} s | {:.1} % | {} | {}{mark}",
            c.unavailable_s,
            c.keys_affected_share * 100.0,
            c.failed_ops,
            c.lost_values
        )
    };
    let mut out = if real {
        "| story | unavailable | keys affected | failed ops | values lost | unavailable (1.15.0) | keys affected (1.15.0) | failed ops (1.15.0) | values lost (1.15.0) |\n|---|---|---|---|---|---|---|---|---|\n".to_string()
    } else {
        "| story | unavailable | keys affected | failed ops | values lost |\n|---|---|---|---|---|\n".to_string()
    };
    for row in rows {
        out.push_str(&format!("| {} | {}", row.scenario, cells(&row.reference)));
        if let Some(arcus) = &row.arcus {
            out.push_str(&format!(" | {}", cells(arcus)));
        } else if real {
            out.push_str(" | – | – | – | –");
        }
        out.push_str(" |\n");
    }
    out
}

/// The process's CPU time so far (user + system).
fn cpu_time() -> Duration {
    // SAFETY: getrusage fills the struct it is given
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let tv = |t: libc::timeval| Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// The load at `rate` for `length` against a fresh cloud of the runbook's shape (reference node).
async fn throughput(rate: u32, length: Duration) -> Result<ExitCode> {
    let engine = Engine::connect().await?;
    let spec = LabSpec::owned();
    let options = UpOptions { lab: spec, level: Level::Runbook(Step::List) };
    eprintln!("bringing up a lab (the runbook's cloud, reference node) ...");
    let lab = cloud::up(&engine, &options, &Progress::stderr()).await?;
    let dir = paths::state_dir().join("bench");
    std::fs::create_dir_all(&dir)?;
    let records = dir.join("client-throughput.jsonl");
    let measured = interrupt::or_interrupt(async {
        let mut load = arcus_client::LoadSpec { rate, ..arcus_client::LoadSpec::default() };
        load.keys = 10_000;
        let service = lab.topology.services[0].clone();
        let (cpu0, wall0) = (cpu_time(), Instant::now());
        let run = ClientRun::start(&lab, &service, load, &records, Timing::Fast.zk_connect()).await?;
        tokio::time::sleep(length).await; // the load runs: this is what is measured
        let end = run.stop().await?;
        let (cpu, wall) = (cpu_time() - cpu0, wall0.elapsed());
        anyhow::Ok((end.totals, cpu, wall))
    })
    .await;
    labs::undo(&engine, &options.lab).await?;
    let (totals, cpu, wall) = measured??;
    let _ = std::fs::remove_file(&records);
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let share = cpu.as_secs_f64() / wall.as_secs_f64();
    let failed = totals.errors + totals.timeouts + totals.refused;
    println!("{:<48} {:>12}", "measure", "value");
    println!("{:<48} {:>12}", "asked rate (ops/s)", rate);
    println!("{:<48} {:>12.0}", "sustained (ops/s, recorded ops over the load)", totals.ops_per_sec);
    println!("{:<48} {:>12}", "operations", totals.ops);
    println!("{:<48} {:>12}", "failed (error, timeout, refused)", failed);
    println!("{:<48} {:>12}", "issued late (generator behind)", totals.behind);
    println!("{:<48} {:>11.0} %", "harness CPU (of one core)", share * 100.0);
    println!(
        "{:<48} {:>11.0} %",
        format!("harness CPU (of the machine's {cores} cores)"),
        share * 100.0 / cores as f64
    );
    let json = serde_json::json!({
        "rate": rate,
        "seconds": length.as_secs_f64(),
        "ops": totals.ops,
        "ops_per_sec": totals.ops_per_sec,
        "failed": failed,
        "behind": totals.behind,
        "cpu_seconds": cpu.as_secs_f64(),
        "wall_seconds": wall.as_secs_f64(),
        "cpu_share_of_one_core": share,
        "cores": cores,
    });
    let file = dir.join("client-throughput.json");
    std::fs::write(&file, serde_json::to_string_pretty(&json)? + "\n")
        .with_context(|| format!("write {}", file.display()))?;
    println!("written to {}", file.display());
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_puts_the_real_node_beside_the_reference() {
        let cost = |s: f64, failed: u64| Cost {
            outcome: "passed".into(),
            unavailable_s: s,
            failed_ops: failed,
            keys_affected_share: 0.25,
            ..Cost::default()
        };
        let rows = vec![
            Row { scenario: "s04_node_sigkill".into(), reference: cost(9.8, 3100), arcus: Some(cost(9.4, 2900)) },
            Row { scenario: "s05_node_sigint".into(), reference: cost(0.0, 0), arcus: None },
        ];
        let text = table(&rows);
        assert!(
            text.contains("| s04_node_sigkill | 9.8 s | 25.0 % | 3100 | 0 | 9.4 s | 25.0 % | 2900 | 0 |"),
            "{text}"
        );
        assert!(text.contains("| s05_node_sigint | 0.0 s | 25.0 % | 0 | 0 | – | – | – | – |"), "{text}");
        let alone = table(&rows[1..]);
        assert!(alone.starts_with("| story | unavailable | keys affected | failed ops | values lost |\n"), "{alone}");
    }
}
