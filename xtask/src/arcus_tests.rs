//! `cargo xtask arcus tests --src DIR`: runs upstream's own test files (`t/*.t` of a user's
//! arcus-memcached checkout) in their external-daemon mode (`T_MEMD_USE_DAEMON=host:port`) against
//! the reference node and against a real arcus-memcached, a fresh node on loopback for every file,
//! and writes one table: `target/arcus-lab/arcus-tests.md` and `.json`, per file and node: passed,
//! or how many of its tests passed and the first one that failed. Nothing of the checkout is
//! copied; its files are only read and run where they are.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use arcus_lab::{paths, wait, Engine, Progress};
use clap::Args;
use serde::Serialize;

/// How long a fresh node may take to accept connections.
const NODE_START_DEADLINE: Duration = Duration::from_secs(10);

#[derive(Args)]
pub struct TestsArgs {
    /// The arcus-memcached checkout whose `t/*.t` run (only read); also what the real node is
    /// built from unless --arcus names a prefix.
    #[arg(long, value_name = "DIR")]
    src: PathBuf,
    /// A real arcus-memcached install prefix to run the files against (default: the checkout,
    /// built with `cargo xtask arcus build`'s recipe, cached).
    #[arg(long, value_name = "PREFIX", conflicts_with = "reference_only")]
    arcus: Option<PathBuf>,
    /// How long one file may run before it is stopped and counted as failed (a node that does
    /// not answer a command leaves the test waiting for a reply).
    #[arg(long, value_name = "SECONDS", default_value = "60", value_parser = seconds)]
    deadline: Duration,
    /// Run the files against the reference node only.
    #[arg(long)]
    reference_only: bool,
    /// Test files to run, by name (`coll_bop_get` or `coll_bop_get.t`) or by a prefix ending in
    /// `*` (`coll_*`); default: every `t/*.t`.
    files: Vec<String>,
}

/// Which node a file ran against.
#[derive(Clone, Copy, Serialize, PartialEq, Eq, Debug)]
#[serde(rename_all = "lowercase")]
enum Node {
    Reference,
    Arcus,
}

/// How one file went on one node.
#[derive(Serialize, Clone, Debug)]
struct FileRun {
    passed: bool,
    /// tests that printed `ok`, of those the plan announced (or printed, without a plan)
    ok: usize,
    planned: usize,
    /// the first `not ok` line and the diagnostics under it, or why the file did not finish
    first_failure: Option<String>,
    seconds: f64,
    log: String,
}

#[derive(Serialize)]
struct FileRow {
    file: String,
    reference: FileRun,
    arcus: Option<FileRun>,
}

