//! A scenario's traffic as the file writes it: the top-level `[traffic]` table (the load through
//! the client view: service, rate, key space, share of gets, value size, per-operation timeout;
//! each key left out takes the client's default) and its `[traffic.bounds]` (limits on the
//! client report's figures, checked after the load stops). Without `traffic = "start"` /
//! `"stop"` steps the load runs from before the first step to after the last; a `traffic` step
//! without a `[traffic]` table runs the defaults.

use std::path::PathBuf;
use std::time::Duration;

use arcus_client::{check, Bounds, LoadSpec, Report};
use toml::de::DeValue;
use toml::Spanned;

use crate::keys::{may, Key, KeyError, Keys, Scope, Source};
use crate::lab::{Topology, RUNBOOK_SERVICE};
use crate::probe::client::{ClientEnd, ClientRun};

/// The keys of `[traffic]`.
pub const LOAD_KEYS: &[Key] = &[
    may("service", "the service code whose cache_list the view watches (default: the topology's first)"),
    may("rate", "operations per second, spread over the run (default 1000)"),
    may("keys", "the size of the key space (default 1000 keys)"),
    may("gets", "the share of gets among the operations, 0 to 1 (default 0.5)"),
    may("value-size", "bytes per value written (default 100)"),
    may("timeout", "how long one operation may take before it counts as timed out (default 500ms)"),
    may("bounds", "the `[traffic.bounds]` table"),
];

/// The keys of `[traffic.bounds]`.
pub const BOUND_KEYS: &[Key] = &[
    may("max-unavailable", "the longest unavailable time of any one node, its windows added up (12s)"),
    may("min-unavailable", "that longest time must be at least this: the traffic saw the fault (5s)"),
    may("max-failed", "operations failed, timed out or refused, in all"),
    may("min-failed", "at least this many failed: the traffic met the fault"),
    may("max-timeouts", "operations timed out, in all"),
    may("max-lost", "values lost (a read older than the last stored write), in all"),
    may("max-lost-unfaulted", "values lost on nodes that no fault step touched"),
    may("max-keys-affected", "the share of keys that failed, moved or lost a value, 0 to 1"),
    may("max-ring-lag", "the longest time from a znode's removal or addition to the view's ring update"),
    may("min-availability", "the share of operations that succeeded, 0 to 1"),
];

/// `[traffic]`: what the load does (each `None` takes the client's default) and its bounds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TrafficPlan {
    /// The line of `[traffic]` (0: defaults, no table).
    pub line: usize,
    pub service: Option<String>,
    pub rate: Option<u32>,
    pub keys: Option<u32>,
    pub gets: Option<f64>,
    pub value_size: Option<usize>,
    pub timeout: Option<Duration>,
    pub bounds: TrafficBounds,
    /// Whether the load runs through the whole scenario (no `traffic` steps).
    pub whole: bool,
}

/// `[traffic.bounds]`; each `None` is not checked.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TrafficBounds {
    pub max_unavailable: Option<Duration>,
    pub min_unavailable: Option<Duration>,
    pub max_failed: Option<u64>,
    pub min_failed: Option<u64>,
    pub max_timeouts: Option<u64>,
    pub max_lost: Option<u64>,
    pub max_lost_unfaulted: Option<u64>,
    pub max_keys_affected: Option<f64>,
    pub max_ring_lag: Option<Duration>,
    pub min_availability: Option<f64>,
}

impl TrafficBounds {
    /// How many bounds are set.
    pub fn count(&self) -> usize {
        let durations = [self.max_unavailable, self.min_unavailable, self.max_ring_lag];
        let counts = [self.max_failed, self.min_failed, self.max_timeouts, self.max_lost, self.max_lost_unfaulted];
        let shares = [self.max_keys_affected, self.min_availability];
        durations.iter().filter(|b| b.is_some()).count()
            + counts.iter().filter(|b| b.is_some()).count()
            + shares.iter().filter(|b| b.is_some()).count()
    }
}

