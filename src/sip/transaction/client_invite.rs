//! INVITE client transaction: RFC 3261 §17.1.1 (Figure 5) as updated by RFC 6026 §7.2
//! (Accepted state, Timer M), plus the CANCEL rules of §9.1.
//!
//! ```text
//!                       |INVITE from TU: send, A (UDP), B
//!   Timer A: resend,    V
//!   double  +-------> +---------+ Timer B: Timeout to TU
//!           +-------- | Calling |-------------------------+
//!                     +---------+                         |
//!             1xx: to TU |  |  | 2xx: to TU               |
//!                        V  |  +----------------+         |
//!   1xx: to TU    +------------+                |         |
//!     +---------> | Proceeding |-------------+  |         |
//!     +---------- +------------+  2xx: to TU |  |         |
//!     300-699: send ACK, to TU |             V  V         |
//!                              V         +----------+     |
//!   300-699: resend ACK +-----------+    | Accepted | 2xx: to TU
//!     +---------------> | Completed |    +----------+     |
//!     +---------------- +-----------+         | Timer M   |
//!                              | Timer D      V           V
//!                              +-------> +------------+ <-+
//!                                        | Terminated |
//!                                        +------------+
//! ```
//!
//! CANCEL (§9.1): requested in Calling it waits for the first provisional; requested in
//! Proceeding it is handed out at once. Once a CANCEL is out, Timer B is re-armed for
//! 64*T1 so a peer that never answers the INVITE cannot keep this transaction alive.
//! A final response that arrives first silently drops a waiting CANCEL.
//!
//! Invariants: the request is stored encoded, so retransmissions are byte-identical;
//! at most one CANCEL is ever produced; only Timer B, D and M run on reliable transports.

use std::time::Duration;

use rsipstack::sip::{Request, Response, StatusCodeKind};

use super::timer::{Timer, TimerTable};
use super::util::{ack_for, cancel_for, request_bytes};
use super::{Ctx, TxError, TxEvent, TxKey};
use crate::sip::Peer;

/// Figure 5 states plus RFC 6026's Accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClientInviteState {
    Calling,
    Proceeding,
    Completed,
    Accepted,
    Terminated,
}

/// Where our CANCEL for this INVITE stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CancelState {
    NotRequested,
    /// Requested before any provisional response arrived.
    Waiting,
    Sent,
}

#[derive(Debug)]
pub(crate) struct ClientInvite {
    key: TxKey,
    dest: Peer,
    /// Kept to derive the ACK and the CANCEL from.
    invite: Request,
    encoded: Vec<u8>,
    state: ClientInviteState,
    pub(crate) timers: TimerTable,
    a_interval: Duration,
    /// The ACK for our non-2xx final, resent for each copy of that final.
    ack: Option<Vec<u8>>,
    cancel: CancelState,
}

impl ClientInvite {
    pub(crate) fn new(key: TxKey, invite: Request, dest: Peer, ctx: &mut Ctx<'_>) -> Self {
        let encoded = request_bytes(invite.clone());
        ctx.transmit(dest, encoded.clone());
        let mut timers = TimerTable::default();
        if !dest.transport.is_reliable() {
            timers.arm(Timer::A, ctx.now + ctx.config.t1);
        }
        timers.arm(Timer::B, ctx.now + ctx.config.t1x64());
        ClientInvite {
            key,
            dest,
            invite,
            encoded,
            state: ClientInviteState::Calling,
            timers,
            a_interval: ctx.config.t1,
            ack: None,
            cancel: CancelState::NotRequested,
        }
    }

    #[cfg(test)]
    pub(crate) fn state(&self) -> ClientInviteState {
        self.state
    }

    pub(crate) fn is_terminated(&self) -> bool {
        self.state == ClientInviteState::Terminated
    }

    pub(crate) fn dest(&self) -> Peer {
        self.dest
    }

