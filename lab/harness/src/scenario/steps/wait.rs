//! `wait`: poll a named ready condition (`crate::cloud::ready`) until it holds, within the step's
//! `timeout` or the timing profile's deadline. Each condition's name and keys are declared in
//! [`CONDITIONS`].

use std::time::Duration;

use futures_util::future::BoxFuture;

use crate::cloud::ready::Ready;
use crate::keys::{may, need, HostRef, KeyError, Keys, Template, ZnodePath};
use crate::probe::zk::ZkMode;
use crate::scenario::{Action, Ctx, Defines, Kind, Observation, Output, Variant, Variants};

pub const KIND: Kind = Kind {
    name: "wait",
    summary: "polls a condition until it holds, within `timeout` (default from the timing profile)",
    keys: &[may("timeout", "how long to wait at most (default: the timing profile's, fast 30 s)")],
    variants: Some(Variants { what: "condition", list: conditions }),
    output: Output::None,
    parse,
};

/// The conditions a `wait` step names, with their keys.
pub const CONDITIONS: &[Variant] = &[
    Variant { name: "zk-quorum", summary: "a ZooKeeper leader and a serving majority", keys: &[] },
    Variant {
        name: "zk-new-leader",
        summary: "a leader on another host than `host` (the old leader's), and a serving majority",
        keys: &[need("host", "the old leader's host")],
    },
    Variant { name: "zk-no-quorum", summary: "no ZooKeeper leader and no serving majority", keys: &[] },
    Variant {
        name: "children",
        summary: "the znode `path` has exactly `count` children",
        keys: &[need("path", "the znode"), need("count", "how many children")],
    },
    Variant {
        name: "zk-mode",
        summary: "the ZooKeeper member on `host` serves as `mode` (leader, follower, standalone)",
        keys: &[need("host", "the member's host"), need("mode", "leader, follower or standalone")],
    },
    Variant {
        name: "node-exited",
        summary: "no cache node listens with -p `port` on `host` any more",
        keys: &[need("host", "the node's host"), need("port", "the node's port")],
    },
    Variant {
        name: "reply",
        summary: "the node on `host`:`port` answers `send` with a reply holding the line `until`",
        keys: &[
            need("host", "the node's host"),
            need("port", "the node's port"),
            need("send", "the request line"),
            need("until", "the reply line waited for"),
        ],
    },
];

fn conditions() -> Vec<Variant> {
    CONDITIONS.to_vec()
}

/// A condition as written: hosts and texts may name bound values.
type Condition = Ready<HostRef, Template>;

#[derive(Debug)]
struct Wait {
    condition: Condition,
    timeout: Option<Duration>,
}

fn parse(keys: &Keys, _: &mut Defines) -> Result<Box<dyn Action>, KeyError> {
    let name: String = keys.need("wait")?;
    let condition = match name.as_str() {
        "zk-quorum" => Condition::Quorum { not_on: None },
        "zk-new-leader" => Condition::Quorum { not_on: Some(keys.need("host")?) },
        "zk-no-quorum" => Condition::NoQuorum,
        "children" => Condition::Children { path: keys.need::<ZnodePath>("path")?.0, count: keys.need("count")? },
        "zk-mode" => {
            let mode: String = keys.need("mode")?;
            let mode = match mode.parse::<ZkMode>() {
                Ok(m @ (ZkMode::Leader | ZkMode::Follower | ZkMode::Standalone)) => m,
                _ => {
                    let message = format!("unknown mode {mode:?}: use leader, follower or standalone");
                    return Err(keys.error("mode", message));
                }
            };
            Condition::ZkMode { host: keys.need("host")?, mode }
        }
        "node-exited" => Condition::NodeExited { host: keys.need("host")?, port: keys.need("port")? },
        "reply" => Condition::Reply {
            host: keys.need("host")?,
            port: keys.need("port")?,
            send: keys.need("send")?,
            until: keys.need("until")?,
        },
        other => return Err(keys.error("wait", format!("unknown condition {other:?}"))),
    };
    Ok(Box::new(Wait { condition, timeout: keys.get("timeout")? }))
}

impl Action for Wait {
    fn describe(&self) -> String {
        self.condition.describe()
    }

    fn run<'a>(&'a self, ctx: &'a mut Ctx<'_>) -> BoxFuture<'a, anyhow::Result<Observation>> {
        Box::pin(async move {
            let ready = resolve(&self.condition, ctx)?;
            let deadline = self.timeout.unwrap_or(ctx.timing.wait());
            let seen = ready.wait(ctx.lab, deadline, ctx.timing).await?;
            Ok(Observation::Waited { what: ready.describe(), seen })
        })
    }
}

/// The condition with its hosts and texts as they are bound now.
fn resolve(condition: &Condition, ctx: &Ctx<'_>) -> anyhow::Result<Ready> {
    Ok(match condition {
        Ready::Quorum { not_on } => Ready::Quorum { not_on: not_on.as_ref().map(|h| ctx.host(h)).transpose()? },
        Ready::NoQuorum => Ready::NoQuorum,
        Ready::Children { path, count } => Ready::Children { path: ctx.render(path)?, count: *count },
        Ready::ZkMode { host, mode } => Ready::ZkMode { host: ctx.host(host)?, mode: *mode },
        Ready::NodeExited { host, port } => Ready::NodeExited { host: ctx.host(host)?, port: *port },
        Ready::Reply { host, port, send, until } => {
            Ready::Reply { host: ctx.host(host)?, port: *port, send: ctx.render(send)?, until: until.clone() }
        }
    })
}
