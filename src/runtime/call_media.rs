//! One call's media, one task: the caller's RTP socket and, once an operator answers, the
//! operator's; prompts and hold music to the caller; the bridge between the two legs.
//!
//! The call's state ([`CallMedia`]) holds both sockets and two [`RelayLeg`]s (the sans-IO
//! stream logic: latching, SSRC/sequence/timestamp rewrite, transcoding, counters). It
//! lives on one of the media threads (`media_threads`), and is driven in one of two ways:
//! - **On the thread's ring** (`media.io = "io_uring"`, where io_uring works): the sockets are armed on
//!   the thread's receive ring (`ring`), the state sits in the thread's table, and the
//!   thread's pump relays each datagram through it as the round's completions are reaped
//!   (`on_ring`). The task waits on its one timer (the player's next frame, the next
//!   inactivity check, the end of a leg's pin, or a retry of events the engine had no
//!   room for), a command from the engine (closing included), and a poke from the pump.
//! - **Through readiness**: the task owns the state and waits on the same timer and
//!   commands and on either socket; on a datagram it drains both sockets (so a flooded leg
//!   cannot starve the other) with `recvmmsg`, and relays each packet at once.
//!
//! Cost per packet, by construction: receive buffers are the thread's, never the call's;
//! packets are sent with a non-blocking `sendto` (a full socket buffer drops the packet
//! and counts it: waiting would only add delay to audio that is already late); the
//! recorder is fed through a bounded single-producer ring of fixed-size frames (dropped
//! and counted when full, never waited on); events for the engine are offered without
//! waiting too (kept and retried if its queue is full).
//! No lock and no allocation of ours, no timer touched per packet: inactivity is checked
//! lazily when the one timer fires, against the leg's last-heard time.
//!
//! A leg's socket is connected to its peer while the latch pins it (`LegIo::follow_pin`):
//! the kernel then keeps the route for our sends instead of looking it up per packet, and
//! drops what anyone else sends before the thread wakes for it. When the peer has been
//! silent for the latch's while, or moved, the socket takes every source again.
//!
//! Inactivity (`media.rtp_timeout`; RTP itself has no such rule for a call): a leg that has
//! not sent accepted RTP for `inactivity` is reported once with `Inactive`, counted from
//! its creation when it never sent anything (a trunk sends RTP from the answer on, so a
//! caller silent from the start is as gone as one that stopped). The caller leg always
//! counts; the operator leg counts while bridged and not on hold (an operator holding the
//! call may send nothing). A leg reported inactive is armed again by its next packet.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use tokio::sync::{mpsc, Notify};

use crate::media::dtmf::keys::KeyInput;
use crate::media::player::{PlayMode, Prompt, PromptPlayer, RtpStreamState};
use crate::media::relay::{LegStats, RelayLeg};
pub use crate::media::Leg;
use crate::runtime::clock::Clock;
use crate::switchboard::CallRef;

mod batch_recv;
mod frame_ring;
mod handle;
mod leg;
mod messages;
mod on_ring;
mod provided_buffers;
mod readiness;
mod record;
mod ring;
mod spawn;

pub use self::handle::{CallMediaHandle, CommandError};
use self::leg::{add_stats, send, LegIo};
pub use self::messages::{CallMediaEvent, CallMediaStats, MediaCommand};
pub use self::on_ring::install as install_ring;
use self::record::record;
pub use self::record::{frame_queue, FrameReceiver, FrameRefused, FrameSender, RecordFrame};
use self::ring::Target;
pub use self::ring::{counts as ring_counts, RingCounts};
use self::spawn::report_closed;
pub use self::spawn::spawn_call_media;

/// Room for the largest packet the task sends (the largest it reads, rewritten).
const RECV_BUF: usize = batch_recv::SLOT_BYTES;
/// Commands the engine may queue before `CallMediaHandle::command` reports `Full`.
const COMMAND_QUEUE: usize = 16;
/// Datagrams read from one socket per wake before the other work gets a turn.
const BATCH: usize = 32;
/// The send buffer (with room for an SRTP tag), then the scratch a secured leg's packets
/// are decrypted in: one per media thread, borrowed only between two awaits, so no call
/// carries 4 KB of it in its task.
const OUTBUF_BYTES: usize = 2 * (RECV_BUF + leg::SRTP_ROOM);

thread_local! {
    static OUTBUF: std::cell::RefCell<Box<[u8; OUTBUF_BYTES]>> =
        std::cell::RefCell::new(Box::new([0; OUTBUF_BYTES]));
}

/// How soon events are offered again when the engine's queue was full.
const EVENT_RETRY: Duration = Duration::from_millis(20);
/// How long the final `Closed` report may wait for room in the engine's queue.
const CLOSE_REPORT_WAIT: Duration = Duration::from_secs(1);

