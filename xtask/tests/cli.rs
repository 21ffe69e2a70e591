//! `cargo xtask` as a user meets it: bad input gets one clear error line and a non-zero exit with
//! nothing left running; Ctrl-C during `lab up` leaves nothing behind.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arcus_lab::engine::LABEL_RUN;
use arcus_lab::{Engine, RunId};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};

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

/// A socket that relays to the real engine and keeps what its clients sent: `cargo xtask` run with
/// `DOCKER_HOST` pointing here shows every call it made to the engine, and only its own (other labs
/// on the shared engine do not pass through it).
struct EngineCalls {
    socket: PathBuf,
    /// The bytes each connection sent, in the order the connections came.
    sent: Arc<Mutex<Vec<Vec<u8>>>>,
    relay: tokio::task::JoinHandle<()>,
}

impl EngineCalls {
    async fn start() -> EngineCalls {
        let engine = match std::env::var("DOCKER_HOST") {
            Ok(host) => PathBuf::from(
                host.strip_prefix("unix://")
                    .unwrap_or_else(|| panic!("DOCKER_HOST={host}: this test relays a unix socket only")),
            ),
            Err(_) => PathBuf::from("/var/run/docker.sock"),
        };
        let socket = std::env::temp_dir().join(format!("arcus-lab-engine-calls-{}.sock", std::process::id()));
        let _ = std::fs::remove_file(&socket);
        let listener = UnixListener::bind(&socket).unwrap_or_else(|e| panic!("bind {}: {e}", socket.display()));
        let sent: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
        let log = sent.clone();
        let relay = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let mut upstream = UnixStream::connect(&engine).await.expect("connect to the engine's socket");
                let index = {
                    let mut log = log.lock().unwrap();
                    log.push(Vec::new());
                    log.len() - 1
                };
                let log = log.clone();
                tokio::spawn(async move {
                    let (mut from_client, mut to_client) = client.split();
                    let (mut from_engine, mut to_engine) = upstream.split();
                    let requests = async {
                        let mut buf = [0u8; 8192];
                        while let Ok(n @ 1..) = from_client.read(&mut buf).await {
                            log.lock().unwrap()[index].extend_from_slice(&buf[..n]);
                            if to_engine.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                        let _ = to_engine.shutdown().await;
                    };
                    let replies = tokio::io::copy(&mut from_engine, &mut to_client);
                    let _ = tokio::join!(requests, replies);
                });
            }
        });
        EngineCalls { socket, sent, relay }
    }

    fn docker_host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    /// The request lines sent so far (`GET /v1.41/containers/json?... HTTP/1.1`).
    fn requests(&self) -> Vec<String> {
        let methods = ["GET ", "HEAD ", "POST ", "PUT ", "DELETE "];
        let sent = self.sent.lock().unwrap();
        sent.iter()
            .flat_map(|bytes| String::from_utf8_lossy(bytes).split("\r\n").map(String::from).collect::<Vec<_>>())
            .filter(|line| methods.iter().any(|m| line.starts_with(m)) && line.ends_with(" HTTP/1.1"))
            .collect()
    }

    /// Runs `cargo xtask <args>` through this socket.
    async fn xtask(&self, args: &[&str]) -> Output {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_xtask"));
        cmd.args(args).env("DOCKER_HOST", self.docker_host());
        cmd.output().await.expect("run xtask")
    }

    /// Runs `cargo xtask <args>` through this socket and returns its output and the requests it
    /// made that change the engine (anything but GET and HEAD). First proves that the socket is in
    /// the path: `lab status --all` must show up as a request.
    async fn changes_made_by(args: &[&str]) -> (Output, Vec<String>) {
        let calls = EngineCalls::start().await;
        let status = calls.xtask(&["lab", "status", "--all"]).await;
        assert!(status.status.success(), "lab status through the relay: {}", stderr(&status));
        let seen = calls.requests().len();
        assert!(seen > 0, "the relay saw none of `lab status --all`'s calls");
        let out = calls.xtask(args).await;
        let changes = calls.requests()[seen..]
            .iter()
            .filter(|r| !(r.starts_with("GET ") || r.starts_with("HEAD ")))
            .cloned()
            .collect();
        (out, changes)
    }
}

