//! `arcus build`: our recipe that builds a user's arcus-memcached source checkout into an install
//! prefix the lab can use (`--arcus-src DIR`), following upstream's own steps (docs/install.md):
//! `config/autorun.sh`, `deps/install.sh <prefix>` (the libevent, arcus-zookeeper C client and
//! cyrus-sasl tarballs the checkout bundles), `configure --enable-zk-integration`, `make`,
//! `make install`. It runs in a network-less container from the `arcus-builder` image; the prefix
//! is `/opt/arcus` there, as on the lab's hosts (the binary's run path points into it). The result
//! lands in `target/arcus-lab/arcus-builds/<hash of the tree and the recipe>/` with one log per
//! step, and a tree already built is not built again. Nothing of the checkout enters this repo.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};

use crate::engine::{Engine, LABEL_ROLE, LABEL_RUN};
use crate::images::{self, BuildContext};
use crate::paths;
use crate::progress::Progress;

/// Where the install goes inside the builder: the path the lab's hosts run it from.
const PREFIX: &str = "/opt/arcus";
/// Where the checkout is unpacked inside the builder.
const SRC: &str = "/build/src";
/// The longest one step may take before the build gives up on it.
const STEP_DEADLINE: Duration = Duration::from_secs(30 * 60);

/// One step of the recipe: its name (log file, messages) and its shell line, run in [`SRC`].
struct RecipeStep {
    name: &'static str,
    line: &'static str,
    /// A log the step writes itself, appended to ours when the step fails.
    own_log: Option<&'static str>,
}

/// Upstream's build, step by step (docs/install.md). `MAKEFLAGS` lets the bundled dependencies
/// build on every core; the commands themselves are upstream's.
const RECIPE: &[RecipeStep] = &[
    RecipeStep { name: "autorun", line: "./config/autorun.sh", own_log: None },
    RecipeStep {
        name: "deps",
        line: "MAKEFLAGS=-j$(nproc) ./deps/install.sh /opt/arcus",
        own_log: Some("deps/install.log"),
    },
    RecipeStep {
        name: "configure",
        line: "./configure --prefix=/opt/arcus --enable-zk-integration --with-libevent=/opt/arcus --with-zookeeper=/opt/arcus",
        own_log: Some("config.log"),
    },
    RecipeStep { name: "make", line: "make -j$(nproc)", own_log: None },
    RecipeStep { name: "install", line: "make install", own_log: None },
];

/// A built install prefix.
#[derive(Debug, Clone)]
pub struct ArcusBuild {
    /// The prefix, holding `bin/memcached` and `lib/` (for `Flavour::Arcus`).
    pub prefix: PathBuf,
    /// The build's directory: `prefix/`, `logs/`, `build.json`.
    pub dir: PathBuf,
    /// The version the build was configured with (`m4/version.m4`, or `git describe`).
    pub version: String,
    /// Found in the cache: nothing was built.
    pub cached: bool,
    /// Each step's wall time (empty when cached).
    pub steps: Vec<(String, Duration)>,
}

/// Builds `src` unless a build of the same tree and recipe is cached, and returns the prefix.
pub async fn build(engine: &Engine, src: &Path, progress: &Progress) -> Result<ArcusBuild> {
    let src = check_checkout(src)?;
    let version = version_of(&src)?;
    let step = progress.step(format!("hashing the arcus-memcached checkout {}", src.display()));
    let (context, hash) = {
        let src = src.clone();
        let version = version.clone();
        tokio::task::spawn_blocking(move || source_context(&src, &version)).await??
    };
    step.done();
    let dir = paths::state_dir().join("arcus-builds").join(&hash);
    let prefix = dir.join("prefix");
    let done = dir.join("build.json");
    std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
    let _lock = lock(&dir).await?;
    if done.exists() && prefix.join("bin/memcached").exists() {
        return Ok(ArcusBuild { prefix, dir, version, cached: true, steps: Vec::new() });
    }
    let builder = images::ensure_arcus_builder(engine, progress).await?;
    let container = format!("arcuslab-build-{hash}-{}", std::process::id());
    let run = format!("arcus-build-{}", std::process::id());
    let (owner_key, owner) = crate::lab::owner_label();
    let labels = std::collections::HashMap::from([
        (LABEL_RUN.to_string(), run),
        (LABEL_ROLE.to_string(), "arcus-builder".to_string()),
        (owner_key.to_string(), owner),
    ]);
    engine.run_offline(&container, &builder, labels, &["sleep", "infinity"]).await?;
    let built = build_in(engine, &container, context, &dir, progress).await;
    let removed = engine.remove_container(&container).await;
    let steps = built?;
    removed?;
    let record = serde_json::json!({
        "source": src.display().to_string(),
        "version": version,
        "hash": hash,
        "steps": steps.iter().map(|(name, took)| serde_json::json!({"step": name, "seconds": took.as_secs_f64()})).collect::<Vec<_>>(),
    });
    std::fs::write(&done, serde_json::to_string_pretty(&record)?)
        .with_context(|| format!("write {}", done.display()))?;
    Ok(ArcusBuild { prefix, dir, version, cached: false, steps })
}

