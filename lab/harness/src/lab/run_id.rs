//! A lab's identity on the engine (the run id in every name and label) and its ownership: `lab up`
//! keeps a lab until `lab down`; tests and `lab run` own theirs through their process, and
//! `lab gc` removes a lab once its owning process is gone.

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

/// Who owns a lab: `lab up` keeps it until `lab down`; anything else (tests, `lab run`) owns it
/// through its process, and `lab gc` removes it once that process is gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    Kept,
    ThisProcess,
}

impl Owner {
    /// The owner label's value: `kept`, or this process's identity.
    pub fn label(self) -> String {
        match self {
            Owner::Kept => "kept".to_string(),
            Owner::ThisProcess => owner_label().1,
        }
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

/// Whether a lab with this owner label is abandoned: not kept by `lab up`, and its owning process
/// is gone (or it never had an owner).
pub fn is_abandoned(owner: &str) -> bool {
    if owner == "kept" {
        return false;
    }
    let Some(pid) = owner.split(':').next().and_then(|p| p.parse::<u32>().ok()) else { return true };
    process_identity(pid).as_deref() != Some(owner)
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
        assert!(!is_abandoned(&owner_label().1));
        assert!(!is_abandoned("kept"));
        assert!(is_abandoned("999999999:1"));
        assert!(is_abandoned(""));
    }
}
