//! What the steps of a running scenario share: the lab, the timing profile, the normalizer, the
//! values bound so far, when each labelled step ended, the labelled trees, the faults' leftovers,
//! and the traffic through the client view (started, marked by each fault, stopped here).

use std::collections::HashMap;

use anyhow::Result;

use arcus_client::{FaultMarker, MarkerKind};
use arcus_facts::znode::{self, NodeName};

use super::traffic::TrafficState;
use crate::fault::{Leftovers, Reach};
use crate::keys::{Bindings, HostRef, Template};
use crate::lab::{HostName, Lab};
use crate::normalize::Normalizer;
use crate::probe::client::{self, ClientRun};
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
    pub traffic: TrafficState,
}

impl<'a> Ctx<'a> {
    pub fn new(lab: &'a Lab, timing: Timing, traffic: TrafficState) -> Ctx<'a> {
        Ctx {
            lab,
            timing,
            normalizer: Normalizer::for_lab(lab),
            bound: Bindings::new(),
            ends: HashMap::new(),
            trees: HashMap::new(),
            left: Leftovers::default(),
            traffic,
        }
    }

    /// Connects the client view and starts the load (the plan's, or the defaults); returns what
    /// runs, for the step's event.
    pub async fn start_traffic(&mut self) -> Result<String> {
        anyhow::ensure!(self.traffic.running.is_none(), "the traffic runs already");
        let plan = self.traffic.plan.clone().unwrap_or_default();
        let service = plan.service(&self.lab.topology).to_string();
        let spec = plan.load_spec();
        let run =
            ClientRun::start(self.lab, &service, spec.clone(), &self.traffic.records, self.timing.zk_connect()).await?;
        self.traffic.running = Some(run);
        Ok(format!(
            "the view of {service} and a load of {} ops/s over {} keys ({:.0} % gets, {} B values, timeout {:?})",
            spec.rate,
            spec.keys,
            spec.get_ratio * 100.0,
            spec.value_size,
            spec.timeout
        ))
    }

    /// Stops the load and closes the view (none running: nothing to do); returns its totals, for
    /// the step's event.
    pub async fn stop_traffic(&mut self) -> Result<String> {
        let Some(run) = self.traffic.running.take() else { return Ok("no traffic ran".into()) };
        let end = run.stop().await?;
        let t = &end.totals;
        let done = format!(
            "{} ops in {:.1} s ({:.0} ops/s): {} hits, {} misses, {} stored, {} errors, {} timeouts, {} refused, {} lost",
            t.ops,
            t.elapsed.as_secs_f64(),
            t.ops_per_sec,
            t.hits,
            t.misses,
            t.stored,
            t.errors,
            t.timeouts,
            t.refused,
            t.lost
        );
        self.traffic.ended = Some(end);
        Ok(done)
    }

    /// Marks a fault (or heal) that just took effect on the running traffic's time line, with the
    /// nodes of its service it reaches (every node of a host it reaches; the node whose znode it
    /// deletes).
    pub fn mark_fault(&mut self, name: &str, reach: &Reach) -> Result<()> {
        let Some(run) = self.traffic.running.as_mut() else { return Ok(()) };
        let service = run.service().to_string();
        let lab = self.lab;
        let mut nodes = Vec::new();
        for host in &reach.hosts {
            for port in lab.topology.ports(&service) {
                nodes.push(client::node(lab, *host, port)?);
            }
        }
        for (host, port) in &reach.nodes {
            nodes.push(client::node(lab, *host, *port)?);
        }
        if let Some(child) = reach.znode.as_deref().and_then(|p| p.strip_prefix(&znode::cache_list(&service))) {
            if let Some(child) = child.strip_prefix('/') {
                nodes.push(NodeName::parse(child).addr.to_string());
            }
        }
        nodes.sort();
        nodes.dedup();
        let kind = if reach.heals { MarkerKind::Heal } else { MarkerKind::Fault };
        run.mark(FaultMarker::now(name, kind, nodes));
        Ok(())
    }

    pub fn render(&self, template: &Template) -> Result<String> {
        template.render(&self.bound)
    }

    /// The host a reference names now, checked against the lab's hosts.
    pub fn host(&self, host: &HostRef) -> Result<HostName> {
        host.resolve(&self.bound, &self.lab.topology)
    }
}
