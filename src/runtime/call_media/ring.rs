//! A media thread's receives on one io_uring: every leg's socket has a multishot
//! `recvmsg` armed on the thread's ring, the kernel reads each datagram into a buffer of
//! the thread's provided-buffer ring as it arrives, and the thread reaps all of them, from
//! every socket, with no system call per socket or per packet.
//!
//! Why: with readiness, each datagram costs an `epoll_wait` share, a task wake-up and a
//! `recvmmsg` of its own (a leg at 50 packets/s rarely has two queued). Here the ring's
//! descriptor is the thread's one readiness source, and a wake-up hands over everything
//! that arrived since the last one.
//!
//! Invariants:
//! - A completion names its registration by index and generation; one whose generation is
//!   stale (the leg was dropped meanwhile) is ignored, but its buffer is always given back.
//! - A socket is never closed while a receive is armed on it: [`Registration`] cancels its
//!   receive synchronously before the socket is dropped, so the port the call held is free
//!   when the next call binds it.
//! - A multishot receive that ends (buffers ran out, a socket error, an overflowing
//!   completion queue) is armed again, oldest first, once buffers are free for it; its
//!   datagrams wait in its socket meanwhile, as they do with readiness.
//! - A round handles a bounded number of completions and gives their buffers back before
//!   the next: the buffers a round holds are none the kernel can receive into.
//!
//! Sends: the packets a round relays are queued on the same ring ([`queue_send`]) and
//! handed to the kernel together when the round ends, one `io_uring_enter` for all of them
//! instead of one `sendto` each. Each send is non-blocking (a full socket buffer fails it
//! at once, as with `sendto`), so none is still in flight after the submission that
//! carried it. Outside a round (a prompt's packets, sent from the call's timer), or when
//! the ring cannot take one, a packet is sent at once with `sendto`, after whatever the
//! round queued, so a leg's packets keep their order.
//!
//! Where io_uring is missing or refused (an old kernel, a seccomp profile), [`RecvRing::new`]
//! fails: its probe receives a real datagram on a loopback pair before a thread trusts the
//! ring, and the thread then reads its sockets through readiness, as before.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::io;
use std::mem::{size_of, zeroed};
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::{AsRawFd, RawFd};

use io_uring::types::{CancelBuilder, RecvMsgOut};
use io_uring::{cqueue, opcode, types, IoUring};

pub use self::counts::{counts, RingCounts};
use self::sends::SendPool;
use super::batch_recv::to_socket_addr;
use super::leg::Destination;
use super::provided_buffers::{BufferRing, BUFFER_BYTES};
use super::Leg;

/// Receive buffers per thread at most (a power of two). Each one a datagram can land in
/// while the thread is busy: when all are taken, every receive that meets a datagram ends
/// and must be armed again, which costs the thread more just when it is behind. 2,048 are
/// 40 ms of a thousand legs' packets, in 2 MB.
const BUFFERS: u16 = 2048;
/// Buffers a thread starts with, and how many more it adds each round in which a receive
/// ended for lack of one, up to [`BUFFERS`]. The ring cycles through every buffer it has,
/// so each one handed out is memory touched and cache lines displaced: a thread carrying
/// a few calls keeps to 256 KB, one that falls behind under load gets room to catch up.
const BUFFERS_FIRST: u16 = 256;
/// The buffer group the receives pick from.
const GROUP: u16 = 0;
/// Completion queue entries: more than the buffers (every datagram completion holds one),
/// so the queue itself never overflows before the buffers run out.
const COMPLETIONS: u32 = 4 * BUFFERS as u32;
/// Completions handled per round at most. A round holds every buffer it reaped until it
/// ends; a round of all the buffers would leave none for the datagrams arriving while it
/// is handled, and every receive that met one would end and need arming again, round
/// after round (a thread that fell behind once stayed behind). Small rounds give their
/// buffers back while the rest wait in the completion queue.
const ROUND: usize = 64;
/// Marks a send's completion: receives are named by slot index, which never gets this
/// high.
const SEND_MARK: u64 = 1 << 31;
/// Room in the address part of a buffer: IPv4 or IPv6.
const NAME_BYTES: u32 = size_of::<libc::sockaddr_in6>() as u32;

thread_local! {
    static RING: RefCell<Option<RecvRing>> = const { RefCell::new(None) };
}

