//! The lab's three images, built here and never pulled: `arcus-lab/base` (a Debian bookworm
//! minbase rootfs from mmdebstrap, imported, or a local bookworm image the user named),
//! `arcus-lab/host` (the runbook's memcached host) and `arcus-lab/admin` (the admin host with
//! /opt/arcus). Each is tagged by a hash of its inputs, the base's source among them, and built
//! only when that tag is missing; a file lock keeps concurrent processes from building twice.

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsString;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};

use crate::build_times;
use crate::engine::{Engine, LABEL_IMAGE};
use crate::flavour::Flavour;
use crate::paths;
use crate::progress::Progress;

/// The images a lab runs on.
#[derive(Debug, Clone)]
pub struct ImageSet {
    pub host: String,
    pub admin: String,
}

/// mmdebstrap's arguments before the sources: part of the base image's hash.
const MMDEBSTRAP_ARGS: &[&str] = &[
    "--variant=minbase",
    "--quiet",
    "--dpkgopt=path-exclude=/usr/share/man/*",
    "--dpkgopt=path-exclude=/usr/share/locale/*",
    "--dpkgopt=path-exclude=/usr/share/doc/*",
    "--dpkgopt=path-include=/usr/share/doc/*/copyright",
    // the JRE's postinst registers java.1.gz under man1: the folder must exist
    "--customize-hook=mkdir -p \"$1/usr/share/man/man1\"",
    "bookworm",
];

/// A local Debian bookworm image to build the base from (never pulled); `--base-image` wins over it.
pub const BASE_IMAGE_ENV: &str = "ARCUS_LAB_BASE_IMAGE";
/// A Debian mirror URL for mmdebstrap, used when no base image is named.
pub const DEBIAN_MIRROR_ENV: &str = "ARCUS_LAB_DEBIAN_MIRROR";
/// The folder read as the host's `/etc/apt` (its `sources.list` and `sources.list.d/`): tests
/// point it at an empty folder to stand for a host without Debian sources.
pub const APT_SOURCES_DIR_ENV: &str = "ARCUS_LAB_APT_SOURCES_DIR";

/// `--base-image` as the command line gave it, for this process (child processes get it as
/// `ARCUS_LAB_BASE_IMAGE`).
static BASE_IMAGE_OPTION: OnceLock<String> = OnceLock::new();

/// Makes `image` this process's base image source, over `ARCUS_LAB_BASE_IMAGE` (`--base-image`).
/// Set once, before any image is checked; a second call is ignored.
pub fn set_base_image_option(image: &str) {
    let _ = BASE_IMAGE_OPTION.set(image.to_string());
}

/// The environment that gives a child process (the tests `cargo xtask test` starts) this process's
/// `--base-image`; empty without one (the child then reads the same environment as this process).
pub fn base_image_env() -> Vec<(&'static str, String)> {
    BASE_IMAGE_OPTION.get().map(|image| vec![(BASE_IMAGE_ENV, image.clone())]).unwrap_or_default()
}

/// Where the base rootfs comes from: the first of these that is given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BaseSource {
    /// A local Debian bookworm image the user named (`--base-image`, `ARCUS_LAB_BASE_IMAGE`).
    Image(String),
    /// mmdebstrap from the Debian mirror at this URL (`ARCUS_LAB_DEBIAN_MIRROR`).
    Mirror(String),
    /// mmdebstrap from the host's Debian bookworm apt entries under `dir` (`/etc/apt`), as files
    /// for mmdebstrap: (`name`, text).
    HostApt { dir: PathBuf, sources: Vec<(String, String)> },
}

#[derive(Debug, thiserror::Error)]
pub enum BaseSourceError {
    #[error("{DEBIAN_MIRROR_ENV}={0:?} is not a mirror URL: give one like http://HOST/debian (https:// and file:// work too)")]
    BadMirror(String),
    #[error(
        "no way to the Debian bookworm base image: {apt} (sources.list, sources.list.d/) has no Debian \
         bookworm apt entry, and none of the other two ways is given. Either\n  \
         name a local Debian bookworm image (the lab never pulls it): --base-image IMAGE, or {BASE_IMAGE_ENV}=IMAGE \
         (an image you loaded or built yourself), or\n  \
         give a Debian mirror for mmdebstrap: {DEBIAN_MIRROR_ENV}=http://HOST/debian (mmdebstrap and \
         debian-archive-keyring installed)"
    )]
    NoWay { apt: String },
}

