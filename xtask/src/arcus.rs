//! `cargo xtask arcus build --src DIR`: builds a user's arcus-memcached checkout into an install
//! prefix with the lab's recipe (upstream's own steps in a builder container), cached by a hash
//! of the tree, and prints where it is.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use arcus_lab::{Engine, Progress};
use clap::{Args, Subcommand};

#[derive(Subcommand)]
pub enum ArcusCommand {
    /// Build an arcus-memcached source checkout (autorun, deps/install.sh, configure
    /// --enable-zk-integration, make, make install) in a network-less builder container; the
    /// prefix lands in target/arcus-lab/arcus-builds/<hash>/prefix with one log per step. A tree
    /// built before is not built again. Use the result with --arcus PREFIX, or give --arcus-src
    /// DIR to `lab up`, `lab run`, `test` and `conformance` directly.
    Build(BuildArgs),
    /// Run upstream's own test files (t/*.t of the checkout) in their external-daemon mode
    /// (T_MEMD_USE_DAEMON) against the reference node and a real arcus-memcached (built from the
    /// checkout, or --arcus PREFIX), a fresh node on loopback for each file; needs perl. Writes
    /// target/arcus-lab/arcus-tests.md and .json; fails when the reference node fails a file the
    /// real node passes.
    Tests(crate::arcus_tests::TestsArgs),
}

#[derive(Args)]
pub struct BuildArgs {
    /// The top directory of an arcus-memcached checkout (a git clone with its tags, or a release
    /// tarball's tree); it is only read.
    #[arg(long, value_name = "DIR")]
    src: PathBuf,
}

pub async fn run(cmd: ArcusCommand) -> Result<ExitCode> {
    match cmd {
        ArcusCommand::Build(args) => build(args).await,
        ArcusCommand::Tests(args) => crate::arcus_tests::run(args).await,
    }
}

async fn build(args: BuildArgs) -> Result<ExitCode> {
    let engine = Engine::connect().await?;
    let started = std::time::Instant::now();
    let build = arcus_lab::arcus_build::build(&engine, &args.src, &Progress::stderr()).await?;
    let how = if build.cached { "cached" } else { "built" };
    println!("arcus-memcached {} {how} in {:.1?}", build.version, started.elapsed());
    for (step, took) in &build.steps {
        println!("  {step:<10} {:.1?}", took);
    }
    println!("prefix: {}", build.prefix.display());
    println!("logs:   {}", build.dir.join("logs").display());
    println!("use it: cargo xtask lab up --arcus {}", build.prefix.display());
    Ok(ExitCode::SUCCESS)
}
