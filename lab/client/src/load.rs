//! A bounded traffic generator through a [`View`]: gets and sets at a fixed rate over a key space,
//! routed by the view's current ring, over one pipelined memcached text-protocol connection per
//! node (reconnecting about 1 s after a node fails, as the Java client does; an operation for a node
//! without a connection fails at once as `refused`). Every operation becomes one record, streamed
//! by one writer thread to `client.jsonl` in batches. Values carry a per-key version so a read that
//! returns an older value, or nothing, for a key last stored on the same node is seen as lost.

use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio::time::MissedTickBehavior;

use crate::memcache::{encode_get, encode_set, parse_get, parse_set, Desync, Reply, VERSION_BYTES};
use crate::ring::key_hash;
use crate::time::Moment;
use crate::{ClientError, Guard, Ring, View};

/// What a load does. Every field has a default ([`LoadSpec::default`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LoadSpec {
    /// Operations per second (default 1000).
    pub rate: u32,
    /// Keys in the key space (default 1000): `<prefix>0` .. `<prefix><keys-1>`.
    pub keys: u32,
    /// The keys' prefix (default `lab:`).
    pub key_prefix: String,
    /// Share of operations that are gets, 0.0..=1.0 (default 0.5; the rest are sets).
    pub get_ratio: f64,
    /// Bytes per value (default 100; at least 16, which carry the value's version).
    pub value_size: usize,
    /// How long an operation may take before it counts as `timeout` (default 500 ms).
    #[serde(with = "millis")]
    pub timeout: Duration,
    /// How long the load runs (default: until stopped).
    #[serde(with = "opt_millis")]
    pub duration: Option<Duration>,
    /// Delay before reconnecting to a node whose connection failed (default 1 s, the Java client's).
    #[serde(with = "millis")]
    pub reconnect_after: Duration,
    /// Seed of the key and operation choice (default 1): the same seed, the same sequence.
    pub seed: u64,
}

impl Default for LoadSpec {
    fn default() -> LoadSpec {
        LoadSpec {
            rate: 1000,
            keys: 1000,
            key_prefix: "lab:".to_string(),
            get_ratio: 0.5,
            value_size: 100,
            timeout: Duration::from_millis(500),
            duration: None,
            reconnect_after: Duration::from_secs(1),
            seed: 1,
        }
    }
}

/// An operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Op {
    Get,
    Set,
}

/// How an operation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// A get that returned a value.
    Hit,
    /// A get that returned nothing.
    Miss,
    /// A set the node stored.
    Stored,
    /// A reply that is not success (`SERVER_ERROR`, `NOT_STORED`, ...), a connection that broke
    /// with the operation in flight, or an operation cancelled because its node left the ring.
    Error,
    /// No reply within the spec's timeout.
    Timeout,
    /// No connection to the node (or no node on the ring): failed at once.
    Refused,
}

impl Outcome {
    /// Whether the operation failed (error, timeout or refused).
    pub fn failed(self) -> bool {
        matches!(self, Outcome::Error | Outcome::Timeout | Outcome::Refused)
    }
}

/// What a get's reply says about the key's last stored value (absent for sets, and for gets of
/// keys never stored).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReadCheck {
    /// The last stored value, or a newer one in flight.
    Current,
    /// A miss or an older value from the node the key was last stored on: that node lost it. This
    /// includes an acknowledged value overwritten later by an older set that had timed out (a frozen
    /// node applies what waited in its socket when it resumes): the client lost it all the same.
    Lost,
    /// A miss from a node other than the one the key was last stored on (the key moved).
    Moved,
    /// An older value from a node other than the one the key was last stored on (the key moved
    /// away and back, and this node kept what it had).
    Stale,
}

