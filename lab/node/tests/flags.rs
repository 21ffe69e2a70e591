//! The node's flags against arcus-memcached 1.15.0's: every value it refuses, refused with its
//! message and exit code, within a deadline and with no process left; resources the node cannot
//! get (threads, descriptors) are an error and an exit; `-p 0` and `-p -1` do what it does.

mod common;

use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use common::{Client, BIN};

/// How long a refusal may take: each is immediate, the thread ones about a second.
const REFUSAL_DEADLINE: Duration = Duration::from_secs(20);

/// What a refused start left: its exit code and its stderr lines.
#[derive(Debug)]
struct Refused {
    code: i32,
    lines: Vec<String>,
}

/// A word no other process has in its command line: memcached skips operands, as getopt does,
/// so it marks the node's processes for [`processes_marked`].
fn marker() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!("flags-test-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

/// Processes whose command line holds `marker`.
fn processes_marked(marker: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else { continue };
        let words: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
        if words.contains(&marker.as_bytes()) {
            found.push(String::from_utf8_lossy(&cmdline).replace('\0', " "));
        }
    }
    found
}

/// Starts the node (`-u nobody`, needed as root and ignored otherwise) with `args`, `limit`
/// applied to it before it runs, and waits for it to exit; asserts that no process of it is left.
fn refused_with(args: &[&str], limit: impl Fn() -> std::io::Result<()> + Send + Sync + 'static) -> Refused {
    let marker = marker();
    let mut cmd = Command::new(BIN);
    // the marker first: after the arguments it could be a flag's missing value
    cmd.arg(&marker).args(["-u", "nobody"]).args(args);
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    // SAFETY: the closure only calls setrlimit, which is async-signal-safe.
    unsafe { cmd.pre_exec(limit) };
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {BIN}: {e}"));
    let started = Instant::now();
    let exited = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > REFUSAL_DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the node with {args:?} did not exit within {REFUSAL_DEADLINE:?} (killed)");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = child.wait_with_output().unwrap();
    let code = exited.code().unwrap_or_else(|| panic!("{args:?}: ended by a signal: {exited}"));
    let lines = String::from_utf8_lossy(&out.stderr).lines().map(String::from).collect();
    let left = processes_marked(&marker);
    assert!(left.is_empty(), "{args:?}: processes left after the exit: {left:?}");
    Refused { code, lines }
}

fn refused(args: &[&str]) -> Refused {
    refused_with(args, || Ok(()))
}

/// Asserts the whole stderr and the exit code.
#[track_caller]
fn assert_refused(args: &[&str], code: i32, lines: &[&str]) {
    let got = refused(args);
    assert_eq!(
        (got.code, got.lines.iter().map(String::as_str).collect::<Vec<_>>()),
        (code, lines.to_vec()),
        "{args:?}"
    );
}

const THREADS: &str = "Number of threads must be greater than 0";
const MEMORY: &str = "The value of memory limit must be greater than 0.";
const ITEM_SMALL: &str = "Item max size cannot be less than 20KB.";
const ITEM_LARGE: &str = "Cannot set item size limit higher than 128 mb.";
const MANY_THREADS: [&str; 2] = [
    "WARNING: Setting a high number of workerthreads is not recommended.",
    " Set this value to the number of cores in your machine or less.",
];
const RLIMIT: &str = "failed to set rlimit for open files. Try running as root or requesting smaller maxconns value.";

fn too_few_connections(conns: &str, structures: u32) -> [String; 3] {
    [
        "Configuration error. ".to_string(),
        format!("You specified {conns} connections, but the system will use at least {structures}"),
        "connection structures to start.".to_string(),
    ]
}

