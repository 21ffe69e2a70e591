//! The admin's ZooKeeper session: connect with a deadline, reads that say "no node" as `None`, and
//! writes as one transaction that applies everything or nothing.

use std::future::Future;
use std::time::Duration;
use zookeeper_client::{Acls, Client, CreateMode, MultiWriteError, MultiWriteResult};

/// The session timeout we ask for; connecting and every request end within it.
pub const SESSION_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum ZkError {
    #[error("cannot reach ZooKeeper at {zklist} within {} s: {reason}", SESSION_TIMEOUT.as_secs())]
    Connect { zklist: String, reason: String },
    #[error("ZooKeeper: {op} {path}: {reason}")]
    Request { op: &'static str, path: String, reason: String },
    #[error("nothing was applied: {op} {path} failed: {cause}")]
    Transaction { op: &'static str, path: String, cause: zookeeper_client::Error },
}

/// One write of a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// A persistent node with open ACLs.
    Create {
        path: String,
        data: Vec<u8>,
    },
    /// Replace the data if the node still has `version`.
    Set {
        path: String,
        data: Vec<u8>,
        version: i32,
    },
    Delete {
        path: String,
    },
}

impl Op {
    fn describe(&self) -> (&'static str, &str) {
        match self {
            Op::Create { path, .. } => ("create", path),
            Op::Set { path, .. } => ("set data of", path),
            Op::Delete { path } => ("delete", path),
        }
    }
}

/// A session with the ensemble.
pub struct Zk {
    client: Client,
}

impl Zk {
    /// Connects to any server of `zklist` (`host:port,...`), giving up after the session timeout.
    pub async fn connect(zklist: &str) -> Result<Zk, ZkError> {
        let connecting = Client::connector().with_session_timeout(SESSION_TIMEOUT).connect(zklist);
        let fail = |reason: String| ZkError::Connect { zklist: zklist.to_string(), reason };
        match tokio::time::timeout(SESSION_TIMEOUT, connecting).await {
            Ok(Ok(client)) => Ok(Zk { client }),
            Ok(Err(zookeeper_client::Error::Timeout)) | Err(_) => Err(fail("no server answered".into())),
            Ok(Err(e)) => Err(fail(e.to_string())),
        }
    }

    async fn request<T>(
        op: &'static str,
        path: &str,
        future: impl Future<Output = Result<T, zookeeper_client::Error>>,
    ) -> Result<Option<T>, ZkError> {
        let fail = |reason: String| ZkError::Request { op, path: path.to_string(), reason };
        match tokio::time::timeout(SESSION_TIMEOUT, future).await {
            Ok(Ok(value)) => Ok(Some(value)),
            Ok(Err(zookeeper_client::Error::NoNode)) => Ok(None),
            Ok(Err(e)) => Err(fail(e.to_string())),
            Err(_) => Err(fail(format!("no answer within {} s", SESSION_TIMEOUT.as_secs()))),
        }
    }

    /// Closes the session (so the server forgets it now, not after the timeout); waits at most 1 s.
    pub async fn close(self) {
        let mut state = self.client.state_watcher();
        drop(self.client);
        let closed = async { while !state.changed().await.is_terminated() {} };
        let _ = tokio::time::timeout(Duration::from_secs(1), closed).await;
    }

    /// The children of `path`, or `None` if it does not exist.
    pub async fn children(&self, path: &str) -> Result<Option<Vec<String>>, ZkError> {
        Self::request("list children of", path, self.client.list_children(path)).await
    }

    /// The data and version of `path`, or `None` if it does not exist.
    pub async fn data(&self, path: &str) -> Result<Option<(Vec<u8>, i32)>, ZkError> {
        let got = Self::request("read", path, self.client.get_data(path)).await?;
        Ok(got.map(|(data, stat)| (data, stat.version)))
    }

    pub async fn exists(&self, path: &str) -> Result<bool, ZkError> {
        let stat = Self::request("check", path, self.client.check_stat(path)).await?;
        Ok(stat.flatten().is_some())
    }

    /// Applies `ops` as one transaction and returns the paths it created. If one op fails, nothing
    /// is applied and the error names that op.
    pub async fn commit(&self, ops: &[Op]) -> Result<Vec<String>, ZkError> {
        let options = CreateMode::Persistent.with_acls(Acls::anyone_all());
        let mut writer = self.client.new_multi_writer();
        for op in ops {
            let added = match op {
                Op::Create { path, data } => writer.add_create(path, data, &options),
                Op::Set { path, data, version } => writer.add_set_data(path, data, Some(*version)),
                Op::Delete { path } => writer.add_delete(path, None),
            };
            added.map_err(|cause| {
                let (op, path) = op.describe();
                ZkError::Transaction { op, path: path.to_string(), cause }
            })?;
        }
        let committed = tokio::time::timeout(SESSION_TIMEOUT, writer.commit()).await.map_err(|_| ZkError::Request {
            op: "commit a transaction at",
            path: ops.first().map(|op| op.describe().1.to_string()).unwrap_or_default(),
            reason: format!("no answer within {} s (it may or may not have been applied)", SESSION_TIMEOUT.as_secs()),
        })?;
        match committed {
            Ok(results) => Ok(results
                .into_iter()
                .filter_map(|r| match r {
                    MultiWriteResult::Create { path, .. } => Some(path),
                    _ => None,
                })
                .collect()),
            Err(MultiWriteError::OperationFailed { index, source }) => {
                let (op, path) = ops[index].describe();
                Err(ZkError::Transaction { op, path: path.to_string(), cause: source })
            }
            Err(MultiWriteError::RequestFailed { source }) => Err(ZkError::Request {
                op: "commit a transaction at",
                path: ops.first().map(|op| op.describe().1.to_string()).unwrap_or_default(),
                reason: source.to_string(),
            }),
        }
    }
}
