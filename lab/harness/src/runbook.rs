//! The runbook's admin steps (seed steps 5-14), each typed on the admin host `arcus` exactly as an
//! operator would, from /opt/arcus/scripts. `lab up` runs them in order (up to `--until`); the
//! scenarios use the same lines.

use std::time::Duration;

use anyhow::{Context, Result};
use futures_util::future::try_join_all;

use crate::engine::ExecOutput;
use crate::lab::Lab;
use crate::paths;
use crate::progress::Progress;
use crate::zk;

/// The runbook's service code and config file.
pub const SERVICE: &str = "ruo91-cloud";
pub const CONF: &str = "conf/ruo91.json";
/// Where the operator stands on the admin host.
pub const SCRIPTS: &str = "/opt/arcus/scripts";

/// One runbook step, by the name `--until` takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Step {
    /// 5: point arcus.sh's default zklist at the three hosts.
    Zklist,
    /// 6: copy the admin's authorized_keys to the hosts (password-less SSH).
    Keys,
    /// 7: write conf/ruo91.json.
    Conf,
    /// 8: `./arcus.sh deploy conf/ruo91.json`.
    Deploy,
    /// 9: `./arcus.sh zookeeper init`.
    ZkInit,
    /// 10: `./arcus.sh zookeeper start`.
    ZkStart,
    /// 12: `./arcus.sh memcached register conf/ruo91.json`.
    Register,
    /// 13: `./arcus.sh memcached start ruo91-cloud`.
    Start,
    /// 14: `./arcus.sh memcached listall` once all six nodes have joined.
    List,
}

impl Step {
    pub const ALL: [Step; 9] = [
        Step::Zklist,
        Step::Keys,
        Step::Conf,
        Step::Deploy,
        Step::ZkInit,
        Step::ZkStart,
        Step::Register,
        Step::Start,
        Step::List,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Step::Zklist => "zklist",
            Step::Keys => "keys",
            Step::Conf => "conf",
            Step::Deploy => "deploy",
            Step::ZkInit => "zk-init",
            Step::ZkStart => "zk-start",
            Step::Register => "register",
            Step::Start => "start",
            Step::List => "list",
        }
    }

    pub fn parse(name: &str) -> Result<Step> {
        Step::ALL.into_iter().find(|s| s.name() == name).with_context(|| {
            let names: Vec<&str> = Step::ALL.iter().map(|s| s.name()).collect();
            format!("unknown runbook step {name:?}: the steps are {}", names.join(", "))
        })
    }

    /// The line the operator types on `arcus` (in /opt/arcus/scripts).
    pub fn command(self, lab: &Lab) -> String {
        let hosts: Vec<String> = lab.hosts.iter().filter(|h| h.name != "arcus").map(|h| h.ip.to_string()).collect();
        match self {
            Step::Zklist => {
                let list: Vec<String> = hosts.iter().map(|ip| format!("{ip}:2181")).collect();
                format!("sed -i 's/127.0.0.1:2181/{}/g' arcus.sh", list.join(","))
            }
            // the three copies side by side; the line fails if any copy fails
            Step::Keys => {
                let copies: Vec<String> = hosts
                    .iter()
                    .enumerate()
                    .map(|(i, ip)| {
                        format!("sshpass -p memcached scp /root/.ssh/authorized_keys root@{ip}:/root/.ssh & p{i}=$!")
                    })
                    .collect();
                let waits: Vec<String> = (0..hosts.len()).map(|i| format!("wait $p{i}")).collect();
                format!("{}; {}", copies.join("; "), waits.join(" && "))
            }
            Step::Conf => format!("cat > {CONF}"),
            Step::Deploy => format!("./arcus.sh deploy {CONF}"),
            Step::ZkInit => "./arcus.sh zookeeper init".into(),
            Step::ZkStart => "./arcus.sh zookeeper start".into(),
            Step::Register => format!("./arcus.sh memcached register {CONF}"),
            Step::Start => format!("./arcus.sh memcached start {SERVICE}"),
            Step::List => "./arcus.sh memcached listall".into(),
        }
    }
}

/// The runbook's cloud config with the lab's addresses in place of `{{memcached-N}}`.
pub fn render_conf(lab: &Lab) -> Result<String> {
    let path = paths::workspace_root().join("fixtures").join("ruo91.json");
    let mut text = std::fs::read_to_string(&path).with_context(|| format!("read {}", path.display()))?;
    for host in &lab.hosts {
        text = text.replace(&format!("{{{{{}}}}}", host.name), &host.ip.to_string());
    }
    Ok(text)
}

/// Runs one step on `arcus`; a non-zero exit is an error carrying the step's output.
pub async fn run_step(lab: &Lab, step: Step) -> Result<ExecOutput> {
    let line = step.command(lab);
    let script = format!("cd {SCRIPTS} && {line}");
    let out = match step {
        Step::Conf => {
            let conf = render_conf(lab)?;
            let container = &lab.host("arcus")?.container;
            lab.engine.exec_with_input(container, &["sh", "-c", &script], Some(conf.as_bytes())).await?
        }
        _ => lab.sh("arcus", &script).await?,
    };
    anyhow::ensure!(
        out.exit == 0,
        "runbook step {} (`{line}`) exited {}:\n{}{}",
        step.name(),
        out.exit,
        out.stdout,
        out.stderr
    );
    Ok(out)
}

/// The steps that prepare the admin host (5-7): each touches only its own file (arcus.sh's zklist,
/// the hosts' authorized_keys, the cloud config), so `run` does them side by side.
const PREPARATION: [Step; 3] = [Step::Zklist, Step::Keys, Step::Conf];

/// Runs the steps from `from` through `until`, waiting where the cloud needs time: a leader after
/// `zookeeper start`, six joined nodes after `memcached start`. The preparation steps in that range
/// run side by side, the rest in order.
pub async fn run(lab: &Lab, from: Step, until: Step, progress: &Progress) -> Result<()> {
    let steps: Vec<Step> = Step::ALL.into_iter().filter(|s| (from..=until).contains(s)).collect();
    let (preparation, rest): (Vec<Step>, Vec<Step>) = steps.into_iter().partition(|s| PREPARATION.contains(s));
    try_join_all(preparation.into_iter().map(|step| run_shown(lab, step, progress))).await?;
    for step in rest {
        run_shown(lab, step, progress).await?;
    }
    Ok(())
}

/// One step with its progress line, and the wait that follows it.
async fn run_shown(lab: &Lab, step: Step, progress: &Progress) -> Result<()> {
    let shown = progress.step(format!("runbook step {}", step.name()));
    run_step(lab, step).await?;
    match step {
        Step::ZkStart => {
            zk::wait_leader(lab, Duration::from_secs(30)).await?;
        }
        Step::Start => {
            let session = zk::ZkSession::connect(lab, Duration::from_secs(10)).await?;
            session.wait_children(&format!("/arcus/cache_list/{SERVICE}"), 6, Duration::from_secs(20)).await?;
        }
        _ => {}
    }
    shown.done();
    Ok(())
}
