//! The report of a run with traffic (`client.json`): from the load's records, the view's ring
//! events and the caller's fault markers, per node its unavailable windows, failed and timed-out
//! operations, keys moved away and back, lost values; the lag from each znode removal or addition
//! to the ring's update; availability and latency before the first fault, during the faults and
//! after the heal; a time series for the timeline. Also its markdown section for `summary.md`, and
//! [`Bounds`] checked by [`check`].

use std::collections::{HashMap, HashSet};
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
        let mut table = Table::default();
        let mut ops = Vec::new();
        for record in records {
            let record = record?;
            ops.push(table.compact(&record));
        }
        ops.sort_by_key(|op| (op.t_us, op.node, op.key));
        let ring_changes: Vec<RingChange> = events
            .iter()
            .map(|e| RingChange {
                at_ms: e.at.ms_since(&origin),
                seen_ms: e.seen.ms_since(&origin),
                wall_ms: e.wall_ms,
                nodes: e.nodes.clone(),
                added: e.added.clone(),
                removed: e.removed.clone(),
            })
            .collect();
        let mut markers: Vec<Marker> = markers
            .iter()
            .map(|m| Marker {
                name: m.name.clone(),
                kind: m.kind,
                at_ms: m.at.ms_since(&origin),
                wall_ms: m.at.wall_ms(),
                nodes: m.nodes.clone(),
            })
            .collect();
        markers.sort_by(|a, b| a.at_ms.total_cmp(&b.at_ms));
        // Every node that served or was on the ring has a row.
        for change in &ring_changes {
            for node in &change.nodes {
                table.node(node);
            }
        }
        let duration_ms = ops.iter().map(|op| op.end_ms()).fold(0.0, f64::max);
        let faulted: Vec<bool> = table
            .nodes
            .iter()
            .map(|n| markers.iter().any(|m| m.kind == MarkerKind::Fault && m.nodes.iter().any(|f| f == n)))
            .collect();

        let mut nodes: Vec<NodeReport> = table
            .nodes
            .iter()
            .zip(&faulted)
            .map(|(node, faulted)| NodeReport {
                node: node.clone(),
                faulted: *faulted,
                ops: 0,
                failed: 0,
                errors: 0,
                timeouts: 0,
                refused: 0,
                unavailable: Vec::new(),
                unavailable_ms: 0.0,
                keys_moved_away: 0,
                keys_moved_back: 0,
                misses_after_return: 0,
                lost_values: 0,
                stale_values: 0,
            })
            .collect();

        // Removals per node, in time order, to end windows.
        let mut removals: Vec<Vec<f64>> = vec![Vec::new(); table.nodes.len()];
        for change in &ring_changes {
            for node in &change.removed {
                removals[table.node(node) as usize].push(change.at_ms);
            }
        }
        let mut open: Vec<Option<Window>> = vec![None; table.nodes.len()];
        let mut next_removal = vec![0usize; table.nodes.len()];
        // Per key: the node of its last operation, the nodes it moved away from, whether it came
        // back to its current node and was not stored there since.
        let mut key_node: Vec<u16> = vec![NO_NODE; table.keys];
        let mut moved_from: Vec<Vec<u16>> = vec![Vec::new(); table.keys];
        let mut returned: Vec<bool> = vec![false; table.keys];
        let mut moved_away: Vec<HashSet<u32>> = vec![HashSet::new(); table.nodes.len()];
        let mut moved_back: Vec<HashSet<u32>> = vec![HashSet::new(); table.nodes.len()];
        let mut affected = vec![false; table.keys];
        let (mut failed, mut timeouts, mut lost_values, mut lost_unfaulted) = (0u64, 0u64, 0u64, 0u64);

        for op in &ops {
            let t_ms = op.t_ms();
            let key = op.key as usize;
            if op.outcome.failed() {
                failed += 1;
                affected[key] = true;
            }
            timeouts += (op.outcome == Outcome::Timeout) as u64;
            if op.node == NO_NODE {
                continue;
            }
            let n = op.node as usize;
            // Windows end at a removal that comes before this operation.
            while next_removal[n] < removals[n].len() && removals[n][next_removal[n]] <= t_ms {
                if let Some(mut window) = open[n].take() {
                    window.to_ms = removals[n][next_removal[n]].max(window.from_ms);
                    window.ended_by = WindowEnd::Removed;
                    nodes[n].unavailable.push(window);
                }
                next_removal[n] += 1;
            }
            let row = &mut nodes[n];
            row.ops += 1;
            match op.outcome {
                Outcome::Error => row.errors += 1,
                Outcome::Timeout => row.timeouts += 1,
                Outcome::Refused => row.refused += 1,
                _ => {}
            }
            if op.outcome.failed() {
                row.failed += 1;
                let window = open[n].get_or_insert(Window {
                    from_ms: t_ms,
                    to_ms: t_ms,
                    ended_by: WindowEnd::End,
                    failed_ops: 0,
                });
                window.failed_ops += 1;
            } else if let Some(mut window) = open[n].take() {
                window.to_ms = t_ms;
                window.ended_by = WindowEnd::Success;
                row.unavailable.push(window);
            }
            match op.check {
                Some(ReadCheck::Lost) => {
                    row.lost_values += 1;
                    lost_values += 1;
                    lost_unfaulted += (!faulted[n]) as u64;
                    affected[key] = true;
                }
                Some(ReadCheck::Stale) => {
                    row.stale_values += 1;
                    affected[key] = true;
                }
                _ => {}
            }
            // Keys moving between nodes.
            let previous = key_node[key];
            if previous != op.node {
                if previous != NO_NODE {
                    moved_away[previous as usize].insert(op.key);
                    moved_from[key].push(previous);
                    affected[key] = true;
                }
                returned[key] = moved_from[key].contains(&op.node);
                if returned[key] {
                    moved_back[n].insert(op.key);
                }
                key_node[key] = op.node;
            }
            if returned[key] {
                match op.outcome {
                    Outcome::Miss => row.misses_after_return += 1,
                    Outcome::Stored => returned[key] = false,
                    _ => {}
                }
            }
        }
        for (n, row) in nodes.iter_mut().enumerate() {
            if let Some(mut window) = open[n].take() {
                let removal = removals[n].get(next_removal[n]).copied();
                match removal {
                    Some(at) => {
                        window.to_ms = at.max(window.from_ms);
                        window.ended_by = WindowEnd::Removed;
                    }
                    None => {
                        window.to_ms = duration_ms.max(window.from_ms);
                        window.ended_by = WindowEnd::End;
                    }
                }
                row.unavailable.push(window);
            }
            row.unavailable_ms = row.unavailable.iter().map(|w| w.to_ms - w.from_ms).fold(0.0, |sum, ms| sum + ms);
            row.keys_moved_away = moved_away[n].len() as u64;
            row.keys_moved_back = moved_back[n].len() as u64;
        }

        let ring_lags = ring_lags(&markers, &ring_changes);
        let phases = phases(&ops, &markers, duration_ms);
        let series = series(&ops, &table.nodes, duration_ms);
        let keys = table.keys as u64;
        let keys_affected = affected.iter().filter(|a| **a).count() as u64;
        Ok(Report {
            origin_wall_ms: origin.wall_ms(),
            duration_ms,
            ops: ops.len() as u64,
            failed,
            timeouts,
            keys,
            keys_affected,
            keys_affected_share: if keys == 0 { 0.0 } else { keys_affected as f64 / keys as f64 },
            lost_values,
            lost_values_on_unfaulted_nodes: lost_unfaulted,
            nodes,
            ring_changes,
            ring_lags,
            markers,
            phases,
            series,
        })
    }

    /// Share of operations that did not fail, 0..=1 (1 without operations).
    pub fn availability(&self) -> f64 {
        if self.ops == 0 {
            1.0
        } else {
            1.0 - self.failed as f64 / self.ops as f64
        }
    }

    /// The report's section of `summary.md` (starts with a `### Client view` heading).
    pub fn markdown(&self) -> String {
        use std::fmt::Write as _;
        let mut md = String::from("### Client view\n\n");
        let secs = self.duration_ms / 1000.0;
        let _ = writeln!(
            md,
            "{} operations in {:.1} s ({:.0}/s): {} failed ({} timed out), availability {:.3} %; \
             {} keys, {} affected ({:.1} %); {} lost values ({} on nodes never faulted).\n",
            self.ops,
            secs,
            if secs > 0.0 { self.ops as f64 / secs } else { 0.0 },
            self.failed,
            self.timeouts,
            100.0 * self.availability(),
            self.keys,
            self.keys_affected,
            100.0 * self.keys_affected_share,
            self.lost_values,
            self.lost_values_on_unfaulted_nodes,
        );
        md.push_str("| node | faulted | ops | failed | timeouts | unavailable | windows | keys moved away / back | misses after return | lost | stale |\n");
        md.push_str("|---|---|--:|--:|--:|--:|---|--:|--:|--:|--:|\n");
        for n in &self.nodes {
            let windows: Vec<String> = n
                .unavailable
                .iter()
                .map(|w| format!("{:.1}–{:.1} s ({})", w.from_ms / 1000.0, w.to_ms / 1000.0, w.ended_by.name()))
                .collect();
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {:.2} s | {} | {} / {} | {} | {} | {} |",
                n.node,
                if n.faulted { "yes" } else { "" },
                n.ops,
                n.failed,
                n.timeouts,
                n.unavailable_ms / 1000.0,
                if windows.is_empty() { "–".to_string() } else { windows.join(", ") },
                n.keys_moved_away,
                n.keys_moved_back,
                n.misses_after_return,
                n.lost_values,
                n.stale_values,
            );
        }
        md.push_str("\n| phase | from | to | ops | failed | availability | p50 | p99 | max |\n");
        md.push_str("|---|--:|--:|--:|--:|--:|--:|--:|--:|\n");
        for p in &self.phases {
            let _ = writeln!(
                md,
                "| {} | {:.1} s | {:.1} s | {} | {} | {:.3} % | {} µs | {} µs | {} µs |",
                p.name,
                p.from_ms / 1000.0,
                p.to_ms / 1000.0,
                p.ops,
                p.failed,
                100.0 * p.availability,
                p.p50_us,
                p.p99_us,
                p.max_us,
            );
        }
        if self.ring_changes.len() > 1 {
            md.push_str("\nRing changes:");
            for c in self.ring_changes.iter().skip(1) {
                let mut what: Vec<String> = c.removed.iter().map(|n| format!("−{n}")).collect();
                what.extend(c.added.iter().map(|n| format!("+{n}")));
                let _ = write!(md, " {:.2} s {};", c.at_ms / 1000.0, what.join(" "));
            }
            md.pop();
            md.push_str(".\n");
        }
        if !self.ring_lags.is_empty() {
            md.push_str("\nRing lag after the znode markers:");
            for lag in &self.ring_lags {
                let figure = lag.lag_ms.map_or("never updated".to_string(), |ms| format!("{ms:.0} ms"));
                let _ = write!(md, " {} {} {};", lag.marker, lag.node, figure);
            }
            md.pop();
            md.push_str(".\n");
        }
        md
    }
}

