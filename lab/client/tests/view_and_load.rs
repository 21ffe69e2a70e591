//! The client view with real things: a standalone ZooKeeper (the lab's host image, through
//! `arcus_lab::fixture`) and two reference nodes (`memcached -z`) on loopback. The view refuses a
//! missing service and a ZooKeeper outside its guard, registers its client_list entry, follows
//! the nodes' znodes; a load runs through it while one node is SIGKILLed, and the records, the
//! report, the bounds and the timeline say what the client saw.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use arcus_client::report::{read_records, WindowEnd};
use arcus_client::{
    check, timeline, Bounds, ClientError, FaultMarker, Guard, Load, LoadSpec, MarkerKind, Outcome, Report, View,
    ViewConfig,
};
use arcus_lab::fixture::StandaloneZk;
use zookeeper_client as zk;

const SVC: &str = "client-test";
const HOSTNAME: &str = "client-test-host";
/// The fixtures' run label: `lab down --run fixture-client-tests` removes what a run left.
const RUN: &str = "fixture-client-tests";
/// The nodes ask for 30 s; the fixture's `fast` profile gives them its maximum, 10 s.
const NODE_SESSION: Duration = Duration::from_secs(10);

/// The reference node's binary, built (or found up to date) by cargo.
fn node_binary() -> PathBuf {
    let status = Command::new(env!("CARGO"))
        .args(["build", "--quiet", "-p", "arcus-node", "--bin", "memcached"])
        .current_dir(arcus_lab::paths::workspace_root())
        .status()
        .expect("run cargo build -p arcus-node");
    assert!(status.success(), "cargo build -p arcus-node --bin memcached failed");
    arcus_lab::paths::target_dir().join("debug").join("memcached")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A node process, killed when dropped.
struct Node(Child);

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn_node(binary: &PathBuf, port: u16, ensemble: &str) -> Node {
    let child = Command::new(binary)
        .args(["-u", "nobody", "-l", "127.0.0.1", "-p", &port.to_string(), "-m", "64", "-z", ensemble])
        .env("ARCUS_CACHE_PUBLIC_IP", "127.0.0.1")
        .env("ARCUS_CACHE_HOSTNAME_OVERWRITE", HOSTNAME)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the reference node");
    Node(child)
}

fn persistent() -> zk::CreateOptions<'static> {
    zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all())
}

