//! The options of every command that builds the lab's images (`lab up`, `lab run`, `test`,
//! `bench`, `ci images`): where the base image comes from, as one flattened set.

use arcus_lab::images;
use clap::Args;

#[derive(Args, Clone, Default)]
pub struct ImageArgs {
    /// Build the lab's base from this local Debian bookworm image instead of mmdebstrap (never
    /// pulled: load or build it yourself). Default: $ARCUS_LAB_BASE_IMAGE; without either,
    /// mmdebstrap uses $ARCUS_LAB_DEBIAN_MIRROR or the host's Debian bookworm apt entries.
    #[arg(long, value_name = "IMAGE", value_parser = clap::builder::NonEmptyStringValueParser::new())]
    pub base_image: Option<String>,
}

impl ImageArgs {
    /// Makes the options this process's choice, before any image is checked; the processes it
    /// starts get them through `arcus_lab::images::base_image_env()`.
    pub fn apply(&self) {
        if let Some(image) = &self.base_image {
            images::set_base_image_option(image);
        }
    }
}
