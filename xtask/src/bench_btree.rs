//! `cargo xtask bench btree`: b+tree operations on a large b+tree, on the reference node (release
//! build) and, with `--arcus PREFIX`, on a real arcus-memcached, both on loopback: fills one
//! b+tree with `--elements` elements, then measures `bop get` of `--span` consecutive elements
//! at random places and `bop insert` of new elements (growing the tree, never past its maxcount), pipelined over a few connections; prints
//! ops/s per node and writes `target/arcus-lab/bench/btree.json`.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Args;

use crate::local_node::LocalNode;

const KEY: &str = "bench:btree";
const VALUE: &[u8] = b"elem-val";
/// The tree's maxcount (and the node's max_btree_size): the most Arcus allows.
const MAXCOUNT: u64 = 1_000_000;

#[derive(Args, Debug)]
pub struct BenchBtreeArgs {
    /// A real arcus-memcached install prefix to measure beside the reference node.
    #[arg(long, value_name = "PREFIX")]
    arcus: Option<PathBuf>,
    /// Elements in the b+tree before measuring.
    #[arg(long, default_value_t = 100_000)]
    elements: u64,
    /// Elements each `bop get` reads (consecutive bkeys).
    #[arg(long, default_value_t = 100)]
    span: u64,
    /// Seconds per measurement.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Client connections (one thread each).
    #[arg(long, default_value_t = 4)]
    conns: usize,
    /// Commands each connection sends before reading their replies.
    #[arg(long, default_value_t = 32)]
    depth: usize,
}

pub async fn run(args: BenchBtreeArgs) -> Result<()> {
    tokio::task::spawn_blocking(move || bench(&args)).await.context("the benchmark thread")?
}

fn bench(args: &BenchBtreeArgs) -> Result<()> {
    let root = arcus_lab::paths::workspace_root();
    eprintln!("building the reference node (cargo build --release -p arcus-node)");
    let status = Command::new(env!("CARGO"))
        .args(["build", "--release", "--quiet", "-p", "arcus-node"])
        .current_dir(&root)
        .status()
        .context("cargo build")?;
    if !status.success() {
        bail!("cargo build --release -p arcus-node failed");
    }
    let flags = ["-t", "4", "-m", "1024"].map(String::from);
    let reference = arcus_lab::paths::target_dir().join("release/memcached");
    let mut nodes = vec![LocalNode::start("reference", &reference, &flags, None)?];
    if let Some(prefix) = &args.arcus {
        let lib = prefix.join("lib");
        let engine = lib.join("default_engine.so");
        if !engine.exists() {
            bail!("{} is not an arcus-memcached install prefix: it has no lib/default_engine.so", prefix.display());
        }
        let mut real_flags = vec!["-E".to_string(), engine.display().to_string()];
        real_flags.extend(flags.iter().cloned());
        nodes.push(LocalNode::start("arcus-memcached", &prefix.join("bin/memcached"), &real_flags, Some(&lib))?);
    }
    let mut rows = Vec::new();
    println!("{:<18} {:>12} {:>14} {:>14}", "node", "fill s", "bop insert/s", "bop get/s");
    for node in &nodes {
        if let Some(signal) = arcus_lab::interrupt::received() {
            return Err(arcus_lab::interrupt::Interrupted { signal }.into());
        }
        match measure_node(node, args) {
            Ok((fill, insert, get)) => {
                println!("{:<18} {:>12.1} {:>14.0} {:>14.0}", node.name, fill, insert, get);
                rows.push(serde_json::json!({
                    "node": node.name, "fill_seconds": fill, "bop_insert_per_sec": insert, "bop_get_per_sec": get,
                    "peak_rss_kib": node.peak_rss_kib(),
                }));
            }
            // one node's failure is a row of the table: the other node's figures still count
            Err(e) => {
                println!("{:<18} error: {e:#}", node.name);
                rows.push(serde_json::json!({ "node": node.name, "error": format!("{e:#}") }));
            }
        }
    }
    let json = serde_json::json!({
        "elements": args.elements, "span": args.span, "seconds": args.seconds,
        "conns": args.conns, "depth": args.depth, "nodes": rows,
    });
    let dir = arcus_lab::paths::state_dir().join("bench");
    std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
    let file = dir.join("btree.json");
    std::fs::write(&file, serde_json::to_string_pretty(&json)?).with_context(|| format!("write {}", file.display()))?;
    eprintln!("wrote {}", file.display());
    Ok(())
}

/// Fill seconds, `bop insert`/s and `bop get`/s on one node.
fn measure_node(node: &LocalNode, args: &BenchBtreeArgs) -> Result<(f64, f64, f64)> {
    let fill = Instant::now();
    prepare(node.port, args).context("fill the b+tree")?;
    let fill = fill.elapsed().as_secs_f64();
    // gets first, on a tree of exactly `elements`; the inserts then grow it (up to its maxcount)
    let get = measure(node.port, args, Op::Get).context("bop get")?;
    let insert = measure(node.port, args, Op::Insert).context("bop insert")?;
    Ok((fill, insert, get))
}

