//! The report of a run with traffic (`client.json`): from the load's records, the view's ring
//! events and the caller's fault markers, per node its unavailable windows, failed and timed-out
//! operations, keys moved away and back, lost values; the lag from each znode removal or addition
//! to the ring's update; availability and latency before the first fault, during the faults and
//! after the heal; a time series for the timeline. Also its markdown section for `summary.md`, and
//! [`Bounds`] checked by [`check`].

use std::fmt;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::load::{Op, Outcome, ReadCheck};
use crate::time::Moment;
use crate::view::RingEvent;
use crate::ClientError;

/// One operation, as one line of `client.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// When the operation was issued, ms since the load started (µs precision).
    pub t_ms: f64,
    /// The same moment on the wall clock, ms since the Unix epoch.
    pub wall_ms: u64,
    pub key: String,
    /// The node it was routed to (`ip:port`); None when the ring was empty.
    pub node: Option<String>,
    pub op: Op,
    pub outcome: Outcome,
    /// From issue to reply (or to the timeout, the refusal, the cancellation).
    pub latency_us: u64,
    /// For gets of keys stored before: what the reply says of the last stored value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<ReadCheck>,
}

/// Reads `client.jsonl` one record at a time.
pub fn read_records(path: &Path) -> Result<impl Iterator<Item = Result<Record, ClientError>>, ClientError> {
    use std::io::BufRead;
    let file = std::fs::File::open(path)
        .map_err(|source| ClientError::Io { what: format!("open {}", path.display()), source })?;
    let what = path.display().to_string();
    Ok(std::io::BufReader::new(file).lines().enumerate().filter_map(move |(i, line)| match line {
        Err(source) => Some(Err(ClientError::Io { what: format!("read {what}"), source })),
        Ok(line) if line.trim().is_empty() => None,
        Ok(line) => Some(serde_json::from_str(&line).map_err(|source| ClientError::Record { line: i + 1, source })),
    }))
}

/// What a marker marks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MarkerKind {
    /// A fault took effect.
    Fault,
    /// The faults were healed (or a faulted node was started again).
    Heal,
    /// A node's znode was seen gone (by the caller's own observation).
    ZnodeRemoved,
    /// A node's znode was seen (again).
    ZnodeAdded,
}

/// A moment the caller marks on the run's time line.
#[derive(Debug, Clone, Serialize)]
pub struct FaultMarker {
    /// What happened, for people (`kill -9 memcached-2:11211`).
    pub name: String,
    pub kind: MarkerKind,
    #[serde(skip)]
    pub at: Moment,
    /// The cache nodes (`ip:port`) it concerns; empty when it concerns no node in particular (a
    /// ZooKeeper server killed) or every one.
    pub nodes: Vec<String>,
}

impl FaultMarker {
    /// A marker at this moment.
    pub fn now(name: impl Into<String>, kind: MarkerKind, nodes: Vec<String>) -> FaultMarker {
        FaultMarker::at(Moment::now(), name, kind, nodes)
    }

    /// A marker at `at`.
    pub fn at(at: Moment, name: impl Into<String>, kind: MarkerKind, nodes: Vec<String>) -> FaultMarker {
        FaultMarker { name: name.into(), kind, at, nodes }
    }
}

/// A marker placed on the report's axis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Marker {
    pub name: String,
    pub kind: MarkerKind,
    /// ms since the load started (negative: before it).
    pub at_ms: f64,
    pub wall_ms: u64,
    pub nodes: Vec<String>,
}

/// A ring change placed on the report's axis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RingChange {
    /// When the new ring was in place, ms since the load started.
    pub at_ms: f64,
    /// When the watch fired that led to it.
    pub seen_ms: f64,
    pub wall_ms: u64,
    pub nodes: Vec<String>,
    pub added: Vec<String>,
    pub removed: Vec<String>,
}

/// How a node's unavailable window ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WindowEnd {
    /// An operation on the node succeeded.
    Success,
    /// The node left the ring (its keys went to other nodes).
    Removed,
    /// The records ended with the node still failing.
    End,
}

/// A stretch of time in which a node's operations failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Window {
    /// The first failed operation's issue time, ms since the load started.
    pub from_ms: f64,
    /// The end (see `ended_by`).
    pub to_ms: f64,
    pub ended_by: WindowEnd,
    /// Failed operations in the window.
    pub failed_ops: u64,
}

/// One node's figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeReport {
    pub node: String,
    /// Named by a fault marker.
    pub faulted: bool,
    pub ops: u64,
    pub failed: u64,
    pub errors: u64,
    pub timeouts: u64,
    pub refused: u64,
    pub unavailable: Vec<Window>,
    /// The windows' total length, ms.
    pub unavailable_ms: f64,
    /// Keys that were served by this node and then by another.
    pub keys_moved_away: u64,
    /// Of those, keys that came back to this node.
    pub keys_moved_back: u64,
    /// Misses on this node of keys that had come back to it (keys it had lost meanwhile).
    pub misses_after_return: u64,
    /// Gets whose check was `lost`: the node had the key's last stored value and did not return it.
    pub lost_values: u64,
    /// Gets whose check was `stale`: an older value after the key moved away and back.
    pub stale_values: u64,
}

