//! arcus-client: what an application sees of an Arcus cache cloud (contract section 7), measured.
//!
//! `ring` (the ketama ring of the Java client), `view` (a ZooKeeper session that keeps the ring of
//! one service current, as a client library does, and records each ring change), `load` (a
//! bounded traffic generator through the view, one record per operation in `client.jsonl`),
//! `report` (`client.json`: unavailability, failed operations, moved keys, lost values, ring lag,
//! latency per phase; a markdown section; bounds), `timeline` (`timeline.html`, one self-contained
//! page), `guard` (the addresses the view and the load may connect to).
//!
//! One line of `client.jsonl` is one operation ([`Record`]):
//!
//! ```text
//! {"t_ms":3334.279,"wall_ms":1796411633315,"key":"lab:585","node":"10.213.1.12:11211","op":"get","outcome":"hit","latency_us":663,"check":"current"}
//! ```
//!
//! `t_ms` is the issue time since the load started, `outcome` one of hit, miss, stored, error,
//! timeout, refused; `check` (gets of keys stored before) says whether the reply had the key's last
//! acknowledged value (`current`), or not from the node that stored it (`lost`), or a miss / an
//! older value after the key moved to another node (`moved` / `stale`); `node` is null when the
//! ring was empty.
//!
//! The call sequence of a scenario run:
//!
//! ```no_run
//! use std::sync::Arc;
//! use arcus_client::{report, timeline, Bounds, FaultMarker, Guard, Load, LoadSpec, MarkerKind, Moment, Report, View, ViewConfig};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let guard = Guard::networks(vec!["10.213.1.0/24".parse()?]); // loopback is always allowed
//! let view = View::connect(ViewConfig::new("10.213.1.11:2181,10.213.1.12:2181", "ruo91-cloud", guard)).await?;
//! view.wait_for_nodes(6, std::time::Duration::from_secs(10)).await?;
//!
//! let records = std::fs::File::create("client.jsonl")?;
//! let load = Load::start(&view, LoadSpec::default(), records)?;
//! let mut markers = Vec::new();
//! // ... a fault: note when it took effect (and which nodes it hits) ...
//! markers.push(FaultMarker::now("kill memcached-2:11211", MarkerKind::Fault, vec!["10.213.1.12:11211".into()]));
//! // ... the heal ...
//! markers.push(FaultMarker::now("heal", MarkerKind::Heal, vec![]));
//! let totals = load.stop().await?;
//! let events = view.close().await;
//!
//! let records = report::read_records(std::path::Path::new("client.jsonl"))?;
//! let report = Report::compute(records, &events, &markers, totals.started)?;
//! std::fs::write("client.json", serde_json::to_string_pretty(&report)?)?;
//! let section = report.markdown(); // for summary.md
//! let bounds = Bounds { max_unavailable: Some(std::time::Duration::from_secs(12)), ..Bounds::default() };
//! for violation in report::check(&report, &bounds) {
//!     eprintln!("{violation}");
//! }
//! std::fs::write("timeline.html", timeline::render(&report))?;
//! # let _ = (section, Arc::new(()), Moment::now());
//! # Ok(()) }
//! ```

pub mod guard;
pub mod load;
mod memcache;
pub mod report;
pub mod ring;
pub mod time;
pub mod timeline;
pub mod view;

pub use guard::Guard;
pub use load::{Load, LoadHandle, LoadSpec, Op, Outcome, ReadCheck, Totals};
pub use report::{check, Bounds, FaultMarker, MarkerKind, Record, Report, Violation};
pub use ring::Ring;
pub use time::Moment;
pub use view::{RingEvent, View, ViewConfig};

use std::net::IpAddr;

/// Everything that can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Neither `/arcus_repl/cache_list/<svc>` nor `/arcus/cache_list/<svc>` exists.
    #[error("service code not found: {0} (neither /arcus_repl/cache_list/{0} nor /arcus/cache_list/{0} exists)")]
    ServiceNotFound(String),
    /// The guard refused an address (a ZooKeeper server or a cache node).
    #[error("{what} {addr} is outside the addresses this client may connect to")]
    OutsideGuard { what: String, addr: IpAddr },
    /// An address that is not `ip:port` (or a host name that does not resolve).
    #[error("bad address {addr:?}: {reason}")]
    BadAddress { addr: String, reason: String },
    /// A ZooKeeper request failed.
    #[error("ZooKeeper: {what}: {source}")]
    ZooKeeper { what: String, source: zookeeper_client::Error },
    /// A wait ran past its deadline.
    #[error("timed out after {after:?} waiting for {what}")]
    Timeout { what: String, after: std::time::Duration },
    /// Reading or writing records, or a connection.
    #[error("{what}: {source}")]
    Io { what: String, source: std::io::Error },
    /// A record line of `client.jsonl` that does not parse.
    #[error("client.jsonl line {line}: {source}")]
    Record { line: usize, source: serde_json::Error },
    /// A load spec that cannot run (zero keys, a value too small to carry its version...).
    #[error("bad load spec: {0}")]
    BadSpec(String),
}