/// Who a completion is for: a leg of a call in this thread's table of calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct Target {
    pub call: usize,
    pub leg: Leg,
}

/// One completion, copied out of the queue so the ring is free while it is handled.
#[derive(Debug, Clone, Copy)]
pub(super) struct Completion {
    user_data: u64,
    result: i32,
    flags: u32,
}

/// Gives the current thread a receive ring, if the kernel lets it receive through io_uring.
/// Returns the ring's descriptor (to wait on) when it did.
pub(super) fn install() -> io::Result<RawFd> {
    let ring = RecvRing::new()?;
    let fd = ring.ring.as_raw_fd();
    RING.with_borrow_mut(|r| *r = Some(ring));
    Ok(fd)
}

/// Whether the current thread receives through a ring.
pub(super) fn installed() -> bool {
    RING.with_borrow(|r| r.is_some())
}

/// Moves up to [`ROUND`] completions into `into` (cleared first); returns how many.
pub(super) fn reap(into: &mut Vec<Completion>) -> usize {
    into.clear();
    RING.with_borrow_mut(|r| match r {
        Some(ring) => ring.reap(into, ROUND),
        None => 0,
    })
}

/// The datagram a completion carries and who it is for, handed to `f`. A completion
/// without data, for a dropped leg, or with a truncated datagram is skipped. `f` must not
/// arm or drop a leg (the ring is borrowed meanwhile).
pub(super) fn with_packet(c: &Completion, f: impl FnOnce(Target, SocketAddr, &[u8])) {
    RING.with_borrow(|r| {
        if let Some((target, src, data)) = r.as_ref().and_then(|r| r.packet(c)) {
            f(target, src, data);
        }
    });
}

/// Gives the round's buffers back, arms ended receives again, and submits.
pub(super) fn finish_round(completions: &[Completion]) {
    RING.with_borrow_mut(|r| {
        if let Some(ring) = r {
            ring.finish_round(completions);
        }
    });
}

/// Queues `packet` for its destination on the current thread's ring, to go when the round
/// ends. `false` when the caller must send it itself: no round is being handled, the
/// thread has no ring, or the ring has no room for it (anything queued before went first).
pub(super) fn queue_send(socket: &UdpSocket, packet: &[u8], destination: Destination) -> bool {
    RING.with(|r| match r.try_borrow() {
        Ok(r) => r
            .as_ref()
            .is_some_and(|ring| ring.queue_send(socket.as_raw_fd(), packet, destination)),
        Err(_) => false,
    })
}

/// A leg's socket with its receive armed on the current thread's ring. Dropping it cancels
/// the receive, then closes the socket.
#[derive(Debug)]
pub(super) struct Registration {
    index: u32,
    generation: u32,
    socket: UdpSocket,
}

impl Registration {
    /// Arms a multishot receive for `socket` on the current thread's ring.
    pub fn new(socket: UdpSocket, target: Target) -> io::Result<Registration> {
        let (index, generation) = RING.with_borrow_mut(|r| match r {
            Some(ring) => ring.register(socket.as_raw_fd(), target),
            None => Err(io::Error::other("no receive ring on this thread")),
        })?;
        Ok(Registration {
            index,
            generation,
            socket,
        })
    }

    pub fn socket(&self) -> &UdpSocket {
        &self.socket
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        // At thread exit the ring may be gone already; its receives went with it.
        let _ = RING.try_with(|r| {
            if let Ok(mut r) = r.try_borrow_mut() {
                if let Some(ring) = r.as_mut() {
                    ring.unregister(self.index, self.generation);
                }
            }
        });
    }
}

/// The `msghdr` every receive is armed with: only its name and control lengths count.
fn template() -> libc::msghdr {
    // SAFETY: an all-zero msghdr is valid.
    let mut msghdr: libc::msghdr = unsafe { zeroed() };
    msghdr.msg_namelen = NAME_BYTES;
    msghdr
}

fn user_data(index: u32, generation: u32) -> u64 {
    (u64::from(generation) << 32) | u64::from(index)
}

struct Slot {
    fd: RawFd,
    generation: u32,
    /// `None` while the slot is free.
    target: Option<Target>,
}

