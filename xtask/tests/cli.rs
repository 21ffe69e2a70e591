//! `cargo xtask` as a user meets it: bad input gets one clear error line and a non-zero exit with
//! nothing left running; Ctrl-C during `lab up` leaves nothing behind.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use arcus_lab::engine::LABEL_RUN;
use arcus_lab::{Engine, RunId};

fn xtask(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask")).args(args).output().expect("run xtask")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

async fn labelled(run: &str) -> usize {
    let engine = Engine::connect().await.unwrap();
    engine.list_containers(LABEL_RUN, Some(run)).await.unwrap().len()
        + engine.list_networks(LABEL_RUN, Some(run)).await.unwrap().len()
}

#[test]
fn an_unknown_flag_is_refused() {
    let out = xtask(&["lab", "up", "--frobnicate"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--frobnicate"), "{}", stderr(&out));
}

#[tokio::test]
async fn a_run_id_docker_rejects_is_refused_before_anything_starts() {
    let out = xtask(&["lab", "up", "--run", "bad/id!"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("\"bad/id!\"") && err.lines().count() == 1, "{err}");
    assert_eq!(labelled("bad/id!").await, 0);
}

#[tokio::test]
async fn a_topology_that_cannot_be_built_is_refused_before_anything_starts() {
    for (flags, says) in [
        (&["--zk", "2"][..], "zk = 2: a ZooKeeper ensemble has 1, 3 or 5 members"),
        (&["--hosts", "3", "--zk", "5"][..], "(this lab has 3)"),
        (&["--hosts", "0"][..], "hosts = 0"),
        (&["--services", "a,a"][..], "\"a\" is named twice"),
    ] {
        let run = "topology-refused";
        let out = xtask(&[&["lab", "up", "--run", run][..], flags].concat());
        assert!(!out.status.success(), "{flags:?} accepted");
        let err = stderr(&out);
        assert!(err.contains(says) && err.lines().count() == 1, "{flags:?}: {err}");
        assert_eq!(labelled(run).await, 0, "{flags:?} left something running");
    }
}

#[test]
fn docker_host_pointing_at_nothing_is_a_clear_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["lab", "status"])
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("cannot reach the Docker engine") && err.contains("/nonexistent/docker.sock"), "{err}");
}

#[test]
fn down_of_an_unknown_run_is_an_error() {
    let out = xtask(&["lab", "down", "--run", "no-such-lab-x"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("no lab with run id \"no-such-lab-x\""), "{}", stderr(&out));
}

#[tokio::test]
async fn exec_to_an_unknown_host_is_an_error_and_exit_codes_pass_through() {
    let run = format!("cli-{}", RunId::fresh());
    let up = xtask(&["lab", "up", "--bare", "--run", &run]);
    let unknown = xtask(&["lab", "exec", "--run", &run, "memcached-9", "--", "true"]);
    let code = xtask(&["lab", "exec", "--run", &run, "memcached-2", "--", "sh", "-c", "echo hi; exit 3"]);
    let down = xtask(&["lab", "down", "--run", &run]);
    assert!(up.status.success(), "{}", stderr(&up));
    assert!(!unknown.status.success());
    assert!(stderr(&unknown).contains("no host \"memcached-9\""), "{}", stderr(&unknown));
    assert_eq!(code.status.code(), Some(3));
    assert_eq!(String::from_utf8_lossy(&code.stdout), "hi\n");
    assert!(down.status.success(), "{}", stderr(&down));
    assert_eq!(labelled(&run).await, 0);
}

#[tokio::test]
async fn ctrl_c_during_lab_up_leaves_nothing_behind() {
    let run = format!("sigint-{}", RunId::fresh());
    let mut child = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["lab", "up", "--bare", "--run", &run])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // interrupt once the lab has started to exist (its network or a container carries the label)
    let started = Instant::now();
    while labelled(&run).await == 0 {
        assert!(started.elapsed() < Duration::from_secs(300), "lab up never created anything for {run}");
        assert!(child.try_wait().unwrap().is_none(), "lab up ended before it could be interrupted");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // SAFETY: kill only sends a signal to our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    assert_eq!(labelled(&run).await, 0, "resources of {run} left after Ctrl-C");
}