/// The checkout, made absolute, if it looks like arcus-memcached's.
fn check_checkout(src: &Path) -> Result<PathBuf> {
    let src =
        std::fs::canonicalize(src).with_context(|| format!("--arcus-src {}: no such directory", src.display()))?;
    for needed in ["configure.ac", "memcached.c", "arcus_zk.c", "config/autorun.sh", "deps/install.sh"] {
        if !src.join(needed).exists() {
            bail!(
                "--arcus-src {}: {needed} is missing; give the top directory of an arcus-memcached checkout",
                src.display()
            );
        }
    }
    Ok(src)
}

/// The version to configure with: the checkout's `m4/version.m4` if it has one (a release
/// tarball), else what upstream's `config/version.pl` would write, from `git describe`.
fn version_of(src: &Path) -> Result<String> {
    let m4 = src.join("m4/version.m4");
    if let Ok(text) = std::fs::read_to_string(&m4) {
        let version = text.split('[').nth(2).and_then(|v| v.split(']').next()).unwrap_or("").to_string();
        if version.is_empty() {
            bail!("{}: no VERSION_NUMBER in it", m4.display());
        }
        return Ok(version);
    }
    let out = std::process::Command::new("git").arg("-C").arg(src).arg("describe").output();
    let described = match out {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).trim().to_string(),
        _ => bail!(
            "--arcus-src {}: cannot tell its version: no m4/version.m4 and `git describe` fails there \
             (clone the repository with its tags, or write m4/version.m4 as a release tarball has it)",
            src.display()
        ),
    };
    Ok(version_from_describe(&described))
}

/// `config/version.pl`'s rule: `1.15.0` stays, `1.15.0-3-gabc123` drops the commit, anything
/// that does not start with a version number becomes upstream's default.
fn version_from_describe(described: &str) -> String {
    let starts_with_version = {
        let mut parts = described.splitn(4, '.');
        let numeric = |p: Option<&str>| p.is_some_and(|p| p.starts_with(|c: char| c.is_ascii_digit()));
        numeric(parts.next()) && numeric(parts.next()) && numeric(parts.next())
    };
    if !starts_with_version {
        return "1.15.0-unknown".to_string();
    }
    let mut tokens: Vec<&str> = described.split('-').collect();
    if tokens.len() > 2 {
        tokens.pop();
    }
    tokens.join("-")
}

/// The checkout (less `.git`) with its `m4/version.m4`, and the hash of it and the recipe.
fn source_context(src: &Path, version: &str) -> Result<(BuildContext, String)> {
    let mut context = BuildContext::from_dir_without(src, &[".git"])?;
    context.add_bytes("m4/version.m4", format!("m4_define([VERSION_NUMBER], [{version}])\n").into_bytes(), 0o644);
    let tar = context.tar()?;
    let mut hasher = Sha256::new();
    for step in RECIPE {
        hasher.update(step.name.as_bytes());
        hasher.update(step.line.as_bytes());
    }
    hasher.update(std::fs::read(paths::workspace_root().join("lab/images/arcus-builder/Dockerfile"))?);
    hasher.update(&tar);
    Ok((context, images::short_hash(hasher)))
}

