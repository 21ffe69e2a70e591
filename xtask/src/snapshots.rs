//! `cargo xtask snapshots review|accept|reject`: the scenario snapshots a run left as `.snap.new`
//! beside the stored ones (tests/snapshots/), shown as diffs, accepted (renamed to `.snap`) or
//! dropped. Nothing to install: the same files `cargo insta review` reads.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use arcus_lab::scenario::snapshot::{Pending, Snapshots};
use clap::{Args, Subcommand};

#[derive(Subcommand)]
pub enum SnapshotsCommand {
    /// Show each pending snapshot with its diff against the stored one.
    Review(Dir),
    /// Make pending snapshots the stored ones: all, or those named (`s04_node_sigkill@list-after-expiry`).
    Accept(Chosen),
    /// Drop pending snapshots (all, or those named); the stored ones stay.
    Reject(Chosen),
}

#[derive(Args)]
pub struct Dir {
    /// The snapshot directory (default: tests/snapshots/, the conformance suite's).
    #[arg(long, value_name = "DIR")]
    snapshots: Option<PathBuf>,
}

impl Dir {
    fn snapshots(&self) -> Snapshots {
        Snapshots::new(self.snapshots.clone().unwrap_or_else(arcus_lab::paths::snapshots_dir))
    }
}

#[derive(Args)]
pub struct Chosen {
    /// `<scenario>@<name>` of each pending snapshot to take (default: every pending one).
    names: Vec<String>,
    #[command(flatten)]
    dir: Dir,
}

pub fn run(cmd: SnapshotsCommand) -> Result<ExitCode> {
    match cmd {
        SnapshotsCommand::Review(dir) => review(&dir.snapshots()),
        SnapshotsCommand::Accept(chosen) => {
            for pending in chosen.pending()? {
                pending.accept()?;
                println!("accepted {} → {}", pending.name, pending.snap.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        SnapshotsCommand::Reject(chosen) => {
            for pending in chosen.pending()? {
                pending.reject()?;
                println!("rejected {} (removed {})", pending.name, pending.new.display());
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn review(snapshots: &Snapshots) -> Result<ExitCode> {
    let pending = snapshots.pending()?;
    if pending.is_empty() {
        println!("no pending snapshot in {}", snapshots.dir.display());
        return Ok(ExitCode::SUCCESS);
    }
    for p in &pending {
        let what = if p.snap.exists() { "changed" } else { "new" };
        println!("==> {} ({what})\n{}", p.name, p.diff()?);
    }
    println!(
        "{} pending: accept with `{}` (or name some: `{} {}`), drop with `{}`",
        pending.len(),
        snapshots.command("accept"),
        snapshots.command("accept"),
        pending[0].name,
        snapshots.command("reject")
    );
    Ok(ExitCode::SUCCESS)
}

impl Chosen {
    /// The pending snapshots named (all when none is); an unknown name is an error before any is
    /// touched.
    fn pending(&self) -> Result<Vec<Pending>> {
        let snapshots = self.dir.snapshots();
        let pending = snapshots.pending()?;
        if self.names.is_empty() {
            if pending.is_empty() {
                println!("no pending snapshot in {}", snapshots.dir.display());
            }
            return Ok(pending);
        }
        let listed: Vec<&str> = pending.iter().map(|p| p.name.as_str()).collect();
        for name in &self.names {
            anyhow::ensure!(
                listed.contains(&name.as_str()),
                "no pending snapshot {name:?} in {} (pending: {})",
                snapshots.dir.display(),
                if listed.is_empty() { "none".to_string() } else { listed.join(", ") }
            );
        }
        Ok(pending.into_iter().filter(|p| self.names.contains(&p.name)).collect())
    }
}
