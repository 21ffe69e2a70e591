//! `kill-node`: a signal to the cache node listening on a port of a host; in effect once the
//! process is gone (KILL, TERM, INT), stopped (STOP) or running again (CONT).

use anyhow::Result;
use futures_util::future::BoxFuture;

use super::{Env, Fault, Reach, Verb};
use crate::keys::{may, need, FromKey, HostRef, KeyError, Keys, Scope};
use crate::lab::{HostName, Lab};
use crate::probe::node;
use crate::timing::Timing;
use crate::wait;

pub const VERB: Verb = Verb {
    name: "kill-node",
    summary: "a signal (KILL, TERM, INT, STOP, CONT; default KILL) to the node on `host`:`port`",
    keys: &[
        need("host", "the node's host"),
        need("port", "the node's port"),
        may("signal", "KILL (default), TERM, INT, STOP or CONT"),
    ],
    parse,
};

/// The signals a fault may send to a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::EnumString, strum::IntoStaticStr, strum::VariantNames)]
#[strum(serialize_all = "UPPERCASE", ascii_case_insensitive)]
pub enum Signal {
    Kill,
    Term,
    Int,
    Stop,
    Cont,
}

impl Signal {
    /// `KILL`, `SIGKILL`, `kill`, ... (TERM, INT, STOP, CONT likewise).
    pub fn parse(name: &str) -> Result<Signal, String> {
        let upper = name.to_ascii_uppercase();
        upper.strip_prefix("SIG").unwrap_or(&upper).parse().map_err(|_| {
            use strum::VariantNames;
            format!("unknown signal {name:?}: use {}", Signal::VARIANTS.join(", "))
        })
    }

    /// `KILL`, `TERM`, ...
    pub fn name(self) -> &'static str {
        self.into()
    }
}

impl FromKey for Signal {
    fn from_key(value: &toml::de::DeValue<'_>, scope: &Scope) -> Result<Signal, String> {
        Signal::parse(&String::from_key(value, scope)?)
    }
}

#[derive(Debug)]
struct KillNode {
    host: HostRef,
    port: u16,
    signal: Signal,
}

fn parse(keys: &Keys) -> Result<Box<dyn Fault>, KeyError> {
    Ok(Box::new(KillNode {
        host: keys.need("host")?,
        port: keys.need("port")?,
        signal: keys.get("signal")?.unwrap_or(Signal::Kill),
    }))
}

impl Fault for KillNode {
    fn describe(&self) -> String {
        format!("kill-node {}:{} SIG{}", self.host.as_written(), self.port, self.signal.name())
    }

    fn apply<'a>(&'a self, env: &'a mut Env<'_>) -> BoxFuture<'a, Result<String>> {
        Box::pin(async move {
            let host = env.host(&self.host)?;
            let pid = kill_node(env.lab, host, self.port, self.signal, env.timing).await?;
            Ok(format!("SIG{} to the node {host}:{} (pid {pid})", self.signal.name(), self.port))
        })
    }

    fn reach(&self, env: &Env<'_>) -> Result<Reach> {
        let node = (env.host(&self.host)?, self.port);
        // SIGCONT thaws what SIGSTOP froze
        Ok(Reach { heals: self.signal == Signal::Cont, nodes: vec![node], ..Reach::default() })
    }
}

/// Sends `signal` to the cache node listening on `port` on `host`; returns its pid once the
/// signal took effect.
pub async fn kill_node(lab: &Lab, host: HostName, port: u16, signal: Signal, timing: Timing) -> Result<u32> {
    let pid = node::pid(lab, host, port).await?;
    let out = lab.sh(host, &format!("kill -s {} {pid}", signal.name())).await?;
    anyhow::ensure!(
        out.exit == 0,
        "kill -s {} {pid} on {host} exited {}: {}",
        signal.name(),
        out.exit,
        out.stderr.trim()
    );
    let what = format!("SIG{} to take effect on the node {host}:{port} (pid {pid})", signal.name());
    wait::until(&what, timing.in_effect(), wait::POLL, || async {
        let state = node::process_state(lab, host, pid).await.map_err(|e| format!("{e:#}"))?;
        let done = match signal {
            Signal::Kill | Signal::Term | Signal::Int => matches!(state, None | Some('Z')),
            Signal::Stop => state == Some('T'),
            // resumed: running, or already gone (a node whose session expired exits at once)
            Signal::Cont => state != Some('T'),
        };
        if done {
            Ok(())
        } else {
            Err(format!("process state {}", state.map(String::from).unwrap_or_else(|| "gone".into())))
        }
    })
    .await?;
    Ok(pid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_parse_with_or_without_sig() {
        assert_eq!(Signal::parse("SIGKILL"), Ok(Signal::Kill));
        assert_eq!(Signal::parse("kill"), Ok(Signal::Kill));
        assert_eq!(Signal::parse("STOP"), Ok(Signal::Stop));
        assert_eq!(Signal::parse("HUP").unwrap_err(), "unknown signal \"HUP\": use KILL, TERM, INT, STOP, CONT");
        assert_eq!(Signal::Cont.name(), "CONT");
    }
}
