//! The lab: the runbook's four machines (`arcus`, `memcached-1..3`) on a private network with
//! fixed addresses, identified by a run id. `up`, `attach`, `down`, `gc`, `exec`, and the address
//! guard that refuses any target outside the lab's subnets (loopback excepted).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use anyhow::{Context, Result};
use futures_util::future::try_join_all;
use tokio::io::AsyncReadExt;

use crate::engine::{ContainerSpec, Engine, ExecOutput, LABEL_ROLE, LABEL_RUN};
use crate::flavour::Flavour;
use crate::images;
use crate::progress::Progress;
use crate::runbook::{self, Step};
use crate::timing::Timing;
use crate::wait;

/// The runbook's hostnames, admin first.
pub const HOSTNAMES: [&str; 4] = ["arcus", "memcached-1", "memcached-2", "memcached-3"];
/// Label: which of the four hosts a container is.
pub use arcus_facts::labels::HOST as LABEL_HOST;
/// Label: the host's address (so that a lab can be found again from its containers).
pub use arcus_facts::labels::IP as LABEL_IP;
/// Label: the process that owns the lab (`<pid>:<start time>`), or `kept` for `lab up`.
pub use arcus_facts::labels::OWNER as LABEL_OWNER;
/// The /16 the lab carves its /24 networks from.
const POOL: [u8; 2] = [10, 213];

#[derive(Debug, thiserror::Error)]
pub enum LabError {
    #[error("run id {0:?} is not usable in Docker names: use 1-32 letters, digits, '_', '.' or '-', starting with a letter or digit")]
    BadRunId(String),
    #[error("no lab with run id {0:?} on this engine (see `cargo xtask lab status --all`)")]
    UnknownRun(String),
    #[error("no host {host:?} in lab {run}: the hosts are arcus, memcached-1, memcached-2, memcached-3")]
    UnknownHost { run: String, host: String },
    #[error("refusing to send traffic to {0}: it is outside the lab's networks and not loopback")]
    OutsideLab(IpAddr),
    #[error("no free /24 left in {}.{}.0.0/16 for a new lab network", POOL[0], POOL[1])]
    NoFreeSubnet,
}

/// A lab's identity on the engine; part of every name and the value of the run label.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RunId(String);

impl RunId {
    pub fn parse(id: &str) -> Result<RunId, LabError> {
        let ok_first = id.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
        let ok_rest = id.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
        if ok_first && ok_rest && id.len() <= 32 {
            Ok(RunId(id.to_string()))
        } else {
            Err(LabError::BadRunId(id.to_string()))
        }
    }

    /// A fresh id: six hex digits from the clock and the process id.
    pub fn fresh() -> RunId {
        let nanos =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        let mixed = (nanos ^ ((std::process::id() as u128) << 32)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        RunId(format!("{:06x}", (mixed >> 40) as u32 & 0xFF_FFFF))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn network(&self) -> String {
        format!("arcuslab-{}", self.0)
    }

    pub fn container(&self, host: &str) -> String {
        format!("arcuslab-{}-{host}", self.0)
    }
}

impl std::fmt::Display for RunId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Refuses any address outside the lab's /24 networks; loopback is always allowed.
#[derive(Debug, Clone)]
pub struct AddressGuard {
    networks: Vec<Ipv4Addr>,
}

impl AddressGuard {
    /// A guard for the given /24 network addresses (`x.y.z.0`).
    pub fn new(networks: Vec<Ipv4Addr>) -> AddressGuard {
        AddressGuard { networks }
    }

    pub fn check(&self, ip: IpAddr) -> Result<(), LabError> {
        let inside = match ip {
            IpAddr::V4(v4) => v4.is_loopback() || self.networks.iter().any(|n| n.octets()[..3] == v4.octets()[..3]),
            IpAddr::V6(v6) => v6.is_loopback(),
        };
        if inside {
            Ok(())
        } else {
            Err(LabError::OutsideLab(ip))
        }
    }

    /// Connects to `addr` after checking it.
    pub async fn connect(&self, addr: SocketAddr) -> Result<tokio::net::TcpStream> {
        self.check(addr.ip())?;
        tokio::net::TcpStream::connect(addr).await.with_context(|| format!("connect to {addr}"))
    }
}

/// One machine of the lab.
#[derive(Debug, Clone)]
pub struct Host {
    pub name: String,
    pub ip: Ipv4Addr,
    pub container: String,
}

impl Host {
    pub fn role(&self) -> &'static str {
        if self.name == "arcus" {
            "admin"
        } else {
            "host"
        }
    }
}

/// Who owns a lab: `lab up` keeps it until `lab down`; anything else (tests, `lab run`) owns it
/// through its process, and `lab gc` removes it once that process is gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    Kept,
    ThisProcess,
}