/// The lag from a znode marker to the ring update it led to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RingLag {
    /// The marker's name.
    pub marker: String,
    pub kind: MarkerKind,
    pub node: String,
    /// Ring update time minus the marker's time, ms (negative when the view saw it first); None
    /// when the ring never changed for that node.
    pub lag_ms: Option<f64>,
}

/// Figures over one stretch of the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Phase {
    /// `before` (until the first fault), `during` (first fault to last heal), `after` (from the
    /// last heal); a run without faults has only `before`.
    pub name: String,
    pub from_ms: f64,
    pub to_ms: f64,
    pub ops: u64,
    pub failed: u64,
    /// Share of operations that did not fail, 0..=1 (1 when there were none).
    pub availability: f64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
}

/// Counts per time bucket, for the timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Series {
    /// The width of a bucket, ms.
    pub bucket_ms: f64,
    /// The nodes, in the order of each bucket's per-node columns.
    pub nodes: Vec<String>,
    pub buckets: Vec<Bucket>,
}

/// One time bucket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bucket {
    /// The bucket's start, ms since the load started.
    pub t_ms: f64,
    /// Per node (in [`Series::nodes`]' order): [ok, failed (error/refused), timeout].
    pub per_node: Vec<[u32; 3]>,
    /// Operations with no node (empty ring), all failed.
    pub unrouted: u32,
}

/// `client.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The load's start on the wall clock, ms since the Unix epoch (the axis' zero).
    pub origin_wall_ms: u64,
    /// The last record's end, ms since the load started.
    pub duration_ms: f64,
    pub ops: u64,
    pub failed: u64,
    pub timeouts: u64,
    /// Distinct keys in the records.
    pub keys: u64,
    /// Keys with at least one failed operation, moved, or lost.
    pub keys_affected: u64,
    /// `keys_affected / keys`.
    pub keys_affected_share: f64,
    pub lost_values: u64,
    /// Lost values on nodes no fault marker names.
    pub lost_values_on_unfaulted_nodes: u64,
    pub nodes: Vec<NodeReport>,
    pub ring_changes: Vec<RingChange>,
    pub ring_lags: Vec<RingLag>,
    pub markers: Vec<Marker>,
    pub phases: Vec<Phase>,
    pub series: Series,
}

impl Report {
    /// The report of `records` (in any order), `events` (the view's) and `markers`, on the axis
    /// of `origin` (the load's start, [`Totals::started`](crate::Totals::started)).
    pub fn compute(
        records: impl IntoIterator<Item = Result<Record, ClientError>>,
        events: &[RingEvent],
        markers: &[FaultMarker],
        origin: Moment,
    ) -> Result<Report, ClientError> {
        let _ = (records.into_iter(), events, markers, origin);
        todo!()
    }

    /// The report's section of `summary.md` (starts with a `### Client view` heading).
    pub fn markdown(&self) -> String {
        todo!()
    }
}

/// Limits on a report's figures; None = no limit. Durations in scenario files are written as
/// `"12s"` or `"250ms"`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Bounds {
    /// The longest total unavailable time of any one node.
    #[serde(with = "opt_duration")]
    pub max_unavailable: Option<Duration>,
    /// Failed operations (error, timeout, refused) over the run.
    pub max_failed_ops: Option<u64>,
    /// Timed-out operations over the run.
    pub max_timeouts: Option<u64>,
    /// Lost values over the run.
    pub max_lost_values: Option<u64>,
    /// Lost values on nodes no fault marker names.
    pub max_lost_values_on_unfaulted_nodes: Option<u64>,
    /// The largest lag from a znode marker to the ring update (a ring that never updated
    /// violates any bound).
    #[serde(with = "opt_duration")]
    pub max_ring_lag: Option<Duration>,
    /// The share of keys affected, 0..=1.
    pub max_keys_affected_share: Option<f64>,
    /// The share of operations that succeeded over the run, 0..=1.
    pub min_availability: Option<f64>,
}

/// A bound a report does not keep.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Violation {
    /// The bound's name (`max_unavailable`).
    pub bound: String,
    /// The node concerned, when the bound is per node.
    pub node: Option<String>,
    /// The figures, for people.
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// The bounds `report` does not keep (empty when it keeps them all).
pub fn check(report: &Report, bounds: &Bounds) -> Vec<Violation> {
    let _ = (report, bounds);
    todo!()
}

/// Optional durations as `"12s"`, `"250ms"` (or integer milliseconds).
mod opt_duration {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&humantime::format_duration(*d).to_string()),
            None => s.serialize_none(),
        }
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Written {
        Millis(u64),
        Text(String),
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        match Option::<Written>::deserialize(d)? {
            None => Ok(None),
            Some(Written::Millis(ms)) => Ok(Some(Duration::from_millis(ms))),
            Some(Written::Text(text)) => humantime::parse_duration(&text)
                .map(Some)
                .map_err(|e| serde::de::Error::custom(format!("{text:?}: {e}"))),
        }
    }
}
