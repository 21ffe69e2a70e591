//! A scenario's snapshots: `tests/snapshots/<scenario>@<name>.snap` in insta's file format.
//! Checking compares the normalized text with the stored one and returns a verdict (no panic, no
//! process-wide state); a missing or different snapshot leaves `<...>.snap.new` beside it for review,
//! unless `INSTA_UPDATE=no` or CI is set. Pending snapshots are listed, shown as diffs and accepted
//! by renaming.

use std::path::{Path, PathBuf};

use insta::internals::TextSnapshotContents;
use insta::TextSnapshotKind;

use super::Scenario;

/// What a snapshot check or review could not do.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("INSTA_UPDATE={0:?}: the lab's snapshots take auto, new or no (unset: auto)")]
    Setting(String),
    #[error("{}: cannot read the snapshot: {message}", path.display())]
    Read { path: PathBuf, message: String },
    #[error("{}: cannot write: {source}", path.display())]
    Write { path: PathBuf, source: std::io::Error },
}

/// Whether a check may leave a `.snap.new`, from `INSTA_UPDATE` and `CI` as insta reads them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Missing and different snapshots leave a `.snap.new` (`auto` outside CI, `new`).
    WritePending,
    /// Nothing is written (`no`, or `auto` in CI).
    CheckOnly,
}

impl Policy {
    pub fn from_env() -> Result<Policy, SnapshotError> {
        let ci = std::env::var("CI").is_ok_and(|v| !matches!(v.as_str(), "" | "0" | "false"));
        Policy::parse(std::env::var("INSTA_UPDATE").ok().as_deref(), ci)
    }

    fn parse(update: Option<&str>, ci: bool) -> Result<Policy, SnapshotError> {
        match update.unwrap_or("auto") {
            "auto" if ci => Ok(Policy::CheckOnly),
            "auto" | "new" => Ok(Policy::WritePending),
            "no" => Ok(Policy::CheckOnly),
            other => Err(SnapshotError::Setting(other.to_string())),
        }
    }
}

/// A snapshot step's normalized observation.
#[derive(Debug, Clone)]
pub struct TakenSnapshot {
    /// The snapshot's name (`<scenario>@<name>.snap`).
    pub name: String,
    /// The step, normalized (the `.snap` header's description).
    pub description: String,
    pub text: String,
}

/// What a check found.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Matches,
    /// No `.snap` yet: the new text as a diff from nothing, and the `.snap.new` written, if the
    /// policy let it be.
    Missing {
        diff: String,
        pending: Option<PathBuf>,
    },
    /// The stored text differs: a unified diff from the stored to the new text.
    Differs {
        diff: String,
        pending: Option<PathBuf>,
    },
}

/// The snapshots of one directory (the conformance crate's `tests/snapshots/`).
#[derive(Debug, Clone)]
pub struct Snapshots {
    pub dir: PathBuf,
}

/// `<scenario>@<name>`: the snapshot's file stem.
pub fn snapshot_name(scenario: &str, name: &str) -> String {
    format!("{scenario}@{name}")
}

impl Snapshots {
    pub fn new(dir: impl Into<PathBuf>) -> Snapshots {
        Snapshots { dir: dir.into() }
    }

    pub fn path(&self, scenario: &str, name: &str) -> PathBuf {
        self.dir.join(format!("{}.snap", snapshot_name(scenario, name)))
    }

