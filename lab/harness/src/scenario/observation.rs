//! What a step observed, typed: a command's output, a node's replies, a znode tree, what a wait
//! saw, what a fault did, a bound value, a measurement. The run directory's transcript, the
//! normalized text that snapshots and expectations see, and each event's detail are rendered from
//! it; nothing is parsed back.

use std::time::Duration;

use crate::engine::ExecOutput;
use crate::lab::HostName;
use crate::normalize::Normalizer;
use crate::probe::node::Exchanges;
use crate::probe::zk::ZnodeTree;

#[derive(Debug, Clone)]
pub enum Observation {
    /// Command lines run on a host, each with its output (a `runbook` step may type several).
    Command {
        host: HostName,
        lines: Vec<(String, ExecOutput)>,
    },
    /// A node's replies to protocol lines.
    Replies(Exchanges),
    /// A znode subtree, owners included.
    Tree(ZnodeTree),
    /// A wait's condition held; what was seen then.
    Waited {
        what: String,
        seen: String,
    },
    /// A fault took effect; what was done.
    Fault(String),
    /// A value bound to a name.
    Bound {
        name: String,
        value: String,
    },
    Measured(Measurement),
    Held(Duration),
    /// The traffic started or stopped: what runs, or its totals.
    Traffic(String),
}

impl Observation {
    /// As it came, for the run directory; `None` for what has no output of its own.
    pub fn transcript(&self) -> Option<String> {
        match self {
            Observation::Command { host, lines } => {
                Some(lines.iter().map(|(line, out)| command_transcript(*host, line, out)).collect())
            }
            Observation::Replies(replies) => Some(replies.transcript()),
            Observation::Tree(tree) => Some(tree.render()),
            _ => None,
        }
    }

    /// What snapshots and expectations see: the transcript normalized (a tree sorted by the
    /// normalized names, ephemeral marks instead of owners).
    pub fn normalized(&self, normalizer: &Normalizer) -> Option<String> {
        match self {
            Observation::Tree(tree) => Some(normalizer.tree(tree)),
            other => other.transcript().map(|t| normalizer.text(&t)),
        }
    }

    /// The exit status of a command (the last line's).
    pub fn exit(&self) -> Option<i64> {
        match self {
            Observation::Command { lines, .. } => lines.last().map(|(_, out)| out.exit),
            _ => None,
        }
    }

    /// One line for the step's event.
    pub fn detail(&self) -> String {
        match self {
            Observation::Command { .. } => self.exit().map(|e| format!("exit {e}")).unwrap_or_default(),
            Observation::Replies(_) | Observation::Tree(_) | Observation::Held(_) => String::new(),
            Observation::Waited { seen, .. } => seen.clone(),
            Observation::Fault(done) | Observation::Traffic(done) => done.clone(),
            Observation::Bound { name, value } => format!("${name} = {value}"),
            Observation::Measured(m) => m.detail(),
        }
    }
}

/// `$ command` (with the host when it is not `arcus`), the two streams and the exit status.
fn command_transcript(host: HostName, command: &str, out: &ExecOutput) -> String {
    let mut raw = if host.is_admin() { format!("$ {command}\n") } else { format!("[{host}] $ {command}\n") };
    raw.push_str("--- stdout\n");
    raw.push_str(&out.stdout);
    if !out.stdout.is_empty() && !out.stdout.ends_with('\n') {
        raw.push('\n');
    }
    if !out.stderr.is_empty() {
        raw.push_str("--- stderr\n");
        raw.push_str(&out.stderr);
        if !out.stderr.ends_with('\n') {
            raw.push('\n');
        }
    }
    raw.push_str(&format!("--- exit {}\n", out.exit));
    raw
}

/// What a measure step measured: the time from the end of the step labelled `from` to the end of
/// the step labelled `to`, with the bounds it was held to.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Measurement {
    pub name: String,
    pub ms: u128,
    pub from: String,
    pub from_step: usize,
    pub to: String,
    pub to_step: usize,
    pub min_ms: Option<u128>,
    pub max_ms: Option<u128>,
}

impl Measurement {
    /// `removal delay = 9.512 s (from "killed", step 1, to "gone", step 4; bounds 5 s..14 s)`.
    pub fn detail(&self) -> String {
        let bound = |ms: Option<u128>| ms.map(seconds).unwrap_or_else(|| "-".into());
        let bounds = match (self.min_ms, self.max_ms) {
            (None, None) => String::new(),
            (min, max) => format!("; bounds {}..{}", bound(min), bound(max)),
        };
        format!(
            "{} = {} (from {:?}, step {}, to {:?}, step {}{bounds})",
            self.name,
            seconds(self.ms),
            self.from,
            self.from_step,
            self.to,
            self.to_step
        )
    }

    /// Fails when the value is outside its bounds.
    pub fn check(&self) -> anyhow::Result<()> {
        let low = self.min_ms.is_some_and(|min| self.ms < min);
        let high = self.max_ms.is_some_and(|max| self.ms > max);
        anyhow::ensure!(!low && !high, "out of bounds: {}", self.detail());
        Ok(())
    }
}

fn seconds(ms: u128) -> String {
    format!("{}.{:03} s", ms / 1000, ms % 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measured(ms: u128, min: Option<u128>, max: Option<u128>) -> Measurement {
        Measurement {
            name: "removal delay".into(),
            ms,
            from: "killed".into(),
            from_step: 1,
            to: "gone".into(),
            to_step: 4,
            min_ms: min,
            max_ms: max,
        }
    }

    #[test]
    fn values_inside_the_bounds_pass_and_outside_fail_with_the_bounds_shown() {
        assert!(measured(9512, Some(5000), Some(14000)).check().is_ok());
        assert!(measured(5000, Some(5000), None).check().is_ok());
        let text = measured(4999, Some(5000), Some(14000)).check().unwrap_err().to_string();
        assert_eq!(
            text,
            "out of bounds: removal delay = 4.999 s (from \"killed\", step 1, to \"gone\", step 4; bounds 5.000 s..14.000 s)"
        );
        let text = measured(14001, None, Some(14000)).check().unwrap_err().to_string();
        assert!(text.contains("bounds -..14.000 s"), "{text}");
        assert_eq!(
            measured(80, None, None).detail(),
            "removal delay = 0.080 s (from \"killed\", step 1, to \"gone\", step 4)"
        );
    }

    #[test]
    fn a_command_on_a_host_shows_the_host_and_both_streams() {
        let out = ExecOutput { stdout: "a".into(), stderr: "b\n".into(), exit: 3 };
        let seen = Observation::Command { host: HostName::Cache(2), lines: vec![("ls".into(), out)] };
        assert_eq!(seen.transcript().unwrap(), "[memcached-2] $ ls\n--- stdout\na\n--- stderr\nb\n--- exit 3\n");
        assert_eq!(seen.exit(), Some(3));
        assert_eq!(seen.detail(), "exit 3");
    }
}
