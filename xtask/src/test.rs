//! `cargo xtask test`: the README's test command. Sweeps abandoned labs, builds the images with
//! a progress display (so no test waits on a cold build), then runs cargo-nextest on the whole
//! workspace (profile `ci` when `CI=true`).

use std::process::ExitCode;

use anyhow::{Context, Result};
use arcus_lab::{Engine, Flavour, Progress};
use clap::Args;

use crate::flavour_args::FlavourArgs;

#[derive(Args)]
pub struct TestArgs {
    #[command(flatten)]
    flavour: FlavourArgs,
    /// Extra arguments for `cargo nextest run` (after `--`), e.g. a test filter.
    #[arg(last = true)]
    nextest: Vec<String>,
}

pub async fn run(args: TestArgs) -> Result<ExitCode> {
    let engine = Engine::connect().await.context("the tests need a Docker engine")?;
    for run in arcus_lab::lab::gc(&engine).await? {
        eprintln!("removed abandoned lab {run}");
    }
    // the flavour the scenarios will use: the reference node, ARCUS_PREFIX, or what the options
    // name (a checkout is built first); the test processes learn it through ARCUS_PREFIX
    let flavour = args.flavour.flavour(&engine, &Progress::stderr()).await?;
    arcus_lab::images::ensure(&engine, &flavour, &Progress::stderr()).await?;
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut nextest = std::process::Command::new(cargo);
    nextest.current_dir(arcus_lab::paths::workspace_root()).args(["nextest", "run", "--workspace"]);
    if ci {
        nextest.args(["--profile", "ci"]);
    }
    if let Flavour::Arcus(prefix) = &flavour {
        nextest.env("ARCUS_PREFIX", prefix);
    }
    let status = nextest.args(&args.nextest).status().context("run cargo nextest")?;
    Ok(match status.code() {
        Some(0) => ExitCode::SUCCESS,
        Some(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        None => ExitCode::FAILURE,
    })
}