/// What `zookeeper init` and `memcached register` would make for `nodes`.
async fn register(client: &zk::Client, nodes: &[String]) {
    client.create(&format!("/arcus/cache_list/{SVC}"), b"{}", &persistent()).await.unwrap();
    client.create(&format!("/arcus/client_list/{SVC}"), b"", &persistent()).await.unwrap();
    for node in nodes {
        let mapping = format!("/arcus/cache_server_mapping/{node}");
        client.create(&mapping, b"{}", &persistent()).await.unwrap();
        client.create(&format!("{mapping}/{SVC}"), b"", &persistent()).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_node_fails_its_keys_until_its_znode_goes_and_the_records_say_so() {
    let binary = node_binary();
    let zk = StandaloneZk::start(RUN).await.expect("start the ZooKeeper container");
    let admin = zk::Client::connector().with_session_timeout(NODE_SESSION).connect(&zk.addr()).await.unwrap();
    for p in ["/arcus", "/arcus/cache_list", "/arcus/client_list", "/arcus/cache_server_mapping"] {
        admin.create(p, b"", &persistent()).await.unwrap();
    }
    let guard = Guard::networks(vec![zk.ip().into()]);

    // No service yet: the client's check fails as the Java client's does.
    let missing = View::connect(ViewConfig::new(zk.addr(), SVC, guard.clone())).await.err().expect("no service");
    assert!(matches!(missing, ClientError::ServiceNotFound(ref s) if s == SVC), "{missing}");
    assert!(missing.to_string().starts_with("service code not found"), "{missing}");
    // A ZooKeeper outside the guard is refused before any connection, by its address.
    let outside = View::connect(ViewConfig::new(zk.addr(), SVC, Guard::loopback())).await.err().expect("refused");
    assert!(outside.to_string().contains(&zk.ip().to_string()), "{outside}");
    assert!(matches!(outside, ClientError::OutsideGuard { .. }), "{outside}");

    // A service under /arcus_repl is found there first (its entry and its list are read there);
    // a child name without a host name is all address.
    for p in ["/arcus_repl", "/arcus_repl/cache_list", "/arcus_repl/client_list"] {
        admin.create(p, b"", &persistent()).await.unwrap();
    }
    admin.create(&format!("/arcus_repl/cache_list/{SVC}"), b"{}", &persistent()).await.unwrap();
    admin.create(&format!("/arcus_repl/cache_list/{SVC}/10.9.9.9:11211"), b"", &persistent()).await.unwrap();
    admin.create(&format!("/arcus_repl/client_list/{SVC}"), b"", &persistent()).await.unwrap();
    let repl = View::connect(ViewConfig::new(zk.addr(), SVC, guard.clone())).await.expect("the repl view connects");
    assert_eq!(repl.ring().nodes().iter().map(|n| n.to_string()).collect::<Vec<_>>(), ["10.9.9.9:11211"]);
    assert!(repl.client_znode().starts_with(&format!("/arcus_repl/client_list/{SVC}/")), "{}", repl.client_znode());
    repl.close().await;
    for p in [format!("/arcus_repl/cache_list/{SVC}/10.9.9.9:11211"), format!("/arcus_repl/cache_list/{SVC}")] {
        admin.delete(&p, None).await.unwrap();
    }

    let (port_a, port_b) = (free_port(), free_port());
    let (a, b) = (format!("127.0.0.1:{port_a}"), format!("127.0.0.1:{port_b}"));
    register(&admin, &[a.clone(), b.clone()]).await;
    let _node_a = spawn_node(&binary, port_a, &zk.addr());
    let mut node_b = spawn_node(&binary, port_b, &zk.addr());

    let view = View::connect(ViewConfig::new(zk.addr(), SVC, guard)).await.expect("the view connects");
    view.wait_for_nodes(2, Duration::from_secs(15)).await.expect("both nodes on the ring");
    let mut both = [a.clone(), b.clone()];
    both.sort();
    assert_eq!(view.ring().nodes().iter().map(|n| n.to_string()).collect::<Vec<_>>(), both);

    // The client_list entry: <hostname>_<ip>_<pool>_<lang>_<version>_<yyyyMMddHHmmss>_<session id>.
    let entries = admin.list_children(&format!("/arcus/client_list/{SVC}")).await.unwrap();
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(view.client_znode(), format!("/arcus/client_list/{SVC}/{}", entries[0]));
    let fields: Vec<&str> = entries[0].rsplitn(7, '_').collect();
    assert_eq!(fields.len(), 7, "{entries:?}");
    let (session, stamp, version, lang, pool) = (fields[0], fields[1], fields[2], fields[3], fields[4]);
    assert!(session.parse::<i64>().is_ok_and(|s| s != 0), "session id {session:?}");
    assert!(stamp.len() == 14 && stamp.bytes().all(|b| b.is_ascii_digit()), "time {stamp:?}");
    assert_eq!((pool, lang, version), ("1", "rust", env!("CARGO_PKG_VERSION")));

    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("client-view-test");
    std::fs::create_dir_all(&dir).unwrap();
    let records_path = dir.join("client.jsonl");
    let spec = LoadSpec { rate: 2000, keys: 400, timeout: Duration::from_millis(300), ..LoadSpec::default() };
    let load = Load::start(&view, spec, std::fs::File::create(&records_path).unwrap()).expect("the load starts");

    // Traffic on both nodes, then B is killed; the test's own watch on B's znode marks its removal.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let b_znode = format!("/arcus/cache_list/{SVC}/{b}-{HOSTNAME}");
    let (stat, b_watch) = admin.check_and_watch_stat(&b_znode).await.unwrap();
    assert!(stat.is_some(), "{b_znode} exists before the kill");
    node_b.0.kill().unwrap();
    let killed = Instant::now();
    let mut markers = vec![FaultMarker::now(format!("kill -9 {b}"), MarkerKind::Fault, vec![b.clone()])];
    let deadline = NODE_SESSION + Duration::from_secs(5);
    let removed = tokio::time::timeout(deadline, b_watch.changed()).await.expect("B's znode goes within its session");
    assert_eq!(removed.event_type, zk::EventType::NodeDeleted);
    markers.push(FaultMarker::now(format!("znode of {b} gone"), MarkerKind::ZnodeRemoved, vec![b.clone()]));
    view.wait_for("B off the ring", Duration::from_secs(5), |ring| !ring.contains(&b)).await.expect("B leaves");
    let gone_after = killed.elapsed();
    assert!(
        gone_after > Duration::from_secs(3) && gone_after < deadline,
        "B left the ring {gone_after:?} after the kill"
    );
    // Traffic on A alone for a while, then the end.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let totals = load.stop().await.expect("the load stops");
    let client_znode = view.client_znode();
    let events = view.close().await;
    assert!(admin.check_stat(&client_znode).await.unwrap().is_none(), "{client_znode} is gone when close returns");

    assert!(totals.ops > 2000 * 5, "{totals:?}");
    assert!(totals.refused > 0 && totals.stored > 0 && totals.hits > 0, "{totals:?}");
    // The nodes may have joined after the view's first read: the removal is the one change after.
    let removal = events.last().expect("ring events");
    assert_eq!((removal.removed.clone(), removal.added.len()), (vec![b.clone()], 0), "{events:?}");
    assert_eq!(events.iter().filter(|e| !e.removed.is_empty()).count(), 1, "{events:?}");

    let records: Vec<_> = read_records(&records_path).unwrap().collect::<Result<_, _>>().unwrap();
    assert_eq!(records.len() as u64, totals.ops);
    let removal_ms = removal.at.ms_since(&totals.started);
    let kill_ms = markers[0].at.ms_since(&totals.started);
    // A's operations all succeeded; B's failed from the kill until its removal, then none went to B.
    fn on<'a>(records: &'a [arcus_client::Record], node: &'a str) -> impl Iterator<Item = &'a arcus_client::Record> {
        records.iter().filter(move |r| r.node.as_deref() == Some(node))
    }
    let on = |node| on(&records, node);
    assert!(on(&a).all(|r| !r.outcome.failed()), "A failed: {:?}", on(&a).find(|r| r.outcome.failed()));
    assert!(on(&b).filter(|r| r.t_ms < kill_ms - 50.0).all(|r| !r.outcome.failed()), "B failed before the kill");
    let b_failed_after = on(&b).filter(|r| r.t_ms > kill_ms + 100.0).filter(|r| r.outcome == Outcome::Refused).count();
    assert!(b_failed_after > 100, "only {b_failed_after} refused operations on B after the kill");
    assert!(on(&b).filter(|r| r.t_ms > kill_ms + 100.0).all(|r| r.outcome.failed()), "B answered after the kill");
    assert_eq!(on(&b).filter(|r| r.t_ms > removal_ms + 1.0).count(), 0, "operations went to B after its removal");

    let report = Report::compute(records.into_iter().map(Ok), &events, &markers, totals.started).unwrap();
    std::fs::write(dir.join("client.json"), serde_json::to_string_pretty(&report).unwrap()).unwrap();
    let node = |n: &str| report.nodes.iter().find(|r| r.node == n).unwrap();
    let (ra, rb) = (node(&a), node(&b));
    assert!(rb.faulted && !ra.faulted);
    assert_eq!((ra.failed, ra.lost_values, ra.unavailable.len()), (0, 0, 0), "{ra:?}");
    assert_eq!(rb.unavailable.len(), 1, "{rb:?}");
    let window = &rb.unavailable[0];
    assert_eq!(window.ended_by, WindowEnd::Removed, "{window:?}");
    assert!(
        (window.from_ms - kill_ms).abs() < 200.0,
        "B's window starts at {} ms, the kill at {kill_ms} ms",
        window.from_ms
    );
    assert!((window.to_ms - removal_ms).abs() < 1.0, "{window:?}");
    assert!(rb.unavailable_ms > 3000.0 && rb.unavailable_ms < 12_000.0, "{rb:?}");
    assert!(rb.keys_moved_away > 0 && ra.keys_moved_away == 0, "{ra:?} {rb:?}");
    assert_eq!(report.lost_values_on_unfaulted_nodes, 0);
    let lag = report.ring_lags.iter().find(|l| l.node == b).and_then(|l| l.lag_ms).expect("a lag for B");
    assert!(lag.abs() < 1000.0, "ring lag {lag} ms");
    assert_eq!(report.phases.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["before", "during"]);
    // Before the kill only operations in flight at the moment of the kill fail (checked above).
    assert!(report.phases[0].availability > 0.99, "{:?}", report.phases[0]);
    assert!(report.phases[1].availability < 0.9, "{:?}", report.phases[1]);

    // The contract's figures hold; a bound of no failure at all names B.
    let bounds = Bounds {
        max_unavailable: Some(Duration::from_secs(12)),
        min_unavailable: Some(Duration::from_secs(3)),
        max_lost_values_on_unfaulted_nodes: Some(0),
        min_failed_ops: Some(1),
        max_ring_lag: Some(Duration::from_secs(1)),
        ..Bounds::default()
    };
    assert_eq!(check(&report, &bounds), []);
    let strict = check(&report, &Bounds { max_failed_ops: Some(0), ..Bounds::default() });
    assert_eq!(strict.len(), 1, "{strict:?}");
    assert!(strict[0].message.contains(&b) && strict[0].bound == "max_failed_ops", "{}", strict[0]);

    let page = timeline::render(&report);
    std::fs::write(dir.join("timeline.html"), &page).unwrap();
    assert_eq!(page.matches(r#"class="lane""#).count(), 2);
    assert_eq!(page.matches(r#"class="marker""#).count(), report.markers.len() + report.ring_changes.len());
    assert!(page.contains(&format!(r#"data-node="{b}" data-faulted="true""#)));
    assert!(report.markdown().contains(&format!("| {b} | yes |")), "{}", report.markdown());
}

fn signal(node: &Node, signal: &str) {
    let status = Command::new("kill").args([signal, &node.0.id().to_string()]).status().expect("run kill");
    assert!(status.success(), "kill {signal} {}", node.0.id());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_node_times_out_keeps_its_keys_and_serves_again() {
    let binary = node_binary();
    let zk = StandaloneZk::start(RUN).await.expect("start the ZooKeeper container");
    let admin = zk::Client::connector().with_session_timeout(NODE_SESSION).connect(&zk.addr()).await.unwrap();
    for p in ["/arcus", "/arcus/cache_list", "/arcus/client_list", "/arcus/cache_server_mapping"] {
        admin.create(p, b"", &persistent()).await.unwrap();
    }
    let (port_a, port_b) = (free_port(), free_port());
    let (a, b) = (format!("127.0.0.1:{port_a}"), format!("127.0.0.1:{port_b}"));
    register(&admin, &[a.clone(), b.clone()]).await;
    let node_a = spawn_node(&binary, port_a, &zk.addr());
    let _node_b = spawn_node(&binary, port_b, &zk.addr());
    let guard = Guard::networks(vec![zk.ip().into()]);
    let view = View::connect(ViewConfig::new(zk.addr(), SVC, guard)).await.expect("the view connects");
    view.wait_for_nodes(2, Duration::from_secs(15)).await.expect("both nodes on the ring");

    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("client-frozen-test");
    std::fs::create_dir_all(&dir).unwrap();
    let records_path = dir.join("client.jsonl");
    // long enough that a loaded 2-core machine (the suite's labs beside this test) does not time
    // out an operation of a node that is not frozen; well under the 2 s freeze
    let timeout = Duration::from_millis(500);
    let spec = LoadSpec { rate: 1000, keys: 200, timeout, ..LoadSpec::default() };
    let load = Load::start(&view, spec, std::fs::File::create(&records_path).unwrap()).expect("the load starts");

    // Frozen for 2 s, well within its 10 s session: its znode stays, so do its keys.
    tokio::time::sleep(Duration::from_secs(1)).await;
    signal(&node_a, "-STOP");
    let mut markers = vec![FaultMarker::now(format!("SIGSTOP {a}"), MarkerKind::Fault, vec![a.clone()])];
    tokio::time::sleep(Duration::from_secs(2)).await;
    signal(&node_a, "-CONT");
    markers.push(FaultMarker::now(format!("SIGCONT {a}"), MarkerKind::Heal, vec![a.clone()]));
    tokio::time::sleep(Duration::from_secs(2)).await;
    // Stopping with a frozen node ends within the operations' timeout, not at the node's pleasure.
    signal(&node_a, "-STOP");
    let stopping = Instant::now();
    let totals = load.stop().await.expect("the load stops");
    let took = stopping.elapsed();
    signal(&node_a, "-CONT");
    assert!(took < timeout + Duration::from_secs(1), "stop took {took:?} with a frozen node");
    let events = view.close().await;
    assert!(events.iter().all(|e| e.removed.is_empty()), "no node left the ring: {events:?}");
    assert!(totals.timeouts > 0, "{totals:?}");

    let records = read_records(&records_path).unwrap();
    let report = Report::compute(records, &events, &markers, totals.started).unwrap();
    std::fs::write(dir.join("client.json"), serde_json::to_string_pretty(&report).unwrap()).unwrap();
    std::fs::write(dir.join("timeline.html"), timeline::render(&report)).unwrap();
    let node = |n: &str| report.nodes.iter().find(|r| r.node == n).unwrap();
    let (ra, rb) = (node(&a), node(&b));
    assert_eq!((rb.failed, rb.lost_values), (0, 0), "{rb:?}");
    assert!(ra.timeouts > 0 && ra.keys_moved_away == 0, "{ra:?}");
    assert_eq!(ra.lost_values, 0, "a frozen node keeps its values: {ra:?}");
    let first = &ra.unavailable[0];
    assert_eq!(first.ended_by, WindowEnd::Success, "{ra:?}");
    let (fault_ms, heal_ms) = (report.markers[0].at_ms, report.markers[1].at_ms);
    assert!(first.from_ms > fault_ms - 250.0 && first.from_ms < fault_ms + 50.0, "{first:?} fault at {fault_ms}");
    assert!(first.to_ms > heal_ms - 250.0 && first.to_ms < heal_ms + 1500.0, "{first:?} heal at {heal_ms}");
    let phases: Vec<&str> = report.phases.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(phases, ["before", "during", "after"]);
    assert_eq!(report.phases[0].failed, 0, "{:?}", report.phases[0]);
    assert!(report.phases[1].p99_us >= timeout.as_micros() as u64, "{:?}", report.phases[1]);
}