struct RecvRing {
    ring: IoUring,
    buffers: BufferRing,
    /// The template the kernel reads when a receive is armed (it copies it then).
    msghdr: Box<libc::msghdr>,
    slots: Vec<Slot>,
    free: Vec<u32>,
    /// Slots (index, generation) whose receive ended, oldest first, waiting to be armed
    /// again.
    rearm: VecDeque<(u32, u32)>,
    /// Receives of this ring that ended because no buffer was free.
    ended_no_buffers: u64,
    /// The slots of the sends in flight (after `ring`: dropped after it).
    sends: RefCell<SendPool>,
    /// Sends completed, and failed, since the last round's end.
    sent: u64,
    sends_failed: u64,
    /// Whether sends may be queued: between a round's reap and its end, which submits them.
    in_round: Cell<bool>,
    /// Whether this kernel sends through the ring (the probe found out).
    sends_work: bool,
}

impl RecvRing {
    fn new() -> io::Result<RecvRing> {
        RecvRing::with_buffers(BUFFERS, BUFFERS_FIRST)
    }

    /// A ring with room for `count` receive buffers (a power of two), `first` of them
    /// handed to the kernel from the start.
    fn with_buffers(count: u16, first: u16) -> io::Result<RecvRing> {
        let ring = IoUring::builder()
            // Completions are picked up on the thread's next system call; no interrupt of
            // the thread while it works (it makes one at least every round).
            .setup_coop_taskrun()
            .setup_cqsize(COMPLETIONS)
            .build(256)?;
        let buffers = BufferRing::new(count, first)?;
        // SAFETY: the ring memory stays mapped (in `buffers`) as long as the ring lives;
        // the ring is dropped first (field order).
        unsafe {
            ring.submitter().register_buf_ring_with_flags(
                buffers.entries as u64,
                count,
                GROUP,
                0,
            )?;
        }
        let mut ring = RecvRing {
            ring,
            buffers,
            msghdr: Box::new(template()),
            slots: Vec::new(),
            free: Vec::new(),
            rearm: VecDeque::new(),
            ended_no_buffers: 0,
            sends: RefCell::new(SendPool::new(sends::SEND_SLOTS)),
            sent: 0,
            sends_failed: 0,
            in_round: Cell::new(false),
            sends_work: true,
        };
        // Given back when the ring is dropped, a failed probe included.
        counts::add_buffers(ring.buffers.provided);
        ring.probe()?;
        Ok(ring)
    }

    /// Sends one datagram through the ring on a loopback pair and receives it through the
    /// ring: proves the kernel has (and allows) multishot receives with provided buffers.
    /// Where only the send fails (a kernel without addressed sends on io_uring), the ring
    /// keeps receiving and its thread sends with `sendto`.
    fn probe(&mut self) -> io::Result<()> {
        let rx = UdpSocket::bind("127.0.0.1:0")?;
        let tx = UdpSocket::bind("127.0.0.1:0")?;
        let target = Target {
            call: usize::MAX,
            leg: Leg::Caller,
        };
        let (index, generation) = self.register(rx.as_raw_fd(), target)?;
        self.in_round.set(true);
        let to = Destination::open(rx.local_addr()?);
        let queued = self.queue_send(tx.as_raw_fd(), b"probe", to);
        self.in_round.set(false);
        self.ring.submit_and_wait(1)?;
        let mut got = Vec::new();
        self.reap(&mut got, usize::MAX);
        if !queued || self.sends_failed > 0 || self.sent == 0 {
            tracing::info!("RTP sent with sendto: this kernel does not send through io_uring");
            self.sends_work = false;
            tx.send_to(b"probe", rx.local_addr()?)?;
        }
        (self.sent, self.sends_failed) = (0, 0);
        // The send's completion may have come first; then wait for the datagram's.
        if got.is_empty() {
            self.ring.submit_and_wait(1)?;
            self.reap(&mut got, usize::MAX);
        }
        let mut received = None;
        let mut failed = None;
        for c in &got {
            match self.packet(c) {
                Some((_, _, data)) => received = Some(data.to_vec()),
                None if c.result < 0 => failed = Some(io::Error::from_raw_os_error(-c.result)),
                None => {}
            }
        }
        self.unregister(index, generation);
        self.finish_round(&got);
        match (received, failed) {
            (Some(data), _) if data == b"probe" => Ok(()),
            (_, Some(e)) => Err(e),
            _ => Err(io::Error::other("io_uring receive probe got no datagram")),
        }
    }