impl WindowEnd {
    fn name(self) -> &'static str {
        match self {
            WindowEnd::Success => "until a success",
            WindowEnd::Removed => "until removed",
            WindowEnd::End => "to the end",
        }
    }
}

/// The node id of records with no node.
const NO_NODE: u16 = u16::MAX;

/// One record, compacted for sorting and counting.
#[derive(Debug, Clone, Copy)]
struct CompactOp {
    t_us: u64,
    latency_us: u32,
    key: u32,
    node: u16,
    outcome: Outcome,
    check: Option<ReadCheck>,
}

impl CompactOp {
    fn t_ms(&self) -> f64 {
        self.t_us as f64 / 1000.0
    }

    fn end_ms(&self) -> f64 {
        (self.t_us + self.latency_us as u64) as f64 / 1000.0
    }
}

/// Key and node names to small ids.
#[derive(Default)]
struct Table {
    key_ids: HashMap<String, u32>,
    keys: usize,
    node_ids: HashMap<String, u16>,
    nodes: Vec<String>,
}

impl Table {
    fn node(&mut self, node: &str) -> u16 {
        if let Some(id) = self.node_ids.get(node) {
            return *id;
        }
        let id = self.nodes.len() as u16;
        self.nodes.push(node.to_string());
        self.node_ids.insert(node.to_string(), id);
        id
    }