struct Playback {
    player: PromptPlayer,
    /// For `Once`: the tag to report when it finishes.
    tag: Option<u32>,
}

/// Why the task woke up.
pub(super) enum Wake {
    Stop,
    Timer,
    Command(MediaCommand),
    /// A leg's socket is readable (reactor), or the ring's pump says the timer is due
    /// sooner or the call must end.
    Readable,
}

pub(super) struct CallMedia {
    /// Set by the engine's `close`: the call's packets are no longer relayed.
    closed: Arc<AtomicBool>,
    /// `closed`, as the ring's pump last saw it (see [`handle::CLOSES`]): read with each
    /// packet, where the flag itself is read once per close.
    closing: bool,
    /// The call's place in its thread's table, when it is received on the thread's ring.
    slot: Option<usize>,
    /// When the task's timer is set for.
    armed: Option<Instant>,
    /// The engine is gone: the task ends at its next wake-up.
    stop: bool,
    /// Packets were handled in the ring's current round (see `on_ring`).
    touched: bool,
    /// Wakes the task from the ring's pump (ring only).
    poke: Option<Arc<Notify>>,
    call: CallRef,
    clock: Clock,
    caller: LegIo,
    operator: Option<LegIo>,
    playback: Option<Playback>,
    held: bool,
    inactivity: Duration,
    /// When inactivity is next worth checking; `None` when no leg can become inactive.
    inactivity_check: Option<Instant>,
    events: mpsc::Sender<(CallRef, CallMediaEvent)>,
    /// Events waiting to be sent to the engine (capacity kept: no allocation when quiet).
    pending: VecDeque<CallMediaEvent>,
    /// When to offer `pending` again after the engine's queue was full.
    event_retry: Option<Instant>,
    recorder: Option<FrameSender>,
    /// The caller's keys, while the call collects input (boxed: the tone detector's
    /// buffers are made once per collection, never per packet).
    keys: Option<Box<KeyInput>>,
    /// Counters of operator legs already dropped.
    past_operators: LegStats,
    prompt_packets: u64,
    send_dropped: u64,
    record_dropped: u64,
}

impl CallMedia {
    /// When the task's timer must be set anew: the call's next wake-up, if it moved.
    fn rearm_timer(&mut self) -> Option<Instant> {
        let wake_at = self.next_wake();
        if wake_at == self.armed {
            return None;
        }
        self.armed = wake_at;
        wake_at
    }

    /// Handles one wake-up; `false` when the task must end.
    fn handle(&mut self, wake: Wake, now: Instant) -> bool {
        match wake {
            Wake::Stop => return false,
            Wake::Timer => {
                // A completed timer must be reset before it is awaited again.
                self.armed = None;
                OUTBUF.with_borrow_mut(|outbuf| self.on_timer(now, &mut outbuf[..]));
            }
            Wake::Command(c) => self.on_command(c, now),
            Wake::Readable => {
                OUTBUF.with_borrow_mut(|outbuf| {
                    self.drain(Leg::Caller, now, &mut outbuf[..]);
                    self.drain(Leg::Operator, now, &mut outbuf[..]);
                });
            }
        }
        !self.stop && self.flush_events(now)
    }

    /// After the ring's pump handed this call packets: events go to the engine, and the
    /// task is woken if its timer must now fire sooner (a leg heard again re-arms its
    /// inactivity check; events the engine had no room for are retried) or the call ends.
    fn after_packets(&mut self, now: Instant) {
        self.touched = false;
        if !self.flush_events(now) {
            self.stop = true;
        }
        let sooner = match (self.next_wake(), self.armed) {
            (Some(wake), Some(armed)) => wake < armed,
            (Some(_), None) => true,
            (None, _) => false,
        };
        if self.stop || sooner {
            if let Some(poke) = &self.poke {
                poke.notify_one();
            }
        }
    }

    fn next_wake(&self) -> Option<Instant> {
        let player = self.playback.as_ref().and_then(|p| p.player.poll_timeout());
        let pins = [Some(&self.caller), self.operator.as_ref()].map(|l| l?.pin_ends());
        [player, self.inactivity_check, self.event_retry]
            .into_iter()
            .chain(pins)
            .flatten()
            .min()
    }

