//! The text protocol on loopback against the real binary: exact replies, memccapable, a real
//! client library, malformed input, memory limits, flags and exit codes.

mod common;

use std::os::unix::process::CommandExt;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{proc_kib, Client, Node, BIN};

/// Sends `input` on a fresh connection, half-closes, and returns everything the node answered.
fn exchange(node: &Node, input: &[u8]) -> String {
    let mut c = node.client();
    c.send(input);
    c.stream.shutdown(std::net::Shutdown::Write).unwrap();
    String::from_utf8_lossy(&c.read_to_close()).into_owned()
}

#[test]
fn replies_match_memcached() {
    let node = Node::standalone(&[]);
    let long = "k".repeat(16001);
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"set a 0 0 1\r\nx\r\nget a b\r\n".to_vec(), "STORED\r\nVALUE a 0 1\r\nx\r\nEND\r\n"),
        (b"incr a 1\r\n".to_vec(), "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n"),
        (
            b"set n 5 0 2\r\n10\r\nincr n 5\r\ndecr n 100\r\nincr n 18446744073709551615\r\nincr n 1\r\nincr n abc\r\n".to_vec(),
            "STORED\r\n15\r\n0\r\n18446744073709551615\r\n0\r\nCLIENT_ERROR invalid numeric delta argument\r\n",
        ),
        (b"set n 0 0 2\r\n10\r\ndecr n 5\r\nget n\r\n".to_vec(), "STORED\r\n5\r\nVALUE n 0 2\r\n5 \r\nEND\r\n"),
        (b"set m 0 0 3\r\n 12\r\nincr m 1\r\n".to_vec(), "STORED\r\n13\r\n"),
        (b"set k 0 0 3\r\nabcde\r\nget k\r\n".to_vec(), "CLIENT_ERROR bad data chunk\r\nERROR unknown command\r\nEND\r\n"),
        (b"set k 0 0 -1\r\nset k 0 0 abc\r\n".to_vec(), "CLIENT_ERROR bad command line format\r\nCLIENT_ERROR bad command line format\r\n"),
        (b"set k\r\n\r\nGET a\r\n\x00\x01\xff\r\n".to_vec(), "ERROR unknown command\r\nERROR unknown command\r\nERROR unknown command\r\nERROR unknown command\r\n"),
        (format!("set {long} 0 0 1\r\nx\r\nget {long}\r\n").into_bytes(), "CLIENT_ERROR bad command line format\r\nERROR unknown command\r\nCLIENT_ERROR bad command line format\r\n"),
        (
            b"set d 0 0 1\r\nx\r\ndelete d 0\r\ndelete d 5\r\ndelete d noreply\r\ndelete zz\r\n".to_vec(),
            "STORED\r\nDELETED\r\nCLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\nNOT_FOUND\r\n",
        ),
        (
            b"set t 3 0 1\r\nx\r\ntouch t 10\r\ntouch q 10\r\ntouch t x\r\ngat 0 t q\r\ngat x t\r\n".to_vec(),
            "STORED\r\nTOUCHED\r\nNOT_FOUND\r\nCLIENT_ERROR invalid exptime argument\r\nVALUE t 3 1\r\nx\r\nEND\r\nCLIENT_ERROR invalid exptime argument\r\n",
        ),
        (
            b"cas c 0 0 1\r\nx\r\ncas c 0 0 1 99\r\nx\r\ncas c 0 0 1 abc\r\nx\r\n".to_vec(),
            "ERROR unknown command\r\nERROR unknown command\r\nNOT_FOUND\r\nCLIENT_ERROR bad command line format\r\nERROR unknown command\r\n",
        ),
        (
            b"append zz 0 0 1\r\nx\r\nset p 0 0 1\r\ny\r\nprepend p 0 0 1\r\nz\r\nappend p 0 0 1\r\nw\r\nget p\r\nadd p 0 0 1\r\nq\r\nreplace zz 0 0 1\r\nq\r\n".to_vec(),
            "NOT_STORED\r\nSTORED\r\nSTORED\r\nSTORED\r\nVALUE p 0 3\r\nzyw\r\nEND\r\nNOT_STORED\r\nNOT_STORED\r\n",
        ),
        (b"set e 0 -2 1\r\nx\r\nget e\r\nset f 0 2592001 1\r\nx\r\nget f\r\n".to_vec(), "STORED\r\nEND\r\nSTORED\r\nEND\r\n"),
        // exptime -1 asks for a sticky item, which 1.15.0's default sticky limit refuses
        (b"set s 0 -1 1\r\nx\r\nget s\r\n".to_vec(), "SERVER_ERROR out of memory storing object\r\nEND\r\n"),
        (b"set q 0 0 1 noreply\r\nx\r\nset q2 0 0 1 noreply\r\nxy\r\nversion\r\n".to_vec(), "ERROR unknown command\r\nVERSION 1.15.0-ref\r\n"),
        (
            b"flush_all\r\nflush_all 0\r\nflush_all noreply\r\nflush_all x\r\nverbosity 1\r\nverbosity\r\nverbosity x\r\nverbosity noreply\r\n".to_vec(),
            "OK\r\nOK\r\nCLIENT_ERROR invalid exptime argument\r\nOK\r\nERROR unknown command\r\nCLIENT_ERROR bad command line format\r\n",
        ),
        // collections, as a real 1.15.0 answers them (sop exist takes "mop get m 0\r\n" as its 1-byte data)
        (b"lop create l 0 0 10\r\nbop get b 0\r\nsop exist s 1\r\nmop get m 0\r\n".to_vec(), "CREATED\r\nNOT_FOUND\r\nCLIENT_ERROR bad data chunk\r\nEND\r\n"),
        (b"ready\r\nversion\r\nzkensemble get\r\nzkensemble\r\n".to_vec(), "READY\r\nVERSION 1.15.0-ref\r\nERROR not using ZooKeeper\r\nERROR unknown command\r\n"),
        (
            b"config zkfailstop\r\nconfig zkfailstop off\r\nconfig zkfailstop maybe\r\nconfig memlimit 100\r\nconfig memlimit\r\nconfig memlimit x\r\nconfig zkfailstop on off\r\n".to_vec(),
            "zkfailstop on\r\nEND\r\nEND\r\nCLIENT_ERROR bad value\r\nEND\r\nmemlimit 100\r\nEND\r\nCLIENT_ERROR bad command line format\r\nCLIENT_ERROR bad command line format\r\n",
        ),
        (b"shutdown x\r\nshutdown 601\r\n".to_vec(), "CLIENT_ERROR bad command line format\r\nCLIENT_ERROR invalid arguments\r\n"),
        (b"stats zookeeper\r\n".to_vec(), "STAT zk_libversion zookeeper-client-0.11\r\nSTAT zk_timeout 0\r\nSTAT zk_failstop on\r\nSTAT zk_connected false\r\nSTAT zk_ready false\r\nEND\r\n"),
        (b"quit\r\nversion\r\n".to_vec(), ""),
    ];
    for (input, expected) in cases {
        assert_eq!(exchange(&node, &input), expected, "input {:?}", String::from_utf8_lossy(&input));
    }
}

