//! The client view in the lab: what an Arcus client of one service sees (crate `arcus-client`:
//! its ZooKeeper view, ketama ring and load), connected to the lab's ensemble and nodes through
//! the lab's address guard, with its records streamed to `client.jsonl`. Beside it, a watcher of
//! the same `cache_list` on a session of its own: each child it sees go or come is a znode marker,
//! from which the report measures the view's ring lag. The caller marks the faults and heals.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use arcus_client::{
    FaultMarker, Guard, Load, LoadHandle, LoadSpec, MarkerKind, Moment, RingEvent, Totals, View, ViewConfig,
};
use arcus_facts::znode::{self, NodeName};
use tokio::sync::oneshot;

use super::zk::{self, ZkSession};
use crate::lab::{HostName, Lab};

/// A running view and its load.
pub struct ClientRun {
    view: View,
    load: LoadHandle,
    watch: CacheListWatch,
    /// The faults and heals marked so far.
    markers: Vec<FaultMarker>,
    service: String,
    records: PathBuf,
}

/// What a stopped run leaves for its report.
pub struct ClientEnd {
    pub totals: Totals,
    /// The view's ring changes, its first read first.
    pub events: Vec<RingEvent>,
    /// The faults and heals, then the znode removals and additions the watcher saw.
    pub markers: Vec<FaultMarker>,
    /// `client.jsonl`.
    pub records: PathBuf,
}

/// The lab's guard as the client crate takes it.
pub fn guard(lab: &Lab) -> Guard {
    let guard = lab.guard();
    Guard::from_fn(move |ip| guard.check(ip).is_ok())
}

/// The ensemble as a connect string, `ip:2181,...`.
pub fn ensemble(lab: &Lab) -> String {
    zk::servers(lab).iter().map(|s| s.addr.to_string()).collect::<Vec<_>>().join(",")
}

/// A node's `ip:port`, as the ring names it.
pub fn node(lab: &Lab, host: HostName, port: u16) -> Result<String> {
    Ok(format!("{}:{port}", lab.host(host)?.ip))
}

impl ClientRun {
    /// Connects the view of `service` (its first ring read), starts the watcher and the load,
    /// whose records go to `records`; within `deadline` for the connections.
    pub async fn start(
        lab: &Lab,
        service: &str,
        spec: LoadSpec,
        records: &Path,
        deadline: Duration,
    ) -> Result<ClientRun> {
        let config = ViewConfig::new(ensemble(lab), service, guard(lab));
        let view = tokio::time::timeout(deadline, View::connect(config))
            .await
            .with_context(|| format!("the client view of {service} did not connect within {deadline:?}"))?
            .with_context(|| format!("connect the client view of {service}"))?;
        let watch = CacheListWatch::start(lab, service, deadline).await?;
        let sink = std::fs::File::create(records).with_context(|| format!("create {}", records.display()))?;
        let load = Load::start(&view, spec, sink).context("start the load")?;
        Ok(ClientRun { view, load, watch, markers: Vec::new(), service: service.to_string(), records: records.into() })
    }

    /// The service the view follows.
    pub fn service(&self) -> &str {
        &self.service
    }

    /// Notes a fault or heal that took effect now.
    pub fn mark(&mut self, marker: FaultMarker) {
        self.markers.push(marker);
    }

    /// Stops the load (the operations in flight end within their timeout), closes the view (its
    /// client_list entry goes with its session) and the watcher.
    pub async fn stop(self) -> Result<ClientEnd> {
        let totals = self.load.stop().await.context("stop the load")?;
        let events = self.view.close().await;
        let mut markers = self.markers;
        markers.extend(self.watch.stop().await);
        Ok(ClientEnd { totals, events, markers, records: self.records })
    }
}

/// A session of its own watching `cache_list/<svc>`: every child it sees go or come becomes a
/// znode marker at the moment the watch fired.
struct CacheListWatch {
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Vec<FaultMarker>>,
}

impl CacheListWatch {
    async fn start(lab: &Lab, service: &str, deadline: Duration) -> Result<CacheListWatch> {
        let session = ZkSession::connect(lab, deadline).await?;
        let path = znode::cache_list(service);
        let (children, watcher) = session.children_and_watch(&path).await?;
        let known = addresses(&children);
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(watch(session, path, known, watcher, stopped));
        Ok(CacheListWatch { stop, task })
    }

    async fn stop(self) -> Vec<FaultMarker> {
        let _ = self.stop.send(());
        self.task.await.unwrap_or_default()
    }
}

fn addresses(children: &[String]) -> BTreeSet<String> {
    children.iter().map(|c| NodeName::parse(c).addr.to_string()).collect()
}

/// Follows the children until stopped; a broken session is retried every 200 ms (the list read
/// again then is compared with the last one, so nothing is missed, only seen later).
async fn watch(
    session: ZkSession,
    path: String,
    mut known: BTreeSet<String>,
    watcher: zookeeper_client::OneshotWatcher,
    mut stopped: oneshot::Receiver<()>,
) -> Vec<FaultMarker> {
    let mut markers = Vec::new();
    let mut watcher = Some(watcher);
    loop {
        // the moment ZooKeeper told of a change (or the retry after a failed read)
        let fired = match watcher.take() {
            Some(w) => tokio::select! {
                _ = &mut stopped => break,
                _ = w.changed() => Moment::now(),
            },
            None => tokio::select! {
                _ = &mut stopped => break,
                () = tokio::time::sleep(Duration::from_millis(200)) => Moment::now(),
            },
        };
        let listed = tokio::select! {
            _ = &mut stopped => break,
            listed = session.children_and_watch(&path) => listed,
        };
        let Ok((children, next)) = listed else { continue };
        watcher = Some(next);
        let seen = addresses(&children);
        for gone in known.difference(&seen) {
            markers.push(FaultMarker::at(
                fired,
                format!("znode of {gone} gone"),
                MarkerKind::ZnodeRemoved,
                vec![gone.clone()],
            ));
        }
        for new in seen.difference(&known) {
            markers.push(FaultMarker::at(
                fired,
                format!("znode of {new} back"),
                MarkerKind::ZnodeAdded,
                vec![new.clone()],
            ));
        }
        known = seen;
    }
    markers
}
