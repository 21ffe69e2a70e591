//! The `mc` step: protocol lines to a cache node (`host`, `port`), each sent with `\r\n`; a reply
//! is read up to its closing line (END, STORED, READY, NOT_READY, OK, an ERROR, VERSION, ...); a
//! storage command (`set k 0 0 1`) takes the next line as its data.
//! Observed as `> line` then `< reply line` for each exchange.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use super::runner::{Ctx, Observed};

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
/// Prefixes of lines that close a reply.
const CLOSING_PREFIXES: [&str; 4] = ["ERROR", "CLIENT_ERROR", "SERVER_ERROR", "VERSION "];

pub(super) async fn run(ctx: &Ctx<'_>, host: &str, port: u16, lines: &str) -> Result<Observed> {
    let addr = SocketAddr::new(ctx.lab.host(host)?.ip.into(), port);
    let stream = tokio::time::timeout(REPLY, ctx.lab.guard().connect(addr))
        .await
        .with_context(|| format!("connect to the node {host}:{port} timed out"))??;
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    let mut raw = String::new();
    let mut lines = lines.lines().filter(|l| !l.trim().is_empty());
    while let Some(line) = lines.next() {
        raw.push_str(&format!("> {line}\n"));
        let mut bytes = format!("{line}\r\n");
        // a storage command's data block is the next line, sent before the reply is read
        if line.split_whitespace().next().is_some_and(|c| STORAGE.contains(&c)) {
            let data = lines.next().with_context(|| format!("{line:?} needs its data on the next line"))?;
            raw.push_str(&format!("> {data}\n"));
            bytes.push_str(&format!("{data}\r\n"));
        }
        write.write_all(bytes.as_bytes()).await.with_context(|| format!("send {line:?} to {host}:{port}"))?;
        let reply = async {
            // the line after `VALUE <key> <flags> <bytes>` is data, never a closing line
            let mut data_next = false;
            loop {
                let mut got = String::new();
                if read.read_line(&mut got).await? == 0 {
                    raw.push_str("< (connection closed)\n");
                    return anyhow::Ok(());
                }
                let got = got.trim_end_matches(['\r', '\n']);
                raw.push_str(&format!("< {got}\n"));
                if data_next {
                    data_next = false;
                } else if CLOSING.contains(&got) || CLOSING_PREFIXES.iter().any(|p| got.starts_with(p)) {
                    return Ok(());
                } else {
                    data_next = got.starts_with("VALUE ");
                }
            }
        };
        tokio::time::timeout(REPLY, reply).await.with_context(|| {
            format!("no closing reply line to {line:?} from {host}:{port} within {REPLY:?}; got:\n{raw}")
        })??;
    }
    Ok(Observed { text: ctx.normalizer.text(&raw), raw, exit: None, tree: None })
}
