//! The GitHub Actions workflows under `.github/workflows/` as GitHub and an auditor read them:
//! valid against check-jsonschema's built-in GitHub-workflow schema, and no finding of high
//! severity from zizmor's offline audits. Both tools come from PyPI (`.ci/requirements.txt`;
//! `.ci/run` installs them); under `CI=true` a missing tool fails the test, elsewhere it is
//! skipped with the line that installs it.

use std::path::PathBuf;
use std::process::{Command, Output};

fn workflows() -> Vec<PathBuf> {
    let dir = arcus_lab::paths::workspace_root().join(".github/workflows");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yml" || x == "yaml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no workflow under {}", dir.display());
    files
}

/// `tool args...` on the workflows, or `None` when the tool is not installed (which fails the
/// test under CI=true).
fn run(tool: &str, args: &[&str]) -> Option<Output> {
    match Command::new(tool).args(args).args(workflows()).output() {
        Ok(out) => Some(out),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let install = "python3 -m venv target/ci-tools && target/ci-tools/bin/pip install -r .ci/requirements.txt \
                           && export PATH=$PWD/target/ci-tools/bin:$PATH (or run .ci/run, which does it)";
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!(
                    "{tool} is not installed, and CI=true: the workflow checks must run in CI. Install it: {install}"
                );
            }
            eprintln!(
                "\n==================== SKIPPED: {tool} is not installed ====================\n\
                 the workflow check with {tool} did not run. Install it:\n  {install}\n"
            );
            None
        }
        Err(e) => panic!("run {tool}: {e}"),
    }
}

fn text(out: &Output) -> String {
    format!("{}\n{}{}", out.status, String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

#[test]
fn the_workflows_match_githubs_workflow_schema() {
    let Some(out) = run("check-jsonschema", &["--builtin-schema", "vendor.github-workflows"]) else { return };
    assert!(out.status.success(), "check-jsonschema: {}", text(&out));
}

#[test]
fn zizmor_finds_nothing_of_high_severity_in_the_workflows() {
    let Some(out) = run("zizmor", &["--offline", "--min-severity", "high", "--no-progress"]) else { return };
    assert!(out.status.success(), "zizmor --offline --min-severity high: {}", text(&out));
}
