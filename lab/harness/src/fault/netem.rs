//! `netem`: a slow or lossy link instead of a dead one. `tc netem` (delay with jitter, loss,
//! duplication) on the egress of a host's lab interface, scoped by filters: a `prio` qdisc
//! [`ROOT`] with a fourth band that the default priomap never uses, the netem qdisc under that
//! band, and u32 filters sending only the chosen packets into it: those to every other lab host
//! (`to = "hosts"`), or only the ZooKeeper client traffic to and from them (`to = "zk"`: port
//! 2181 as destination or source). Everything else, the gateway's probes among it, keeps the
//! default bands and passes untouched. Egress only: the host's own packets are delayed, lost or
//! doubled, so a round trip through it is slowed once; a host's traffic to itself goes over `lo`
//! and is never touched. In effect once `tc qdisc show` lists the netem qdisc and `tc filter show`
//! every filter; `heal` deletes [`ROOT`] on every host ([`clear`]). A second `netem` on a host
//! replaces the first.

use std::time::Duration;

use anyhow::Result;
use futures_util::future::{try_join_all, BoxFuture};

use super::{Env, Fault, Verb};
use crate::keys::{may, need, HostRef, KeyError, Keys};
use crate::lab::{HostName, Lab};
use crate::probe::zk::CLIENT_PORT;
use crate::timing::Timing;
use crate::wait;

pub const VERB: Verb = Verb {
    name: "netem",
    summary: "delay (± jitter), loss and duplication of what `host` sends to the other hosts (`to = \"zk\"`: their ZooKeeper client traffic only)",
    keys: &[
        need("host", "the host whose sent packets suffer"),
        may("delay", "added to each packet (250ms)"),
        may("jitter", "± around the delay (needs delay)"),
        may("loss", "percent of packets dropped (whole number)"),
        may("duplicate", "percent of packets sent twice (whole number)"),
        may("to", "hosts (default): everything to the other hosts; zk: only ZooKeeper client traffic"),
    ],
    parse,
};

/// The lab's root qdisc on a host's interface (hex handle, chosen to be recognisable).
pub const ROOT: &str = "a1ab:";
/// The netem qdisc under the root's fourth band.
const NETEM: &str = "a1ac:";
/// The band filtered packets go to.
const BAND: &str = "a1ab:4";
/// The lab network's interface in every host.
const DEV: &str = "eth0";

/// What netem does to the chosen packets.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Impairment {
    pub delay: Option<Duration>,
    pub jitter: Option<Duration>,
    pub loss: Option<u8>,
    pub duplicate: Option<u8>,
}

impl Impairment {
    /// `delay 200ms 50ms loss 10% duplicate 5%`, as `tc qdisc add ... netem` takes it.
    pub fn netem_args(&self) -> String {
        let mut args = Vec::new();
        if let Some(delay) = self.delay {
            args.push(format!("delay {}ms", delay.as_millis()));
            if let Some(jitter) = self.jitter {
                args.push(format!("{}ms", jitter.as_millis()));
            }
        }
        if let Some(loss) = self.loss {
            args.push(format!("loss {loss}%"));
        }
        if let Some(dup) = self.duplicate {
            args.push(format!("duplicate {dup}%"));
        }
        args.join(" ")
    }
}

/// Which packets of the host suffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Everything sent to another lab host.
    Hosts,
    /// Only ZooKeeper client traffic to and from another lab host.
    Zk,
}

#[derive(Debug)]
struct Netem {
    host: HostRef,
    impairment: Impairment,
    scope: Scope,
}

fn parse(keys: &Keys) -> Result<Box<dyn Fault>, KeyError> {
    let percent = |key: &str| -> Result<Option<u8>, KeyError> {
        match keys.get::<u8>(key)? {
            Some(p) if p > 100 => Err(keys.error(key, format!("{p} is not a percentage (0..=100)"))),
            p => Ok(p),
        }
    };
    let impairment = Impairment {
        delay: keys.get("delay")?,
        jitter: keys.get("jitter")?,
        loss: percent("loss")?,
        duplicate: percent("duplicate")?,
    };
    if impairment.jitter.is_some() && impairment.delay.is_none() {
        return Err(keys.error("jitter", "jitter needs a delay"));
    }
    if impairment == Impairment::default() {
        return Err(keys.error("host", "netem needs at least one of delay, loss, duplicate"));
    }
    let scope = match keys.get::<String>("to")?.as_deref() {
        None | Some("hosts") => Scope::Hosts,
        Some("zk") => Scope::Zk,
        Some(other) => return Err(keys.error("to", format!("unknown scope {other:?}: use hosts or zk"))),
    };
    Ok(Box::new(Netem { host: keys.need("host")?, impairment, scope }))
}

impl Fault for Netem {
    fn describe(&self) -> String {
        let to = match self.scope {
            Scope::Hosts => "hosts",
            Scope::Zk => "zk",
        };
        format!("netem {} {} (to {to})", self.host.as_written(), self.impairment.netem_args())
    }

    fn apply<'a>(&'a self, env: &'a mut Env<'_>) -> BoxFuture<'a, Result<String>> {
        Box::pin(async move {
            let host = env.host(&self.host)?;
            env.left.network = true;
            let filters = netem(env.lab, host, &self.impairment, self.scope, env.timing).await?;
            Ok(format!("netem {} on {host} ({filters} filters)", self.impairment.netem_args()))
        })
    }
}

