//! What the steps of a running scenario share: the lab, the timing profile, the normalizer, the
//! values bound so far, when each labelled step ended, the labelled trees, and the faults' leftovers.

use std::collections::HashMap;

use anyhow::Result;

use crate::fault::Leftovers;
use crate::keys::{Bindings, HostRef, Template};
use crate::lab::{HostName, Lab};
use crate::normalize::Normalizer;
use crate::probe::zk::ZnodeTree;
use crate::timing::Timing;

pub struct Ctx<'a> {
    pub lab: &'a Lab,
    pub timing: Timing,
    pub normalizer: Normalizer,
    pub bound: Bindings,
    /// Each label's step index and the time its step ended (ms since the epoch).
    pub ends: HashMap<String, (usize, u128)>,
    /// The dumps of labelled tree steps.
    pub trees: HashMap<String, ZnodeTree>,
    /// What the faults left behind, for the heal before teardown.
    pub left: Leftovers,
}

impl<'a> Ctx<'a> {
    pub fn new(lab: &'a Lab, timing: Timing) -> Ctx<'a> {
        Ctx {
            lab,
            timing,
            normalizer: Normalizer::for_lab(lab),
            bound: Bindings::new(),
            ends: HashMap::new(),
            trees: HashMap::new(),
            left: Leftovers::default(),
        }
    }

    pub fn render(&self, template: &Template) -> Result<String> {
        template.render(&self.bound)
    }

    /// The host a reference names now, checked against the lab's hosts.
    pub fn host(&self, host: &HostRef) -> Result<HostName> {
        host.resolve(&self.bound, &self.lab.topology)
    }
}