impl BaseSource {
    /// The source this process will use: `--base-image`, else `ARCUS_LAB_BASE_IMAGE`, else
    /// `ARCUS_LAB_DEBIAN_MIRROR`, else the host's apt sources (an empty variable counts as unset).
    pub fn chosen() -> Result<BaseSource, BaseSourceError> {
        let set = |name: &str| std::env::var(name).ok().map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        if let Some(image) = BASE_IMAGE_OPTION.get().cloned().or_else(|| set(BASE_IMAGE_ENV)) {
            return Ok(BaseSource::Image(image));
        }
        if let Some(url) = set(DEBIAN_MIRROR_ENV) {
            let scheme = url.split_once("://").map(|(scheme, _)| scheme).unwrap_or("");
            let scheme_ok =
                !scheme.is_empty() && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c));
            if !scheme_ok || url.contains(char::is_whitespace) {
                return Err(BaseSourceError::BadMirror(url));
            }
            return Ok(BaseSource::Mirror(url));
        }
        let dir = std::env::var_os(APT_SOURCES_DIR_ENV).map(PathBuf::from).unwrap_or_else(|| "/etc/apt".into());
        let sources = debian_sources(&dir);
        if sources.is_empty() {
            return Err(BaseSourceError::NoWay { apt: dir.display().to_string() });
        }
        Ok(BaseSource::HostApt { dir, sources })
    }

    /// One line for people: which way and where from.
    pub fn describe(&self) -> String {
        match self {
            BaseSource::Image(image) => format!("the local image {image} (--base-image / {BASE_IMAGE_ENV})"),
            BaseSource::Mirror(url) => format!("mmdebstrap from the Debian mirror {url} ({DEBIAN_MIRROR_ENV})"),
            BaseSource::HostApt { dir, .. } => {
                format!("mmdebstrap from the host's Debian bookworm apt entries ({})", dir.display())
            }
        }
    }

    /// What mmdebstrap's base tag hashes besides its arguments (nothing for an image source).
    fn hashed(&self) -> Vec<(String, String)> {
        match self {
            BaseSource::Image(_) => Vec::new(),
            BaseSource::Mirror(url) => vec![("mirror".into(), url.clone())],
            BaseSource::HostApt { sources, .. } => sources.clone(),
        }
    }

    /// mmdebstrap's arguments after the target: the mirror's URL (mmdebstrap then adds the
    /// keyring a non-Debian host needs), or the host's entries written as files into `dir`.
    fn mmdebstrap_sources(&self, dir: &Path) -> Result<Vec<OsString>> {
        let mut args = Vec::new();
        match self {
            BaseSource::Image(_) => {}
            BaseSource::Mirror(url) => args.push(url.into()),
            BaseSource::HostApt { sources, .. } => {
                for (name, text) in sources {
                    let path = dir.join(name);
                    std::fs::write(&path, text).with_context(|| format!("write {}", path.display()))?;
                    args.push(path.into());
                }
            }
        }
        Ok(args)
    }
}

/// The references the current inputs hash to, `[base, host]`, building nothing (for a named
/// base image the engine gives its id). The admin image is left out: its hash needs the release
/// binaries.
pub async fn references(engine: &Engine) -> Result<[String; 2]> {
    let base = match BaseSource::chosen()? {
        BaseSource::Image(image) => {
            build_reference("base", &base_image_context()?.tar()?, &base_image_id(engine, &image).await?)
        }
        source => base_reference(&base_tag(&source.hashed())),
    };
    let host = build_reference("host", &host_context()?.tar()?, &base);
    Ok([base, host])
}

