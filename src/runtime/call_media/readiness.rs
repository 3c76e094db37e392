//! The call's task on a thread without a receive ring: it owns the call's state and waits
//! on its sockets' readiness itself, reading each ready socket in batches (`recvmmsg`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::mpsc;
use tokio::time::Instant as TokioInstant;

use super::leg::{readable, LegIo};
use super::{batch_recv, report_closed, CallMedia, Leg, MediaCommand, Wake, BATCH};

impl CallMedia {
    /// The task on a thread without a receive ring: it owns the call's state and waits on
    /// its sockets' readiness itself.
    pub(super) async fn run(
        mut self: Box<Self>,
        mut commands: mpsc::Receiver<MediaCommand>,
        closed: Arc<AtomicBool>,
    ) {
        let timer = tokio::time::sleep_until(self.clock.tokio());
        tokio::pin!(timer);
        loop {
            if let Some(at) = self.rearm_timer() {
                timer.as_mut().reset(TokioInstant::from_std(at));
            }
            let caller = self.caller.reactor_socket();
            let operator = self.operator.as_ref().and_then(LegIo::reactor_socket);
            // Timer before sockets: a flood of datagrams must not delay prompt frames.
            let wake = tokio::select! {
                biased;
                _ = &mut timer, if self.armed.is_some() => Wake::Timer,
                c = commands.recv() => c.map_or(Wake::Stop, Wake::Command),
                _ = readable(caller) => Wake::Readable,
                _ = readable(operator) => Wake::Readable,
            };
            if closed.load(Ordering::Acquire) || !self.handle(wake, self.clock.mono()) {
                break;
            }
        }
        let report = report_closed(self.call, self.events.clone(), self.stats());
        // The sockets are closed before the engine hears of it.
        drop(self);
        report.await;
    }

    /// Reads up to [`BATCH`] datagrams from `leg`'s socket and relays each, a batch per
    /// system call; a short batch means the socket is drained.
    pub(super) fn drain(&mut self, leg: Leg, now: Instant, outbuf: &mut [u8]) {
        for _ in 0..BATCH.div_ceil(batch_recv::SLOTS) {
            let socket = match leg {
                Leg::Caller => self.caller.reactor_socket(),
                Leg::Operator => self.operator.as_ref().and_then(LegIo::reactor_socket),
            };
            let Some(socket) = socket else { return };
            let read = match batch_recv::fill(socket) {
                Ok(n) => n,
                Err(e) => {
                    // An ICMP error reported late, or the like: the socket itself is fine.
                    tracing::debug!(call = ?self.call, ?leg, error = %e, "RTP receive error");
                    return;
                }
            };
            batch_recv::each(|src, data| self.on_datagram(leg, now, src, data, outbuf));
            if read < batch_recv::SLOTS {
                return;
            }
        }
    }
}
