//! Signals to a real `cargo xtask` while it works on a real lab: it heals the faults, resumes
//! paused hosts, collects the logs (unless a second signal came), removes its lab, writes the run
//! directory saying where it was interrupted, and exits 128 + the signal. Nothing is left: no
//! container, network or marker with the run's label, no host iptables rule naming its bridge or
//! subnet, no process of the command's group.

mod support;

use std::path::{Path, PathBuf};

use arcus_lab::fault::net::CHAIN;
use arcus_lab::lab::traces::Footprint;
use arcus_lab::{Engine, RunId};
use support::{footprint_once_made, left_running, owned_by, signal, spawn, stderr, until};

/// The run directory of a run id.
fn run_dir(run: &RunId) -> PathBuf {
    arcus_lab::paths::state_dir().join("runs").join(run.as_str())
}

/// events.jsonl's lines, parsed.
fn events(dir: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(dir.join("events.jsonl")).unwrap_or_default();
    text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}"))).collect()
}

/// Whether a step event with this index has been recorded.
fn step_recorded(dir: &Path, step: u64) -> bool {
    events(dir).iter().any(|e| e["phase"] == "step" && e["step"] == step)
}

/// Starts `lab run <scenario>` and waits until its lab is up and step `step` has ended; returns the
/// child, its run id and the lab's footprint (noted while it lives, checked to be seen).
async fn run_until_step(engine: &Engine, scenario: &str, step: u64) -> (std::process::Child, RunId, Footprint) {
    let child = spawn(&["lab", "run", scenario]);
    let pid = child.id();
    let run = until(&format!("a lab owned by `lab run` ({pid})"), pid, || async {
        owned_by(engine, pid).await.into_iter().next().map(|l| l.run).ok_or_else(|| "none yet".to_string())
    })
    .await;
    let dir = run_dir(&run);
    until(&format!("step {step} recorded in {}", dir.display()), pid, || async {
        if step_recorded(&dir, step) {
            Ok(())
        } else {
            Err(format!("{} events", events(&dir).len()))
        }
    })
    .await;
    let mut footprint = Footprint::new(run.clone());
    assert!(footprint.note(engine).await.unwrap() >= 1, "lab {run} has no network");
    // the counters see a live lab: what is counted after is not zero for want of looking
    let alive = footprint.traces(engine, CHAIN).await.unwrap();
    assert!(alive.containers >= 4 && alive.networks == 1 && alive.host_rules > 0, "lab {run} alive: {alive}");
    (child, run, footprint)
}

/// The run's summary line and its interrupted events, after the command ended.
fn interrupted_record(run: &RunId) -> (String, Vec<serde_json::Value>) {
    let dir = run_dir(run);
    let summary = std::fs::read_to_string(dir.join("summary.md")).unwrap_or_default();
    let said = summary.lines().find(|l| l.contains("**")).unwrap_or_default().to_string();
    (said, events(&dir))
}

#[tokio::test]
async fn sigint_during_lab_run_removes_the_lab_and_says_at_which_step() {
    let engine = Engine::connect().await.unwrap();
    // s04: step 1 SIGKILLs a node, step 2 holds 5 s with it dead
    let (child, run, footprint) = run_until_step(&engine, "s04_node_sigkill", 1).await;
    let pid = child.id();
    signal(pid, libc::SIGINT);
    let out = child.wait_with_output().unwrap();
    let left = footprint.traces(&engine, CHAIN).await.unwrap();
    let (summary, events) = interrupted_record(&run);

    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    let said = support::stdout(&out);
    assert!(
        said.contains("INTERRUPTED s04_node_sigkill: ") && said.contains("interrupted by SIGINT at step "),
        "{said}"
    );
    let last = events.last().expect("events.jsonl is empty");
    assert_eq!(last["phase"], "interrupted", "last event: {last}");
    let step = last["step"].as_u64().expect("the interrupted event names its step");
    assert!(step >= 2, "interrupted at step {step}, before the fault had ended?");
    assert!(summary.contains(&format!("interrupted by SIGINT at step {step} (line ")), "summary.md: {summary}");
    let interrupted_step = events.iter().find(|e| e["phase"] == "step" && e["step"] == step).unwrap();
    assert_eq!(interrupted_step["outcome"], "interrupted", "{interrupted_step}");
    let teardown = events.iter().find(|e| e["kind"] == "teardown").expect("no teardown event");
    assert_eq!(teardown["outcome"], "ok", "{teardown}");
    // the logs were collected (one signal only)
    assert!(run_dir(&run).join("memcached-2.log").is_file(), "no container log of memcached-2");
    assert!(left.is_empty(), "lab {run} left {left}");
    assert_eq!(left_running(pid), Vec::<u32>::new(), "processes of `lab run` left running");
}

