//! `traffic`: starts the scenario's load through the client view (`"start"`, with the
//! `[traffic]` table's settings) or stops it (`"stop"`); the report, the timeline and the bounds
//! follow once the run's steps are done. Without these steps a `[traffic]` table runs its load
//! through the whole scenario.

use futures_util::future::BoxFuture;

use crate::keys::{KeyError, Keys};
use crate::scenario::{Action, Ctx, Defines, Kind, Observation, Output, TrafficMark, Variant, Variants};

pub const KIND: Kind = Kind {
    name: "traffic",
    summary: "starts or stops the load through the client view (the `[traffic]` table's settings)",
    keys: &[],
    variants: Some(Variants { what: "traffic step", list: marks }),
    output: Output::None,
    parse,
};

fn marks() -> Vec<Variant> {
    vec![
        Variant { name: "start", summary: "the view joins the ensemble and the load begins", keys: &[] },
        Variant {
            name: "stop",
            summary: "the load ends and the view leaves (its totals in the step's event)",
            keys: &[],
        },
    ]
}

#[derive(Debug)]
struct Traffic(TrafficMark);

fn parse(keys: &Keys, defines: &mut Defines) -> Result<Box<dyn Action>, KeyError> {
    let mark = match keys.need::<String>("traffic")?.as_str() {
        "start" => TrafficMark::Start,
        _ => TrafficMark::Stop,
    };
    defines.traffic = Some(mark);
    Ok(Box::new(Traffic(mark)))
}

impl Action for Traffic {
    fn describe(&self) -> String {
        match self.0 {
            TrafficMark::Start => "start".into(),
            TrafficMark::Stop => "stop".into(),
        }
    }

    fn run<'a>(&'a self, ctx: &'a mut Ctx<'_>) -> BoxFuture<'a, anyhow::Result<Observation>> {
        Box::pin(async move {
            let done = match self.0 {
                TrafficMark::Start => ctx.start_traffic().await?,
                TrafficMark::Stop => ctx.stop_traffic().await?,
            };
            Ok(Observation::Traffic(done))
        })
    }
}
