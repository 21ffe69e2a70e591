//! One-container test fixtures, for the admin tool's and the node's tests: a standalone ZooKeeper
//! (the host image's `lab-zk-standalone`: the `fast` profile's tickTime 500 and 1-10 s sessions)
//! in a container of the lab's host image on the engine's default bridge, addressed by its bridge
//! IP. The image is the lab's own, built here when missing, never pulled.
//!
//! The container runs no sshd and no syslog, only docker-init and what a test execs in it. It carries the lab's
//! run label (the test binary's name and the test process's id, such as
//! `fixture-admin-tests-4242`: nextest runs each test in a process of its own, and `lab gc` removes
//! a run id once its owner is gone, so no two processes may share one) and the owner label of the
//! test process; it is removed when the fixture is dropped, and when the test process gets SIGINT,
//! SIGTERM or SIGHUP (nextest passes a Ctrl-C on; a timeout sends SIGTERM): the process then removes
//! it and exits (`crate::interrupt::exit_after`).
//!
//! ```ignore
//! let zk = StandaloneZk::start("fixture-node-tests").await?;    // serving when this returns
//! let client = zookeeper_client::Client::connect(&zk.addr()).await?;
//! zk.stop_server().await?;                                       // same container, same data dir
//! zk.start_server().await?;
//! ```

use std::net::IpAddr;
use std::path::PathBuf;

use anyhow::{Context, Result};
use arcus_facts::{labels, Timing, ZkMode};
use testcontainers::core::{ExecCommand, WaitFor};
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, GenericImage, ImageExt};

use crate::engine::Engine;
use crate::interrupt;
use crate::lab::{owner_label, RunId};
use crate::probe::zk::CLIENT_PORT;
use crate::wait;

/// The fixtures' role label.
const ROLE: &str = "fixture";
/// Where the server's output and pid go in the container.
const SERVER_LOG: &str = "/tmp/zk.log";
const SERVER_PID: &str = "/tmp/zk.pid";
/// The profile of `lab-zk-standalone`'s zoo.cfg, whose deadlines the fixture keeps.
const TIMING: Timing = Timing::Fast;

/// A standalone ZooKeeper in a container of the lab's host image. The server process can be
/// stopped and started again while the container (its IP, its data dir) stays.
pub struct StandaloneZk {
    container: ContainerAsync<GenericImage>,
    ip: IpAddr,
    /// Removes the container when a signal comes (withdrawn when the fixture drops).
    _on_signal: interrupt::ExitAfter,
}

/// How to start a [`StandaloneZk`]: files to copy in, whether the server runs.
#[must_use]
pub struct StandaloneZkBuilder {
    run: String,
    copies: Vec<(String, PathBuf)>,
    server: bool,
}

impl StandaloneZkBuilder {
    /// Copies `source` (a file or a directory of this machine) to `target` in the container
    /// before it starts.
    pub fn copy_in(mut self, target: impl Into<String>, source: impl Into<PathBuf>) -> StandaloneZkBuilder {
        self.copies.push((target.into(), source.into()));
        self
    }

    /// Starts the container without the server, for a test that starts ZooKeeper its own way
    /// (`arcus zookeeper init` inside it); [`StandaloneZk::start_server`] starts it later.
    pub fn without_server(mut self) -> StandaloneZkBuilder {
        self.server = false;
        self
    }

    /// Starts the container (building the host image first if it is missing) and, unless
    /// [`without_server`](Self::without_server), the server, which serves when this returns.
    pub async fn start(self) -> Result<StandaloneZk> {
        let run = RunId::parse(&format!("{}-{}", self.run, std::process::id()))?;
        let image = crate::images::host_image().await.context("the lab's host image")?;
        let (name, tag) = image.rsplit_once(':').with_context(|| format!("image reference {image:?} has no tag"))?;
        let (owner_key, owner) = owner_label();
        let mut request = GenericImage::new(name, tag)
            .with_wait_for(WaitFor::Nothing)
            // docker-init as PID 1 (as in the lab) reaps what a test's exec left behind: a stopped
            // ZooKeeper must be gone, not a zombie, for zkServer.sh stop to see it gone
            .with_host_config_modifier(|host| host.init = Some(true))
            .with_cmd(["sleep", "infinity"])
            .with_network("bridge")
            .with_label(labels::RUN, run.as_str())
            .with_label(labels::ROLE, ROLE)
            .with_label(owner_key, owner);
        if let Some(session) = crate::lab::session() {
            request = request.with_label(labels::SESSION, session);
        }
        for (target, source) in self.copies {
            request = request.with_copy_to(target, source);
        }
        let container = request.start().await.with_context(|| format!("start a container of {image}"))?;
        let id = container.id().to_string();
        let on_signal = interrupt::exit_after(async move {
            if let Ok(engine) = Engine::connect().await {
                let _ = engine.remove_container(&id).await;
            }
        })
        .context("listen for SIGINT, SIGTERM and SIGHUP")?;
        let ip = container.get_bridge_ip_address().await.context("the fixture container's bridge IP")?;
        let zk = StandaloneZk { container, ip, _on_signal: on_signal };
        if self.server {
            zk.start_server().await?;
        }
        Ok(zk)
    }
}

