//! The cloud: a lab brought as far as the runbook says. [`up`] starts the lab's machines and types
//! the runbook's admin steps ([`runbook`]) up to a [`Level`], waiting after each step on its named
//! ready condition ([`ready`]); the scenarios' setup levels are such levels.

pub mod ready;
pub mod runbook;

use anyhow::{Context, Result};

pub use runbook::Step;

use crate::engine::Engine;
use crate::interrupt;
use crate::lab::{self, Lab, LabSpec, Mark, Owner};
use crate::progress::Progress;

/// Where the operator stands on the admin host.
pub const SCRIPTS: &str = "/opt/arcus/scripts";

/// How far [`up`] goes: bare machines, or through the runbook up to a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Bare,
    Runbook(Step),
}

/// A lab and how far to bring it.
#[derive(Debug, Clone)]
pub struct UpOptions {
    pub lab: LabSpec,
    pub level: Level,
}

/// Starts the lab and runs the runbook as far as the level says, then marks the lab made (kept,
/// for [`Owner::Kept`]). On any failure, and on an interrupt (see `crate::interrupt`), what this
/// call made is removed before the error is returned, and nothing else.
pub async fn up(engine: &Engine, options: &UpOptions, progress: &Progress) -> Result<Lab> {
    let made = interrupt::or_interrupt(async {
        let lab = Lab::start(engine, &options.lab, progress).await?;
        let mark = if options.lab.owner == Owner::Kept { Mark::Kept } else { Mark::Made };
        let finished = async {
            if let Level::Runbook(until) = options.level {
                runbook::run(&lab, Step::Zklist, until, options.lab.timing, progress).await?;
            }
            lab::mark(engine, &options.lab, mark).await
        };
        if let Err(e) = finished.await {
            let _ = lab::undo(engine, &options.lab).await;
            return Err(e);
        }
        Ok(lab)
    })
    .await;
    match made {
        Ok(made) => made,
        Err(interrupted) => {
            lab::undo(engine, &options.lab)
                .await
                .with_context(|| format!("{interrupted}: removing what was made for run {}", options.lab.run))?;
            Err(interrupted.into())
        }
    }
}