    fn register(&mut self, fd: RawFd, target: Target) -> io::Result<(u32, u32)> {
        let index = match self.free.pop() {
            Some(i) => i,
            None => {
                self.slots.push(Slot {
                    fd,
                    generation: 0,
                    target: None,
                });
                (self.slots.len() - 1) as u32
            }
        };
        let slot = &mut self.slots[index as usize];
        slot.fd = fd;
        slot.target = Some(target);
        let generation = slot.generation;
        self.arm(index)?;
        self.ring.submit()?;
        Ok((index, generation))
    }

    fn arm(&mut self, index: u32) -> io::Result<()> {
        let slot = &self.slots[index as usize];
        let entry = opcode::RecvMsgMulti::new(types::Fd(slot.fd), &*self.msghdr, GROUP)
            .build()
            .user_data(user_data(index, slot.generation));
        // SAFETY: the entry points to `self.msghdr`, which outlives the submission (the
        // kernel copies it when the receive is armed).
        while unsafe { self.ring.submission().push(&entry) }.is_err() {
            self.ring.submit()?;
        }
        Ok(())
    }

    /// Arms ended receives again, oldest first, as far as free buffers go. Each one armed
    /// reads what queued in its socket meanwhile at once, into buffers; one armed with none
    /// free would end again at once, and a thread that is behind would spend itself
    /// arming receives that cannot receive. The completions still queued hold buffers
    /// (at most one each), so the buffers free are at least the count less those. The
    /// round just gave `returned` back, and a receive armed now reads its backlog before
    /// any other socket can take them: so even a thread far behind arms some every round,
    /// and a socket that ended does not wait for the thread to catch up while the sockets
    /// still armed are served. Half of what is free is spent, as a socket may have more
    /// than one datagram waiting. With nothing queued every buffer is free, so a waiting
    /// receive is never left without a round to arm it.
    fn arm_waiting(&mut self, returned: usize) {
        if self.rearm.is_empty() {
            return;
        }
        let queued = self.ring.completion().len();
        let free = usize::from(self.buffers.provided)
            .saturating_sub(queued)
            .max(returned);
        let mut budget = (free / 2).max(usize::from(queued == 0));
        while budget > 0 {
            let Some((index, generation)) = self.rearm.pop_front() else {
                break;
            };
            let live = self.is_live(index, generation);
            if !live {
                continue;
            }
            if let Err(e) = self.arm(index) {
                tracing::warn!(error = %e, "RTP receive not armed again; tried next round");
                self.rearm.push_front((index, generation));
                break;
            }
            budget -= 1;
        }
    }

    /// Whether slot `index` still holds the registration of that generation.
    fn is_live(&self, index: u32, generation: u32) -> bool {
        self.slots
            .get(index as usize)
            .is_some_and(|s| s.generation == generation && s.target.is_some())
    }

    fn unregister(&mut self, index: u32, generation: u32) {
        let Some(slot) = self.slots.get_mut(index as usize) else {
            return;
        };
        if slot.generation != generation || slot.target.is_none() {
            return;
        }
        // A receive still in the submission queue is not cancellable: hand it over first.
        let _ = self.ring.submit();
        let cancel = CancelBuilder::user_data(user_data(index, generation));
        if let Err(e) = self.ring.submitter().register_sync_cancel(None, cancel) {
            // NotFound: the receive had ended already (its completion is on its way).
            if e.kind() != io::ErrorKind::NotFound {
                tracing::warn!(error = %e, "RTP receive not cancelled");
            }
        }
        slot.target = None;
        slot.generation = slot.generation.wrapping_add(1);
        self.free.push(index);
    }

    /// Moves up to `at_most` receive completions into `into`, and gives back the slots of
    /// the sends that completed meanwhile; a round begins when any receive came.
    fn reap(&mut self, into: &mut Vec<Completion>, at_most: usize) -> usize {
        let before = into.len();
        let sends = self.sends.get_mut();
        let mut queue = self.ring.completion();
        while into.len() - before < at_most {
            let Some(c) = queue.next() else {
                break;
            };
            if c.user_data() & SEND_MARK != 0 {
                sends.give_back((c.user_data() & !SEND_MARK) as u16);
                if c.result() < 0 {
                    self.sends_failed += 1;
                    let error = io::Error::from_raw_os_error(-c.result());
                    tracing::debug!(%error, "RTP send through the ring failed");
                } else {
                    self.sent += 1;
                }
                continue;
            }
            into.push(Completion {
                user_data: c.user_data(),
                result: c.result(),
                flags: c.flags(),
            });
        }
        drop(queue);
        let reaped = into.len() - before;
        if reaped > 0 {
            self.in_round.set(true);
        }
        reaped
    }

