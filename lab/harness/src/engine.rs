//! The only module that calls the Docker engine (bollard): images, networks, containers, exec,
//! signals, pause, logs, one-shot stats, marker volumes and label-based listing. It negotiates the API version
//! (the lab's engine speaks 1.41 at most) and never pulls: every image is built here.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::path::Path;
use std::time::Duration;

use bollard::models::{
    ContainerCreateBody, ContainerUpdateBody, EndpointIpamConfig, EndpointSettings, HostConfig, Ipam, IpamConfig,
    NetworkCreateRequest, NetworkingConfig, VolumeCreateRequest,
};
use bollard::query_parameters::{
    BuildImageOptions, CreateContainerOptions, CreateImageOptions, DownloadFromContainerOptions, KillContainerOptions,
    ListContainersOptions, ListImagesOptions, ListNetworksOptions, ListVolumesOptions, LogsOptions,
    RemoveContainerOptions, RemoveImageOptions, RemoveVolumeOptions, StatsOptions, UploadToContainerOptions,
};
use bollard::Docker;
use futures_util::{StreamExt, TryStreamExt};

/// Label on the lab's images (`base`, `host`, `admin`).
pub use arcus_facts::labels::IMAGE as LABEL_IMAGE;
/// Label with the resource's role: `admin`, `host`, `network`, or an image kind.
pub use arcus_facts::labels::ROLE as LABEL_ROLE;
/// Label carrying the lab's run id; every container and network the lab creates has it.
pub use arcus_facts::labels::RUN as LABEL_RUN;

/// How long one engine call may take before it is reported as hanging.
const CALL_TIMEOUT: Duration = Duration::from_secs(120);
/// The CFS period of a CPU quota set with [`Engine::set_cpu_quota`]: 100 ms, Docker's default.
pub const CPU_PERIOD_US: i64 = 100_000;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("cannot reach the Docker engine ({endpoint}): {source}")]
    Unreachable {
        endpoint: String,
        #[source]
        source: bollard::errors::Error,
    },
    #[error("the Docker engine did not answer within {0:?} ({1})")]
    Timeout(Duration, String),
    #[error("{what}: {source}")]
    Call {
        what: String,
        #[source]
        source: bollard::errors::Error,
    },
    #[error("{what}: {message}")]
    Failed { what: String, message: String },
}

type Result<T, E = EngineError> = std::result::Result<T, E>;

/// What a command printed and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecOutput {
    pub stdout: String,
    pub stderr: String,
    pub exit: i64,
}

/// A container the lab asks for.
#[derive(Debug, Clone)]
pub struct ContainerSpec {
    pub name: String,
    pub image: String,
    pub hostname: String,
    pub network: String,
    pub ip: Ipv4Addr,
    pub aliases: Vec<String>,
    /// `name:ip` entries for /etc/hosts.
    pub extra_hosts: Vec<String>,
    pub labels: HashMap<String, String>,
    /// `NAME=value` entries.
    pub env: Vec<String>,
}

/// A labelled container as the engine lists it.
#[derive(Debug, Clone)]
pub struct ContainerInfo {
    pub name: String,
    pub state: String,
    pub labels: HashMap<String, String>,
}

/// A labelled network as the engine lists it. Names need not be unique on this engine (API 1.41
/// makes a second network of a name with a warning): remove a network by its id.
#[derive(Debug, Clone)]
pub struct NetworkInfo {
    pub id: String,
    pub name: String,
    /// Its IPv4 subnets (`10.213.4.0/24`).
    pub subnets: Vec<String>,
    pub labels: HashMap<String, String>,
}

/// A network the engine has just made.
#[derive(Debug, Clone)]
pub struct CreatedNetwork {
    pub id: String,
    /// What the engine warned of (another network of the same name), or empty.
    pub warning: String,
}

/// A labelled volume as the engine lists it.
#[derive(Debug, Clone)]
pub struct VolumeInfo {
    pub name: String,
    pub labels: HashMap<String, String>,
}

/// A connection to the Docker engine.
#[derive(Clone)]
pub struct Engine {
    docker: Docker,
    endpoint: String,
}