/// How far `Lab::up` goes: four bare machines, or through the runbook up to a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Bare,
    Runbook(Step),
}

/// What `Lab::up` needs.
#[derive(Debug, Clone)]
pub struct UpOptions {
    pub run: RunId,
    pub owner: Owner,
    pub flavour: Flavour,
    pub level: Level,
    pub timing: Timing,
}

impl UpOptions {
    /// A lab owned by this process, reference node, fast timing.
    pub fn owned(level: Level) -> UpOptions {
        UpOptions {
            run: RunId::fresh(),
            owner: Owner::ThisProcess,
            flavour: Flavour::Reference,
            level,
            timing: Timing::Fast,
        }
    }
}

/// A running lab.
#[derive(Clone)]
pub struct Lab {
    pub engine: Engine,
    pub run: RunId,
    /// The lab network's address, `x.y.z.0` (a /24).
    pub network: Ipv4Addr,
    pub hosts: Vec<Host>,
}

impl Lab {
    /// Builds missing images, starts the four machines with sshd answering and runs the runbook
    /// as far as the level says. On any failure everything created for this run is removed
    /// before the error is returned.
    pub async fn up(engine: &Engine, options: &UpOptions, progress: &Progress) -> Result<Lab> {
        let host_image = images::ensure_host(engine, progress).await?;
        let started = async {
            let lab = Self::start(engine, options, &host_image, progress).await?;
            if let Level::Runbook(until) = options.level {
                runbook::run(&lab, Step::Zklist, until, progress).await?;
            }
            anyhow::Ok(lab)
        };
        match started.await {
            Ok(lab) => Ok(lab),
            Err(e) => {
                let _ = down(engine, &options.run).await;
                Err(e)
            }
        }
    }

    /// Starts the four machines: the hosts from `host_image` at once, `arcus` as soon as its image
    /// (checked meanwhile, built if missing) is ready; returns once every sshd answers.
    async fn start(engine: &Engine, options: &UpOptions, host_image: &str, progress: &Progress) -> Result<Lab> {
        let run = &options.run;
        if !engine.list_containers(LABEL_RUN, Some(run.as_str())).await?.is_empty() {
            anyhow::bail!(
                "a lab with run id {run} already exists (tear it down with `cargo xtask lab down --run {run}`)"
            );
        }
        let step = progress.step(format!("creating network {}", run.network()));
        let network = create_network(engine, run, labels(run, options.owner, "network")).await?;
        step.finish(&format!("{network}/24"));

        let hosts: Vec<Host> = HOSTNAMES
            .iter()
            .enumerate()
            .map(|(i, name)| Host { name: name.to_string(), ip: host_ip(network, i), container: run.container(name) })
            .collect();
        let extra_hosts: Vec<String> = hosts.iter().map(|h| format!("{}:{}", h.name, h.ip)).collect();
        let spec = |host: &Host, image: String| {
            let mut labels = labels(run, options.owner, host.role());
            labels.insert(LABEL_HOST.into(), host.name.clone());
            labels.insert(LABEL_IP.into(), host.ip.to_string());
            ContainerSpec {
                name: host.container.clone(),
                image,
                hostname: host.name.clone(),
                network: run.network(),
                ip: host.ip,
                aliases: vec![host.name.clone()],
                extra_hosts: extra_hosts.clone(),
                labels,
                env: vec![format!("ARCUS_ZK_PROFILE={}", options.timing.name())],
            }
        };
        let step = progress.step("starting arcus, memcached-1, memcached-2, memcached-3");
        let memcached_hosts = try_join_all(hosts.iter().filter(|h| h.name != "arcus").map(|host| {
            let spec = spec(host, host_image.to_string());
            async move { anyhow::Ok(engine.run_container(&spec).await?) }
        }));
        let admin_host = async {
            let image = images::ensure_admin(engine, host_image, &options.flavour, progress).await?;
            let admin = hosts.iter().find(|h| h.name == "arcus").expect("arcus is one of HOSTNAMES");
            anyhow::Ok(engine.run_container(&spec(admin, image)).await?)
        };
        tokio::try_join!(memcached_hosts, admin_host)?;
        step.done();

        let lab = Lab { engine: engine.clone(), run: run.clone(), network, hosts };
        let step = progress.step("waiting for sshd on every host");
        lab.wait_sshd(Duration::from_secs(30)).await?;
        step.done();
        Ok(lab)
    }