struct Conn {
    writer: TcpStream,
    reader: BufReader<TcpStream>,
    line: String,
}

impl Conn {
    fn open(port: u16) -> Result<Conn> {
        let writer = TcpStream::connect(("127.0.0.1", port)).context("connect")?;
        writer.set_nodelay(true)?;
        writer.set_read_timeout(Some(Duration::from_secs(10)))?;
        let reader = BufReader::new(writer.try_clone()?);
        Ok(Conn { writer, reader, line: String::new() })
    }

    fn read_line(&mut self) -> Result<&str> {
        self.line.clear();
        if self.reader.read_line(&mut self.line).context("read a reply")? == 0 {
            bail!("the node closed the connection");
        }
        Ok(self.line.trim_end())
    }

    /// One command and its one-line reply, which must be `expect`.
    fn single(&mut self, command: &str, expect: &[&str]) -> Result<()> {
        self.writer.write_all(command.as_bytes())?;
        let reply = self.read_line()?.to_string();
        if !expect.contains(&reply.as_str()) {
            bail!("{} answered {reply:?}", command.trim_end());
        }
        Ok(())
    }
}

/// A b+tree of `elements` elements with bkeys 0.., room for the inserts to come.
fn prepare(port: u16, args: &BenchBtreeArgs) -> Result<()> {
    let mut conn = Conn::open(port)?;
    conn.single("flush_all\r\n", &["OK"])?;
    conn.single(&format!("config max_btree_size {MAXCOUNT}\r\n"), &["END"])?;
    conn.single(&format!("bop create {KEY} 0 0 {MAXCOUNT}\r\n"), &["CREATED"])?;
    let mut bkey = 0;
    while bkey < args.elements {
        let batch = (args.elements - bkey).min(1000);
        let mut out = Vec::new();
        for b in bkey..bkey + batch {
            write!(out, "bop insert {KEY} {b} {}\r\n", VALUE.len())?;
            out.extend_from_slice(VALUE);
            out.extend_from_slice(b"\r\n");
        }
        conn.writer.write_all(&out)?;
        for _ in 0..batch {
            let reply = conn.read_line()?;
            if reply != "STORED" {
                bail!("bop insert answered {reply:?} after {bkey} elements");
            }
        }
        bkey += batch;
    }
    Ok(())
}

#[derive(Clone, Copy)]
enum Op {
    Insert,
    Get,
}

/// Operations per second of `op` over `args.conns` pipelined connections.
fn measure(port: u16, args: &BenchBtreeArgs, op: Op) -> Result<f64> {
    let until = Instant::now() + Duration::from_secs(args.seconds);
    let started = Instant::now();
    let threads: Vec<_> = (0..args.conns)
        .map(|worker| {
            let (elements, span, depth, conns) = (args.elements, args.span, args.depth, args.conns as u64);
            std::thread::spawn(move || -> Result<u64> {
                let mut conn = Conn::open(port)?;
                let mut rng = fastrand::Rng::with_seed(worker as u64);
                // inserted bkeys: above the filled ones, each worker its own residue class
                let mut next = elements + worker as u64;
                let mut done = 0;
                // never past the tree's maxcount, where smallest_trim would trim the filled bkeys
                let quota = (MAXCOUNT - elements) / conns;
                while Instant::now() < until && (matches!(op, Op::Get) || done + depth as u64 <= quota) {
                    let mut out = Vec::new();
                    for _ in 0..depth {
                        match op {
                            Op::Insert => {
                                write!(out, "bop insert {KEY} {next} {}\r\n", VALUE.len())?;
                                out.extend_from_slice(VALUE);
                                out.extend_from_slice(b"\r\n");
                                next += conns;
                            }
                            Op::Get => {
                                let from = rng.u64(0..elements - span);
                                write!(out, "bop get {KEY} {from}..{} 0 {span}\r\n", from + span - 1)?;
                            }
                        }
                    }
                    conn.writer.write_all(&out)?;
                    for _ in 0..depth {
                        read_reply(&mut conn, op, span)?;
                    }
                    done += depth as u64;
                }
                Ok(done)
            })
        })
        .collect();
    let mut total = 0;
    for thread in threads {
        total += thread.join().map_err(|_| anyhow::anyhow!("a benchmark thread panicked"))??;
    }
    Ok(total as f64 / started.elapsed().as_secs_f64())
}

fn read_reply(conn: &mut Conn, op: Op, span: u64) -> Result<()> {
    let first = conn.read_line()?.to_string();
    match op {
        Op::Insert if first == "STORED" => Ok(()),
        Op::Get if first.starts_with("VALUE ") => {
            let count: u64 = first.rsplit(' ').next().and_then(|n| n.parse().ok()).unwrap_or(0);
            if count != span {
                bail!("bop get returned {count} elements, not {span}");
            }
            for _ in 0..count {
                conn.read_line()?;
            }
            match conn.read_line()? {
                "END" => Ok(()),
                other => bail!("bop get ended with {other:?}"),
            }
        }
        _ => bail!("unexpected reply {first:?}"),
    }
}