pub async fn run(args: TestsArgs) -> Result<ExitCode> {
    let files = test_files(&args.src, &args.files)?;
    let progress = Progress::stderr();
    let reference = reference_binary()?;
    let arcus = match (&args.arcus, args.reference_only) {
        (_, true) => None,
        (Some(prefix), false) => Some(prefix.clone()),
        (None, false) => {
            let engine = Engine::connect().await?;
            Some(arcus_lab::arcus_build::build(&engine, &args.src, &progress).await?.prefix)
        }
    };
    if let Some(prefix) = &arcus {
        for needed in ["bin/memcached", "lib/default_engine.so"] {
            if !prefix.join(needed).exists() {
                bail!("{} is not an arcus-memcached install prefix: it has no {needed}", prefix.display());
            }
        }
    }
    let logs = paths::state_dir().join("arcus-tests");
    let mut rows = Vec::new();
    for (i, file) in files.iter().enumerate() {
        let name = file.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
        let step = progress.step(format!("[{}/{}] {name}", i + 1, files.len()));
        let on_reference =
            run_file(&args.src, file, &NodeCommand::reference(&reference), &logs.join("reference"), args.deadline)
                .await?;
        let on_arcus = match &arcus {
            Some(prefix) => {
                Some(run_file(&args.src, file, &NodeCommand::arcus(prefix), &logs.join("arcus"), args.deadline).await?)
            }
            None => None,
        };
        step.finish(&format!(
            "reference {}{}",
            verdict(&on_reference),
            on_arcus.as_ref().map(|r| format!(", arcus {}", verdict(r))).unwrap_or_default()
        ));
        rows.push(FileRow { file: name, reference: on_reference, arcus: on_arcus });
    }
    let out = paths::state_dir();
    std::fs::create_dir_all(&out).with_context(|| format!("create {}", out.display()))?;
    let json = out.join("arcus-tests.json");
    std::fs::write(&json, serde_json::to_string_pretty(&rows)? + "\n")
        .with_context(|| format!("write {}", json.display()))?;
    let md = out.join("arcus-tests.md");
    let table = markdown(&rows);
    std::fs::write(&md, &table).with_context(|| format!("write {}", md.display()))?;
    print!("{}", totals(&rows));
    println!("report: {}", md.display());
    // every file the real node passes must pass on ours; without the real node, every file
    let behind = rows.iter().filter(|r| !r.reference.passed && r.arcus.as_ref().is_none_or(|a| a.passed)).count();
    Ok(if behind == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

fn seconds(text: &str) -> Result<Duration, String> {
    text.parse::<u64>().map(Duration::from_secs).map_err(|_| format!("{text:?} is not a number of seconds"))
}

fn verdict(run: &FileRun) -> String {
    if run.passed {
        "passed".into()
    } else {
        format!("failed ({}/{})", run.ok, run.planned)
    }
}

/// The checkout's `t/*.t` files, all or those named.
fn test_files(src: &Path, wanted: &[String]) -> Result<Vec<PathBuf>> {
    let dir = src.join("t");
    if !dir.join("lib").join("MemcachedTest.pm").is_file() {
        bail!("{} is not an arcus-memcached checkout: it has no t/lib/MemcachedTest.pm", src.display());
    }
    let mut all: Vec<PathBuf> = std::fs::read_dir(&dir)
        .with_context(|| format!("read {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "t") && p.is_file())
        .collect();
    all.sort();
    if wanted.is_empty() {
        return Ok(all);
    }
    let mut chosen = Vec::new();
    for want in wanted {
        let want = want.strip_suffix(".t").unwrap_or(want);
        let matches: Vec<_> = all
            .iter()
            .filter(|p| {
                let stem = p.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
                match want.strip_suffix('*') {
                    Some(prefix) => stem.starts_with(prefix),
                    None => stem == want,
                }
            })
            .cloned()
            .collect();
        if matches.is_empty() {
            bail!("no test file {want}.t in {}", dir.display());
        }
        chosen.extend(matches);
    }
    chosen.dedup();
    Ok(chosen)
}

/// The reference node's release binary, built if needed.
fn reference_binary() -> Result<PathBuf> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = std::process::Command::new(cargo)
        .current_dir(paths::workspace_root())
        .args(["build", "--release", "--quiet", "-p", "arcus-node"])
        .status()
        .context("run cargo build --release -p arcus-node")?;
    if !status.success() {
        bail!("cargo build --release -p arcus-node failed");
    }
    Ok(paths::target_dir().join("release").join("memcached"))
}

/// How to start one node on a port.
struct NodeCommand {
    node: Node,
    program: PathBuf,
    /// arguments before `-p PORT`
    args: Vec<String>,
    env: Vec<(String, String)>,
}

impl NodeCommand {
    fn reference(binary: &Path) -> NodeCommand {
        NodeCommand { node: Node::Reference, program: binary.to_path_buf(), args: common_args(), env: Vec::new() }
    }

    /// A real node from its prefix: the engine module from `lib/`, its libraries found there too
    /// (the build's RUNPATH is `/opt/arcus/lib`, where a lab host has them).
    fn arcus(prefix: &Path) -> NodeCommand {
        let lib = prefix.join("lib");
        let mut args = common_args();
        args.extend(["-E".into(), lib.join("default_engine.so").display().to_string()]);
        NodeCommand {
            node: Node::Arcus,
            program: prefix.join("bin").join("memcached"),
            args,
            env: vec![("LD_LIBRARY_PATH".into(), lib.display().to_string())],
        }
    }
}

/// What upstream's test library gives a node it starts itself: no UDP, loopback only, and
/// `-u root` when run as root.
fn common_args() -> Vec<String> {
    let mut args: Vec<String> = ["-U", "0", "-l", "127.0.0.1"].map(String::from).to_vec();
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        args.extend(["-u".into(), "root".into()]);
    }
    args
}

/// Runs one test file against a fresh node.
async fn run_file(src: &Path, file: &Path, node: &NodeCommand, logs: &Path, deadline: Duration) -> Result<FileRun> {
    std::fs::create_dir_all(logs).with_context(|| format!("create {}", logs.display()))?;
    let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("test");
    let log = logs.join(format!("{name}.log"));
    let port = free_port()?;
    let node_log = std::fs::File::create(logs.join(format!("{name}.node.log")))?;
    let mut daemon = tokio::process::Command::new(&node.program)
        .args(&node.args)
        .args(["-p", &port.to_string()])
        .envs(node.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::null())
        .stdout(node_log.try_clone()?)
        .stderr(node_log)
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("start {}", node.program.display()))?;
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let what = format!("the {:?} node to accept connections on {addr}", node.node);
    wait::until(&what, NODE_START_DEADLINE, wait::POLL, || async move {
        TcpStream::connect_timeout(&addr, Duration::from_millis(200)).map(drop).map_err(|e| e.to_string())
    })
    .await?;
    let started = Instant::now();
    // the output goes to files, so that a file stopped at the deadline still shows how far it got
    let (stdout_path, stderr_path) = (logs.join(format!("{name}.stdout")), logs.join(format!("{name}.stderr")));
    let mut test = tokio::process::Command::new("perl")
        .arg(file)
        .current_dir(src)
        .env("T_MEMD_USE_DAEMON", addr.to_string())
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout_path)?)
        .stderr(std::fs::File::create(&stderr_path)?)
        .kill_on_drop(true)
        .spawn()
        .context("start perl")?;
    let status = match tokio::time::timeout(deadline, test.wait()).await {
        Ok(status) => Some(status.context("wait for perl")?),
        Err(_) => {
            let _ = test.kill().await;
            None
        }
    };
    let node_alive = daemon.try_wait().ok().flatten().is_none();
    let _ = daemon.kill().await;
    let stdout = std::fs::read_to_string(&stdout_path).unwrap_or_default();
    let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    let _ = (std::fs::remove_file(&stdout_path), std::fs::remove_file(&stderr_path));
    let mut run = tap(&stdout, &stderr);
    run.seconds = started.elapsed().as_secs_f64();
    match status {
        None => {
            run.passed = false;
            let at = run.first_failure.take().map(|f| format!("; before that: {f}")).unwrap_or_default();
            run.first_failure =
                Some(format!("stopped at the deadline ({deadline:?}) after {} of {} tests{at}", run.ok, run.planned));
        }
        Some(status) if !status.success() => {
            run.passed = false;
            if run.first_failure.is_none() {
                run.first_failure = Some(format!("exit {:?}: {}", status.code(), last_lines(&stderr, 3)));
            }
        }
        Some(_) => {}
    }
    let text = format!("{stdout}\n--- stderr ---\n{stderr}");
    if !node_alive {
        run.passed = false;
        run.first_failure = Some(format!("the node exited during the file; {}", run.first_failure.unwrap_or_default()));
    }
    std::fs::write(&log, text).with_context(|| format!("write {}", log.display()))?;
    run.log = log.display().to_string();
    Ok(run)
}

