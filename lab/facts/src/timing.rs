//! The timing profiles (contract section 8) and every value derived from one: what `zookeeper
//! init` writes into zoo.cfg, how long the admin's leader wait goes on and how it paces its
//! rounds, and the harness's deadlines. `fast` (the lab's default: tickTime 500, sessions 1-10 s)
//! is for tests; `seed` is the runbook's upstream template (tickTime 2000, sessions 4-200 s). The
//! lab passes the profile to the admin host as `ARCUS_ZK_PROFILE`.

use std::time::Duration;

use strum::{Display, EnumIter, IntoStaticStr};

/// How often a wait looks again, in every profile.
pub const POLL: Duration = Duration::from_millis(50);

/// A timing profile, by its name `fast` or `seed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Display, IntoStaticStr, EnumIter)]
#[strum(serialize_all = "lowercase")]
pub enum Timing {
    /// For tests, and the lab's default: tickTime 500, sessions 1 s..10 s.
    #[default]
    Fast,
    /// The runbook's upstream template: tickTime 2000, sessions 4 s..200 s.
    Seed,
}

/// A name that is not a timing profile's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownTiming(pub String);

impl std::fmt::Display for UnknownTiming {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "unknown timing profile {:?}: use fast or seed", self.0)
    }
}

impl std::error::Error for UnknownTiming {}

impl std::str::FromStr for Timing {
    type Err = UnknownTiming;

    fn from_str(name: &str) -> Result<Timing, UnknownTiming> {
        match name {
            "fast" => Ok(Timing::Fast),
            "seed" => Ok(Timing::Seed),
            other => Err(UnknownTiming(other.to_string())),
        }
    }
}

/// How the admin's leader wait paces its rounds of the runbook's ssh line (the line it prints
/// between two rounds says 3 seconds either way).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaderPace {
    /// The runbook's: a fixed sleep between two rounds.
    SleepBetween(Duration),
    /// Before every round, the first included, look over TCP until the ensemble is complete, for
    /// at most this long.
    LookBefore(Duration),
}