/// Reads the `[traffic]` table (`value`, whose key is at `key_at`).
pub fn parse(source: &Source, value: &Spanned<DeValue<'_>>, scope: &Scope) -> Result<TrafficPlan, KeyError> {
    if value.get_ref().as_table().is_none() {
        return Err(source.error(value.span(), "traffic", "a [traffic] table"));
    }
    let keys = Keys::new(source, value, scope, 0)?;
    keys.check("[traffic]", "traffic", LOAD_KEYS)?;
    let mut plan = TrafficPlan {
        line: source.line_of(value.span().start),
        service: keys.get("service")?,
        rate: keys.get("rate")?,
        keys: keys.get("keys")?,
        gets: keys.get("gets")?,
        value_size: keys.get("value-size")?,
        timeout: keys.get("timeout")?,
        ..TrafficPlan::default()
    };
    if let Some(service) = &plan.service {
        if !scope.topology.services.contains(service) {
            let message =
                format!("unknown service {service:?}: the services are {}", scope.topology.services.join(", "));
            return Err(keys.error("service", message));
        }
    }
    if plan.rate == Some(0) {
        return Err(keys.error("rate", "a rate of 0 operations per second is no traffic"));
    }
    if plan.keys == Some(0) {
        return Err(keys.error("keys", "a key space of 0 keys"));
    }
    if plan.gets.is_some_and(|g| !(0.0..=1.0).contains(&g)) {
        return Err(keys.error("gets", "a share: 0 to 1"));
    }
    if plan.value_size.is_some_and(|v| v == 0 || v > 1 << 20) {
        return Err(keys.error("value-size", "1 byte to 1 MiB"));
    }
    if plan.timeout == Some(Duration::ZERO) {
        return Err(keys.error("timeout", "a timeout of 0"));
    }
    if let Some(bounds) = keys.raw("bounds") {
        plan.bounds = parse_bounds(source, bounds, scope)?;
    }
    Ok(plan)
}

fn parse_bounds(source: &Source, value: &Spanned<DeValue<'_>>, scope: &Scope) -> Result<TrafficBounds, KeyError> {
    if value.get_ref().as_table().is_none() {
        return Err(source.error(value.span(), "traffic.bounds", "a [traffic.bounds] table"));
    }
    let keys = Keys::new(source, value, scope, 0)?;
    keys.check("[traffic.bounds]", "bounds", BOUND_KEYS)?;
    let bounds = TrafficBounds {
        max_unavailable: keys.get("max-unavailable")?,
        min_unavailable: keys.get("min-unavailable")?,
        max_failed: keys.get("max-failed")?,
        min_failed: keys.get("min-failed")?,
        max_timeouts: keys.get("max-timeouts")?,
        max_lost: keys.get("max-lost")?,
        max_lost_unfaulted: keys.get("max-lost-unfaulted")?,
        max_keys_affected: keys.get("max-keys-affected")?,
        max_ring_lag: keys.get("max-ring-lag")?,
        min_availability: keys.get("min-availability")?,
    };
    for (key, share) in [("max-keys-affected", bounds.max_keys_affected), ("min-availability", bounds.min_availability)]
    {
        if share.is_some_and(|s| !(0.0..=1.0).contains(&s)) {
            return Err(keys.error(key, "a share: 0 to 1"));
        }
    }
    if let (Some(min), Some(max)) = (bounds.min_unavailable, bounds.max_unavailable) {
        if min > max {
            return Err(keys.error("min-unavailable", format!("the bounds are reversed: min {min:?} > max {max:?}")));
        }
    }
    if let (Some(min), Some(max)) = (bounds.min_failed, bounds.max_failed) {
        if min > max {
            return Err(keys.error("min-failed", format!("the bounds are reversed: min {min} > max {max}")));
        }
    }
    Ok(bounds)
}

impl TrafficPlan {
    /// The load it asks for: the client's defaults where the file says nothing.
    pub fn load_spec(&self) -> LoadSpec {
        let mut spec = LoadSpec::default();
        if let Some(rate) = self.rate {
            spec.rate = rate;
        }
        if let Some(keys) = self.keys {
            spec.keys = keys;
        }
        if let Some(gets) = self.gets {
            spec.get_ratio = gets;
        }
        if let Some(size) = self.value_size {
            spec.value_size = size;
        }
        if let Some(timeout) = self.timeout {
            spec.timeout = timeout;
        }
        spec
    }