#[test]
fn oversized_values_and_lines() {
    let node = Node::standalone(&["-I", "1m"]);
    let mut big = b"set big 0 0 2000000\r\n".to_vec();
    big.extend(std::iter::repeat_n(b'x', 2_000_000));
    big.extend(b"\r\nversion\r\n");
    assert_eq!(exchange(&node, &big), "CLIENT_ERROR object too large for cache\r\nVERSION 1.15.0-ref\r\n");
    let mut ok = b"set big 0 0 1000000\r\n".to_vec();
    ok.extend(std::iter::repeat_n(b'y', 1_000_000));
    ok.extend(b"\r\nget big\r\n");
    let reply = exchange(&node, &ok);
    assert!(reply.starts_with("STORED\r\nVALUE big 0 1000000\r\nyyy") && reply.ends_with("y\r\nEND\r\n"));
    // a command line longer than 24 KB without a newline: arcus-memcached closes the connection
    let mut endless = vec![b'x'; 30_000];
    endless.extend(b"\r\nversion\r\n");
    assert_eq!(exchange(&node, &endless), "");
    // but a long multi-get line is fine
    let keys: String = (0..2000).map(|i| format!(" k{i}")).collect();
    assert_eq!(exchange(&node, format!("get{keys}\r\n").as_bytes()), "END\r\n");
}