impl Timing {
    /// `fast` or `seed`.
    pub fn name(self) -> &'static str {
        self.into()
    }

    /// [`str::parse`] with the message as a `String` (for a command-line parser).
    pub fn parse(name: &str) -> Result<Timing, String> {
        name.parse().map_err(|e: UnknownTiming| e.to_string())
    }

    // zoo.cfg, written by `zookeeper init`.

    /// zoo.cfg's `tickTime`.
    pub fn tick_time(self) -> Duration {
        match self {
            Timing::Fast => Duration::from_millis(500),
            Timing::Seed => Duration::from_millis(2000),
        }
    }

    /// zoo.cfg's `minSessionTimeout`: the shortest session the servers grant.
    pub fn min_session_timeout(self) -> Duration {
        match self {
            Timing::Fast => Duration::from_millis(1000),
            Timing::Seed => Duration::from_millis(4000),
        }
    }

    /// zoo.cfg's `maxSessionTimeout`: the longest session the servers grant (a node asking for
    /// 30 s gets 10 s with `fast`).
    pub fn max_session_timeout(self) -> Duration {
        match self {
            Timing::Fast => Duration::from_millis(10_000),
            Timing::Seed => Duration::from_millis(200_000),
        }
    }

    // The admin's leader wait (`zookeeper init`'s zk_wait).

    /// How long the leader wait goes on before it gives up.
    pub fn leader_wait(self) -> Duration {
        match self {
            Timing::Fast => Duration::from_secs(30),
            Timing::Seed => Duration::from_secs(120),
        }
    }

    /// How the leader wait paces its rounds: `seed` sleeps 3 s between them, as the runbook does;
    /// `fast` looks over TCP for up to 1 s before each.
    pub fn leader_pace(self) -> LeaderPace {
        match self {
            Timing::Fast => LeaderPace::LookBefore(Duration::from_secs(1)),
            Timing::Seed => LeaderPace::SleepBetween(Duration::from_secs(3)),
        }
    }

    // The harness's deadlines.

    /// The default deadline of a scenario's wait: three times the longest session the profile
    /// lets a node have (10 s with `fast`; `seed`'s 30 s default session).
    pub fn wait(self) -> Duration {
        match self {
            Timing::Fast => Duration::from_secs(30),
            Timing::Seed => Duration::from_secs(90),
        }
    }

    /// How long a fault verb waits for its fault to take effect.
    pub fn in_effect(self) -> Duration {
        Duration::from_secs(10)
    }

    /// How long a started server or host has to answer (a ZooKeeper server, a host's sshd after
    /// `start-host`).
    pub fn started(self) -> Duration {
        Duration::from_secs(30)
    }

    /// How long a new lab's hosts have to send their sshd banners.
    pub fn sshd(self) -> Duration {
        Duration::from_secs(30)
    }

    /// How long the harness tries to get a ZooKeeper session on the lab's ensemble.
    pub fn zk_connect(self) -> Duration {
        Duration::from_secs(10)
    }

    /// How long the nodes have to join (their znodes to appear) after `memcached start`.
    pub fn nodes_joined(self) -> Duration {
        Duration::from_secs(20)
    }

    /// How often a wait looks again ([`POLL`], the same in both profiles).
    pub fn poll(self) -> Duration {
        POLL
    }

    /// How long a graceful host stop lets the host's processes end before the engine kills them
    /// (docker stop's default).
    pub fn stop_grace(self) -> Duration {
        Duration::from_secs(10)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strum::IntoEnumIterator;

    #[test]
    fn names() {
        assert_eq!(Timing::default(), Timing::Fast);
        for timing in Timing::iter() {
            assert_eq!(timing.to_string(), timing.name());
            assert_eq!(timing.name().parse::<Timing>(), Ok(timing));
            assert_eq!(Timing::parse(timing.name()), Ok(timing));
        }
        assert_eq!(Timing::iter().map(Timing::name).collect::<Vec<_>>(), ["fast", "seed"]);
        assert_eq!("quick".parse::<Timing>(), Err(UnknownTiming("quick".into())));
        assert_eq!(Timing::parse("quick").unwrap_err(), "unknown timing profile \"quick\": use fast or seed");
        assert_eq!(Timing::parse("").unwrap_err(), "unknown timing profile \"\": use fast or seed");
        assert!(Timing::parse("Fast").is_err());
    }

    #[test]
    fn zoo_cfg_values() {
        let ms = |t: Timing| {
            (t.tick_time().as_millis(), t.min_session_timeout().as_millis(), t.max_session_timeout().as_millis())
        };
        assert_eq!(ms(Timing::Fast), (500, 1000, 10_000));
        assert_eq!(ms(Timing::Seed), (2000, 4000, 200_000));
        // The shortest session is ZooKeeper's default of 2 ticks in both; `fast`'s longest is its
        // default of 20 ticks, `seed`'s the runbook template's 100.
        for t in Timing::iter() {
            assert_eq!(t.min_session_timeout(), t.tick_time() * 2);
        }
        assert_eq!(Timing::Fast.max_session_timeout(), Timing::Fast.tick_time() * 20);
        assert_eq!(Timing::Seed.max_session_timeout(), Timing::Seed.tick_time() * 100);
    }

    #[test]
    fn deadlines() {
        assert_eq!(Timing::Fast.leader_wait(), Duration::from_secs(30));
        assert_eq!(Timing::Seed.leader_wait(), Duration::from_secs(120));
        assert_eq!(Timing::Fast.leader_pace(), LeaderPace::LookBefore(Duration::from_secs(1)));
        assert_eq!(Timing::Seed.leader_pace(), LeaderPace::SleepBetween(Duration::from_secs(3)));
        assert_eq!((Timing::Fast.wait(), Timing::Seed.wait()), (Duration::from_secs(30), Duration::from_secs(90)));
        // The default wait outlasts a SIGKILLed node's session (its znode's removal) three times.
        assert_eq!(Timing::Fast.wait(), Timing::Fast.max_session_timeout() * 3);
        for t in Timing::iter() {
            assert_eq!(t.in_effect(), Duration::from_secs(10));
            assert_eq!(t.started(), Duration::from_secs(30));
            assert_eq!(t.sshd(), Duration::from_secs(30));
            assert_eq!(t.zk_connect(), Duration::from_secs(10));
            assert_eq!(t.nodes_joined(), Duration::from_secs(20));
            assert_eq!(t.poll(), Duration::from_millis(50));
            assert_eq!(t.stop_grace(), Duration::from_secs(10));
        }
    }
}