    /// The service the view follows: the file's, else the topology's first.
    pub fn service<'a>(&'a self, topology: &'a Topology) -> &'a str {
        self.service.as_deref().or(topology.services.first().map(String::as_str)).unwrap_or(RUNBOOK_SERVICE)
    }
}

impl TrafficBounds {
    /// As the client's report takes them.
    pub fn client_bounds(&self) -> Bounds {
        Bounds {
            max_unavailable: self.max_unavailable,
            min_unavailable: self.min_unavailable,
            max_failed_ops: self.max_failed,
            min_failed_ops: self.min_failed,
            max_timeouts: self.max_timeouts,
            max_lost_values: self.max_lost,
            max_lost_values_on_unfaulted_nodes: self.max_lost_unfaulted,
            max_ring_lag: self.max_ring_lag,
            max_keys_affected_share: self.max_keys_affected,
            min_availability: self.min_availability,
        }
    }

    /// Every bound `report` does not keep, one line each.
    pub fn violations(&self, report: &Report) -> Vec<String> {
        check(report, &self.client_bounds()).iter().map(ToString::to_string).collect()
    }
}

/// The traffic of a running scenario: its plan, the view and load while they run, what they
/// left once stopped.
pub struct TrafficState {
    pub plan: Option<TrafficPlan>,
    /// `client.jsonl` in the run directory.
    pub records: PathBuf,
    pub running: Option<ClientRun>,
    pub ended: Option<ClientEnd>,
}

impl TrafficState {
    pub fn new(plan: Option<TrafficPlan>, records: PathBuf) -> TrafficState {
        TrafficState { plan, records, running: None, ended: None }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The README's `[traffic]` table says the client's defaults.
    #[test]
    fn the_documented_defaults_are_the_clients() {
        let spec = LoadSpec::default();
        let doc = |name: &str| LOAD_KEYS.iter().find(|k| k.name == name).unwrap().doc;
        assert!(doc("rate").contains(&format!("(default {})", spec.rate)), "{}", doc("rate"));
        assert!(doc("keys").contains(&format!("(default {} keys)", spec.keys)), "{}", doc("keys"));
        assert!(doc("gets").contains(&format!("(default {})", spec.get_ratio)), "{}", doc("gets"));
        assert!(doc("value-size").contains(&format!("(default {})", spec.value_size)), "{}", doc("value-size"));
        let timeout = format!("(default {})", humantime::format_duration(spec.timeout));
        assert!(doc("timeout").contains(&timeout), "{}", doc("timeout"));
        assert_eq!(TrafficPlan::default().load_spec(), spec);
    }

    /// Every `[traffic.bounds]` key reaches one of the client's bounds.
    #[test]
    fn every_bound_key_reaches_the_clients_bounds() {
        let text = "[traffic.bounds]\nmax-unavailable = \"12s\"\nmin-unavailable = \"5s\"\nmax-failed = 9\n\
                    min-failed = 1\nmax-timeouts = 8\nmax-lost = 7\nmax-lost-unfaulted = 0\n\
                    max-keys-affected = 0.3\nmax-ring-lag = \"1s\"\nmin-availability = 0.9\n";
        let source = Source { name: "x.toml".into(), text: text.into() };
        let doc = toml::de::DeTable::parse(text).unwrap();
        let traffic = doc.get_ref().get("traffic").unwrap();
        let plan = parse(&source, traffic, &Scope::default()).unwrap();
        assert_eq!(plan.bounds.count(), BOUND_KEYS.len());
        let s = |secs| Some(Duration::from_secs(secs));
        let expected = Bounds {
            max_unavailable: s(12),
            min_unavailable: s(5),
            max_failed_ops: Some(9),
            min_failed_ops: Some(1),
            max_timeouts: Some(8),
            max_lost_values: Some(7),
            max_lost_values_on_unfaulted_nodes: Some(0),
            max_ring_lag: s(1),
            max_keys_affected_share: Some(0.3),
            min_availability: Some(0.9),
        };
        assert_eq!(plan.bounds.client_bounds(), expected);
    }
}
