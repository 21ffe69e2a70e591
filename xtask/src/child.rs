//! Commands xtask runs as children (`cargo nextest`, xtask itself in the soak): each in a process
//! group of its own, so that a terminal's Ctrl-C reaches xtask alone, which passes every signal it
//! gets on to the child exactly once (nextest, in turn, to its tests; a second one makes it kill
//! them). Each child gets this process's session (`ARCUS_LAB_SESSION`), which every lab made under
//! it carries: after an interrupt, the labs of the session whose owner is gone (a test process
//! killed before its cleanup) are removed, and nothing else.

use std::collections::BTreeSet;
use std::process::Output;

use anyhow::{Context, Result};
use arcus_lab::interrupt;
use arcus_lab::lab::{self as labs, LabInfo};
use arcus_lab::{Engine, RunId};

/// Starts `cmd` in a process group of its own (its pid is the group's id), in this process's
/// session.
pub fn spawn(cmd: &mut tokio::process::Command, what: &str) -> Result<tokio::process::Child> {
    cmd.env(labs::SESSION_VAR, this_session()).process_group(0).spawn().with_context(|| format!("start {what}"))
}

/// The session of the labs made under this process: its identity.
fn this_session() -> String {
    labs::owner_label().1
}

/// Waits for `child` to end, passing each signal xtask receives meanwhile on to it; returns its
/// output (empty where it was not piped).
pub async fn wait_passing_signals(child: tokio::process::Child, what: &str) -> Result<Output> {
    let pid = child.id().with_context(|| format!("{what} has no pid"))?;
    let output = child.wait_with_output();
    tokio::pin!(output);
    let mut passed = 0;
    loop {
        tokio::select! {
            out = &mut output => return out.with_context(|| format!("wait for {what}")),
            () = interrupt::more_than(passed) => {
                passed += 1;
                let signal = interrupt::received().expect("a signal came");
                // SAFETY: kill only sends a signal to our own child.
                unsafe { libc::kill(pid as i32, signal.number()) };
            }
        }
    }
}

/// Runs `cmd` to its end in a process group of its own, passing each signal xtask receives on
/// to it; returns its output (empty where it was not piped).
pub async fn run_passing_signals(cmd: &mut tokio::process::Command, what: &str) -> Result<Output> {
    wait_passing_signals(spawn(cmd, what)?, what).await
}

/// The run ids on the engine now.
pub async fn runs(engine: &Engine) -> Result<BTreeSet<RunId>> {
    Ok(labs::labs(engine).await?.into_iter().map(|lab| lab.run).collect())
}

/// Removes the labs made under this process's session that are abandoned now (their owner gone,
/// not kept); returns them.
pub async fn remove_abandoned_of_children(engine: &Engine) -> Result<Vec<LabInfo>> {
    let session = this_session();
    let mut removed = Vec::new();
    for lab in labs::labs(engine).await? {
        if lab.session.as_deref() == Some(session.as_str()) && lab.state().is_abandoned() {
            labs::down(engine, &lab.run).await?;
            removed.push(lab);
        }
    }
    Ok(removed)
}