    /// Finds a running lab by its run id.
    pub async fn attach(engine: &Engine, run: &RunId) -> Result<Lab> {
        let containers = engine.list_containers(LABEL_RUN, Some(run.as_str())).await?;
        let mut hosts = Vec::new();
        for c in containers {
            let (Some(name), Some(ip)) = (c.labels.get(LABEL_HOST), c.labels.get(LABEL_IP)) else { continue };
            let ip: Ipv4Addr = ip.parse().with_context(|| format!("label {LABEL_IP} of {}", c.name))?;
            hosts.push(Host { name: name.clone(), ip, container: c.name.clone() });
        }
        if hosts.is_empty() {
            return Err(LabError::UnknownRun(run.to_string()).into());
        }
        hosts.sort_by_key(|h| HOSTNAMES.iter().position(|n| *n == h.name));
        let o = hosts[0].ip.octets();
        let network = Ipv4Addr::new(o[0], o[1], o[2], 0);
        Ok(Lab { engine: engine.clone(), run: run.clone(), network, hosts })
    }

    pub fn host(&self, name: &str) -> Result<&Host, LabError> {
        self.hosts
            .iter()
            .find(|h| h.name == name)
            .ok_or_else(|| LabError::UnknownHost { run: self.run.to_string(), host: name.to_string() })
    }

    pub fn guard(&self) -> AddressGuard {
        AddressGuard::new(vec![self.network])
    }

    /// Runs a command on a host (as root, through the engine) and collects its output.
    pub async fn exec(&self, host: &str, cmd: &[&str]) -> Result<ExecOutput> {
        let container = &self.host(host)?.container;
        Ok(self.engine.exec(container, cmd).await?)
    }

    /// `sh -c <script>` on a host.
    pub async fn sh(&self, host: &str, script: &str) -> Result<ExecOutput> {
        self.exec(host, &["sh", "-c", script]).await
    }

    /// Each host's container state (`running`, `exited`, `paused`, ...).
    pub async fn states(&self) -> Result<HashMap<String, String>> {
        let containers = self.engine.list_containers(LABEL_RUN, Some(self.run.as_str())).await?;
        Ok(containers.into_iter().filter_map(|c| Some((c.labels.get(LABEL_HOST)?.clone(), c.state))).collect())
    }