/// Builds what is missing and returns the host and admin image references.
pub async fn ensure(engine: &Engine, flavour: &Flavour, progress: &Progress) -> Result<ImageSet> {
    let host = ensure_host(engine, progress).await?;
    let admin = ensure_admin(engine, &host, flavour, progress).await?;
    Ok(ImageSet { host, admin })
}

/// The base and host images, built if missing.
pub async fn ensure_host(engine: &Engine, progress: &Progress) -> Result<String> {
    let _lock = lock().await?;
    ensure_host_locked(engine, progress).await
}

/// The admin image on top of `host` (the release binaries built first), built if missing.
pub async fn ensure_admin(engine: &Engine, host: &str, flavour: &Flavour, progress: &Progress) -> Result<String> {
    let _lock = lock().await?;
    ensure_admin_locked(engine, host, flavour, progress).await
}

/// The host image (built if missing), for one-container fixtures such as a standalone ZooKeeper
/// (`/usr/local/bin/lab-zk-standalone`).
pub async fn host_image() -> Result<String> {
    let engine = Engine::connect().await?;
    let _lock = lock().await?;
    ensure_host_locked(&engine, &Progress::silent()).await
}

/// Every image reference of the lab's three kinds present on the engine, children first.
pub async fn present(engine: &Engine) -> Result<Vec<String>> {
    let mut all = Vec::new();
    for kind in ["admin", "host", "base"] {
        all.extend(lab_images(engine, kind).await?);
    }
    Ok(all)
}

/// Removes outdated lab images, skipping those still in use (by a container or a child image):
/// every base and host image but the one the current inputs hash to, and every admin image but
/// the newest (its hash needs the release binaries, which pruning does not build). Returns the
/// removed references.
pub async fn prune(engine: &Engine) -> Result<Vec<String>> {
    let _lock = lock().await?;
    let [base, host] = references(engine).await?;
    let newest_admin = lab_images(engine, "admin").await?.into_iter().next();
    let keep = [Some(base), Some(host), newest_admin];
    let mut removed = Vec::new();
    for kind in ["admin", "host", "base"] {
        for image in lab_images(engine, kind).await? {
            if keep.contains(&Some(image.clone())) {
                continue;
            }
            if engine.remove_image(&image).await.is_ok() {
                removed.push(image);
            }
        }
    }
    Ok(removed)
}

/// The lab's images of a kind, newest first: its own `arcus-lab/<kind>:<hash>` names only, never
/// another name someone gave the same image (`docker tag` keeps the label).
async fn lab_images(engine: &Engine, kind: &str) -> Result<Vec<String>> {
    let ours = format!("arcus-lab/{kind}:");
    Ok(engine.list_images(LABEL_IMAGE, kind).await?.into_iter().filter(|name| name.starts_with(&ours)).collect())
}

async fn ensure_host_locked(engine: &Engine, progress: &Progress) -> Result<String> {
    let base = ensure_base(engine, progress).await?;
    build_if_missing(engine, "host", &host_context()?, "BASE", &base, progress).await
}

async fn ensure_admin_locked(engine: &Engine, host: &str, flavour: &Flavour, progress: &Progress) -> Result<String> {
    let mut context = BuildContext::from_dir(&images_dir().join("admin"))?;
    let step = progress.step("building the arcus and memcached binaries (cargo build --release)");
    let started = Instant::now();
    let before = modified(&paths::target_dir().join("release"));
    // off the async threads: `lab up` starts the hosts meanwhile
    let bins = tokio::task::spawn_blocking(build_binaries).await??;
    step.done();
    if modified(&bins) != before {
        // a time only for a build that made something: cargo finding all fresh says nothing
        build_times::record(&paths::state_dir(), build_times::BINARIES, started.elapsed());
    }
    context.add_file("arcus/bin/arcus", &bins.join("arcus"))?;
    match flavour {
        Flavour::Reference => context.add_file("arcus/bin/memcached", &bins.join("memcached"))?,
        Flavour::Arcus(prefix) => {
            context.add_file("arcus/bin/memcached", &prefix.join("bin/memcached"))?;
            context.add_dir("arcus/lib", &prefix.join("lib"))?;
        }
    }
    build_if_missing(engine, "admin", &context, "HOST", host, progress).await
}

