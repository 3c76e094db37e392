//! Transaction timers (RFC 3261 §17 and Table 4 of Appendix A; Timers L and M from
//! RFC 6026 §8.7/§8.4).
//!
//! Two pieces live here:
//! - [`TimerTable`]: the deadlines of one transaction, one slot per [`Timer`]. A state
//!   machine arms and disarms its own slots; it never talks to the layer's queue.
//! - [`TimerQueue`]: the layer-wide min-heap of `(deadline, key, timer)` with lazy
//!   deletion. An entry is live only while the owning transaction still has that timer
//!   armed for exactly that deadline; anything else is skipped when it reaches the top.
//!
//! Invariants: the heap top is never stale after [`TimerQueue::prune`], so
//! `poll_timeout` is exact and O(1); arming costs O(log n) with n live timers; nothing
//! here reads a clock.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

use super::TxKey;

/// The RFC 3261 base intervals. Everything else is derived from them (Table 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimerConfig {
    /// RTT estimate: first retransmission interval, and 64*T1 bounds every transaction.
    pub t1: Duration,
    /// Cap on the retransmission interval of non-INVITE requests and INVITE responses.
    pub t2: Duration,
    /// Longest time a message stays in the network: how long we absorb late copies.
    pub t4: Duration,
}

impl Default for TimerConfig {
    fn default() -> Self {
        TimerConfig {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
        }
    }
}

impl TimerConfig {
    /// A zero T1 would retransmit in a tight loop and make every deadline "now", so T1 is
    /// at least 1 ms; T2 is never below T1 (it caps a doubling that starts at T1).
    pub(crate) fn sanitized(self) -> Self {
        let t1 = self.t1.max(Duration::from_millis(1));
        TimerConfig {
            t1,
            t2: self.t2.max(t1),
            t4: self.t4,
        }
    }

    /// 64*T1: Timers B, F, H, J (UDP), L and M.
    pub(crate) fn t1x64(&self) -> Duration {
        self.t1 * 64
    }

    /// Timer D: "> 32 s for UDP" (Table 4); never shorter than 64*T1 so a slow network
    /// configured with a larger T1 still absorbs every retransmitted final response.
    pub(crate) fn timer_d(&self) -> Duration {
        Duration::from_secs(32).max(self.t1x64())
    }
}

/// Timer names as in RFC 3261 Table 4 and RFC 6026.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Timer {
    /// Client INVITE request retransmission (UDP): T1, doubling.
    A,
    /// Client INVITE timeout: 64*T1.
    B,
    /// Client INVITE wait for response retransmissions after a non-2xx final.
    D,
    /// Client non-INVITE request retransmission (UDP): T1 doubling to T2.
    E,
    /// Client non-INVITE timeout: 64*T1.
    F,
    /// Server INVITE final response retransmission (UDP): T1 doubling to T2.
    G,
    /// Server INVITE wait for ACK: 64*T1.
    H,
    /// Server INVITE wait for ACK retransmissions: T4 (UDP).
    I,
    /// Server non-INVITE wait for request retransmissions: 64*T1 (UDP).
    J,
    /// Client non-INVITE wait for response retransmissions: T4 (UDP).
    K,
    /// Server INVITE in Accepted: absorb INVITE/ACK copies after a 2xx (RFC 6026).
    L,
    /// Client INVITE in Accepted: absorb 2xx copies from other forks (RFC 6026).
    M,
}

impl Timer {
    const ALL: [Timer; 12] = [
        Timer::A,
        Timer::B,
        Timer::D,
        Timer::E,
        Timer::F,
        Timer::G,
        Timer::H,
        Timer::I,
        Timer::J,
        Timer::K,
        Timer::L,
        Timer::M,
    ];

    fn slot(self) -> usize {
        self as usize
    }
}

/// The deadlines of one transaction. `dirty` remembers which slots were (re)armed since
/// the layer last looked, so only those get pushed onto the shared queue.
#[derive(Debug, Default, Clone)]
pub(crate) struct TimerTable {
    deadlines: [Option<Instant>; 12],
    dirty: u16,
}

