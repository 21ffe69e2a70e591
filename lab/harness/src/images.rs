//! The lab's three images, built here and never pulled: `arcus-lab/base` (a Debian bookworm
//! minbase rootfs from mmdebstrap, imported), `arcus-lab/host` (the runbook's memcached host) and
//! `arcus-lab/admin` (the admin host with /opt/arcus). Each is tagged by a hash of its inputs and
//! built only when that tag is missing; a file lock keeps concurrent processes from building twice.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};

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
        all.extend(engine.list_images(LABEL_IMAGE, kind).await?);
    }
    Ok(all)
}

/// Removes outdated lab images, skipping those still in use (by a container or a child image):
/// every base and host image but the one the current inputs hash to, and every admin image but
/// the newest (its hash needs the release binaries, which pruning does not build). Returns the
/// removed references.
pub async fn prune(engine: &Engine) -> Result<Vec<String>> {
    let _lock = lock().await?;
    let base = base_reference(&base_tag(&debian_sources()?));
    let host = build_reference("host", &host_context()?.tar()?, &base);
    let newest_admin = engine.list_images(LABEL_IMAGE, "admin").await?.into_iter().next();
    let keep = [Some(base), Some(host), newest_admin];
    let mut removed = Vec::new();
    for kind in ["admin", "host", "base"] {
        for image in engine.list_images(LABEL_IMAGE, kind).await? {
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

async fn ensure_host_locked(engine: &Engine, progress: &Progress) -> Result<String> {
    let base = ensure_base(engine, progress).await?;
    build_if_missing(engine, "host", &host_context()?, "BASE", &base, progress).await
}

async fn ensure_admin_locked(engine: &Engine, host: &str, flavour: &Flavour, progress: &Progress) -> Result<String> {
    let mut context = BuildContext::from_dir(&images_dir().join("admin"))?;
    let step = progress.step("building the arcus and memcached binaries (cargo build --release)");
    // off the async threads: `lab up` starts the hosts meanwhile
    let bins = tokio::task::spawn_blocking(build_binaries).await??;
    step.done();
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

fn host_context() -> Result<BuildContext> {
    BuildContext::from_dir(&images_dir().join("host"))
}

/// The base image's tag: a hash of mmdebstrap's arguments and the apt sources.
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
    let sources = debian_sources()?;
    let tag = base_tag(&sources);
    let reference = base_reference(&tag);
    if engine.image_exists(&reference).await? {
        return Ok(reference);
    }
    ensure_mmdebstrap(progress)?;
    let step = progress.step(format!("building the base rootfs (mmdebstrap bookworm) → {reference}"));
    let cache = paths::state_dir().join("cache");
    std::fs::create_dir_all(&cache).with_context(|| format!("create {}", cache.display()))?;
    let mut mirror_args = Vec::new();
    for (name, text) in &sources {
        let path = cache.join(name);
        std::fs::write(&path, text).with_context(|| format!("write {}", path.display()))?;
        mirror_args.push(path);
    }
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
    let labels = HashMap::from([(LABEL_IMAGE.to_string(), kind.to_string())]);
    let args = HashMap::from([(parent_arg.to_string(), parent.to_string())]);
    engine.build_image(tar, &reference, args, labels, |line| step.detail(line)).await?;
    step.done();
    Ok(reference)
}

/// A build context: files by their path in the context, with their mode.
struct BuildContext {
    files: BTreeMap<String, (PathBuf, u32)>,
}

impl BuildContext {
    fn from_dir(dir: &Path) -> Result<BuildContext> {
        let mut context = BuildContext { files: BTreeMap::new() };
        context.add_dir("", dir)?;
        Ok(context)
    }

    fn add_dir(&mut self, under: &str, dir: &Path) -> Result<()> {
        let entries = std::fs::read_dir(dir).with_context(|| format!("read {}", dir.display()))?;
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let inner = if under.is_empty() { name } else { format!("{under}/{name}") };
            if entry.file_type()?.is_dir() {
                self.add_dir(&inner, &entry.path())?;
            } else {
                self.add_file(&inner, &entry.path())?;
            }
        }
        Ok(())
    }

    fn add_file(&mut self, inner: &str, path: &Path) -> Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(path).with_context(|| format!("read {}", path.display()))?;
        self.files.insert(inner.to_string(), (path.to_path_buf(), meta.permissions().mode() & 0o7777));
        Ok(())
    }

    /// A reproducible tarball (fixed owners and times), so its bytes hash the content.
    fn tar(&self) -> Result<Vec<u8>> {
        let mut builder = tar::Builder::new(Vec::new());
        for (inner, (path, mode)) in &self.files {
            let data = std::fs::read(path).with_context(|| format!("read {}", path.display()))?;
            let mut header = tar::Header::new_gnu();
            header.set_size(data.len() as u64);
            header.set_mode(*mode);
            header.set_mtime(0);
            header.set_uid(0);
            header.set_gid(0);
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

/// The host's Debian bookworm apt entries, as files for mmdebstrap: (`name`, text). Other
/// entries (third-party repositories) are left out; the mirror's name is never in this repo.
fn debian_sources() -> Result<Vec<(String, String)>> {
    let mut one_line = String::new();
    let mut deb822 = String::new();
    let mut files = vec![PathBuf::from("/etc/apt/sources.list")];
    if let Ok(dir) = std::fs::read_dir("/etc/apt/sources.list.d") {
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
    if out.is_empty() {
        bail!("the host's apt sources (/etc/apt/sources.list, /etc/apt/sources.list.d/) have no Debian bookworm entry: the base image is built from one");
    }
    Ok(out)
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
    let step = progress.step("mmdebstrap is missing: installing it (apt-get install -y mmdebstrap)");
    eprintln!("mmdebstrap is missing: installing it with apt-get install -y mmdebstrap");
    for args in [&["update", "-qq"][..], &["install", "-y", "-qq", "mmdebstrap"][..]] {
        let status = Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .context("run apt-get")?;
        if !status.success() {
            bail!(
                "apt-get {} failed ({status}); install mmdebstrap by hand: apt-get install -y mmdebstrap",
                args.join(" ")
            );
        }
    }
    step.done();
    Ok(())
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

fn short_hash(hasher: Sha256) -> String {
    hasher.finalize().iter().take(6).map(|b| format!("{b:02x}")).collect()
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
