//! The runtime's one clock. Every adapter reads the time here and nowhere else, so a test
//! can run the runtime's timer paths under tokio's paused time (`start_paused`) and
//! advance it instead of sleeping.
//!
//! Monotonic time comes from tokio's clock: in service that is the system's monotonic
//! clock, under paused time it is the test's. Wall time is the system's in service; a
//! simulated clock derives it from the monotonic clock, starting at a chosen instant, so a
//! paused test sees both move together. Durations are always taken on the monotonic
//! clock: a wall-clock step (NTP, a hand-set date) never makes one negative.

use std::time::Instant;

use jiff::{SignedDuration, Timestamp};

use crate::model::Now;

/// Where the runtime reads the time. Cheap to copy.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    /// For a simulated clock: the wall time at `origin` on the monotonic clock.
    simulated: Option<(Timestamp, tokio::time::Instant)>,
}

impl Clock {
    /// The system's clocks (in service).
    pub const fn system() -> Clock {
        Clock { simulated: None }
    }

    /// A clock whose wall time starts at `start` now and advances with tokio's clock
    /// (for tests under paused time). Must be made inside a tokio runtime.
    pub fn simulated(start: Timestamp) -> Clock {
        Clock {
            simulated: Some((start, tokio::time::Instant::now())),
        }
    }

    /// Whether this is a simulated clock (tests under paused time).
    pub fn is_simulated(&self) -> bool {
        self.simulated.is_some()
    }

    /// Monotonic time, for timers and durations.
    pub fn mono(&self) -> Instant {
        tokio::time::Instant::now().into_std()
    }

    /// The same instant as tokio's timers take it.
    pub fn tokio(&self) -> tokio::time::Instant {
        tokio::time::Instant::now()
    }

    /// Wall time, for the calendar and the register.
    pub fn wall(&self) -> Timestamp {
        match self.simulated {
            None => Timestamp::now(),
            Some((start, origin)) => {
                let elapsed =
                    SignedDuration::try_from(origin.elapsed()).unwrap_or(SignedDuration::MAX);
                start.checked_add(elapsed).unwrap_or(Timestamp::MAX)
            }
        }
    }

    /// Both, for the sans-IO cores' inputs.
    pub fn now(&self) -> Now {
        Now {
            mono: self.mono(),
            wall: self.wall(),
        }
    }
}

impl Default for Clock {
    fn default() -> Clock {
        Clock::system()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_simulated_clock_moves_both_times_with_tokio() {
        let start: Timestamp = "2026-11-24T09:00:00Z".parse().unwrap();
        let clock = Clock::simulated(start);
        let t0 = clock.now();
        assert_eq!(t0.wall, start);
        tokio::time::sleep(Duration::from_secs(90)).await;
        let t1 = clock.now();
        assert_eq!(t1.mono - t0.mono, Duration::from_secs(90));
        assert_eq!(
            t1.wall,
            "2026-11-24T09:01:30Z".parse::<Timestamp>().unwrap()
        );
    }

    /// Every clock read of the runtime goes through this module: a direct read would be
    /// blind to paused time in tests and could mix two clocks in one duration.
    #[test]
    fn the_runtime_reads_no_clock_but_this_one() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/runtime");
        let mut offenders = Vec::new();
        let mut stack = vec![dir];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).expect("src/runtime is readable") {
                let path = entry.expect("entry").path();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                // Test modules in files of their own (`*_tests.rs`) may read clocks too.
                let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
                if name == "clock.rs" || name.ends_with("_tests.rs") {
                    continue;
                }
                let text = std::fs::read_to_string(&path).expect("utf-8 source");
                // Tests may start their own clocks; the code under test may not.
                let code = text.split("#[cfg(test)]").next().unwrap_or("");
                for (n, line) in code.lines().enumerate() {
                    let line = line.split("//").next().unwrap_or("");
                    let reads = [
                        "Instant::now()",
                        "Timestamp::now()",
                        "Now::read()",
                        "SystemTime::now()",
                    ];
                    if reads.iter().any(|r| line.contains(r)) {
                        offenders.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
                    }
                }
            }
        }
        assert!(
            offenders.is_empty(),
            "clock read outside runtime/clock.rs:\n{}",
            offenders.join("\n")
        );
    }
}