    /// Compares `text` with the stored snapshot. `source` (the scenario file) and `description`
    /// (the step) go into the header of a `.snap.new`; a stale `.snap.new` goes once the
    /// snapshot matches.
    pub fn check(
        &self,
        policy: Policy,
        scenario: &str,
        name: &str,
        source: &str,
        description: &str,
        text: &str,
    ) -> Result<Verdict, SnapshotError> {
        let path = self.path(scenario, name);
        let new = TextSnapshotContents::new(text.to_string(), TextSnapshotKind::File);
        let pending = pending_path(&path);
        let stored = if path.exists() { Some(stored_text(&path)?) } else { None };
        if stored.as_ref().is_some_and(|stored| stored.matches_latest(&new)) {
            if policy == Policy::WritePending && pending.exists() {
                std::fs::remove_file(&pending).map_err(|source| SnapshotError::Write { path: pending, source })?;
            }
            return Ok(Verdict::Matches);
        }
        let written = match policy {
            Policy::WritePending => {
                let file = format!(
                    "---\nsource: {source}\ndescription: {}\n---\n{new}\n",
                    serde_json::Value::from(description)
                );
                std::fs::write(&pending, file)
                    .map_err(|source| SnapshotError::Write { path: pending.clone(), source })?;
                Some(pending)
            }
            Policy::CheckOnly => None,
        };
        Ok(match stored {
            None => Verdict::Missing { diff: diff(&path, None, &new.to_string(), "this run"), pending: written },
            Some(stored) => Verdict::Differs {
                diff: diff(&path, Some(&stored.to_string()), &new.to_string(), "this run"),
                pending: written,
            },
        })
    }

    /// Checks a run's snapshots, each `(name, description, text)`; returns what differs (a diff or
    /// "no snapshot yet" each, and how to go on), or None when all match.
    pub fn check_all(
        &self,
        policy: Policy,
        scenario: &Scenario,
        taken: &[TakenSnapshot],
    ) -> Result<Option<String>, SnapshotError> {
        let root = crate::paths::workspace_root();
        let source = scenario.file.strip_prefix(&root).unwrap_or(&scenario.file).display().to_string();
        let mut report = Vec::new();
        let mut pending = Vec::new();
        for TakenSnapshot { name, description, text } in taken {
            let full = snapshot_name(&scenario.name, name);
            match self.check(policy, &scenario.name, name, &source, description, text)? {
                Verdict::Matches => {}
                Verdict::Missing { diff, pending: new } => {
                    report.push(format!("{full}: no snapshot yet:\n{diff}"));
                    pending.extend(new);
                }
                Verdict::Differs { diff, pending: new } => {
                    report.push(format!("{full} differs:\n{diff}"));
                    pending.extend(new);
                }
            }
        }
        if report.is_empty() {
            return Ok(None);
        }
        let next = match policy {
            Policy::WritePending => {
                let names: Vec<String> = pending.iter().filter_map(|p| Pending::name_of(p)).collect();
                format!(
                    "the new ones are written beside the stored ones, as .snap.new; if they are right, accept them \
                     with\n  {} {}\n(`{}` shows every pending diff)",
                    self.command("accept"),
                    names.join(" "),
                    self.command("review"),
                )
            }
            Policy::CheckOnly => format!(
                "nothing was written (INSTA_UPDATE=no, or CI): run the scenario where INSTA_UPDATE is unset (or \
                 new), outside CI, then `{}`",
                self.command("accept")
            ),
        };
        Ok(Some(format!("{} snapshot(s) differ or are missing:\n{}\n{next}", report.len(), report.join("\n"))))
    }

    /// `cargo xtask snapshots <verb>`, naming this directory unless it is the default one.
    pub fn command(&self, verb: &str) -> String {
        match self.dir == crate::paths::snapshots_dir() {
            true => format!("cargo xtask snapshots {verb}"),
            false => format!("cargo xtask snapshots {verb} --snapshots {}", self.dir.display()),
        }
    }

    /// The `.snap.new` files waiting for review, sorted by name.
    pub fn pending(&self) -> Result<Vec<Pending>, SnapshotError> {
        let unreadable = |e: std::io::Error| SnapshotError::Read { path: self.dir.clone(), message: e.to_string() };
        let mut found = Vec::new();
        for entry in std::fs::read_dir(&self.dir).map_err(unreadable)? {
            let new = entry.map_err(unreadable)?.path();
            let Some(name) = Pending::name_of(&new) else { continue };
            found.push(Pending { snap: self.dir.join(format!("{name}.snap")), name, new });
        }
        found.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(found)
    }
}

