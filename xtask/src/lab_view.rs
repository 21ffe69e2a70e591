//! What `lab up` and `lab status` show of one lab: its hosts, the ZooKeeper ensemble with the
//! connect string a client on this machine takes, each service code with its nodes' addresses,
//! and the commands most likely wanted next; gathered once, printed as text or as JSON.

use anyhow::Result;
use arcus_facts::znode::{self, NodeName};
use arcus_lab::probe::zk::{self, Modes};
use arcus_lab::{Lab, Timing};
use serde::Serialize;

#[derive(Serialize)]
pub struct LabView {
    pub run: String,
    /// Whether it is the current lab (the one commands take without `--run`).
    pub current: bool,
    /// The Docker network and its subnet.
    pub network: String,
    pub subnet: String,
    pub topology: String,
    pub hosts: Vec<HostView>,
    pub zookeeper: Ensemble,
    pub services: Vec<Service>,
    /// Commands to copy: look into the cloud, run a scenario, remove the lab.
    pub next: Vec<String>,
}

#[derive(Serialize)]
pub struct HostView {
    pub name: String,
    pub ip: String,
    pub role: &'static str,
    pub state: String,
}

#[derive(Serialize)]
pub struct Ensemble {
    /// `ip:2181,ip:2181,...`: what a ZooKeeper or Arcus client on this machine connects to.
    pub connect: String,
    pub members: Vec<Member>,
}

#[derive(Serialize)]
pub struct Member {
    pub host: String,
    pub addr: String,
    /// leader, follower, standalone; None when it does not serve.
    pub mode: Option<String>,
}

#[derive(Serialize)]
pub struct Service {
    /// The service code a client names.
    pub code: String,
    /// Nodes registered in ZooKeeper now (None: ZooKeeper not reachable).
    pub online: Option<usize>,
    pub nodes: Vec<Node>,
}

#[derive(Serialize)]
pub struct Node {
    pub host: String,
    /// `ip:port`, reachable from this machine.
    pub addr: String,
    /// Whether its znode is in the service's cache_list (None: ZooKeeper not reachable).
    pub online: Option<bool>,
}

impl LabView {
    /// Looks at the lab now: container states, each member's mode, the service's cache_list.
    pub async fn gather(lab: &Lab, current: bool) -> Result<LabView> {
        let states = lab.states().await?;
        let hosts = lab
            .hosts
            .iter()
            .map(|h| HostView {
                name: h.name.to_string(),
                ip: h.ip.to_string(),
                role: h.name.role(),
                state: states.get(&h.name).cloned().unwrap_or_else(|| "missing".into()),
            })
            .collect();
        let modes = Modes::of(lab).await;
        let members: Vec<Member> = modes
            .0
            .iter()
            .zip(zk::servers(lab))
            .map(|((host, mode), server)| Member {
                host: host.to_string(),
                addr: server.addr.to_string(),
                mode: mode.map(|m| m.to_string()),
            })
            .collect();
        let connect = members.iter().map(|m| m.addr.as_str()).collect::<Vec<_>>().join(",");
        // a session only when a member serves: a bare lab answers nothing
        let session = match modes.serving() {
            0 => None,
            _ => zk::ZkSession::connect(lab, Timing::default().zk_connect()).await.ok(),
        };
        let mut services = Vec::new();
        for code in &lab.topology.services {
            let online = match &session {
                Some(session) => Some(session.children(&znode::cache_list(code)).await?),
                None => None,
            };
            let online_addrs: Option<Vec<&str>> =
                online.as_ref().map(|names| names.iter().map(|n| NodeName::parse(n).addr).collect());
            let ports = lab.topology.ports(code);
            let nodes = lab
                .cache_hosts()
                .flat_map(|h| ports.iter().map(move |p| (h, format!("{}:{p}", h.ip))))
                .map(|(h, addr)| Node {
                    host: h.name.to_string(),
                    online: online_addrs.as_ref().map(|on| on.contains(&addr.as_str())),
                    addr,
                })
                .collect();
            services.push(Service { code: code.clone(), online: online.map(|o| o.len()), nodes });
        }
        let run = if current { String::new() } else { format!(" --run {}", lab.run) };
        let next = vec![
            format!("cargo xtask lab exec{run} arcus -- /opt/arcus/scripts/arcus.sh memcached listall"),
            "cargo xtask lab run s04_node_sigkill".to_string(),
            format!("cargo xtask lab down{run}"),
        ];
        Ok(LabView {
            run: lab.run.to_string(),
            current,
            network: lab.run.network(),
            subnet: lab.network.to_string(),
            topology: lab.topology.describe(),
            hosts,
            zookeeper: Ensemble { connect, members },
            services,
            next,
        })
    }

    /// The text `lab up` ends with and `lab status` prints.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let mut line = |s: String| {
            out.push_str(s.trim_end());
            out.push('\n');
        };
        let mark = if self.current { " (current)" } else { "" };
        line(format!("lab {}{mark}  network {} ({})  {}", self.run, self.network, self.subnet, self.topology));
        line(format!("{:<12} {:<14} {:<6} STATE", "HOST", "IP", "ROLE"));
        for h in &self.hosts {
            line(format!("{:<12} {:<14} {:<6} {}", h.name, h.ip, h.role, h.state));
        }
        line(String::new());
        line("ZooKeeper ensemble; the connect string for a client on this machine:".into());
        line(format!("  {}", self.zookeeper.connect));
        for m in &self.zookeeper.members {
            line(format!("  {:<12} {:<18} {}", m.host, m.addr, m.mode.as_deref().unwrap_or("not serving")));
        }
        for s in &self.services {
            let online = match s.online {
                Some(n) => format!("{n}/{} nodes online", s.nodes.len()),
                None => "ZooKeeper not reachable".to_string(),
            };
            line(format!("service code {}: {online}", s.code));
            for n in &s.nodes {
                let state = match n.online {
                    Some(true) => "online",
                    Some(false) => "offline",
                    None => "",
                };
                line(format!("  {:<12} {:<18} {state}", n.host, n.addr));
            }
        }
        line(String::new());
        line("next (for scripts: cargo xtask lab status --json):".into());
        for command in &self.next {
            line(format!("  {command}"));
        }
        out
    }
}