#[test]
fn values_arcus_memcached_refuses_exit_1_with_its_message() {
    // numbers are C's atoi: a word without digits is 0, a value past 32 bits wraps
    for t in ["0", "-1", "abc", "4294967296"] {
        assert_refused(&["-t", t], 1, &[THREADS]);
    }
    for m in ["0", "-5", "abc", "4294967296"] {
        assert_refused(&["-m", m], 1, &[MEMORY]);
    }
    for r in ["0", "-1"] {
        assert_refused(&["-R", r], 1, &["Number of requests per event must be greater than 0"]);
    }
    for size in ["1k", "20479", "abc", "", "1g", "4096m"] {
        assert_refused(&["-I", size], 1, &[ITEM_SMALL]);
    }
    for size in ["129m", "134217729", "200000K"] {
        assert_refused(&["-I", size], 1, &[ITEM_LARGE]);
    }
    // the first refusal in the order of the command line is the one given; warnings before it stay
    assert_refused(&["-m", "0", "-t", "0"], 1, &[MEMORY]);
    assert_refused(&["-t", "65", "-m", "0"], 1, &[MANY_THREADS[0], MANY_THREADS[1], MEMORY]);
}

#[test]
fn unknown_flags_and_missing_values_name_the_flag_then_the_usage_exit_1() {
    for (args, complaint) in [
        (&["-y"][..], format!("{BIN}: invalid option -- 'y'")),
        (&["--port", "1"][..], format!("{BIN}: invalid option -- '-'")),
        (&["-v", "-p"][..], format!("{BIN}: option requires an argument -- 'p'")),
    ] {
        let got = refused(args);
        assert_eq!(got.code, 1, "{args:?}: {got:?}");
        assert_eq!(got.lines[..2], [complaint, "Illegal argument \"?\"".to_string()], "{args:?}");
        assert!(got.lines.iter().any(|l| l.trim_start().starts_with("-t <num>")), "{args:?}: no usage: {got:?}");
    }
}

#[test]
fn connections_without_room_for_the_listeners_exit_64() {
    for (c, shown) in [("0", "0"), ("2", "2"), ("-1", "-1"), ("4294967296", "0")] {
        let expected = too_few_connections(shown, 2);
        assert_refused(&["-c", c], 64, &expected.each_ref().map(String::as_str));
    }
    // with a UDP port, two structures per worker thread count too
    let expected = too_few_connections("4", 4);
    assert_refused(&["-p", "0", "-U", "22122", "-t", "2", "-c", "4"], 64, &expected.each_ref().map(String::as_str));
}

#[test]
fn connections_past_the_open_file_limit_exit_71() {
    // beyond what even root may set (fs.nr_open is at most 2^30), and -c + 20 negative as a C int
    for c in ["2147483000", "-100"] {
        assert_refused(&["-c", c], 71, &[RLIMIT]);
    }
}

#[test]
fn ports_and_interfaces_getaddrinfo_cannot_resolve_exit_71() {
    let no_service = "getaddrinfo(): Servname not supported for ai_socktype";
    assert_refused(&["-p", "-2"], 71, &[no_service, "failed to listen on TCP port -2: Success", "shutting down"]);
    // a UDP port without a TCP one is the TCP port too
    assert_refused(&["-U", "-7"], 71, &[no_service, "failed to listen on TCP port -7: Success", "shutting down"]);
    let port = common::free_port().to_string();
    assert_refused(
        &["-l", "127.0.0.1", "-p", &port, "-U", "-3"],
        71,
        &[no_service, "failed to listen on UDP port -3: Success", "shutting down"],
    );
    assert_refused(
        &["-l", "", "-p", &port],
        71,
        &[
            "getaddrinfo(): Name or service not known",
            &format!("failed to listen on TCP port {port}: Success"),
            "shutting down",
        ],
    );
}

#[test]
fn a_port_in_use_is_named_with_the_address_exit_71() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port().to_string();
    assert_refused(
        &["-l", "127.0.0.1", "-p", &port],
        71,
        &[
            &format!("bind() error(127.0.0.1:{port}): Address already in use"),
            &format!("failed to listen on TCP port {port}: Address already in use"),
            "shutting down",
        ],
    );
}

