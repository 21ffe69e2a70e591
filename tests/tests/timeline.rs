//! A real scenario run's `timeline.html` in a real headless browser (Debian's `chromium`): the page
//! is loaded from the run directory, its DOM dumped after its scripts ran, and every lane and
//! marker the run's `client.json` calls for must be in it, with no script error in the console.
//! `.ci/run` installs chromium when it is missing; without it this test fails (it is never
//! skipped). `CHROMIUM` names another binary.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use arcus_lab::paths;

/// A start tag's attributes, by name.
type Attributes = BTreeMap<String, String>;

/// Every start tag of `html` whose `class` holds `class`, with its attributes.
fn tags_of_class(html: &str, class: &str) -> Vec<Attributes> {
    let tag = regex::Regex::new(r"<[a-zA-Z][^>]*>").unwrap();
    let attribute = regex::Regex::new(r#"([a-zA-Z_:][-a-zA-Z0-9_:.]*)="([^"]*)""#).unwrap();
    tag.find_iter(html)
        .map(|t| {
            attribute.captures_iter(t.as_str()).map(|c| (c[1].to_string(), c[2].to_string())).collect::<Attributes>()
        })
        .filter(|a| a.get("class").is_some_and(|c| c.split_whitespace().any(|c| c == class)))
        .collect()
}

/// Loads `page` in headless chromium: the DOM after its scripts, and chromium's console lines.
fn render(page: &Path) -> (String, String) {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "chromium".into());
    let out = Command::new(&chromium)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0"])
        // the page must need nothing from outside: any request but the file fails
        .arg("--host-resolver-rules=MAP * ~NOTFOUND")
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run {chromium} ({e}): install Debian's chromium (`apt-get install chromium`; .ci/run does)")
        });
    assert!(out.status.success(), "{chromium} failed: {}\n{}", out.status, String::from_utf8_lossy(&out.stderr));
    let console =
        String::from_utf8_lossy(&out.stderr).lines().filter(|l| l.contains(":CONSOLE")).collect::<Vec<_>>().join("\n");
    (String::from_utf8_lossy(&out.stdout).into_owned(), console)
}

#[test]
fn a_runs_timeline_renders_its_lanes_and_markers_in_chromium() {
    let file = paths::workspace_root().join("scenarios/s04_node_sigkill.toml");
    let run = conformance::run_scenario(&file).unwrap_or_else(|e| panic!("{e}"));
    let page = run.run_dir.join("timeline.html");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.run_dir.join("client.json")).unwrap()).unwrap();

    let (dom, console) = render(&page);
    assert!(
        !console.contains("Uncaught") && !console.to_lowercase().contains("error"),
        "script errors while {} rendered:\n{console}",
        page.display()
    );

    // a lane per node of the report, and no other
    let mut nodes: Vec<String> =
        report["nodes"].as_array().unwrap().iter().map(|n| n["node"].as_str().unwrap().to_string()).collect();
    nodes.sort();
    assert_eq!(nodes.len(), 6, "the runbook's six nodes in client.json");
    let mut lanes: Vec<String> =
        tags_of_class(&dom, "lane").into_iter().filter_map(|a| a.get("data-node").cloned()).collect();
    lanes.sort();
    assert_eq!(lanes, nodes, "the lanes of {} against client.json's nodes", page.display());

    // a marker per marker of the report, by kind, and one per ring change (the first read too)
    let mut expected: BTreeMap<String, usize> = BTreeMap::new();
    for marker in report["markers"].as_array().unwrap() {
        *expected.entry(marker["kind"].as_str().unwrap().to_string()).or_default() += 1;
    }
    expected.insert("ring-update".into(), report["ring_changes"].as_array().unwrap().len());
    let mut drawn: BTreeMap<String, usize> = BTreeMap::new();
    for marker in tags_of_class(&dom, "marker") {
        *drawn.entry(marker.get("data-kind").cloned().unwrap_or_default()).or_default() += 1;
    }
    assert_eq!(drawn, expected, "the markers of {} against client.json", page.display());
    // S4's story: the kill, its znode gone, the ring read and then without it
    for (kind, least) in [("fault", 1), ("znode-removed", 1), ("ring-update", 2)] {
        assert!(
            expected.get(kind).is_some_and(|n| *n >= least),
            "fewer than {least} {kind} in client.json: {expected:?}"
        );
    }
}
