//! The `wait` step: poll a condition until it holds, within the step's `timeout` or the timing
//! profile's deadline; the wait's duration goes into the run's events.

use std::time::Duration;

use anyhow::Result;

use super::runner::Ctx;
use super::Condition;
use crate::wait;
use crate::zk::{self, ZkSession};

/// Returns what was seen when the condition held.
pub(super) async fn run(ctx: &Ctx<'_>, condition: &Condition, deadline: Duration) -> Result<String> {
    match condition {
        Condition::ZkQuorum => {
            let guard = ctx.lab.guard();
            let servers = zk::ensemble(ctx.lab);
            let seen = wait::until(
                "a ZooKeeper leader and a serving majority",
                deadline,
                Duration::from_millis(100),
                || async {
                    let mut modes = Vec::new();
                    for addr in &servers {
                        modes.push((*addr, zk::mode(&guard, *addr).await));
                    }
                    let leaders = modes.iter().filter(|(_, m)| m.as_deref() == Some("leader")).count();
                    let serving = modes.iter().filter(|(_, m)| m.is_some()).count();
                    let shown = modes.iter().map(|(a, m)| format!("{a}: {}", m.as_deref().unwrap_or("not serving")));
                    let shown = shown.collect::<Vec<_>>().join(", ");
                    if leaders == 1 && serving * 2 > servers.len() {
                        Ok(shown)
                    } else {
                        Err(shown)
                    }
                },
            )
            .await?;
            Ok(seen)
        }
        Condition::Children { path, count } => {
            let path = ctx.render(path)?;
            let session = ZkSession::connect(ctx.lab, deadline).await?;
            let children = session.wait_children(&path, *count, deadline).await?;
            Ok(format!("{path}: {}", children.join(", ")))
        }
    }
}
