//! Waiting callers: arrival order, the ring in progress, announcements and the wait estimate.
//!
//! A caller stays in the queue, in its arrival place, from `handle_caller_arrived` until an
//! operator answers or the caller is gone (left, overflowed, no operators). A ring that does
//! not connect therefore leaves the caller exactly where it was: at the head if it was the
//! oldest. Each caller remembers the operators who failed it (`tried`) and until when: those
//! are not offered the same caller again while that holds.
//!
//! Invariants: a call appears at most once; `ringing` names the only operator ringing for
//! the caller; `next_announce` only moves forward.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::operators::OperatorId;
use super::CallRef;

/// The queue's view of an operator's phone ringing for a caller: who, and until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RingDeadline {
    pub operator: OperatorId,
    /// The ring timeout: cancelled at this instant if not answered.
    pub until: Instant,
}

/// One waiting caller.
#[derive(Debug, Clone)]
pub(crate) struct Waiter {
    pub call: CallRef,
    pub queued_at: Instant,
    /// The next announcement; `None` when announcements are off.
    pub next_announce: Option<Instant>,
    pub ringing: Option<RingDeadline>,
    /// Operators who failed this caller, and when they may be offered it again.
    tried: Vec<(OperatorId, Instant)>,
    /// The topic (skill) this caller chose: operators with it are offered first.
    pub topic: Option<String>,
    /// Until when only operators with `topic` are offered; `None` once the wait is over.
    pub skill_until: Option<Instant>,
}

impl Waiter {
    pub fn new(call: CallRef, queued_at: Instant, announce_every: Duration) -> Waiter {
        Waiter {
            call,
            queued_at,
            next_announce: (!announce_every.is_zero()).then(|| queued_at + announce_every),
            ringing: None,
            tried: Vec::new(),
            topic: None,
            skill_until: None,
        }
    }

    /// `operator` failed this caller: not to be offered it again before `retry_at`.
    pub fn tried(&mut self, operator: &str, retry_at: Instant) {
        self.tried.retain(|(id, _)| id != operator);
        self.tried.push((operator.to_string(), retry_at));
    }

    /// `operator` may be offered this caller at `now`.
    pub fn may_ring(&self, operator: &str, now: Instant) -> bool {
        !self
            .tried
            .iter()
            .any(|(id, retry_at)| id == operator && *retry_at > now)
    }

    /// Forget `operator`'s failure: they have freshly become free.
    pub fn forget_tried(&mut self, operator: &str) {
        self.tried.retain(|(id, _)| id != operator);
    }

    /// Drop failures whose retry time has come.
    pub fn prune_tried(&mut self, now: Instant) {
        self.tried.retain(|(_, retry_at)| *retry_at > now);
    }

    /// When `operator` may be offered this caller again, if not yet.
    pub fn retry_at(&self, operator: &str) -> Option<Instant> {
        self.tried
            .iter()
            .find(|(id, _)| id == operator)
            .map(|(_, at)| *at)
    }
}

/// The waiting callers in arrival order.
#[derive(Debug, Clone, Default)]
pub(crate) struct Queue {
    waiters: VecDeque<Waiter>,
}

impl Queue {
    pub fn push(&mut self, waiter: Waiter) {
        debug_assert!(self.get(waiter.call).is_none(), "a call queues once");
        self.waiters.push_back(waiter);
    }

    pub fn remove(&mut self, call: CallRef) -> Option<Waiter> {
        let index = self.index(call)?;
        self.waiters.remove(index)
    }

    pub fn get(&self, call: CallRef) -> Option<&Waiter> {
        self.waiters.iter().find(|w| w.call == call)
    }

    pub fn get_mut(&mut self, call: CallRef) -> Option<&mut Waiter> {
        self.waiters.iter_mut().find(|w| w.call == call)
    }

