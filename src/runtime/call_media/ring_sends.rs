//! A media thread's relayed packets queued on its ring ([`RecvRing::queue_send`]), and the
//! memory they wait in between being queued and being sent: one slot per packet in
//! flight, holding its bytes and where it goes.
//!
//! Why: a send queued on the ring is read by the kernel when the ring is next submitted
//! (once per round for all of the round's packets), not when it is queued, so the packet
//! cannot stay in the thread's one send buffer, which the next packet overwrites. A slot
//! is given back when its completion is reaped.
//!
//! Invariants: a slot's memory never moves while the pool lives (one boxed slice); a slot
//! taken is not handed out again before it is given back; the pool reuses the slot given
//! back last, so a thread touches only as many slots as it has packets in flight.

use std::mem::size_of;
use std::net::SocketAddr;
use std::os::fd::RawFd;

use io_uring::{opcode, types};

use super::{Destination, RecvRing, SEND_MARK};

/// The largest packet a slot holds: G.711 of up to 50 ms with an SRTP tag (phones and
/// trunks send 20 ms, 172 bytes). A larger one is sent at once, without the ring. A slot
/// with its address is then 512 bytes, eight to a page: the memory a thread's sends touch
/// is the slots it uses, not the largest datagram it could receive.
pub(super) const SEND_BYTES: usize = 484;
/// Packets in flight per thread at most. A send completes when its round is submitted, but
/// its slot comes back only when its completion is reaped, behind every receive completion
/// queued before it: a thread that is behind holds up to a receive ring's worth (2,048
/// buffers) of slots. With 256, a thread behind sent a third of its packets with `sendto`.
/// Slots are touched only when used (1 MB at most per thread); a pool that runs out
/// sends the rest at once.
pub(super) const SEND_SLOTS: u16 = 2048;

impl RecvRing {
    /// Queues a send of `packet` to its destination from `fd`, submitted when the round
    /// ends. See
    /// [`super::queue_send`].
    pub(super) fn queue_send(&self, fd: RawFd, packet: &[u8], destination: Destination) -> bool {
        if !self.in_round.get() || !self.sends_work {
            return false;
        }
        let Ok(mut sends) = self.sends.try_borrow_mut() else {
            return false;
        };
        let Some(send) = sends.take(packet, destination.to) else {
            // Sent at once by the caller: what was queued goes first.
            self.submit_queued();
            return false;
        };
        let entry = opcode::Send::new(types::Fd(fd), send.data, send.len);
        // A connected socket's send goes without an address, on the route the socket
        // keeps; one that names it (even the same) makes the kernel look the route up.
        let entry = if destination.connected {
            entry
        } else {
            entry.dest_addr(send.name).dest_addr_len(send.name_len)
        };
        let entry = entry
            // Fails at once on a full socket buffer instead of waiting in the kernel.
            .flags(libc::MSG_DONTWAIT)
            .build()
            .user_data(SEND_MARK | u64::from(send.slot));
        for _ in 0..2 {
            // SAFETY: the entry points into the send's slot, which is not reused before
            // its completion is reaped; no other submission queue of this ring is alive
            // (the thread only makes one between two awaits, and not while it relays).
            if unsafe { self.ring.submission_shared().push(&entry) }.is_ok() {
                return true;
            }
            self.submit_queued();
        }
        sends.give_back(send.slot);
        false
    }

    pub(super) fn submit_queued(&self) {
        if let Err(e) = self.ring.submit() {
            tracing::warn!(error = %e, "io_uring submit failed");
        }
    }
}

/// One packet waiting to be sent, and its destination.
#[repr(C, align(512))]
struct SendSlot {
    name: libc::sockaddr_in6,
    data: [u8; SEND_BYTES],
}

/// What the kernel is given for a queued send: pointers into a slot that stays put until
/// the slot is given back.
#[derive(Debug, Clone, Copy)]
pub(super) struct QueuedSend {
    pub slot: u16,
    pub data: *const u8,
    pub len: u32,
    pub name: *const libc::sockaddr,
    pub name_len: libc::socklen_t,
}

pub(super) struct SendPool {
    slots: Box<[SendSlot]>,
    /// Free slots; the last pushed is taken first.
    free: Vec<u16>,
}

impl SendPool {
    /// A pool of `count` slots (at most [`SEND_SLOTS`] are used).
    pub fn new(count: u16) -> SendPool {
        let count = count.clamp(1, SEND_SLOTS);
        SendPool {
            slots: zeroed_slots(count),
            free: (0..count).rev().collect(),
        }
    }

