//! The runbook's admin steps (seed steps 5-14), each typed on the admin host `arcus` exactly as an
//! operator would, from /opt/arcus/scripts, for the lab's topology (the runbook's own: three
//! ZooKeeper members, six nodes of `ruo91-cloud`). `cloud::up` runs them in order (up to
//! `--until`); the scenarios' `runbook` step runs one of them.

use anyhow::{Context, Result};
use futures_util::future::try_join_all;

use super::ready::Ready;
use super::SCRIPTS;
use crate::engine::ExecOutput;
use crate::lab::{HostName, Lab, Topology, RUNBOOK_SERVICE};
use crate::progress::Progress;
use crate::timing::Timing;

/// One runbook step, by the name `--until` takes.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, strum::EnumString, strum::IntoStaticStr, strum::EnumIter,
)]
#[strum(serialize_all = "kebab-case")]
pub enum Step {
    /// 5: point arcus.sh's default zklist at the ZooKeeper members.
    Zklist,
    /// 6: copy the admin's authorized_keys to the hosts (password-less SSH).
    Keys,
    /// 7: write each service's cloud config (conf/ruo91.json).
    Conf,
    /// 8: `./arcus.sh deploy conf/ruo91.json`.
    Deploy,
    /// 9: `./arcus.sh zookeeper init`.
    ZkInit,
    /// 10: `./arcus.sh zookeeper start`, then a leader.
    ZkStart,
    /// 12: `./arcus.sh memcached register conf/ruo91.json`.
    Register,
    /// 13: `./arcus.sh memcached start ruo91-cloud`, then every node joined.
    Start,
    /// 14: `./arcus.sh memcached listall`.
    List,
}

/// One line the operator types on `arcus`, with what it reads on its standard input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub text: String,
    pub input: Option<String>,
}

impl Step {
    pub fn all() -> impl Iterator<Item = Step> {
        <Step as strum::IntoEnumIterator>::iter()
    }

