//! `cut-zk-ports`: a host's clients lose every ZooKeeper (its own server's included) while that
//! server keeps serving the others and the quorum ports stay open.

use anyhow::Result;
use futures_util::future::BoxFuture;

use super::net::{self, cut_zk_rules};
use super::{host_verb, Env, Fault};
use crate::lab::{HostName, Lab};
use crate::timing::Timing;

host_verb!(
    "cut-zk-ports",
    CutZkPorts,
    "the host `host` can reach no ZooKeeper client port; its own server keeps serving the others"
);

impl Fault for CutZkPorts {
    fn describe(&self) -> String {
        format!("cut-zk-ports {}", self.host.as_written())
    }

    fn apply<'a>(&'a self, env: &'a mut Env<'_>) -> BoxFuture<'a, Result<String>> {
        Box::pin(async move {
            let host = env.host(&self.host)?;
            env.left.network = true;
            let rules = cut_zk_ports(env.lab, host, env.timing).await?;
            Ok(format!("cut {host} off every ZooKeeper client port ({rules} rules)"))
        })
    }
}

/// Cuts `host` off every ZooKeeper client port; returns the number of rules.
pub async fn cut_zk_ports(lab: &Lab, host: HostName, timing: Timing) -> Result<usize> {
    net::apply(lab, &cut_zk_rules(host, lab.host(host)?.ip), timing).await
}
