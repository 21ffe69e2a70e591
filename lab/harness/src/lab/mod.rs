//! The lab: typed hosts on a private network with fixed addresses, identified by a run id, in the
//! shape its [`Topology`] gives (by default the runbook's four machines `arcus`,
//! `memcached-1..3`). Lifecycle (`start`, `attach`, `down`, `gc`), `exec` on a host, and the
//! address guard. It knows nothing of the runbook: the cloud layer (`crate::cloud`) types that.

mod guard;
mod run_id;
mod topology;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use anyhow::{Context, Result};
use futures_util::future::try_join_all;
use ipnet::Ipv4Net;
use tokio::io::AsyncReadExt;

pub use guard::AddressGuard;
pub use run_id::{is_abandoned, owner_label, Owner, RunId};
pub use topology::{HostName, Topology, TopologyError, FIRST_NODE_PORT, RUNBOOK_SERVICE};

use crate::engine::{ContainerSpec, Engine, ExecOutput, LABEL_ROLE, LABEL_RUN};
use crate::flavour::Flavour;
use crate::images;
use crate::progress::Progress;
use crate::timing::Timing;
use crate::wait;

/// Label: which host a container is.
pub use arcus_facts::labels::HOST as LABEL_HOST;
/// Label: the host's address (so that a lab can be found again from its containers).
pub use arcus_facts::labels::IP as LABEL_IP;
/// Label: the process that owns the lab (`<pid>:<start time>`), or `kept` for `lab up`.
pub use arcus_facts::labels::OWNER as LABEL_OWNER;
/// Label: the lab's topology (`hosts=3 zk=3 nodes-per-host=2 services=ruo91-cloud`).
pub use arcus_facts::labels::TOPOLOGY as LABEL_TOPOLOGY;

#[derive(Debug, thiserror::Error)]
pub enum LabError {
    #[error("run id {0:?} is not usable in Docker names: use 1-32 letters, digits, '_', '.' or '-', starting with a letter or digit")]
    BadRunId(String),
    #[error("no lab with run id {0:?} on this engine (see `cargo xtask lab status --all`)")]
    UnknownRun(String),
    #[error("no host {host:?} in lab {run}: the hosts are {hosts}")]
    UnknownHost { run: String, host: String, hosts: String },
    #[error("refusing to send traffic to {0}: it is outside the lab's networks and not loopback")]
    OutsideLab(IpAddr),
    #[error("no free /24 left in {} for a new lab network", guard::POOL)]
    NoFreeSubnet,
    #[error("a lab with run id {0} already exists (tear it down with `cargo xtask lab down --run {0}`)")]
    Exists(RunId),
    #[error("the lab's topology: {0}")]
    Topology(#[from] TopologyError),
}

/// One machine of the lab.
#[derive(Debug, Clone)]
pub struct Host {
    pub name: HostName,
    pub ip: Ipv4Addr,
    pub container: String,
}

/// What a lab is made of and who owns it.
#[derive(Debug, Clone)]
pub struct LabSpec {
    pub run: RunId,
    pub owner: Owner,
    pub flavour: Flavour,
    pub timing: Timing,
    pub topology: Topology,
}

impl LabSpec {
    /// A lab owned by this process: the runbook's topology, the reference node, the default timing.
    pub fn owned() -> LabSpec {
        LabSpec {
            run: RunId::fresh(),
            owner: Owner::ThisProcess,
            flavour: Flavour::Reference,
            timing: Timing::default(),
            topology: Topology::default(),
        }
    }
}

/// A running lab.
#[derive(Clone)]
pub struct Lab {
    pub engine: Engine,
    pub run: RunId,
    /// The lab network (a /24).
    pub network: Ipv4Net,
    pub topology: Topology,
    /// The admin first, then memcached-1..n.
    pub hosts: Vec<Host>,
}

impl Lab {
    /// Starts the machines: the cache hosts from the host image at once, `arcus` as soon as its
    /// image (checked meanwhile, built if missing) is ready; returns once every sshd answers. On
    /// failure, what was created for this run id is removed (a lab that already had that id is left
    /// alone).
    pub async fn start(engine: &Engine, spec: &LabSpec, progress: &Progress) -> Result<Lab> {
        spec.topology.check().map_err(LabError::from)?;
        let run = &spec.run;
        if !engine.list_containers(LABEL_RUN, Some(run.as_str())).await?.is_empty()
            || !engine.list_networks(LABEL_RUN, Some(run.as_str())).await?.is_empty()
        {
            return Err(LabError::Exists(run.clone()).into());
        }
        match Self::create(engine, spec, progress).await {
            Ok(lab) => Ok(lab),
            Err(e) => {
                let _ = down(engine, run).await;
                Err(e)
            }
        }
    }