/// The builder for a user's arcus-memcached checkout (`arcus build`): the base image plus a C
/// toolchain and autotools, built if missing.
pub async fn ensure_arcus_builder(engine: &Engine, progress: &Progress) -> Result<String> {
    let _lock = lock().await?;
    let base = ensure_base(engine, progress).await?;
    let context = BuildContext::from_dir(&images_dir().join("arcus-builder"))?;
    build_if_missing(engine, "arcus-builder", &context, "BASE", &base, progress).await
}

fn host_context() -> Result<BuildContext> {
    BuildContext::from_dir(&images_dir().join("host"))
}

/// The base made from a user's image: a check that it is Debian bookworm, the lab's label.
fn base_image_context() -> Result<BuildContext> {
    BuildContext::from_dir(&images_dir().join("base-image"))
}

/// The content id (`sha256:...`) of a local image the user named; it must be present.
async fn base_image_id(engine: &Engine, image: &str) -> Result<String> {
    engine.image_id(image).await?.with_context(|| {
        format!(
            "base image {image} (--base-image / {BASE_IMAGE_ENV}) is not on this engine, and the lab never pulls: \
             load or build a Debian bookworm image under that name first (docker load -i FILE, docker tag ID {image})"
        )
    })
}

/// The base image's tag: a hash of mmdebstrap's arguments and its sources (the apt entries, or the mirror).
fn base_tag(sources: &[(String, String)]) -> String {
    let mut hasher = Sha256::new();
    for arg in MMDEBSTRAP_ARGS {
        hasher.update(arg.as_bytes());
        hasher.update([0]);
    }
    for (name, text) in sources {
        hasher.update(name.as_bytes());
        hasher.update(text.as_bytes());
    }
    short_hash(hasher)
}

fn base_reference(tag: &str) -> String {
    format!("arcus-lab/base:{tag}")
}

/// `arcus-lab/<kind>:<hash of the parent image and the build context's tarball>`.
fn build_reference(kind: &str, context_tar: &[u8], parent: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(parent.as_bytes());
    hasher.update(context_tar);
    format!("arcus-lab/{kind}:{}", short_hash(hasher))
}

async fn ensure_base(engine: &Engine, progress: &Progress) -> Result<String> {
    let source = BaseSource::chosen()?;
    if let BaseSource::Image(image) = &source {
        // tagged by the image's content id, so another image under the same name is another base
        let id = base_image_id(engine, image).await?;
        return build_if_missing(engine, "base", &base_image_context()?, "IMAGE", &id, progress).await;
    }
    let tag = base_tag(&source.hashed());
    let reference = base_reference(&tag);
    if engine.image_exists(&reference).await? {
        return Ok(reference);
    }
    ensure_mmdebstrap(progress)?;
    let started = Instant::now();
    let step = progress.step(format!("building the base rootfs (mmdebstrap bookworm) → {reference}"));
    let cache = paths::state_dir().join("cache");
    std::fs::create_dir_all(&cache).with_context(|| format!("create {}", cache.display()))?;
    let mirror_args = source.mmdebstrap_sources(&cache)?;
    let tarball = cache.join(format!("base-{tag}.tar"));
    let _ = std::fs::remove_file(&tarball);
    let out = Command::new("mmdebstrap")
        .args(MMDEBSTRAP_ARGS)
        .arg(&tarball)
        .args(&mirror_args)
        .output()
        .context("run mmdebstrap")?;
    // A failed build must never become an (empty) image: check the exit and the file first.
    let size = std::fs::metadata(&tarball).map(|m| m.len()).unwrap_or(0);
    if !out.status.success() || size < 10 << 20 {
        let _ = std::fs::remove_file(&tarball);
        bail!(
            "mmdebstrap failed ({}; rootfs {} bytes), nothing imported:\n{}",
            out.status,
            size,
            tail(&String::from_utf8_lossy(&out.stderr), 20)
        );
    }
    step.done();
    let step = progress.step(format!("importing {reference}"));
    let changes = vec![format!("LABEL {LABEL_IMAGE}=base"), "ENV LANG=C.UTF-8".to_string()];
    engine.import_rootfs(&tarball, "arcus-lab/base", &tag, changes).await?;
    let _ = std::fs::remove_file(&tarball);
    step.done();
    build_times::record(&paths::state_dir(), "base", started.elapsed());
    Ok(reference)
}

