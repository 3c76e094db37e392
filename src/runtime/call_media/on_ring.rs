//! Calls on a media thread that receives through its ring (`ring`): the calls' state lives
//! in the thread's table, the thread's pump hands each datagram straight to its call, and
//! each call's task only waits for its timer and the engine's commands.
//!
//! Why a table rather than state owned by each task: a packet then costs no task wake-up
//! at all. The pump reaps every completion of the round, relays each packet through its
//! call's [`CallMedia::on_datagram`] (the same code as with readiness), gives the buffers
//! back, and then settles each call it touched once: its events go to the engine, and its
//! task is woken only when its timer must fire sooner or the call must end.
//!
//! Order: a datagram is handled when its round is reaped, a command when the call's task
//! next runs, so a packet that arrives just after a command (a bridge, a hold) may still
//! be handled the old way; with readiness the task takes commands first. Closing is the
//! exception that matters: from the first round that starts after the engine closed a
//! call, the pump skips it. The pump learns of closes from one process-wide count read
//! once a round, and only then reads its calls' flags.
//!
//! The table is only touched from its thread, between two awaits, so a `RefCell` is all
//! the exclusion it needs; the pump and a task never hold it at the same time.

use std::cell::RefCell;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::io::unix::AsyncFd;
use tokio::io::Interest;
use tokio::sync::mpsc;
use tokio::time::Instant as TokioInstant;

use super::handle::CLOSES;
use super::ring::{self, Completion};
use super::{report_closed, CallMedia, MediaCommand, Wake, OUTBUF};
use crate::runtime::clock::Clock;

thread_local! {
    static CALLS: RefCell<Calls> = const { RefCell::new(Calls { slots: Vec::new(), free: Vec::new() }) };
}

/// The calls of one thread, by slot. Boxed: the table keeps the size of its busiest
/// moment, but a call's state (about 2 KB) is given back when the call ends.
struct Calls {
    slots: Vec<Option<Box<CallMedia>>>,
    free: Vec<usize>,
}

/// A slot in this thread's table for a call about to start.
pub(super) fn reserve() -> usize {
    CALLS.with_borrow_mut(|calls| match calls.free.pop() {
        Some(slot) => slot,
        None => {
            calls.slots.push(None);
            calls.slots.len() - 1
        }
    })
}

/// Gives a slot back, dropping whatever call it held (at thread exit, if the table is
/// still there).
pub(super) fn release(slot: usize) {
    let media = CALLS
        .try_with(|calls| {
            let mut calls = calls.try_borrow_mut().ok()?;
            let media = calls.slots.get_mut(slot)?.take();
            calls.free.push(slot);
            media
        })
        .ok()
        .flatten();
    // Outside the table's borrow: dropping a call disarms its sockets on the ring.
    drop(media);
}

/// Takes a call out of its slot and frees the slot.
fn vacate(slot: usize) -> Option<Box<CallMedia>> {
    CALLS.with_borrow_mut(|calls| {
        // A slot is filled (by `run`) before anything can vacate it.
        let media = calls.slots.get_mut(slot)?.take();
        calls.free.push(slot);
        media
    })
}

/// Runs `f` on the call in `slot`.
fn with_call<R>(slot: usize, f: impl FnOnce(&mut CallMedia) -> R) -> R {
    CALLS.with_borrow_mut(|calls| {
        let media = calls.slots[slot]
            .as_mut()
            .expect("a call's slot is filled while its task runs");
        f(media)
    })
}

/// Empties the slot if the task is dropped before it ends by itself (its runtime shut
/// down): the call's sockets are then disarmed and closed with it.
struct Vacate(Option<usize>);

impl Drop for Vacate {
    fn drop(&mut self) {
        if let Some(slot) = self.0 {
            release(slot);
        }
    }
}