#[test]
fn memccapable_passes_every_ascii_test() {
    let node = Node::standalone(&[]);
    let out = Command::new("memccapable")
        .args(["-a", "-h", "127.0.0.1", "-p", &node.port.to_string()])
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run memccapable ({e}): it comes with Debian's libmemcached-tools, which .ci/run installs")
        });
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("All tests passed"), "{text}");
    assert_eq!(text.matches("[pass]").count(), 27, "{text}");
    assert!(!text.contains("FAIL"), "{text}");
}

#[test]
fn memcache_crate_client() {
    let node = Node::standalone(&[]);
    let client = memcache::connect(format!("memcache://127.0.0.1:{}?protocol=ascii", node.port)).unwrap();
    client.set("greeting", "hello", 0).unwrap();
    assert_eq!(client.get::<String>("greeting").unwrap().as_deref(), Some("hello"));
    client.set("counter", 41u64, 0).unwrap();
    assert_eq!(client.increment("counter", 1).unwrap(), 42);
    assert_eq!(client.decrement("counter", 50).unwrap(), 0);
    assert!(client.delete("greeting").unwrap());
    assert!(!client.delete("greeting").unwrap());
    assert_eq!(client.get::<String>("greeting").unwrap(), None);
    client.add("added", "first", 0).unwrap();
    client.add("added", "second", 0).unwrap();
    assert_eq!(client.get::<String>("added").unwrap().as_deref(), Some("first"));
}

/// xorshift64*: a deterministic stream for the fuzz test.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn malformed_line(rng: &mut Rng) -> Vec<u8> {
    let key = |rng: &mut Rng| -> String {
        let len = if rng.below(10) == 0 { 16001 + rng.below(100) } else { 1 + rng.below(20) };
        (0..len).map(|_| (b'a' + rng.below(26) as u8) as char).collect()
    };
    match rng.below(10) {
        0 => (0..rng.below(200)).map(|_| rng.next() as u8).chain(*b"\r\n").collect(),
        1 => format!("set {} 0 0 {}\r\n", key(rng), rng.next() as i64).into_bytes(),
        2 => {
            let n = rng.below(50);
            let extra = rng.below(5);
            let mut v = format!("set {} {} 0 {n}\r\n", key(rng), rng.below(100)).into_bytes();
            v.extend((0..n + extra).map(|_| b'v'));
            v.extend(b"\r\n");
            v
        }
        3 => format!("get {} {}\r\n", key(rng), key(rng)).into_bytes(),
        4 => format!("incr {} {}\r\n", key(rng), rng.next()).into_bytes(),
        5 => format!("cas {} 0 0 1 {}\r\nz\r\n", key(rng), rng.next()).into_bytes(),
        6 => format!("delete {} {}\r\n", key(rng), rng.below(3)).into_bytes(),
        7 => format!("touch {} x{}\r\n", key(rng), rng.below(9)).into_bytes(),
        8 => format!(
            "{} {}\r\n",
            ["gat", "flush_all", "verbosity", "stats", "config", "shutdown 99999"][rng.below(6) as usize],
            key(rng)
        )
        .into_bytes(),
        _ => format!("decr {} -{}\r\n", key(rng), rng.below(9)).into_bytes(),
    }
}

