//! `cargo xtask ci summary` on a real run: a small scenario of our own (a bare lab, two commands
//! and a measure between them) run with `cargo xtask lab run` appears in the markdown with its
//! title, file, outcome and run id, and its measure in the measures table.

mod support;
use support::text;

use std::process::{Command, Output};

fn xtask(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask")).args(args).output().expect("run xtask")
}

const SCENARIO: &str = r#"title = "ci summary: two commands and the time between them"
setup = "bare"

[[step]]
run = "true"
host = "memcached-1"
expect.exit = 0
label = "first"

[[step]]
run = "true"
host = "memcached-1"
expect.exit = 0
label = "second"

[[step]]
measure = "between the commands"
from = "first"
to = "second"
expect.max = "60s"
"#;

#[test]
fn a_scenario_run_appears_in_the_summary_with_its_measure() {
    let dir = std::env::temp_dir().join(format!("arcus-lab-ci-summary-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("ci_summary_two_commands.toml");
    std::fs::write(&file, SCENARIO).unwrap();
    let file = file.to_string_lossy().into_owned();
    let ran = xtask(&["lab", "run", &file]);
    let summary = xtask(&["ci", "summary"]);
    let _ = std::fs::remove_dir_all(&dir);

    assert!(ran.status.success(), "lab run {file}: {}", text(&ran));
    // `PASS <file> in 3.2s; run directory <dir>`
    let stdout = String::from_utf8_lossy(&ran.stdout);
    let run_dir = stdout
        .lines()
        .find_map(|l| l.split_once("; run directory "))
        .map(|(_, d)| d.trim())
        .unwrap_or_else(|| panic!("no run directory in: {}", text(&ran)));
    let run = run_dir.rsplit('/').next().unwrap();
    assert!(summary.status.success(), "ci summary: {}", text(&summary));
    let markdown = String::from_utf8_lossy(&summary.stdout);
    let row = format!("| ci summary: two commands and the time between them | {file} | steps passed | ");
    let line = markdown
        .lines()
        .find(|l| l.ends_with(&format!("| `{run}` |")))
        .unwrap_or_else(|| panic!("no row for run {run}:\n{markdown}"));
    assert!(line.starts_with(&row), "the row of run {run} is not `{row}...`: {line}");
    let measure = format!("| ci_summary_two_commands | `{run}` | between the commands | ");
    assert!(
        markdown.lines().any(|l| l.starts_with(&measure) && l.ends_with(" s | -..60.000 s |")),
        "no measure row `{measure}... s | -..60.000 s |` in:\n{markdown}"
    );
}
