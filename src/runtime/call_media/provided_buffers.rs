//! The provided buffers of a media thread's receive ring: a ring of buffer descriptors the
//! kernel takes from as datagrams arrive, and the buffers themselves, mapped once per
//! thread. Buffers are handed to the kernel as the thread needs them (`grow`), since the
//! kernel cycles through every one it has been given.

use std::io;
use std::mem::size_of;
use std::sync::atomic::{AtomicU16, Ordering};

use io_uring::types::BufRingEntry;

/// Bytes per buffer: the completion's header (16), the source address (28), then the
/// datagram, up to 980 bytes: a G.711 packet of up to 120 ms. Larger ones are truncated
/// and skipped (phones and trunks send 20 ms, 172 bytes).
pub(super) const BUFFER_BYTES: usize = 1024;

/// The provided buffers: a ring of buffer descriptors the kernel takes from, and the
/// buffers themselves, both mapped once per thread.
pub(super) struct BufferRing {
    /// The descriptor ring, registered with the io_uring.
    pub entries: *mut BufRingEntry,
    memory: *mut u8,
    /// Room for how many buffers (a power of two).
    pub count: u16,
    /// Buffers handed to the kernel so far (ids `0..provided`); never more than `count`.
    pub provided: u16,
    /// Our copy of the tail: descriptors written but not yet published.
    tail: u16,
}

impl BufferRing {
    pub fn new(count: u16, first: u16) -> io::Result<BufferRing> {
        assert!(
            count.is_power_of_two(),
            "a buffer ring's size is a power of two"
        );
        let entries: *mut BufRingEntry = map(Self::entries_len(count))?.cast();
        let memory = match map(usize::from(count) * BUFFER_BYTES) {
            Ok(m) => m,
            Err(e) => {
                unmap(entries.cast(), Self::entries_len(count));
                return Err(e);
            }
        };
        let mut ring = BufferRing {
            entries,
            memory,
            count,
            provided: 0,
            tail: 0,
        };
        ring.grow(first);
        ring.publish();
        Ok(ring)
    }

    /// Hands `more` buffers not used yet to the kernel (published with the next
    /// [`Self::publish`]), as far as there is room.
    pub fn grow(&mut self, more: u16) {
        let until = self.provided.saturating_add(more).min(self.count);
        for bid in self.provided..until {
            self.give_back(bid);
        }
        self.provided = until;
    }

    fn entries_len(count: u16) -> usize {
        usize::from(count) * size_of::<BufRingEntry>()
    }

    pub fn buffer(&self, bid: u16) -> *const u8 {
        // SAFETY: the offset stays inside the buffer memory (`bid` is taken modulo the
        // count; the kernel only hands out ids we gave it anyway).
        unsafe {
            self.memory
                .add(usize::from(bid % self.count) * BUFFER_BYTES)
        }
    }

    /// Writes buffer `bid`'s descriptor at the tail (published by [`Self::publish`]).
    pub fn give_back(&mut self, bid: u16) {
        let index = usize::from(self.tail & (self.count - 1));
        // SAFETY: `index` < count; the kernel reads descriptors only up to the published
        // tail, and this one is past it.
        let entry = unsafe { &mut *self.entries.add(index) };
        entry.set_addr(self.buffer(bid) as u64);
        entry.set_len(BUFFER_BYTES as u32);
        entry.set_bid(bid);
        self.tail = self.tail.wrapping_add(1);
    }

    pub fn publish(&self) {
        // SAFETY: the tail field lives inside the mapped descriptor ring; the kernel reads
        // it, hence the atomic store with release ordering after the descriptors.
        unsafe {
            let tail = BufRingEntry::tail(self.entries) as *const AtomicU16;
            (*tail).store(self.tail, Ordering::Release);
        }
    }
}

impl Drop for BufferRing {
    fn drop(&mut self) {
        unmap(self.memory, usize::from(self.count) * BUFFER_BYTES);
        unmap(self.entries.cast(), Self::entries_len(self.count));
    }
}

fn map(len: usize) -> io::Result<*mut u8> {
    // SAFETY: an anonymous private mapping; the result is checked.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        Err(io::Error::last_os_error())
    } else {
        Ok(p.cast())
    }
}

fn unmap(p: *mut u8, len: usize) {
    // SAFETY: `p` and `len` are a mapping made by `map`.
    unsafe { libc::munmap(p.cast(), len) };
}
