//! The cloud: a lab brought as far as the runbook says. [`up`] starts the lab's machines and types
//! the runbook's admin steps ([`runbook`]) up to a [`Level`], waiting after each step on its named
//! ready condition ([`ready`]); the scenarios' setup levels are such levels.

pub mod ready;
pub mod runbook;

use anyhow::Result;

pub use runbook::Step;

use crate::engine::Engine;
use crate::lab::{self, Lab, LabSpec};
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

/// Starts the lab and runs the runbook as far as the level says. On any failure everything
/// created for this run is removed before the error is returned.
pub async fn up(engine: &Engine, options: &UpOptions, progress: &Progress) -> Result<Lab> {
    let lab = Lab::start(engine, &options.lab, progress).await?;
    if let Level::Runbook(until) = options.level {
        if let Err(e) = runbook::run(&lab, Step::Zklist, until, options.lab.timing, progress).await {
            let _ = lab::down(engine, &lab.run).await;
            return Err(e);
        }
    }
    Ok(lab)
}
