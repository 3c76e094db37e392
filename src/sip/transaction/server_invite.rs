//! INVITE server transaction: RFC 3261 §17.2.1 (Figure 7) as updated by RFC 6026 §7.1
//! (Accepted state, Timer L).
//!
//! ```text
//!                     |INVITE: pass to TU, send 100 Trying
//!   INVITE            V
//!   resend last  +------------+ 1xx from TU: send
//!   provisional  | Proceeding |
//!          +---->|            |
//!          +-----+------------+
//!   300-699 from TU |      | 2xx from TU: send,
//!   send, G, H      |      | G (UDP), H, L
//!                   V      V
//!   INVITE: resend  +-----------+          +----------+ INVITE: absorb
//!   G: resend,      | Completed |          | Accepted | G: resend 2xx (until ACK)
//!   double to T2    +-----------+          +----------+ H: AckTimeout to TU
//!        ACK |            | H: no ACK        |  | ACK: AckFor2xx (first), absorb
//!            V            V                  |  |
//!   +-----------+    +------------+   L fires|  |
//!   | Confirmed |--->| Terminated |<---------+  |
//!   +-----------+ I  +------------+             |
//! ```
//!
//! One deliberate extension of RFC 6026: the 2xx is retransmitted here (UDP only, the
//! Timer G schedule) instead of by the TU (§13.3.1.4), and the 64*T1 give-up of that
//! section is reported as `AckTimeout` on Timer H. The TU therefore hands over its 2xx
//! once and only hears back when the ACK arrives or never does.
//!
//! Invariants: the last provisional and the final response are stored already encoded,
//! so a retransmission is byte-identical to the first copy; no timer is ever armed on
//! a reliable transport except H and L; a Terminated transaction has no armed timers.

use std::time::Duration;

use rsipstack::sip::{Request, Response, StatusCodeKind};

use super::timer::{Timer, TimerTable};
use super::util::{response_bytes, response_to};
use super::{Ctx, TxError, TxEvent, TxKey};
use crate::sip::Peer;

/// Figure 7 states plus RFC 6026's Accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ServerInviteState {
    Proceeding,
    Completed,
    Confirmed,
    Accepted,
    Terminated,
}

#[derive(Debug)]
pub(crate) struct ServerInvite {
    key: TxKey,
    /// Where every response goes (§18.2.2), fixed when the INVITE arrived.
    reply_to: Peer,
    state: ServerInviteState,
    pub(crate) timers: TimerTable,
    last_provisional: Vec<u8>,
    final_response: Option<Vec<u8>>,
    /// Current Timer G interval: T1, doubling, capped at T2.
    g_interval: Duration,
}

impl ServerInvite {
    /// Creates the transaction for a new INVITE and sends 100 Trying at once (§17.2.1:
    /// we always know our TU takes longer than 200 ms to answer a hotline call).
    pub(crate) fn new(key: TxKey, invite: &Request, reply_to: Peer, ctx: &mut Ctx<'_>) -> Self {
        let trying = response_bytes(response_to(invite, rsipstack::sip::StatusCode::Trying));
        ctx.transmit(reply_to, trying.clone());
        ServerInvite {
            key,
            reply_to,
            state: ServerInviteState::Proceeding,
            timers: TimerTable::default(),
            last_provisional: trying,
            final_response: None,
            g_interval: ctx.config.t1,
        }
    }

    pub(crate) fn state(&self) -> ServerInviteState {
        self.state
    }

    pub(crate) fn is_terminated(&self) -> bool {
        self.state == ServerInviteState::Terminated
    }

    /// The same INVITE again (the peer missed our response or was slow).
    pub(crate) fn on_invite_retransmission(&mut self, ctx: &mut Ctx<'_>) {
        ctx.stats.absorbed_retransmissions += 1;
        match self.state {
            ServerInviteState::Proceeding => {
                ctx.retransmit(self.reply_to, self.last_provisional.clone());
            }
            ServerInviteState::Completed => {
                if let Some(last) = &self.final_response {
                    ctx.retransmit(self.reply_to, last.clone());
                }
            }
            // RFC 6026 §7.1: in Accepted the 2xx is resent on our own schedule, not per
            // INVITE copy; Confirmed has nothing left to say.
            ServerInviteState::Accepted
            | ServerInviteState::Confirmed
            | ServerInviteState::Terminated => {}
        }
    }

