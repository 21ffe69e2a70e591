//! The ketama ring against every row of the contract's test vectors
//! (`../shared/spec/ketama-vectors.tsv` beside the workspace): each `servers key owner` row, and
//! the `points` rows giving one node's 160 points in insertion order.

use std::collections::BTreeMap;
use std::path::PathBuf;

use arcus_client::ring::{node_points, Ring, POINTS_PER_NODE};

fn vectors() -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/spec/ketama-vectors.tsv");
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "the contract's ring vectors {} cannot be read ({e}): they live in shared/spec/ beside the \
             workspace checkout, not in the repository",
            path.display()
        )
    })
}

#[test]
fn every_owner_row_holds() {
    let text = vectors();
    let mut rings: BTreeMap<String, Ring> = BTreeMap::new();
    let (mut checked, mut wrong) = (0, Vec::new());
    for (number, line) in text.lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() || line.starts_with("points\t") {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        assert_eq!(fields.len(), 3, "line {}: {line:?} is not servers<TAB>key<TAB>owner", number + 1);
        let (servers, key, owner) = (fields[0], fields[1], fields[2]);
        let ring = rings.entry(servers.to_string()).or_insert_with(|| Ring::new(servers.split(',')));
        let got = ring.node_for(key.as_bytes()).map(|n| n.to_string());
        checked += 1;
        if got.as_deref() != Some(owner) {
            wrong.push(format!("line {}: key {key:?} on [{servers}]: expected {owner}, got {got:?}", number + 1));
        }
    }
    assert!(checked >= 800, "only {checked} owner rows found: is the file complete?");
    assert!(wrong.is_empty(), "{} of {checked} rows do not hold:\n{}", wrong.len(), wrong.join("\n"));
}

#[test]
fn every_points_row_holds() {
    let text = vectors();
    let mut expected: BTreeMap<String, Vec<(usize, u32)>> = BTreeMap::new();
    for (number, line) in text.lines().enumerate() {
        let Some(rest) = line.strip_prefix("points\t") else { continue };
        let fields: Vec<&str> = rest.split('\t').collect();
        assert_eq!(fields.len(), 3, "line {}: {line:?} is not points<TAB>node<TAB>n<TAB>value", number + 1);
        let n = fields[1].parse().unwrap_or_else(|e| panic!("line {}: n {:?}: {e}", number + 1, fields[1]));
        let value = fields[2].parse().unwrap_or_else(|e| panic!("line {}: value {:?}: {e}", number + 1, fields[2]));
        expected.entry(fields[0].to_string()).or_default().push((n, value));
    }
    assert!(!expected.is_empty(), "no points rows found");
    for (node, rows) in expected {
        assert_eq!(rows.len(), POINTS_PER_NODE, "{node}: the file lists {} points", rows.len());
        let points = node_points(&node);
        for (n, value) in rows {
            assert_eq!(points[n], value, "{node}: point {n}");
        }
    }
}
