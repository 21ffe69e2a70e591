//! `heal`: every network fault on every host removed (the runner heals what is left before
//! teardown by itself).

use anyhow::Result;
use futures_util::future::BoxFuture;

use super::{names, net, Env, Fault, Reach, Verb};
use crate::lab::{HostName, Lab};
use crate::timing::Timing;

pub const VERB: Verb = Verb {
    name: "heal",
    summary: "removes every network fault on every host; returns once no rule is listed",
    keys: &[],
    parse: |_| Ok(Box::new(Heal)),
};

#[derive(Debug)]
struct Heal;

impl Fault for Heal {
    fn describe(&self) -> String {
        "heal".into()
    }

    fn apply<'a>(&'a self, env: &'a mut Env<'_>) -> BoxFuture<'a, Result<String>> {
        Box::pin(async move {
            let healed = heal(env.lab, env.timing).await?;
            env.left.network = false;
            Ok(if healed.is_empty() { "no network fault to heal".into() } else { format!("healed {}", names(&healed)) })
        })
    }

    fn reach(&self, _: &Env<'_>) -> Result<Reach> {
        Ok(Reach { heals: true, ..Reach::default() })
    }
}

/// Removes every network fault; returns the hosts that had rules.
pub async fn heal(lab: &Lab, timing: Timing) -> Result<Vec<HostName>> {
    net::flush(lab, timing).await
}
