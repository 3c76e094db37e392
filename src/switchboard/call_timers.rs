//! The calls' own deadlines (today: a menu waiting for a key), kept in time order so the
//! switchboard's `poll_timeout` is the earliest without looking at every call. Each call
//! has at most one deadline: its `Call::poll_timeout`, read again after every input it
//! handles.

use std::collections::{BTreeSet, HashMap};
use std::time::Instant;

use super::CallRef;

#[derive(Debug, Default)]
pub(super) struct CallTimers {
    by_time: BTreeSet<(Instant, CallRef)>,
    by_call: HashMap<CallRef, Instant>,
}

impl CallTimers {
    /// The call's deadline is now `at` (`None`: it has none).
    pub fn set(&mut self, call: CallRef, at: Option<Instant>) {
        if self.by_call.get(&call).copied() == at {
            return;
        }
        if let Some(old) = self.by_call.remove(&call) {
            self.by_time.remove(&(old, call));
        }
        if let Some(at) = at {
            self.by_call.insert(call, at);
            self.by_time.insert((at, call));
        }
    }

    /// The earliest deadline of any call.
    pub fn next(&self) -> Option<Instant> {
        self.by_time.first().map(|(at, _)| *at)
    }

    /// A call whose deadline is due at `now`, taken off the table.
    pub fn pop_due(&mut self, now: Instant) -> Option<CallRef> {
        let &(at, call) = self.by_time.first()?;
        if at > now {
            return None;
        }
        self.by_time.remove(&(at, call));
        self.by_call.remove(&call);
        Some(call)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn deadlines_come_out_in_time_order_and_can_move() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut timers = CallTimers::default();
        timers.set(CallRef(1), Some(t0 + s(5)));
        timers.set(CallRef(2), Some(t0 + s(3)));
        timers.set(CallRef(1), Some(t0 + s(1)));
        timers.set(CallRef(3), Some(t0 + s(2)));
        timers.set(CallRef(3), None);
        assert_eq!(timers.next(), Some(t0 + s(1)));
        assert_eq!(timers.pop_due(t0 + s(4)), Some(CallRef(1)));
        assert_eq!(timers.pop_due(t0 + s(4)), Some(CallRef(2)));
        assert_eq!(timers.pop_due(t0 + s(4)), None);
        assert_eq!(timers.next(), None);
    }
}