    /// Hands pending events to the engine without waiting: if its queue is full they wait
    /// here and are offered again shortly, so audio never waits on the engine. Returns
    /// `false` when the engine is gone (the call is over).
    fn flush_events(&mut self, now: Instant) -> bool {
        self.event_retry = None;
        while !self.pending.is_empty() {
            match self.events.try_reserve() {
                Ok(permit) => {
                    let event = self.pending.pop_front().expect("checked non-empty");
                    permit.send((self.call, event));
                }
                Err(mpsc::error::TrySendError::Full(())) => {
                    self.event_retry = Some(now + EVENT_RETRY);
                    return true;
                }
                Err(mpsc::error::TrySendError::Closed(())) => return false,
            }
        }
        true
    }

    fn on_timer(&mut self, now: Instant, outbuf: &mut [u8]) {
        // A peer silent for the latch's while: any source may take over, so its socket
        // takes them all again.
        self.caller.follow_pin(now);
        if let Some(operator) = &mut self.operator {
            operator.follow_pin(now);
        }
        if let Some(playback) = &mut self.playback {
            let destination = self.caller.destination();
            // A caller who holds us takes no media: the prompt runs on, unheard, and the
            // stream resumes with a talkspurt and no sequence gap.
            if !self.caller.sending {
                while playback.player.poll_skip(now) {}
            }
            while let Some(n) = playback.player.poll_transmit(now, outbuf) {
                self.prompt_packets += 1;
                send(
                    self.caller.out(),
                    &outbuf[..n],
                    destination,
                    &mut self.send_dropped,
                );
            }
            if playback.player.is_finished() {
                if let Some(tag) = playback.tag {
                    self.pending
                        .push_back(CallMediaEvent::PromptFinished { tag });
                }
                self.stop_playback(now);
            }
        }
        if self.inactivity_check.is_some_and(|t| t <= now) {
            self.check_inactivity(now);
        }
    }

    fn check_inactivity(&mut self, now: Instant) {
        let mut next: Option<Instant> = None;
        let held = self.held;
        let legs = [
            (Leg::Caller, Some(&mut self.caller)),
            (Leg::Operator, self.operator.as_mut().filter(|_| !held)),
        ];
        for (leg, io) in legs {
            let Some(io) = io else { continue };
            if io.inactive_reported || !io.expecting {
                continue;
            }
            let since = io.silent_since();
            let deadline = since + self.inactivity;
            if deadline <= now {
                io.inactive_reported = true;
                let silent_for = now.saturating_duration_since(since);
                self.pending
                    .push_back(CallMediaEvent::Inactive { leg, silent_for });
            } else {
                next = Some(next.map_or(deadline, |n| n.min(deadline)));
            }
        }
        self.inactivity_check = next;
    }

    fn arm_inactivity(&mut self, at: Instant) {
        self.inactivity_check = Some(self.inactivity_check.map_or(at, |t| t.min(at)));
    }

    fn on_command(&mut self, command: MediaCommand, now: Instant) {
        match command {
            MediaCommand::Play { prompt, mode, tag } => {
                let tag = (mode == PlayMode::Once).then_some(tag);
                self.start_playback(prompt, mode, tag, now);
            }
            MediaCommand::StopPlayback => self.stop_playback(now),
            MediaCommand::Bridge {
                operator_socket,
                operator,
            } => {
                self.stop_playback(now);
                self.drop_operator();
                let stream = RtpStreamState {
                    ssrc: rand::random(),
                    seq: rand::random(),
                    ts: rand::random(),
                };
                let relay = RelayLeg::new(*operator, stream, now);
                let target = self.slot.map(|call| Target {
                    call,
                    leg: Leg::Operator,
                });
                let opened = LegIo::new(operator_socket, relay, now, target);
                match opened {
                    Ok(io) => self.operator = Some(io),
                    // Out of file descriptors: the operator leg stays silent, and its
                    // inactivity ends the call as any dead leg would.
                    Err(e) => {
                        tracing::error!(call = ?self.call, error = %e, "operator leg not bridged")
                    }
                }
                self.held = false;
                self.caller.relay.end_source();
                self.arm_inactivity(now + self.inactivity);
            }
            MediaCommand::Hold { music } => {
                self.held = true;
                if let Some(o) = &mut self.operator {
                    o.relay.end_source();
                }
                self.start_playback(music, PlayMode::Loop, None, now);
            }
            MediaCommand::Unhold => {
                self.held = false;
                self.stop_playback(now);
                if let Some(o) = &mut self.operator {
                    // The operator may have sent nothing while holding.
                    o.since = now;
                    o.inactive_reported = false;
                    self.arm_inactivity(now + self.inactivity);
                }
            }
            MediaCommand::Unbridge => {
                self.held = false;
                self.drop_operator();
                self.caller.relay.end_source();
            }
            MediaCommand::Update {
                leg,
                config,
                send,
                receive,
            } => {
                let io = match leg {
                    Leg::Caller => Some(&mut self.caller),
                    Leg::Operator => self.operator.as_mut(),
                };
                if let Some(io) = io {
                    if io.update(*config, send, receive, now) {
                        self.arm_inactivity(now + self.inactivity);
                    }
                }
                // A prompt playing to the caller goes on in the caller's new codec.
                if let (Leg::Caller, Some(playback)) = (leg, self.playback.as_mut()) {
                    let cfg = *self.caller.relay.config();
                    playback.player.set_codec(cfg.codec, cfg.payload_type);
                }
                // So do the keys, in its new codec and event payload type.
                if leg == Leg::Caller && self.keys.is_some() {
                    self.keys = Some(self.key_input());
                }
            }
            MediaCommand::Record { frames } => self.recorder = Some(*frames),
            MediaCommand::StopRecording => self.recorder = None,
            MediaCommand::CollectKeys(on) => self.keys = on.then(|| self.key_input()),
            // The loop reads the flag `close` set before this arrives.
            MediaCommand::Close => {}
        }
    }