/// A `.snap.new` and the `.snap` it would replace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    /// `<scenario>@<name>`.
    pub name: String,
    pub snap: PathBuf,
    pub new: PathBuf,
}

impl Pending {
    /// `<scenario>@<name>` of a `.snap.new` path.
    fn name_of(new: &Path) -> Option<String> {
        new.file_name()?.to_str()?.strip_suffix(".snap.new").map(String::from)
    }

    /// The change it brings: a unified diff from the stored snapshot (or nothing) to the new one.
    pub fn diff(&self) -> Result<String, SnapshotError> {
        let old = if self.snap.exists() { Some(stored_text(&self.snap)?.to_string()) } else { None };
        let new = format!("{} (pending)", self.new.display());
        Ok(diff(&self.snap, old.as_deref(), &stored_text(&self.new)?.to_string(), &new))
    }

    /// Drops the new snapshot (removes the `.snap.new`); the stored one stays.
    pub fn reject(&self) -> Result<(), SnapshotError> {
        std::fs::remove_file(&self.new).map_err(|source| SnapshotError::Write { path: self.new.clone(), source })
    }

    /// Makes the new snapshot the stored one (renames `.snap.new` to `.snap`).
    pub fn accept(&self) -> Result<(), SnapshotError> {
        std::fs::rename(&self.new, &self.snap)
            .map_err(|source| SnapshotError::Write { path: self.snap.clone(), source })
    }
}

fn pending_path(snap: &Path) -> PathBuf {
    snap.with_extension("snap.new")
}

/// A snapshot file's contents, through insta's own reader (its header and formats).
fn stored_text(path: &Path) -> Result<TextSnapshotContents, SnapshotError> {
    let read = |message: String| SnapshotError::Read { path: path.to_path_buf(), message };
    let snapshot = insta::Snapshot::from_file(path).map_err(|e| read(e.to_string()))?;
    snapshot.as_text().cloned().ok_or_else(|| read("a binary snapshot, not text".into()))
}