    fn compact(&mut self, record: &Record) -> CompactOp {
        let key = match self.key_ids.get(&record.key) {
            Some(id) => *id,
            None => {
                let id = self.keys as u32;
                self.key_ids.insert(record.key.clone(), id);
                self.keys += 1;
                id
            }
        };
        CompactOp {
            t_us: (record.t_ms.max(0.0) * 1000.0).round() as u64,
            latency_us: record.latency_us.min(u32::MAX as u64) as u32,
            key,
            node: record.node.as_deref().map_or(NO_NODE, |n| self.node(n)),
            outcome: record.outcome,
            check: record.check,
        }
    }
}

/// For each node of each znode marker: the ring change of that node nearest in time.
fn ring_lags(markers: &[Marker], changes: &[RingChange]) -> Vec<RingLag> {
    let mut lags = Vec::new();
    for marker in markers {
        let removed = match marker.kind {
            MarkerKind::ZnodeRemoved => true,
            MarkerKind::ZnodeAdded => false,
            _ => continue,
        };
        for node in &marker.nodes {
            let lag_ms = changes
                .iter()
                .filter(|c| if removed { c.removed.contains(node) } else { c.added.contains(node) })
                .map(|c| c.at_ms - marker.at_ms)
                .min_by(|a, b| a.abs().total_cmp(&b.abs()));
            lags.push(RingLag { marker: marker.name.clone(), kind: marker.kind, node: node.clone(), lag_ms });
        }
    }
    lags
}