impl StandaloneZk {
    /// A fixture labelled with the run id `<run>-<pid>` (`run` names the test binary:
    /// `fixture-admin-tests`).
    pub fn builder(run: &str) -> StandaloneZkBuilder {
        StandaloneZkBuilder { run: run.to_string(), copies: Vec::new(), server: true }
    }

    /// A fixture with its server serving: `builder(run).start()`.
    pub async fn start(run: &str) -> Result<StandaloneZk> {
        StandaloneZk::builder(run).start().await
    }

    /// The container's address on the default bridge.
    pub fn ip(&self) -> IpAddr {
        self.ip
    }

    /// The client address, `<ip>:2181`.
    pub fn addr(&self) -> String {
        format!("{}:{CLIENT_PORT}", self.ip)
    }

    /// The container, for what the fixture does not offer.
    pub fn container(&self) -> &ContainerAsync<GenericImage> {
        &self.container
    }

    /// Runs a shell line in the container (`sh -c`, as root); returns its exit code and its
    /// stdout and stderr merged.
    pub async fn exec(&self, line: &str) -> Result<(i64, String)> {
        let script = format!("exec 2>&1; {line}");
        let mut result = self
            .container
            .exec(ExecCommand::new(["sh", "-c", script.as_str()]))
            .await
            .with_context(|| format!("exec {line:?}"))?;
        let output = result.stdout_to_vec().await.with_context(|| format!("output of {line:?}"))?;
        let output = String::from_utf8_lossy(&output).into_owned();
        // The engine records the exit code a moment after the output has ended.
        let code =
            wait::until(&format!("the exit code of {line:?}"), TIMING.in_effect(), TIMING.poll() / 5, || async {
                match result.exit_code().await {
                    Ok(Some(code)) => Ok(code),
                    Ok(None) => Err("still running".to_string()),
                    Err(e) => Err(e.to_string()),
                }
            })
            .await?;
        Ok((code, output))
    }

    /// [`exec`](Self::exec) that fails unless the line exits 0.
    async fn exec_ok(&self, line: &str) -> Result<String> {
        let (code, output) = self.exec(line).await?;
        anyhow::ensure!(code == 0, "{line:?} exited {code}: {output}");
        Ok(output)
    }

    /// Starts the server (in the background, its output in /tmp/zk.log) and waits until it
    /// answers `srvr` as `standalone`.
    pub async fn start_server(&self) -> Result<()> {
        self.exec_ok(&format!("lab-zk-standalone > {SERVER_LOG} 2>&1 & echo $! > {SERVER_PID}")).await?;
        let what = format!("the standalone ZooKeeper at {} to serve", self.addr());
        wait::until(&what, TIMING.started(), TIMING.poll(), || async {
            let (_, reply) = self
                .exec(&format!("printf srvr | nc -w 1 127.0.0.1 {CLIENT_PORT}"))
                .await
                .map_err(|e| format!("{e:#}"))?;
            match ZkMode::from_reply(&reply) {
                Some(ZkMode::Standalone) => Ok(()),
                _ => Err(format!("srvr: {:?}", reply.trim_end())),
            }
        })
        .await?;
        Ok(())
    }

    /// Stops the server (SIGTERM) and waits until its client port refuses connections.
    pub async fn stop_server(&self) -> Result<()> {
        self.exec_ok(&format!("kill $(cat {SERVER_PID})")).await?;
        let what = format!("the standalone ZooKeeper at {} to stop", self.addr());
        wait::until(&what, TIMING.stop_grace(), TIMING.poll(), || async {
            match self.exec(&format!("nc -z 127.0.0.1 {CLIENT_PORT}")).await {
                Ok((0, _)) => Err(format!("port {CLIENT_PORT} still accepts connections")),
                Ok(_) => Ok(()),
                Err(e) => Err(format!("{e:#}")),
            }
        })
        .await?;
        Ok(())
    }
}
