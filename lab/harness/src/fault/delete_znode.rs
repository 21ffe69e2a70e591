//! `delete-znode`: the operator deletes a znode and its subtree (children first), as with zkCli;
//! in effect once the path is gone.

use anyhow::Result;
use futures_util::future::BoxFuture;

use super::{Env, Fault, Reach, Verb};
use crate::keys::{need, KeyError, Keys, ZnodePath};
use crate::lab::Lab;
use crate::probe::zk::ZkSession;
use crate::timing::Timing;
use crate::wait;

pub const VERB: Verb = Verb {
    name: "delete-znode",
    summary: "deletes the znode `path` and its subtree, as an operator would with zkCli",
    keys: &[need("path", "the znode")],
    parse,
};

#[derive(Debug)]
struct DeleteZnode {
    path: ZnodePath,
}

fn parse(keys: &Keys) -> Result<Box<dyn Fault>, KeyError> {
    Ok(Box::new(DeleteZnode { path: keys.need("path")? }))
}

impl Fault for DeleteZnode {
    fn describe(&self) -> String {
        format!("delete-znode {}", self.path.0 .0)
    }

    fn apply<'a>(&'a self, env: &'a mut Env<'_>) -> BoxFuture<'a, Result<String>> {
        Box::pin(async move {
            let path = self.path.0.render(env.bound)?;
            let count = delete_znode(env.lab, &path, env.timing).await?;
            Ok(format!("deleted {path} ({count} znodes)"))
        })
    }

    fn reach(&self, env: &Env<'_>) -> Result<Reach> {
        Ok(Reach { znode: Some(self.path.0.render(env.bound)?), ..Reach::default() })
    }
}

/// Deletes a znode and its subtree; returns the number of znodes deleted once the path is gone.
pub async fn delete_znode(lab: &Lab, path: &str, timing: Timing) -> Result<usize> {
    let session = ZkSession::connect(lab, timing.in_effect()).await?;
    let tree = session.tree(path).await?;
    anyhow::ensure!(!tree.0.is_empty(), "delete-znode: {path} does not exist");
    for z in tree.0.iter().rev() {
        session.delete(&z.path).await?;
    }
    wait::until(&format!("{path} to be gone"), timing.in_effect(), wait::POLL, || async {
        match session.tree(path).await {
            Ok(t) if t.0.is_empty() => Ok(()),
            Ok(t) => Err(format!("still there: {:?}", t.paths())),
            Err(e) => Err(format!("{e:#}")),
        }
    })
    .await?;
    Ok(tree.0.len())
}