    /// Who a completion is for, and the datagram with its source, when it carries one
    /// for a live leg.
    fn packet(&self, c: &Completion) -> Option<(Target, SocketAddr, &[u8])> {
        let bid = cqueue::buffer_select(c.flags)?;
        let index = c.user_data as u32;
        let generation = (c.user_data >> 32) as u32;
        let slot = self.slots.get(index as usize)?;
        if slot.generation != generation || c.result <= 0 {
            return None;
        }
        let target = slot.target?;
        let len = (c.result as usize).min(BUFFER_BYTES);
        // SAFETY: the buffer is inside the mapped buffer memory, which lives as long as
        // `self`; the kernel does not write into it again until `finish_round` (which
        // takes `&mut self`) gives it back.
        let buffer = unsafe { std::slice::from_raw_parts(self.buffers.buffer(bid), len) };
        let out = RecvMsgOut::parse(buffer, &self.msghdr).ok()?;
        if out.is_payload_truncated() || out.is_name_data_truncated() {
            return None;
        }
        // SAFETY: an all-zero sockaddr_storage is valid; the name's bytes are copied in.
        let mut storage: libc::sockaddr_storage = unsafe { zeroed() };
        let name = out.name_data();
        let n = name.len().min(size_of::<libc::sockaddr_storage>());
        // SAFETY: `n` bytes fit in both the name and the storage.
        unsafe {
            std::ptr::copy_nonoverlapping(name.as_ptr(), &mut storage as *mut _ as *mut u8, n)
        };
        let src = to_socket_addr(&storage)?;
        // The payload borrows from `out`; the same bytes, borrowed from the buffer.
        let payload = out.payload_data();
        let start = payload.as_ptr() as usize - buffer.as_ptr() as usize;
        let payload = buffer.get(start..start + payload.len())?;
        Some((target, src, payload))
    }

    fn finish_round(&mut self, completions: &[Completion]) {
        self.in_round.set(false);
        let (mut datagrams, mut no_buffers, mut other) = (0, 0, 0);
        for c in completions {
            if let Some(bid) = cqueue::buffer_select(c.flags) {
                self.buffers.give_back(bid);
                datagrams += 1;
            }
            if !cqueue::more(c.flags) {
                let index = c.user_data as u32;
                let generation = (c.user_data >> 32) as u32;
                if self.is_live(index, generation) {
                    if c.result == -libc::ENOBUFS {
                        no_buffers += 1;
                    } else {
                        other += 1;
                        let error = io::Error::from_raw_os_error(-c.result);
                        tracing::debug!(%error, "RTP receive ended; armed again");
                    }
                    self.rearm.push_back((index, generation));
                }
            }
        }
        if !completions.is_empty() {
            counts::add_round(datagrams, no_buffers, other, completions.len());
        }
        if self.sent + self.sends_failed > 0 {
            counts::add_sends(
                std::mem::take(&mut self.sent),
                std::mem::take(&mut self.sends_failed),
            );
        }
        self.ended_no_buffers += no_buffers;
        if no_buffers > 0 {
            let before = self.buffers.provided;
            self.buffers.grow(BUFFERS_FIRST);
            counts::add_buffers(self.buffers.provided - before);
        }
        self.buffers.publish();
        self.arm_waiting(datagrams as usize);
        let sq = self.ring.submission();
        let needed = !sq.is_empty() || sq.cq_overflow() || sq.taskrun();
        drop(sq);
        if needed {
            if let Err(e) = self.ring.submit() {
                tracing::warn!(error = %e, "io_uring submit failed");
            }
        }
    }
}

impl Drop for RecvRing {
    fn drop(&mut self) {
        counts::remove_buffers(self.buffers.provided);
    }
}

#[path = "ring_counts.rs"]
mod counts;
#[path = "ring_sends.rs"]
mod sends;

#[cfg(test)]
#[path = "ring_tests.rs"]
mod tests;
