//! Who removes what, through the real `cargo xtask lab` commands: `lab up` with a run id in use
//! refuses and leaves that lab as it was; a `lab up` SIGKILLed before it finished leaves a lab that
//! `lab status` calls half-made and `lab gc` removes (its lab part), while a finished `lab up` stays until
//! `lab down`.

mod support;

use arcus_lab::engine::LABEL_RUN;
use arcus_lab::fault::net::CHAIN;
use arcus_lab::lab::SESSION_VAR;
use arcus_lab::{Engine, RunId};
use support::{footprint_once_made, left_running, owned_by, signal, spawn_with, stderr, stdout, xtask};

/// Each container of the run with its state, and the run's networks and markers.
async fn inventory(engine: &Engine, run: &RunId) -> (Vec<(String, String)>, usize, Vec<String>) {
    let id = Some(run.as_str());
    let mut containers: Vec<(String, String)> =
        engine.list_containers(LABEL_RUN, id).await.unwrap().into_iter().map(|c| (c.name, c.state)).collect();
    containers.sort();
    let networks = engine.list_networks(LABEL_RUN, id).await.unwrap().len();
    let mut markers: Vec<String> =
        engine.list_volumes(LABEL_RUN, id).await.unwrap().into_iter().map(|v| v.name).collect();
    markers.sort();
    (containers, networks, markers)
}

#[tokio::test]
async fn lab_up_with_a_run_id_in_use_refuses_and_leaves_that_lab_as_it_was() {
    let engine = Engine::connect().await.unwrap();
    let run = RunId::parse(&format!("dupe-{}", RunId::fresh())).unwrap();
    let (first, _) = xtask(&["lab", "up", "--bare", "--run", run.as_str()]);
    assert!(first.status.success(), "{}", stderr(&first));
    let before = inventory(&engine, &run).await;
    let (again, pid) = xtask(&["lab", "up", "--bare", "--run", run.as_str()]);
    let after = inventory(&engine, &run).await;
    let (down, _) = xtask(&["lab", "down", "--run", run.as_str()]);

    assert!(!again.status.success(), "a second lab up with run id {run} succeeded");
    assert!(stderr(&again).contains(&format!("a lab with run id {run} already exists")), "{}", stderr(&again));
    assert_eq!(before.0.len(), 4, "{before:?}");
    assert!(before.0.iter().all(|(_, state)| state == "running"), "{before:?}");
    assert_eq!(before.2, vec![format!("arcuslab-{run}-kept")], "the finished lab up is marked kept");
    assert_eq!(after, before, "the refused lab up changed lab {run}");
    assert!(owned_by(&engine, pid).await.is_empty(), "the refused lab up left something of its own");
    assert!(down.status.success(), "{}", stderr(&down));
    assert_eq!(inventory(&engine, &run).await, (vec![], 0, vec![]), "lab down left part of {run}");
}

#[tokio::test]
async fn a_sigkilled_lab_up_is_half_made_and_gc_removes_it_while_a_finished_one_stays() {
    let engine = Engine::connect().await.unwrap();
    let kept = RunId::parse(&format!("kept-{}", RunId::fresh())).unwrap();
    let half = RunId::parse(&format!("half-{}", RunId::fresh())).unwrap();
    let (up, _) = xtask(&["lab", "up", "--bare", "--run", kept.as_str()]);
    assert!(up.status.success(), "{}", stderr(&up));

    // SIGKILL (no cleanup possible) once the second lab has started to exist; made under a session
    // of this test's (as `cargo xtask test` makes its tests' labs), which its labels must carry
    let session = format!("lifecycle-test-{}", RunId::fresh());
    let child = spawn_with(&["lab", "up", "--bare", "--run", half.as_str()], &[(SESSION_VAR, &session)]);
    let pid = child.id();
    let footprint = footprint_once_made(&engine, &half, pid).await;
    signal(pid, libc::SIGKILL);
    let killed = child.wait_with_output().unwrap();
    assert_eq!(killed.status.code(), None, "lab up ended by itself before the SIGKILL: {}", stderr(&killed));

    let (all, _) = xtask(&["lab", "status", "--all"]);
    let (one, _) = xtask(&["lab", "status", "--run", half.as_str()]);
    // `lab gc`'s lab part (the command also prunes outdated images, which on a shared engine
    // other runs may be about to use)
    let removed = arcus_lab::lab::gc(&engine).await.unwrap();
    let half_left = footprint.traces(&engine, CHAIN).await.unwrap();
    let kept_after_gc = inventory(&engine, &kept).await;
    let (down, _) = xtask(&["lab", "down", "--run", kept.as_str()]);

    let half_made = format!("{half}  half-made (owner {pid} gone during up)");
    assert!(stdout(&all).lines().any(|l| l == half_made), "status --all:\n{}", stdout(&all));
    assert!(stdout(&all).lines().any(|l| l == format!("{kept}  kept until `lab down`")), "{}", stdout(&all));
    assert!(stdout(&one).starts_with(&format!("{half_made}\n")), "status --run {half}:\n{}", stdout(&one));
    let removed_half = removed.iter().find(|l| l.run == half).map(|l| (l.state().to_string(), l.session.clone()));
    let expected = (format!("half-made (owner {pid} gone during up)"), Some(session));
    assert_eq!(removed_half, Some(expected), "gc removed {removed:?}");
    assert!(removed.iter().all(|l| l.run != kept), "gc removed the kept lab: {removed:?}");
    assert!(half_left.is_empty(), "gc left {half_left} of {half}");
    assert_eq!(kept_after_gc.0.len(), 4, "the finished lab after gc: {kept_after_gc:?}");
    assert!(down.status.success(), "{}", stderr(&down));
    assert_eq!(left_running(pid), Vec::<u32>::new());
}
