//! `arcus` against a real ZooKeeper in the lab's host image: `zookeeper init|start|stat|stop` run
//! inside a host container (its Debian jars, zkServer.sh, nc), and register/list/listall/unregister
//! run from here against a standalone ZooKeeper, addressed by its bridge IP.

mod common;
use arcus_lab::fixture::{StandaloneZk, StandaloneZkBuilder};
use common::TempDir;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use zookeeper_client::{Acls, Client, CreateMode};

/// The fixtures' run label: `lab down --run fixture-admin-tests` removes what a run left.
const RUN: &str = "fixture-admin-tests";

/// A container of the lab's host image with /opt/arcus and the `arcus` binary copied in.
fn host_container() -> StandaloneZkBuilder {
    StandaloneZk::builder(RUN)
        .copy_in("/opt/arcus", overlay())
        .copy_in("/opt/arcus/bin/arcus", PathBuf::from(env!("CARGO_BIN_EXE_arcus")))
}

/// A standalone ZooKeeper (the host image's `lab-zk-standalone`), serving when this returns.
async fn standalone_zookeeper() -> (StandaloneZk, String) {
    let zk = host_container().start().await.expect("a standalone ZooKeeper");
    let ip = zk.ip().to_string();
    (zk, ip)
}

/// The /opt/arcus overlay of the admin image.
fn overlay() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../images/admin/arcus")
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs the `arcus` binary here, with `stdin` as its input.
async fn arcus(args: &[&str], stdin: &str) -> Run {
    arcus_with_env(args, stdin, &[]).await
}

async fn arcus_with_env(args: &[&str], stdin: &str, env: &[(&str, &str)]) -> Run {
    use tokio::io::AsyncWriteExt;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_arcus"))
        .args(args)
        .env_remove("ARCUS_ZKLIST")
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run arcus");
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).await.unwrap();
    let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("arcus ends within 60 s")
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

/// Runs a shell command inside a container; returns (exit code, stdout + stderr).
async fn exec(container: &StandaloneZk, script: &str) -> (i64, String) {
    container.exec(script).await.expect("exec")
}

/// A fixture rendered with the given IPs for `{{memcached-1..3}}`, written to a temp file.
fn fixture(name: &str, ips: [&str; 3], dir: &Path) -> PathBuf {
    let mut text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures").join(name)).unwrap();
    for (n, ip) in ips.iter().enumerate() {
        text = text.replace(&format!("{{{{memcached-{}}}}}", n + 1), ip);
    }
    let path = dir.join(name.replace('/', "-"));
    std::fs::write(&path, text).unwrap();
    path
}

async fn client(zk: &str) -> Client {
    Client::connector().with_session_timeout(Duration::from_secs(10)).connect(zk).await.expect("connect to ZooKeeper")
}

async fn children(client: &Client, path: &str) -> Vec<String> {
    let mut children = client.list_children(path).await.unwrap_or_default();
    children.sort();
    children
}

async fn data(client: &Client, path: &str) -> String {
    String::from_utf8(client.get_data(path).await.unwrap().0).unwrap()
}