async fn build_if_missing(
    engine: &Engine,
    kind: &str,
    context: &BuildContext,
    parent_arg: &str,
    parent: &str,
    progress: &Progress,
) -> Result<String> {
    let tar = context.tar()?;
    let reference = build_reference(kind, &tar, parent);
    if engine.image_exists(&reference).await? {
        return Ok(reference);
    }
    let step = progress.step(format!("building {reference}"));
    let started = Instant::now();
    let labels = HashMap::from([(LABEL_IMAGE.to_string(), kind.to_string())]);
    let args = HashMap::from([(parent_arg.to_string(), parent.to_string())]);
    engine.build_image(tar, &reference, args, labels, |line| show_build_line(&step, line)).await?;
    step.done();
    build_times::record(&paths::state_dir(), kind, started.elapsed());
    Ok(reference)
}

/// A build context (or any tree the lab sends to a container): files by their path in the
/// context, with their mode, from the disk or given as bytes.
pub(crate) struct BuildContext {
    files: BTreeMap<String, (FileData, u32)>,
}

enum FileData {
    Disk(PathBuf),
    Bytes(Vec<u8>),
    /// A symbolic link, kept as one (a library's `libx.so.2 -> libx.so.2.0.0`).
    Symlink(PathBuf),
}

impl BuildContext {
    pub(crate) fn from_dir(dir: &Path) -> Result<BuildContext> {
        BuildContext::from_dir_without(dir, &[])
    }

    /// The tree under `dir`, less the entries named in `skip` at any depth (`.git`).
    pub(crate) fn from_dir_without(dir: &Path, skip: &[&str]) -> Result<BuildContext> {
        let mut context = BuildContext { files: BTreeMap::new() };
        context.add_tree("", dir, skip)?;
        Ok(context)
    }

    fn add_dir(&mut self, under: &str, dir: &Path) -> Result<()> {
        self.add_tree(under, dir, &[])
    }

    fn add_tree(&mut self, under: &str, dir: &Path, skip: &[&str]) -> Result<()> {
        let entries = std::fs::read_dir(dir).with_context(|| format!("read {}", dir.display()))?;
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if skip.contains(&name.as_str()) {
                continue;
            }
            let inner = if under.is_empty() { name } else { format!("{under}/{name}") };
            let kind = entry.file_type()?;
            if kind.is_dir() {
                self.add_tree(&inner, &entry.path(), skip)?;
            } else if kind.is_symlink() {
                let target = std::fs::read_link(entry.path())?;
                self.files.insert(inner, (FileData::Symlink(target), 0o777));
            } else {
                self.add_file(&inner, &entry.path())?;
            }
        }
        Ok(())
    }

    fn add_file(&mut self, inner: &str, path: &Path) -> Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(path).with_context(|| format!("read {}", path.display()))?;
        self.files.insert(inner.to_string(), (FileData::Disk(path.to_path_buf()), meta.permissions().mode() & 0o7777));
        Ok(())
    }

    /// Adds (or replaces) a file given by its content.
    pub(crate) fn add_bytes(&mut self, inner: &str, data: Vec<u8>, mode: u32) {
        self.files.insert(inner.to_string(), (FileData::Bytes(data), mode));
    }

    /// A reproducible tarball (fixed owners and times), so its bytes hash the content.
    pub(crate) fn tar(&self) -> Result<Vec<u8>> {
        let mut builder = tar::Builder::new(Vec::new());
        for (inner, (file, mode)) in &self.files {
            let mut header = tar::Header::new_gnu();
            header.set_mode(*mode);
            header.set_mtime(0);
            header.set_uid(0);
            header.set_gid(0);
            let data = match file {
                FileData::Disk(path) => std::fs::read(path).with_context(|| format!("read {}", path.display()))?,
                FileData::Bytes(bytes) => bytes.clone(),
                FileData::Symlink(target) => {
                    header.set_entry_type(tar::EntryType::Symlink);
                    header.set_size(0);
                    builder.append_link(&mut header, inner, target)?;
                    continue;
                }
            };
            header.set_size(data.len() as u64);
            header.set_cksum();
            builder.append_data(&mut header, inner, data.as_slice())?;
        }
        Ok(builder.into_inner()?)
    }
}