impl Engine {
    /// Connects (honouring `DOCKER_HOST`), negotiates the API version and pings the engine.
    pub async fn connect() -> Result<Engine> {
        let endpoint = std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".into());
        let unreachable = |source| EngineError::Unreachable { endpoint: endpoint.clone(), source };
        let docker = Docker::connect_with_defaults().map_err(unreachable)?.with_timeout(CALL_TIMEOUT);
        let docker = within(Duration::from_secs(10), "API version negotiation", docker.negotiate_version())
            .await?
            .map_err(unreachable)?;
        Ok(Engine { docker, endpoint })
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The API version in use after negotiation, e.g. `1.41`.
    pub fn api_version(&self) -> String {
        let v = self.docker.client_version();
        format!("{}.{}", v.major_version, v.minor_version)
    }

    /// The engine's own version string.
    pub async fn server_version(&self) -> Result<String> {
        let v = self.docker.version().await.map_err(call("read the engine version"))?;
        Ok(v.version.unwrap_or_default())
    }

    // ---------------------------------------------------------------- images

    pub async fn image_exists(&self, reference: &str) -> Result<bool> {
        match self.docker.inspect_image(reference).await {
            Ok(_) => Ok(true),
            Err(e) if is_not_found(&e) => Ok(false),
            Err(e) => Err(call(format!("inspect image {reference}"))(e)),
        }
    }

    /// An image's content id (`sha256:...`), or `None` when no image has that name.
    pub async fn image_id(&self, reference: &str) -> Result<Option<String>> {
        match self.docker.inspect_image(reference).await {
            Ok(image) => Ok(image.id),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(call(format!("inspect image {reference}"))(e)),
        }
    }

    /// `docker tag`: one more name `repo:tag` for the image `reference` (removing that name later
    /// with `remove_image` leaves the image and its other names).
    pub async fn tag_image(&self, reference: &str, repo: &str, tag: &str) -> Result<()> {
        let options = bollard::query_parameters::TagImageOptions { repo: Some(repo.into()), tag: Some(tag.into()) };
        self.docker.tag_image(reference, Some(options)).await.map_err(call(format!("tag {reference} as {repo}:{tag}")))
    }

    /// `docker import`: a rootfs tarball becomes image `repo:tag`. `changes` are Dockerfile lines.
    pub async fn import_rootfs(&self, tarball: &Path, repo: &str, tag: &str, changes: Vec<String>) -> Result<()> {
        let what = format!("import {} as {repo}:{tag}", tarball.display());
        let bytes = tokio::fs::read(tarball)
            .await
            .map_err(|e| EngineError::Failed { what: what.clone(), message: e.to_string() })?;
        let options = CreateImageOptions {
            from_src: Some("-".into()),
            repo: Some(repo.into()),
            tag: Some(tag.into()),
            changes,
            ..Default::default()
        };
        let mut stream = self.docker.create_image(Some(options), Some(bollard::body_full(bytes.into())), None);
        while let Some(item) = stream.next().await {
            let info = item.map_err(call(what.clone()))?;
            if let Some(err) = info.error_detail.and_then(|d| d.message) {
                return Err(EngineError::Failed { what, message: err });
            }
        }
        Ok(())
    }

    /// `docker build --pull=never --rm --force-rm` of a context tarball; `on_line` receives the
    /// builder's output lines.
    pub async fn build_image(
        &self,
        context_tar: Vec<u8>,
        tag: &str,
        buildargs: HashMap<String, String>,
        labels: HashMap<String, String>,
        mut on_line: impl FnMut(&str),
    ) -> Result<()> {
        let what = format!("build image {tag}");
        let options = BuildImageOptions {
            dockerfile: "Dockerfile".into(),
            t: Some(tag.into()),
            rm: true,
            forcerm: true,
            buildargs: Some(buildargs),
            labels: Some(labels),
            ..Default::default()
        };
        let mut stream = self.docker.build_image(options, None, Some(bollard::body_full(context_tar.into())));
        let mut tail: Vec<String> = Vec::new();
        while let Some(item) = stream.next().await {
            let info = item.map_err(call(what.clone()))?;
            if let Some(line) = info.stream.as_deref() {
                for l in line.lines().filter(|l| !l.trim().is_empty()) {
                    on_line(l);
                    tail.push(l.to_string());
                    if tail.len() > 30 {
                        tail.remove(0);
                    }
                }
            }
            if let Some(err) = info.error_detail.and_then(|d| d.message) {
                return Err(EngineError::Failed { what, message: format!("{err}\n{}", tail.join("\n")) });
            }
        }
        Ok(())
    }

    /// Image references (`repo:tag`) carrying `label=value`.
    /// Image references (`repo:tag`) carrying `label=value`, newest first.
    pub async fn list_images(&self, label: &str, value: &str) -> Result<Vec<String>> {
        let options = ListImagesOptions { filters: Some(label_filter(label, value)), ..Default::default() };
        let mut images = self.docker.list_images(Some(options)).await.map_err(call("list images"))?;
        images.sort_by_key(|i| std::cmp::Reverse(i.created));
        Ok(images.into_iter().flat_map(|i| i.repo_tags.into_iter()).filter(|t| t != "<none>:<none>").collect())
    }

    /// Removes an image, never by force: one that a container (anyone's) or a child image
    /// still uses is refused by the engine, and that refusal is returned.
    pub async fn remove_image(&self, reference: &str) -> Result<()> {
        let options = RemoveImageOptions { force: false, ..Default::default() };
        match self.docker.remove_image(reference, Some(options), None).await {
            Ok(_) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) => Err(call(format!("remove image {reference}"))(e)),
        }
    }