/// Reads a TAP stream: the plan, the `ok` lines and the first `not ok` with its diagnostics.
fn tap(stdout: &str, stderr: &str) -> FileRun {
    let mut planned = None;
    let (mut ok, mut seen) = (0, 0);
    let mut first_failure: Option<String> = None;
    for line in stdout.lines() {
        if let Some(plan) = line.strip_prefix("1..") {
            planned = plan.split_whitespace().next().and_then(|n| n.parse::<usize>().ok());
        } else if line.starts_with("ok ") {
            ok += 1;
            seen += 1;
        } else if line.starts_with("not ok ") {
            seen += 1;
            if first_failure.is_none() {
                first_failure = Some(line.to_string());
            }
        }
    }
    // Test::More writes a failure's diagnostics (got/expected) to stderr
    if let Some(failure) = &mut first_failure {
        let diagnostics: Vec<&str> = stderr.lines().filter(|l| l.starts_with('#')).take(6).collect();
        if !diagnostics.is_empty() {
            failure.push('\n');
            failure.push_str(&diagnostics.join("\n"));
        }
    }
    let planned = planned.unwrap_or(seen);
    let passed = first_failure.is_none() && ok == planned;
    if first_failure.is_none() && ok < planned {
        first_failure = Some(format!("stopped after {seen} of {planned} tests: {}", last_lines(stderr, 3)));
    }
    FileRun { passed, ok, planned, first_failure, seconds: 0.0, log: String::new() }
}

fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join(" / ")
}

/// A loopback port no one listens on now.
fn free_port() -> Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("find a free loopback port")?;
    Ok(listener.local_addr()?.port())
}

/// Passed/total per group (collection files, the others), per node.
fn totals(rows: &[FileRow]) -> String {
    let mut out = String::new();
    for (group, is_coll) in [("collection files (coll_*)", true), ("key-value and admin files", false)] {
        let group_rows: Vec<_> = rows.iter().filter(|r| r.file.starts_with("coll_") == is_coll).collect();
        if group_rows.is_empty() {
            continue;
        }
        let reference = group_rows.iter().filter(|r| r.reference.passed).count();
        let arcus = group_rows.iter().filter_map(|r| r.arcus.as_ref()).filter(|a| a.passed).count();
        let with_arcus = group_rows.iter().any(|r| r.arcus.is_some());
        out += &format!("{group}: reference {reference}/{}", group_rows.len());
        if with_arcus {
            let both = group_rows.iter().filter(|r| r.arcus.as_ref().is_some_and(|a| a.passed)).count();
            let ours_too =
                group_rows.iter().filter(|r| r.reference.passed && r.arcus.as_ref().is_some_and(|a| a.passed)).count();
            out += &format!(
                ", arcus {arcus}/{}; of the {both} the real node passes, the reference passes {ours_too}",
                group_rows.len()
            );
        }
        out += "\n";
    }
    out
}

fn markdown(rows: &[FileRow]) -> String {
    let mut md = String::from("# Upstream's t/*.t in external-daemon mode\n\n");
    md += &totals(rows).lines().map(|l| format!("- {l}\n")).collect::<String>();
    md += "\n| file | reference | arcus-memcached | first failure on the reference node |\n|---|---|---|---|\n";
    for row in rows {
        let failure =
            row.reference.first_failure.as_deref().unwrap_or("").lines().next().unwrap_or("").replace('|', "\\|");
        md += &format!(
            "| {} | {} | {} | {} |\n",
            row.file,
            verdict(&row.reference),
            row.arcus.as_ref().map(verdict).unwrap_or_else(|| "-".into()),
            failure
        );
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tap_counts_the_plan_and_keeps_the_first_failure_with_its_diagnostics() {
        let stdout = "1..3\nok 1\nnot ok 2 - bop get\nok 3\n";
        let stderr = "#   Failed test 'bop get'\n#          got: 'ERROR unknown command'\n";
        let run = tap(stdout, stderr);
        assert!(!run.passed);
        assert_eq!((run.ok, run.planned), (2, 3));
        let failure = run.first_failure.unwrap();
        assert!(failure.starts_with("not ok 2 - bop get\n#   Failed test"), "{failure}");
    }

    #[test]
    fn tap_without_every_planned_test_is_a_failure() {
        let run = tap("1..4\nok 1\nok 2\n", "Failed to connect\n");
        assert!(!run.passed);
        assert_eq!(run.first_failure.as_deref(), Some("stopped after 2 of 4 tests: Failed to connect"));
        assert!(tap("1..2\nok 1\nok 2\n", "").passed);
    }
}