#[test]
fn survives_malformed_input() {
    let node = Node::standalone(&["-m", "8"]);
    let mut rng = Rng(0x5eed_cafe_f00d_d00d);
    let mut bystander = node.client();
    let started = Instant::now();
    // 10^5 lines over 100 connections, each read to its closing `version` so errors surface and
    // the node is seen to keep its place in the stream through every malformed line
    for connection in 0..100 {
        let mut input = Vec::new();
        for _ in 0..1000 {
            input.extend(malformed_line(&mut rng));
        }
        input.extend(b"version\r\n");
        let mut c = node.client();
        c.send(&input);
        let reply = c.read_until_version().unwrap_or_else(|| {
            panic!("connection {connection}: the closing `version` was never answered (closed or timed out)")
        });
        let reply = String::from_utf8_lossy(&reply).into_owned();
        for line in reply.lines().filter(|l| l.contains("ERROR")) {
            assert!(
                ["ERROR unknown command", "CLIENT_ERROR "].iter().any(|p| line.starts_with(p)),
                "unexpected error line {line:?}"
            );
        }
        assert!(started.elapsed() < Duration::from_secs(120), "fuzzing took too long");
    }
    // a value longer than announced, a line with no end, a client gone mid-value
    let mut c = node.client();
    c.send(b"set v 0 0 5\r\n0123456789\r\n");
    drop(c);
    let mut c = node.client();
    c.send(&[b'z'; 1000]);
    drop(c);
    let mut c = node.client();
    c.send(b"set w 0 0 100000\r\nabc");
    drop(c);
    assert_eq!(bystander.call("version"), "VERSION 1.15.0-ref");
    assert_eq!(node.client().call("set after 0 0 1\r\n1"), "STORED");
}

trait ReadUntilVersion {
    fn read_until_version(&mut self) -> Option<Vec<u8>>;
}

impl ReadUntilVersion for Client {
    /// The reply lines before the closing VERSION line; None if the connection closed (or the
    /// read timed out) before it.
    fn read_until_version(&mut self) -> Option<Vec<u8>> {
        let mut all = Vec::new();
        loop {
            let l = self.line().ok()?;
            if l.starts_with("VERSION") {
                return Some(all);
            }
            all.extend(l.as_bytes());
            all.push(b'\n');
        }
    }
}

#[test]
fn memory_limit_holds_under_overfill() {
    let node = Node::standalone(&["-m", "16", "-t", "2"]);
    let mut c = node.client();
    let value = vec![b'v'; 1000];
    // 160 MB through a 16 MB cache, pipelined in batches
    for batch in 0..160 {
        let mut input = Vec::new();
        for i in 0..1000 {
            input.extend(format!("set key:{batch}:{i} 0 0 {} noreply\r\n", value.len()).as_bytes());
            input.extend(&value);
            input.extend(b"\r\n");
        }
        c.send(&input);
    }
    assert_eq!(c.call("version"), "VERSION 1.15.0-ref");
    let rss_mib = proc_kib(node.child.id(), "VmHWM") / 1024;
    let limit_mib = 16;
    assert!(rss_mib <= limit_mib * 3 / 2 + 12, "peak RSS {rss_mib} MiB for -m {limit_mib}");
    let bytes: u64 = c.stat("", "bytes").parse().unwrap();
    assert!(bytes <= 16 * 1024 * 1024);
    assert!(c.stat("", "evictions").parse::<u64>().unwrap() > 100_000);
    assert_eq!(c.call("get key:159:999"), format!("VALUE key:159:999 0 {}", value.len()));
}

#[test]
fn idle_rss_is_small() {
    let node = Node::standalone(&["-t", "4"]);
    let rss_mib = proc_kib(node.child.id(), "VmRSS") / 1024;
    assert!(rss_mib <= 20, "idle RSS {rss_mib} MiB");
}

#[test]
fn unknown_commands_with_ascii_scrub() {
    let node = Node::standalone(&["-X", "/opt/arcus/lib/ascii_scrub.so", "-E", "/opt/arcus/lib/default_engine.so"]);
    assert_eq!(
        exchange(&node, b"bogus\r\nnosuch x 0 1\r\n"),
        "ERROR no matching command\r\nERROR no matching command\r\n"
    );
}

#[test]
fn stats_settings_and_counters() {
    let node = Node::standalone(&["-m", "32", "-t", "3", "-c", "77"]);
    let mut c = node.client();
    let settings = c.stats("settings");
    let get = |k: &str| settings.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap();
    assert_eq!(get("maxbytes"), (32 * 1024 * 1024).to_string());
    assert_eq!(get("maxconns"), "77");
    assert_eq!(get("num_threads"), "3");
    assert_eq!(get("hb_timeout"), "10000");
    assert_eq!(get("hb_failstop"), "60000");
    c.call("set s 0 0 1\r\nx");
    c.call_until("get s", "END");
    assert_eq!(c.stat("", "get_hits"), "1");
    assert_eq!(c.stat("", "curr_items"), "1");
}