/// A unified diff from the stored text (None: no snapshot yet) to `new`, `-` the stored lines and
/// `+` the new ones, with three lines of context.
fn diff(snap: &Path, old: Option<&str>, new: &str, new_label: &str) -> String {
    let (old_text, new_text) = (old.map(|o| format!("{o}\n")).unwrap_or_default(), format!("{new}\n"));
    let old_label = match old {
        Some(_) => format!("{} (stored)", snap.display()),
        None => format!("{} (no snapshot yet)", snap.display()),
    };
    similar::TextDiff::from_lines(&old_text, &new_text)
        .unified_diff()
        .context_radius(3)
        .header(&old_label, new_label)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A directory of its own under the system's temp dir, removed when dropped.
    struct Dir(PathBuf);

    impl Dir {
        fn new(name: &str) -> Dir {
            let dir = std::env::temp_dir().join(format!("arcus-snapshots-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            Dir(dir)
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    const LISTED: &str = "$ ./arcus.sh memcached listall\n--- stdout\nruo91-cloud  OK  6  6  0\n--- exit 0\n";

    fn check(snapshots: &Snapshots, policy: Policy, text: &str) -> Verdict {
        snapshots
            .check(policy, "s99_example", "listall", "scenarios/s99_example.toml", "listall \"on\" arcus", text)
            .unwrap()
    }

    #[test]
    fn a_missing_snapshot_is_pending_then_accepted_then_matches() {
        let dir = Dir::new("missing");
        let snapshots = Snapshots::new(&dir.0);
        let pending = dir.0.join("s99_example@listall.snap.new");
        let Verdict::Missing { diff, pending: Some(written) } = check(&snapshots, Policy::WritePending, LISTED) else {
            panic!("a first check must find no snapshot and write the pending one");
        };
        assert_eq!(written, pending);
        assert!(diff.contains("s99_example@listall.snap (no snapshot yet)\n+++ this run\n"), "{diff}");
        assert!(diff.contains("\n+ruo91-cloud  OK  6  6  0\n") && !diff.contains("\n-"), "{diff}");
        // insta's reader (the one `cargo insta review` uses) reads what was written
        let read = insta::Snapshot::from_file(&pending).unwrap();
        assert_eq!(read.metadata().description(), Some("listall \"on\" arcus"));
        assert_eq!(read.metadata().source(), Some("scenarios/s99_example.toml"));
        assert_eq!(read.as_text().unwrap().to_string(), LISTED.trim_end());

        let listed = snapshots.pending().unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].name, "s99_example@listall");
        let diff = listed[0].diff().unwrap();
        assert!(diff.contains("\n+ruo91-cloud  OK  6  6  0\n"), "{diff}");
        listed[0].accept().unwrap();
        assert!(!pending.exists());
        assert!(snapshots.pending().unwrap().is_empty());
        assert_eq!(check(&snapshots, Policy::WritePending, LISTED), Verdict::Matches);
        // trailing blanks and CRLF are insta's normalisation, not a difference
        assert_eq!(check(&snapshots, Policy::CheckOnly, &format!("{}\r\n\n", LISTED.trim_end())), Verdict::Matches);
    }

    #[test]
    fn a_different_text_is_shown_as_a_diff_and_pending_only_when_allowed() {
        let dir = Dir::new("differs");
        let snapshots = Snapshots::new(&dir.0);
        check(&snapshots, Policy::WritePending, LISTED);
        snapshots.pending().unwrap()[0].accept().unwrap();
        let changed = LISTED.replace("OK  6  6  0", "SOME_DOWN  6  5  1");

        let Verdict::Differs { diff, pending: None } = check(&snapshots, Policy::CheckOnly, &changed) else {
            panic!("a changed text must differ, and nothing be written when checking only");
        };
        assert!(diff.contains("\n-ruo91-cloud  OK  6  6  0\n+ruo91-cloud  SOME_DOWN  6  5  1\n"), "{diff}");
        assert!(diff.contains("s99_example@listall.snap (stored)"), "{diff}");
        assert!(snapshots.pending().unwrap().is_empty());

        let Verdict::Differs { pending: Some(pending), .. } = check(&snapshots, Policy::WritePending, &changed) else {
            panic!("a changed text must leave a .snap.new");
        };
        assert!(pending.exists());
        // the stored text comes back: the stale .snap.new goes
        assert_eq!(check(&snapshots, Policy::WritePending, LISTED), Verdict::Matches);
        assert!(!pending.exists());
    }

    #[test]
    fn the_commands_named_work_here_and_name_a_directory_of_its_own() {
        let stock = Snapshots::new(crate::paths::snapshots_dir());
        assert_eq!(stock.command("accept"), "cargo xtask snapshots accept");
        let own = Snapshots::new("/tmp/mine");
        assert_eq!(own.command("review"), "cargo xtask snapshots review --snapshots /tmp/mine");
    }

    #[test]
    fn the_setting_is_insta_update_with_ci_meaning_no() {
        assert_eq!(Policy::parse(None, false).unwrap(), Policy::WritePending);
        assert_eq!(Policy::parse(None, true).unwrap(), Policy::CheckOnly);
        assert_eq!(Policy::parse(Some("auto"), true).unwrap(), Policy::CheckOnly);
        assert_eq!(Policy::parse(Some("new"), true).unwrap(), Policy::WritePending);
        assert_eq!(Policy::parse(Some("no"), false).unwrap(), Policy::CheckOnly);
        let err = Policy::parse(Some("always"), false).unwrap_err().to_string();
        assert_eq!(err, "INSTA_UPDATE=\"always\": the lab's snapshots take auto, new or no (unset: auto)");
    }
}
