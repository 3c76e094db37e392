//! A recording's frame queue: a fixed ring of [`RecordFrame`]s between one media task
//! (the sender) and one writer thread (the receiver), with no lock, no allocation and no
//! wake-up per frame.
//!
//! Why our own rather than a general SPSC ring: each end keeps what it needs per frame
//! (where the slots are, how many, its own position, the other's position as last read)
//! in its own struct, which lives with the call's other hot state. A general ring reads
//! its capacity and its "other end gone" flag from the shared allocation on every push:
//! with a thousand calls, each touched every 20 ms, that line was a cache miss per
//! packet, two fifths of the time spent recording a packet.
//!
//! Invariants:
//! - positions count frames modulo twice the capacity, so a full ring and an empty one
//!   differ; a slot is `position mod capacity`; the sender writes a slot only while fewer
//!   than `capacity` frames are queued (the receiver has taken what was there), the
//!   receiver reads one only while a frame is queued (the sender has published it);
//! - each end is 32 bytes at most (positions and capacity in 32 bits): the sender travels
//!   in a media command, which is kept small (see `messages`);
//! - each end publishes its position with `Release` after touching a slot and reads the
//!   other's with `Acquire` before, so a slot is never read while written;
//! - the sender learns that the receiver is gone only when the ring looks full: frames
//!   pushed meanwhile are simply never read (the recording has ended);
//! - frames are `Copy`: nothing is dropped when the ring is freed.

use std::cell::UnsafeCell;
use std::mem::MaybeUninit;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;

use super::record::RecordFrame;

/// A position on a cache line of its own: the two ends write theirs without disturbing
/// each other's.
#[repr(align(128))]
struct Padded(AtomicU32);

struct Shared {
    /// Frames the receiver has taken.
    head: Padded,
    /// Frames the sender has published.
    tail: Padded,
    sender_gone: AtomicBool,
    receiver_gone: AtomicBool,
    slots: Box<[UnsafeCell<MaybeUninit<RecordFrame>>]>,
}

/// The media task's end.
pub struct Sender {
    shared: Arc<Shared>,
    slots: NonNull<UnsafeCell<MaybeUninit<RecordFrame>>>,
    capacity: u32,
    tail: u32,
    /// The receiver's position as last read: the sender reads it again only when the ring
    /// looks full.
    head_seen: u32,
}

/// The writer thread's end.
pub struct Receiver {
    shared: Arc<Shared>,
    slots: NonNull<UnsafeCell<MaybeUninit<RecordFrame>>>,
    capacity: u32,
    head: u32,
    /// The sender's position as last read.
    tail_seen: u32,
}

// SAFETY: the slots are shared by the two ends, which touch them only as the module's
// invariants allow (a slot is written by the sender or read by the receiver, never both
// at once); everything else in it is atomic.
unsafe impl Sync for Shared {}
// SAFETY: each end is used by one thread at a time (`&mut self` for every operation);
// the slots it points at live as long as `shared`, which it holds, and are only touched
// as the module's invariants allow.
unsafe impl Send for Sender {}
// SAFETY: as for `Sender`.
unsafe impl Send for Receiver {}

/// Why a push failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushError {
    /// The ring is full.
    Full,
    /// The ring is full and the receiver is gone.
    Gone,
}

/// Positions run up to twice the capacity at most.
const MAX_CAPACITY: u32 = u32::MAX / 2;

/// Frames queued between `head` and `tail`.
fn queued(head: u32, tail: u32, capacity: u32) -> u32 {
    if tail >= head {
        tail - head
    } else {
        tail + 2 * capacity - head
    }
}

/// The position after `p`.
fn next(p: u32, capacity: u32) -> u32 {
    if p + 1 == 2 * capacity {
        0
    } else {
        p + 1
    }
}

/// Where position `p` is kept.
fn slot(p: u32, capacity: u32) -> usize {
    (if p >= capacity { p - capacity } else { p }) as usize
}

