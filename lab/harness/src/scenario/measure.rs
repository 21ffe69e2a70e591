//! The `measure` step: the time between the ends of two earlier labelled steps (a failover time,
//! a removal delay), checked against its optional bounds; recorded by name in timings.json and
//! in the step's event, also when it is out of bounds.

use std::time::Duration;

use anyhow::{Context, Result};

use super::artifacts::Measurement;
use super::runner::Ctx;

/// The measurement; the parser made sure both labels belong to earlier steps.
pub(super) fn run(
    ctx: &Ctx<'_>,
    name: &str,
    from: &str,
    to: &str,
    min: Option<Duration>,
    max: Option<Duration>,
) -> Result<Measurement> {
    let end = |label: &str| ctx.ends.get(label).copied().with_context(|| format!("no step labelled {label:?} has run"));
    let ((from_step, from_end), (to_step, to_end)) = (end(from)?, end(to)?);
    Ok(Measurement {
        name: name.to_string(),
        ms: to_end.saturating_sub(from_end),
        from: from.to_string(),
        from_step,
        to: to.to_string(),
        to_step,
        min_ms: min.map(|d| d.as_millis()),
        max_ms: max.map(|d| d.as_millis()),
    })
}

impl Measurement {
    /// `removal delay = 9.512 s (from "killed", step 1, to "gone", step 4; bounds 5 s..14 s)`.
    pub fn detail(&self) -> String {
        let bound = |ms: Option<u128>| ms.map(seconds).unwrap_or_else(|| "-".into());
        let bounds = match (self.min_ms, self.max_ms) {
            (None, None) => String::new(),
            (min, max) => format!("; bounds {}..{}", bound(min), bound(max)),
        };
        format!(
            "{} = {} (from {:?}, step {}, to {:?}, step {}{bounds})",
            self.name,
            seconds(self.ms),
            self.from,
            self.from_step,
            self.to,
            self.to_step
        )
    }

    /// Fails when the value is outside its bounds.
    pub fn check(&self) -> Result<()> {
        let low = self.min_ms.is_some_and(|min| self.ms < min);
        let high = self.max_ms.is_some_and(|max| self.ms > max);
        anyhow::ensure!(!low && !high, "out of bounds: {}", self.detail());
        Ok(())
    }
}

fn seconds(ms: u128) -> String {
    format!("{}.{:03} s", ms / 1000, ms % 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measured(ms: u128, min: Option<u128>, max: Option<u128>) -> Measurement {
        Measurement {
            name: "removal delay".into(),
            ms,
            from: "killed".into(),
            from_step: 1,
            to: "gone".into(),
            to_step: 4,
            min_ms: min,
            max_ms: max,
        }
    }

    #[test]
    fn values_inside_the_bounds_pass_and_outside_fail_with_the_bounds_shown() {
        assert!(measured(9512, Some(5000), Some(14000)).check().is_ok());
        assert!(measured(5000, Some(5000), None).check().is_ok());
        let text = measured(4999, Some(5000), Some(14000)).check().unwrap_err().to_string();
        assert_eq!(
            text,
            "out of bounds: removal delay = 4.999 s (from \"killed\", step 1, to \"gone\", step 4; bounds 5.000 s..14.000 s)"
        );
        let text = measured(14001, None, Some(14000)).check().unwrap_err().to_string();
        assert!(text.contains("bounds -..14.000 s"), "{text}");
        assert_eq!(
            measured(80, None, None).detail(),
            "removal delay = 0.080 s (from \"killed\", step 1, to \"gone\", step 4)"
        );
    }
}