impl Drop for EngineCalls {
    fn drop(&mut self) {
        self.relay.abort();
        let _ = std::fs::remove_file(&self.socket);
    }
}

#[test]
fn an_unknown_flag_is_refused() {
    let out = xtask(&["lab", "up", "--frobnicate"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--frobnicate"), "{}", stderr(&out));
}

#[tokio::test]
async fn a_run_id_docker_rejects_is_refused_before_anything_starts() {
    let (out, changes) = EngineCalls::changes_made_by(&["lab", "up", "--run", "bad/id!"]).await;
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("\"bad/id!\"") && err.lines().count() == 1, "{err}");
    assert!(changes.is_empty(), "the refused `lab up` changed the engine: {changes:#?}");
}

#[tokio::test]
async fn a_topology_that_cannot_be_built_is_refused_before_anything_starts() {
    for (flags, says) in [
        (&["--zk", "2"][..], "zk = 2: a ZooKeeper ensemble has 1, 3 or 5 members"),
        (&["--hosts", "3", "--zk", "5"][..], "(this lab has 3)"),
        (&["--hosts", "0"][..], "hosts = 0"),
        (&["--services", "a,a"][..], "\"a\" is named twice"),
    ] {
        let args = [&["lab", "up", "--run", "topology-refused"][..], flags].concat();
        let (out, changes) = EngineCalls::changes_made_by(&args).await;
        assert!(!out.status.success(), "{flags:?} accepted");
        let err = stderr(&out);
        assert!(err.contains(says) && err.lines().count() == 1, "{flags:?}: {err}");
        assert!(changes.is_empty(), "{flags:?}: the refused `lab up` changed the engine: {changes:#?}");
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

/// The connect string `lab up` printed (the line after the ensemble's heading), and each service's
/// node addresses as printed.
fn printed_cloud(up: &str) -> (String, Vec<String>) {
    let mut lines = up.lines();
    lines.find(|l| l.starts_with("ZooKeeper ensemble; the connect string"));
    let connect = lines.next().unwrap_or_default().trim().to_string();
    let nodes = up
        .lines()
        .skip_while(|l| !l.starts_with("service code ruo91-cloud: "))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().nth(1).map(String::from))
        .collect();
    (connect, nodes)
}

#[tokio::test]
async fn lab_up_prints_a_connect_string_that_reaches_its_ensemble() {
    let run = format!("connect-{}", RunId::fresh());
    let up = xtask(&["lab", "up", "--run", &run]);
    let status = xtask(&["lab", "status", "--run", &run, "--json"]);
    let printed = String::from_utf8_lossy(&up.stdout).into_owned();
    let (connect, mut nodes) = printed_cloud(&printed);
    // what a client sees through the printed string: the service's registered nodes
    let session = zookeeper_client::Client::connector().with_session_timeout(Duration::from_secs(10)).connect(&connect);
    let registered = match tokio::time::timeout(Duration::from_secs(20), session).await {
        Ok(Ok(client)) => client.list_children("/arcus/cache_list/ruo91-cloud").await.map_err(|e| e.to_string()),
        Ok(Err(e)) => Err(format!("connect to {connect:?}: {e}")),
        Err(_) => Err(format!("no ZooKeeper session through {connect:?} within 20 s")),
    };
    // the next commands, as printed, copied: the first looks into the cloud
    let exec_line = printed.lines().find(|l| l.trim_start().starts_with("cargo xtask lab exec")).unwrap_or_default();
    let exec_args: Vec<&str> = exec_line.split_whitespace().skip(2).collect();
    let exec = xtask(&exec_args);
    // a whole lab up is a time doctor's look ahead quotes
    let doctor = xtask(&["doctor"]);
    let down = xtask(&["lab", "down", "--run", &run]);

    assert!(up.status.success(), "{}", stderr(&up));
    let mut registered: Vec<String> = registered
        .unwrap_or_else(|e| panic!("{e}\n{printed}"))
        .iter()
        .map(|name| name.split_once('-').map(|(addr, _)| addr.to_string()).unwrap_or_default())
        .collect();
    registered.sort();
    nodes.sort();
    assert_eq!(registered.len(), 6, "{printed}");
    assert_eq!(registered, nodes, "the nodes printed are the ones registered:\n{printed}");
    assert!(printed.contains("service code ruo91-cloud: 6/6 nodes online"), "{printed}");

    let json: serde_json::Value = serde_json::from_slice(&status.stdout).expect("lab status --json is JSON");
    assert_eq!(json["zookeeper"]["connect"], connect.as_str());
    assert_eq!(json["services"][0]["code"], "ruo91-cloud");
    assert_eq!(json["services"][0]["online"], 6);
    let listed: Vec<&str> =
        json["services"][0]["nodes"].as_array().unwrap().iter().map(|n| n["addr"].as_str().unwrap()).collect();
    assert_eq!(listed.len(), 6);
    assert!(listed.iter().all(|a| nodes.iter().any(|n| n == a)), "{json}");

    assert!(exec_line.contains(&format!("--run {run}")), "not the current lab: the commands name it\n{printed}");
    assert!(exec.status.success(), "{exec_line}: {}", stderr(&exec));
    let listall = String::from_utf8_lossy(&exec.stdout);
    assert!(listall.contains("ruo91-cloud  OK          6       6        0"), "{exec_line}:\n{listall}");
    assert!(printed.contains(&format!("  cargo xtask lab down --run {run}\n")), "{printed}");
    let looked_ahead = String::from_utf8_lossy(&doctor.stdout);
    assert!(looked_ahead.contains("the last `lab up` here took "), "{looked_ahead}");
    assert!(down.status.success(), "{}", stderr(&down));
}

/// A directory under the system's temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("arcus-xtask-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn a_first_snapshot_is_accepted_with_the_command_its_failure_names() {
    let temp = TempDir::new("first-snapshot");
    let scenario = temp.0.join("first_snapshot.toml");
    std::fs::write(
        &scenario,
        "title = \"a first snapshot\"\nsetup = \"bare\"\n\n[[step]]\nrun = \"hostname\"\nhost = \"memcached-1\"\n\
         snapshot = \"hostname\"\n",
    )
    .unwrap();
    let snapshots = temp.0.join("snapshots");
    std::fs::create_dir_all(&snapshots).unwrap();
    // as a person runs it: snapshots may be written (whatever CI or INSTA_UPDATE say around the test)
    let lab_run = || {
        Command::new(env!("CARGO_BIN_EXE_xtask"))
            .args(["lab", "run", scenario.to_str().unwrap(), "--snapshots", snapshots.to_str().unwrap()])
            .env("INSTA_UPDATE", "new")
            .env_remove("CI")
            .output()
            .expect("run xtask")
    };

    let first = lab_run();
    let said = String::from_utf8_lossy(&first.stdout).into_owned();
    assert!(!first.status.success(), "a scenario whose snapshot is missing passed:\n{said}");
    assert!(said.contains("first_snapshot@hostname: no snapshot yet"), "{said}");
    let accept = said.lines().find(|l| l.trim_start().starts_with("cargo xtask snapshots accept")).unwrap_or_default();
    assert_eq!(
        accept.trim(),
        format!("cargo xtask snapshots accept --snapshots {} first_snapshot@hostname", snapshots.display()),
        "{said}"
    );

    let review = xtask(&["snapshots", "review", "--snapshots", snapshots.to_str().unwrap()]);
    let shown = String::from_utf8_lossy(&review.stdout).into_owned();
    assert!(shown.contains("==> first_snapshot@hostname (new)") && shown.contains("\n+memcached-1\n"), "{shown}");

    let accepted = xtask(&accept.split_whitespace().skip(2).collect::<Vec<_>>());
    assert!(accepted.status.success(), "{accept}: {}", stderr(&accepted));
    let stored = std::fs::read_to_string(snapshots.join("first_snapshot@hostname.snap")).unwrap();
    assert!(stored.ends_with("---\n[memcached-1] $ hostname\n--- stdout\nmemcached-1\n--- exit 0\n"), "{stored}");
    assert!(!snapshots.join("first_snapshot@hostname.snap.new").exists());

    let second = lab_run();
    assert!(second.status.success(), "{}", String::from_utf8_lossy(&second.stdout));
}
