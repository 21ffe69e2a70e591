//! The `tree` step: the znode subtree under a path, read through a fresh ZooKeeper session and
//! rendered by the normalizer (sorted, `ephemeral` marks).

use std::time::Duration;

use anyhow::Result;

use super::runner::{Ctx, Observed};
use crate::zk::ZkSession;

pub(super) async fn run(ctx: &Ctx<'_>, path: &str) -> Result<Observed> {
    let session = ZkSession::connect(ctx.lab, Duration::from_secs(10)).await?;
    let tree = session.tree(path).await?;
    Ok(Observed { text: ctx.normalizer.tree(&tree), raw: tree.render(), exit: None })
}
