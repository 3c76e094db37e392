//! The end of a call: hanging up from our side, the caller leaving, the shutdown grace
//! running out, and the register row's last word (closed exactly once, whatever ends
//! the call first).

use crate::media::Leg;
use crate::model::{CallUpdate, EndReason, HangupBy, Outcome};
use crate::sip::factory::SHUTDOWN_RETRY_AFTER_S;
use crate::sip::message::Method;
use crate::sip::transaction::TxKey;

use super::{millis, Call, Ctx, Effect, State};
use crate::switchboard::Action;

/// How a call ended, for the register.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::switchboard) struct Ending {
    pub outcome: Outcome,
    pub hangup_by: HangupBy,
    pub reason: EndReason,
    /// The final status the INVITE got, when the call ends before its 200.
    pub final_status: Option<u16>,
}

impl Ending {
    pub fn new(outcome: Outcome, hangup_by: HangupBy, reason: EndReason) -> Ending {
        Ending {
            outcome,
            hangup_by,
            reason,
            final_status: None,
        }
    }

    pub fn with_status(self, status: u16) -> Ending {
        Ending {
            final_status: Some(status),
            ..self
        }
    }
}

impl Call {
    /// End an answered call from our side: BYE to the caller (and to the operator if
    /// connected). The call lingers until the BYEs are answered.
    pub fn hang_up(&mut self, ctx: &mut Ctx<'_>, ending: Ending) {
        if matches!(self.state, State::Ended | State::Admitted) {
            return;
        }
        tracing::info!(reason = ending.reason.as_str(), "hanging up");
        self.close(ctx, ending);
        self.bye_caller(ctx);
        self.bye_operator(ctx);
    }

    /// The caller hung up (their BYE is answered): end the rest of the call.
    pub(super) fn caller_left(&mut self, ctx: &mut Ctx<'_>, ending: Ending) {
        self.close(ctx, ending);
        self.bye_operator(ctx);
    }

    /// The call is over with nothing more to send to the caller (refused before the
    /// answer, cancelled).
    pub(super) fn finish(&mut self, ctx: &mut Ctx<'_>, ending: Ending) {
        self.close(ctx, ending);
    }

    /// The shutdown grace is over for this call.
    pub fn interrupt(&mut self, ctx: &mut Ctx<'_>) {
        let ending = Ending::new(Outcome::Interrupted, HangupBy::System, EndReason::Shutdown);
        match self.state {
            State::Admitted => {
                let c = &self.caller;
                let resp = ctx.ua.factory().retry_after(
                    &c.invite,
                    503,
                    &c.local_tag,
                    SHUTDOWN_RETRY_AFTER_S,
                );
                let key = c.invite_key.clone();
                ctx.ua.respond(&key, resp, ctx.now.mono);
                self.finish(ctx, ending.with_status(503));
            }
            State::Ended => {}
            _ => self.hang_up(ctx, ending),
        }
    }

    /// Leave the queue, close the row, release the media: everything but the BYEs.
    fn close(&mut self, ctx: &mut Ctx<'_>, ending: Ending) {
        let heard_notice_to_end = (self.state == State::Notice).then_some(false);
        match &self.state {
            State::Queued(_) => {
                self.give_up_ring(ctx, crate::model::RingResult::CallerGone);
                ctx.effects.push(Effect::LeftQueue);
            }
            State::Connected => ctx.effects.push(Effect::ConversationEnded),
            _ => {}
        }
        self.state = State::Ended;
        self.close_row(ctx, ending, heard_notice_to_end);
        self.release_media(ctx);
    }

    fn close_row(&mut self, ctx: &mut Ctx<'_>, ending: Ending, notice_completed: Option<bool>) {
        if self.row_closed {
            return;
        }
        self.row_closed = true;
        tracing::info!(
            outcome = ending.outcome.as_str(),
            hangup_by = ending.hangup_by.as_str(),
            reason = ending.reason.as_str(),
            "call ended"
        );
        if !self.registered {
            return;
        }
        ctx.counters.count_outcome(ending.outcome);
        let now = ctx.now.mono;
        let connected_mono = self.times.connected.map(|c| c.1);
        let wait_ms = self
            .times
            .queued
            .map(|(_, queued)| millis(queued, connected_mono.unwrap_or(now)));
        let talk_ms = connected_mono.map(|connected| millis(connected, now));
        self.register(
            ctx,
            CallUpdate {
                ended_at: Some(ctx.now.wall),
                outcome: Some(ending.outcome),
                hangup_by: Some(ending.hangup_by),
                end_reason: Some(ending.reason),
                final_status: ending.final_status,
                wait_ms,
                talk_ms,
                notice_completed,
                ..CallUpdate::default()
            },
        );
    }

    /// Stop the recording and give the RTP ports back (once).
    pub(super) fn release_media(&mut self, ctx: &mut Ctx<'_>) {
        if self.recording {
            self.recording = false;
            ctx.actions.push_back(Action::StopRecording {
                call: self.call_ref,
            });
        }
        if self.media_open {
            self.media_open = false;
            ctx.actions.push_back(Action::CloseMedia {
                call: self.call_ref,
            });
        }
    }

    fn bye_caller(&mut self, ctx: &mut Ctx<'_>) {
        let owner = self.owner(Leg::Caller);
        let Some(dialog) = self.caller.dialog.as_mut() else {
            return;
        };
        let (bye, dest) = ctx.ua.factory().in_dialog(dialog, Method::Bye, ctx.rng);
        self.send_bye(ctx, bye, dest, owner);
    }

    /// End the operator's leg from our side.
    pub(super) fn bye_operator(&mut self, ctx: &mut Ctx<'_>) {
        let owner = self.owner(Leg::Operator);
        let Some(mut op) = self.operator.take() else {
            return;
        };
        ctx.ua.unbind_dialog(&super::dialog_key(&op.dialog));
        let (bye, dest) = ctx
            .ua
            .factory()
            .in_dialog(&mut op.dialog, Method::Bye, ctx.rng);
        self.send_bye(ctx, bye, dest, owner);
    }

    fn send_bye(
        &mut self,
        ctx: &mut Ctx<'_>,
        bye: crate::sip::message::Request,
        dest: crate::sip::Peer,
        owner: super::Owner,
    ) {
        match ctx.ua.send_request(bye, dest, owner, ctx.now.mono) {
            Ok(_) => self.pending_byes += 1,
            Err(e) => tracing::warn!(error = %e, "could not send BYE"),
        }
    }

    /// One of our client transactions on this call is over. A BYE was already counted
    /// out by its final answer or its timeout; a ring's INVITE may have ended without one.
    pub fn transaction_ended(&mut self, ctx: &mut Ctx<'_>, leg: Leg, key: &TxKey) {
        if leg == Leg::Operator && key.method() == Method::Invite {
            self.ring_transaction_ended(ctx, key);
        }
    }
}