/// The counts of a load, returned by [`LoadHandle::stop`].
#[derive(Debug, Clone, Serialize)]
pub struct Totals {
    /// When the load started: the origin of the records' `t_ms`.
    #[serde(skip)]
    pub started: Moment,
    /// From start to the last operation's end.
    pub elapsed: Duration,
    /// Operations recorded.
    pub ops: u64,
    pub hits: u64,
    pub misses: u64,
    pub stored: u64,
    pub errors: u64,
    pub timeouts: u64,
    pub refused: u64,
    /// Gets whose check was `lost`.
    pub lost: u64,
    /// Operations per second over `elapsed`.
    pub ops_per_sec: f64,
    /// Operations the generator could not issue on time (the rate was more than it could do).
    pub behind: u64,
    /// Nodes the guard refused (each named with its address); their operations were `refused`.
    pub guard_refused: Vec<String>,
}

/// A load being generated.
pub struct Load;

impl Load {
    /// Starts a load through `view` (its ring, followed as it changes), writing one JSON line per
    /// operation to `sink` (from a thread of its own, in batches). Must be called within a tokio
    /// runtime.
    pub fn start(view: &View, spec: LoadSpec, sink: impl Write + Send + 'static) -> Result<LoadHandle, ClientError> {
        spec.validate()?;
        let started = Moment::now();
        let names = Arc::new(RwLock::new(Vec::new()));
        let (records, batches) = std_mpsc::channel::<Vec<Raw>>();
        let writer = RecordWriter::new(&spec, started, names.clone())?;
        let writer = std::thread::Builder::new()
            .name("client-records".to_string())
            .spawn(move || writer.run(sink, batches))
            .map_err(|source| ClientError::Io { what: "start the record writer thread".to_string(), source })?;
        let shared = Arc::new(Shared {
            prefix: spec.key_prefix.as_bytes().to_vec(),
            filler: vec![b'x'; spec.value_size - VERSION_BYTES],
            last_stored: (0..spec.keys).map(|_| AtomicU64::new(0)).collect(),
            spec,
            started,
            guard: view.guard().clone(),
        });
        let duration = shared.spec.duration;
        let (stop_tx, stop_rx) = watch::channel(false);
        let generator = Generator::new(shared, view.subscribe(), names, records);
        let task = tokio::spawn(generator.run(stop_rx));
        Ok(LoadHandle { started, stop: stop_tx, task, writer, duration })
    }
}

/// A running load: stop it, or wait for its duration to end.
pub struct LoadHandle {
    started: Moment,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<GeneratorEnd>,
    writer: std::thread::JoinHandle<std::io::Result<Counts>>,
    duration: Option<Duration>,
}

impl LoadHandle {
    /// When the load started: the origin of the records' `t_ms`.
    pub fn started(&self) -> Moment {
        self.started
    }

    /// Stops issuing, lets the operations in flight end (each within its timeout), flushes the
    /// records and returns the totals.
    pub async fn stop(self) -> Result<Totals, ClientError> {
        let _ = self.stop.send(true);
        let end = self.task.await.map_err(|e| ClientError::Io {
            what: "the load's generator task".to_string(),
            source: std::io::Error::other(e.to_string()),
        })?;
        let writer = self.writer;
        let counts = tokio::task::spawn_blocking(move || writer.join())
            .await
            .ok()
            .and_then(|joined| joined.ok())
            .ok_or_else(|| ClientError::Io {
                what: "the record writer thread".to_string(),
                source: std::io::Error::other("it panicked"),
            })?
            .map_err(|source| ClientError::Io { what: "write the records".to_string(), source })?;
        let elapsed = counts.last_end.max(Duration::from_micros(1));
        Ok(Totals {
            started: self.started,
            elapsed,
            ops: counts.ops,
            hits: counts.by_outcome[Outcome::Hit as usize],
            misses: counts.by_outcome[Outcome::Miss as usize],
            stored: counts.by_outcome[Outcome::Stored as usize],
            errors: counts.by_outcome[Outcome::Error as usize],
            timeouts: counts.by_outcome[Outcome::Timeout as usize],
            refused: counts.by_outcome[Outcome::Refused as usize],
            lost: counts.lost,
            ops_per_sec: counts.ops as f64 / elapsed.as_secs_f64(),
            behind: end.behind,
            guard_refused: end.guard_refused,
        })
    }