/// `-t 100000` once hung creating threads: now the first worker the process cannot have ends
/// the start, at once, whichever resource runs out first.
#[test]
fn threads_past_the_open_file_limit_exit_1() {
    // 4096 descriptors (more than -c 1024 needs) hold a few hundred workers' event loops
    let got = refused_with(&["-l", "127.0.0.1", "-p", "0", "-t", "100000"], || {
        use nix::sys::resource::{getrlimit, setrlimit, Resource};
        let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE)?;
        setrlimit(Resource::RLIMIT_NOFILE, hard.min(4096), hard.min(4096)).map_err(Into::into)
    });
    assert_eq!(
        (got.code, got.lines.iter().map(String::as_str).collect::<Vec<_>>()),
        (1, vec![MANY_THREADS[0], MANY_THREADS[1], "Can't allocate event base: Too many open files"])
    );
}

#[test]
fn threads_past_the_process_limit_exit_1() {
    // RLIMIT_NPROC binds the node once it is nobody (as root) or its starter (otherwise): either
    // way some thread of the 100000 cannot be created
    let got = refused_with(&["-l", "127.0.0.1", "-p", "0", "-t", "100000"], || {
        nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_NPROC, 64, 64).map_err(Into::into)
    });
    assert_eq!(
        (got.code, got.lines.iter().map(String::as_str).collect::<Vec<_>>()),
        (1, vec![MANY_THREADS[0], MANY_THREADS[1], "Can't create thread: Resource temporarily unavailable"])
    );
}

/// The inodes of the TCP sockets `pid` listens on, from /proc/net/tcp and tcp6.
fn listening_sockets(pid: u32) -> Vec<String> {
    let mine: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .flatten()
        .filter_map(|fd| std::fs::read_link(fd.path()).ok())
        .filter_map(|target| {
            let target = target.to_string_lossy().into_owned();
            Some(target.strip_prefix("socket:[")?.strip_suffix(']')?.to_string())
        })
        .collect();
    let mut listening = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        for row in std::fs::read_to_string(table).unwrap_or_default().lines().skip(1) {
            let cols: Vec<&str> = row.split_whitespace().collect();
            // st 0A is LISTEN; column 9 is the inode
            if cols.get(3) == Some(&"0A") && cols.get(9).is_some_and(|inode| mine.iter().any(|m| m == inode)) {
                listening.push(format!("{table} {}", cols[1]));
            }
        }
    }
    listening
}

/// `-p 0`: as arcus-memcached, no TCP listener at all; the node goes on to ZooKeeper (here an
/// ensemble that refuses, so it stays in its connect attempts while it is looked at).
#[test]
fn port_0_runs_without_a_listener() {
    let node = common::Node::spawn_at(0, &["-p", "0", "-t", "2", "-z", "127.0.0.1:1"], &[]);
    // logged after the listening step
    node.wait_log("arcus_zk_init(ensemble=127.0.0.1:1", Duration::from_secs(10));
    let pid = node.child.id();
    let threads = std::fs::read_dir(format!("/proc/{pid}/task")).unwrap().count();
    assert!(threads >= 3, "the main thread and two workers, but {threads} threads");
    assert_eq!(listening_sockets(pid), Vec::<String>::new());
}

/// `-p -1`: a port the kernel picks (as arcus-memcached, which passes -1 on as 0); the node says
/// which, and serves there.
#[test]
fn port_minus_1_listens_on_a_port_the_kernel_picks_and_says_which() {
    let mut node = common::Node::spawn_at(0, &["-p", "-1"], &[]);
    let line = node.wait_log("a port the kernel chose", Duration::from_secs(10));
    let addr = line.strip_prefix("-p -1 listens on ").and_then(|rest| rest.split(',').next()).unwrap_or_else(|| {
        panic!("the line does not name the address: {line}");
    });
    let port: u16 = addr.rsplit(':').next().unwrap().parse().unwrap_or_else(|e| panic!("{line}: {e}"));
    assert_ne!(port, 0, "{line}");
    let mut client = Client::connect(port).unwrap_or_else(|e| panic!("{line}: cannot connect: {e}"));
    assert_eq!(client.call("version"), "VERSION 1.15.0-ref");
    node.signal(libc::SIGTERM);
    assert_eq!(node.exit_code(Duration::from_secs(5)), 0);
}