/// Sends the checkout, runs the recipe, copies the prefix out; returns each step's time.
async fn build_in(
    engine: &Engine,
    container: &str,
    context: BuildContext,
    dir: &Path,
    progress: &Progress,
) -> Result<Vec<(String, Duration)>> {
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs).with_context(|| format!("create {}", logs.display()))?;
    let tar = tokio::task::spawn_blocking(move || context.tar()).await??;
    run_sh(engine, container, &format!("mkdir -p {SRC} /build/logs")).await?;
    engine.upload(container, SRC, tar).await?;
    let mut times = Vec::new();
    for step in RECIPE {
        let shown = progress.step(format!("arcus build: {} ({})", step.name, step.line));
        let started = Instant::now();
        let result = run_step(engine, container, step).await;
        let log_path = logs.join(format!("{}.log", step.name));
        let mut log =
            run_sh(engine, container, &format!("cat /build/logs/{}.log", step.name)).await.unwrap_or_default();
        match result {
            Ok(()) => {
                std::fs::write(&log_path, &log).with_context(|| format!("write {}", log_path.display()))?;
                shown.done();
                times.push((step.name.to_string(), started.elapsed()));
            }
            Err(e) => {
                if let Some(own) = step.own_log {
                    let text = run_sh(engine, container, &format!("cat {SRC}/{own}")).await.unwrap_or_default();
                    log.push_str(&format!("\n==== {own} ====\n{text}"));
                }
                std::fs::write(&log_path, &log).with_context(|| format!("write {}", log_path.display()))?;
                bail!(
                    "arcus build failed at step `{}` ({}): {e:#}\nits log: {}\n{}",
                    step.name,
                    step.line,
                    log_path.display(),
                    images::tail(&log, 20)
                );
            }
        }
    }
    let shown = progress.step(format!("copying {PREFIX} out of the builder"));
    let tar = engine.download(container, PREFIX).await?;
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || unpack_prefix(&tar, &dir)).await??;
    shown.done();
    Ok(times)
}

/// Runs one step in the background of the container and waits for its exit code (an engine
/// call may not stay open for a whole build).
async fn run_step(engine: &Engine, container: &str, step: &RecipeStep) -> Result<()> {
    let name = step.name;
    let script = format!(
        "cd {SRC} && nohup sh -c '({}) > /build/logs/{name}.log 2>&1; echo $? > /build/logs/{name}.rc' \
         >/dev/null 2>&1 &",
        step.line
    );
    run_sh(engine, container, &script).await?;
    let what = format!("the arcus build step `{name}` to finish");
    let code = crate::wait::until(&what, STEP_DEADLINE, Duration::from_millis(500), || async {
        let rc =
            engine.exec(container, &["cat", &format!("/build/logs/{name}.rc")]).await.map_err(|e| e.to_string())?;
        if rc.exit == 0 {
            Ok(rc.stdout.trim().to_string())
        } else {
            Err("still running".to_string())
        }
    })
    .await?;
    if code != "0" {
        bail!("exit {code}");
    }
    Ok(())
}

async fn run_sh(engine: &Engine, container: &str, script: &str) -> Result<String> {
    let out = engine.exec(container, &["sh", "-c", script]).await?;
    if out.exit != 0 {
        bail!("`{script}` in {container} exited {}: {}", out.exit, out.stderr.trim());
    }
    Ok(out.stdout)
}

/// Unpacks the `arcus/` tarball of the prefix into `dir/prefix`, replacing an older one whole.
fn unpack_prefix(tar: &[u8], dir: &Path) -> Result<()> {
    let staging = dir.join("prefix.new");
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&staging)?;
    tar::Archive::new(tar).unpack(&staging).with_context(|| format!("unpack into {}", staging.display()))?;
    let prefix = dir.join("prefix");
    let _ = std::fs::remove_dir_all(&prefix);
    std::fs::rename(staging.join("arcus"), &prefix)
        .with_context(|| format!("move the prefix to {}", prefix.display()))?;
    let _ = std::fs::remove_dir_all(&staging);
    Ok(())
}

/// One build of a tree at a time (two processes asking for the same build wait for one).
async fn lock(dir: &Path) -> Result<std::fs::File> {
    let path = dir.join("build.lock");
    let file = std::fs::File::create(&path).with_context(|| format!("open {}", path.display()))?;
    tokio::task::spawn_blocking(move || file.lock().map(|()| file))
        .await?
        .with_context(|| format!("lock {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_follows_upstreams_version_pl() {
        assert_eq!(version_from_describe("1.15.0"), "1.15.0");
        assert_eq!(version_from_describe("1.15.0-3-gabc1234"), "1.15.0-3");
        assert_eq!(version_from_describe("1.15.0-rc1"), "1.15.0-rc1");
        assert_eq!(version_from_describe("nightly-5-gabc"), "1.15.0-unknown");
    }
}