/// Before the first fault, from it to the last heal after it, after that heal.
fn phases(ops: &[CompactOp], markers: &[Marker], duration_ms: f64) -> Vec<Phase> {
    let first_fault = markers.iter().find(|m| m.kind == MarkerKind::Fault).map(|m| m.at_ms);
    let last_heal = first_fault
        .and_then(|f| markers.iter().rev().find(|m| m.kind == MarkerKind::Heal && m.at_ms >= f))
        .map(|m| m.at_ms);
    let end = duration_ms.max(first_fault.unwrap_or(0.0)).max(last_heal.unwrap_or(0.0));
    let mut bounds = vec![("before", 0.0, first_fault.unwrap_or(end))];
    if let Some(fault) = first_fault {
        bounds.push(("during", fault, last_heal.unwrap_or(end)));
        if let Some(heal) = last_heal {
            bounds.push(("after", heal, end));
        }
    }
    let last = bounds.len() - 1;
    bounds
        .into_iter()
        .enumerate()
        .map(|(i, (name, from_ms, to_ms))| {
            let inside = |op: &&CompactOp| {
                let t = op.t_ms();
                t >= from_ms && (t < to_ms || (i == last && t <= to_ms))
            };
            let mut latencies: Vec<u32> = ops.iter().filter(inside).map(|op| op.latency_us).collect();
            let failed = ops.iter().filter(inside).filter(|op| op.outcome.failed()).count() as u64;
            latencies.sort_unstable();
            let ops = latencies.len() as u64;
            Phase {
                name: name.to_string(),
                from_ms,
                to_ms,
                ops,
                failed,
                availability: if ops == 0 { 1.0 } else { 1.0 - failed as f64 / ops as f64 },
                p50_us: percentile(&latencies, 0.50),
                p99_us: percentile(&latencies, 0.99),
                max_us: latencies.last().copied().unwrap_or(0) as u64,
            }
        })
        .collect()
}

/// The nearest-rank percentile of sorted values (0 for none).
fn percentile(sorted: &[u32], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1] as u64
}

/// At most this many buckets in a series.
const MAX_BUCKETS: f64 = 600.0;

