//! Repeated errors logged once per interval with a count, not once per packet: under a
//! flood the same failure (no RTP port, a connection over its limit) repeats thousands of
//! times a second, and a log line each would cost more than the failure and bury
//! everything else. Time comes in as a value; the caller logs.

use std::time::{Duration, Instant};

/// One kind of repeated event.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogEvery {
    last: Option<Instant>,
    /// Occurrences since the last line.
    held: u64,
}

impl LogEvery {
    /// How often one kind of repeated error is logged.
    pub const INTERVAL: Duration = Duration::from_secs(10);

    /// The event happened: `Some(n)` when a line is due now, `n` occurrences including
    /// this one since the last line; `None` while the interval runs (the event is counted).
    pub fn hit(&mut self, now: Instant) -> Option<u64> {
        self.held += 1;
        let due = self
            .last
            .is_none_or(|last| now.saturating_duration_since(last) >= Self::INTERVAL);
        if !due {
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.held))
    }

    /// Occurrences held back and not yet logged, once the interval is over: the caller
    /// logs them as a last line when the burst has stopped (`None` if there are none).
    pub fn flush(&mut self, now: Instant) -> Option<u64> {
        let due = self
            .last
            .is_none_or(|last| now.saturating_duration_since(last) >= Self::INTERVAL);
        if self.held == 0 || !due {
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.held))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_of_one_error_makes_one_line_per_interval_with_its_count() {
        let t0 = Instant::now();
        let mut every = LogEvery::default();
        assert_eq!(every.hit(t0), Some(1));
        let mut lines = Vec::new();
        // 2,510 failures over 25 s.
        for i in 1..2510u64 {
            let at = t0 + Duration::from_millis(i * 10);
            if let Some(n) = every.hit(at) {
                lines.push(n);
            }
        }
        assert_eq!(lines, vec![1000, 1000]);
        assert_eq!(every.hit(t0 + Duration::from_secs(60)), Some(510));
    }

    #[test]
    fn what_was_held_back_is_flushed_once_the_burst_is_over() {
        let t0 = Instant::now();
        let mut every = LogEvery::default();
        assert_eq!(every.hit(t0), Some(1));
        for i in 1..400u64 {
            assert_eq!(every.hit(t0 + Duration::from_millis(i)), None);
        }
        assert_eq!(
            every.flush(t0 + Duration::from_secs(5)),
            None,
            "interval runs"
        );
        assert_eq!(every.flush(t0 + Duration::from_secs(10)), Some(399));
        assert_eq!(
            every.flush(t0 + Duration::from_secs(30)),
            None,
            "nothing more"
        );
    }
}
