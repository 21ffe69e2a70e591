//! `cargo xtask`: the lab's command line for people and CI. This file only parses and
//! dispatches; each command lives in its own module.

mod arcus;
mod arcus_tests;
mod bench;
mod bench_btree;
mod bench_client;
mod bench_node;
mod bench_soak;
mod child;
mod ci;
mod conformance;
mod doctor;
mod first_up;
mod flavour_args;
mod image_args;
mod lab;
mod lab_view;
mod local_node;
mod snapshots;
mod test;

use anyhow::Context;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    about = "arcus-lab: an Arcus cache cloud in containers, and its conformance suite"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Bring labs up and down, look into them.
    #[command(subcommand)]
    Lab(lab::LabCommand),
    /// Check the machine: Docker engine, API version, mmdebstrap, disk, stale labs.
    Doctor,
    /// Real arcus-memcached: build a source checkout into a prefix the lab can run.
    #[command(subcommand)]
    Arcus(arcus::ArcusCommand),
    /// Run the scenarios on the reference node and on a real arcus-memcached (--arcus PREFIX or
    /// --arcus-src DIR) and write target/arcus-lab/conformance.md and .json: per scenario and
    /// snapshot equal or the diff, and each flavour's timings side by side.
    Conformance(conformance::ConformanceArgs),
    /// Benchmarks (figures, never pass/fail).
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Review, accept or reject the snapshots a scenario run left as .snap.new (tests/snapshots/).
    #[command(subcommand)]
    Snapshots(snapshots::SnapshotsCommand),
    /// Build the images, then run the whole test suite with cargo-nextest.
    Test(test::TestArgs),
    /// What CI needs besides `test`: the image references (its cache key), a summary of the runs.
    #[command(subcommand)]
    Ci(ci::CiCommand),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    // the commands that make labs or run what makes them clean up on SIGINT, SIGTERM and SIGHUP
    let cleans_up = matches!(
        cli.command,
        Command::Lab(lab::LabCommand::Up(_) | lab::LabCommand::Run(_))
            | Command::Test(_)
            | Command::Bench(_)
            | Command::Conformance(_)
    );
    let result = runtime.block_on(async {
        if cleans_up {
            arcus_lab::interrupt::listen().context("listen for SIGINT, SIGTERM and SIGHUP")?;
        }
        match cli.command {
            Command::Lab(cmd) => lab::run(cmd).await,
            Command::Doctor => doctor::run().await,
            Command::Arcus(cmd) => arcus::run(cmd).await,
            Command::Conformance(args) => conformance::run(args).await,
            Command::Bench(cmd) => bench::run(cmd).await,
            Command::Snapshots(cmd) => snapshots::run(cmd),
            Command::Test(args) => test::run(args).await,
            Command::Ci(cmd) => ci::run(cmd).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            match arcus_lab::interrupt::Interrupted::in_chain(&e) {
                Some(interrupted) => interrupted.signal.exit_code().into(),
                None => std::process::ExitCode::FAILURE,
            }
        }
    }
}