fn images_dir() -> PathBuf {
    paths::workspace_root().join("lab").join("images")
}

/// Builds `arcus` and `memcached` in release mode and returns the folder holding them.
fn build_binaries() -> Result<PathBuf> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(paths::workspace_root())
        .args(["build", "--release", "--quiet", "-p", "arcus-admin", "-p", "arcus-node"])
        .output()
        .context("run cargo build for the arcus and memcached binaries")?;
    if !out.status.success() {
        bail!(
            "cargo build --release -p arcus-admin -p arcus-node failed:\n{}",
            tail(&String::from_utf8_lossy(&out.stderr), 30)
        );
    }
    Ok(paths::target_dir().join("release"))
}

/// The Debian bookworm apt entries under `apt` (the host's `/etc/apt`), as files for mmdebstrap:
/// (`name`, text); empty when there is none. Other entries (third-party repositories) are left
/// out; the mirror's name is never in this repo.
fn debian_sources(apt: &Path) -> Vec<(String, String)> {
    let mut one_line = String::new();
    let mut deb822 = String::new();
    let mut files = vec![apt.join("sources.list")];
    if let Ok(dir) = std::fs::read_dir(apt.join("sources.list.d")) {
        let mut more: Vec<PathBuf> = dir.filter_map(|e| e.ok().map(|e| e.path())).collect();
        more.sort();
        files.extend(more);
    }
    for file in files {
        let Ok(text) = std::fs::read_to_string(&file) else { continue };
        let name = file.to_string_lossy();
        if name.ends_with(".sources") {
            for stanza in text.split("\n\n").filter(|s| deb822_is_bookworm(s)) {
                deb822.push_str(stanza.trim());
                deb822.push_str("\n\n");
            }
        } else if name.ends_with(".list") {
            for line in text.lines().filter(|l| one_line_is_bookworm(l)) {
                one_line.push_str(line.trim());
                one_line.push('\n');
            }
        }
    }
    let mut out = Vec::new();
    if !one_line.is_empty() {
        out.push(("host-apt.list".to_string(), one_line));
    }
    if !deb822.is_empty() {
        out.push(("host-apt.sources".to_string(), deb822));
    }
    out
}

/// `deb [options] uri suite components...` with a bookworm suite.
fn one_line_is_bookworm(line: &str) -> bool {
    let line = line.split('#').next().unwrap_or("");
    let mut words = line.split_whitespace();
    if words.next() != Some("deb") {
        return false;
    }
    let mut rest = words.skip_while(|w| w.starts_with('[')).skip_while(|w| w.ends_with(']') && !w.contains("://"));
    let _uri = rest.next();
    rest.next().is_some_and(|suite| suite.starts_with("bookworm"))
}

fn deb822_is_bookworm(stanza: &str) -> bool {
    let field = |name: &str| {
        stanza.lines().find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(':')).map(str::trim)).unwrap_or("")
    };
    let enabled = !field("Enabled").eq_ignore_ascii_case("no");
    let deb = field("Types").split_whitespace().any(|t| t == "deb");
    enabled && deb && field("Suites").split_whitespace().any(|s| s.starts_with("bookworm"))
}