/// A ring of `capacity` frames (at least one).
pub fn ring(capacity: usize) -> (Sender, Receiver) {
    let capacity = u32::try_from(capacity)
        .unwrap_or(MAX_CAPACITY)
        .clamp(1, MAX_CAPACITY);
    let slots: Box<[UnsafeCell<MaybeUninit<RecordFrame>>]> = (0..capacity)
        .map(|_| UnsafeCell::new(MaybeUninit::uninit()))
        .collect();
    let shared = Arc::new(Shared {
        head: Padded(AtomicU32::new(0)),
        tail: Padded(AtomicU32::new(0)),
        sender_gone: AtomicBool::new(false),
        receiver_gone: AtomicBool::new(false),
        slots,
    });
    // The boxed slice never moves or changes while `shared` lives; the pointer is to the
    // whole slice, then to its first slot.
    let slots = NonNull::from(&*shared.slots).cast();
    let sender = Sender {
        shared: shared.clone(),
        slots,
        capacity,
        tail: 0,
        head_seen: 0,
    };
    let receiver = Receiver {
        shared,
        slots,
        capacity,
        head: 0,
        tail_seen: 0,
    };
    (sender, receiver)
}

impl Sender {
    /// Queues a frame, or says why not.
    pub fn push(&mut self, frame: RecordFrame) -> Result<(), PushError> {
        if queued(self.head_seen, self.tail, self.capacity) == self.capacity {
            self.head_seen = self.shared.head.0.load(Ordering::Acquire);
            if queued(self.head_seen, self.tail, self.capacity) == self.capacity {
                return Err(if self.shared.receiver_gone.load(Ordering::Acquire) {
                    PushError::Gone
                } else {
                    PushError::Full
                });
            }
        }
        // SAFETY: the index is within the slots; the receiver has taken the frame that was
        // in this slot (fewer than `capacity` queued, head read with Acquire) and reads it
        // again only after the Release below.
        unsafe {
            let slot = self.slots.add(slot(self.tail, self.capacity)).as_ref();
            (*slot.get()).write(frame);
        }
        self.tail = next(self.tail, self.capacity);
        self.shared.tail.0.store(self.tail, Ordering::Release);
        Ok(())
    }

    /// Frames that fit before the ring is full.
    pub fn free(&self) -> usize {
        let head = self.shared.head.0.load(Ordering::Acquire);
        (self.capacity - queued(head, self.tail, self.capacity)) as usize
    }
}

impl Receiver {
    /// The oldest frame, if any.
    pub fn pop(&mut self) -> Option<RecordFrame> {
        if self.head == self.tail_seen {
            self.tail_seen = self.shared.tail.0.load(Ordering::Acquire);
            if self.head == self.tail_seen {
                return None;
            }
        }
        // SAFETY: the index is within the slots; the sender wrote this slot before
        // publishing a tail past it (read with Acquire) and writes it again only after the
        // Release below.
        let frame = unsafe {
            let slot = self.slots.add(slot(self.head, self.capacity)).as_ref();
            (*slot.get()).assume_init()
        };
        self.head = next(self.head, self.capacity);
        self.shared.head.0.store(self.head, Ordering::Release);
        Some(frame)
    }

    /// Whether the sender is gone (frames it published are still there to take).
    pub fn is_abandoned(&self) -> bool {
        self.shared.sender_gone.load(Ordering::Acquire)
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        self.shared.sender_gone.store(true, Ordering::Release);
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.shared.receiver_gone.store(true, Ordering::Release);
    }
}

impl std::fmt::Debug for Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sender")
            .field("capacity", &self.capacity)
            .field("tail", &self.tail)
            .finish()
    }
}

impl std::fmt::Debug for Receiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver")
            .field("capacity", &self.capacity)
            .field("head", &self.head)
            .finish()
    }
}

#[cfg(test)]
#[path = "frame_ring_tests.rs"]
mod tests;
