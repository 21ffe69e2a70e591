//! A lab's identity on the engine (the run id in every name and label) and its ownership: every
//! resource names the process that made it and which of its labs it belongs to ([`Maker`]), so
//! that a failed or interrupted `up` removes what it made and nothing else. A lab is kept after
//! its owner has gone only once `up` has finished and marked it kept (`lab up`); any other lab is
//! abandoned then, and `lab gc` removes it.

use super::LabError;

/// A lab's identity on the engine; part of every name and the value of the run label.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RunId(String);

impl RunId {
    pub fn parse(id: &str) -> Result<RunId, LabError> {
        let ok_first = id.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
        let ok_rest = id.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
        if ok_first && ok_rest && id.len() <= 32 {
            Ok(RunId(id.to_string()))
        } else {
            Err(LabError::BadRunId(id.to_string()))
        }
    }

    /// A fresh id: six hex digits from the clock and the process id.
    pub fn fresh() -> RunId {
        let nanos =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        let mixed = (nanos ^ ((std::process::id() as u128) << 32)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        RunId(format!("{:06x}", (mixed >> 40) as u32 & 0xFF_FFFF))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn network(&self) -> String {
        format!("arcuslab-{}", self.0)
    }

    pub fn container(&self, host: impl std::fmt::Display) -> String {
        format!("arcuslab-{}-{host}", self.0)
    }
}

impl std::fmt::Display for RunId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Who owns a lab once `up` has finished: `lab up` marks it kept until `lab down`; anything else
/// (tests, `lab run`) owns it through its process, and `lab gc` removes it once that process is
/// gone. Until `up` has finished, every lab is its process's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    Kept,
    ThisProcess,
}

/// The owner label of one lab's resources: the process that made them and which of its labs
/// (`<pid>:<start time>:<n>`). Tests make several labs in one process, at times with the same run
/// id (to see the second refused): each `LabSpec` gets a maker of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Maker(String);

impl Maker {
    /// A new lab of this process.
    pub fn fresh() -> Maker {
        static MADE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = MADE.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Maker(format!("{}:{n}", owner_label().1))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Maker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The owner label of resources this process creates outside a lab (single-container test
/// fixtures), so that `lab gc` removes them only once this process is gone.
pub fn owner_label() -> (&'static str, String) {
    (super::LABEL_OWNER, process_identity(std::process::id()).unwrap_or_else(|| "unknown".into()))
}

/// `<pid>:<start time in ticks since boot>`: a pid alone may be reused.
fn process_identity(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // the command name may hold spaces: fields after the closing parenthesis
    let after = &stat[stat.rfind(')')? + 2..];
    let start = after.split_whitespace().nth(19)?;
    Some(format!("{pid}:{start}"))
}

/// The variable a command sets for its children so that every lab they make carries its
/// session label (`crate::lab::LABEL_SESSION`).
pub const SESSION_VAR: &str = "ARCUS_LAB_SESSION";

/// The session this process's labs belong to, if its parent set one.
pub fn session() -> Option<String> {
    std::env::var(SESSION_VAR).ok().filter(|s| !s.is_empty())
}

/// The process an owner label names (`<pid>:<start time>`, with or without the `:<n>` of a
/// [`Maker`]), if it names one.
pub fn owner_pid(owner: &str) -> Option<u32> {
    owner.split(':').next()?.parse().ok()
}

/// Whether the process an owner label names still runs (the same process: pid and start time).
/// `kept`, the label of labs made before labs were marked kept, counts as alive.
pub fn owner_alive(owner: &str) -> bool {
    if owner == "kept" {
        return true;
    }
    let Some(pid) = owner_pid(owner) else { return false };
    let mut fields = owner.splitn(3, ':');
    let named = format!("{}:{}", fields.next().unwrap_or_default(), fields.next().unwrap_or_default());
    process_identity(pid).as_deref() == Some(named.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_docker_would_reject_are_refused() {
        for bad in ["", "-x", "a b", "a/b", "ä", &"x".repeat(33)] {
            assert!(RunId::parse(bad).is_err(), "{bad:?} accepted");
        }
        for good in ["a", "r1", "ci-42_x.y", &"x".repeat(32)] {
            assert!(RunId::parse(good).is_ok(), "{good:?} refused");
        }
    }

    #[test]
    fn fresh_run_ids_are_valid() {
        assert!(RunId::parse(RunId::fresh().as_str()).is_ok());
    }

    #[test]
    fn this_process_owns_what_it_labels_and_a_gone_process_does_not() {
        assert!(owner_alive(&owner_label().1));
        assert!(owner_alive(Maker::fresh().as_str()));
        assert!(owner_alive("kept"));
        assert!(!owner_alive("999999999:1"));
        assert!(!owner_alive("999999999:1:0"));
        assert!(!owner_alive(""));
        // the same pid with another start time is another process
        assert!(!owner_alive(&format!("{}:1:0", std::process::id())));
    }

    #[test]
    fn each_lab_of_a_process_has_a_maker_of_its_own() {
        let (a, b) = (Maker::fresh(), Maker::fresh());
        assert_ne!(a, b);
        assert_eq!(owner_pid(a.as_str()), Some(std::process::id()));
    }
}