    pub(crate) fn on_response(&mut self, response: Response, ctx: &mut Ctx<'_>) {
        use ClientInviteState as S;
        match (self.state, response.status_code.kind()) {
            (S::Calling | S::Proceeding, StatusCodeKind::Provisional) => {
                if self.state == S::Calling {
                    self.state = S::Proceeding;
                    self.timers.disarm(Timer::A);
                    // Figure 5: Timer B guards Calling only; a waiting CANCEL re-arms it.
                    self.timers.disarm(Timer::B);
                }
                self.to_tu(response, ctx);
            }
            (S::Calling | S::Proceeding, StatusCodeKind::Successful) => {
                self.state = S::Accepted;
                self.timers.disarm_all();
                self.timers.arm(Timer::M, ctx.now + ctx.config.t1x64());
                self.to_tu(response, ctx);
            }
            // RFC 6026 §7.2: every 2xx (retransmission or another fork) goes up so the TU
            // can ACK it.
            (S::Accepted, StatusCodeKind::Successful) => self.to_tu(response, ctx),
            (S::Calling | S::Proceeding, _) => {
                let ack = request_bytes(ack_for(&self.invite, &response));
                ctx.transmit(self.dest, ack.clone());
                self.ack = Some(ack);
                self.state = S::Completed;
                self.timers.disarm_all();
                self.to_tu(response, ctx);
                if self.dest.transport.is_reliable() {
                    self.terminate();
                } else {
                    self.timers.arm(Timer::D, ctx.now + ctx.config.timer_d());
                }
            }
            (S::Completed, kind) if kind != StatusCodeKind::Provisional => {
                ctx.stats.absorbed_retransmissions += 1;
                if kind != StatusCodeKind::Successful {
                    if let Some(ack) = &self.ack {
                        ctx.retransmit(self.dest, ack.clone());
                    }
                }
            }
            _ => ctx.stats.absorbed_retransmissions += 1,
        }
    }

    /// The TU wants this INVITE cancelled. Fails once a final response has arrived: then
    /// the TU must end the call another way (ACK + BYE after a 2xx).
    pub(crate) fn request_cancel(&mut self) -> Result<(), TxError> {
        match self.state {
            ClientInviteState::Calling | ClientInviteState::Proceeding => {
                if self.cancel == CancelState::NotRequested {
                    self.cancel = CancelState::Waiting;
                }
                Ok(())
            }
            _ => Err(TxError::FinalReceived),
        }
    }

    /// The CANCEL to send now, if one is waiting and a provisional has arrived (§9.1).
    pub(crate) fn take_cancel(&mut self, ctx: &mut Ctx<'_>) -> Option<Request> {
        if self.cancel != CancelState::Waiting || self.state != ClientInviteState::Proceeding {
            return None;
        }
        self.cancel = CancelState::Sent;
        self.timers.arm(Timer::B, ctx.now + ctx.config.t1x64());
        Some(cancel_for(&self.invite))
    }

    pub(crate) fn on_timer(&mut self, timer: Timer, ctx: &mut Ctx<'_>) {
        use ClientInviteState as S;
        match (self.state, timer) {
            (S::Calling, Timer::A) => {
                ctx.retransmit(self.dest, self.encoded.clone());
                self.a_interval *= 2;
                self.timers.arm(Timer::A, ctx.now + self.a_interval);
            }
            (S::Calling | S::Proceeding, Timer::B) => {
                ctx.stats.timeouts += 1;
                ctx.emit(TxEvent::Timeout {
                    key: self.key.clone(),
                });
                self.terminate();
            }
            (S::Completed, Timer::D) | (S::Accepted, Timer::M) => self.terminate(),
            _ => {}
        }
    }

    fn to_tu(&self, response: Response, ctx: &mut Ctx<'_>) {
        ctx.emit(TxEvent::Response {
            key: self.key.clone(),
            response,
        });
    }

    fn terminate(&mut self) {
        self.state = ClientInviteState::Terminated;
        self.timers.disarm_all();
    }
}
