//! The harness's layers, checked as rust-analyzer's tidy tests check their rules: each module of
//! `src/` may refer (`crate::<module>`) only to modules of a lower layer, so that no import goes
//! back up and no cycle can form. The table here is the one the README's architecture section
//! draws; a new module must be placed in it. The client view (crate `arcus-client`) sits with the
//! probes: only `probe` (layer 3) and the layers built on it (higher numbers) may name it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Each module with its layer; a module may use the modules of lower layers only.
const LAYERS: &[(&str, u8)] = &[
    ("build_times", 0),
    ("engine", 0),
    ("paths", 0),
    ("progress", 0),
    ("wait", 0),
    ("timing", 0),
    ("flavour", 0),
    ("interrupt", 0),
    ("images", 1),
    ("lab", 2),
    ("arcus_build", 3),
    ("fixture", 4),
    ("probe", 3),
    ("keys", 4),
    ("fault", 5),
    ("cloud", 6),
    ("normalize", 6),
    ("scenario", 7),
];

/// The lowest layer that may use the client view crate: the probes' (`probe::client` runs it on a
/// lab; the scenario runner reports and bounds it).
const CLIENT_VIEW_LAYER: u8 = 3;

fn layer(module: &str) -> u8 {
    LAYERS.iter().find(|(m, _)| *m == module).map(|(_, l)| *l).unwrap_or_else(|| {
        panic!("module `{module}` has no layer: add it to LAYERS here and to the README's architecture section")
    })
}

/// Each module of `src/` (its first path segment) with its files' code, comments left out (a doc
/// comment may name an upper layer).
fn sources() -> Vec<(String, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = Vec::new();
    let mut files = vec![src.clone()];
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        if path.extension().is_none_or(|e| e != "rs") || path.file_name().is_some_and(|n| n == "lib.rs") {
            continue;
        }
        let relative = path.strip_prefix(&src).unwrap();
        let first = relative.components().next().unwrap().as_os_str().to_string_lossy().into_owned();
        let text: String = std::fs::read_to_string(&path)
            .unwrap()
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        out.push((first.trim_end_matches(".rs").to_string(), text));
    }
    out
}

#[test]
fn only_the_probes_and_the_layers_after_them_use_the_client_view() {
    let early: BTreeSet<String> = sources()
        .into_iter()
        .filter(|(module, text)| text.contains("arcus_client::") && layer(module) < CLIENT_VIEW_LAYER)
        .map(|(module, _)| module)
        .collect();
    assert!(early.is_empty(), "modules below the probes' layer that use arcus_client: {early:?}");
    assert_eq!(layer("probe"), CLIENT_VIEW_LAYER, "the client view sits with the probes");
}

/// `module → the modules it refers to`, from every `crate::<name>` in its files.
fn imports() -> BTreeMap<String, BTreeSet<String>> {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, text) in sources() {
        let used = graph.entry(module.clone()).or_default();
        for (at, _) in text.match_indices("crate::") {
            let before = text[..at].chars().last();
            // `arcus_facts::...` or `$crate::` are other crates' paths
            if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$') {
                continue;
            }
            for name in first_segments(&text[at + "crate::".len()..]) {
                if name != module {
                    used.insert(name);
                }
            }
        }
    }
    graph
}

/// The modules a path after `crate::` names: `lab::Lab` → lab; `{lab::Lab, probe::{zk, mc}}` →
/// lab, probe (the first segment of each item of a group, nested groups included).
fn first_segments(path: &str) -> Vec<String> {
    let ident = |s: &str| s.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect::<String>();
    let Some(group) = path.strip_prefix('{') else {
        return vec![ident(path)].into_iter().filter(|n| !n.is_empty()).collect();
    };
    let mut names = Vec::new();
    let (mut depth, mut item_start) = (0, true);
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => break,
            '}' => depth -= 1,
            ',' if depth == 0 => item_start = true,
            c if item_start && !c.is_whitespace() => {
                item_start = false;
                names.push(ident(&group[i..]));
            }
            _ => {}
        }
    }
    names.into_iter().filter(|n| !n.is_empty() && n != "self").collect()
}

#[test]
fn grouped_imports_are_seen() {
    assert_eq!(first_segments("lab::Lab;"), ["lab"]);
    assert_eq!(first_segments("{lab::{self, Lab}, probe::zk,\n    engine};"), ["lab", "probe", "engine"]);
    assert!(first_segments("{self};").is_empty());
}

#[test]
fn every_module_imports_only_lower_layers() {
    let graph = imports();
    let mut wrong = Vec::new();
    for (module, used) in &graph {
        for other in used {
            if layer(other) >= layer(module) {
                wrong.push(format!("{module} (layer {}) uses {other} (layer {})", layer(module), layer(other)));
            }
        }
    }
    // the picture, for a reader of `cargo nextest run --no-capture -E 'test(layers)'`
    for (module, used) in &graph {
        eprintln!("{module:<10} (layer {}) → {}", layer(module), used.iter().cloned().collect::<Vec<_>>().join(", "));
    }
    assert!(wrong.is_empty(), "imports that go up or sideways:\n{}", wrong.join("\n"));
}
