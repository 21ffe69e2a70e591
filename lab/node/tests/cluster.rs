//! The node in a cloud: a real standalone ZooKeeper (the lab's host image, through
//! `arcus_lab::fixture`, addressed by its bridge IP) and the contract's one-node stories S5-S9,
//! S11-S13, S17 and every start-up exit code.

mod common;

use std::time::{Duration, Instant};

use arcus_lab::fixture::StandaloneZk;
use common::{wait_for, Client, Node};
use zookeeper_client as zk;

const SVC: &str = "test-svc";
const PUBLIC_IP: &str = "127.0.0.1";
const HOSTNAME: &str = "node-under-test";
/// With the `fast` profile a node asking for 30 s gets ZooKeeper's maximum, 10 s.
const SESSION: Duration = Duration::from_secs(10);

/// The fixtures' run label: `lab down --run fixture-node-tests` removes what a run left.
const RUN: &str = "fixture-node-tests";

/// A standalone ZooKeeper in a container, serving; the server process can be stopped and started
/// again with the same data dir while the container (and its IP) stays.
async fn start_zk() -> StandaloneZk {
    StandaloneZk::start(RUN).await.expect("start the ZooKeeper container")
}

/// A test client session on the fixture's ZooKeeper.
async fn client_of(zk: &StandaloneZk) -> zk::Client {
    zk::Client::connector().with_session_timeout(SESSION).connect(&zk.addr()).await.expect("test client session")
}

fn persistent() -> zk::CreateOptions<'static> {
    zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all())
}

/// What `zookeeper init` and `memcached register` would create, for the given mapping names.
async fn arcus_tree(client: &zk::Client, mappings: &[String], with_service: bool, with_log: bool) {
    for p in ["/arcus", "/arcus/cache_list", "/arcus/client_list", "/arcus/cache_server_mapping"] {
        client.create(p, b"", &persistent()).await.unwrap();
    }
    if with_service {
        client.create(&format!("/arcus/cache_list/{SVC}"), b"{}", &persistent()).await.unwrap();
    }
    if with_log {
        client.create("/arcus/cache_server_log", b"", &persistent()).await.unwrap();
    }
    for m in mappings {
        let path = format!("/arcus/cache_server_mapping/{m}");
        client.create(&path, b"{}", &persistent()).await.unwrap();
        client.create(&format!("{path}/{SVC}"), b"", &persistent()).await.unwrap();
    }
}

fn env() -> [(&'static str, &'static str); 2] {
    [("ARCUS_CACHE_PUBLIC_IP", PUBLIC_IP), ("ARCUS_CACHE_HOSTNAME_OVERWRITE", HOSTNAME)]
}

fn znode(port: u16) -> String {
    format!("/arcus/cache_list/{SVC}/{PUBLIC_IP}:{port}-{HOSTNAME}")
}

/// A ZooKeeper with the tree and one node joined (mapped by ip:port, -m 100, -v).
async fn joined(extra: &[&str]) -> (StandaloneZk, zk::Client, Node) {
    let zk = start_zk().await;
    let client = client_of(&zk).await;
    let port = common::free_port();
    arcus_tree(&client, &[format!("{PUBLIC_IP}:{port}")], true, false).await;
    let node = spawn_on(&zk, port, extra);
    node.wait_log("Memcached is watching Arcus cache cloud", Duration::from_secs(15));
    (zk, client, node)
}

fn spawn_on(zk: &StandaloneZk, port: u16, extra: &[&str]) -> Node {
    let port_s = port.to_string();
    let addr = zk.addr();
    let mut args = vec!["-p", &port_s, "-m", "100", "-v", "-z", &addr];
    args.extend_from_slice(extra);
    Node::spawn_at(port, &args, &env())
}

async fn znode_owner(client: &zk::Client, path: &str) -> Option<i64> {
    client.check_stat(path).await.unwrap().map(|s| s.ephemeral_owner)
}

fn session_id(node: &Node) -> i64 {
    let line = node.wait_log("session_id=", Duration::from_secs(5));
    let hex = line.rsplit("session_id=0x").next().unwrap();
    i64::from_str_radix(hex.trim(), 16).unwrap()
}

