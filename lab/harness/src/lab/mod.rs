//! The lab: typed hosts on a private network with fixed addresses, identified by a run id, in the
//! shape its [`Topology`] gives (by default the runbook's four machines `arcus`,
//! `memcached-1..3`). Lifecycle (`start`, `attach`, `mark`, `down`, `undo`, `gc`), what each lab on
//! the engine is ([`LabInfo`]), `exec` on a host, the address guard, and what a lab leaves behind
//! ([`traces`]). It knows nothing of the runbook: the cloud layer (`crate::cloud`) types that.

mod guard;
mod run_id;
mod topology;
pub mod traces;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use anyhow::{Context, Result};
use futures_util::future::try_join_all;
use ipnet::Ipv4Net;
use tokio::io::AsyncReadExt;

pub use guard::AddressGuard;
pub use run_id::{owner_alive, owner_label, owner_pid, session, Maker, Owner, RunId, SESSION_VAR};
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
/// Label: the process that made the lab and which of its labs (`<pid>:<start time>:<n>`).
pub use arcus_facts::labels::OWNER as LABEL_OWNER;
/// Label: the session of the command the lab was made under (see [`session`]).
pub use arcus_facts::labels::SESSION as LABEL_SESSION;
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
    /// The owner label of everything this lab's `up` makes; its failure and interrupt paths
    /// remove what carries it, and nothing else.
    pub maker: Maker,
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
            maker: Maker::fresh(),
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
    /// image (checked meanwhile, built if missing) is ready; returns once every sshd answers. A run
    /// id in use is refused before anything is made. On failure, what this call made is removed
    /// ([`undo`]) and nothing else: not a lab that had that id, not one that took it meanwhile.
    pub async fn start(engine: &Engine, spec: &LabSpec, progress: &Progress) -> Result<Lab> {
        spec.topology.check().map_err(LabError::from)?;
        if exists(engine, &spec.run).await? {
            return Err(LabError::Exists(spec.run.clone()).into());
        }
        match Self::create(engine, spec, progress).await {
            Ok(lab) => Ok(lab),
            Err(e) => match undo(engine, spec).await {
                Ok(_) => Err(e),
                Err(undo) => Err(e.context(format!("and removing what it had made failed: {undo:#}"))),
            },
        }
    }

    async fn create(engine: &Engine, spec: &LabSpec, progress: &Progress) -> Result<Lab> {
        let host_image = images::ensure_host(engine, progress).await?;
        let run = &spec.run;
        let step = progress.step(format!("creating network {}", run.network()));
        let network = create_network(engine, spec).await?;
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

/// Whether anything on the engine carries the run id.
async fn exists(engine: &Engine, run: &RunId) -> Result<bool> {
    let id = Some(run.as_str());
    Ok(!engine.list_containers(LABEL_RUN, id).await?.is_empty()
        || !engine.list_networks(LABEL_RUN, id).await?.is_empty()
        || !engine.list_volumes(LABEL_RUN, id).await?.is_empty())
}

/// What a marker volume says of its lab; `up` adds one once it has finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// `up` finished; the lab is its owner's.
    Made,
    /// `up` finished, and the lab stays until `lab down` (`lab up`, `--keep-on-failure`).
    Kept,
}

impl Mark {
    /// The marker's role label and the end of its name.
    fn role(self) -> &'static str {
        match self {
            Mark::Made => "made",
            Mark::Kept => "kept",
        }
    }
}

/// Marks the lab (a labelled empty volume `arcuslab-<run>-made` or `-kept`: a label cannot be
/// added to what exists, a marker can).
pub async fn mark(engine: &Engine, spec: &LabSpec, mark: Mark) -> Result<()> {
    let name = format!("{}-{}", spec.run.network(), mark.role());
    Ok(engine.create_volume(&name, labels(spec, mark.role())).await?)
}

/// Removes every container, network and marker labelled with the run id (`lab down`, `lab gc`);
/// returns how many containers went.
pub async fn down(engine: &Engine, run: &RunId) -> Result<usize> {
    remove(engine, run, None).await
}