/// mmdebstrap must be on the PATH; as root on Debian it is installed (and said so).
fn ensure_mmdebstrap(progress: &Progress) -> Result<()> {
    if which::which("mmdebstrap").is_ok() {
        return Ok(());
    }
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if !(root && Path::new("/etc/debian_version").exists()) {
        bail!("mmdebstrap is missing; install it: sudo apt-get install -y mmdebstrap");
    }
    // apt's output goes to a log: its dozens of lines would drown the progress display
    let log = paths::state_dir().join("apt-mmdebstrap.log");
    let step = progress.step("mmdebstrap is missing: installing it (apt-get install -y mmdebstrap)");
    let started = Instant::now();
    eprintln!("mmdebstrap is missing: installing it with apt-get (its output: {})", log.display());
    for args in [&["update", "-qq"][..], &["install", "-y", "-qq", "mmdebstrap"][..]] {
        let mut apt = Command::new("apt-get");
        apt.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        run_logged(&mut apt, &log).with_context(|| {
            format!("apt-get {}; install mmdebstrap by hand: apt-get install -y mmdebstrap", args.join(" "))
        })?;
    }
    step.done();
    build_times::record(&paths::state_dir(), build_times::MMDEBSTRAP, started.elapsed());
    Ok(())
}

/// When the release binaries were last written (None: not built).
fn modified(release: &Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(release.join("memcached")).and_then(|m| m.modified()).ok()
}

/// Runs `cmd` with its stdout and stderr appended to `log`; a failure names the log and shows
/// its last lines.
fn run_logged(cmd: &mut Command, log: &Path) -> Result<()> {
    if let Some(dir) = log.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    }
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .with_context(|| format!("open {}", log.display()))?;
    let err = out.try_clone().with_context(|| format!("open {}", log.display()))?;
    let program = cmd.get_program().to_string_lossy().into_owned();
    let status = cmd.stdout(out).stderr(err).status().with_context(|| format!("run {program}"))?;
    if !status.success() {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        bail!("{program} failed ({status}); the end of {}:\n{}", log.display(), tail(&text, 20));
    }
    Ok(())
}

/// What a line of the (legacy) builder's output is to the progress display: a Dockerfile step
/// (`Step 3/9 : RUN ...`) is the build's stage, the builder's own bookkeeping is left out, and
/// anything else (what a RUN prints: the package being set up) is a detail.
fn show_build_line(step: &crate::progress::Step, line: &str) {
    let bookkeeping = ["--->", "Removing intermediate container", "Successfully built", "Successfully tagged"];
    let trimmed = line.trim_start();
    if trimmed.starts_with("Step ") && trimmed.contains(" : ") {
        step.stage(trimmed);
    } else if !bookkeeping.iter().any(|b| trimmed.starts_with(b)) {
        step.detail(trimmed);
    }
}

/// Held while images are checked or built; released on drop.
async fn lock() -> Result<File> {
    let dir = paths::state_dir();
    std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
    let path = dir.join("images.lock");
    let file = File::create(&path).with_context(|| format!("open {}", path.display()))?;
    // Another process may hold it for a whole build: wait off the async threads.
    tokio::task::spawn_blocking(move || file.lock().map(|()| file))
        .await?
        .with_context(|| format!("lock {}", path.display()))
}

pub(crate) fn short_hash(hasher: Sha256) -> String {
    hasher.finalize().iter().take(6).map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_logged_command_keeps_its_output_out_of_sight_and_shows_its_end_on_failure() {
        let dir = std::env::temp_dir().join(format!("arcus-run-logged-{}", std::process::id()));
        let log = dir.join("apt.log");
        run_logged(Command::new("sh").args(["-c", "echo Selecting previously unselected package x"]), &log).unwrap();
        let lines: String = (1..=30).map(|i| format!("echo line {i}; ")).collect();
        let failed = run_logged(Command::new("sh").args(["-c", &format!("{lines} echo broken >&2; exit 100")]), &log);
        let message = failed.unwrap_err().to_string();
        let kept = std::fs::read_to_string(&log).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        assert!(
            message.starts_with(&format!("sh failed (exit status: 100); the end of {}:\n", log.display())),
            "{message}"
        );
        assert!(message.ends_with("line 30\nbroken"), "{message}");
        assert!(!message.contains("line 11\n"), "only the last 20 lines: {message}");
        assert!(kept.starts_with("Selecting previously unselected package x\nline 1\n"), "{kept}");
    }
}
