//! Giving memory back to the system after calls end.
//!
//! A call's buffers are freed when it ends, but the C allocator keeps freed memory in its
//! per-thread arenas for reuse and returns it to the system only from the top of a heap.
//! After a busy hour (or a flood of calls) the process would stay at its peak size for
//! good. [`Trimmer`] asks the allocator to hand back what is free (`malloc_trim`), at most
//! once per interval and only when calls have ended since the last time, so a steady line
//! pays nothing and the trim itself runs off the async workers.

use std::time::{Duration, Instant};

/// How often at most free memory is handed back.
pub const TRIM_EVERY: Duration = Duration::from_secs(10);

/// Decides when to trim (sans-IO: the engine passes the time in).
#[derive(Debug)]
pub struct Trimmer {
    ended: u64,
    last: Instant,
}

impl Trimmer {
    pub fn new(now: Instant) -> Trimmer {
        Trimmer {
            ended: 0,
            last: now,
        }
    }

    /// A call's media ended.
    pub fn call_ended(&mut self) {
        self.ended += 1;
    }

    /// Whether to trim now; if so, the count starts again.
    pub fn due(&mut self, now: Instant) -> bool {
        if self.ended == 0 || now.saturating_duration_since(self.last) < TRIM_EVERY {
            return false;
        }
        self.ended = 0;
        self.last = now;
        true
    }
}

/// After a flood: [`Trimmer`] follows calls as they end, but a flood also leaves
/// transactions (a BYE's lingers 32 s, Timer J) and TCP connections that outlive its calls.
/// Measured, a 5,000-call flood left 127 MiB held once its calls were over and 20 MiB once
/// this had trimmed at the end. It trims each time the load (calls, transactions, TCP
/// connections) has fallen to a quarter of what it was at the last trim, after a flood's
/// worth of it, down to (nearly) none.
/// Decides when to trim, from the load seen once a second.
#[derive(Debug, Clone, Copy, Default)]
pub struct TrimAfterPeak {
    peak: usize,
    /// A flood was seen and has not fully drained away yet.
    armed: bool,
}

impl TrimAfterPeak {
    /// A peak below this is an ordinary busy hour, not worth a trim.
    pub const FLOOD: usize = 256;

    /// The current load; `true` when the heap should be trimmed now.
    pub fn observe(&mut self, load: usize) -> bool {
        self.peak = self.peak.max(load);
        self.armed |= self.peak >= Self::FLOOD;
        if self.armed && load <= self.peak / 4 {
            self.peak = load;
            // The last trim is the one at (nearly) no load: then the flood is over.
            self.armed = load > Self::FLOOD / 4;
            return true;
        }
        false
    }
}

/// Hands free heap memory back to the system, on a blocking thread (the allocator walks
/// every arena, milliseconds on a large heap).
pub fn give_back() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    tokio::task::spawn_blocking(|| {
        // SAFETY: `malloc_trim` only releases free pages; it takes the allocator's locks.
        unsafe { libc::malloc_trim(0) };
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_only_after_calls_ended_and_at_most_once_per_interval() {
        let t0 = Instant::now();
        let mut t = Trimmer::new(t0);
        assert!(!t.due(t0 + TRIM_EVERY), "nothing ended");
        t.call_ended();
        assert!(!t.due(t0 + TRIM_EVERY / 2), "too soon");
        assert!(t.due(t0 + TRIM_EVERY));
        t.call_ended();
        assert!(!t.due(t0 + TRIM_EVERY + Duration::from_secs(1)));
        assert!(t.due(t0 + 2 * TRIM_EVERY));
        assert!(!t.due(t0 + 5 * TRIM_EVERY), "nothing ended since");
    }

    #[test]
    fn a_flood_that_drains_away_is_trimmed_once_per_quarter() {
        let mut t = TrimAfterPeak::default();
        let loads = [
            0, 100, 2000, 5000, 3000, 1300, 1200, 900, 300, 200, 90, 60, 0, 0,
        ];
        let trims: Vec<usize> = loads.into_iter().filter(|&l| t.observe(l)).collect();
        assert_eq!(trims, vec![1200, 300, 60]);
        // Over: ordinary traffic after it does not trim again.
        assert!(!t.observe(100) && !t.observe(0));
    }

    #[test]
    fn ordinary_traffic_is_never_trimmed() {
        let mut t = TrimAfterPeak::default();
        for load in (0..10_000).map(|i| (i * 37) % 200) {
            assert!(!t.observe(load));
        }
    }
}
