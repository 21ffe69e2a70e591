//! `cut-zk-ports`: a host's clients lose every ZooKeeper (its own server's included) while that
//! server keeps serving the others and the quorum ports stay open.

use anyhow::Result;

use super::host_verb;
use super::net::{self, cut_zk_rules};
use crate::lab::{HostName, Lab};
use crate::timing::Timing;

host_verb!(
    "cut-zk-ports",
    "the host `host` can reach no ZooKeeper client port; its own server keeps serving the others",
    super::Reach::breaks_host,
    |env, host| {
        env.left.network = true;
        let rules = cut_zk_ports(env.lab, host, env.timing).await?;
        Ok(format!("cut {host} off every ZooKeeper client port ({rules} rules)"))
    }
);

/// Cuts `host` off every ZooKeeper client port; returns the number of rules.
pub async fn cut_zk_ports(lab: &Lab, host: HostName, timing: Timing) -> Result<usize> {
    net::apply(lab, &cut_zk_rules(host, lab.host(host)?.ip), timing).await
}
