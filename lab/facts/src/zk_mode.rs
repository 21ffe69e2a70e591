//! A ZooKeeper server's mode, as its `srvr` and `stat` four-letter-word replies report it (the
//! `Mode: ` line), and the two questions asked of an ensemble's modes: does one server lead (or
//! need no leader), and does every server serve clients. A server that does not serve has no
//! mode: its reply is `This ZooKeeper instance is not currently serving requests` (or nothing);
//! that is `None` here, however a caller shows it.

use strum::{Display, EnumIter, EnumString, IntoStaticStr};

/// The mode of a serving ZooKeeper server; its name is ZooKeeper's own (`leader`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Display, EnumString, IntoStaticStr, EnumIter)]
#[strum(serialize_all = "lowercase")]
pub enum ZkMode {
    Leader,
    Follower,
    /// A server alone, without an ensemble: it needs no leader.
    Standalone,
    Observer,
}

impl ZkMode {
    /// ZooKeeper's name of the mode: `leader`, `follower`, `standalone`, `observer`.
    pub fn name(self) -> &'static str {
        self.into()
    }

    /// The mode a `srvr` or `stat` reply reports on its `Mode:` line; `None` when the reply has no
    /// such line (the server does not serve, or did not answer) or names a mode not listed here
    /// (such as the `stale` the runbook's shell line prints for a server that said nothing).
    pub fn from_reply(reply: &str) -> Option<ZkMode> {
        reply.lines().find_map(|line| line.trim().strip_prefix("Mode:")).and_then(|mode| mode.trim().parse().ok())
    }

    /// Whether a server in this mode leads, or needs no leader (`leader`, `standalone`).
    pub fn leads(self) -> bool {
        matches!(self, ZkMode::Leader | ZkMode::Standalone)
    }
}

/// Whether a server serves clients: it does in every mode, and not without one.
pub fn serving(mode: Option<ZkMode>) -> bool {
    mode.is_some()
}

/// Whether one of the servers leads (or needs no leader).
pub fn has_leader(modes: impl IntoIterator<Item = Option<ZkMode>>) -> bool {
    modes.into_iter().any(|mode| mode.is_some_and(ZkMode::leads))
}

/// Whether every server serves clients.
pub fn all_serving(modes: impl IntoIterator<Item = Option<ZkMode>>) -> bool {
    modes.into_iter().all(serving)
}

#[cfg(test)]
mod tests {
    use super::*;
    use strum::IntoEnumIterator;

    // Replies of the lab's host image's ZooKeeper (Debian 12's 3.8.0), a three-server ensemble and
    // `lab-zk-standalone`, taken with `printf srvr | nc 127.0.0.1 <port>`.

    const FOLLOWER_SRVR: &str = "Zookeeper version: 3.8.0-${mvngit.commit.id}, built on 2024-12-29 17:54 UTC\n\
        Latency min/avg/max: 0/0.0/0\nReceived: 1\nSent: 0\nConnections: 1\nOutstanding: 0\nZxid: 0x0\n\
        Mode: follower\nNode count: 5\n";

    /// A leader's reply has a line after the mode.
    const LEADER_SRVR: &str = "Zookeeper version: 3.8.0-${mvngit.commit.id}, built on 2024-12-29 17:54 UTC\n\
        Latency min/avg/max: 0/0.0/0\nReceived: 1\nSent: 0\nConnections: 1\nOutstanding: 0\nZxid: 0x100000000\n\
        Mode: leader\nNode count: 5\nProposal sizes last/min/max: -1/-1/-1\n";

    /// `stat`: the client lines come before the mode.
    const STANDALONE_STAT: &str = "Zookeeper version: 3.8.0-${mvngit.commit.id}, built on 2024-12-29 17:54 UTC\n\
        Clients:\n /127.0.0.1:40074[0](queued=0,recved=1,sent=0)\n\nLatency min/avg/max: 0/0.0/0\nReceived: 2\n\
        Sent: 1\nConnections: 1\nOutstanding: 0\nZxid: 0x0\nMode: standalone\nNode count: 5\n";

    /// The last of three servers once the other two are gone: no quorum, so no mode (`srvr` and
    /// `stat` alike).
    const NOT_SERVING: &str = "This ZooKeeper instance is not currently serving requests\n";

    #[test]
    fn modes_from_real_replies() {
        assert_eq!(ZkMode::from_reply(FOLLOWER_SRVR), Some(ZkMode::Follower));
        assert_eq!(ZkMode::from_reply(STANDALONE_STAT), Some(ZkMode::Standalone));
        assert_eq!(ZkMode::from_reply(LEADER_SRVR), Some(ZkMode::Leader));
        assert_eq!(ZkMode::from_reply("Mode: observer\n"), Some(ZkMode::Observer));
        assert_eq!(ZkMode::from_reply(NOT_SERVING), None);
        assert_eq!(ZkMode::from_reply(""), None);
        // The runbook's shell line prints `Mode: stale` for a server that said nothing.
        assert_eq!(ZkMode::from_reply("Mode: stale\n"), None);
        // The line as the runbook's `echo $GOT` passes it on, and with surrounding blanks.
        assert_eq!(ZkMode::from_reply("  Mode:   leader  \r\n"), Some(ZkMode::Leader));
    }

    #[test]
    fn names_round_trip() {
        let names: Vec<&str> = ZkMode::iter().map(ZkMode::name).collect();
        assert_eq!(names, ["leader", "follower", "standalone", "observer"]);
        for mode in ZkMode::iter() {
            assert_eq!(mode.to_string(), mode.name());
            assert_eq!(mode.name().parse::<ZkMode>(), Ok(mode));
        }
        assert!("Leader".parse::<ZkMode>().is_err());
        assert!("stale".parse::<ZkMode>().is_err());
    }

    #[test]
    fn leading_and_serving() {
        let leading: Vec<ZkMode> = ZkMode::iter().filter(|m| m.leads()).collect();
        assert_eq!(leading, [ZkMode::Leader, ZkMode::Standalone]);
        use ZkMode::*;
        assert!(has_leader([Some(Follower), None, Some(Leader)]));
        assert!(has_leader([Some(Standalone)]));
        assert!(!has_leader([Some(Follower), Some(Observer), None]));
        assert!(!has_leader([]));
        assert!(all_serving([Some(Follower), Some(Leader), Some(Observer)]));
        assert!(!all_serving([Some(Follower), None, Some(Leader)]));
        assert!(all_serving([]));
    }
}
