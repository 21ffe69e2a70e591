//! The step kinds, one file each (its `KIND`: name, keys, summary, how it runs). Adding a kind:
//! a new file here and a line in [`KINDS`].

mod bind;
mod fault;
mod hold;
mod mc;
mod measure;
mod run;
mod runbook;
mod traffic;
mod tree;
mod wait;

use super::Kind;

/// Every step kind, in the order the README lists them.
pub const KINDS: &[&Kind] = &[
    &run::KIND,
    &runbook::KIND,
    &mc::KIND,
    &tree::KIND,
    &wait::KIND,
    &fault::KIND,
    &hold::KIND,
    &bind::KIND,
    &measure::KIND,
    &traffic::KIND,
];

pub use bind::BINDINGS;
pub use wait::CONDITIONS;
