//! `cargo xtask test`: the README's test command. Sweeps abandoned labs, builds the images with
//! a progress display (so no test waits on a cold build), then runs cargo-nextest on the whole
//! workspace (profile `ci` when `CI=true`).

use std::process::ExitCode;

use anyhow::{Context, Result};
use arcus_lab::interrupt::{self, Interrupted};
use arcus_lab::{Engine, Flavour, Progress};
use clap::Args;

use crate::child;

#[derive(Args)]
pub struct TestArgs {
    /// Extra arguments for `cargo nextest run` (after `--`), e.g. a test filter.
    #[arg(last = true)]
    nextest: Vec<String>,
}

pub async fn run(args: TestArgs) -> Result<ExitCode> {
    let engine = Engine::connect().await.context("the tests need a Docker engine")?;
    for lab in arcus_lab::lab::gc(&engine).await? {
        eprintln!("removed abandoned lab {} ({})", lab.run, lab.state());
    }
    // the flavour the scenarios will use: the reference node, or ARCUS_PREFIX
    let flavour = Flavour::from_option(None)?;
    interrupt::or_interrupt(arcus_lab::images::ensure(&engine, &flavour, &Progress::stderr())).await??;
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut nextest = tokio::process::Command::new(cargo);
    nextest.current_dir(arcus_lab::paths::workspace_root()).args(["nextest", "run", "--workspace"]);
    if ci {
        nextest.args(["--profile", "ci"]);
    }
    // each test process cleans up after its own signal (nextest passes it on); what a test killed
    // before its cleanup left is removed here
    let before = child::runs(&engine).await?;
    let status = child::run_passing_signals(nextest.args(&args.nextest), "cargo nextest").await?.status;
    if let Some(signal) = interrupt::received() {
        for lab in child::remove_abandoned_since(&engine, &before).await? {
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
