//! `cargo xtask test`: the README's test command. Sweeps abandoned labs, builds the images with
//! a progress display (so no test waits on a cold build), then runs cargo-nextest on the whole
//! workspace (profile `ci` when `CI=true`), or on one shard of it (`--shard K/N`).

use std::process::ExitCode;

use anyhow::{Context, Result};
use arcus_lab::interrupt::{self, Interrupted};
use arcus_lab::{Engine, Flavour, Progress};
use clap::Args;

use crate::child;
use crate::flavour_args::FlavourArgs;
use crate::image_args::ImageArgs;

#[derive(Args)]
pub struct TestArgs {
    #[command(flatten)]
    flavour: FlavourArgs,
    /// Run only shard K of N (K from 1): nextest deals each test binary's tests out in turn
    /// (`--partition count:K/N`), so N shards together run every test exactly once.
    #[arg(long, value_name = "K/N", value_parser = parse_shard)]
    shard: Option<Shard>,
    /// Print the tests this run (or shard) would run, one a line (binary, test), and run nothing:
    /// no lab is swept, no image built.
    #[arg(long)]
    list: bool,
    #[command(flatten)]
    images: ImageArgs,
    /// Extra arguments for `cargo nextest run` (after `--`), e.g. a test filter.
    #[arg(last = true)]
    nextest: Vec<String>,
}

pub async fn run(args: TestArgs) -> Result<ExitCode> {
    if args.list {
        let mut list = std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        list.current_dir(arcus_lab::paths::workspace_root()).args(["nextest", "list", "--workspace"]);
        list.args(["--message-format", "oneline"]).args(partition(args.shard)).args(&args.nextest);
        let listed = list.status().context("run cargo nextest list")?;
        return Ok(if listed.success() { ExitCode::SUCCESS } else { ExitCode::FAILURE });
    }
    args.images.apply();
    let engine = Engine::connect().await.context("the tests need a Docker engine")?;
    for lab in arcus_lab::lab::gc(&engine).await? {
        eprintln!("removed abandoned lab {} ({})", lab.run, lab.state());
    }
    // the flavour the scenarios will use: the reference node, ARCUS_PREFIX, or what the options
    // name (a checkout is built first); the test processes learn it through ARCUS_PREFIX
    let flavour = interrupt::or_interrupt(args.flavour.flavour(&engine, &Progress::stderr())).await??;
    interrupt::or_interrupt(arcus_lab::images::ensure(&engine, &flavour, &Progress::stderr())).await??;
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    // outside CI the workflow checks skip when their tools are missing: said here, where it is seen
    for tool in ["check-jsonschema", "zizmor"].into_iter().filter(|_| !ci) {
        if std::process::Command::new(tool).arg("--version").output().is_err() {
            eprintln!(
                "warning: {tool} is not installed: the workflow checks (xtask/tests/workflow.rs) will skip; \
                 install the versions .ci/requirements.txt names (its first lines say how)"
            );
        }
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut nextest = tokio::process::Command::new(cargo);
    nextest.current_dir(arcus_lab::paths::workspace_root()).args(["nextest", "run", "--workspace"]);
    nextest.args(partition(args.shard)).envs(arcus_lab::images::base_image_env());
    if ci {
        nextest.args(["--profile", "ci"]);
    }
    if let Flavour::Arcus(prefix) = &flavour {
        nextest.env("ARCUS_PREFIX", prefix);
    }
    // each test process cleans up after its own signal (nextest passes it on); what a test killed
    // before its cleanup left is removed here
    let status = child::run_passing_signals(nextest.args(&args.nextest), "cargo nextest").await?.status;
    if let Some(signal) = interrupt::received() {
        for lab in child::remove_abandoned_of_children(&engine).await? {
            eprintln!("removed lab {} that an interrupted test left ({})", lab.run, lab.state());
        }
        return Err(Interrupted { signal }).context("cargo nextest");
    }
    Ok(match status.code() {
        Some(0) => ExitCode::SUCCESS,
        Some(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        None => ExitCode::FAILURE,
    })
}

/// `--shard K/N`: the K-th of N shards, K from 1.
#[derive(Clone, Copy, Debug)]
pub struct Shard {
    index: u32,
    total: u32,
}

fn parse_shard(text: &str) -> Result<Shard, String> {
    let numbers = text.split_once('/').and_then(|(k, n)| Some((k.parse::<u32>().ok()?, n.parse::<u32>().ok()?)));
    match numbers {
        Some((index, total)) if (1..=total).contains(&index) => Ok(Shard { index, total }),
        _ => Err(format!("{text:?} is not a shard: give K/N with 1 <= K <= N, e.g. --shard 2/3")),
    }
}

/// nextest's arguments for a shard: counted partitions, so the shards get equal numbers of each
/// binary's tests (the scenarios split evenly; hashed ones split them 10 to 18 in two).
fn partition(shard: Option<Shard>) -> Vec<String> {
    shard.map(|s| vec!["--partition".to_string(), format!("count:{}/{}", s.index, s.total)]).unwrap_or_default()
}