/// Removes what the spec's `up` made (its maker's resources of its run id) and nothing else: the
/// failure and interrupt paths of whatever made a lab, and its owner's teardown.
pub async fn undo(engine: &Engine, spec: &LabSpec) -> Result<usize> {
    remove(engine, &spec.run, Some(&spec.maker)).await
}

/// Removes the run's containers, networks and markers (only `maker`'s if given). A container that
/// appears while tearing down (a create still in flight) is swept too.
async fn remove(engine: &Engine, run: &RunId, maker: Option<&Maker>) -> Result<usize> {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let mine = |labels: &HashMap<String, String>| {
        maker.is_none_or(|m| labels.get(LABEL_OWNER).map(String::as_str) == Some(m.as_str()))
    };
    let (mut removed, mut quiet_looks) = (0, 0);
    // Two empty looks in a row: nothing was still being created when the teardown began.
    while quiet_looks < 2 {
        let id = Some(run.as_str());
        let containers: Vec<_> =
            engine.list_containers(LABEL_RUN, id).await?.into_iter().filter(|c| mine(&c.labels)).collect();
        let networks: Vec<_> =
            engine.list_networks(LABEL_RUN, id).await?.into_iter().filter(|n| mine(&n.labels)).collect();
        let volumes: Vec<_> =
            engine.list_volumes(LABEL_RUN, id).await?.into_iter().filter(|v| mine(&v.labels)).collect();
        if containers.is_empty() && networks.is_empty() && volumes.is_empty() {
            quiet_looks += 1;
        } else {
            quiet_looks = 0;
            removed += containers.len();
            try_join_all(containers.iter().map(|c| engine.remove_container(&c.name))).await?;
            for n in &networks {
                engine.remove_network(&n.id).await?;
            }
            try_join_all(volumes.iter().map(|v| engine.remove_volume(&v.name))).await?;
        }
        anyhow::ensure!(
            std::time::Instant::now() < deadline,
            "gave up after 30 s removing lab {run}: {} containers, {} networks and {} markers remain",
            containers.len(),
            networks.len(),
            volumes.len()
        );
        if quiet_looks < 2 {
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }
    Ok(removed)
}

/// A lab on the engine, as its labels and markers tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabInfo {
    pub run: RunId,
    /// The owner label of its first resource.
    pub owner: String,
    /// Its `up` finished (a made or kept marker).
    pub made: bool,
    /// It stays until `lab down` (a kept marker, or the `kept` owner of labs made before markers).
    pub kept: bool,
    /// The session label of its first resource.
    pub session: Option<String>,
}

/// What a lab is to `lab status` and `lab gc`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LabState {
    /// Stays until `lab down`.
    Kept,
    /// Its owner runs and its `up` finished.
    InUse { owner: String },
    /// Its owner runs and its `up` has not finished.
    ComingUp { owner: String },
    /// Its owner went before its `up` finished.
    HalfMade { owner: String },
    /// Its owner went after its `up` finished.
    Abandoned { owner: String },
}

impl LabInfo {
    pub fn state(&self) -> LabState {
        let owner = owner_pid(&self.owner).map(|p| p.to_string()).unwrap_or_else(|| format!("{:?}", self.owner));
        match (self.kept, owner_alive(&self.owner), self.made) {
            (true, _, _) => LabState::Kept,
            (false, true, true) => LabState::InUse { owner },
            (false, true, false) => LabState::ComingUp { owner },
            (false, false, false) => LabState::HalfMade { owner },
            (false, false, true) => LabState::Abandoned { owner },
        }
    }
}

impl LabState {
    /// Whether `lab gc` removes it: its owner is gone and it is not kept.
    pub fn is_abandoned(&self) -> bool {
        matches!(self, LabState::HalfMade { .. } | LabState::Abandoned { .. })
    }
}