    // ---------------------------------------------------------------- networks

    /// Every IPv4 subnet of every network on the engine (the lab's and everybody else's).
    pub async fn network_subnets(&self) -> Result<Vec<String>> {
        let networks = self.docker.list_networks(None::<ListNetworksOptions>).await.map_err(call("list networks"))?;
        Ok(networks
            .into_iter()
            .filter_map(|n| n.ipam.and_then(|i| i.config))
            .flatten()
            .filter_map(|c| c.subnet)
            .collect())
    }

    /// Creates a bridge network; an overlapping pool is reported as `Ok(None)` so that the
    /// caller can try another subnet.
    pub async fn create_network(
        &self,
        name: &str,
        subnet: &str,
        gateway: &str,
        labels: HashMap<String, String>,
    ) -> Result<Option<CreatedNetwork>> {
        let request = NetworkCreateRequest {
            name: name.into(),
            driver: Some("bridge".into()),
            ipam: Some(Ipam {
                config: Some(vec![IpamConfig {
                    subnet: Some(subnet.into()),
                    gateway: Some(gateway.into()),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            labels: Some(labels),
            ..Default::default()
        };
        match self.docker.create_network(request).await {
            Ok(made) => Ok(Some(CreatedNetwork { id: made.id, warning: made.warning })),
            Err(e) if e.to_string().contains("overlaps") => Ok(None),
            Err(e) => Err(call(format!("create network {name} ({subnet})"))(e)),
        }
    }

    pub async fn list_networks(&self, label: &str, value: Option<&str>) -> Result<Vec<NetworkInfo>> {
        let options = ListNetworksOptions { filters: Some(label_filter(label, value.unwrap_or(""))) };
        let networks = self.docker.list_networks(Some(options)).await.map_err(call("list networks"))?;
        Ok(networks
            .into_iter()
            .map(|n| NetworkInfo {
                id: n.id.unwrap_or_default(),
                name: n.name.unwrap_or_default(),
                subnets: n.ipam.and_then(|i| i.config).into_iter().flatten().filter_map(|c| c.subnet).collect(),
                labels: n.labels.unwrap_or_default(),
            })
            .collect())
    }

    /// Removes a network by its id (or a name no other network has); a missing one is fine.
    pub async fn remove_network(&self, id: &str) -> Result<()> {
        match self.docker.remove_network(id).await {
            Ok(()) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) => Err(call(format!("remove network {id}"))(e)),
        }
    }

    // ---------------------------------------------------------------- volumes

    /// Creates an empty local volume with labels (the lab's markers: nothing mounts them).
    pub async fn create_volume(&self, name: &str, labels: HashMap<String, String>) -> Result<()> {
        let request = VolumeCreateRequest { name: Some(name.into()), labels: Some(labels), ..Default::default() };
        self.docker.create_volume(request).await.map(|_| ()).map_err(call(format!("create volume {name}")))
    }

    /// Volumes carrying `label` (with `value` if given).
    pub async fn list_volumes(&self, label: &str, value: Option<&str>) -> Result<Vec<VolumeInfo>> {
        let options = ListVolumesOptions { filters: Some(label_filter(label, value.unwrap_or(""))) };
        let list = self.docker.list_volumes(Some(options)).await.map_err(call("list volumes"))?;
        Ok(list.volumes.into_iter().flatten().map(|v| VolumeInfo { name: v.name, labels: v.labels }).collect())
    }

    /// Removes a volume; a missing one is fine.
    pub async fn remove_volume(&self, name: &str) -> Result<()> {
        match self.docker.remove_volume(name, Some(RemoveVolumeOptions { force: true })).await {
            Ok(()) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) => Err(call(format!("remove volume {name}"))(e)),
        }
    }

    // ---------------------------------------------------------------- containers

    /// Creates and starts a container with an init process and NET_ADMIN, never pulling.
    pub async fn run_container(&self, spec: &ContainerSpec) -> Result<()> {
        let endpoint = EndpointSettings {
            ipam_config: Some(EndpointIpamConfig { ipv4_address: Some(spec.ip.to_string()), ..Default::default() }),
            aliases: Some(spec.aliases.clone()),
            ..Default::default()
        };
        let body = ContainerCreateBody {
            hostname: Some(spec.hostname.clone()),
            image: Some(spec.image.clone()),
            env: Some(spec.env.clone()),
            labels: Some(spec.labels.clone()),
            host_config: Some(HostConfig {
                init: Some(true),
                cap_add: Some(vec!["NET_ADMIN".into()]),
                network_mode: Some(spec.network.clone()),
                extra_hosts: Some(spec.extra_hosts.clone()),
                ..Default::default()
            }),
            networking_config: Some(NetworkingConfig {
                endpoints_config: Some(HashMap::from([(spec.network.clone(), endpoint)])),
            }),
            ..Default::default()
        };
        let options = CreateContainerOptions { name: Some(spec.name.clone()), ..Default::default() };
        self.docker
            .create_container(Some(options), body)
            .await
            .map_err(call(format!("create container {} from {}", spec.name, spec.image)))?;
        self.start(&spec.name).await
    }

    pub async fn start(&self, name: &str) -> Result<()> {
        self.docker
            .start_container(name, None::<bollard::query_parameters::StartContainerOptions>)
            .await
            .map_err(call(format!("start container {name}")))
    }

    /// Stops a container at once (`docker stop -t 0`).
    pub async fn stop(&self, name: &str) -> Result<()> {
        let options = bollard::query_parameters::StopContainerOptions { t: Some(0), ..Default::default() };
        self.docker.stop_container(name, Some(options)).await.map_err(call(format!("stop container {name}")))
    }

    /// Stops a container gracefully (`docker stop -t <grace>`): SIGTERM to its init, SIGKILL once
    /// `grace` has passed.
    pub async fn stop_within(&self, name: &str, grace: Duration) -> Result<()> {
        let options =
            bollard::query_parameters::StopContainerOptions { t: Some(grace.as_secs() as i32), ..Default::default() };
        self.docker.stop_container(name, Some(options)).await.map_err(call(format!("stop container {name}")))
    }

    /// Sends a signal (`KILL`, `TERM`, ...) to the container's init.
    pub async fn kill(&self, name: &str, signal: &str) -> Result<()> {
        let options = KillContainerOptions { signal: signal.into() };
        self.docker
            .kill_container(name, Some(options))
            .await
            .map_err(call(format!("send SIG{signal} to container {name}")))
    }

    pub async fn pause(&self, name: &str) -> Result<()> {
        self.docker.pause_container(name).await.map_err(call(format!("pause container {name}")))
    }

    pub async fn unpause(&self, name: &str) -> Result<()> {
        self.docker.unpause_container(name).await.map_err(call(format!("unpause container {name}")))
    }

    /// Creates and starts a container with no network (a build sandbox) running `cmd`, never pulling.
    pub async fn run_offline(
        &self,
        name: &str,
        image: &str,
        labels: HashMap<String, String>,
        cmd: &[&str],
    ) -> Result<()> {
        let body = ContainerCreateBody {
            image: Some(image.to_string()),
            cmd: Some(cmd.iter().map(|s| s.to_string()).collect()),
            labels: Some(labels),
            host_config: Some(HostConfig { init: Some(true), network_mode: Some("none".into()), ..Default::default() }),
            ..Default::default()
        };
        let options = CreateContainerOptions { name: Some(name.to_string()), ..Default::default() };
        self.docker
            .create_container(Some(options), body)
            .await
            .map_err(call(format!("create container {name} from {image}")))?;
        self.start(name).await
    }

    /// Unpacks a tarball into the directory `dir` of a container (`docker cp -`).
    pub async fn upload(&self, container: &str, dir: &str, tar: Vec<u8>) -> Result<()> {
        let options = UploadToContainerOptions { path: dir.to_string(), ..Default::default() };
        self.docker
            .upload_to_container(container, Some(options), bollard::body_full(tar.into()))
            .await
            .map_err(call(format!("copy a tarball into {container}:{dir}")))
    }

    /// The path `path` of a container as a tarball (`docker cp CONTAINER:PATH -`).
    pub async fn download(&self, container: &str, path: &str) -> Result<Vec<u8>> {
        let options = DownloadFromContainerOptions { path: path.to_string() };
        let chunks: Vec<_> = self
            .docker
            .download_from_container(container, Some(options))
            .try_collect()
            .await
            .map_err(call(format!("copy {container}:{path} out")))?;
        Ok(chunks.concat())
    }

    /// Removes a container and its anonymous volumes, running or not; a missing one is fine.
    pub async fn remove_container(&self, name: &str) -> Result<()> {
        let options = RemoveContainerOptions { force: true, v: true, ..Default::default() };
        match self.docker.remove_container(name, Some(options)).await {
            Ok(()) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) => Err(call(format!("remove container {name}"))(e)),
        }
    }

    /// Containers (running or not) carrying `label` (with `value` if given).
    pub async fn list_containers(&self, label: &str, value: Option<&str>) -> Result<Vec<ContainerInfo>> {
        let options = ListContainersOptions {
            all: true,
            filters: Some(label_filter(label, value.unwrap_or(""))),
            ..Default::default()
        };
        let list = self.docker.list_containers(Some(options)).await.map_err(call("list containers"))?;
        Ok(list
            .into_iter()
            .map(|c| ContainerInfo {
                name: c
                    .names
                    .and_then(|n| n.into_iter().next())
                    .unwrap_or_default()
                    .trim_start_matches('/')
                    .to_string(),
                state: c.state.map(|s| s.to_string()).unwrap_or_default(),
                labels: c.labels.unwrap_or_default(),
            })
            .collect())
    }

    /// Whether the container is running (false for a missing one).
    pub async fn is_running(&self, name: &str) -> Result<bool> {
        match self.docker.inspect_container(name, None).await {
            Ok(c) => Ok(c.state.and_then(|s| s.running).unwrap_or(false)),
            Err(e) if is_not_found(&e) => Ok(false),
            Err(e) => Err(call(format!("inspect container {name}"))(e)),
        }
    }

    /// Limits the container to `quota` µs of CPU per 100 ms period (`None`: no limit, as created).
    pub async fn set_cpu_quota(&self, name: &str, quota: Option<i64>) -> Result<()> {
        let body = ContainerUpdateBody {
            cpu_period: Some(CPU_PERIOD_US),
            cpu_quota: Some(quota.unwrap_or(-1)),
            ..Default::default()
        };
        self.docker
            .update_container(name, body)
            .await
            .map_err(call(format!("update the CPU quota of container {name}")))
    }

    /// The container's CPU quota in µs per period, as the engine reports it (`None`: no limit).
    pub async fn cpu_quota(&self, name: &str) -> Result<Option<i64>> {
        let c = self.docker.inspect_container(name, None).await.map_err(call(format!("inspect container {name}")))?;
        Ok(c.host_config.and_then(|h| h.cpu_quota).filter(|q| *q > 0))
    }

    /// Runs a command in a container and collects its output and exit code.
    pub async fn exec(&self, container: &str, cmd: &[&str]) -> Result<ExecOutput> {
        self.exec_with_input(container, cmd, None).await
    }

    /// Like [`Engine::exec`], writing `input` to the command's standard input first.
    pub async fn exec_with_input(&self, container: &str, cmd: &[&str], input: Option<&[u8]>) -> Result<ExecOutput> {
        use bollard::exec::{CreateExecOptions, StartExecResults};
        use tokio::io::AsyncWriteExt;
        let what = format!("run `{}` in {container}", cmd.join(" "));
        let exec = self
            .docker
            .create_exec(
                container,
                CreateExecOptions {
                    cmd: Some(cmd.iter().map(|s| s.to_string()).collect()),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    attach_stdin: Some(input.is_some()),
                    ..Default::default()
                },
            )
            .await
            .map_err(call(what.clone()))?;
        let started = self.docker.start_exec(&exec.id, None).await.map_err(call(what.clone()))?;
        let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
        if let StartExecResults::Attached { mut output, input: mut stdin } = started {
            if let Some(bytes) = input {
                stdin
                    .write_all(bytes)
                    .await
                    .map_err(|e| EngineError::Failed { what: what.clone(), message: e.to_string() })?;
                stdin
                    .shutdown()
                    .await
                    .map_err(|e| EngineError::Failed { what: what.clone(), message: e.to_string() })?;
            }
            drop(stdin);
            while let Some(chunk) = output.next().await {
                match chunk.map_err(call(what.clone()))? {
                    bollard::container::LogOutput::StdErr { message } => stderr.extend_from_slice(&message),
                    other => stdout.extend_from_slice(other.as_ref()),
                }
            }
        }
        let inspect = self.docker.inspect_exec(&exec.id).await.map_err(call(what.clone()))?;
        Ok(ExecOutput {
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
            exit: inspect.exit_code.unwrap_or(-1),
        })
    }

    /// The container's own output (stdout and stderr interleaved).
    pub async fn logs(&self, name: &str) -> Result<String> {
        let options = LogsOptions { stdout: true, stderr: true, ..Default::default() };
        let chunks: Vec<_> = self
            .docker
            .logs(name, Some(options))
            .try_collect()
            .await
            .map_err(call(format!("read the logs of {name}")))?;
        Ok(chunks.iter().map(|c| String::from_utf8_lossy(c.as_ref()).into_owned()).collect())
    }

    /// Memory in use by the container (cgroup usage less page cache), in bytes.
    pub async fn memory_usage(&self, name: &str) -> Result<u64> {
        let options = StatsOptions { stream: false, one_shot: true };
        let stats = self
            .docker
            .stats(name, Some(options))
            .next()
            .await
            .ok_or_else(|| EngineError::Failed { what: format!("stats of {name}"), message: "no sample".into() })?
            .map_err(call(format!("stats of {name}")))?;
        let mem = stats.memory_stats.unwrap_or_default();
        let cache = mem.stats.as_ref().and_then(|s| s.get("cache").copied()).unwrap_or(0);
        Ok(mem.usage.unwrap_or(0).saturating_sub(cache))
    }
}

fn label_filter(label: &str, value: &str) -> HashMap<String, Vec<String>> {
    let filter = if value.is_empty() { label.to_string() } else { format!("{label}={value}") };
    HashMap::from([("label".to_string(), vec![filter])])
}

fn is_not_found(e: &bollard::errors::Error) -> bool {
    matches!(e, bollard::errors::Error::DockerResponseServerError { status_code: 404, .. })
}

fn call(what: impl Into<String>) -> impl Fn(bollard::errors::Error) -> EngineError {
    let what = what.into();
    move |source| EngineError::Call { what: what.clone(), source }
}

async fn within<T>(limit: Duration, what: &str, fut: impl std::future::Future<Output = T>) -> Result<T> {
    tokio::time::timeout(limit, fut).await.map_err(|_| EngineError::Timeout(limit, what.to_string()))
}