async fn wait_znode(client: &zk::Client, path: &str, present: bool, deadline: Duration) -> Duration {
    let start = Instant::now();
    loop {
        if client.check_stat(path).await.unwrap().is_some() == present {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < deadline,
            "znode {path} still {} after {deadline:?}",
            if present { "absent" } else { "present" }
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joins_with_the_contract_log_lines_and_znode() {
    let zk = start_zk().await;
    let client = client_of(&zk).await;
    let port = common::free_port();
    arcus_tree(&client, &[format!("{PUBLIC_IP}:{port}")], true, true).await;
    let node = spawn_on(&zk, port, &["-o", "5"]);
    node.wait_log("Memcached is watching Arcus cache cloud", Duration::from_secs(15));
    let all = node.log();
    // a real 1.15.0's start-up at -v: the engine's lines, then one line per listening socket
    assert!(all[0].starts_with("engine config: cache_size=104857600;"), "{all:#?}");
    assert_eq!(all[16], "Supplying the following features: LRU, compare and swap", "{all:#?}");
    assert!(all.iter().any(|l| l.ends_with(&format!(":{port} start to listen"))), "{all:#?}");
    // then ZooKeeper
    let zk_from = all.iter().position(|l| l.starts_with("arcus_zk_init(")).expect("an arcus_zk_init line");
    let log = &all[zk_from..];
    let name = format!("{PUBLIC_IP}:{port}-{HOSTNAME}");
    let expected_prefixes = [
        format!("arcus_zk_init(ensemble={}, zk_timeout=5)", zk.addr()),
        "Heartbeat thread is running.".to_string(),
        format!("ZOO_SESSION_EVENT Connected. server={}, session_id=0x", zk.addr()),
        "ZooKeeper client initialized. (ZK session timeout=10 sec)".to_string(),
        format!("Found the valid server mapping. service_code={SVC}"),
        format!("Joined Arcus cloud at {}(ver=", znode(port)),
        format!("Memcached joined Arcus cache cloud for \"{SVC}\" service (took "),
        "update cluster config. (count=1)".to_string(),
        format!("server[0] = {name}"),
        format!("Memcached is watching Arcus cache cloud for \"/arcus/cache_list/{SVC}\""),
    ];
    assert_eq!(log.len(), expected_prefixes.len(), "{log:#?}");
    for (line, prefix) in log.iter().zip(&expected_prefixes) {
        assert!(line.starts_with(prefix.as_str()), "{line:?} should start with {prefix:?}");
    }
    // registered within 200 ms of the session being established
    let took: u64 = log[6].split("took ").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
    assert!(took <= 200_000, "joined {took} µs after the session");
    let (data, stat) = client.get_data(&znode(port)).await.unwrap();
    assert_eq!(data, b"100MB");
    assert_eq!(stat.ephemeral_owner, session_id(&node));
    // the dated cache_server_log entry, data "join"
    let days = client.list_children("/arcus/cache_server_log").await.unwrap();
    assert_eq!(days.len(), 1);
    let entries = client.list_children(&format!("/arcus/cache_server_log/{}", days[0])).await.unwrap();
    assert_eq!(entries.len(), 1);
    assert!(entries[0].starts_with(&format!("{name}-")) && entries[0].len() == name.len() + 11, "{entries:?}");
    let mut c = node.client();
    assert_eq!(c.call("ready"), "READY");
    assert_eq!(
        c.call_until("stats zookeeper", "END")[1..],
        ["STAT zk_timeout 10000", "STAT zk_failstop on", "STAT zk_connected true", "STAT zk_ready true", "END"]
    );
    // as the C client reports the ensemble: each server's resolved ip:port followed by a space
    c.send(b"zkensemble get\r\n");
    assert_eq!(c.line().unwrap(), format!("{} ", zk.addr()));
    assert_eq!(c.line().unwrap(), "");
    assert_eq!(c.line().unwrap(), "");
    assert_eq!(c.call("zkensemble rejoin"), "ERROR failed to rejoin ensemble");
    node.wait_log("Failed to rejoin ensemble. It's already a member of cloud.", Duration::from_secs(2));
    assert_eq!(c.call("zkensemble bogus"), "CLIENT_ERROR bad command line format");
    // another member appears: the watch reports it
    let other = format!("/arcus/cache_list/{SVC}/10.0.0.9:11211-other");
    client.create(&other, b"64MB", &zk::CreateMode::Ephemeral.with_acls(zk::Acls::anyone_all())).await.unwrap();
    node.wait_log("update cluster config. (count=2)", Duration::from_secs(5));
    assert!(node
        .log()
        .iter()
        .any(|l| l == &format!("ZOO_CHILD_EVENT from ZK cache list: state=3, path=/arcus/cache_list/{SVC}")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_command_is_answered_before_joining() {
    let zk = start_zk().await;
    let client = client_of(&zk).await;
    let port = common::free_port();
    arcus_tree(&client, &[format!("{PUBLIC_IP}:{port}")], true, false).await;
    drop(client);
    zk.stop_server().await.expect("ZooKeeper stops");
    let node = spawn_on(&zk, port, &["-o", "20"]);
    // connects succeed, commands wait
    let mut c = wait_for("the listener", Duration::from_secs(5), || Client::connect(port).ok());
    c.stream.set_read_timeout(Some(Duration::from_millis(700))).unwrap();
    c.send(b"version\r\n");
    assert!(c.line().is_err(), "answered before joining");
    zk.start_server().await.expect("ZooKeeper serves again");
    c.stream.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    assert_eq!(c.line().unwrap(), "VERSION 1.15.0-ref");
    assert!(node.log().iter().any(|l| l.starts_with("Joined Arcus cloud at")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_up_failures_exit_with_the_contract_codes() {
    let zk = start_zk().await;
    let client = client_of(&zk).await;
    let mapped = common::free_port();
    let two = common::free_port();
    // a mapping for `mapped` in a service whose cache_list node is missing (S8), and a mapping
    // with two services
    arcus_tree(&client, &[format!("{PUBLIC_IP}:{mapped}"), format!("{PUBLIC_IP}:{two}")], false, false).await;
    client.create(&format!("/arcus/cache_server_mapping/{PUBLIC_IP}:{two}/second"), b"", &persistent()).await.unwrap();

    // 69: no resolvable ensemble host
    for list in ["", "no-such-host.invalid:2181"] {
        let mut node = Node::spawn_env(&["-z", list], &env());
        assert_eq!(node.exit_code(Duration::from_secs(20)), 69);
        let log = node.log();
        assert_eq!(log[log.len() - 2..], ["not able to connect any Ensemble server", "shutting down"], "{log:?}");
    }
    // 65: hostname longer than 128
    let long = "h".repeat(129);
    let mut node = Node::spawn_env(
        &["-z", &zk.addr()],
        &[("ARCUS_CACHE_PUBLIC_IP", PUBLIC_IP), ("ARCUS_CACHE_HOSTNAME_OVERWRITE", &long)],
    );
    assert_eq!(node.exit_code(Duration::from_secs(20)), 65);
    // 76 (S7): no mapping at all
    let mut node = Node::spawn_env(&["-z", &zk.addr()], &env());
    let port = node.port;
    assert_eq!(node.exit_code(Duration::from_secs(20)), 76);
    let log = node.log();
    let tail = [
        format!("Recheck the server mapping without port number. zpath=/arcus/cache_server_mapping/{PUBLIC_IP}"),
        format!("Failed to read the server mapping. zpath=/arcus/cache_server_mapping/{PUBLIC_IP} error=-101(no node)"),
        "Failed to check server mapping for this cache node. (zk_root=/arcus)".to_string(),
        "shutting down".to_string(),
    ];
    assert_eq!(log[log.len() - 4..], tail, "{log:?} (port {port})");
    // 76 (S8): cache_list/<svc> missing
    let mut node = spawn_on(&zk, mapped, &[]);
    assert_eq!(node.exit_code(Duration::from_secs(20)), 76);
    let log = node.log();
    let path = format!("/arcus/cache_list/{SVC}/{PUBLIC_IP}:{mapped}-{HOSTNAME}");
    assert_eq!(
        log[log.len() - 3..],
        [
            format!("cannot create znode {path}: error=-101(no node)"),
            "arcus_create_ephemeral_znode() failed.".into(),
            "shutting down".into()
        ],
        "{log:?}"
    );
    // 76: a mapping with two services
    let mut node = spawn_on(&zk, two, &[]);
    assert_eq!(node.exit_code(Duration::from_secs(20)), 76);
    assert!(node.log().iter().any(|l| l
        == &format!(
        "The server mapping exists but has 2(!= 1) mapping znodes. zpath=/arcus/cache_server_mapping/{PUBLIC_IP}:{two}"
    )));
    // 76: no ZooKeeper answering within the session timeout (-o 10)
    let closed = format!("{}:2999", zk.ip());
    let mut node = Node::spawn_env(&["-z", &closed, "-o", "10"], &env());
    assert_eq!(node.exit_code(Duration::from_secs(25)), 76);
    let log = node.log();
    assert_eq!(
        log[log.len() - 3..],
        ["cannot to be ZOO_CONNECTED_STATE", "Failed to initialize zk client", "shutting down"],
        "{log:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mapping_by_kernel_picked_ip_and_hostname_fallbacks() {
    let zk = start_zk().await;
    let client = client_of(&zk).await;
    let sock = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
    sock.connect((zk.ip(), 514)).unwrap();
    let picked = sock.local_addr().unwrap().ip();
    // mapped by IP only: the third lookup
    arcus_tree(&client, &[picked.to_string()], true, false).await;
    let port = common::free_port();
    let node = Node::spawn_at(port, &["-p", &port.to_string(), "-z", &zk.addr(), "-m", "64"], &[]);
    node.wait_log("Memcached is watching Arcus cache cloud", Duration::from_secs(15));
    let log = node.log();
    assert!(log
        .iter()
        .any(|l| l
            == &format!("Recheck the server mapping without port number. zpath=/arcus/cache_server_mapping/{picked}")));
    let members = client.list_children(&format!("/arcus/cache_list/{SVC}")).await.unwrap();
    assert_eq!(members.len(), 1);
    assert!(members[0].starts_with(&format!("{picked}:{port}-")), "{members:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signals_and_shutdown_remove_the_znode_at_once() {
    // S5: SIGINT and SIGTERM
    for (sig, name) in [(libc::SIGINT, "SIGINT"), (libc::SIGTERM, "SIGTERM")] {
        let (_zk, client, mut node) = joined(&[]).await;
        let path = znode(node.port);
        node.signal(sig);
        let gone = wait_znode(&client, &path, false, Duration::from_secs(1)).await;
        assert!(gone <= Duration::from_secs(1), "znode went after {gone:?}");
        assert_eq!(node.exit_code(Duration::from_secs(5)), 0);
        let log = node.log();
        let expected = [
            format!("memcached shutdown by signal({name})"),
            "Initiating arcus memcached shutdown...".into(),
            "arcus_zk_final(graceful shutdown)".into(),
            "zk threads terminated".into(),
            "zk connection closed".into(),
            "Listen sockets closed.".into(),
            "Worker threads terminated.".into(),
            "Memcached engine destroyed.".into(),
            "Arcus memcached terminated.".into(),
        ];
        assert_eq!(log[log.len() - expected.len()..], expected, "{log:#?}");
    }
    // shutdown command: znode at once, then the drain, exit 0
    let (_zk, client, mut node) = joined(&[]).await;
    let path = znode(node.port);
    let mut c = node.client();
    assert_eq!(c.call("shutdown 3"), "OK");
    wait_znode(&client, &path, false, Duration::from_secs(1)).await;
    assert_eq!(c.call("shutdown"), "DENIED");
    drop(c);
    assert_eq!(node.exit_code(Duration::from_secs(6)), 0);
    // dynamic=1 is the bare `shutdown` (its default delay) only, as arcus-memcached logs it
    assert!(node.log().iter().any(|l| l == "shutdown scheduled (time=3, dynamic=0)"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_node_restart_before_and_after_expiry() {
    // S6
    let (zk, client, mut node) = joined(&[]).await;
    let port = node.port;
    let path = znode(port);
    node.signal(libc::SIGKILL);
    node.wait_exit(Duration::from_secs(5));
    let mut again = spawn_on(&zk, port, &[]);
    assert_eq!(again.exit_code(Duration::from_secs(20)), 76);
    assert!(again.log().iter().any(|l| l == &format!("cannot create znode {path}: error=-110(node exists)")));
    wait_znode(&client, &path, false, SESSION + Duration::from_secs(5)).await;
    let third = spawn_on(&zk, port, &[]);
    third.wait_log("Memcached is watching Arcus cache cloud", Duration::from_secs(15));
    assert_eq!(znode_owner(&client, &path).await, Some(session_id(&third)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_znode_pauses_until_rejoin() {
    // S9
    let (zk, client, node) = joined(&[]).await;
    let path = znode(node.port);
    let mut c = node.client();
    assert_eq!(c.call("set kept 0 0 1\r\nx"), "STORED");
    client.delete(&path, None).await.unwrap();
    node.wait_log("My ephemeral znode in cache_list is deleted. Please check and rejoin.", Duration::from_secs(5));
    assert_eq!(c.call("ready"), "NOT_READY");
    assert_eq!(c.call_until("stats zookeeper", "END")[3..5], ["STAT zk_connected false", "STAT zk_ready false"]);
    assert_eq!(c.call("zkensemble get"), "ERROR failed to get the ensemble address");
    assert_eq!(c.call_until("get kept", "END"), ["VALUE kept 0 1", "x", "END"]);
    client.create("/arcus/cache_server_log", b"", &persistent()).await.unwrap();
    assert_eq!(c.call("zkensemble rejoin"), "Successfully rejoined");
    assert_eq!(c.call("ready"), "READY");
    node.wait_log(
        &format!("Memcached rejoined Arcus cache cloud for \"{SVC}\" service (took "),
        Duration::from_secs(2),
    );
    assert!(client.check_stat(&path).await.unwrap().is_some());
    let days = client.list_children("/arcus/cache_server_log").await.unwrap();
    let day = format!("/arcus/cache_server_log/{}", days[0]);
    let entries = client.list_children(&day).await.unwrap();
    assert_eq!(client.get_data(&format!("{day}/{}", entries[0])).await.unwrap().0, b"rejoin");
    drop(zk);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ensemble_outage_keeps_the_session() {
    // S12/S13: ZooKeeper down shorter, then longer than the session; the node serves throughout
    let (zk, client, node) = joined(&[]).await;
    let path = znode(node.port);
    let session = session_id(&node);
    drop(client);
    let mut c = node.client();
    for outage in [Duration::from_secs(3), SESSION + Duration::from_secs(8)] {
        zk.stop_server().await.expect("ZooKeeper stops");
        let start = Instant::now();
        while start.elapsed() < outage {
            assert_eq!(c.call("set during 0 0 1\r\nx"), "STORED");
            assert_eq!(c.call("ready"), "READY");
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        assert_eq!(c.call_until("stats zookeeper", "END")[3], "STAT zk_connected true");
        zk.start_server().await.expect("ZooKeeper serves again");
        let client = client_of(&zk).await;
        // the znode is still owned by the node's first session, and the node is still connected
        assert_eq!(znode_owner(&client, &path).await, Some(session));
        wait_for("the node to reconnect", Duration::from_secs(20), || {
            node.log().iter().rev().take(4).any(|l| l.starts_with("ZOO_SESSION_EVENT Connected.")).then_some(())
        });
        assert_eq!(znode_owner(&client, &path).await, Some(session));
        assert_eq!(c.call("ready"), "READY");
    }
    assert!(!node.log().iter().any(|l| l.contains("Expired")), "{:#?}", node.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frozen_node_short_and_long() {
    // S17: SIGSTOP shorter than the session changes nothing; longer → exit 75 on SIGCONT
    let (_zk, client, mut node) = joined(&[]).await;
    let path = znode(node.port);
    let session = session_id(&node);
    node.signal(libc::SIGSTOP);
    tokio::time::sleep(Duration::from_secs(3)).await;
    node.signal(libc::SIGCONT);
    assert_eq!(node.client().call("ready"), "READY");
    assert_eq!(znode_owner(&client, &path).await, Some(session));
    node.signal(libc::SIGSTOP);
    wait_znode(&client, &path, false, SESSION + Duration::from_secs(5)).await;
    node.signal(libc::SIGCONT);
    assert_eq!(node.exit_code(Duration::from_secs(20)), 75);
    let log = node.log();
    assert_eq!(log[log.len() - 2..], ["ZOO_SESSION_EVENT Expired. shutting down", "shutting down"], "{log:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiry_with_failstop_off_pauses_then_rejoins() {
    // S11 (expiry by a freeze longer than the session, with zkfailstop off)
    let (_zk, client, node) = joined(&[]).await;
    let path = znode(node.port);
    let mut c = node.client();
    assert_eq!(c.call_until("config zkfailstop off", "END"), ["END"]);
    assert_eq!(c.call_until("config zkfailstop", "END"), ["zkfailstop off", "END"]);
    node.signal(libc::SIGSTOP);
    wait_znode(&client, &path, false, SESSION + Duration::from_secs(5)).await;
    node.signal(libc::SIGCONT);
    node.wait_log("ZOO_SESSION_EVENT Expired. pausing memcached (zk_failstop: off)", Duration::from_secs(20));
    node.wait_log("zk connection closed by mc_pause.", Duration::from_secs(2));
    assert_eq!(c.call("ready"), "NOT_READY");
    assert_eq!(c.call("set still 0 0 1\r\nx"), "STORED");
    assert_eq!(c.call("zkensemble rejoin"), "Successfully rejoined");
    assert_eq!(c.call("ready"), "READY");
    assert!(client.check_stat(&path).await.unwrap().is_some());
}