    async fn create(engine: &Engine, spec: &LabSpec, progress: &Progress) -> Result<Lab> {
        let host_image = images::ensure_host(engine, progress).await?;
        let run = &spec.run;
        let step = progress.step(format!("creating network {}", run.network()));
        let network = create_network(engine, run, labels(spec, "network")).await?;
        step.finish(&network.to_string());

        let hosts: Vec<Host> = spec
            .topology
            .host_names()
            .into_iter()
            .map(|name| Host { name, ip: host_ip(network, name), container: run.container(name) })
            .collect();
        let extra_hosts: Vec<String> = hosts.iter().map(|h| format!("{}:{}", h.name, h.ip)).collect();
        let container = |host: &Host, image: String| {
            let mut labels = labels(spec, host.name.role());
            labels.insert(LABEL_HOST.into(), host.name.to_string());
            labels.insert(LABEL_IP.into(), host.ip.to_string());
            ContainerSpec {
                name: host.container.clone(),
                image,
                hostname: host.name.to_string(),
                network: run.network(),
                ip: host.ip,
                aliases: vec![host.name.to_string()],
                extra_hosts: extra_hosts.clone(),
                labels,
                env: vec![format!("ARCUS_ZK_PROFILE={}", spec.timing.name())],
            }
        };
        let names: Vec<String> = hosts.iter().map(|h| h.name.to_string()).collect();
        let step = progress.step(format!("starting {}", names.join(", ")));
        let cache_hosts = try_join_all(hosts.iter().filter(|h| !h.name.is_admin()).map(|host| {
            let spec = container(host, host_image.clone());
            async move { anyhow::Ok(engine.run_container(&spec).await?) }
        }));
        let admin_host = async {
            let image = images::ensure_admin(engine, &host_image, &spec.flavour, progress).await?;
            let admin = hosts.iter().find(|h| h.name.is_admin()).expect("every topology has the admin");
            anyhow::Ok(engine.run_container(&container(admin, image)).await?)
        };
        tokio::try_join!(cache_hosts, admin_host)?;
        step.done();

        let lab = Lab { engine: engine.clone(), run: run.clone(), network, topology: spec.topology.clone(), hosts };
        let step = progress.step("waiting for sshd on every host");
        lab.wait_sshd(spec.timing.started()).await?;
        step.done();
        Ok(lab)
    }

    /// Finds a running lab by its run id.
    pub async fn attach(engine: &Engine, run: &RunId) -> Result<Lab> {
        let containers = engine.list_containers(LABEL_RUN, Some(run.as_str())).await?;
        let mut hosts = Vec::new();
        let mut topology = None;
        for c in containers {
            let (Some(name), Some(ip)) = (c.labels.get(LABEL_HOST), c.labels.get(LABEL_IP)) else { continue };
            let name: HostName = name.parse().map_err(anyhow::Error::msg).with_context(|| c.name.clone())?;
            let ip: Ipv4Addr = ip.parse().with_context(|| format!("label {LABEL_IP} of {}", c.name))?;
            if let Some(t) = c.labels.get(LABEL_TOPOLOGY) {
                topology = Some(parse_topology(t).with_context(|| format!("label {LABEL_TOPOLOGY} of {}", c.name))?);
            }
            hosts.push(Host { name, ip, container: c.name.clone() });
        }
        if hosts.is_empty() {
            return Err(LabError::UnknownRun(run.to_string()).into());
        }
        hosts.sort_by_key(|h| h.name);
        let network = Ipv4Net::new(hosts[0].ip, 24).expect("24 is a prefix length").trunc();
        let topology = topology.unwrap_or_default();
        Ok(Lab { engine: engine.clone(), run: run.clone(), network, topology, hosts })
    }

    /// A host of this lab.
    pub fn host(&self, name: HostName) -> Result<&Host, LabError> {
        self.hosts.iter().find(|h| h.name == name).ok_or_else(|| self.unknown(&name.to_string()))
    }

