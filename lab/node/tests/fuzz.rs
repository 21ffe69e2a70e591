//! The node's protocol parser under a million random and mutated lines: a seeded generator
//! (bounded by a count of lines, not by time) feeds a running node over loopback; afterwards the
//! node still answers `version`, has not panicked, and its memory has stayed within a bound.

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

use common::Node;

/// Lines sent in all, and at most per connection (one connection after the other).
const LINES: usize = 1_000_000;
const LINES_PER_CONNECTION: usize = 25_000;
/// The node's item memory (-m): the store may hold this much of what the lines stored.
const ITEM_MEMORY_MB: u64 = 8;
/// RSS the node may gain over the run beyond its item memory: the index, per-item overhead and
/// what the allocator keeps of freed connection buffers. Measured over the run: 1-1.5 MiB (the
/// store held about 6000 items, 0.6 MB).
const RSS_GROWTH_BOUND_KIB: u64 = (ITEM_MEMORY_MB + 32) * 1024;

/// The seeded generator: every run sends the same lines, so a failure is reproducible.
type Rng = fastrand::Rng;

/// A random element of `from`.
fn pick<'a, T>(rng: &mut Rng, from: &'a [T]) -> &'a T {
    &from[rng.usize(..from.len())]
}

/// Valid request lines that mutations start from (storage commands get their data block after
/// mutation, of the length the mutated line declares). No `flush_all`: the store is to fill up
/// to its limit (protocol.rs covers flush_all).
const SEEDS: &[&str] = &[
    "get k",
    "gets k1 k2 k3",
    "gat 10 k",
    "gats 0 k1 k2",
    "set k 0 0 5",
    "set n 0 0 2 noreply",
    "add k 1 60 3",
    "replace k 0 0 1",
    "append k 0 0 2",
    "prepend k 0 0 2",
    "cas k 0 0 1 1",
    "cas k 7 0 1 99 noreply",
    "incr n 5",
    "decr n 3 noreply",
    "delete k",
    "delete k 0 noreply",
    "touch k 100",
    "version",
    "verbosity 1",
    "verbosity 0 noreply",
    "stats",
    "stats settings",
    "stats zookeeper",
    "stats reset",
    "ready",
    "config memlimit",
    "config zkfailstop",
    "config zkfailstop off",
    "zkensemble get",
];

/// Data blocks longer than this end their connection's batch: the node waits for or skips that
/// many bytes, which would swallow the lines after it unparsed.
const LONGEST_DATA: usize = 4096;

/// Tokens mutations put in: numbers at and past every edge the parser converts to, empty and
/// control bytes, keys at and past the 16000-byte limit, fresh keys, keywords in the wrong place.
fn interesting(rng: &mut Rng) -> Vec<u8> {
    const WORDS: &[&str] = &[
        "",
        "0",
        "-1",
        "+1",
        "1e5",
        "0x10",
        "255",
        "256",
        "2147483647",
        "2147483648",
        "-2147483649",
        "4294967295",
        "4294967296",
        "9223372036854775807",
        "-9223372036854775808",
        "18446744073709551615",
        "18446744073709551616",
        "99999999999999999999999999",
        "noreply",
        "get",
        "set",
        "END",
        "\0",
        "\t",
        "\r",
        "é",
    ];
    match rng.usize(..8) {
        0 => vec![b'k'; 16000],
        1 => vec![b'k'; 16001 + rng.usize(..50)],
        2 | 3 => fresh_key(rng),
        _ => pick(rng, WORDS).as_bytes().to_vec(),
    }
}

fn fresh_key(rng: &mut Rng) -> Vec<u8> {
    (0..1 + rng.usize(..40)).map(|_| b'a' + rng.usize(..26) as u8).collect()
}

