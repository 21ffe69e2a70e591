//! One moment on both clocks: the monotonic one (for durations and ordering within a run) and the
//! wall clock (for people and for lining up with logs). Records, ring events and markers all carry
//! one; the report places them on one axis, milliseconds since the load started.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A moment, taken once on both clocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Moment {
    /// The monotonic clock: what durations are computed from.
    pub instant: Instant,
    /// The wall clock at the same moment.
    pub wall: SystemTime,
}

impl Moment {
    /// Now, on both clocks.
    pub fn now() -> Moment {
        Moment { instant: Instant::now(), wall: SystemTime::now() }
    }

    /// The wall clock as milliseconds since the Unix epoch.
    pub fn wall_ms(&self) -> u64 {
        self.wall.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO).as_millis() as u64
    }

    /// Milliseconds from `origin` to this moment on the monotonic clock (negative when this moment
    /// is earlier).
    pub fn ms_since(&self, origin: &Moment) -> f64 {
        if self.instant >= origin.instant {
            (self.instant - origin.instant).as_secs_f64() * 1000.0
        } else {
            -((origin.instant - self.instant).as_secs_f64() * 1000.0)
        }
    }
}