    /// Waits until the spec's duration has passed, then stops as [`stop`](Self::stop) does. A
    /// load without a duration is stopped at once.
    pub async fn finish(self) -> Result<Totals, ClientError> {
        // The generator stops issuing by itself once the duration has passed.
        let mut stop = self.stop.subscribe();
        if let Some(duration) = self.duration {
            let until = self.started.instant + duration;
            let _ = tokio::time::timeout_at(until.into(), stop.wait_for(|s| *s)).await;
        }
        self.stop().await
    }
}

impl LoadSpec {
    fn validate(&self) -> Result<(), ClientError> {
        let bad = |what: String| Err(ClientError::BadSpec(what));
        if self.rate == 0 {
            return bad("rate must be at least 1 operation per second".to_string());
        }
        if self.keys == 0 {
            return bad("keys must be at least 1".to_string());
        }
        if self.value_size < VERSION_BYTES {
            return bad(format!(
                "value_size {} is below {VERSION_BYTES}, the bytes of a value's version",
                self.value_size
            ));
        }
        if !(0.0..=1.0).contains(&self.get_ratio) {
            return bad(format!("get_ratio {} is not within 0..=1", self.get_ratio));
        }
        if self.key_prefix.bytes().any(|b| b <= b' ' || b == 0x7f) || self.key_prefix.len() > 200 {
            return bad(format!("key_prefix {:?} has a space or control character, or is too long", self.key_prefix));
        }
        if self.timeout.is_zero() {
            return bad("timeout must be above 0".to_string());
        }
        Ok(())
    }
}

/// What every task of a load reads.
struct Shared {
    spec: LoadSpec,
    started: Moment,
    guard: Guard,
    prefix: Vec<u8>,
    filler: Vec<u8>,
    /// Per key: the last version a node acknowledged, and which node (`version << 16 | node id`;
    /// 0 = never stored).
    last_stored: Vec<AtomicU64>,
}

impl Shared {
    fn us_since_start(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.started.instant).as_micros() as u64
    }

    /// Records a store of `version` of `key` on `node` unless a newer one was recorded.
    fn stored(&self, key: u32, version: u64, node: u16) {
        let packed = (version << 16) | node as u64;
        self.last_stored[key as usize].fetch_max(packed, Ordering::AcqRel);
    }
}

/// The node id of records with no node (an empty ring).
const NO_NODE: u16 = u16::MAX;

/// One record as the tasks make it (24 bytes); the writer turns it into a JSON line.
#[derive(Debug, Clone, Copy)]
struct Raw {
    t_us: u64,
    latency_us: u32,
    key: u32,
    node: u16,
    op: Op,
    outcome: Outcome,
    check: Option<ReadCheck>,
}

/// Records kept by a task until there are enough for a batch.
struct Batch {
    raws: Vec<Raw>,
    to: std_mpsc::Sender<Vec<Raw>>,
}

impl Batch {
    const SIZE: usize = 512;

    fn new(to: std_mpsc::Sender<Vec<Raw>>) -> Batch {
        Batch { raws: Vec::with_capacity(Batch::SIZE), to }
    }

