//! arcus: the admin tool, a port of Arcus's `arcus.sh`. `main` parses the command line and
//! dispatches; the modules below do the work.

mod cli;
mod conf;
mod deploy;
mod memcached;
mod out;
mod ping;
mod quicksetup;
mod remote;
mod table;
mod zk;
mod zookeeper;

use anyhow::Context as _;
use cli::{Command, Invocation, ZkServer};
use out::Out;
use remote::{Job, Outcome};
use std::process::ExitCode;

/// The root of the Arcus install when `ARCUS_HOME` is not set.
const DEFAULT_HOME: &str = "/opt/arcus";

/// What every command works with.
pub struct Ctx {
    /// The root of the Arcus install, here and on every host (`ARCUS_HOME`, default /opt/arcus).
    pub home: String,
    /// The zklist as given (passed on to the cache nodes' `-z`).
    pub zklist: String,
    pub ensemble: Vec<ZkServer>,
    pub json: bool,
    pub out: Out,
    /// The ZooKeeper session, opened on first use and closed when the command ends.
    session: tokio::sync::OnceCell<zk::Zk>,
}

impl Ctx {
    /// The ZooKeeper hosts, in zklist order.
    pub fn zk_hosts(&self) -> Vec<String> {
        self.ensemble.iter().map(|s| s.host.clone()).collect()
    }

    /// The client port of the ensemble (zoo.cfg's `clientPort`): the first zklist entry's port.
    pub fn zk_port(&self) -> u16 {
        self.ensemble[0].port
    }

    /// The session with the ensemble (connecting on first use).
    pub async fn zk(&self) -> anyhow::Result<&zk::Zk> {
        Ok(self.session.get_or_try_init(|| zk::Zk::connect(&self.zklist)).await?)
    }

    /// Runs one job per host in parallel, then prints each host's block in the jobs' order:
    /// `Executing task`, the job's `label` (`run: <command>`, `put: ...`), its output, its error.
    pub async fn tasks(&self, task: &str, jobs: Vec<(String, Job)>) -> Vec<Outcome> {
        let (labels, jobs): (Vec<String>, Vec<Job>) = jobs.into_iter().unzip();
        let outcomes = remote::run_all(jobs).await;
        for (label, outcome) in labels.iter().zip(&outcomes) {
            self.out.host(&outcome.host, &format!("Executing task '{task}'"));
            self.out.host(&outcome.host, label);
            self.print_outcome(outcome);
        }
        outcomes
    }

    /// A finished job's output and, if it failed, its error; notes remote hosts as contacted.
    pub fn print_outcome(&self, outcome: &Outcome) {
        if outcome.remote {
            self.out.contacted(&outcome.host);
        }
        self.out.output(&outcome.host, &outcome.output);
        if let Err(e) = &outcome.result {
            self.out.host_error(&outcome.host, &e.to_string());
        }
    }
}

/// Fails naming every host where `task` failed.
pub fn all_succeeded(task: &str, outcomes: &[Outcome]) -> anyhow::Result<()> {
    let failed: Vec<&str> = outcomes.iter().filter(|o| o.result.is_err()).map(|o| o.host.as_str()).collect();
    if failed.is_empty() {
        Ok(())
    } else {
        anyhow::bail!("{task} failed on {} of {} hosts: {}", failed.len(), outcomes.len(), failed.join(", "))
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let prog = args.first().map(String::as_str).unwrap_or("arcus");
    match cli::parse(&args[1..]) {
        Ok(Invocation::Help) => {
            print!("{}", cli::usage(prog));
            ExitCode::SUCCESS
        }
        Err(e) => {
            let message = e.to_string();
            if !message.is_empty() {
                eprintln!("{message}");
            }
            eprint!("{}", cli::usage(prog));
            ExitCode::from(1)
        }
        Ok(Invocation::Run { zklist, json, command }) => match run(zklist, json, command) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                let prefix = if out::color_for(&std::io::stderr()) { "\x1b[31merror:\x1b[0m" } else { "error:" };
                eprintln!("{prefix} {e:#}");
                ExitCode::from(1)
            }
        },
    }
}

fn run(zklist: Option<String>, json: bool, command: Command) -> anyhow::Result<()> {
    let zklist = zklist
        .or_else(|| std::env::var("ARCUS_ZKLIST").ok().filter(|z| !z.is_empty()))
        .unwrap_or_else(|| cli::DEFAULT_ZKLIST.to_string());
    let ensemble = cli::parse_zklist(&zklist)?;
    let home = std::env::var("ARCUS_HOME").ok().filter(|h| !h.is_empty()).unwrap_or_else(|| DEFAULT_HOME.to_string());
    let home = home.trim_end_matches('/').to_string();
    let mut ctx = Ctx { home, zklist, ensemble, json, out: Out::new(), session: tokio::sync::OnceCell::new() };
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async {
        let result = execute(&ctx, command).await;
        if let Some(zk) = ctx.session.take() {
            zk.close().await;
        }
        remote::disconnect_all().await;
        result
    })
}

async fn execute(ctx: &Ctx, command: Command) -> anyhow::Result<()> {
    match command {
        Command::Deploy(conf) => deploy::deploy(ctx, &conf).await,
        Command::Ping(svc) => ping::ping(ctx, &svc).await,
        Command::ZkInit => zookeeper::init(ctx).await,
        Command::ZkStart => zookeeper::start(ctx).await,
        Command::ZkStop => zookeeper::stop(ctx).await,
        Command::ZkStat => zookeeper::stat(ctx).await,
        Command::McRegister(conf) => memcached::register(ctx, &conf).await,
        Command::McUnregister(svc) => memcached::unregister(ctx, &svc).await,
        Command::McStart(svc) => memcached::start(ctx, &svc).await,
        Command::McStop(svc) => memcached::stop(ctx, &svc).await,
        Command::McList(svc) => memcached::list(ctx, &svc).await,
        Command::McListAll => memcached::listall(ctx).await,
        Command::QuickSetup(conf) => quicksetup::quicksetup(ctx, &conf).await,
    }
}