impl TimerTable {
    pub(crate) fn arm(&mut self, timer: Timer, at: Instant) {
        self.deadlines[timer.slot()] = Some(at);
        self.dirty |= 1 << timer.slot();
    }

    pub(crate) fn disarm(&mut self, timer: Timer) {
        self.deadlines[timer.slot()] = None;
    }

    pub(crate) fn disarm_all(&mut self) {
        self.deadlines = [None; 12];
    }

    pub(crate) fn get(&self, timer: Timer) -> Option<Instant> {
        self.deadlines[timer.slot()]
    }

    /// Timers armed since the last call, with their deadlines.
    pub(crate) fn take_armed(&mut self) -> impl Iterator<Item = (Timer, Instant)> + '_ {
        let dirty = std::mem::take(&mut self.dirty);
        Timer::ALL
            .into_iter()
            .filter(move |t| dirty & (1 << t.slot()) != 0)
            .filter_map(|t| self.deadlines[t.slot()].map(|at| (t, at)))
    }
}

#[derive(Debug)]
struct Entry {
    at: Instant,
    /// Arming order breaks ties, so timers due at the same instant fire in the order a
    /// state machine armed them (Timer H before Timer L in Accepted).
    seq: u64,
    key: TxKey,
    timer: Timer,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

/// All armed timers of the layer, earliest first.
#[derive(Debug, Default)]
pub(crate) struct TimerQueue {
    heap: BinaryHeap<Reverse<Entry>>,
    next_seq: u64,
}

impl TimerQueue {
    pub(crate) fn push(&mut self, key: TxKey, timer: Timer, at: Instant) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.heap.push(Reverse(Entry {
            at,
            seq,
            key,
            timer,
        }));
    }

    /// The earliest entry; only exact after [`TimerQueue::prune`].
    pub(crate) fn peek(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse(e)| e.at)
    }

    /// Removes the earliest entry if it is due at `now`.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<(TxKey, Timer, Instant)> {
        if self.peek()? > now {
            return None;
        }
        self.heap.pop().map(|Reverse(e)| (e.key, e.timer, e.at))
    }

    /// Drops stale entries from the top; `is_live(key, timer, at)` tells whether the
    /// transaction still has `timer` armed for `at`.
    pub(crate) fn prune(&mut self, mut is_live: impl FnMut(&TxKey, Timer, Instant) -> bool) {
        while let Some(Reverse(e)) = self.heap.peek() {
            if is_live(&e.key, e.timer, e.at) {
                break;
            }
            self.heap.pop();
        }
    }

    /// After a flood the heap empties but keeps its size: give it back.
    pub(crate) fn release_spare(&mut self) {
        crate::sip::Spare::release_spare(&mut self.heap);
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_reports_only_newly_armed_timers() {
        let t0 = Instant::now();
        let mut table = TimerTable::default();
        table.arm(Timer::G, t0 + Duration::from_millis(500));
        table.arm(Timer::H, t0 + Duration::from_secs(32));
        let armed: Vec<_> = table.take_armed().collect();
        assert_eq!(
            armed,
            vec![
                (Timer::G, t0 + Duration::from_millis(500)),
                (Timer::H, t0 + Duration::from_secs(32))
            ]
        );
        assert_eq!(table.take_armed().count(), 0);
        table.disarm(Timer::G);
        assert_eq!(table.get(Timer::G), None);
        assert_eq!(table.get(Timer::H), Some(t0 + Duration::from_secs(32)));
    }

    #[test]
    fn config_is_sanitized_and_derives_table_4_values() {
        let c = TimerConfig {
            t1: Duration::ZERO,
            t2: Duration::ZERO,
            t4: Duration::ZERO,
        };
        let c = c.sanitized();
        assert_eq!(c.t1, Duration::from_millis(1));
        assert_eq!(c.t2, Duration::from_millis(1));
        let d = TimerConfig::default();
        assert_eq!(d.t1x64(), Duration::from_secs(32));
        assert_eq!(d.timer_d(), Duration::from_secs(32));
        let slow = TimerConfig {
            t1: Duration::from_secs(1),
            ..d
        };
        assert_eq!(slow.timer_d(), Duration::from_secs(64));
    }
}