/// A partition and a paused host in place when SIGTERM comes, and SIGINT as soon as the command
/// says it is cleaning up (while it heals: resuming a host and flushing rules on three take
/// several engine calls): the host is resumed and the rules flushed before the lab goes, the
/// logs are skipped, the exit is SIGTERM's. (Sent together, the two would race: the kernel
/// delivers pending signals lowest number first.)
#[tokio::test]
async fn sigterm_and_sigint_during_faults_heal_them_skip_the_logs_and_exit_143() {
    let engine = Engine::connect().await.unwrap();
    let file = std::env::temp_dir().join(format!("arcus-lab-interrupted-{}.toml", std::process::id()));
    std::fs::write(
        &file,
        r#"title = "a partition and a paused host in place, then a long hold"
setup = "bare"

[[step]]
fault = "partition"
hosts = ["memcached-1"]
from = ["memcached-2", "memcached-3"]

[[step]]
fault = "pause-host"
host = "memcached-1"

[[step]]
hold = "10m"
"#,
    )
    .unwrap();
    let (mut child, run, footprint) = run_until_step(&engine, file.to_str().unwrap(), 2).await;
    let pid = child.id();
    // the child's stderr line by line, as it comes
    let mut stderr_pipe = child.stderr.take().expect("stderr is piped");
    let (lines, said) = std::sync::mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(&mut stderr_pipe).lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    signal(pid, libc::SIGTERM);
    let mut seen = Vec::new();
    // ends when the child closes its stderr (then the assertion below says what it printed)
    for line in said.iter() {
        let cleaning = line.starts_with("SIGTERM: cleaning up");
        seen.push(line);
        if cleaning {
            signal(pid, libc::SIGINT);
            break;
        }
    }
    let out = child.wait_with_output().unwrap();
    reader.join().unwrap();
    seen.extend(said.try_iter());
    let err = seen.join("\n");
    let left = footprint.traces(&engine, CHAIN).await.unwrap();
    let (summary, events) = interrupted_record(&run);
    let _ = std::fs::remove_file(&file);
    assert!(err.contains("SIGINT: skipping what can be skipped"), "the second signal was not seen:\n{err}");

    assert_eq!(out.status.code(), Some(143), "{err}");
    assert!(summary.contains("interrupted by SIGTERM at step 3 (line "), "summary.md: {summary}");
    let heal = events.iter().find(|e| e["kind"] == "heal").expect("no heal event");
    let healed = heal["detail"].as_str().unwrap_or_default();
    assert_eq!(heal["outcome"], "ok", "{heal}");
    assert!(healed.contains("resumed memcached-1") && healed.contains("healed "), "heal: {healed}");
    let logs: Vec<PathBuf> = std::fs::read_dir(run_dir(&run))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "log" || x == "syslog"))
        .collect();
    assert!(logs.is_empty(), "a second signal should skip the logs, found {logs:?}");
    assert_eq!(events.last().unwrap()["phase"], "interrupted");
    assert!(left.is_empty(), "lab {run} left {left}");
    assert_eq!(left_running(pid), Vec::<u32>::new(), "processes of `lab run` left running");
}

#[tokio::test]
async fn sighup_during_lab_up_exits_129_and_leaves_nothing() {
    let engine = Engine::connect().await.unwrap();
    let run = RunId::parse(&format!("sighup-{}", RunId::fresh())).unwrap();
    let child = spawn(&["lab", "up", "--bare", "--run", run.as_str()]);
    let pid = child.id();
    let footprint = footprint_once_made(&engine, &run, pid).await;
    signal(pid, libc::SIGHUP);
    let out = child.wait_with_output().unwrap();
    let left = footprint.traces(&engine, CHAIN).await.unwrap();
    assert_eq!(out.status.code(), Some(129), "{}", stderr(&out));
    assert!(stderr(&out).contains(&format!("lab up (run {run}): what it had made is removed")), "{}", stderr(&out));
    assert!(left.is_empty(), "lab {run} left {left}");
    assert_eq!(left_running(pid), Vec::<u32>::new());
}