    /// 1-based place in the queue, counting the callers ahead whether or not a phone is
    /// already ringing for them (they have not been served yet).
    pub fn position(&self, call: CallRef) -> Option<usize> {
        self.index(call).map(|i| i + 1)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Waiter> {
        self.waiters.iter()
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut Waiter> {
        self.waiters.iter_mut()
    }

    pub fn is_empty(&self) -> bool {
        self.waiters.is_empty()
    }

    /// Callers waiting.
    pub fn len(&self) -> usize {
        self.waiters.len()
    }

    fn index(&self, call: CallRef) -> Option<usize> {
        self.waiters.iter().position(|w| w.call == call)
    }
}

/// How long an operator is taken by one call (talk plus wrap-up), averaged over the last
/// few calls: the basis of the waiting time estimate.
#[derive(Debug, Clone)]
pub(crate) struct HandleTimes {
    recent: VecDeque<Duration>,
    default: Duration,
}

impl HandleTimes {
    /// Enough calls to follow the day's pace without one long call swinging the estimate.
    const WINDOW: usize = 20;

    pub fn new(default: Duration) -> HandleTimes {
        HandleTimes {
            recent: VecDeque::with_capacity(Self::WINDOW),
            default,
        }
    }

    pub fn record(&mut self, handle_time: Duration) {
        if self.recent.len() == Self::WINDOW {
            self.recent.pop_front();
        }
        self.recent.push_back(handle_time);
    }

    /// The moving average, or the configured default until a call has been handled.
    pub fn average(&self) -> Duration {
        let n = self.recent.len() as u32;
        if n == 0 {
            return self.default;
        }
        self.recent.iter().sum::<Duration>() / n
    }

    /// Minutes (rounded up) until the caller at `position` is served, with `staffed`
    /// operators sharing the queue; `None` when nobody is taking calls.
    pub fn eta_minutes(&self, position: usize, staffed: usize) -> Option<u32> {
        if staffed == 0 {
            return None;
        }
        let total_ms = self.average().as_millis() * position as u128 / staffed as u128;
        let minutes = total_ms.div_ceil(60_000);
        Some(u32::try_from(minutes).unwrap_or(u32::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_follow_arrival_and_close_up_on_removal() {
        let t0 = Instant::now();
        let mut queue = Queue::default();
        for n in 1..=3 {
            queue.push(Waiter::new(CallRef(n), t0, Duration::from_secs(30)));
        }
        assert_eq!(queue.position(CallRef(3)), Some(3));
        queue.remove(CallRef(1));
        assert_eq!(queue.position(CallRef(2)), Some(1));
        assert_eq!(queue.position(CallRef(3)), Some(2));
        assert_eq!(queue.position(CallRef(1)), None);
    }

    #[test]
    fn tried_operators_wait_for_their_retry_time() {
        let t0 = Instant::now();
        let mut w = Waiter::new(CallRef(1), t0, Duration::ZERO);
        assert_eq!(
            w.next_announce, None,
            "zero interval turns announcements off"
        );
        w.tried("101", t0 + Duration::from_secs(5));
        assert!(!w.may_ring("101", t0 + Duration::from_secs(4)));
        assert!(w.may_ring("102", t0));
        assert!(w.may_ring("101", t0 + Duration::from_secs(5)));
        w.prune_tried(t0 + Duration::from_secs(5));
        assert_eq!(w.retry_at("101"), None);
    }

    #[test]
    fn eta_uses_the_moving_average_and_rounds_up() {
        let mut times = HandleTimes::new(Duration::from_secs(180));
        // Default 3 min: position 1 with 2 operators is 90 s → 2 min.
        assert_eq!(times.eta_minutes(1, 2), Some(2));
        assert_eq!(times.eta_minutes(4, 2), Some(6));
        assert_eq!(times.eta_minutes(1, 0), None);
        times.record(Duration::from_secs(60));
        times.record(Duration::from_secs(120));
        assert_eq!(times.average(), Duration::from_secs(90));
        assert_eq!(times.eta_minutes(2, 3), Some(1));
        for _ in 0..HandleTimes::WINDOW {
            times.record(Duration::from_secs(240));
        }
        assert_eq!(
            times.average(),
            Duration::from_secs(240),
            "older calls age out"
        );
    }
}