    pub fn name(self) -> &'static str {
        self.into()
    }

    pub fn parse(name: &str) -> Result<Step> {
        name.parse().ok().with_context(|| {
            let names: Vec<&str> = Step::all().map(Step::name).collect();
            format!("unknown runbook step {name:?}: the steps are {}", names.join(", "))
        })
    }

    /// The lines the operator types on `arcus` (in /opt/arcus/scripts): one, or one per service.
    pub fn lines(self, lab: &Lab) -> Result<Vec<Line>> {
        let t = &lab.topology;
        let ip = |h: HostName| lab.host(h).map(|h| h.ip.to_string());
        let line = |text: String| Line { text, input: None };
        Ok(match self {
            Step::Zklist => {
                let members = t.zk_hosts().map(|h| Ok(format!("{}:2181", ip(h)?))).collect::<Result<Vec<_>>>()?;
                vec![line(format!("sed -i 's/127.0.0.1:2181/{}/g' arcus.sh", members.join(",")))]
            }
            // the copies side by side; the line fails if any copy fails
            Step::Keys => {
                let hosts = t.cache_hosts().map(ip).collect::<Result<Vec<_>, _>>()?;
                let copies: Vec<String> = hosts
                    .iter()
                    .enumerate()
                    .map(|(i, ip)| {
                        format!("sshpass -p memcached scp /root/.ssh/authorized_keys root@{ip}:/root/.ssh & p{i}=$!")
                    })
                    .collect();
                let waits: Vec<String> = (0..hosts.len()).map(|i| format!("wait $p{i}")).collect();
                vec![line(format!("{}; {}", copies.join("; "), waits.join(" && ")))]
            }
            Step::Conf => t
                .services
                .iter()
                .map(|svc| {
                    let addresses = lab.hosts.iter().map(|h| (h.name, h.ip.to_string())).collect::<Vec<_>>();
                    Line { text: format!("cat > {}", conf_file(svc)), input: Some(render_conf(t, svc, &addresses)) }
                })
                .collect(),
            // every service runs on every host: the first one's config names them all
            Step::Deploy => vec![line(format!("./arcus.sh deploy {}", conf_file(&t.services[0])))],
            Step::ZkInit => vec![line("./arcus.sh zookeeper init".into())],
            Step::ZkStart => vec![line("./arcus.sh zookeeper start".into())],
            Step::Register => {
                t.services.iter().map(|svc| line(format!("./arcus.sh memcached register {}", conf_file(svc)))).collect()
            }
            Step::Start => t.services.iter().map(|svc| line(format!("./arcus.sh memcached start {svc}"))).collect(),
            Step::List => vec![line("./arcus.sh memcached listall".into())],
        })
    }

    /// What the cloud must show before the next step: a leader after `zookeeper start`, every
    /// node of every service joined after `memcached start`.
    pub fn ready(self, topology: &Topology) -> Vec<Ready> {
        match self {
            Step::ZkStart => vec![Ready::Quorum { not_on: None }],
            Step::Start => topology
                .services
                .iter()
                .map(|svc| Ready::Children {
                    path: arcus_facts::znode::cache_list(svc),
                    count: topology.nodes_per_service(),
                })
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// The config file of a service on the admin host: the runbook's `conf/ruo91.json` for its own
/// service, `conf/<service>.json` for others.
pub fn conf_file(service: &str) -> String {
    if service == RUNBOOK_SERVICE {
        "conf/ruo91.json".into()
    } else {
        format!("conf/{service}.json")
    }
}

/// A service's cloud config, laid out as the runbook's `conf/ruo91.json` (fixtures/ruo91.json):
/// every host with the service's ports, the runbook's threads, memlimit and connections.
/// `addresses` gives each host's address (or a placeholder).
pub fn render_conf(topology: &Topology, service: &str, addresses: &[(HostName, String)]) -> String {
    let mut servers = Vec::new();
    for host in topology.cache_hosts() {
        let ip = addresses.iter().find(|(h, _)| *h == host).map(|(_, ip)| ip.as_str()).unwrap_or_default();
        for port in topology.ports(service) {
            servers.push(format!(
                "{{ \"hostname\": \"{host}\", \"ip\": \"{ip}\",\n          \"config\": {{\n              \"port\"   : \"{port}\"\n          }}\n        }}"
            ));
        }
    }
    format!(
        "{{\n    \"serviceCode\": \"{service}\"\n  , \"servers\": [\n        {}\n    ]\n  , \"config\": {{\n        \"threads\"    : \"6\"\n      , \"memlimit\"   : \"100\"\n      , \"connections\": \"1000\"\n    }}\n}}\n",
        servers.join("\n      , ")
    )
}

/// Runs one step's lines on `arcus`; a non-zero exit is an error carrying the line's output.
/// Returns each line with its output.
pub async fn run_step(lab: &Lab, step: Step) -> Result<Vec<(Line, ExecOutput)>> {
    let mut done = Vec::new();
    for line in step.lines(lab)? {
        let script = format!("cd {SCRIPTS} && {}", line.text);
        let out = match &line.input {
            Some(input) => lab.sh_with_input(HostName::Admin, &script, input.as_bytes()).await?,
            None => lab.sh(HostName::Admin, &script).await?,
        };
        anyhow::ensure!(
            out.exit == 0,
            "runbook step {} (`{}`) exited {}:\n{}{}",
            step.name(),
            line.text,
            out.exit,
            out.stdout,
            out.stderr
        );
        done.push((line, out));
    }
    Ok(done)
}

/// The steps that prepare the admin host (5-7): each touches only its own file (arcus.sh's zklist,
/// the hosts' authorized_keys, the cloud configs), so `run` does them side by side.
const PREPARATION: [Step; 3] = [Step::Zklist, Step::Keys, Step::Conf];

/// Runs the steps from `from` through `until`, each followed by its ready conditions. The
/// preparation steps in that range run side by side, the rest in order.
pub async fn run(lab: &Lab, from: Step, until: Step, timing: Timing, progress: &Progress) -> Result<()> {
    let steps: Vec<Step> = Step::all().filter(|s| (from..=until).contains(s)).collect();
    let (preparation, rest): (Vec<Step>, Vec<Step>) = steps.into_iter().partition(|s| PREPARATION.contains(s));
    try_join_all(preparation.into_iter().map(|step| run_shown(lab, step, timing, progress))).await?;
    for step in rest {
        run_shown(lab, step, timing, progress).await?;
    }
    Ok(())
}

/// One step with its progress line, and the waits that follow it.
async fn run_shown(lab: &Lab, step: Step, timing: Timing, progress: &Progress) -> Result<()> {
    let shown = progress.step(format!("runbook step {}", step.name()));
    run_step(lab, step).await?;
    for ready in step.ready(&lab.topology) {
        let deadline = if step == Step::Start { timing.nodes_joined() } else { timing.started() };
        ready.wait(lab, deadline, timing).await?;
    }
    shown.done();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_runbooks_conf_is_the_seeds_file() {
        let fixture = std::fs::read_to_string(crate::paths::workspace_root().join("fixtures/ruo91.json")).unwrap();
        let t = Topology::default();
        let placeholders: Vec<(HostName, String)> = t.cache_hosts().map(|h| (h, format!("{{{{{h}}}}}"))).collect();
        assert_eq!(render_conf(&t, RUNBOOK_SERVICE, &placeholders), fixture);
    }

    #[test]
    fn step_names_are_the_until_names() {
        let names: Vec<&str> = Step::all().map(Step::name).collect();
        assert_eq!(names, ["zklist", "keys", "conf", "deploy", "zk-init", "zk-start", "register", "start", "list"]);
        assert_eq!(Step::parse("zk-init").unwrap(), Step::ZkInit);
        assert!(Step::parse("zkinit").unwrap_err().to_string().contains("the steps are zklist, keys"));
    }
}