    /// A key decoder for the caller's stream as negotiated now.
    fn key_input(&self) -> Box<KeyInput> {
        let cfg = self.caller.relay.config();
        Box::new(KeyInput::new(cfg.codec, cfg.telephone_event))
    }

    fn start_playback(&mut self, prompt: Prompt, mode: PlayMode, tag: Option<u32>, now: Instant) {
        self.stop_playback(now);
        let cfg = *self.caller.relay.config();
        let stream = self.caller.relay.stream_for_player(now);
        let player =
            PromptPlayer::new(prompt, cfg.codec, cfg.payload_type, stream, mode, now, true);
        self.playback = Some(Playback { player, tag });
    }

    fn stop_playback(&mut self, now: Instant) {
        if let Some(playback) = self.playback.take() {
            let state = playback.player.stream_state();
            self.caller.relay.resume_after_player(state, now);
        }
    }

    fn drop_operator(&mut self) {
        if let Some(old) = self.operator.take() {
            add_stats(&mut self.past_operators, &old.relay.stats());
        }
    }

    pub(super) fn on_datagram(
        &mut self,
        leg: Leg,
        now: Instant,
        src: SocketAddr,
        data: &[u8],
        out: &mut [u8],
    ) {
        let (from, to) = match leg {
            Leg::Caller => (&mut self.caller, self.operator.as_mut()),
            Leg::Operator => match self.operator.as_mut() {
                Some(o) => (o, Some(&mut self.caller)),
                None => return,
            },
        };
        let (out, scratch) = out.split_at_mut(RECV_BUF + leg::SRTP_ROOM);
        let data = match from.srtp.as_mut() {
            Some(srtp) => match srtp.unprotect(data, scratch) {
                Some(n) => &scratch[..n],
                None => return,
            },
            None => data,
        };
        let Some(inbound) = from.relay.handle_inbound(now, src, data) else {
            return;
        };
        from.follow_pin(now);
        if !from.heard {
            from.heard = true;
            self.pending.push_back(CallMediaEvent::FirstPacket { leg });
        }
        let rearm = std::mem::take(&mut from.inactive_reported);
        if let Some(frames) = &mut self.recorder {
            if !record(frames, leg, now, &inbound, data, &mut self.record_dropped) {
                self.recorder = None;
            }
        }
        if let (Leg::Caller, Some(keys)) = (leg, self.keys.as_mut()) {
            let pending = &mut self.pending;
            keys.handle_packet(data, |key| pending.push_back(CallMediaEvent::Key { key }));
        }
        let forward = match leg {
            Leg::Caller => !self.held,
            Leg::Operator => !self.held && self.playback.is_none(),
        };
        if let (true, Some(to)) = (forward, to.filter(|to| to.sending)) {
            let relayed = to.relay.relay_from(now, &inbound, data, out);
            let relayed = match (relayed, to.srtp.as_mut()) {
                (Some(n), Some(srtp)) => srtp.protect(out, n),
                (relayed, None) => relayed,
                (None, _) => None,
            };
            if let Some(n) = relayed {
                send(
                    to.out(),
                    &out[..n],
                    to.destination(),
                    &mut self.send_dropped,
                );
            }
        }
        if rearm {
            self.arm_inactivity(now + self.inactivity);
        }
    }

    fn stats(&self) -> CallMediaStats {
        let mut operator = self.past_operators;
        if let Some(o) = &self.operator {
            add_stats(&mut operator, &o.relay.stats());
        }
        CallMediaStats {
            caller: self.caller.relay.stats(),
            operator,
            prompt_packets: self.prompt_packets,
            send_dropped: self.send_dropped,
            record_dropped: self.record_dropped,
        }
    }
}
