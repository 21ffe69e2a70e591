//! What the lifecycle, interrupt and bad-input tests share: `cargo xtask` (the built binary) as a
//! child in a process group of its own, the labs a child owns, and bounded waits that give up at
//! once when the child has died.

#![allow(dead_code)] // each test file uses a part

use std::future::Future;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use arcus_lab::lab::traces::{processes_in_group, Footprint};
use arcus_lab::lab::{self as labs, owner_pid, LabInfo};
use arcus_lab::{wait, Engine};

/// How long a lab may take to reach the point a test waits for (a cold image build included).
pub const REACH: Duration = Duration::from_secs(900);

/// Starts `cargo xtask <args>` in a process group of its own (its pid is the group's id).
pub fn spawn(args: &[&str]) -> Child {
    spawn_with(args, &[])
}

/// [`spawn`] with these environment variables.
pub fn spawn_with(args: &[&str], env: &[(&str, &str)]) -> Child {
    use std::os::unix::process::CommandExt;
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .envs(env.iter().copied())
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start xtask")
}

/// Runs `cargo xtask <args>` to its end.
pub fn xtask(args: &[&str]) -> (Output, u32) {
    let child = spawn(args);
    let pid = child.id();
    (child.wait_with_output().expect("wait for xtask"), pid)
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Sends `signal` to the child.
pub fn signal(pid: u32, signal: i32) {
    // SAFETY: kill only sends a signal to our own child.
    assert_eq!(unsafe { libc::kill(pid as i32, signal) }, 0, "kill({pid}, {signal})");
}

/// The labs on the engine whose owner label names process `pid`.
pub async fn owned_by(engine: &Engine, pid: u32) -> Vec<LabInfo> {
    labs::labs(engine).await.unwrap().into_iter().filter(|l| owner_pid(&l.owner) == Some(pid)).collect()
}

/// Processes of the child's group still running (zombies aside) once it has exited.
pub fn left_running(pid: u32) -> Vec<u32> {
    processes_in_group(pid)
}

/// Polls `probe` until it returns a value, giving up at `REACH` or as soon as process `pid` (the
/// child the test waits on) has ended.
pub async fn until<T, F, Fut>(what: &str, pid: u32, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let started = Instant::now();
    loop {
        match probe().await {
            Ok(value) => return value,
            Err(seen) => {
                assert!(
                    !processes_in_group(pid).is_empty(),
                    "waiting for {what}: the child {pid} ended first (last seen: {seen})"
                );
                assert!(started.elapsed() < REACH, "gave up after {REACH:?} waiting for {what} (last seen: {seen})");
            }
        }
        tokio::time::sleep(wait::POLL).await;
    }
}

/// Waits until the lab `run` that the command `pid` is making has its network, and returns the
/// footprint of what it has made so far (to count what it leaves once it is stopped).
pub async fn footprint_once_made(engine: &Engine, run: &arcus_lab::RunId, pid: u32) -> Footprint {
    let footprint = Footprint::new(run.clone());
    until(&format!("lab {run}'s network"), pid, || async {
        match footprint.clone().note(engine).await {
            Ok(0) => Err("no network yet".to_string()),
            Ok(_) => Ok(()),
            Err(e) => Err(format!("{e:#}")),
        }
    })
    .await;
    let mut footprint = footprint;
    footprint.note(engine).await.unwrap();
    footprint
}

/// A finished command's status and both outputs, for assertion messages.
pub fn text(out: &Output) -> String {
    format!("{}\nstdout:\n{}\nstderr:\n{}", out.status, stdout(out), stderr(out))
}
