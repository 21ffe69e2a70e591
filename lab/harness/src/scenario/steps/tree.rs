//! `tree`: the znode subtree under a path, read through a fresh ZooKeeper session and rendered by
//! the normalizer (sorted, `ephemeral` marks; the raw dump keeps each owner's session id).
//! `expect.same_sessions` compares the owners with those of an earlier labelled tree step.

use std::collections::BTreeMap;

use anyhow::Context;
use futures_util::future::BoxFuture;

use crate::keys::{may, KeyError, Keys, LabelRef, ZnodePath};
use crate::normalize::Normalizer;
use crate::probe::zk::{SessionId, ZkSession, ZnodeTree};
use crate::scenario::{Action, Ctx, Defines, Kind, Observation, Output};

pub const KIND: Kind = Kind {
    name: "tree",
    summary: "the znode subtree under the path, normalized and sorted",
    keys: &[may(
        "expect.same_sessions",
        "the label of an earlier tree step: every ephemeral znode has the owner (session) it had there, and the paths are the same",
    )],
    variants: None,
    output: Output::Required,
    parse,
};

#[derive(Debug)]
struct Tree {
    path: ZnodePath,
    same_sessions: Option<String>,
}

fn parse(keys: &Keys, _: &mut Defines) -> Result<Box<dyn Action>, KeyError> {
    let same_sessions = match keys.get::<LabelRef>("expect.same_sessions")? {
        Some(LabelRef { label, step }) if step.kind != KIND.name => {
            let message =
                format!("{label:?} labels step {}, a `{}` step: name an earlier tree step", step.index, step.kind);
            return Err(keys.error("expect.same_sessions", message));
        }
        other => other.map(|r| r.label),
    };
    Ok(Box::new(Tree { path: keys.need("tree")?, same_sessions }))
}

impl Action for Tree {
    fn describe(&self) -> String {
        self.path.0 .0.clone()
    }

    fn run<'a>(&'a self, ctx: &'a mut Ctx<'_>) -> BoxFuture<'a, anyhow::Result<Observation>> {
        Box::pin(async move {
            let path = ctx.render(&self.path.0)?;
            let session = ZkSession::connect(ctx.lab, ctx.timing.zk_connect()).await?;
            Ok(Observation::Tree(session.tree(&path).await?))
        })
    }

    fn judge(&self, ctx: &Ctx<'_>, observed: &Observation) -> anyhow::Result<()> {
        let (Some(label), Observation::Tree(after)) = (&self.same_sessions, observed) else { return Ok(()) };
        let before = ctx.trees.get(label).with_context(|| format!("no tree step labelled {label:?} has run"))?;
        same_sessions(label, before, after, &ctx.normalizer)
    }

    fn judges_itself(&self) -> bool {
        self.same_sessions.is_some()
    }
}

/// Checks that `after` has the znode paths of `before` (the tree step labelled `label`) and that
/// every ephemeral znode has the same owner in both; the error lists each difference with the
/// normalized path and the owners.
fn same_sessions(label: &str, before: &ZnodeTree, after: &ZnodeTree, normalizer: &Normalizer) -> anyhow::Result<()> {
    let owners = |tree: &ZnodeTree| -> BTreeMap<String, Option<SessionId>> {
        tree.0.iter().map(|z| (z.path.clone(), z.owner)).collect()
    };
    let (before, after) = (owners(before), owners(after));
    let shown = |owner: &Option<SessionId>| owner.map(|o| o.to_string()).unwrap_or_else(|| "persistent".into());
    let mut differences = Vec::new();
    for (path, owner) in &before {
        match after.get(path) {
            None => differences.push(format!("{}: gone (was {})", normalizer.text(path), shown(owner))),
            Some(now) if now != owner => {
                differences.push(format!("{}: owner {} → {}", normalizer.text(path), shown(owner), shown(now)))
            }
            Some(_) => {}
        }
    }
    for (path, owner) in &after {
        if !before.contains_key(path) {
            differences.push(format!("{}: new (owner {})", normalizer.text(path), shown(owner)));
        }
    }
    anyhow::ensure!(
        differences.is_empty(),
        "expected the znodes and sessions of the tree step labelled {label:?}; differences:\n{}",
        differences.join("\n")
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::probe::zk::Znode;

    fn tree(nodes: &[(&str, i64)]) -> ZnodeTree {
        ZnodeTree(nodes.iter().map(|(path, owner)| Znode::new(path.to_string(), String::new(), *owner)).collect())
    }

    fn normalizer() -> Normalizer {
        Normalizer::new(vec![("memcached-1".into(), Ipv4Addr::new(10, 213, 7, 11))], Ipv4Addr::new(10, 213, 7, 0))
    }

    #[test]
    fn the_same_owners_pass() {
        let t = tree(&[("/svc", 0), ("/svc/10.213.7.11:11211-memcached-1", 0x1000a)]);
        same_sessions("before", &t, &t.clone(), &normalizer()).unwrap();
    }

    #[test]
    fn a_new_owner_a_lost_and_a_new_znode_are_each_shown() {
        let before = tree(&[("/svc", 0), ("/svc/10.213.7.11:11211-memcached-1", 0x1000a), ("/svc/b", 0x1000b)]);
        let after = tree(&[("/svc", 0), ("/svc/10.213.7.11:11211-memcached-1", 0x2000a), ("/svc/c", 0x1000c)]);
        let text = same_sessions("before", &before, &after, &normalizer()).unwrap_err().to_string();
        assert!(text.contains("labelled \"before\""), "{text}");
        assert!(text.contains("/svc/{memcached-1}:11211-memcached-1: owner 0x1000a → 0x2000a"), "{text}");
        assert!(text.contains("/svc/b: gone (was 0x1000b)"), "{text}");
        assert!(text.contains("/svc/c: new (owner 0x1000c)"), "{text}");
        assert!(!text.contains("/svc:"), "{text}");
    }
}
