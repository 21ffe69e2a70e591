//! `measure`: the time between the ends of two earlier labelled steps (a failover time, a removal
//! delay), checked against its optional bounds; recorded by name in timings.json and in the step's
//! event, also when it is out of bounds.

use std::time::Duration;

use anyhow::Context;
use futures_util::future::BoxFuture;

use crate::keys::{may, need, KeyError, Keys, LabelRef};
use crate::scenario::observation::Measurement;
use crate::scenario::{Action, Ctx, Defines, Kind, Observation, Output};

pub const KIND: Kind = Kind {
    name: "measure",
    summary: "the time from the end of step `from` to the end of step `to` (labels), into timings.json by name",
    keys: &[
        need("from", "the label of the earlier step"),
        need("to", "the label of the later step"),
        may("expect.min", "the least time allowed (5s)"),
        may("expect.max", "the most time allowed (14s)"),
    ],
    variants: None,
    output: Output::None,
    parse,
};

#[derive(Debug)]
struct Measure {
    name: String,
    from: String,
    to: String,
    min: Option<Duration>,
    max: Option<Duration>,
}

fn parse(keys: &Keys, defines: &mut Defines) -> Result<Box<dyn Action>, KeyError> {
    let name = keys.need::<String>("measure")?.trim().to_string();
    if name.is_empty() {
        return Err(keys.error("measure", "a measure needs a name: measure = \"removal delay\""));
    }
    let from: LabelRef = keys.need("from")?;
    let to: LabelRef = keys.need("to")?;
    if to.step.index <= from.step.index {
        let message = format!(
            "`to` ({:?}, step {}) must be a later step than `from` ({:?}, step {})",
            to.label, to.step.index, from.label, from.step.index
        );
        return Err(keys.error("to", message));
    }
    let (min, max) = (keys.get::<Duration>("expect.min")?, keys.get::<Duration>("expect.max")?);
    if let (Some(min), Some(max)) = (min, max) {
        if min > max {
            return Err(keys.error("expect.min", format!("the bounds are reversed: min {min:?} > max {max:?}")));
        }
    }
    defines.measure = Some(name.clone());
    Ok(Box::new(Measure { name, from: from.label, to: to.label, min, max }))
}

impl Action for Measure {
    /// Only its bounds can fail it.
    fn can_fail(&self) -> bool {
        self.min.is_some() || self.max.is_some()
    }

    fn describe(&self) -> String {
        format!("{}: from {} to {}", self.name, self.from, self.to)
    }

    fn run<'a>(&'a self, ctx: &'a mut Ctx<'_>) -> BoxFuture<'a, anyhow::Result<Observation>> {
        Box::pin(async move {
            let end = |label: &str| {
                ctx.ends.get(label).copied().with_context(|| format!("no step labelled {label:?} has run"))
            };
            let ((from_step, from_end), (to_step, to_end)) = (end(&self.from)?, end(&self.to)?);
            Ok(Observation::Measured(Measurement {
                name: self.name.clone(),
                ms: to_end.saturating_sub(from_end),
                from: self.from.clone(),
                from_step,
                to: self.to.clone(),
                to_step,
                min_ms: self.min.map(|d| d.as_millis()),
                max_ms: self.max.map(|d| d.as_millis()),
            }))
        })
    }

    fn judge(&self, _: &Ctx<'_>, observed: &Observation) -> anyhow::Result<()> {
        match observed {
            Observation::Measured(m) => m.check(),
            _ => Ok(()),
        }
    }
}
