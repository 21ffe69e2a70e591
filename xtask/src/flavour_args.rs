//! `--arcus PREFIX` and `--arcus-src DIR`: which cache node a command's labs run, as one set of
//! options shared by `lab up`, `lab run`, `test` and `conformance`.

use std::path::PathBuf;

use anyhow::Result;
use arcus_lab::{Engine, Flavour, Progress};
use clap::Args;

#[derive(Args, Clone, Default)]
pub struct FlavourArgs {
    /// Use a user's arcus-memcached install prefix (bin/memcached, lib/) instead of the reference
    /// node (default: $ARCUS_PREFIX if set).
    #[arg(long, value_name = "PREFIX", conflicts_with = "arcus_src")]
    pub arcus: Option<PathBuf>,
    /// Build a user's arcus-memcached source checkout with the lab's recipe (`cargo xtask arcus
    /// build`; cached by a hash of the tree) and use that instead of the reference node.
    #[arg(long, value_name = "DIR")]
    pub arcus_src: Option<PathBuf>,
}

impl FlavourArgs {
    /// The flavour, building the checkout first when `--arcus-src` names one.
    pub async fn flavour(&self, engine: &Engine, progress: &Progress) -> Result<Flavour> {
        if let Some(src) = &self.arcus_src {
            let build = arcus_lab::arcus_build::build(engine, src, progress).await?;
            return Ok(Flavour::from_option(Some(&build.prefix))?);
        }
        Ok(Flavour::from_option(self.arcus.as_deref())?)
    }
}
