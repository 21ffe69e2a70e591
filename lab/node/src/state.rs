//! State shared by the connections, the cluster task and the heartbeat: the store, counters,
//! settings fixed at start, the ZooKeeper status that admin commands read, and the stop signal.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use tokio::sync::{mpsc, oneshot, watch};

use crate::store::Store;

pub const VERSION: &str = "1.15.0-ref";

/// Settings fixed at start (from the command line).
pub struct Settings {
    pub port: i32,
    pub max_conns: usize,
    pub threads: usize,
    pub item_max: usize,
    pub unknown_reply: &'static [u8],
    pub delimiter: String,
    pub backlog: i32,
}

/// memcached's command counters.
#[derive(Default)]
pub struct Counters {
    pub cmd_get: AtomicU64,
    pub get_hits: AtomicU64,
    pub get_misses: AtomicU64,
    pub cmd_set: AtomicU64,
    pub cmd_flush: AtomicU64,
    pub cmd_touch: AtomicU64,
    pub touch_hits: AtomicU64,
    pub touch_misses: AtomicU64,
    pub delete_hits: AtomicU64,
    pub delete_misses: AtomicU64,
    pub incr_hits: AtomicU64,
    pub incr_misses: AtomicU64,
    pub decr_hits: AtomicU64,
    pub decr_misses: AtomicU64,
    pub cas_hits: AtomicU64,
    pub cas_misses: AtomicU64,
    pub cas_badval: AtomicU64,
    pub curr_conns: AtomicUsize,
    pub total_conns: AtomicU64,
    pub rejected_conns: AtomicU64,
    pub hb_count: AtomicU64,
    pub hb_latency_ms: AtomicU64,
}

pub fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

/// A request from a connection to the cluster task, answered with the reply bytes.
#[derive(Debug)]
pub enum ClusterRequest {
    Rejoin,
    SetEnsemble(String),
}

/// What admin commands see of the ZooKeeper side (only with `-z`).
pub struct ZkStatus {
    pub ready: AtomicBool,
    /// a session handle exists (true through an ensemble outage)
    pub connected: AtomicBool,
    pub failstop: AtomicBool,
    pub timeout_ms: AtomicU64,
    /// false while paused (after expiry with failstop off or the znode deleted)
    pub ensemble: Mutex<String>,
    pub requests: mpsc::Sender<(ClusterRequest, oneshot::Sender<Vec<u8>>)>,
}

/// Why the node stops gracefully.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    Signal(&'static str),
    /// `shutdown <secs>`: drain for up to this many seconds
    Command(u64),
    Heartbeat,
}

pub struct State {
    pub store: Store,
    /// the collection size limits `config` changes
    pub coll_limits: crate::coll::Limits,
    pub counters: Counters,
    pub settings: Settings,
    pub verbosity: AtomicU8,
    pub started: Instant,
    pub zk: Option<ZkStatus>,
    /// true once commands may be answered (joined, or no `-z`)
    pub serving: watch::Sender<bool>,
    pub stop: watch::Sender<Option<Stop>>,
}

impl State {
    pub fn ready(&self) -> bool {
        self.zk.as_ref().is_none_or(|zk| zk.ready.load(Ordering::Relaxed))
    }

    /// Asks for a graceful stop; false if one is already under way.
    pub fn request_stop(&self, why: Stop) -> bool {
        self.stop.send_if_modified(|s| {
            if s.is_some() {
                return false;
            }
            *s = Some(why);
            true
        })
    }
}