#[test]
fn connection_limit() {
    // (-c 2 leaves no room beside the two listening sockets: arcus-memcached refuses it, exit 64)
    let node = Node::standalone(&["-c", "3"]);
    // three held connections, each known to be accepted because it answered
    // (the start-up probe's connection may still be counted for a moment: retry until served)
    let served = || {
        common::wait_for("a served connection", Duration::from_secs(5), || {
            let mut c = node.client();
            (c.call("version") == "VERSION 1.15.0-ref").then_some(c)
        })
    };
    let _a = served();
    let _b = served();
    let _c = served();
    let mut c = node.client();
    assert_eq!(c.line().unwrap(), "ERROR Too many open connections");
}

#[test]
fn heartbeat_counts() {
    let node = Node::standalone(&[]);
    let mut c = node.client();
    common::wait_for("a heartbeat", Duration::from_secs(8), || (c.stat("", "hb_count") != "0").then_some(()));
}

fn run(args: &[&str]) -> (i32, String) {
    finished(Command::new(BIN).args(args))
}

fn finished(cmd: &mut Command) -> (i32, String) {
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    (
        out.status.code().unwrap_or_else(|| panic!("{cmd:?} ended by a signal: {}", out.status)),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// The node's command line run as root: directly when the suite runs as root (as CI does), else in
/// a user namespace of its own (`unshare --user --map-root-user`), where the node's euid is 0 —
/// all its root checks look at — though it cannot become another user there.
fn as_root(args: &[&str]) -> Command {
    if is_root() {
        let mut cmd = Command::new(BIN);
        cmd.args(args);
        return cmd;
    }
    let probe = Command::new("unshare").args(["--user", "--map-root-user", "true"]).output();
    assert!(
        probe.as_ref().is_ok_and(|o| o.status.success()),
        "this test runs the node as root: run the suite as root (as CI does), or allow unprivileged user \
         namespaces (util-linux `unshare --user --map-root-user` failed here: {probe:?})"
    );
    let mut cmd = Command::new("unshare");
    cmd.args(["--user", "--map-root-user", BIN]).args(args);
    cmd
}

#[test]
fn flag_errors_and_exit_codes() {
    let (code, text) = run(&["-u", "nobody", "-m", "0"]);
    assert_eq!((code, text.trim()), (1, "The value of memory limit must be greater than 0."));
    assert_eq!(run(&["-u", "nobody", "-Q"]).0, 1);
    assert_eq!(run(&["-u", "nobody", "-p"]).0, 1);
    let (code, text) = run(&["-h"]);
    assert_eq!(code, 0);
    assert!(text.contains("-z"), "{text}");
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port().to_string();
    let (code, text) = run(&["-u", "nobody", "-l", "127.0.0.1", "-p", &port]);
    assert_eq!(code, 71);
    assert!(text.contains(&format!("failed to listen on TCP port {port}")), "{text}");
    assert!(text.trim_end().ends_with("shutting down"), "{text}");
}

/// arcus-memcached's root rules, on every machine: as root the node refuses to start without `-u`
/// (64) and with a user that does not exist (67).
#[test]
fn as_root_the_u_switch_is_required_and_must_name_a_known_user() {
    let (code, text) = finished(&mut as_root(&["-l", "127.0.0.1", "-p", "1"]));
    assert_eq!((code, text.trim()), (64, "can't run as root without the -u switch"));
    let (code, text) = finished(&mut as_root(&["-u", "no-such-user-here", "-l", "127.0.0.1", "-p", "1"]));
    assert_eq!((code, text.trim()), (67, "can't find the user no-such-user-here to switch to"));
}

/// `Uid:`, `Gid:` and `Groups:` of a process, as /proc shows them.
fn identity(pid: u32) -> Vec<String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status.lines().filter(|l| ["Uid:", "Gid:", "Groups:"].iter().any(|f| l.starts_with(f))).map(String::from).collect()
}

/// The `-u` switch for real: started by root, the serving node runs as that user (every uid and
/// gid, no supplementary group left); started by anyone else, `-u` is ignored (arcus-memcached
/// switches only as root) and the node keeps its starter's identity. Needs root to see the switch.
#[test]
fn u_switch_drops_root_to_that_user_and_is_ignored_by_others() {
    assert!(
        is_root(),
        "this test needs root: only root can switch to another user, which is what it checks; run the suite as \
         root (CI's .ci/run does)"
    );
    let nobody = nix::unistd::User::from_name("nobody").unwrap().expect("the user nobody exists");
    let (uid, gid) = (nobody.uid.as_raw(), nobody.gid.as_raw());
    let as_nobody = [format!("Uid:\t{uid}\t{uid}\t{uid}\t{uid}"), format!("Gid:\t{gid}\t{gid}\t{gid}\t{gid}")];

    // root with -u nobody (Node::standalone passes it): the serving process is nobody's
    let node = Node::standalone(&[]);
    assert_eq!(node.client().call("version"), "VERSION 1.15.0-ref");
    let seen = identity(node.child.id());
    assert_eq!(seen[..2], as_nobody[..], "{seen:?}");
    assert_eq!(seen[2].trim_end(), "Groups:", "supplementary groups kept: {seen:?}");

    // nobody starting it with a -u that root would refuse (67): ignored, it serves as nobody
    let port = common::free_port().to_string();
    let mut child = Command::new(BIN)
        .args(["-u", "no-such-user-here", "-l", "127.0.0.1", "-p", &port])
        .uid(uid)
        .gid(gid)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {BIN} as nobody (is its directory readable by all?): {e}"));
    let answered = common::wait_for("the node started by nobody to answer", Duration::from_secs(10), || {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(Err(status));
        }
        Client::connect(port.parse().unwrap()).ok().map(|mut c| Ok(c.call("version")))
    });
    let seen = identity(child.id());
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        answered,
        Ok("VERSION 1.15.0-ref".to_string()),
        "started by nobody with -u no-such-user-here: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(seen[..2], as_nobody[..], "{seen:?}");
}

