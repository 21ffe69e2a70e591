//! A bounded traffic generator through a [`View`]: gets and sets at a fixed rate over a key space,
//! routed by the view's current ring, over one pipelined memcached text-protocol connection per
//! node (reconnecting about 1 s after a node fails, as the Java client does; an operation for a node
//! without a connection fails at once as `refused`). Every operation becomes one record, streamed
//! by one writer thread to `client.jsonl` in batches. Values carry a per-key version so a read that
//! returns an older value, or nothing, for a key last stored on the same node is seen as lost.

use std::io::Write;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::time::Moment;
use crate::{ClientError, View};

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
    /// A miss or an older value from the node the key was last stored on: that node lost it.
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
        let _ = (view, spec, sink);
        todo!()
    }
}

/// A running load: stop it, or wait for its duration to end.
pub struct LoadHandle {
    started: Moment,
}

impl LoadHandle {
    /// When the load started: the origin of the records' `t_ms`.
    pub fn started(&self) -> Moment {
        self.started
    }

    /// Stops issuing, lets the operations in flight end (each within its timeout), flushes the
    /// records and returns the totals.
    pub async fn stop(self) -> Result<Totals, ClientError> {
        todo!()
    }

    /// Waits until the spec's duration has passed, then stops as [`stop`](Self::stop) does. A
    /// load without a duration is stopped at once.
    pub async fn finish(self) -> Result<Totals, ClientError> {
        todo!()
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
