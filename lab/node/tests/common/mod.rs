//! Test support: starting the node binary on a free loopback port, a raw line client, bounded
//! waits, and reading the node's log as it grows.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_memcached");

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Polls `f` every 20 ms until it returns Some or `deadline` passes (then panics naming `what`).
pub fn wait_for<T>(what: &str, deadline: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let end = Instant::now() + deadline;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < end, "timed out after {deadline:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A node process with its stderr collected line by line.
pub struct Node {
    pub child: Child,
    pub port: u16,
    log: Arc<Mutex<Vec<String>>>,
}

impl Node {
    /// Starts the binary with `args` (plus `-p <port>` and `-u nobody`) on a free port.
    pub fn spawn(args: &[&str]) -> Node {
        Self::spawn_env(args, &[])
    }

    pub fn spawn_env(args: &[&str], env: &[(&str, &str)]) -> Node {
        let port = free_port();
        let port_s = port.to_string();
        let mut all = vec!["-p", &port_s];
        all.extend_from_slice(args);
        Self::spawn_at(port, &all, env)
    }

    /// Starts the binary with `args` (which name the port) plus `-u nobody -l 127.0.0.1`.
    pub fn spawn_at(port: u16, args: &[&str], env: &[(&str, &str)]) -> Node {
        let mut cmd = Command::new(BIN);
        cmd.args(["-u", "nobody", "-l", "127.0.0.1"]).args(args);
        cmd.env_remove("ARCUS_CACHE_PUBLIC_IP").env_remove("ARCUS_CACHE_HOSTNAME_OVERWRITE");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().unwrap();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        Node { child, port, log }
    }

    /// Starts without -z and waits until it answers.
    pub fn standalone(args: &[&str]) -> Node {
        let node = Node::spawn(args);
        node.wait_answering();
        node
    }

    pub fn wait_answering(&self) {
        wait_for("the node to answer `version`", Duration::from_secs(10), || {
            let mut c = Client::connect(self.port).ok()?;
            c.send(b"version\r\n");
            c.line().ok().filter(|l| l.starts_with("VERSION"))
        });
    }

    pub fn client(&self) -> Client {
        Client::connect(self.port).unwrap()
    }

    pub fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// Waits until a log line contains `needle`; returns that line.
    pub fn wait_log(&self, needle: &str, deadline: Duration) -> String {
        wait_for(&format!("log line `{needle}`"), deadline, || self.log().into_iter().find(|l| l.contains(needle)))
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY: kill on our own child's pid.
        assert_eq!(unsafe { libc::kill(self.child.id() as i32, sig) }, 0);
    }

    /// Waits for the process to end within `deadline`.
    pub fn wait_exit(&mut self, deadline: Duration) -> ExitStatus {
        wait_for("the node to exit", deadline, || self.child.try_wait().unwrap())
    }

    pub fn exit_code(&mut self, deadline: Duration) -> i32 {
        self.wait_exit(deadline).code().expect("exited by itself, not by a signal")
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A raw ASCII connection with a read timeout.
pub struct Client {
    reader: BufReader<TcpStream>,
    pub stream: TcpStream,
}

impl Client {
    pub fn connect(port: u16) -> std::io::Result<Client> {
        let stream = TcpStream::connect(("127.0.0.1", port))?;
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        Ok(Client { reader: BufReader::new(stream.try_clone()?), stream })
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    /// One reply line without its CRLF.
    pub fn line(&mut self) -> std::io::Result<String> {
        let mut buf = Vec::new();
        self.reader.read_until(b'\n', &mut buf)?;
        if buf.is_empty() {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        Ok(String::from_utf8_lossy(&buf).trim_end_matches(['\r', '\n']).to_string())
    }

    /// Sends one command and returns its reply lines up to and including `last`.
    pub fn call_until(&mut self, cmd: &str, last: &str) -> Vec<String> {
        self.send(format!("{cmd}\r\n").as_bytes());
        let mut lines = Vec::new();
        loop {
            let l = self.line().unwrap();
            let done =
                l == last || l.starts_with("ERROR") || l.starts_with("CLIENT_ERROR") || l.starts_with("SERVER_ERROR");
            lines.push(l);
            if done {
                return lines;
            }
        }
    }

    /// Sends one command and returns its first reply line.
    pub fn call(&mut self, cmd: &str) -> String {
        self.send(format!("{cmd}\r\n").as_bytes());
        self.line().unwrap()
    }

    /// Reads until the peer closes (or the timeout); returns everything read.
    pub fn read_to_close(&mut self) -> Vec<u8> {
        let mut all = Vec::new();
        let _ = self.reader.read_to_end(&mut all);
        all
    }

    /// `stats <args>` as (name, value) pairs.
    pub fn stats(&mut self, args: &str) -> Vec<(String, String)> {
        let cmd = if args.is_empty() { "stats".to_string() } else { format!("stats {args}") };
        self.call_until(&cmd, "END")
            .into_iter()
            .filter_map(|l| {
                let mut it = l.splitn(3, ' ');
                (it.next()? == "STAT").then(|| (it.next().unwrap().to_string(), it.next().unwrap_or("").to_string()))
            })
            .collect()
    }

    pub fn stat(&mut self, args: &str, name: &str) -> String {
        self.stats(args).into_iter().find(|(k, _)| k == name).map(|(_, v)| v).unwrap_or_default()
    }
}

/// Resident memory of a process (VmRSS or VmHWM) in KiB.
pub fn proc_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap()
}