fn random_bytes(rng: &mut Rng, len: usize) -> Vec<u8> {
    // mostly what protocol lines are made of, sometimes any byte
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789 -\r\n\0\t:";
    (0..len).map(|_| if rng.usize(..4) == 0 { rng.u8(..) } else { *pick(rng, ALPHABET) }).collect()
}

fn mutate(rng: &mut Rng, line: &mut Vec<u8>) {
    let at = |rng: &mut Rng, line: &Vec<u8>| rng.usize(..line.len() + 1);
    match rng.usize(..7) {
        0 if !line.is_empty() => {
            let i = rng.usize(..line.len());
            line[i] = rng.u8(..);
        }
        1 => {
            let i = at(rng, line);
            let len = 1 + rng.usize(..8);
            line.splice(i..i, random_bytes(rng, len));
        }
        2 if !line.is_empty() => {
            let i = rng.usize(..line.len());
            let end = (i + 1 + rng.usize(..8)).min(line.len());
            line.drain(i..end);
        }
        3 | 4 => {
            // a whole space-separated token replaced by an interesting one
            let mut tokens: Vec<Vec<u8>> = line.split(|b| *b == b' ').map(<[u8]>::to_vec).collect();
            let i = rng.usize(..tokens.len());
            tokens[i] = interesting(rng);
            *line = tokens.join(&b' ');
        }
        5 => {
            // a token repeated, or one dropped
            let mut tokens: Vec<Vec<u8>> = line.split(|b| *b == b' ').map(<[u8]>::to_vec).collect();
            let i = rng.usize(..tokens.len());
            if rng.usize(..2) == 0 {
                let copy = tokens[i].clone();
                tokens.insert(i, copy);
            } else if tokens.len() > 1 {
                tokens.remove(i);
            }
            *line = tokens.join(&b' ');
        }
        _ => line.truncate(at(rng, line)),
    }
}

/// One request: a fifth random bytes, the rest a seed with one to four mutations, ended by
/// CRLF (or a bare LF); then, if it is a storage command, a data block of the length it declares
/// (one in eight of another length). Lines that would rightly end the run or the connection are
/// turned into others: `shutdown` stops the node, `quit` and a line past arcus-memcached's 24 KB
/// close the connection (both are tested in protocol.rs), and every line sent must reach the
/// parser. Returns the bytes and whether the batch must end after them (a declared length past
/// [`LONGEST_DATA`]).
fn request(rng: &mut Rng) -> (Vec<u8>, bool) {
    let mut line = if rng.usize(..5) == 0 {
        let len = rng.usize(..120);
        random_bytes(rng, len)
    } else {
        let mut line = pick(rng, SEEDS).as_bytes().to_vec();
        if rng.usize(..2) == 0 {
            // a fresh key in place of the seed's, so the store fills up to its limit
            let mut tokens: Vec<Vec<u8>> = line.split(|b| *b == b' ').map(<[u8]>::to_vec).collect();
            if let Some(key) = tokens.get_mut(1) {
                *key = fresh_key(rng);
            }
            line = tokens.join(&b' ');
        }
        for _ in 0..1 + rng.usize(..4) {
            mutate(rng, &mut line);
        }
        line
    };
    // one line per request: a LF inside would make two, the second unchecked below
    for b in line.iter_mut().filter(|b| **b == b'\n') {
        *b = b' ';
    }
    // anywhere in the line: a data block of a length the line did not mean can leave the parser
    // mid-line, at a `quit` or `shutdown` that was part of a longer word
    if line.windows(4).any(|w| w == b"quit") || line.windows(8).any(|w| w == b"shutdown") {
        line.retain(|b| *b != b'u');
    }
    // the memory bound below assumes the -m limit: no `config memlimit <n>` changes it
    if line.windows(8).any(|w| w == b"memlimit") {
        line.retain(|b| !b.is_ascii_digit());
    }
    line.truncate(1500);
    let declared = declared_length(&line);
    line.extend_from_slice(if rng.usize(..8) == 0 { b"\n" } else { b"\r\n" });
    match declared {
        Some(len) if len > LONGEST_DATA => (line, true),
        Some(len) => {
            let len = if rng.usize(..8) == 0 { (len + rng.usize(..6)).saturating_sub(2) } else { len };
            line.extend(random_bytes(rng, len));
            line.extend_from_slice(b"\r\n");
            (line, false)
        }
        None => (line, false),
    }
}

