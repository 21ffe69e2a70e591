//! The conformance suite: every `scenarios/*.toml` is a test (tests/scenarios.rs), checked against
//! the snapshots in `tests/snapshots/`. This file finds the scenarios and runs one.

use std::path::{Path, PathBuf};

use arcus_lab::scenario::{self, RunOptions};
use arcus_lab::{paths, Flavour, Timing};

/// Every scenario file, sorted by name.
pub fn scenario_files() -> std::io::Result<Vec<PathBuf>> {
    paths::scenario_files()
}

/// Parses and runs one scenario file on a fresh lab; the error says what failed and where.
pub fn run_file(file: &Path) -> Result<(), String> {
    run_scenario(file).map(|_| ())
}

/// [`run_file`], returning the passed run (its run directory).
pub fn run_scenario(file: &Path) -> Result<scenario::RunReport, String> {
    // named as the workspace sees it: scenarios/<file>
    let shown = Path::new("scenarios").join(file.file_name().unwrap_or_default());
    let text = std::fs::read_to_string(file).map_err(|e| format!("{}: cannot read: {e}", shown.display()))?;
    let parsed = scenario::parse_str(&shown, &text).map_err(|e| e.to_string())?;
    let flavour = Flavour::from_option(None).map_err(|e| e.to_string())?;
    let options = RunOptions {
        snapshots: paths::snapshots_dir(),
        timing: Timing::Fast,
        flavour,
        keep_on_failure: false,
        compare_snapshots: true,
    };
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    let report = runtime.block_on(scenario::run(&parsed, &options)).map_err(|e| format!("{e:#}"))?;
    eprintln!("{}: passed in {:.1?}; run directory {}", parsed.name, report.elapsed, report.run_dir.display());
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `.snap` files under tests/snapshots/, by file stem.
    fn snapshot_files() -> std::collections::BTreeSet<String> {
        std::fs::read_dir(paths::snapshots_dir())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "snap"))
            .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn every_snapshot_file_belongs_to_a_step_and_every_step_has_its_file() {
        let mut referenced = std::collections::BTreeSet::new();
        for file in scenario_files().unwrap() {
            let parsed = scenario::parse(&file).unwrap_or_else(|e| panic!("{e}"));
            for name in parsed.snapshots() {
                referenced.insert(scenario::snapshot_name(&parsed.name, name));
            }
        }
        let files = snapshot_files();
        let orphans: Vec<&String> = files.difference(&referenced).collect();
        let missing: Vec<&String> = referenced.difference(&files).collect();
        assert!(
            orphans.is_empty(),
            "snapshots no step refers to (remove them, or name them in a step's `snapshot`): {orphans:?}"
        );
        assert!(
            missing.is_empty(),
            "steps whose snapshot file is missing (run the scenario, then `cargo xtask snapshots accept`): {missing:?}"
        );
    }

    /// A drift check: the README's list of step kinds, fault verbs and wait conditions is the one
    /// the declarations render.
    #[test]
    fn the_readme_lists_the_declared_vocabulary() {
        use scenario::reference::{markdown, BEGIN, END};
        let readme = std::fs::read_to_string(paths::workspace_root().join("README.md")).unwrap();
        let listed = readme
            .split_once(BEGIN)
            .and_then(|(_, rest)| rest.split_once(END))
            .map(|(block, _)| format!("{BEGIN}{block}{END}\n"))
            .unwrap_or_default();
        assert!(
            listed == markdown(),
            "README.md's scenario vocabulary differs from the declarations; replace the block between the markers with \
             the output of `cargo xtask lab steps`:\n{}",
            markdown()
        );
    }

    #[test]
    fn every_scenario_file_parses() {
        let files = scenario_files().unwrap();
        for file in &files {
            if let Err(e) = scenario::parse(file) {
                panic!("{e}");
            }
        }
    }
}
