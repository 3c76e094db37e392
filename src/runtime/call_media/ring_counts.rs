//! What every media thread's ring did since start, for `/metrics`: the threads add to
//! these once per round, never per packet.

use std::sync::atomic::{AtomicU64, Ordering};

static ROUNDS: AtomicU64 = AtomicU64::new(0);
static DATAGRAMS: AtomicU64 = AtomicU64::new(0);
static ENDED_NO_BUFFERS: AtomicU64 = AtomicU64::new(0);
static ENDED_OTHER: AtomicU64 = AtomicU64::new(0);
static LARGEST_ROUND: AtomicU64 = AtomicU64::new(0);
static BUFFERS_IN_USE: AtomicU64 = AtomicU64::new(0);
static SENT: AtomicU64 = AtomicU64::new(0);
static SENDS_FAILED: AtomicU64 = AtomicU64::new(0);

/// The receive rings' counters, summed over the media threads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RingCounts {
    /// Rounds of completions reaped.
    pub rounds: u64,
    /// Datagrams received through the rings.
    pub datagrams: u64,
    /// Multishot receives that ended because every buffer was taken (armed again).
    pub ended_no_buffers: u64,
    /// Receives that ended for another reason (a socket error; armed again).
    pub ended_other: u64,
    /// The most completions one round has reaped.
    pub largest_round: u64,
    /// Receive buffers the rings have (they grow under load).
    pub buffers: u64,
    /// Relayed packets sent through the rings.
    pub sent: u64,
    /// Sends through the rings that failed (a full socket buffer, a network error): the
    /// packet is lost, as a failed `sendto` loses it.
    pub sends_failed: u64,
}

/// The rings' counters now.
pub fn counts() -> RingCounts {
    RingCounts {
        rounds: ROUNDS.load(Ordering::Relaxed),
        datagrams: DATAGRAMS.load(Ordering::Relaxed),
        ended_no_buffers: ENDED_NO_BUFFERS.load(Ordering::Relaxed),
        ended_other: ENDED_OTHER.load(Ordering::Relaxed),
        largest_round: LARGEST_ROUND.load(Ordering::Relaxed),
        buffers: BUFFERS_IN_USE.load(Ordering::Relaxed),
        sent: SENT.load(Ordering::Relaxed),
        sends_failed: SENDS_FAILED.load(Ordering::Relaxed),
    }
}

/// One round's receives: datagrams handed over, multishot receives that ended for lack
/// of a buffer or for another reason, and the round's size.
pub(super) fn add_round(datagrams: u64, ended_no_buffers: u64, ended_other: u64, size: usize) {
    ROUNDS.fetch_add(1, Ordering::Relaxed);
    DATAGRAMS.fetch_add(datagrams, Ordering::Relaxed);
    ENDED_NO_BUFFERS.fetch_add(ended_no_buffers, Ordering::Relaxed);
    ENDED_OTHER.fetch_add(ended_other, Ordering::Relaxed);
    LARGEST_ROUND.fetch_max(size as u64, Ordering::Relaxed);
}

/// Sends through a ring that completed, and those that failed.
pub(super) fn add_sends(sent: u64, failed: u64) {
    SENT.fetch_add(sent, Ordering::Relaxed);
    SENDS_FAILED.fetch_add(failed, Ordering::Relaxed);
}

/// Receive buffers a ring gained.
pub(super) fn add_buffers(count: u16) {
    BUFFERS_IN_USE.fetch_add(u64::from(count), Ordering::Relaxed);
}

/// Receive buffers a ring gave up (its thread ended).
pub(super) fn remove_buffers(count: u16) {
    BUFFERS_IN_USE.fetch_sub(u64::from(count), Ordering::Relaxed);
}
