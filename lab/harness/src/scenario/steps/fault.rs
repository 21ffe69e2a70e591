//! `fault`: one fault verb of `crate::fault` (the verbs' declarations give their keys), returning
//! once the fault is in effect. What it leaves behind is noted in the context's leftovers, for the
//! heal the runner does before teardown; while traffic runs, the moment it took effect is marked
//! on the client view's time line with the nodes it reaches.

use futures_util::future::BoxFuture;

use crate::fault::{self, Env, Fault};
use crate::keys::{KeyError, Keys};
use crate::scenario::{Action, Ctx, Defines, Kind, Observation, Output, Variant, Variants};

pub const KIND: Kind = Kind {
    name: "fault",
    summary: "a fault verb; returns once the fault is in effect",
    keys: &[],
    variants: Some(Variants { what: "fault", list: verbs }),
    output: Output::None,
    parse,
};

fn verbs() -> Vec<Variant> {
    fault::VERBS.iter().map(|v| Variant { name: v.name, summary: v.summary, keys: v.keys }).collect()
}

#[derive(Debug)]
struct Step(Box<dyn Fault>);

fn parse(keys: &Keys, _: &mut Defines) -> Result<Box<dyn Action>, KeyError> {
    let name: String = keys.need("fault")?;
    let verb = fault::verb(&name).ok_or_else(|| keys.error("fault", format!("unknown fault {name:?}")))?;
    Ok(Box::new(Step((verb.parse)(keys)?)))
}

impl Action for Step {
    fn describe(&self) -> String {
        self.0.describe()
    }

    fn run<'a>(&'a self, ctx: &'a mut Ctx<'_>) -> BoxFuture<'a, anyhow::Result<Observation>> {
        Box::pin(async move {
            let mut env = Env { lab: ctx.lab, bound: &ctx.bound, timing: ctx.timing, left: &mut ctx.left };
            let done = self.0.apply(&mut env).await?;
            let reach = self.0.reach(&env)?;
            ctx.mark_fault(&self.0.describe(), &reach)?;
            Ok(Observation::Fault(done))
        })
    }
}