/// Counts per bucket and node: 250 ms buckets, wider for long runs.
fn series(ops: &[CompactOp], nodes: &[String], duration_ms: f64) -> Series {
    let mut bucket_ms = 250.0;
    while duration_ms / bucket_ms > MAX_BUCKETS {
        bucket_ms *= 2.0;
    }
    let count = ((duration_ms / bucket_ms).ceil() as usize).max(1);
    let mut buckets: Vec<Bucket> = (0..count)
        .map(|i| Bucket { t_ms: i as f64 * bucket_ms, per_node: vec![[0; 3]; nodes.len()], unrouted: 0 })
        .collect();
    for op in ops {
        let i = ((op.t_ms() / bucket_ms) as usize).min(count - 1);
        let bucket = &mut buckets[i];
        if op.node == NO_NODE {
            bucket.unrouted += 1;
            continue;
        }
        let column = match op.outcome {
            Outcome::Timeout => 2,
            Outcome::Error | Outcome::Refused => 1,
            _ => 0,
        };
        bucket.per_node[op.node as usize][column] += 1;
    }
    Series { bucket_ms, nodes: nodes.to_vec(), buckets }
}

/// Limits on a report's figures; None = no limit. Durations in scenario files are written as
/// `"12s"` or `"250ms"`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Bounds {
    /// The longest total unavailable time of any one node.
    #[serde(with = "opt_duration")]
    pub max_unavailable: Option<Duration>,
    /// The longest total unavailable time of any one node must be at least this (the traffic met
    /// the fault).
    #[serde(with = "opt_duration")]
    pub min_unavailable: Option<Duration>,
    /// Failed operations (error, timeout, refused) over the run.
    pub max_failed_ops: Option<u64>,
    /// At least this many failed operations over the run (the traffic met the fault).
    pub min_failed_ops: Option<u64>,
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
    let mut violations = Vec::new();
    let mut violation = |bound: &str, node: Option<&str>, message: String| {
        violations.push(Violation { bound: bound.to_string(), node: node.map(str::to_string), message });
    };
    if let Some(max) = bounds.max_unavailable {
        for n in &report.nodes {
            if n.unavailable_ms > max.as_secs_f64() * 1000.0 {
                violation(
                    "max_unavailable",
                    Some(&n.node),
                    format!(
                        "max_unavailable: node {} was unavailable {:.2} s ({} windows, {} failed operations), \
                         above the bound {:.2} s",
                        n.node,
                        n.unavailable_ms / 1000.0,
                        n.unavailable.len(),
                        n.failed,
                        max.as_secs_f64()
                    ),
                );
            }
        }
    }
    if let Some(min) = bounds.min_unavailable {
        let longest = report.nodes.iter().max_by(|a, b| a.unavailable_ms.total_cmp(&b.unavailable_ms));
        let longest_ms = longest.map_or(0.0, |n| n.unavailable_ms);
        if longest_ms < min.as_secs_f64() * 1000.0 {
            violation(
                "min_unavailable",
                longest.map(|n| n.node.as_str()),
                format!(
                    "min_unavailable: the longest unavailable total was {:.2} s (node {}), below the bound {:.2} s",
                    longest_ms / 1000.0,
                    longest.map_or("none", |n| n.node.as_str()),
                    min.as_secs_f64()
                ),
            );
        }
    }
    if let Some(min) = bounds.min_failed_ops.filter(|min| report.failed < *min) {
        violation(
            "min_failed_ops",
            None,
            format!("min_failed_ops: {} failed operations of {}, below the bound {min}", report.failed, report.ops),
        );
    }
    let mut total = |bound: &str, figure: u64, max: Option<u64>, what: &str| {
        if let Some(max) = max.filter(|max| figure > *max) {
            let per_node: Vec<String> = match bound {
                "max_failed_ops" => {
                    report.nodes.iter().filter(|n| n.failed > 0).map(|n| format!("{} {}", n.node, n.failed)).collect()
                }
                "max_timeouts" => report
                    .nodes
                    .iter()
                    .filter(|n| n.timeouts > 0)
                    .map(|n| format!("{} {}", n.node, n.timeouts))
                    .collect(),
                _ => report
                    .nodes
                    .iter()
                    .filter(|n| n.lost_values > 0)
                    .map(|n| format!("{} {}", n.node, n.lost_values))
                    .collect(),
            };
            violation(
                bound,
                None,
                format!("{bound}: {figure} {what}, above the bound {max} (per node: {})", per_node.join(", ")),
            );
        }
    };
    total("max_failed_ops", report.failed, bounds.max_failed_ops, "failed operations");
    total("max_timeouts", report.timeouts, bounds.max_timeouts, "timed-out operations");
    total("max_lost_values", report.lost_values, bounds.max_lost_values, "lost values");
    if let Some(max) = bounds.max_lost_values_on_unfaulted_nodes {
        for n in report.nodes.iter().filter(|n| !n.faulted && n.lost_values > max) {
            violation(
                "max_lost_values_on_unfaulted_nodes",
                Some(&n.node),
                format!(
                    "max_lost_values_on_unfaulted_nodes: node {}, never faulted, lost {} values, above the bound {max}",
                    n.node, n.lost_values
                ),
            );
        }
    }
    if let Some(max) = bounds.max_ring_lag {
        for lag in &report.ring_lags {
            match lag.lag_ms {
                Some(ms) if ms <= max.as_secs_f64() * 1000.0 => {}
                Some(ms) => violation(
                    "max_ring_lag",
                    Some(&lag.node),
                    format!(
                        "max_ring_lag: the ring changed for node {} {:.0} ms after {:?}, above the bound {} ms",
                        lag.node,
                        ms,
                        lag.marker,
                        max.as_millis()
                    ),
                ),
                None => violation(
                    "max_ring_lag",
                    Some(&lag.node),
                    format!("max_ring_lag: the ring never changed for node {} after {:?}", lag.node, lag.marker),
                ),
            }
        }
    }
    if let Some(max) = bounds.max_keys_affected_share {
        if report.keys_affected_share > max {
            violation(
                "max_keys_affected_share",
                None,
                format!(
                    "max_keys_affected_share: {} of {} keys affected ({:.1} %), above the bound {:.1} %",
                    report.keys_affected,
                    report.keys,
                    100.0 * report.keys_affected_share,
                    100.0 * max
                ),
            );
        }
    }
    if let Some(min) = bounds.min_availability {
        if report.availability() < min {
            violation(
                "min_availability",
                None,
                format!(
                    "min_availability: {:.3} % of {} operations succeeded ({} failed), below the bound {:.3} %",
                    100.0 * report.availability(),
                    report.ops,
                    report.failed,
                    100.0 * min
                ),
            );
        }
    }
    violations
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

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "10.0.0.1:11211";
    const B: &str = "10.0.0.2:11211";

    fn op(t_ms: f64, key: &str, node: &str, op: Op, outcome: Outcome, check: Option<ReadCheck>) -> Record {
        Record {
            t_ms,
            wall_ms: 0,
            key: key.to_string(),
            node: Some(node.to_string()),
            op,
            outcome,
            latency_us: if outcome == Outcome::Timeout { 500_000 } else { 100 + t_ms as u64 % 7 },
            check,
        }
    }

    fn at(origin: &Moment, ms: u64) -> Moment {
        let d = Duration::from_millis(ms);
        Moment { instant: origin.instant + d, wall: origin.wall + d }
    }

    fn ring_event(origin: &Moment, ms: u64, nodes: &[&str], added: &[&str], removed: &[&str]) -> RingEvent {
        let strings = |list: &[&str]| list.iter().map(|s| s.to_string()).collect();
        RingEvent {
            at: at(origin, ms),
            wall_ms: 0,
            seen: at(origin, ms),
            nodes: strings(nodes),
            added: strings(added),
            removed: strings(removed),
        }
    }

    /// B fails from 1 s (killed), leaves the ring at 3 s, comes back at 5 s; k1 lives on B.
    fn story() -> Report {
        use Op::*;
        use Outcome::*;
        let origin = Moment::now();
        let mut records = vec![
            op(0.0, "k1", B, Set, Stored, None),
            op(10.0, "k0", A, Set, Stored, None),
            op(500.0, "k1", B, Get, Hit, Some(ReadCheck::Current)),
            op(1000.0, "k1", B, Get, Error, None),
            op(1500.0, "k1", B, Set, Timeout, None),
            op(2000.0, "k1", B, Get, Refused, None),
            // after the removal k1 is on A, which never had it
            op(3100.0, "k1", A, Get, Miss, Some(ReadCheck::Moved)),
            op(3200.0, "k1", A, Set, Stored, None),
            // A loses k0 (never faulted)
            op(3300.0, "k0", A, Get, Miss, Some(ReadCheck::Lost)),
            // B is back at 5 s: k1 returns to an empty B
            op(5100.0, "k1", B, Get, Miss, Some(ReadCheck::Moved)),
            op(5200.0, "k1", B, Get, Miss, Some(ReadCheck::Moved)),
            op(5300.0, "k1", B, Set, Stored, None),
            op(5400.0, "k1", B, Get, Miss, Some(ReadCheck::Lost)),
        ];
        records.reverse(); // any order
        let events = [
            ring_event(&origin, 0, &[A, B], &[A, B], &[]),
            ring_event(&origin, 3000, &[A], &[], &[B]),
            ring_event(&origin, 5000, &[A, B], &[B], &[]),
        ];
        let markers = [
            FaultMarker::at(at(&origin, 1000), "kill B", MarkerKind::Fault, vec![B.to_string()]),
            FaultMarker::at(at(&origin, 2990), "B's znode gone", MarkerKind::ZnodeRemoved, vec![B.to_string()]),
            FaultMarker::at(at(&origin, 4000), "restart B", MarkerKind::Heal, vec![B.to_string()]),
            FaultMarker::at(at(&origin, 4990), "B's znode back", MarkerKind::ZnodeAdded, vec![B.to_string()]),
        ];
        Report::compute(records.into_iter().map(Ok), &events, &markers, origin).unwrap()
    }

    #[test]
    fn windows_moves_losses_and_lags() {
        let report = story();
        assert_eq!((report.ops, report.failed, report.timeouts, report.keys), (13, 3, 1, 2));
        let b = report.nodes.iter().find(|n| n.node == B).unwrap();
        assert!(b.faulted);
        assert_eq!((b.ops, b.failed, b.errors, b.timeouts, b.refused), (9, 3, 1, 1, 1));
        assert_eq!(
            b.unavailable,
            [Window { from_ms: 1000.0, to_ms: 3000.0, ended_by: WindowEnd::Removed, failed_ops: 3 }]
        );
        assert_eq!(b.unavailable_ms, 2000.0);
        assert_eq!((b.keys_moved_away, b.keys_moved_back, b.misses_after_return), (1, 1, 2));
        assert_eq!((b.lost_values, b.stale_values), (1, 0));
        let a = report.nodes.iter().find(|n| n.node == A).unwrap();
        assert!(!a.faulted);
        assert_eq!((a.failed, a.unavailable_ms, a.keys_moved_away, a.lost_values), (0, 0.0, 1, 1));
        assert_eq!((report.lost_values, report.lost_values_on_unfaulted_nodes), (2, 1));
        assert_eq!((report.keys_affected, report.keys_affected_share), (2, 1.0));
        let lags: Vec<(MarkerKind, Option<f64>)> = report.ring_lags.iter().map(|l| (l.kind, l.lag_ms)).collect();
        assert_eq!(lags.len(), 2);
        assert_eq!(lags[0].0, MarkerKind::ZnodeRemoved);
        assert!((lags[0].1.unwrap() - 10.0).abs() < 0.01, "{lags:?}");
        assert!((lags[1].1.unwrap() - 10.0).abs() < 0.01, "{lags:?}");
    }

    #[test]
    fn phases_split_at_the_first_fault_and_the_last_heal() {
        let report = story();
        let phases: Vec<(&str, u64, u64)> = report.phases.iter().map(|p| (p.name.as_str(), p.ops, p.failed)).collect();
        assert_eq!(phases, [("before", 3, 0), ("during", 6, 3), ("after", 4, 0)]);
        assert_eq!(report.phases[1].max_us, 500_000);
        // latencies 101, 103, 105, 106, 106, 500000: the nearest rank of 50 % is the 3rd
        assert_eq!(report.phases[1].p50_us, 105);
        assert_eq!(report.phases[0].availability, 1.0);
        assert_eq!(report.phases[1].availability, 0.5);
    }

    #[test]
    fn a_window_that_never_ends_runs_to_the_end() {
        let origin = Moment::now();
        let records = [
            op(0.0, "k", A, Op::Get, Outcome::Miss, None),
            op(100.0, "k", A, Op::Get, Outcome::Timeout, None),
            op(200.0, "k", A, Op::Get, Outcome::Refused, None),
        ];
        let report = Report::compute(records.into_iter().map(Ok), &[], &[], origin).unwrap();
        let a = &report.nodes[0];
        assert_eq!(a.unavailable.len(), 1);
        assert_eq!((a.unavailable[0].from_ms, a.unavailable[0].ended_by), (100.0, WindowEnd::End));
        // the timed-out operation ended 500 ms after it was issued
        assert_eq!(report.duration_ms, 600.0);
        assert_eq!(a.unavailable[0].to_ms, 600.0);
        assert_eq!(report.phases.len(), 1);
    }

    #[test]
    fn bounds_name_the_bound_the_node_and_the_figures() {
        let report = story();
        assert_eq!(check(&report, &Bounds::default()), []);
        let bounds = Bounds {
            max_unavailable: Some(Duration::from_millis(1500)),
            min_unavailable: Some(Duration::from_secs(1)),
            max_failed_ops: Some(3),
            min_failed_ops: Some(1),
            max_timeouts: Some(0),
            max_lost_values: Some(2),
            max_lost_values_on_unfaulted_nodes: Some(0),
            max_ring_lag: Some(Duration::from_millis(5)),
            max_keys_affected_share: Some(0.5),
            min_availability: Some(0.9),
        };
        let violations = check(&report, &bounds);
        let named: Vec<(&str, Option<&str>)> =
            violations.iter().map(|v| (v.bound.as_str(), v.node.as_deref())).collect();
        assert_eq!(
            named,
            [
                ("max_unavailable", Some(B)),
                ("max_timeouts", None),
                ("max_lost_values_on_unfaulted_nodes", Some(A)),
                ("max_ring_lag", Some(B)),
                ("max_ring_lag", Some(B)),
                ("max_keys_affected_share", None),
                ("min_availability", None),
            ]
        );
        assert_eq!(
            violations[0].message,
            format!("max_unavailable: node {B} was unavailable 2.00 s (1 windows, 3 failed operations), above the bound 1.50 s")
        );
        let low = check(
            &report,
            &Bounds { min_failed_ops: Some(4), min_unavailable: Some(Duration::from_secs(3)), ..Bounds::default() },
        );
        assert_eq!(low.iter().map(|v| v.bound.as_str()).collect::<Vec<_>>(), ["min_unavailable", "min_failed_ops"]);
    }

    #[test]
    fn bounds_read_durations_as_text_or_milliseconds() {
        let bounds: Bounds =
            serde_json::from_str(r#"{"max_unavailable": "12s", "max_ring_lag": 250, "max_failed_ops": 0}"#).unwrap();
        assert_eq!(bounds.max_unavailable, Some(Duration::from_secs(12)));
        assert_eq!(bounds.max_ring_lag, Some(Duration::from_millis(250)));
        assert_eq!(bounds.max_failed_ops, Some(0));
        assert!(serde_json::from_str::<Bounds>(r#"{"max_unavailabel": "12s"}"#).is_err());
        assert!(serde_json::from_str::<Bounds>(r#"{"max_unavailable": "twelve"}"#).is_err());
    }

    #[test]
    fn records_round_trip_through_a_line() {
        let line = r#"{"t_ms":1.588,"wall_ms":1796411312580,"key":"lab:285","node":"127.0.0.1:44465","op":"get","outcome":"miss","latency_us":705,"check":"moved"}"#;
        let record: Record = serde_json::from_str(line).unwrap();
        assert_eq!(record.check, Some(ReadCheck::Moved));
        assert_eq!(serde_json::to_string(&record).unwrap(), line);
        let unrouted: Record = serde_json::from_str(
            r#"{"t_ms":0.0,"wall_ms":1,"key":"k","node":null,"op":"set","outcome":"refused","latency_us":0}"#,
        )
        .unwrap();
        assert_eq!((unrouted.node, unrouted.check), (None, None));
    }
}
