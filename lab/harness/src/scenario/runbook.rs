//! The `runbook` step: one runbook step exactly as `lab up` runs it (`runbook::run_step`), for the
//! lines a scenario cannot spell itself (the zklist edit and key copy need the lab's addresses,
//! the conf its rendered text). A non-zero exit fails the step.

use anyhow::Result;

use super::command;
use super::runner::{Ctx, Observed};
use crate::runbook::{self, Step};

pub(super) async fn run(ctx: &Ctx<'_>, step: Step) -> Result<Observed> {
    let out = runbook::run_step(ctx.lab, step).await?;
    Ok(command::observed(ctx, "arcus", &step.command(ctx.lab), &out))
}