    /// A host of this lab by the name a person typed.
    pub fn host_named(&self, name: &str) -> Result<&Host, LabError> {
        let parsed: HostName = name.parse().map_err(|_| self.unknown(name))?;
        self.host(parsed)
    }

    fn unknown(&self, name: &str) -> LabError {
        LabError::UnknownHost { run: self.run.to_string(), host: name.to_string(), hosts: self.topology.host_list() }
    }

    /// The cache hosts, memcached-1..n.
    pub fn cache_hosts(&self) -> impl Iterator<Item = &Host> {
        self.hosts.iter().filter(|h| !h.name.is_admin())
    }

    pub fn guard(&self) -> AddressGuard {
        AddressGuard::new(vec![self.network])
    }

    /// Runs a command on a host (as root, through the engine) and collects its output.
    pub async fn exec(&self, host: HostName, cmd: &[&str]) -> Result<ExecOutput> {
        let container = &self.host(host)?.container;
        Ok(self.engine.exec(container, cmd).await?)
    }

    /// `sh -c <script>` on a host.
    pub async fn sh(&self, host: HostName, script: &str) -> Result<ExecOutput> {
        self.exec(host, &["sh", "-c", script]).await
    }

    /// `sh -c <script>` on a host with `input` on its standard input.
    pub async fn sh_with_input(&self, host: HostName, script: &str, input: &[u8]) -> Result<ExecOutput> {
        let container = &self.host(host)?.container;
        Ok(self.engine.exec_with_input(container, &["sh", "-c", script], Some(input)).await?)
    }

    /// Each host's container state (`running`, `exited`, `paused`, ...).
    pub async fn states(&self) -> Result<HashMap<HostName, String>> {
        let containers = self.engine.list_containers(LABEL_RUN, Some(self.run.as_str())).await?;
        Ok(containers.into_iter().filter_map(|c| Some((c.labels.get(LABEL_HOST)?.parse().ok()?, c.state))).collect())
    }

