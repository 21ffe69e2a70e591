//! Where things live on the host: the workspace, cargo's target directory and the lab's state
//! directory `target/arcus-lab/` (image cache, current-lab file, locks, runs, benchmarks).

use std::path::PathBuf;

/// The workspace root (this crate sits at `lab/harness`).
pub fn workspace_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().and_then(|p| p.parent()).map(PathBuf::from).unwrap_or(manifest)
}

/// Cargo's target directory: `CARGO_TARGET_DIR` when set, else `<workspace>/target`.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                dir
            } else {
                workspace_root().join(dir)
            }
        }
        None => workspace_root().join("target"),
    }
}

/// The lab's state directory, shared by every process of this checkout:
/// always `<workspace>/target/arcus-lab`, whatever `CARGO_TARGET_DIR` says.
pub fn state_dir() -> PathBuf {
    workspace_root().join("target").join("arcus-lab")
}

/// The scenario files of the conformance suite: `<workspace>/scenarios`.
pub fn scenarios_dir() -> PathBuf {
    workspace_root().join("scenarios")
}

/// The scenario files under [`scenarios_dir`], sorted (`*.toml`).
pub fn scenario_files() -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(scenarios_dir())? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "toml") {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// The suite's committed snapshots: `<workspace>/tests/snapshots`.
pub fn snapshots_dir() -> PathBuf {
    workspace_root().join("tests").join("snapshots")
}
