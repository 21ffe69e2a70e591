//! A cache node started on loopback for a benchmark: the reference node, Debian's memcached or a
//! real arcus-memcached from its prefix, on a free port, killed when dropped.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// How long a node may take to answer `version`.
const START_DEADLINE: Duration = Duration::from_secs(10);

pub struct LocalNode {
    pub name: String,
    pub child: Child,
    pub port: u16,
}

impl Drop for LocalNode {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl LocalNode {
    /// Starts `bin` with `args` on a free loopback port (no UDP; as `nobody` when run as root),
    /// with `lib` as its library path if given, and returns once it answers `version`.
    pub fn start(name: &str, bin: &Path, args: &[String], lib: Option<&Path>) -> Result<LocalNode> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let mut cmd = Command::new(bin);
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            cmd.args(["-u", "nobody"]);
        }
        if let Some(lib) = lib {
            cmd.env("LD_LIBRARY_PATH", lib);
        }
        cmd.args(args)
            .args(["-l", "127.0.0.1", "-U", "0", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = cmd.spawn().with_context(|| format!("start {}", bin.display()))?;
        let node = LocalNode { name: name.to_string(), child, port };
        let deadline = Instant::now() + START_DEADLINE;
        while !answers(port) {
            if Instant::now() > deadline {
                bail!("{name} did not answer `version` on port {port} within {START_DEADLINE:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(node)
    }

    /// The process's peak resident set (VmHWM), in KiB.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        status.lines().find(|l| l.starts_with("VmHWM:"))?.split_whitespace().nth(1)?.parse().ok()
    }
}

fn answers(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else { return false };
    let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
    let mut buf = [0u8; 64];
    s.write_all(b"version\r\n").is_ok() && s.read(&mut buf).is_ok_and(|n| buf[..n].starts_with(b"VERSION"))
}
