//! Time as an input. Sans-IO cores never read a clock: the runtime passes `Now` in (read
//! from its one clock, `runtime::Clock`).
//!
//! Monotonic time (`Instant`) drives every timer; wall-clock time (`Timestamp`) is only
//! for the business calendar and the call register. They are separate on purpose: a
//! wall-clock step (NTP, DST) must never fire or stall a protocol timer.

use std::time::Instant;

use jiff::Timestamp;

/// The current time, as both clocks see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Now {
    /// Monotonic: timers and deadlines.
    pub mono: Instant,
    /// Wall clock (UTC): calendar decisions and register timestamps.
    pub wall: Timestamp,
}

impl Now {
    /// The same moment moved forward by `d` on both clocks (simulated time in tests).
    pub fn advanced(self, d: std::time::Duration) -> Self {
        let wall = self
            .wall
            .checked_add(jiff::SignedDuration::try_from(d).expect("test durations fit"))
            .expect("test times stay in range");
        Now {
            mono: self.mono + d,
            wall,
        }
    }
}

/// The register's one text format for times: RFC 3339 UTC, milliseconds, fixed width.
pub fn format_time(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_fixed_width_utc_with_milliseconds() {
        let t: Timestamp = "2026-11-24T15:21:47Z".parse().unwrap();
        assert_eq!(format_time(t), "2026-11-24T15:21:47.000Z");
        let t: Timestamp = "2026-11-24T15:21:47.123456Z".parse().unwrap();
        assert_eq!(format_time(t), "2026-11-24T15:21:47.123Z");
    }
}