    /// An ACK for this transaction: same branch (non-2xx), or matched to our 2xx by dialog
    /// identifiers in the layer.
    pub(crate) fn on_ack(&mut self, ack: Request, source: Peer, ctx: &mut Ctx<'_>) {
        match self.state {
            ServerInviteState::Completed => {
                self.timers.disarm(Timer::G);
                self.timers.disarm(Timer::H);
                let wait = if self.reply_to.transport.is_reliable() {
                    Duration::ZERO
                } else {
                    ctx.config.t4
                };
                self.state = ServerInviteState::Confirmed;
                if wait.is_zero() {
                    self.terminate();
                } else {
                    self.timers.arm(Timer::I, ctx.now + wait);
                }
            }
            ServerInviteState::Accepted if self.timers.get(Timer::H).is_some() => {
                self.timers.disarm(Timer::G);
                self.timers.disarm(Timer::H);
                ctx.emit(TxEvent::AckFor2xx {
                    invite: self.key.clone(),
                    ack,
                    source,
                });
            }
            // Copies of the ACK, or an ACK after AckTimeout: nothing new for the TU.
            ServerInviteState::Accepted
            | ServerInviteState::Confirmed
            | ServerInviteState::Proceeding
            | ServerInviteState::Terminated => ctx.stats.absorbed_retransmissions += 1,
        }
    }

    /// The TU's response. Provisionals only in Proceeding; a 2xx also in Accepted (RFC
    /// 6026 allows it; it replaces the copy we retransmit).
    pub(crate) fn on_tu_response(
        &mut self,
        response: Response,
        ctx: &mut Ctx<'_>,
    ) -> Result<(), TxError> {
        let kind = response.status_code.kind();
        let bytes = response_bytes(response);
        match (self.state, kind) {
            (ServerInviteState::Proceeding, StatusCodeKind::Provisional) => {
                self.last_provisional = bytes.clone();
                ctx.transmit(self.reply_to, bytes);
            }
            (ServerInviteState::Proceeding, StatusCodeKind::Successful) => {
                self.state = ServerInviteState::Accepted;
                self.send_final(bytes, ctx);
                self.timers.arm(Timer::H, ctx.now + ctx.config.t1x64());
                self.timers.arm(Timer::L, ctx.now + ctx.config.t1x64());
            }
            (ServerInviteState::Proceeding, _) => {
                self.state = ServerInviteState::Completed;
                self.send_final(bytes, ctx);
                self.timers.arm(Timer::H, ctx.now + ctx.config.t1x64());
            }
            (ServerInviteState::Accepted, StatusCodeKind::Successful) => {
                ctx.transmit(self.reply_to, bytes.clone());
                self.final_response = Some(bytes);
            }
            _ => return Err(TxError::FinalAlreadySent),
        }
        Ok(())
    }

    fn send_final(&mut self, bytes: Vec<u8>, ctx: &mut Ctx<'_>) {
        ctx.transmit(self.reply_to, bytes.clone());
        self.final_response = Some(bytes);
        if !self.reply_to.transport.is_reliable() {
            self.g_interval = ctx.config.t1;
            self.timers.arm(Timer::G, ctx.now + self.g_interval);
        }
    }

    pub(crate) fn on_timer(&mut self, timer: Timer, ctx: &mut Ctx<'_>) {
        match (self.state, timer) {
            (ServerInviteState::Completed | ServerInviteState::Accepted, Timer::G) => {
                if let Some(last) = &self.final_response {
                    ctx.retransmit(self.reply_to, last.clone());
                }
                self.g_interval = (self.g_interval * 2).min(ctx.config.t2);
                self.timers.arm(Timer::G, ctx.now + self.g_interval);
            }
            (ServerInviteState::Completed, Timer::H) => {
                ctx.stats.ack_timeouts += 1;
                self.terminate();
            }
            (ServerInviteState::Accepted, Timer::H) => {
                ctx.stats.ack_timeouts += 1;
                self.timers.disarm(Timer::G);
                self.timers.disarm(Timer::H);
                ctx.emit(TxEvent::AckTimeout {
                    invite: self.key.clone(),
                });
            }
            (ServerInviteState::Confirmed, Timer::I) | (ServerInviteState::Accepted, Timer::L) => {
                self.terminate()
            }
            // The layer only fires armed timers, and each state disarms what it leaves
            // behind; anything else is a stale entry and harmless to ignore.
            _ => {}
        }
    }

    fn terminate(&mut self) {
        self.state = ServerInviteState::Terminated;
        self.timers.disarm_all();
    }
}