#[test]
fn sigterm_and_sigint_stop_gracefully() {
    for (sig, name) in [(libc::SIGTERM, "SIGTERM"), (libc::SIGINT, "SIGINT")] {
        let mut node = Node::standalone(&["-v"]);
        node.signal(sig);
        assert_eq!(node.exit_code(Duration::from_secs(5)), 0);
        let log = node.log();
        let expected = [
            format!("memcached shutdown by signal({name})"),
            "Initiating arcus memcached shutdown...".into(),
            "Listen sockets closed.".into(),
            "Worker threads terminated.".into(),
            "Memcached engine destroyed.".into(),
            "Arcus memcached terminated.".into(),
        ];
        assert_eq!(&log[log.len() - expected.len()..], &expected, "{log:?}");
    }
}

#[test]
fn shutdown_command_drains_and_denies_a_second() {
    let mut node = Node::standalone(&[]);
    let mut c = node.client();
    assert_eq!(c.call("shutdown 1"), "OK");
    // the listener is closed at once
    common::wait_for("the listener to close", Duration::from_secs(3), || {
        Client::connect(node.port).is_err().then_some(())
    });
    assert_eq!(c.call("shutdown"), "DENIED");
    assert_eq!(node.exit_code(Duration::from_secs(5)), 0);
    assert!(node.log().iter().any(|l| l == "shutdown scheduled (time=1, dynamic=0)"));
}

#[test]
fn daemonize_returns_at_once() {
    let port = common::free_port();
    let started = Instant::now();
    let out =
        Command::new(BIN).args(["-u", "nobody", "-d", "-l", "127.0.0.1", "-p", &port.to_string()]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(started.elapsed() < Duration::from_secs(2));
    let mut c = common::wait_for("the daemon to answer", Duration::from_secs(5), || Client::connect(port).ok());
    let pid: i32 = c.stat("", "pid").parse().unwrap();
    assert_ne!(pid as u32, std::process::id());
    // SAFETY: kill on the daemon we started.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let proc_dir = format!("/proc/{pid}");
    common::wait_for("the daemon to exit", Duration::from_secs(5), || {
        (!std::path::Path::new(&proc_dir).exists()).then_some(())
    });
}