fn assert_no_trailing_whitespace(text: &str) {
    for line in text.lines() {
        assert_eq!(line, line.trim_end(), "trailing whitespace in {line:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn zk_init_start_stat_stop_in_a_host_container() {
    let container = host_container().without_server().start().await.expect("start a host container");
    let ip = container.ip().to_string();
    let arcus_sh = "cd /opt/arcus/scripts && ARCUS_ZK_PROFILE=fast ./arcus.sh";

    let (code, out) = exec(&container, &format!("{arcus_sh} zookeeper init")).await;
    assert_eq!(code, 0, "{out}");
    assert_no_trailing_whitespace(&out);
    assert!(
        out.starts_with("Server Roles\n\t{'zookeeper': ['127.0.0.1'], 'memcached': []}\n\n====== Task: zk_config\n"),
        "{out}"
    );
    for expected in [
        "[127.0.0.1] Executing task 'zk_config_id'\n[127.0.0.1] run: mkdir -p data conf && echo 1 > data/myid && cat > conf/zoo.cfg\n",
        "====== Task: zk_start\n[127.0.0.1] Executing task 'zk_start'\n[127.0.0.1] run: bin/zkServer.sh start\n",
        "[127.0.0.1] out: Using config: /opt/arcus/zookeeper/bin/../conf/zoo.cfg\n[127.0.0.1] out: Starting zookeeper ... STARTED\n",
        "====== Func: zk_wait\n[127.0.0.1] run: GOT=$(echo stat | nc localhost 2181 | grep Mode:); if [ -z \"$GOT\" ]; then echo \"Mode: stale\"; else echo $GOT; fi\n",
        "[127.0.0.1] out: Mode: standalone\n\ngot a leader, and all nodes are up\n",
        "====== Task: zk_create_arcus_structure\n['/arcus', '/arcus/cache_list', '/arcus/client_list', '/arcus/cache_server_mapping']\n\
         /arcus/cache_list\n/arcus/client_list\n/arcus/cache_server_mapping\n====== Task: zk_stop\n",
        "[127.0.0.1] out: Stopping zookeeper ... STOPPED\n\nDone.\n",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in\n{out}");
    }
    assert!(out.ends_with("Done.\n"), "a local host is not disconnected from:\n{out}");
    let (_, cfg) = exec(&container, "cat /opt/arcus/zookeeper/conf/zoo.cfg /opt/arcus/zookeeper/data/myid").await;
    assert_eq!(
        cfg,
        "maxClientCnxns=100\ntickTime=500\ninitLimit=10\nsyncLimit=5\ndataDir=/opt/arcus/zookeeper/data\nclientPort=2181\n\
         4lw.commands.whitelist=*\nminSessionTimeout=1000\nmaxSessionTimeout=10000\nserver.1=127.0.0.1:2888:3888\n1\n"
    );
    let (code, _) = exec(&container, "nc -z 127.0.0.1 2181").await;
    assert_ne!(code, 0, "init stops the ensemble it started");

    let (code, out) = exec(&container, &format!("{arcus_sh} zookeeper start")).await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("[127.0.0.1] out: Starting zookeeper ... STARTED\n\nDone.\n"), "{out}");
    let (code, out) = exec(&container, "/opt/arcus/zookeeper/bin/zkServer.sh start").await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Starting zookeeper ... already running as process "), "{out}");

    // The tree init made, seen from outside.
    let zk = client(&format!("{ip}:2181")).await;
    assert_eq!(children(&zk, "/arcus").await, ["cache_list", "cache_server_mapping", "client_list"]);
    for path in ["/arcus", "/arcus/cache_list", "/arcus/client_list", "/arcus/cache_server_mapping"] {
        assert_eq!(data(&zk, path).await, "", "{path}");
    }
    drop(zk);

    // A second init: the structure exists. Reported, the ensemble is still stopped, exit 1.
    let (code, out) = exec(&container, &format!("{arcus_sh} zookeeper init")).await;
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(
            "====== Task: zk_create_arcus_structure\ninit_arcus_structure: fail (/arcus exists)\n\
             /arcus/cache_list\n/arcus/client_list\n/arcus/cache_server_mapping\n====== Task: zk_stop\n"
        ),
        "{out}"
    );
    assert!(out.contains("Stopping zookeeper ... STOPPED"), "{out}");
    assert!(out.contains("error: init_arcus_structure: /arcus already exists; nothing was created"), "{out}");
    assert!(!out.contains("Done."), "{out}");

    // start, then stat until the server serves (bounded), in both layouts.
    let (code, out) = exec(&container, &format!("{arcus_sh} zookeeper start")).await;
    assert_eq!(code, 0, "{out}");
    let deadline = Instant::now() + Duration::from_secs(15);
    let out = loop {
        let (code, out) = exec(&container, &format!("{arcus_sh} zookeeper stat")).await;
        assert_eq!(code, 0, "{out}");
        if out.contains("[127.0.0.1] out: Mode: standalone\n") {
            break out;
        }
        assert!(Instant::now() < deadline, "ZooKeeper not serving 15 s after start:\n{out}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_no_trailing_whitespace(&out);
    assert!(out.contains("[127.0.0.1] Executing task 'zk_stat'\n[127.0.0.1] run: echo stat | nc localhost 2181\n[127.0.0.1] out: Zookeeper version: 3.8"), "{out}");
    let (code, out) = exec(&container, &format!("{arcus_sh} zookeeper stat --json")).await;
    assert_eq!(code, 0, "{out}");
    let json: serde_json::Value = serde_json::from_str(&out).expect("one JSON document");
    assert_eq!(json[0]["host"], "127.0.0.1");
    assert_eq!(json[0]["mode"], "standalone");
    assert_eq!(json[0]["serving"], true);
    assert!(json[0]["fields"]["Node count"].as_str().is_some(), "{out}");

    let (code, out) = exec(&container, &format!("{arcus_sh} zookeeper stop")).await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("[127.0.0.1] out: Stopping zookeeper ... STOPPED\n\nDone.\n"), "{out}");
    let (code, out) = exec(&container, "/opt/arcus/zookeeper/bin/zkServer.sh status").await;
    assert_eq!(code, 1, "{out}");
    let (code, log) = exec(&container, "grep -c 'INFO' /opt/arcus/zookeeper/logs/zookeeper.out").await;
    assert_eq!(code, 0, "ZooKeeper's log is readable: {log}");
}

#[tokio::test(flavor = "multi_thread")]
async fn zk_register_list_listall_unregister() {
    let (_container, ip) = standalone_zookeeper().await;
    let zklist = format!("{ip}:2181");
    let z = ["-z", zklist.as_str()];
    let temp = TempDir::new("register");
    let dir = &temp.0;
    let conf = fixture("ruo91.json", ["10.0.0.1", "10.0.0.2", "10.0.0.3"], dir);
    let conf = conf.to_str().unwrap();

    // Nothing before init.
    let run = arcus(&[&z[..], &["memcached", "listall"]].concat(), "").await;
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr,
        format!("error: ZooKeeper at {zklist} has no /arcus/cache_list: run `zookeeper init` first\n")
    );

    let zk = client(&zklist).await;
    let open = CreateMode::Persistent.with_acls(Acls::anyone_all());
    for path in ["/arcus", "/arcus/cache_list", "/arcus/client_list", "/arcus/cache_server_mapping"] {
        zk.create(path, b"", &open).await.unwrap();
    }

    // listall with no service: the header and no row.
    let run = arcus(&[&z[..], &["memcached", "listall"]].concat(), "").await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        format!(
            "Server Roles\n\t{{'zookeeper': ['{ip}'], 'memcached': []}}\n\n\
             ----------------------------------------------------------------\n\
             serviceCode  status  total  online  offline  created  modified\n\
             ----------------------------------------------------------------\n\nDone.\n"
        )
    );

    // register: one transaction, the created paths as one list.
    let run = arcus(&[&z[..], &["memcached", "register", conf]].concat(), "").await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let mut created =
        vec!["'/arcus/cache_list/ruo91-cloud'".to_string(), "'/arcus/client_list/ruo91-cloud'".to_string()];
    for n in 1..=3 {
        for port in [11211, 11212] {
            created.push(format!("'/arcus/cache_server_mapping/10.0.0.{n}:{port}'"));
            created.push(format!("'/arcus/cache_server_mapping/10.0.0.{n}:{port}/ruo91-cloud'"));
        }
    }
    assert_eq!(
        run.stdout,
        format!(
            "Server Roles\n\t{{'zookeeper': ['{ip}'], 'memcached': ['10.0.0.1', '10.0.0.1', '10.0.0.2', '10.0.0.2', '10.0.0.3', '10.0.0.3']}}\n\n\
             [{}]\n\nDone.\n",
            created.join(", ")
        )
    );
    let service: serde_json::Value = serde_json::from_str(&data(&zk, "/arcus/cache_list/ruo91-cloud").await).unwrap();
    assert_eq!(service["serviceCode"], "ruo91-cloud");
    assert_eq!(service["servers"].as_array().unwrap().len(), 6);
    assert_eq!(service["config"]["memlimit"], "100");
    assert!(service.get("modified").is_none());
    let created_at = service["created"].as_str().unwrap().to_string();
    assert!(created_at.len() == 26 || created_at.len() == 19, "Python's str(datetime.now()): {created_at}");
    assert_eq!(data(&zk, "/arcus/client_list/ruo91-cloud").await, "");
    let mapping: serde_json::Value =
        serde_json::from_str(&data(&zk, "/arcus/cache_server_mapping/10.0.0.2:11212").await).unwrap();
    assert_eq!(mapping, serde_json::json!({"port": "11212", "threads": "6", "memlimit": "100", "connections": "1000"}));
    assert_eq!(children(&zk, "/arcus/cache_server_mapping/10.0.0.2:11212").await, ["ruo91-cloud"]);
    assert_eq!(children(&zk, "/arcus/cache_server_mapping").await.len(), 6);

    // Nothing joined: DOWN, all offline.
    let run = arcus(&[&z[..], &["memcached", "listall"]].concat(), "").await;
    assert!(
        run.stdout.contains(&format!("\nruo91-cloud  DOWN        6       0        6  {created_at}  None\n\nDone.\n")),
        "{}",
        run.stdout
    );

    // Five nodes joined, one missing, one not in the mapping: SOME_DOWN 6 5 1, blocks sorted.
    let ephemeral = CreateMode::Ephemeral.with_acls(Acls::anyone_all());
    let joined = [
        "10.0.0.3:11212-memcached-3",
        "10.0.0.1:11211-memcached-1",
        "10.0.0.1:11212-memcached-1",
        "10.0.0.2:11211-memcached-2",
        "10.0.0.3:11211-memcached-3",
        "10.0.0.9:11211-stranger",
    ];
    for node in joined {
        zk.create(&format!("/arcus/cache_list/ruo91-cloud/{node}"), b"100MB", &ephemeral).await.unwrap();
    }
    let run = arcus(&[&z[..], &["memcached", "list", "ruo91-cloud"]].concat(), "").await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_no_trailing_whitespace(&run.stdout);
    // SOME_DOWN widens the status column: 11 + 9 + 5 + 6 + 7 + 26 + 8 + 2 × 7 = 86 dashes.
    let dashes = "-".repeat(86);
    assert_eq!(
        run.stdout,
        format!(
            "Server Roles\n\t{{'zookeeper': ['{ip}'], 'memcached': []}}\n\n{dashes}\n\
             serviceCode  status     total  online  offline  created                     modified\n{dashes}\n\
             ruo91-cloud  SOME_DOWN      6       5        1  {created_at}  None\n\n\
             Online\n\t10.0.0.1:11211\n\t10.0.0.1:11212\n\t10.0.0.2:11211\n\t10.0.0.3:11211\n\t10.0.0.3:11212\n\n\
             Offline\n\t10.0.0.2:11212\n\nUndefined\n\t10.0.0.9:11211\n\nDone.\n"
        )
    );
    let run = arcus(&[&z[..], &["memcached", "list", "ruo91-cloud", "--json"]].concat(), "").await;
    let json: serde_json::Value = serde_json::from_str(&run.stdout).expect("one JSON document");
    assert_eq!(json["status"], "SOME_DOWN");
    assert_eq!(json["offline"], serde_json::json!(["10.0.0.2:11212"]));
    assert_eq!(json["undefined"], serde_json::json!(["10.0.0.9:11211"]));
    let run = arcus(&[&z[..], &["--json", "memcached", "listall"]].concat(), "").await;
    let json: serde_json::Value = serde_json::from_str(&run.stdout).expect("one JSON document");
    assert_eq!(json["services"][0]["serviceCode"], "ruo91-cloud");
    assert_eq!(json["services"][0]["total"], 6);

    // Register again: `created` kept, `modified` added, the mappings made anew.
    let run = arcus(&[&z[..], &["memcached", "register", conf]].concat(), "").await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("\n['/arcus/cache_server_mapping/10.0.0.1:11211', "), "{}", run.stdout);
    let service: serde_json::Value = serde_json::from_str(&data(&zk, "/arcus/cache_list/ruo91-cloud").await).unwrap();
    assert_eq!(service["created"], created_at.as_str());
    let modified = service["modified"].as_str().expect("modified set").to_string();
    assert_eq!(children(&zk, "/arcus/cache_server_mapping").await.len(), 6);
    let run = arcus(&[&z[..], &["memcached", "listall"]].concat(), "").await;
    assert!(run.stdout.contains(&format!("  {created_at}  {modified}\n")), "{}", run.stdout);

    // A config mapping an ip:port of ruo91-cloud: refused, nothing applied, the path named.
    let conflict = fixture("conflict-cloud.json", ["10.0.0.1", "10.0.0.2", "10.0.0.3"], dir);
    let run = arcus(&[&z[..], &["memcached", "register", conflict.to_str().unwrap()]].concat(), "").await;
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr,
        "error: nothing was applied: create /arcus/cache_server_mapping/10.0.0.1:11211 failed: node already exists\n"
    );
    assert_eq!(children(&zk, "/arcus/cache_list").await, ["ruo91-cloud"]);
    assert_eq!(children(&zk, "/arcus/client_list").await, ["ruo91-cloud"]);
    assert_eq!(children(&zk, "/arcus/cache_server_mapping").await.len(), 6);

    // A bad config: refused before anything is written.
    let bad = fixture("bad/missing-port.json", ["10.0.0.1", "10.0.0.2", "10.0.0.3"], dir);
    let run = arcus(&[&z[..], &["memcached", "register", bad.to_str().unwrap()]].concat(), "").await;
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("servers[1].config.port: missing"), "{}", run.stderr);
    assert_eq!(run.stdout, "", "a bad config fails before any output");

    // Unregister while nodes are joined: refused, nothing deleted.
    let run = arcus(&[&z[..], &["memcached", "unregister", "ruo91-cloud"]].concat(), "Delete ruo91-cloud\n").await;
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .starts_with("error: unregister refused: 6 cache node(s) registered under /arcus/cache_list/ruo91-cloud: "),
        "{}",
        run.stderr
    );
    assert!(!run.stdout.contains("!!Caution!!"));
    assert_eq!(children(&zk, "/arcus/cache_list").await, ["ruo91-cloud"]);

    // The nodes leave (our session ends); a wrong confirmation changes nothing.
    drop(zk);
    let zk = client(&zklist).await;
    let deadline = Instant::now() + Duration::from_secs(15);
    while !children(&zk, "/arcus/cache_list/ruo91-cloud").await.is_empty() {
        assert!(Instant::now() < deadline, "ephemeral nodes still there 15 s after their session closed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let run = arcus(&[&z[..], &["memcached", "unregister", "ruo91-cloud"]].concat(), "delete ruo91-cloud\n").await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.ends_with(
            "!!Caution!!\nThis will delete an Arcus cluster permanently.\n\
             Please type in the following texts to confirm: \"Delete ruo91-cloud\"\n>> delete ruo91-cloud\nDelete canceled.\n\nDone.\n"
        ),
        "{}",
        run.stdout
    );
    assert_eq!(children(&zk, "/arcus/cache_list").await, ["ruo91-cloud"]);

    let run = arcus(&[&z[..], &["memcached", "unregister", "ruo91-cloud"]].concat(), "Delete ruo91-cloud\n").await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains(">> Delete ruo91-cloud\n['/arcus/cache_server_mapping/"), "{}", run.stdout);
    for parent in ["/arcus/cache_list", "/arcus/client_list", "/arcus/cache_server_mapping"] {
        assert!(children(&zk, parent).await.is_empty(), "{parent}");
    }

    // An unknown service: a message, exit 1.
    for command in [["memcached", "list"], ["memcached", "unregister"], ["memcached", "start"], ["memcached", "stop"]] {
        let run = arcus(&[&z[..], &command[..], &["ruo91-cloud"]].concat(), "").await;
        assert_eq!(run.code, 1, "{command:?}");
        assert_eq!(
            run.stderr,
            "error: unknown service code \"ruo91-cloud\": /arcus/cache_list/ruo91-cloud does not exist\n"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn zk_unreachable_is_a_message_within_the_session_timeout() {
    // A loopback port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let started = Instant::now();
    let run = arcus(&["-z", &format!("127.0.0.1:{port}"), "memcached", "listall"], "").await;
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr,
        format!("error: cannot reach ZooKeeper at 127.0.0.1:{port} within 10 s: no server answered\n")
    );
    assert!(started.elapsed() < Duration::from_secs(12), "took {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread")]
async fn zk_deploy_reports_the_failed_host_and_skips_localhost() {
    // The ZooKeeper container runs no sshd: ssh to it fails; 127.0.0.1 and localhost are this
    // machine: skipped.
    let (_container, ip) = standalone_zookeeper().await;
    let temp = TempDir::new("deploy");
    let dir = &temp.0;
    let conf = fixture("ruo91.json", [ip.as_str(), "127.0.0.1", "localhost"], dir);
    let home = dir.join("arcus");
    std::fs::create_dir_all(home.join("bin")).unwrap();
    let home = home.to_str().unwrap();
    let zklist = format!("{ip}:2181");
    let run = arcus_with_env(&["-z", &zklist, "deploy", conf.to_str().unwrap()], "", &[("ARCUS_HOME", home)]).await;
    let (stdout, stderr) = (run.stdout, run.stderr);
    assert_eq!(run.code, 1, "{stdout}{stderr}");
    assert!(stdout.contains(&format!("[{ip}] Executing task 'deploy'\n[{ip}] put: {home} -> {home}\n")), "{stdout}");
    assert!(stdout.contains(&format!("[{ip}] error: ssh failed (exit status 255)")), "{stdout}");
    for local in ["127.0.0.1", "localhost"] {
        assert!(
            stdout.contains(&format!("[{local}] Executing task 'deploy'\n[{local}] skipping localhost\n")),
            "{stdout}"
        );
    }
    assert!(!stdout.contains("Done."), "{stdout}");
    assert_eq!(stderr, format!("error: deploy failed on 1 of 1 hosts: {ip}\n"));
}

/// `memcached register` with a conf that lists fewer servers than the service has: as upstream's
/// `update_service_code`, every mapping of the service is deleted and the listed ones are made
/// anew, so the others stay removed; each removed mapping is named, and a node still joined
/// under it is said to be Undefined now (which `list` shows).
#[tokio::test(flavor = "multi_thread")]
async fn zk_register_with_fewer_servers_names_every_mapping_it_removes() {
    let (_container, ip) = standalone_zookeeper().await;
    let zklist = format!("{ip}:2181");
    let z = ["-z", zklist.as_str()];
    let temp = TempDir::new("register-fewer");
    let dir = &temp.0;
    let zk = client(&zklist).await;
    let open = CreateMode::Persistent.with_acls(Acls::anyone_all());
    for path in ["/arcus", "/arcus/cache_list", "/arcus/client_list", "/arcus/cache_server_mapping"] {
        zk.create(path, b"", &open).await.unwrap();
    }
    let all = fixture("ruo91.json", ["10.0.0.1", "10.0.0.2", "10.0.0.3"], dir);
    let run = arcus(&[&z[..], &["memcached", "register", all.to_str().unwrap()]].concat(), "").await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!run.stdout.contains("removed mapping"), "the first register removes nothing: {}", run.stdout);
    let ephemeral = CreateMode::Ephemeral.with_acls(Acls::anyone_all());
    for node in ["10.0.0.1:11211-memcached-1", "10.0.0.3:11212-memcached-3"] {
        zk.create(&format!("/arcus/cache_list/ruo91-cloud/{node}"), b"100MB", &ephemeral).await.unwrap();
    }

    // the same service without memcached-3's two servers
    let fewer = dir.join("fewer.json");
    let mut document: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&all).unwrap()).unwrap();
    document["servers"].as_array_mut().unwrap().retain(|s| s["ip"] != "10.0.0.3");
    std::fs::write(&fewer, document.to_string()).unwrap();
    let run = arcus(&[&z[..], &["memcached", "register", fewer.to_str().unwrap()]].concat(), "").await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.ends_with(
            "removed mapping /arcus/cache_server_mapping/10.0.0.3:11211 (ruo91-cloud): the conf no longer lists 10.0.0.3:11211\n\
             removed mapping /arcus/cache_server_mapping/10.0.0.3:11212 (ruo91-cloud): the conf no longer lists 10.0.0.3:11212; \
             its node 10.0.0.3:11212-memcached-3 is still joined and is now Undefined\n\nDone.\n"
        ),
        "{}",
        run.stdout
    );
    assert_eq!(
        children(&zk, "/arcus/cache_server_mapping").await,
        ["10.0.0.1:11211", "10.0.0.1:11212", "10.0.0.2:11211", "10.0.0.2:11212"]
    );
    let run = arcus(&[&z[..], &["memcached", "list", "ruo91-cloud", "--json"]].concat(), "").await;
    let json: serde_json::Value = serde_json::from_str(&run.stdout).expect("one JSON document");
    assert_eq!(json["undefined"], serde_json::json!(["10.0.0.3:11212"]), "{json}");
    assert_eq!(json["online"], serde_json::json!(["10.0.0.1:11211"]), "{json}");

    // registering the same conf again removes nothing more
    let run = arcus(&[&z[..], &["memcached", "register", fewer.to_str().unwrap()]].concat(), "").await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!run.stdout.contains("removed mapping"), "{}", run.stdout);
}
