//! `cargo xtask test --shard K/N`: the shards of a split, as nextest lists them, together hold every
//! test of the suite exactly once (what CI's matrix relies on). Listing runs no test.

use std::collections::BTreeMap;
use std::process::Command;

/// The tests `cargo xtask test --list` prints with `args`, one `binary test` a line.
fn listed(args: &[&str]) -> Vec<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["test", "--list"])
        .args(args)
        .output()
        .expect("run cargo xtask test --list");
    assert!(
        out.status.success(),
        "cargo xtask test --list {}: {}\n{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).lines().filter(|l| !l.trim().is_empty()).map(str::to_string).collect()
}

#[test]
fn the_shards_of_a_split_together_hold_every_test_exactly_once() {
    let all = listed(&[]);
    let this = "xtask::shards the_shards_of_a_split_together_hold_every_test_exactly_once";
    assert!(all.iter().any(|t| t == this), "the whole list lacks this very test ({this}):\n{}", all.join("\n"));
    // three shards, as CI splits the suite (each listing checks the build, then lists every binary)
    let n = 3;
    let mut shards_of: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    for k in 1..=n {
        let shard = listed(&["--shard", &format!("{k}/{n}")]);
        assert!(!shard.is_empty(), "shard {k}/{n} holds no test");
        for test in shard {
            shards_of.entry(test).or_default().push(k);
        }
    }
    // a workspace edited while the listings ran gives lists of different suites: said as such
    assert_eq!(all, listed(&[]), "the workspace's tests changed while the shards were listed");
    let twice: Vec<String> =
        shards_of.iter().filter(|(_, ks)| ks.len() > 1).map(|(t, ks)| format!("{t} in shards {ks:?}")).collect();
    assert!(twice.is_empty(), "tests in more than one of {n} shards:\n{}", twice.join("\n"));
    let missing: Vec<&String> = all.iter().filter(|t| !shards_of.contains_key(*t)).collect();
    assert!(missing.is_empty(), "tests in none of {n} shards: {missing:?}");
    let unknown: Vec<&String> = shards_of.keys().filter(|t| !all.contains(t)).collect();
    assert!(unknown.is_empty(), "tests in a shard that the whole list lacks: {unknown:?}");
}
