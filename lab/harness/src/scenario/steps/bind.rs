//! `bind`: look a value up in the lab (the ZooKeeper leader's or a follower's host, a host's
//! address) and bind it to the name `as`, which later steps use as `$name` (`$$` is a `$`).

use futures_util::future::BoxFuture;

use crate::keys::{is_name, need, HostRef, KeyError, Keys};
use crate::probe::zk::{self, ZkMode};
use crate::scenario::{Action, Ctx, Defines, Kind, Observation, Output, Variant, Variants};

pub const KIND: Kind = Kind {
    name: "bind",
    summary: "looks a value up in the lab and binds it to the name `as`, used as `$name` by later steps",
    keys: &[need("as", "the name (letters, digits and _)")],
    variants: Some(Variants { what: "value to bind", list: || BINDINGS.to_vec() }),
    output: Output::None,
    parse,
};

/// What a `bind` step may look up.
pub const BINDINGS: &[Variant] = &[
    Variant { name: "zk-leader", summary: "the host whose ZooKeeper member leads now", keys: &[] },
    Variant { name: "zk-follower", summary: "the first host (by name) whose member follows now", keys: &[] },
    Variant { name: "ip", summary: "the address of `host` (znode names hold it)", keys: &[need("host", "the host")] },
];

#[derive(Debug)]
enum Lookup {
    ZkLeader,
    ZkFollower,
    Ip(HostRef),
}

#[derive(Debug)]
struct Bind {
    lookup: Lookup,
    name: String,
}

fn parse(keys: &Keys, defines: &mut Defines) -> Result<Box<dyn Action>, KeyError> {
    let what: String = keys.need("bind")?;
    let lookup = match what.as_str() {
        "zk-leader" => Lookup::ZkLeader,
        "zk-follower" => Lookup::ZkFollower,
        "ip" => Lookup::Ip(keys.need("host")?),
        other => return Err(keys.error("bind", format!("unknown value {other:?} to bind"))),
    };
    let name: String = keys.need("as")?;
    if !is_name(&name) {
        return Err(keys.error("as", format!("{name:?} is not a name: letters, digits and _ (not first)")));
    }
    defines.bound = Some(name.clone());
    Ok(Box::new(Bind { lookup, name }))
}

impl Action for Bind {
    fn can_fail(&self) -> bool {
        false
    }

    fn describe(&self) -> String {
        match &self.lookup {
            Lookup::ZkLeader => format!("zk-leader as {}", self.name),
            Lookup::ZkFollower => format!("zk-follower as {}", self.name),
            Lookup::Ip(host) => format!("ip of {} as {}", host.as_written(), self.name),
        }
    }

    fn run<'a>(&'a self, ctx: &'a mut Ctx<'_>) -> BoxFuture<'a, anyhow::Result<Observation>> {
        Box::pin(async move {
            let deadline = ctx.timing.wait();
            let value = match &self.lookup {
                Lookup::Ip(host) => ctx.lab.host(ctx.host(host)?)?.ip.to_string(),
                Lookup::ZkLeader => zk::wait_leader(ctx.lab, deadline).await?.to_string(),
                Lookup::ZkFollower => {
                    let what = "a ZooKeeper follower in the lab";
                    zk::wait_mode(ctx.lab, what, |m| m == ZkMode::Follower, deadline).await?.to_string()
                }
            };
            ctx.bound.insert(self.name.clone(), value.clone());
            Ok(Observation::Bound { name: self.name.clone(), value })
        })
    }
}