    /// Waits until every host's sshd sends its banner.
    pub async fn wait_sshd(&self, deadline: Duration) -> Result<()> {
        let guard = self.guard();
        try_join_all(self.hosts.iter().map(|host| {
            let guard = guard.clone();
            let addr = SocketAddr::new(IpAddr::V4(host.ip), 22);
            async move {
                wait::until(&format!("sshd on {} ({addr})", host.name), deadline, wait::POLL, || {
                    let guard = guard.clone();
                    async move { ssh_banner(&guard, addr).await.map_err(|e| format!("{e:#}")) }
                })
                .await
            }
        }))
        .await?;
        Ok(())
    }
}

/// Removes every container and network labelled with the run id; returns how many containers
/// went. A container that appears while tearing down (a create still in flight) is swept too.
pub async fn down(engine: &Engine, run: &RunId) -> Result<usize> {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let (mut removed, mut quiet_looks) = (0, 0);
    // Two empty looks in a row: nothing was still being created when the teardown began.
    while quiet_looks < 2 {
        let containers = engine.list_containers(LABEL_RUN, Some(run.as_str())).await?;
        let networks = engine.list_networks(LABEL_RUN, Some(run.as_str())).await?;
        if containers.is_empty() && networks.is_empty() {
            quiet_looks += 1;
        } else {
            quiet_looks = 0;
            removed += containers.len();
            try_join_all(containers.iter().map(|c| engine.remove_container(&c.name))).await?;
            for n in &networks {
                engine.remove_network(&n.name).await?;
            }
        }
        anyhow::ensure!(
            std::time::Instant::now() < deadline,
            "gave up after 30 s removing lab {run}: {} containers and {} networks remain",
            containers.len(),
            networks.len()
        );
        if quiet_looks < 2 {
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }
    Ok(removed)
}

/// Run ids of every lab on the engine, with their owner label.
pub async fn list_runs(engine: &Engine) -> Result<Vec<(RunId, String)>> {
    let mut runs: Vec<(RunId, String)> = Vec::new();
    let containers = engine.list_containers(LABEL_RUN, None).await?;
    let networks = engine.list_networks(LABEL_RUN, None).await?;
    let labelled = containers.iter().map(|c| &c.labels).chain(networks.iter().map(|n| &n.labels));
    for labels in labelled {
        let (Some(run), owner) = (labels.get(LABEL_RUN), labels.get(LABEL_OWNER).cloned().unwrap_or_default()) else {
            continue;
        };
        let Ok(run) = RunId::parse(run) else { continue };
        if !runs.iter().any(|(r, _)| *r == run) {
            runs.push((run, owner));
        }
    }
    runs.sort();
    Ok(runs)
}

/// Removes the labs whose owning process is gone; `kept` labs stay. Returns the removed ids.
pub async fn gc(engine: &Engine) -> Result<Vec<RunId>> {
    let mut removed = Vec::new();
    for (run, owner) in list_runs(engine).await? {
        if is_abandoned(&owner) {
            down(engine, &run).await?;
            removed.push(run);
        }
    }
    Ok(removed)
}

fn labels(spec: &LabSpec, role: &str) -> HashMap<String, String> {
    HashMap::from([
        (LABEL_RUN.to_string(), spec.run.to_string()),
        (LABEL_ROLE.to_string(), role.to_string()),
        (LABEL_OWNER.to_string(), spec.owner.label()),
        (LABEL_TOPOLOGY.to_string(), topology_label(&spec.topology)),
    ])
}

/// `hosts=3 zk=3 nodes-per-host=2 services=ruo91-cloud`.
fn topology_label(t: &Topology) -> String {
    format!("hosts={} zk={} nodes-per-host={} services={}", t.hosts, t.zk, t.nodes_per_host, t.services.join(","))
}

fn parse_topology(label: &str) -> Result<Topology> {
    let mut t = Topology::default();
    for pair in label.split_whitespace() {
        let (key, value) = pair.split_once('=').with_context(|| format!("{pair:?} is not key=value"))?;
        match key {
            "hosts" => t.hosts = value.parse()?,
            "zk" => t.zk = value.parse()?,
            "nodes-per-host" => t.nodes_per_host = value.parse()?,
            "services" => t.services = value.split(',').map(str::to_string).collect(),
            other => anyhow::bail!("unknown key {other:?}"),
        }
    }
    Ok(t)
}

/// The admin at `.10`, memcached-n at `.10 + n` (the runbook's order).
fn host_ip(network: Ipv4Net, host: HostName) -> Ipv4Addr {
    let o = network.network().octets();
    let last = match host {
        HostName::Admin => 10,
        HostName::Cache(n) => 10 + n,
    };
    Ipv4Addr::new(o[0], o[1], o[2], last)
}

/// Creates the run's network on the first free /24 of the pool.
async fn create_network(engine: &Engine, run: &RunId, labels: HashMap<String, String>) -> Result<Ipv4Net> {
    for network in guard::candidates(run.as_str()) {
        let mut taken: Vec<Ipv4Net> =
            engine.network_subnets().await?.iter().filter_map(|s| s.parse::<Ipv4Net>().ok()).collect();
        taken.extend(guard::host_routes());
        if guard::overlaps(network, &taken) {
            continue;
        }
        let gateway = network.hosts().next().expect("a /24 has hosts");
        if engine.create_network(&run.network(), &network.to_string(), &gateway.to_string(), labels.clone()).await? {
            return Ok(network);
        }
    }
    Err(LabError::NoFreeSubnet.into())
}

async fn ssh_banner(guard: &AddressGuard, addr: SocketAddr) -> Result<()> {
    let mut stream =
        tokio::time::timeout(Duration::from_millis(500), guard.connect(addr)).await.context("connect timed out")??;
    let mut buf = [0u8; 8];
    let n = tokio::time::timeout(Duration::from_millis(1000), stream.read(&mut buf)).await.context("no banner")??;
    anyhow::ensure!(buf[..n].starts_with(b"SSH-"), "no SSH banner: {:?}", String::from_utf8_lossy(&buf[..n]));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_topology_label_round_trips() {
        let t = Topology { hosts: 5, zk: 5, nodes_per_host: 1, services: vec!["a".into(), "b".into()] };
        assert_eq!(parse_topology(&topology_label(&t)).unwrap(), t);
        assert_eq!(parse_topology(&topology_label(&Topology::default())).unwrap(), Topology::default());
    }

    #[test]
    fn addresses_follow_the_runbooks_order() {
        let net: Ipv4Net = "10.213.7.0/24".parse().unwrap();
        assert_eq!(host_ip(net, HostName::Admin), Ipv4Addr::new(10, 213, 7, 10));
        assert_eq!(host_ip(net, HostName::Cache(3)), Ipv4Addr::new(10, 213, 7, 13));
    }
}