    fn push(&mut self, raw: Raw) {
        self.raws.push(raw);
        if self.raws.len() >= Batch::SIZE {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if !self.raws.is_empty() {
            let full = std::mem::replace(&mut self.raws, Vec::with_capacity(Batch::SIZE));
            let _ = self.to.send(full);
        }
    }
}

impl Drop for Batch {
    fn drop(&mut self) {
        self.flush();
    }
}

/// One request on its way to a node.
#[derive(Debug, Clone, Copy)]
struct Request {
    key: u32,
    op: Op,
    /// The version a set writes.
    version: u64,
    /// For a get: `last_stored` of the key when it was issued.
    expected: u64,
    issued: Instant,
}

/// What the generator tells a node's connection.
enum ToNode {
    Requests(Vec<Request>),
    /// The node left the ring: fail what is queued (as a client library cancels it) and end.
    Cancel,
    /// The load stops: let what is in flight end, then end.
    Drain,
}

/// The generator's side of one node's connection.
struct NodeLink {
    /// Connected (or connecting for the first time): requests go to the node; else they are
    /// refused at once.
    up: Arc<AtomicBool>,
    to: Option<mpsc::UnboundedSender<ToNode>>,
    queued: Vec<Request>,
}

/// What the generator hands back when it ends.
struct GeneratorEnd {
    behind: u64,
    guard_refused: Vec<String>,
}

/// The task that issues operations at the spec's rate and routes them by the ring.
struct Generator {
    shared: Arc<Shared>,
    ring: watch::Receiver<Arc<Ring>>,
    names: Arc<RwLock<Vec<Arc<str>>>>,
    ids: HashMap<Arc<str>, u16>,
    links: HashMap<u16, NodeLink>,
    /// Ring index → node id, for the current ring.
    route: Vec<u16>,
    /// Per key: its hash on the ring, computed once.
    hashes: Vec<u32>,
    next_version: Vec<u64>,
    batch: Batch,
    records: std_mpsc::Sender<Vec<Raw>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    guard_refused: Vec<String>,
}

impl Generator {
    fn new(
        shared: Arc<Shared>,
        ring: watch::Receiver<Arc<Ring>>,
        names: Arc<RwLock<Vec<Arc<str>>>>,
        records: std_mpsc::Sender<Vec<Raw>>,
    ) -> Generator {
        let hashes =
            (0..shared.spec.keys).map(|k| key_hash(format!("{}{k}", shared.spec.key_prefix).as_bytes())).collect();
        let next_version = vec![1; shared.spec.keys as usize];
        Generator {
            batch: Batch::new(records.clone()),
            records,
            shared,
            ring,
            names,
            ids: HashMap::new(),
            links: HashMap::new(),
            route: Vec::new(),
            hashes,
            next_version,
            tasks: Vec::new(),
            guard_refused: Vec::new(),
        }
    }