impl std::fmt::Display for LabState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LabState::Kept => write!(f, "kept until `lab down`"),
            LabState::InUse { owner } => write!(f, "in use by pid {owner}"),
            LabState::ComingUp { owner } => write!(f, "coming up (pid {owner})"),
            LabState::HalfMade { owner } => write!(f, "half-made (owner {owner} gone during up)"),
            LabState::Abandoned { owner } => write!(f, "abandoned (owner {owner} gone)"),
        }
    }
}

/// Every lab on the engine, by run id.
pub async fn labs(engine: &Engine) -> Result<Vec<LabInfo>> {
    let containers = engine.list_containers(LABEL_RUN, None).await?;
    let networks = engine.list_networks(LABEL_RUN, None).await?;
    let volumes = engine.list_volumes(LABEL_RUN, None).await?;
    let mut labs: Vec<LabInfo> = Vec::new();
    let labelled = containers.iter().map(|c| &c.labels).chain(networks.iter().map(|n| &n.labels));
    for labels in labelled.chain(volumes.iter().map(|v| &v.labels)) {
        let Some(Ok(run)) = labels.get(LABEL_RUN).map(|r| RunId::parse(r)) else { continue };
        let owner = labels.get(LABEL_OWNER).cloned().unwrap_or_default();
        let role = labels.get(LABEL_ROLE).map(String::as_str);
        let lab = match labs.iter_mut().find(|l| l.run == run) {
            Some(lab) => lab,
            None => {
                let session = labels.get(LABEL_SESSION).cloned();
                labs.push(LabInfo { run, owner: owner.clone(), made: false, kept: false, session });
                labs.last_mut().expect("just pushed")
            }
        };
        lab.made |= role == Some(Mark::Made.role()) || role == Some(Mark::Kept.role());
        lab.kept |= role == Some(Mark::Kept.role()) || owner == "kept";
    }
    labs.sort_by(|a, b| a.run.cmp(&b.run));
    Ok(labs)
}

/// Removes the labs whose owning process is gone and that are not kept. Returns them.
pub async fn gc(engine: &Engine) -> Result<Vec<LabInfo>> {
    let mut removed = Vec::new();
    for lab in labs(engine).await? {
        if lab.state().is_abandoned() {
            down(engine, &lab.run).await?;
            removed.push(lab);
        }
    }
    Ok(removed)
}

fn labels(spec: &LabSpec, role: &str) -> HashMap<String, String> {
    let session = session().map(|s| (LABEL_SESSION.to_string(), s));
    HashMap::from_iter(session.into_iter().chain([
        (LABEL_RUN.to_string(), spec.run.to_string()),
        (LABEL_ROLE.to_string(), role.to_string()),
        (LABEL_OWNER.to_string(), spec.maker.to_string()),
        (LABEL_TOPOLOGY.to_string(), topology_label(&spec.topology)),
    ]))
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

/// Creates the run's network on the first free /24 of the pool. Another network of the run (a lab
/// with this run id made meanwhile, or at the same time) refuses the run id; the caller's failure
/// path removes ours.
async fn create_network(engine: &Engine, spec: &LabSpec) -> Result<Ipv4Net> {
    let run = &spec.run;
    for network in guard::candidates(run.as_str()) {
        let mut taken: Vec<Ipv4Net> =
            engine.network_subnets().await?.iter().filter_map(|s| s.parse::<Ipv4Net>().ok()).collect();
        taken.extend(guard::host_routes());
        if guard::overlaps(network, &taken) {
            continue;
        }
        let gateway = network.hosts().next().expect("a /24 has hosts");
        let labels = labels(spec, "network");
        if let Some(made) =
            engine.create_network(&run.network(), &network.to_string(), &gateway.to_string(), labels).await?
        {
            // a network of that name made before ours (the engine warns), or at the same time
            let named = engine.list_networks(LABEL_RUN, Some(run.as_str())).await?.len();
            if made.warning.contains("already exists") || named > 1 {
                return Err(LabError::Exists(run.clone()).into());
            }
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
