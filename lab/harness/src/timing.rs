//! Timing profiles (contract section 8): `fast` for tests (tickTime 500, sessions 1-10 s) and
//! `seed` as in the runbook (tickTime 2000, sessions 4-200 s). `zookeeper init` writes the
//! profile's values into zoo.cfg; the lab passes it to the admin host as `ARCUS_ZK_PROFILE`.

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Timing {
    #[default]
    Fast,
    Seed,
}

impl Timing {
    pub fn parse(name: &str) -> Result<Timing, String> {
        match name {
            "fast" => Ok(Timing::Fast),
            "seed" => Ok(Timing::Seed),
            other => Err(format!("unknown timing profile {other:?}: use fast or seed")),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Timing::Fast => "fast",
            Timing::Seed => "seed",
        }
    }
}