    async fn run(mut self, mut stop: watch::Receiver<bool>) -> GeneratorEnd {
        let spec = self.shared.spec.clone();
        let mut rng = fastrand::Rng::with_seed(spec.seed);
        let mut ring = self.ring.borrow_and_update().clone();
        self.follow(&ring);
        let mut tick = tokio::time::interval(Duration::from_millis(1));
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let started = self.shared.started.instant;
        let end = spec.duration.map(|d| started + d);
        // At most 100 ms of operations at once: a generator further behind skips them.
        let max_burst = (spec.rate as u64 / 10).max(1);
        let (mut issued, mut behind) = (0u64, 0u64);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.wait_for(|s| *s) => break,
            }
            let now = Instant::now();
            if end.is_some_and(|end| now >= end) {
                break;
            }
            if self.ring.has_changed().unwrap_or(false) {
                ring = self.ring.borrow_and_update().clone();
                self.follow(&ring);
            }
            let due = ((now - started).as_secs_f64() * spec.rate as f64) as u64;
            if due > issued + max_burst {
                behind += due - issued - max_burst;
                issued = due - max_burst;
            }
            while issued < due {
                issued += 1;
                let key = rng.u32(0..spec.keys);
                let op = if rng.f64() < spec.get_ratio { Op::Get } else { Op::Set };
                self.issue(&ring, key, op, now);
            }
            self.send_queued();
        }
        self.batch.flush();
        for link in self.links.values_mut() {
            if let Some(to) = link.to.take() {
                let _ = to.send(ToNode::Drain);
            }
        }
        for task in self.tasks.drain(..) {
            let _ = task.await;
        }
        drop(self.records);
        GeneratorEnd { behind, guard_refused: self.guard_refused }
    }

    /// Routes one operation: to its node's queue, or refused at once.
    fn issue(&mut self, ring: &Ring, key: u32, op: Op, now: Instant) {
        let version = match op {
            Op::Set => {
                let v = &mut self.next_version[key as usize];
                *v += 1;
                *v - 1
            }
            Op::Get => 0,
        };
        let expected = match op {
            Op::Get => self.shared.last_stored[key as usize].load(Ordering::Acquire),
            Op::Set => 0,
        };
        let request = Request { key, op, version, expected, issued: now };
        let node = ring.index_for_hash(self.hashes[key as usize]).map(|i| self.route[i]);
        match node.and_then(|n| self.links.get_mut(&n)) {
            Some(link) if link.up.load(Ordering::Acquire) && link.to.is_some() => link.queued.push(request),
            _ => self.batch.push(Raw {
                t_us: self.shared.us_since_start(now),
                latency_us: 0,
                key,
                node: node.unwrap_or(NO_NODE),
                op,
                outcome: Outcome::Refused,
                check: None,
            }),
        }
    }

    fn send_queued(&mut self) {
        for link in self.links.values_mut() {
            if link.queued.is_empty() {
                continue;
            }
            let requests = std::mem::take(&mut link.queued);
            if let Some(to) = &link.to {
                let _ = to.send(ToNode::Requests(requests));
            }
        }
    }

    /// Makes the links match `ring`: a connection for each new node, a cancel for each gone one.
    fn follow(&mut self, ring: &Ring) {
        self.route.clear();
        for node in ring.nodes() {
            let id = self.id_of(node);
            self.route.push(id);
            if !self.links.contains_key(&id) {
                let link = self.connect(node.clone(), id);
                self.links.insert(id, link);
            }
        }
        let gone: Vec<u16> = self.links.keys().copied().filter(|id| !self.route.contains(id)).collect();
        for id in gone {
            if let Some(mut link) = self.links.remove(&id) {
                let queued = std::mem::take(&mut link.queued);
                if let Some(to) = link.to.take() {
                    if !queued.is_empty() {
                        let _ = to.send(ToNode::Requests(queued));
                    }
                    let _ = to.send(ToNode::Cancel);
                }
            }
        }
    }

    fn id_of(&mut self, node: &Arc<str>) -> u16 {
        if let Some(id) = self.ids.get(node) {
            return *id;
        }
        let mut names = self.names.write().unwrap();
        let id = names.len() as u16;
        names.push(node.clone());
        self.ids.insert(node.clone(), id);
        id
    }

    /// A link to `node`, its connection task started unless the guard refuses the address.
    fn connect(&mut self, node: Arc<str>, id: u16) -> NodeLink {
        // Requests queue for the first connection attempt (as a client library's do while it
        // connects to a new node); after a failure they are refused until a connection is up.
        let up = Arc::new(AtomicBool::new(true));
        let checked = node
            .parse::<SocketAddr>()
            .map_err(|e| format!("{node}: not ip:port ({e})"))
            .and_then(|addr| self.shared.guard.check("cache node", addr).map(|_| addr).map_err(|e| e.to_string()));
        let addr = match checked {
            Ok(addr) => addr,
            Err(refused) => {
                up.store(false, Ordering::Release);
                self.guard_refused.push(refused);
                return NodeLink { up, to: None, queued: Vec::new() };
            }
        };
        let (to, from) = mpsc::unbounded_channel();
        let conn = Connection {
            shared: self.shared.clone(),
            node: id,
            addr,
            up: up.clone(),
            batch: Batch::new(self.records.clone()),
            pending: VecDeque::new(),
            write: Vec::with_capacity(64 * 1024),
            read: Vec::with_capacity(64 * 1024),
            draining: false,
        };
        self.tasks.push(tokio::spawn(conn.run(from)));
        NodeLink { up, to: Some(to), queued: Vec::new() }
    }
}

/// A request sent and not answered yet.
struct Pending {
    request: Request,
    /// Already recorded as timed out (its reply, when it comes, is only consumed).
    timed_out: bool,
}

/// Consecutive timeouts after which a connection is dropped and made again (the Java client's
/// `timeoutExceptionThreshold`).
const TIMEOUTS_BEFORE_RECONNECT: u32 = 10;
/// How long a connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// How often a connection looks for timed-out requests and hands its records over.
const SWEEP: Duration = Duration::from_millis(10);
/// A connection with more requests in flight fails the newest at once (a node that stopped reading).
const MAX_PENDING: usize = 1 << 16;

