//! The client view: a ZooKeeper session that follows one service's `cache_list` the way an Arcus
//! client library does (contract section 7): a 15 s session, the service check, an ephemeral
//! `client_list` entry, a watch on `cache_list/<svc>`'s children cut at the first `-`, and the
//! ketama ring kept current. Each ring change is a [`RingEvent`] with its moment and the nodes
//! added and removed.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::watch;

use crate::time::Moment;
use crate::{ClientError, Guard, Ring};

/// The session timeout an Arcus client asks for.
pub const SESSION_TIMEOUT: Duration = Duration::from_secs(15);

/// How to connect a [`View`].
#[derive(Debug, Clone)]
pub struct ViewConfig {
    /// The ensemble as a ZooKeeper connect string: `ip:port,ip:port,...`.
    pub ensemble: String,
    /// The service code (`ruo91-cloud`).
    pub service: String,
    /// The addresses that may be connected to; every ZooKeeper server is checked before the session.
    pub guard: Guard,
    /// The session timeout asked for (default 15 s; ZooKeeper clamps it to its own bounds).
    pub session_timeout: Duration,
    /// The `<pool>` field of the client_list entry (default 1).
    pub pool: u32,
    /// The `<lang>` field of the client_list entry (default `rust`).
    pub lang: String,
    /// The `<version>` field of the client_list entry (default this crate's version).
    pub version: String,
}

impl ViewConfig {
    /// A config with the defaults: 15 s session, pool 1, lang `rust`, this crate's version.
    pub fn new(ensemble: impl Into<String>, service: impl Into<String>, guard: Guard) -> ViewConfig {
        ViewConfig {
            ensemble: ensemble.into(),
            service: service.into(),
            guard,
            session_timeout: SESSION_TIMEOUT,
            pool: 1,
            lang: "rust".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }
}

/// One change of the ring (the first one is the initial read of `cache_list`, all nodes added).
#[derive(Debug, Clone, Serialize)]
pub struct RingEvent {
    /// When the new ring was in place (what the load routes by from then on).
    #[serde(skip)]
    pub at: Moment,
    /// `at` on the wall clock, ms since the Unix epoch.
    pub wall_ms: u64,
    /// When the watch fired (or the session re-read the list) that led to this change.
    #[serde(skip)]
    pub seen: Moment,
    /// The ring's nodes after the change (`ip:port`, sorted).
    pub nodes: Vec<String>,
    /// Nodes that joined the ring.
    pub added: Vec<String>,
    /// Nodes that left the ring.
    pub removed: Vec<String>,
}

/// A connected client view of one service. Dropping it ends the session (and so the client_list
/// entry); [`close`](Self::close) does the same and returns the ring's history.
pub struct View {
    ring: watch::Receiver<Arc<Ring>>,
    events: Arc<Mutex<Vec<RingEvent>>>,
    client_znode: String,
    guard: Guard,
    task: tokio::task::JoinHandle<()>,
    close: tokio::sync::oneshot::Sender<()>,
}

impl View {
    /// Connects to the ensemble (each server checked by the guard first), checks that the service
    /// exists, creates the client_list entry, reads `cache_list/<svc>` with a watch and starts
    /// following it. Returns once the first ring is in place.
    pub async fn connect(config: ViewConfig) -> Result<View, ClientError> {
        let _ = config;
        todo!()
    }

    /// The current ring.
    pub fn ring(&self) -> Arc<Ring> {
        self.ring.borrow().clone()
    }

    /// A receiver that sees every new ring (what the load routes by).
    pub fn subscribe(&self) -> watch::Receiver<Arc<Ring>> {
        self.ring.clone()
    }

    /// The ring changes so far, the initial read first.
    pub fn events(&self) -> Vec<RingEvent> {
        self.events.lock().unwrap().clone()
    }

    /// The full path of this client's ephemeral client_list entry.
    pub fn client_znode(&self) -> &str {
        &self.client_znode
    }

    /// The guard this view was made with (the load checks the nodes with it).
    pub fn guard(&self) -> &Guard {
        &self.guard
    }

    /// Waits until the ring has exactly `count` nodes, within `deadline`.
    pub async fn wait_for_nodes(&self, count: usize, deadline: Duration) -> Result<Arc<Ring>, ClientError> {
        self.wait_for(&format!("{count} nodes on the ring"), deadline, |ring| ring.nodes().len() == count).await
    }

    /// Waits until `holds` is true of the ring, within `deadline`; `what` names the condition in
    /// the timeout error.
    pub async fn wait_for(
        &self,
        what: &str,
        deadline: Duration,
        holds: impl Fn(&Ring) -> bool,
    ) -> Result<Arc<Ring>, ClientError> {
        let mut rx = self.ring.clone();
        let waited = tokio::time::timeout(deadline, async {
            loop {
                let ring = rx.borrow_and_update().clone();
                if holds(&ring) {
                    return Some(ring);
                }
                if rx.changed().await.is_err() {
                    return None;
                }
            }
        })
        .await;
        match waited {
            Ok(Some(ring)) => Ok(ring),
            _ => Err(ClientError::Timeout { what: what.to_string(), after: deadline }),
        }
    }

    /// Ends the session (its client_list entry goes with it) and returns the ring's history.
    pub async fn close(self) -> Vec<RingEvent> {
        let _ = (&self.task, &self.close);
        todo!()
    }
}
