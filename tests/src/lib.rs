//! The conformance suite: every `scenarios/*.toml` is a test (tests/scenarios.rs), checked against
//! the snapshots in `tests/snapshots/`. This file finds the scenarios and runs one.

use std::path::{Path, PathBuf};

use arcus_lab::scenario::{self, RunOptions};
use arcus_lab::{paths, Flavour, Timing};

/// Every scenario file, sorted by name.
pub fn scenario_files() -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(paths::scenarios_dir())? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "toml") {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// Parses and runs one scenario file on a fresh lab; the error says what failed and where.
pub fn run_file(file: &Path) -> Result<(), String> {
    // named as the workspace sees it: scenarios/<file>
    let shown = Path::new("scenarios").join(file.file_name().unwrap_or_default());
    let text = std::fs::read_to_string(file).map_err(|e| format!("{}: cannot read: {e}", shown.display()))?;
    let parsed = scenario::parse_str(&shown, &text).map_err(|e| e.to_string())?;
    let flavour = Flavour::from_option(None).map_err(|e| e.to_string())?;
    let options =
        RunOptions { snapshots: paths::snapshots_dir(), timing: Timing::Fast, flavour, keep_on_failure: false };
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    let report = runtime.block_on(scenario::run(&parsed, &options)).map_err(|e| format!("{e:#}"))?;
    eprintln!("{}: passed in {:.1?}; run directory {}", parsed.name, report.elapsed, report.run_dir.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