/// One node's connection task: sends the generator's requests pipelined, matches the replies,
/// records every operation; reconnects after a failure.
struct Connection {
    shared: Arc<Shared>,
    node: u16,
    addr: SocketAddr,
    up: Arc<AtomicBool>,
    batch: Batch,
    pending: VecDeque<Pending>,
    write: Vec<u8>,
    read: Vec<u8>,
    /// The load stops: no new requests, end once the pending ones have their records.
    draining: bool,
}

/// Why a connection's session ended.
enum SessionEnd {
    /// The stream failed or desynchronised: reconnect.
    Broken,
    /// Cancelled or drained: the task ends.
    Done,
}

impl Connection {
    async fn run(mut self, mut from: mpsc::UnboundedReceiver<ToNode>) {
        loop {
            let connected = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(self.addr)).await;
            if let Ok(Ok(stream)) = connected {
                let _ = stream.set_nodelay(true);
                self.up.store(true, Ordering::Release);
                let end = self.session(stream, &mut from).await;
                self.up.store(false, Ordering::Release);
                self.fail_pending(Outcome::Error);
                if matches!(end, SessionEnd::Done) || self.draining {
                    return;
                }
            }
            self.up.store(false, Ordering::Release);
            // Down: what still arrives is refused until the next attempt.
            let retry = tokio::time::sleep(self.shared.spec.reconnect_after);
            tokio::pin!(retry);
            loop {
                tokio::select! {
                    _ = &mut retry => break,
                    message = from.recv() => match message {
                        Some(ToNode::Requests(requests)) => {
                            for request in requests {
                                self.record(&request, Outcome::Refused, None, Instant::now());
                            }
                        }
                        Some(ToNode::Cancel) | Some(ToNode::Drain) | None => return,
                    },
                }
            }
            self.batch.flush();
        }
    }

    /// Serves one TCP connection until it breaks or the task is told to end.
    async fn session(&mut self, stream: TcpStream, from: &mut mpsc::UnboundedReceiver<ToNode>) -> SessionEnd {
        let (mut reader, mut writer) = stream.into_split();
        let mut sweep = tokio::time::interval(SWEEP);
        sweep.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut consecutive_timeouts = 0u32;
        let mut written = 0usize;
        loop {
            // Draining ends when every request has its record (timed-out ones wait for no reply).
            if self.draining && self.pending.iter().all(|p| p.timed_out) {
                return SessionEnd::Done;
            }
            tokio::select! {
                message = from.recv(), if !self.draining => match message {
                    Some(ToNode::Requests(requests)) => self.enqueue(requests),
                    Some(ToNode::Cancel) => {
                        self.fail_pending(Outcome::Error);
                        return SessionEnd::Done;
                    }
                    Some(ToNode::Drain) | None => self.draining = true,
                },
                n = writer.write(&self.write[written..]), if written < self.write.len() => match n {
                    Ok(0) | Err(_) => return SessionEnd::Broken,
                    Ok(n) => {
                        written += n;
                        if written == self.write.len() {
                            self.write.clear();
                            written = 0;
                        }
                    }
                },
                n = reader.read_buf(&mut self.read) => match n {
                    Ok(0) | Err(_) => return SessionEnd::Broken,
                    Ok(_) => match self.replies() {
                        Ok(answered) => if answered { consecutive_timeouts = 0 },
                        Err(_) => return SessionEnd::Broken,
                    },
                },
                _ = sweep.tick() => {
                    let now = Instant::now();
                    consecutive_timeouts += self.time_out(now);
                    self.batch.flush();
                    let stuck = self.pending.front().is_some_and(|p| {
                        now - p.request.issued > self.shared.spec.timeout.max(Duration::from_secs(1))
                    });
                    if consecutive_timeouts >= TIMEOUTS_BEFORE_RECONNECT && stuck {
                        return SessionEnd::Broken;
                    }
                }
            }
        }
    }

    fn enqueue(&mut self, requests: Vec<Request>) {
        for request in requests {
            if self.pending.len() >= MAX_PENDING {
                self.record(&request, Outcome::Error, None, Instant::now());
                continue;
            }
            match request.op {
                Op::Get => encode_get(&mut self.write, &self.shared.prefix, request.key),
                Op::Set => {
                    encode_set(&mut self.write, &self.shared.prefix, request.key, request.version, &self.shared.filler)
                }
            }
            self.pending.push_back(Pending { request, timed_out: false });
        }
    }

    /// Matches the complete replies in the read buffer to the pending requests; true when at
    /// least one was answered in time.
    fn replies(&mut self) -> Result<bool, Desync> {
        let now = Instant::now();
        let mut at = 0;
        let mut answered = false;
        while let Some(head) = self.pending.front() {
            let parsed = match head.request.op {
                Op::Get => parse_get(&self.read[at..])?,
                Op::Set => parse_set(&self.read[at..]),
            };
            let Some((reply, used)) = parsed else { break };
            at += used;
            let Pending { request, timed_out } = self.pending.pop_front().expect("a head");
            if timed_out {
                continue;
            }
            answered = true;
            let (outcome, check) = match (request.op, reply) {
                (Op::Set, Reply::Stored) => {
                    self.shared.stored(request.key, request.version, self.node);
                    (Outcome::Stored, None)
                }
                (Op::Get, Reply::Value(version)) => (Outcome::Hit, self.check(&request, version)),
                (Op::Get, Reply::Miss) => (Outcome::Miss, self.check(&request, None)),
                _ => (Outcome::Error, None),
            };
            self.record(&request, outcome, check, now);
        }
        if at == 0 && !self.pending.is_empty() && self.read.len() > 16 * 1024 * 1024 {
            return Err(Desync("16 MiB without a complete reply".to_string()));
        }
        self.read.drain(..at);
        if self.pending.is_empty() && !self.read.is_empty() {
            return Err(Desync("bytes with no request waiting".to_string()));
        }
        Ok(answered)
    }

    /// What a get's reply (`version`: the value's, None for a miss) says of the key's last stored
    /// value.
    fn check(&self, request: &Request, version: Option<u64>) -> Option<ReadCheck> {
        if request.expected == 0 {
            return None;
        }
        let (expected_version, stored_on) = (request.expected >> 16, (request.expected & 0xffff) as u16);
        Some(match version {
            Some(v) if v >= expected_version => ReadCheck::Current,
            _ if stored_on == self.node => ReadCheck::Lost,
            None => ReadCheck::Moved,
            Some(_) => ReadCheck::Stale,
        })
    }

    /// Records the pending requests older than the timeout as timed out; returns how many.
    fn time_out(&mut self, now: Instant) -> u32 {
        let timeout = self.shared.spec.timeout;
        let mut expired = Vec::new();
        for pending in self.pending.iter_mut() {
            if now - pending.request.issued < timeout {
                // Later requests were issued later (the queue is in issue order).
                break;
            }
            if !pending.timed_out {
                pending.timed_out = true;
                expired.push(pending.request);
            }
        }
        for request in &expired {
            self.record(request, Outcome::Timeout, None, request.issued + timeout);
        }
        expired.len() as u32
    }

    /// Records every pending request not recorded yet as `outcome`, and forgets them all.
    fn fail_pending(&mut self, outcome: Outcome) {
        let now = Instant::now();
        let pending = std::mem::take(&mut self.pending);
        for p in pending.iter().filter(|p| !p.timed_out) {
            self.record(&p.request, outcome, None, now);
        }
        self.write.clear();
        self.read.clear();
        self.batch.flush();
    }

    fn record(&mut self, request: &Request, outcome: Outcome, check: Option<ReadCheck>, end: Instant) {
        let latency = end.saturating_duration_since(request.issued).as_micros().min(u32::MAX as u128) as u32;
        self.batch.push(Raw {
            t_us: self.shared.us_since_start(request.issued),
            latency_us: latency,
            key: request.key,
            node: self.node,
            op: request.op,
            outcome,
            check,
        });
    }
}

