//! `hold`: let time pass with the faults in place. The only sleep in a scenario.

use std::time::Duration;

use futures_util::future::BoxFuture;

use crate::keys::{KeyError, Keys};
use crate::scenario::{Action, Ctx, Defines, Kind, Observation, Output};

pub const KIND: Kind = Kind {
    name: "hold",
    summary: "lets the time given pass (250ms, 12s, 1m) with the faults in place: the only sleep",
    keys: &[],
    variants: None,
    output: Output::None,
    parse,
};

#[derive(Debug)]
struct Hold(Duration);

fn parse(keys: &Keys, _: &mut Defines) -> Result<Box<dyn Action>, KeyError> {
    Ok(Box::new(Hold(keys.need("hold")?)))
}

impl Action for Hold {
    fn can_fail(&self) -> bool {
        false
    }

    fn describe(&self) -> String {
        format!("{:?}", self.0)
    }

    fn run<'a>(&'a self, _: &'a mut Ctx<'_>) -> BoxFuture<'a, anyhow::Result<Observation>> {
        Box::pin(async move {
            tokio::time::sleep(self.0).await;
            Ok(Observation::Held(self.0))
        })
    }
}
