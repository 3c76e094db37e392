//! Non-INVITE client transaction: RFC 3261 §17.1.2, Figure 6.
//!
//! ```text
//!                         |Request from TU: send, E (UDP), F
//!   Timer E: resend,      V
//!   double to T2 +---> +--------+ Timer F: Timeout to TU
//!                +---- | Trying |---------------------------+
//!                      +--------+                            |
//!             1xx: to TU |     | 200-699: to TU              |
//!                        V     |                             |
//!   Timer E: resend, +------------+ Timer F: Timeout to TU   |
//!   E = T2   +-----> | Proceeding |-------------------------+|
//!            +------ +------------+                         ||
//!   1xx: to TU     200-699 |   |                            ||
//!                  to TU   V   V                            ||
//!   responses:     +-----------+ Timer K (T4 UDP, 0 TCP)    VV
//!   absorb         | Completed |-----------------------> +------------+
//!                  +-----------+                         | Terminated |
//!                                                        +------------+
//! ```
//!
//! Also carries the layer's own CANCEL (§9.1); the layer keeps its events from the TU.
//!
//! Invariants: the request is stored encoded, so every retransmission is byte-identical;
//! Timer E never runs on reliable transports and never exceeds T2; only Timer K runs in
//! Completed.

use std::time::Duration;

use rsipstack::sip::{Request, Response, StatusCodeKind};

use super::timer::{Timer, TimerTable};
use super::util::request_bytes;
use super::{Ctx, TxEvent, TxKey};
use crate::sip::Peer;

/// Figure 6 states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClientNonInviteState {
    Trying,
    Proceeding,
    Completed,
    Terminated,
}

#[derive(Debug)]
pub(crate) struct ClientNonInvite {
    key: TxKey,
    dest: Peer,
    encoded: Vec<u8>,
    state: ClientNonInviteState,
    pub(crate) timers: TimerTable,
    e_interval: Duration,
}

impl ClientNonInvite {
    pub(crate) fn new(key: TxKey, request: Request, dest: Peer, ctx: &mut Ctx<'_>) -> Self {
        let encoded = request_bytes(request);
        ctx.transmit(dest, encoded.clone());
        let mut timers = TimerTable::default();
        if !dest.transport.is_reliable() {
            timers.arm(Timer::E, ctx.now + ctx.config.t1);
        }
        timers.arm(Timer::F, ctx.now + ctx.config.t1x64());
        ClientNonInvite {
            key,
            dest,
            encoded,
            state: ClientNonInviteState::Trying,
            timers,
            e_interval: ctx.config.t1,
        }
    }

    #[cfg(test)]
    pub(crate) fn state(&self) -> ClientNonInviteState {
        self.state
    }

    pub(crate) fn is_terminated(&self) -> bool {
        self.state == ClientNonInviteState::Terminated
    }

    pub(crate) fn on_response(&mut self, response: Response, ctx: &mut Ctx<'_>) {
        use ClientNonInviteState as S;
        let provisional = response.status_code.kind() == StatusCodeKind::Provisional;
        match self.state {
            S::Trying | S::Proceeding if provisional => {
                self.state = S::Proceeding;
                ctx.emit(TxEvent::Response {
                    key: self.key.clone(),
                    response,
                });
            }
            S::Trying | S::Proceeding => {
                self.state = S::Completed;
                self.timers.disarm_all();
                ctx.emit(TxEvent::Response {
                    key: self.key.clone(),
                    response,
                });
                if self.dest.transport.is_reliable() || ctx.config.t4.is_zero() {
                    self.terminate();
                } else {
                    self.timers.arm(Timer::K, ctx.now + ctx.config.t4);
                }
            }
            S::Completed | S::Terminated => ctx.stats.absorbed_retransmissions += 1,
        }
    }

    pub(crate) fn on_timer(&mut self, timer: Timer, ctx: &mut Ctx<'_>) {
        use ClientNonInviteState as S;
        match (self.state, timer) {
            (S::Trying | S::Proceeding, Timer::E) => {
                ctx.retransmit(self.dest, self.encoded.clone());
                // §17.1.2.2: doubling up to T2 while Trying; straight T2 once a
                // provisional says the server is working on it.
                self.e_interval = if self.state == S::Trying {
                    (self.e_interval * 2).min(ctx.config.t2)
                } else {
                    ctx.config.t2
                };
                self.timers.arm(Timer::E, ctx.now + self.e_interval);
            }
            (S::Trying | S::Proceeding, Timer::F) => {
                ctx.stats.timeouts += 1;
                ctx.emit(TxEvent::Timeout {
                    key: self.key.clone(),
                });
                self.terminate();
            }
            (S::Completed, Timer::K) => self.terminate(),
            _ => {}
        }
    }

    fn terminate(&mut self) {
        self.state = ClientNonInviteState::Terminated;
        self.timers.disarm_all();
    }
}