/// The counts the writer keeps as it writes.
#[derive(Debug, Default)]
struct Counts {
    ops: u64,
    by_outcome: [u64; 6],
    lost: u64,
    /// The latest end of an operation, from the load's start.
    last_end: Duration,
}

/// The thread that turns records into `client.jsonl` lines.
struct RecordWriter {
    started: Moment,
    /// The key prefix, escaped for a JSON string.
    prefix: String,
    names: Arc<RwLock<Vec<Arc<str>>>>,
    /// Node names escaped for JSON, as a JSON value (`"ip:port"`), by node id.
    quoted: Vec<String>,
}

impl RecordWriter {
    fn new(spec: &LoadSpec, started: Moment, names: Arc<RwLock<Vec<Arc<str>>>>) -> Result<RecordWriter, ClientError> {
        let quoted =
            serde_json::to_string(&spec.key_prefix).map_err(|source| ClientError::Record { line: 0, source })?;
        let prefix = quoted[1..quoted.len() - 1].to_string();
        Ok(RecordWriter { started, prefix, names, quoted: Vec::new() })
    }

    fn run(mut self, sink: impl Write, batches: std_mpsc::Receiver<Vec<Raw>>) -> std::io::Result<Counts> {
        let mut out = std::io::BufWriter::with_capacity(256 * 1024, sink);
        let mut counts = Counts::default();
        let mut line = Vec::with_capacity(256);
        let start_wall_us = self.started.wall.duration_since(UNIX_EPOCH).map(|d| d.as_micros() as u64).unwrap_or(0);
        for batch in batches {
            for raw in batch {
                counts.ops += 1;
                counts.by_outcome[raw.outcome as usize] += 1;
                counts.lost += (raw.check == Some(ReadCheck::Lost)) as u64;
                counts.last_end = counts.last_end.max(Duration::from_micros(raw.t_us + raw.latency_us as u64));
                line.clear();
                self.line(&mut line, &raw, start_wall_us);
                out.write_all(&line)?;
            }
        }
        out.flush()?;
        Ok(counts)
    }