/// The data length a storage command line declares, as memcached's parser reads it (tokens
/// split on spaces, a trailing CR dropped): none if it is no storage command or the length is
/// not a non-negative 32-bit number (then no data is read).
fn declared_length(line: &[u8]) -> Option<usize> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let tokens: Vec<&[u8]> = line.split(|b| *b == b' ').filter(|t| !t.is_empty()).collect();
    let arity = match *tokens.first()? {
        b"set" | b"add" | b"replace" | b"append" | b"prepend" => 5,
        b"cas" => 6,
        _ => return None,
    };
    if tokens.len() != arity && tokens.len() != arity + 1 {
        return None;
    }
    let len: i32 = std::str::from_utf8(tokens[4]).ok()?.parse().ok()?;
    usize::try_from(len).ok()
}

#[test]
fn a_million_random_and_mutated_lines_leave_the_node_answering_within_its_memory() {
    let node = Node::standalone(&["-m", &ITEM_MEMORY_MB.to_string()]);
    let pid = node.child.id();
    let mut check = node.client();
    assert_eq!(check.call("version"), "VERSION 1.15.0-ref");
    let rss_before = common::proc_kib(pid, "VmRSS:");

    let mut rng = Rng::with_seed(0x00c0_ffee_5eed_1234);
    let (mut sent, mut replied, mut connections) = (0, 0, 0);
    while sent < LINES {
        let mut batch = Vec::new();
        let mut lines = 0;
        while lines < LINES_PER_CONNECTION {
            let (bytes, last) = request(&mut rng);
            batch.extend(bytes);
            lines += 1;
            if last {
                break;
            }
        }
        let mut stream = TcpStream::connect(("127.0.0.1", node.port)).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut replies = stream.try_clone().unwrap();
        // the replies are read while the lines go out, or both sides would block on full buffers
        let reader = std::thread::spawn(move || {
            let mut all = Vec::new();
            let read = replies.read_to_end(&mut all);
            (read.map(|_| ()), all)
        });
        stream.write_all(&batch).unwrap_or_else(|e| panic!("connection closed after {sent} lines: {e}"));
        stream.shutdown(Shutdown::Write).unwrap();
        let (read, all) = reader.join().unwrap();
        read.unwrap_or_else(|e| panic!("reading the replies after {sent} lines: {e}"));
        sent += lines;
        connections += 1;
        replied += all.split(|b| *b == b'\n').count() - 1;
        assert!(node.child.id() == pid && check.call("version") == "VERSION 1.15.0-ref", "after {sent} lines");
    }

    let rss_after = common::proc_kib(pid, "VmRSS:");
    let stored: Vec<String> = ["curr_items", "bytes", "evictions", "limit_maxbytes"]
        .iter()
        .map(|name| format!("{name} {}", check.stat("", name)))
        .collect();
    let log = node.log();
    assert!(!log.iter().any(|l| l.contains("panicked")), "the node panicked: {log:?}");
    assert_eq!(node.client().call("version"), "VERSION 1.15.0-ref");
    eprintln!(
        "{sent} lines sent over {connections} connections, {replied} reply lines back; node RSS {rss_before} KiB \
         before, {rss_after} KiB after; store: {}",
        stored.join(", ")
    );
    assert!(
        rss_after <= rss_before + RSS_GROWTH_BOUND_KIB,
        "RSS grew from {rss_before} to {rss_after} KiB, past the bound of {RSS_GROWTH_BOUND_KIB} KiB"
    );
}