/// The call's task: puts `media` in `slot`, waits for its timer, the engine's commands
/// and the pump's pokes, and reports `Closed` when it ends.
pub(super) async fn run(
    slot: usize,
    mut media: Box<CallMedia>,
    mut commands: mpsc::Receiver<MediaCommand>,
    closed: Arc<AtomicBool>,
) {
    let poke = media.poke.clone().expect("a call on the ring has a poke");
    // A close the pump counted before the call was in the table is not looked at again.
    media.closing = closed.load(Ordering::Acquire);
    CALLS.with_borrow_mut(|calls| calls.slots[slot] = Some(media));
    let mut guard = Vacate(Some(slot));
    let start = with_call(slot, |m| m.clock.tokio());
    let timer = tokio::time::sleep_until(start);
    tokio::pin!(timer);
    loop {
        let (rearm, armed) = with_call(slot, |m| (m.rearm_timer(), m.armed.is_some()));
        if let Some(at) = rearm {
            timer.as_mut().reset(TokioInstant::from_std(at));
        }
        let wake = tokio::select! {
            biased;
            _ = &mut timer, if armed => Wake::Timer,
            c = commands.recv() => c.map_or(Wake::Stop, Wake::Command),
            _ = poke.notified() => Wake::Readable,
        };
        if closed.load(Ordering::Acquire) {
            break;
        }
        let go_on = with_call(slot, |m| {
            let now = m.clock.mono();
            match wake {
                // Packets were handled by the pump; a poke only asks to look again.
                Wake::Readable => !m.stop && m.flush_events(now),
                wake => m.handle(wake, now),
            }
        });
        if !go_on {
            break;
        }
    }
    guard.0 = None;
    // `media` is dropped, its sockets disarmed and closed, before the engine hears.
    let report =
        vacate(slot).map(|media| report_closed(media.call, media.events.clone(), media.stats()));
    if let Some(report) = report {
        report.await;
    }
}

/// The ring's descriptor, to wait on its completions through the thread's reactor.
struct RingFd(RawFd);

impl AsRawFd for RingFd {
    fn as_raw_fd(&self) -> RawFd {
        self.0
    }
}

/// The thread's pump: whenever the ring has completions, hands every datagram to its call,
/// gives the buffers back, and settles the calls it touched. Runs as long as the thread.
pub(super) async fn pump(fd: RawFd) -> io::Result<()> {
    // SAFETY: the ring (and its descriptor) lives in the thread's `ring` slot until the
    // thread ends, after its runtime, and with it this pump, is gone.
    let ring = unsafe { AsyncFd::register_with_interest(RingFd(fd), Interest::READABLE) }
        .map_err(io::Error::from)?;
    let mut completions: Vec<Completion> = Vec::with_capacity(256);
    let mut touched: Vec<usize> = Vec::with_capacity(256);
    // Media threads run on the real clock (simulated time keeps media on the test's own
    // runtime, where no ring is installed unless a test installs one itself).
    let clock = Clock::system();
    let mut closes_seen = 0;
    loop {
        let mut ready = ring.readable().await?;
        loop {
            if ring::reap(&mut completions) == 0 {
                // Completions posted after this are a new readiness event, not lost.
                ready.clear_ready();
                break;
            }
            let closes = CLOSES.load(Ordering::Acquire);
            if closes != closes_seen {
                closes_seen = closes;
                mark_closing();
            }
            let now = clock.mono();
            OUTBUF.with_borrow_mut(|outbuf| {
                CALLS.with_borrow_mut(|calls| {
                    for c in &completions {
                        ring::with_packet(c, |target, src, data| {
                            let Some(Some(media)) = calls.slots.get_mut(target.call) else {
                                return;
                            };
                            // Closed by the engine, not yet ended by its task: nothing more
                            // is relayed or recorded (as with readiness, where the task looks
                            // at the flag before it reads).
                            if media.closing {
                                return;
                            }
                            media.on_datagram(target.leg, now, src, data, &mut outbuf[..]);
                            if !media.touched {
                                media.touched = true;
                                touched.push(target.call);
                            }
                        });
                    }
                })
            });
            ring::finish_round(&completions);
            CALLS.with_borrow_mut(|calls| {
                for slot in touched.drain(..) {
                    if let Some(Some(media)) = calls.slots.get_mut(slot) {
                        media.after_packets(now);
                    }
                }
            });
            // Under load a new round is always waiting: let the thread's timers, commands
            // and reactor have their turn between two rounds.
            tokio::task::yield_now().await;
        }
    }
}

/// Marks the calls of this thread that the engine has closed since the last look, so that
/// the round skips their packets.
fn mark_closing() {
    CALLS.with_borrow_mut(|calls| {
        for media in calls.slots.iter_mut().flatten() {
            if !media.closing && media.closed.load(Ordering::Acquire) {
                media.closing = true;
            }
        }
    });
}

/// Gives the current (media) thread a receive ring and returns its pump, or `None` where
/// io_uring cannot be used (logged once per thread).
pub fn install() -> Option<impl std::future::Future<Output = ()>> {
    match ring::install() {
        Ok(fd) => Some(async move {
            if let Err(e) = pump(fd).await {
                tracing::error!(error = %e, "RTP receive ring stopped");
            }
        }),
        Err(e) => {
            tracing::info!(error = %e, "RTP read through readiness: io_uring is not usable here");
            None
        }
    }
}