/// The u32 filters' matches: one per filter, sending the packets to the netem band.
pub fn filter_matches(scope: Scope, others: &[std::net::Ipv4Addr]) -> Vec<String> {
    others
        .iter()
        .flat_map(|ip| match scope {
            Scope::Hosts => vec![format!("match ip dst {ip}/32")],
            Scope::Zk => vec![
                format!("match ip dst {ip}/32 match ip dport {CLIENT_PORT} 0xffff"),
                format!("match ip dst {ip}/32 match ip sport {CLIENT_PORT} 0xffff"),
            ],
        })
        .collect()
}

/// Puts netem on `host`'s egress for the scope's packets; returns the number of filters once
/// `tc` lists the netem qdisc and every filter.
pub async fn netem(lab: &Lab, host: HostName, impairment: &Impairment, scope: Scope, timing: Timing) -> Result<usize> {
    let others: Vec<_> = lab.hosts.iter().filter(|h| h.name != host).map(|h| h.ip).collect();
    let matches = filter_matches(scope, &others);
    let mut script = format!(
        "set -e\ntc qdisc del dev {DEV} root 2>/dev/null || true\n\
         tc qdisc add dev {DEV} root handle {ROOT} prio bands 4\n\
         tc qdisc add dev {DEV} parent {BAND} handle {NETEM} netem {}\n",
        impairment.netem_args()
    );
    for m in &matches {
        script.push_str(&format!("tc filter add dev {DEV} parent {ROOT} protocol ip prio 1 u32 {m} flowid {BAND}\n"));
    }
    let out = lab.sh(host, &script).await?;
    anyhow::ensure!(out.exit == 0, "netem on {host} exited {}: {}", out.exit, out.stderr.trim());
    let what = format!("netem {NETEM} and {} filters to be listed on {host}", matches.len());
    wait::until(&what, timing.in_effect(), wait::POLL, || async {
        let shown = lab
            .sh(host, &format!("tc qdisc show dev {DEV}; tc filter show dev {DEV} parent {ROOT}"))
            .await
            .map_err(|e| format!("{e:#}"))?;
        let qdisc = shown.stdout.lines().any(|l| l.starts_with(&format!("qdisc netem {NETEM} parent {BAND}")));
        let filters = shown.stdout.matches(&format!("flowid {BAND}")).count();
        if qdisc && filters == matches.len() {
            Ok(())
        } else {
            Err(format!("listed: {}", shown.stdout.trim()))
        }
    })
    .await?;
    Ok(matches.len())
}

/// Deletes [`ROOT`] (and the netem under it) on every running host; returns the hosts that had
/// it, once `tc qdisc show` lists it on none.
pub async fn clear(lab: &Lab, running: &[HostName], timing: Timing) -> Result<Vec<HostName>> {
    let cleared = try_join_all(running.iter().map(|&host| async move {
        let listed = |out: &str| out.lines().any(|l| l.starts_with(&format!("qdisc prio {ROOT} root")));
        let shown = lab.exec(host, &["tc", "qdisc", "show", "dev", DEV]).await?;
        if !listed(&shown.stdout) {
            return anyhow::Ok(None);
        }
        let out = lab.exec(host, &["tc", "qdisc", "del", "dev", DEV, "root", "handle", ROOT]).await?;
        anyhow::ensure!(out.exit == 0, "deleting netem on {host} exited {}: {}", out.exit, out.stderr.trim());
        wait::until(&format!("no qdisc {ROOT} to be listed on {host}"), timing.in_effect(), wait::POLL, || async {
            match lab.exec(host, &["tc", "qdisc", "show", "dev", DEV]).await {
                Ok(out) if !listed(&out.stdout) => Ok(()),
                Ok(out) => Err(format!("still listed: {}", out.stdout.trim())),
                Err(e) => Err(format!("{e:#}")),
            }
        })
        .await?;
        Ok(Some(host))
    }))
    .await?;
    Ok(cleared.into_iter().flatten().collect())
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    #[test]
    fn netem_arguments_name_only_what_was_given() {
        let all = Impairment {
            delay: Some(Duration::from_millis(200)),
            jitter: Some(Duration::from_millis(50)),
            loss: Some(10),
            duplicate: Some(5),
        };
        assert_eq!(all.netem_args(), "delay 200ms 50ms loss 10% duplicate 5%");
        assert_eq!(Impairment { loss: Some(30), ..Default::default() }.netem_args(), "loss 30%");
    }

    #[test]
    fn the_zk_scope_filters_only_client_port_traffic_to_the_other_hosts() {
        let others = [Ipv4Addr::new(10, 213, 7, 12), Ipv4Addr::new(10, 213, 7, 13)];
        assert_eq!(filter_matches(Scope::Hosts, &others), ["match ip dst 10.213.7.12/32", "match ip dst 10.213.7.13/32"]);
        let zk = filter_matches(Scope::Zk, &others);
        assert_eq!(zk.len(), 4);
        assert_eq!(zk[0], "match ip dst 10.213.7.12/32 match ip dport 2181 0xffff");
        assert_eq!(zk[1], "match ip dst 10.213.7.12/32 match ip sport 2181 0xffff");
        assert!(zk.iter().all(|m| !m.contains("2888") && !m.contains("3888")));
    }
}
