//! Processes and replies seen from outside: the cache nodes on a host (pid, state, command line),
//! the ZooKeeper JVM's pids, and a node's replies to protocol lines, read up to each closing line.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::lab::{HostName, Lab};

/// How long one reply may take.
const REPLY: Duration = Duration::from_secs(5);

/// Single lines that close a reply.
const CLOSING: [&str; 13] = [
    "END",
    "STORED",
    "NOT_STORED",
    "EXISTS",
    "NOT_FOUND",
    "DELETED",
    "TOUCHED",
    "OK",
    "READY",
    "NOT_READY",
    "DENIED",
    "Successfully rejoined",
    "RESET",
];
/// Commands followed by a data line.
const STORAGE: [&str; 6] = ["set", "add", "replace", "append", "prepend", "cas"];
/// Requests whose reply is a fixed number of lines with no closing line (unless its first line
/// is an error): `zkensemble get` answers `<list>\r\n\n\r\n`.
fn fixed_reply_length(request: &str) -> Option<usize> {
    (request.split_whitespace().collect::<Vec<_>>() == ["zkensemble", "get"]).then_some(3)
}

/// Prefixes of lines that close a reply.
const CLOSING_PREFIXES: [&str; 4] = ["ERROR", "CLIENT_ERROR", "SERVER_ERROR", "VERSION "];

/// One request and the reply to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    /// The command line, and a storage command's data line.
    pub sent: Vec<String>,
    /// The reply's lines, the closing one included, without their line ends.
    pub reply: Vec<String>,
    /// The node closed the connection before a closing line.
    pub closed: bool,
}

/// The exchanges of one connection; see [`exchange`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Exchanges(pub Vec<Exchange>);

impl Exchanges {
    /// `> line` for what was sent, `< line` for each reply line, `< (connection closed)`.
    pub fn transcript(&self) -> String {
        let mut out = String::new();
        for e in &self.0 {
            for line in &e.sent {
                out.push_str(&format!("> {line}\n"));
            }
            for line in &e.reply {
                out.push_str(&format!("< {line}\n"));
            }
            if e.closed {
                out.push_str("< (connection closed)\n");
            }
        }
        out
    }

    /// Whether any reply has exactly this line.
    pub fn has_reply_line(&self, line: &str) -> bool {
        self.0.iter().any(|e| e.reply.iter().any(|l| l == line))
    }
}

/// Sends protocol lines (one request a line; a storage command takes the next line as its data)
/// to the node on `host`:`port` over one connection, each with `\r\n`, and reads each reply up to
/// its closing line (END, STORED, READY, an ERROR, VERSION, ...).
pub async fn exchange(lab: &Lab, host: HostName, port: u16, lines: &str) -> Result<Exchanges> {
    let addr = SocketAddr::new(lab.host(host)?.ip.into(), port);
    let stream = tokio::time::timeout(REPLY, lab.guard().connect(addr))
        .await
        .with_context(|| format!("connect to the node {host}:{port} timed out"))??;
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    let mut done = Exchanges::default();
    let mut lines = lines.lines().filter(|l| !l.trim().is_empty());
    while let Some(line) = lines.next() {
        let mut exchange = Exchange { sent: vec![line.to_string()], reply: Vec::new(), closed: false };
        let mut bytes = format!("{line}\r\n");
        // a storage command's data block is the next line, sent before the reply is read
        if line.split_whitespace().next().is_some_and(|c| STORAGE.contains(&c)) {
            let data = lines.next().with_context(|| format!("{line:?} needs its data on the next line"))?;
            exchange.sent.push(data.to_string());
            bytes.push_str(&format!("{data}\r\n"));
        }
        write.write_all(bytes.as_bytes()).await.with_context(|| format!("send {line:?} to {host}:{port}"))?;
        let fixed = fixed_reply_length(line);
        let reply = async {
            // the line after `VALUE <key> <flags> <bytes>` is data, never a closing line
            let mut data_next = false;
            loop {
                let mut got = String::new();
                if read.read_line(&mut got).await? == 0 {
                    exchange.closed = true;
                    return anyhow::Ok(());
                }
                let got = got.trim_end_matches(['\r', '\n']).to_string();
                let closing_line =
                    CLOSING.contains(&got.as_str()) || CLOSING_PREFIXES.iter().any(|p| got.starts_with(p));
                let closes = match fixed {
                    Some(length) => {
                        exchange.reply.len() + 1 == length || (exchange.reply.is_empty() && got.starts_with("ERROR"))
                    }
                    None => !data_next && closing_line,
                };
                data_next = !data_next && got.starts_with("VALUE ");
                exchange.reply.push(got);
                if closes {
                    return Ok(());
                }
            }
        };
        let replied = tokio::time::timeout(REPLY, reply).await;
        let closed = exchange.closed;
        done.0.push(exchange);
        replied.with_context(|| {
            format!(
                "no closing reply line to {line:?} from {host}:{port} within {REPLY:?}; got:\n{}",
                done.transcript()
            )
        })??;
        if closed {
            break;
        }
    }
    Ok(done)
}

/// The pid of the memcached process started with `-p <port>` on `host`.
pub async fn pid(lab: &Lab, host: HostName, port: u16) -> Result<u32> {
    match pids(lab, host, port).await?.as_slice() {
        [pid] => Ok(*pid),
        [] => anyhow::bail!("no cache node with -p {port} runs on {host}"),
        many => anyhow::bail!("{} processes match -p {port} on {host}: {many:?}", many.len()),
    }
}

/// The pids of the memcached processes started with `-p <port>` on `host` (exited ones excluded).
pub async fn pids(lab: &Lab, host: HostName, port: u16) -> Result<Vec<u32>> {
    let pattern = format!("memcached .*-p {port}( |$)");
    let out = lab.exec(host, &["pgrep", "-f", &pattern]).await?;
    anyhow::ensure!(out.exit <= 1, "pgrep on {host} exited {}: {}", out.exit, out.stderr.trim());
    Ok(out.stdout.split_whitespace().filter_map(|p| p.parse().ok()).collect())
}

/// The command line of a process (its arguments joined by spaces), `None` once it is gone.
pub async fn command_line(lab: &Lab, host: HostName, pid: u32) -> Result<Option<Vec<String>>> {
    let out = lab.exec(host, &["cat", &format!("/proc/{pid}/cmdline")]).await?;
    if out.exit != 0 {
        return Ok(None);
    }
    Ok(Some(out.stdout.split('\0').filter(|a| !a.is_empty()).map(str::to_string).collect()))
}

/// The state letter of a process (`R`, `S`, `T`, `Z`, ...), `None` once it is gone.
pub async fn process_state(lab: &Lab, host: HostName, pid: u32) -> Result<Option<char>> {
    let out = lab.exec(host, &["cat", &format!("/proc/{pid}/stat")]).await?;
    if out.exit != 0 {
        return Ok(None);
    }
    // the command name may hold spaces: the state follows the closing parenthesis
    let after = out.stdout.rfind(')').map(|i| &out.stdout[i + 1..]).context("unreadable /proc stat")?;
    Ok(after.trim_start().chars().next())
}

/// Whether a ZooKeeper JVM (QuorumPeerMain) runs on `host`; its pids.
pub async fn zk_pids(lab: &Lab, host: HostName) -> Result<Vec<u32>> {
    let out = lab.exec(host, &["pgrep", "-f", "QuorumPeerMain"]).await?;
    anyhow::ensure!(out.exit <= 1, "pgrep on {host} exited {}: {}", out.exit, out.stderr.trim());
    Ok(out.stdout.split_whitespace().filter_map(|p| p.parse().ok()).collect())
}
