//! Starting a call's media task and its last report: the call's state is built in a plain
//! function and boxed before the task's future holds it, and the report that ends the task
//! is boxed too, made only when the call ends. A future keeps room for every local of its
//! body across its awaits, moved out or not, and that room is paid by every live call
//! (5 KB a call before, under 1 KB now).

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, Notify};

use super::leg::LegIo;
use super::ring::{self, Target};
use super::{on_ring, CallMedia, CallMediaEvent, CallMediaHandle, CallMediaStats, Leg};
use super::{CLOSE_REPORT_WAIT, COMMAND_QUEUE};
use crate::media::player::RtpStreamState;
use crate::media::relay::{LegConfig, LegStats, RelayLeg};
use crate::runtime::clock::Clock;
use crate::switchboard::CallRef;

/// Starts the media task of `call` on `runtime`, sending to the caller as `caller_stream`
/// (the stream state the call's SDP answer and any earlier prompt left). The socket is
/// armed on the thread's receive ring, or registered with `runtime`'s own reactor, inside
/// the task, so its packets never cross threads. A socket that cannot be armed (out of
/// file descriptors) ends the task at once with `Closed`.
#[allow(clippy::too_many_arguments)]
pub fn spawn_call_media(
    runtime: &tokio::runtime::Handle,
    call: CallRef,
    caller_socket: std::net::UdpSocket,
    caller: LegConfig,
    caller_stream: RtpStreamState,
    inactivity: Duration,
    clock: Clock,
    events: mpsc::Sender<(CallRef, CallMediaEvent)>,
) -> CallMediaHandle {
    let (commands, rx) = mpsc::channel(COMMAND_QUEUE);
    let closed = Arc::new(AtomicBool::new(false));
    let task_closed = closed.clone();
    let task = runtime.spawn(async move {
        let opened = CallMedia::open(
            call,
            caller_socket,
            caller,
            caller_stream,
            inactivity,
            clock,
            events,
            task_closed.clone(),
        );
        match opened {
            Ok(media) => match media.slot {
                Some(slot) => on_ring::run(slot, media, rx, task_closed).await,
                None => media.run(rx, task_closed).await,
            },
            Err(events) => report_closed(call, events, CallMediaStats::default()).await,
        }
    });
    CallMediaHandle {
        commands,
        closed,
        task,
    }
}

/// The task's last word to the engine: its counters. Waits a little for room in the
/// engine's queue, never for ever. Boxed, and made only when the call ends: inline, this
/// wait (the report, the send and its timeout) would be room in every live call's task.
pub(super) fn report_closed(
    call: CallRef,
    events: mpsc::Sender<(CallRef, CallMediaEvent)>,
    stats: CallMediaStats,
) -> Pin<Box<impl Future<Output = ()>>> {
    Box::pin(async move {
        let report = events.send((call, CallMediaEvent::Closed { stats }));
        if tokio::time::timeout(CLOSE_REPORT_WAIT, report)
            .await
            .is_err()
        {
            tracing::warn!(?call, "engine not reading: media stats of a call lost");
        }
    })
}

impl CallMedia {
    /// The call's media state, boxed: on the ring it goes into the thread's table as it
    /// is. Built here, in a plain function, rather than in the task's async block: a
    /// future keeps room for every local of its block, moved out or not, and that room
    /// is paid by every live call. On failure (the socket cannot be armed: out of file
    /// descriptors) the engine's sender comes back for the `Closed` report.
    #[allow(clippy::too_many_arguments)]
    fn open(
        call: CallRef,
        caller_socket: std::net::UdpSocket,
        caller: LegConfig,
        caller_stream: RtpStreamState,
        inactivity: Duration,
        clock: Clock,
        events: mpsc::Sender<(CallRef, CallMediaEvent)>,
        closed: Arc<AtomicBool>,
    ) -> Result<Box<CallMedia>, mpsc::Sender<(CallRef, CallMediaEvent)>> {
        let now = clock.mono();
        let relay = RelayLeg::new(caller, caller_stream, now);
        // On a thread with a receive ring, the call's state lives in the thread's table,
        // where the ring's completions reach it directly.
        let slot = ring::installed().then(on_ring::reserve);
        let target = slot.map(|call| Target {
            call,
            leg: Leg::Caller,
        });
        let caller = match LegIo::new(caller_socket, relay, now, target) {
            Ok(io) => io,
            Err(e) => {
                tracing::error!(?call, error = %e, "call media not started");
                if let Some(slot) = slot {
                    on_ring::release(slot);
                }
                return Err(events);
            }
        };
        Ok(Box::new(CallMedia {
            closed,
            closing: false,
            slot,
            armed: None,
            stop: false,
            touched: false,
            poke: slot.map(|_| Arc::new(Notify::new())),
            call,
            clock,
            caller,
            operator: None,
            playback: None,
            held: false,
            inactivity,
            inactivity_check: Some(now + inactivity),
            events,
            pending: VecDeque::with_capacity(8),
            event_retry: None,
            recorder: None,
            keys: None,
            past_operators: LegStats::default(),
            prompt_packets: 0,
            send_dropped: 0,
            record_dropped: 0,
        }))
    }
}