    /// Waits until every host's sshd sends its banner.
    pub async fn wait_sshd(&self, deadline: Duration) -> Result<()> {
        let guard = self.guard();
        try_join_all(self.hosts.iter().map(|host| {
            let guard = guard.clone();
            let addr = SocketAddr::new(IpAddr::V4(host.ip), 22);
            async move {
                wait::until(&format!("sshd on {} ({addr})", host.name), deadline, Duration::from_millis(50), || {
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
    runs.sort_by(|a, b| a.0 .0.cmp(&b.0 .0));
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

fn labels(run: &RunId, owner: Owner, role: &str) -> HashMap<String, String> {
    let owner = match owner {
        Owner::Kept => "kept".to_string(),
        Owner::ThisProcess => owner_label().1,
    };
    HashMap::from([
        (LABEL_RUN.to_string(), run.to_string()),
        (LABEL_ROLE.to_string(), role.to_string()),
        (LABEL_OWNER.to_string(), owner),
    ])
}

/// The owner label of resources this process creates outside `Lab::up` (single-container
/// test fixtures), so that `lab gc` removes them only once this process is gone.
pub fn owner_label() -> (&'static str, String) {
    (LABEL_OWNER, process_identity(std::process::id()).unwrap_or_else(|| "unknown".into()))
}

/// `<pid>:<start time in ticks since boot>`: a pid alone may be reused.
fn process_identity(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // the command name may hold spaces: fields after the closing parenthesis
    let after = &stat[stat.rfind(')')? + 2..];
    let start = after.split_whitespace().nth(19)?;
    Some(format!("{pid}:{start}"))
}

/// Whether a lab with this owner label is abandoned: not kept by `lab up`, and its owning process
/// is gone (or it never had an owner).
pub fn is_abandoned(owner: &str) -> bool {
    if owner == "kept" {
        return false;
    }
    let Some(pid) = owner.split(':').next().and_then(|p| p.parse::<u32>().ok()) else { return true };
    process_identity(pid).as_deref() != Some(owner)
}

fn host_ip(network: Ipv4Addr, index: usize) -> Ipv4Addr {
    let o = network.octets();
    Ipv4Addr::new(o[0], o[1], o[2], 10 + index as u8)
}

/// Creates the run's network on the first free /24 of the pool, starting at a place derived
/// from the run id so that labs created at the same moment rarely try the same one.
async fn create_network(engine: &Engine, run: &RunId, labels: HashMap<String, String>) -> Result<Ipv4Addr> {
    let start = run.as_str().bytes().fold(0u8, |a, b| a.wrapping_mul(31).wrapping_add(b));
    for offset in 0..=255u8 {
        let third = start.wrapping_add(offset);
        let network = Ipv4Addr::new(POOL[0], POOL[1], third, 0);
        if subnet_in_use(engine, network).await? {
            continue;
        }
        let gateway = Ipv4Addr::new(POOL[0], POOL[1], third, 1);
        if engine.create_network(&run.network(), &format!("{network}/24"), &gateway.to_string(), labels.clone()).await?
        {
            return Ok(network);
        }
    }
    Err(LabError::NoFreeSubnet.into())
}

/// Whether a /24 overlaps a Docker network or a route of the host.
async fn subnet_in_use(engine: &Engine, network: Ipv4Addr) -> Result<bool> {
    let mut taken: Vec<(u32, u32)> = Vec::new();
    for subnet in engine.network_subnets().await? {
        if let Some((addr, len)) = subnet.split_once('/') {
            if let (Ok(addr), Ok(len)) = (addr.parse::<Ipv4Addr>(), len.parse::<u32>()) {
                taken.push((u32::from(addr), len));
            }
        }
    }
    taken.extend(host_routes());
    let ours = u32::from(network);
    Ok(taken.iter().any(|&(addr, len)| {
        let len = len.min(24);
        let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
        addr & mask == ours & mask
    }))
}

/// The host's IPv4 routes other than the default one, as (network, prefix length).
fn host_routes() -> Vec<(u32, u32)> {
    let Ok(text) = std::fs::read_to_string("/proc/net/route") else { return Vec::new() };
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let dest = u32::from_str_radix(f.get(1)?, 16).ok()?.swap_bytes();
            let mask = u32::from_str_radix(f.get(7)?, 16).ok()?.swap_bytes();
            (mask != 0).then_some((dest, mask.count_ones()))
        })
        .collect()
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
    fn run_ids_docker_would_reject_are_refused() {
        for bad in ["", "-x", "a b", "a/b", "ä", &"x".repeat(33)] {
            assert!(RunId::parse(bad).is_err(), "{bad:?} accepted");
        }
        for good in ["a", "r1", "ci-42_x.y", &"x".repeat(32)] {
            assert!(RunId::parse(good).is_ok(), "{good:?} refused");
        }
    }

    #[test]
    fn fresh_run_ids_are_valid() {
        assert!(RunId::parse(RunId::fresh().as_str()).is_ok());
    }

    #[test]
    fn guard_allows_the_lab_and_loopback_only() {
        let guard = AddressGuard::new(vec![Ipv4Addr::new(10, 213, 7, 0)]);
        assert!(guard.check("10.213.7.11".parse().unwrap()).is_ok());
        assert!(guard.check("127.0.0.1".parse().unwrap()).is_ok());
        assert!(guard.check("::1".parse().unwrap()).is_ok());
        for outside in ["10.213.8.11", "8.8.8.8", "192.168.1.1", "172.17.0.2"] {
            let err = guard.check(outside.parse().unwrap()).unwrap_err();
            assert!(err.to_string().contains(outside), "{err}");
        }
    }
}
