//! Non-INVITE server transaction: RFC 3261 §17.2.2, Figure 8.
//!
//! ```text
//!                      |Request received: pass to TU
//!                      V
//!                +-----------+  request: absorb
//!                |  Trying   |
//!                +-----------+
//!        1xx from TU |     | 200-699 from TU: send
//!        send        |     |
//!                    V     |
//!  request: resend +------------+
//!  last 1xx        | Proceeding |  1xx from TU: send
//!                  +------------+
//!    200-699 from TU |     |
//!    send            V     V
//!  request: resend +-----------+
//!  final           | Completed |
//!                  +-----------+
//!                        | Timer J (64*T1 UDP, 0 TCP)
//!                        V
//!                  +------------+
//!                  | Terminated |
//!                  +------------+
//! ```
//!
//! Also used for CANCEL, whose answer (200 or 481, §9.2) the layer gives itself.
//!
//! Invariants: responses are stored encoded so every copy is byte-identical; Timer J is
//! the only timer and only runs in Completed; once Terminated nothing is armed.

use rsipstack::sip::{Response, StatusCodeKind};

use super::timer::{Timer, TimerTable};
use super::util::response_bytes;
use super::{Ctx, TxError};
use crate::sip::Peer;

/// Figure 8 states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ServerNonInviteState {
    Trying,
    Proceeding,
    Completed,
    Terminated,
}

#[derive(Debug)]
pub(crate) struct ServerNonInvite {
    reply_to: Peer,
    state: ServerNonInviteState,
    pub(crate) timers: TimerTable,
    last_response: Option<Vec<u8>>,
}

impl ServerNonInvite {
    pub(crate) fn new(reply_to: Peer) -> Self {
        ServerNonInvite {
            reply_to,
            state: ServerNonInviteState::Trying,
            timers: TimerTable::default(),
            last_response: None,
        }
    }

    #[cfg(test)]
    pub(crate) fn state(&self) -> ServerNonInviteState {
        self.state
    }

    pub(crate) fn is_terminated(&self) -> bool {
        self.state == ServerNonInviteState::Terminated
    }

    /// The same request again: answer with what we last said, if anything.
    pub(crate) fn on_request_retransmission(&mut self, ctx: &mut Ctx<'_>) {
        ctx.stats.absorbed_retransmissions += 1;
        if let (ServerNonInviteState::Proceeding | ServerNonInviteState::Completed, Some(last)) =
            (self.state, &self.last_response)
        {
            ctx.retransmit(self.reply_to, last.clone());
        }
    }

    pub(crate) fn on_tu_response(
        &mut self,
        response: Response,
        ctx: &mut Ctx<'_>,
    ) -> Result<(), TxError> {
        let provisional = response.status_code.kind() == StatusCodeKind::Provisional;
        if matches!(
            self.state,
            ServerNonInviteState::Completed | ServerNonInviteState::Terminated
        ) {
            return Err(TxError::FinalAlreadySent);
        }
        let bytes = response_bytes(response);
        ctx.transmit(self.reply_to, bytes.clone());
        self.last_response = Some(bytes);
        if provisional {
            self.state = ServerNonInviteState::Proceeding;
            return Ok(());
        }
        self.state = ServerNonInviteState::Completed;
        if self.reply_to.transport.is_reliable() {
            self.terminate();
        } else {
            self.timers.arm(Timer::J, ctx.now + ctx.config.t1x64());
        }
        Ok(())
    }

    pub(crate) fn on_timer(&mut self, timer: Timer, _ctx: &mut Ctx<'_>) {
        if (self.state, timer) == (ServerNonInviteState::Completed, Timer::J) {
            self.terminate();
        }
    }

    fn terminate(&mut self) {
        self.state = ServerNonInviteState::Terminated;
        self.timers.disarm_all();
    }
}