    /// Copies `packet` and `to` into a free slot. `None` when the packet is too large or
    /// every slot is in flight.
    pub fn take(&mut self, packet: &[u8], to: SocketAddr) -> Option<QueuedSend> {
        if packet.len() > SEND_BYTES {
            return None;
        }
        let index = self.free.pop()?;
        let slot = &mut self.slots[usize::from(index)];
        slot.data[..packet.len()].copy_from_slice(packet);
        let name_len = write_name(to, &mut slot.name);
        Some(QueuedSend {
            slot: index,
            data: slot.data.as_ptr(),
            len: packet.len() as u32,
            name: (&slot.name as *const libc::sockaddr_in6).cast(),
            name_len,
        })
    }

    /// Gives a slot back once its send has completed.
    pub fn give_back(&mut self, slot: u16) {
        debug_assert!(usize::from(slot) < self.slots.len() && !self.free.contains(&slot));
        if usize::from(slot) < self.slots.len() {
            self.free.push(slot);
        }
    }

    /// Slots in flight.
    #[cfg(test)]
    pub fn in_flight(&self) -> usize {
        self.slots.len() - self.free.len()
    }
}

/// `count` slots of zeroes, from the allocator's zeroed memory: slots never used are never
/// touched, so they take no memory.
fn zeroed_slots(count: u16) -> Box<[SendSlot]> {
    let count = usize::from(count);
    let layout = std::alloc::Layout::array::<SendSlot>(count).expect("a small array");
    // SAFETY: the layout is not empty; all-zero bytes are a valid `SendSlot` (plain
    // integers and bytes); the allocation is owned by the box from then on, with the
    // layout the box frees it with.
    unsafe {
        let memory = std::alloc::alloc_zeroed(layout).cast::<SendSlot>();
        if memory.is_null() {
            std::alloc::handle_alloc_error(layout);
        }
        Box::from_raw(std::ptr::slice_from_raw_parts_mut(memory, count))
    }
}

/// Writes `addr` as a socket address into `into` (room for IPv6); returns its length.
fn write_name(addr: SocketAddr, into: &mut libc::sockaddr_in6) -> libc::socklen_t {
    match addr {
        SocketAddr::V4(v4) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: v4.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(v4.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: a sockaddr_in is smaller than the sockaddr_in6 it is written over.
            unsafe { std::ptr::write((into as *mut libc::sockaddr_in6).cast(), sin) };
            size_of::<libc::sockaddr_in>() as libc::socklen_t
        }
        SocketAddr::V6(v6) => {
            *into = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: v6.port().to_be(),
                sin6_flowinfo: v6.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: v6.ip().octets(),
                },
                sin6_scope_id: v6.scope_id(),
            };
            size_of::<libc::sockaddr_in6>() as libc::socklen_t
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slot_keeps_its_packet_and_address_until_given_back_and_is_reused_first() {
        let mut pool = SendPool::new(SEND_SLOTS);
        let to: SocketAddr = "127.0.0.1:4000".parse().unwrap();
        let a = pool.take(b"first", to).unwrap();
        let b = pool.take(b"second", "[::1]:5000".parse().unwrap()).unwrap();
        assert_ne!(a.slot, b.slot);
        assert_eq!(pool.in_flight(), 2);
        // SAFETY: the slots are in flight, so their bytes are as written.
        let (bytes, name) = unsafe {
            (
                std::slice::from_raw_parts(a.data, a.len as usize),
                *a.name.cast::<libc::sockaddr_in>(),
            )
        };
        assert_eq!(bytes, b"first");
        assert_eq!(u16::from_be(name.sin_port), 4000);
        assert_eq!(name.sin_addr.s_addr, u32::from_ne_bytes([127, 0, 0, 1]));
        assert_eq!(b.name_len as usize, size_of::<libc::sockaddr_in6>());
        pool.give_back(a.slot);
        assert_eq!(pool.take(b"again", to).unwrap().slot, a.slot);
    }

    #[test]
    fn a_packet_too_large_or_a_pool_all_in_flight_is_refused() {
        let mut pool = SendPool::new(SEND_SLOTS);
        let to: SocketAddr = "127.0.0.1:4000".parse().unwrap();
        assert!(pool.take(&[0; SEND_BYTES + 1], to).is_none());
        for _ in 0..SEND_SLOTS {
            assert!(pool.take(&[0; SEND_BYTES], to).is_some());
        }
        assert!(pool.take(b"one more", to).is_none());
    }
}