    fn line(&mut self, line: &mut Vec<u8>, raw: &Raw, start_wall_us: u64) {
        use std::io::Write as _;
        self.quote_names(raw.node);
        let node = if raw.node == NO_NODE { "null" } else { &self.quoted[raw.node as usize] };
        let _ = write!(
            line,
            r#"{{"t_ms":{}.{:03},"wall_ms":{},"key":"{}{}","node":{},"op":"{}","outcome":"{}","latency_us":{}"#,
            raw.t_us / 1000,
            raw.t_us % 1000,
            (start_wall_us + raw.t_us) / 1000,
            self.prefix,
            raw.key,
            node,
            raw.op.name(),
            raw.outcome.name(),
            raw.latency_us,
        );
        if let Some(check) = raw.check {
            let _ = write!(line, r#","check":"{}""#, check.name());
        }
        line.extend_from_slice(b"}\n");
    }

    /// Makes sure `quoted` has the name of `node` (and of every node before it).
    fn quote_names(&mut self, node: u16) {
        if node == NO_NODE {
            return;
        }
        while self.quoted.len() <= node as usize {
            let names = self.names.read().unwrap();
            let name = names.get(self.quoted.len()).map(|n| n.to_string()).unwrap_or_default();
            self.quoted.push(serde_json::to_string(&name).unwrap_or_else(|_| "null".to_string()));
        }
    }
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Get => "get",
            Op::Set => "set",
        }
    }
}

impl Outcome {
    /// The outcome as `client.jsonl` writes it.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Hit => "hit",
            Outcome::Miss => "miss",
            Outcome::Stored => "stored",
            Outcome::Error => "error",
            Outcome::Timeout => "timeout",
            Outcome::Refused => "refused",
        }
    }
}

impl ReadCheck {
    fn name(self) -> &'static str {
        match self {
            ReadCheck::Current => "current",
            ReadCheck::Lost => "lost",
            ReadCheck::Moved => "moved",
            ReadCheck::Stale => "stale",
        }
    }
}

/// Durations as integer milliseconds in specs (`timeout = 500`).
mod millis {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }
}

mod opt_millis {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&(d.as_millis() as u64)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Ok(Option::<u64>::deserialize(d)?.map(Duration::from_millis))
    }
}
