//! Requests inside either leg's dialog (RFC 3261 §12.2.2), handled once for both legs:
//! BYE, offer/answer on re-INVITE and UPDATE (RFC 3264 §8, RFC 3311), session refreshes
//! (RFC 4028), and what each leg's hold or move means for the call.
//!
//! | request             | answer                                   | then                         |
//! |---------------------|------------------------------------------|------------------------------|
//! | BYE                 | 200                                      | the call ends (who hung up)  |
//! | re-INVITE, UPDATE with SDP | 200 with our answer, or 488 (old session kept) | media follows, timeline |
//! | re-INVITE without SDP | 200 offering our current description   | (answer in the ACK)          |
//! | UPDATE without SDP  | 200                                      | (a session refresh)          |
//! | INFO, OPTIONS, NOTIFY | 200                                    |                              |
//! | anything else       | 405 with Allow                           |                              |
//! | CSeq lower than seen | 500                                     |                              |
//! | Session-Expires below our Min-SE (peer supports timers) | 422 with Min-SE | (RFC 4028 §6) |
//!
//! A 2xx to a re-INVITE or UPDATE carries the session timer the peer asked for (RFC 4028
//! §9, `Session-Expires` with `refresher=uac` and `Require: timer`); we never take the
//! refresher's part (see `session::session_timer_answer`).

use crate::media::Leg;
use crate::model::{CallEventKind, EndReason, HangupBy, Outcome};
use crate::sip::message::{self, Method, Request};
use crate::sip::transaction::TxKey;

use super::{dialog_key, Call, Ctx, Ending, State};
use crate::sip::session_timer::UasAnswer;
use crate::switchboard::session::{session_timer_answer, Renegotiated};
use crate::switchboard::{leg_media, MediaOrder};

impl Call {
    /// A request from the peer inside `leg`'s dialog.
    pub fn in_dialog(&mut self, ctx: &mut Ctx<'_>, leg: Leg, key: TxKey, req: Request) {
        let dialog = match leg {
            Leg::Caller => self.caller.dialog.as_mut(),
            Leg::Operator => self.operator.as_mut().map(|op| &mut op.dialog),
        };
        let Some(dialog) = dialog else {
            let resp = ctx.ua.factory().reply(&req, 481, None);
            return ctx.ua.respond(&key, resp, ctx.now.mono);
        };
        if dialog.handle_remote_cseq(&req).is_err() {
            let resp = ctx.ua.factory().reply(&req, 500, None);
            return ctx.ua.respond(&key, resp, ctx.now.mono);
        }
        match req.method {
            Method::Bye => {
                let ok = ctx.ua.factory().reply(&req, 200, None);
                ctx.ua.respond(&key, ok, ctx.now.mono);
                self.peer_hung_up(ctx, leg);
            }
            Method::Invite | Method::Update => self.offer_answer(ctx, leg, key, req),
            Method::Info | Method::Options | Method::Notify => {
                let ok = ctx.ua.factory().reply(&req, 200, None);
                ctx.ua.respond(&key, ok, ctx.now.mono);
            }
            _ => {
                let resp = ctx.ua.factory().not_allowed(&req, None);
                ctx.ua.respond(&key, resp, ctx.now.mono);
            }
        }
    }

    fn peer_hung_up(&mut self, ctx: &mut Ctx<'_>, leg: Leg) {
        match leg {
            Leg::Caller => {
                if self.state == State::Ended {
                    return; // BYEs crossed: ours is already closing the call.
                }
                let outcome = self.outcome_if_caller_leaves();
                self.caller_left(
                    ctx,
                    Ending::new(outcome, HangupBy::Caller, EndReason::CallerBye),
                );
            }
            Leg::Operator => {
                if let Some(op) = self.operator.take() {
                    ctx.ua.unbind_dialog(&dialog_key(&op.dialog));
                }
                self.hang_up(
                    ctx,
                    Ending::new(
                        Outcome::Answered,
                        HangupBy::Operator,
                        EndReason::OperatorBye,
                    ),
                );
            }
        }
    }

    /// A new offer (or a refresh without one) on `leg`.
    fn offer_answer(&mut self, ctx: &mut Ctx<'_>, leg: Leg, key: TxKey, req: Request) {
        let codecs = ctx.settings.codecs.clone();
        let (dialog, session) = match leg {
            Leg::Caller => match (self.caller.dialog.as_mut(), self.caller.session.as_mut()) {
                (Some(d), Some(s)) => (d, s),
                _ => return,
            },
            Leg::Operator => match self.operator.as_mut() {
                Some(op) => (&mut op.dialog, &mut op.session),
                None => return,
            },
        };
        let timer = session_timer_answer(&req, &ctx.settings.session_timer);
        if let UasAnswer::TooSmall { .. } = timer {
            let mut resp = ctx.ua.factory().reply(&req, 422, None);
            timer.push_headers(&mut resp);
            return ctx.ua.respond(&key, resp, ctx.now.mono);
        }
        dialog.handle_target_refresh(&req);
        let transport = dialog.peer.transport;
        if !message::has_sdp_body(&req) {
            // A refresh: a re-INVITE without an offer gets ours (RFC 3261 §14.2), an
            // UPDATE without one a plain 200 (RFC 3311 §5.2).
            let mut resp = if req.method == Method::Invite {
                ctx.ua
                    .factory()
                    .session_answer(&req, None, transport, session.sent())
            } else {
                ctx.ua.factory().reply(&req, 200, None)
            };
            timer.push_headers(&mut resp);
            return ctx.ua.respond(&key, resp, ctx.now.mono);
        }
        let changed = match session.renegotiate(&req.body, &codecs) {
            Ok(changed) => changed,
            Err(e) => {
                tracing::info!(?leg, error = %e, "new offer refused; the session stays as it was");
                let resp = ctx.ua.factory().media_refused(&req, 488, None);
                return ctx.ua.respond(&key, resp, ctx.now.mono);
            }
        };
        let mut ok = ctx
            .ua
            .factory()
            .session_answer(&req, None, transport, &changed.answer);
        timer.push_headers(&mut ok);
        ctx.ua.respond(&key, ok, ctx.now.mono);
        match leg {
            Leg::Caller => self.caller_renegotiated(ctx, &changed),
            Leg::Operator => self.operator_renegotiated(ctx, &changed),
        }
    }

    /// The caller's media moved or its hold changed: the media path follows, the timeline
    /// says so.
    fn caller_renegotiated(&mut self, ctx: &mut Ctx<'_>, changed: &Renegotiated) {
        let Some(session) = self.caller.session.as_ref() else {
            return;
        };
        let agreed = session.agreed().clone();
        let (send, receive, holds) = (
            session.we_send(),
            session.peer_sends(),
            session.peer_holds(),
        );
        if changed.media_changed() {
            self.media(
                ctx,
                MediaOrder::Update {
                    leg: Leg::Caller,
                    media: leg_media(&agreed),
                    send,
                    receive,
                },
            );
        }
        if changed.moved {
            tracing::info!(remote = %agreed.remote, "caller's media moved");
            self.timeline(
                ctx,
                CallEventKind::CallerMediaMoved,
                Some(agreed.remote.to_string()),
            );
        }
        if changed.hold_changed {
            tracing::info!(hold = holds, "caller hold changed");
            let kind = if holds {
                CallEventKind::CallerHold
            } else {
                CallEventKind::CallerResume
            };
            self.timeline(ctx, kind, None);
        }
    }

    /// The operator's hold changed (the caller hears music while held) or their media
    /// moved.
    fn operator_renegotiated(&mut self, ctx: &mut Ctx<'_>, changed: &Renegotiated) {
        let Some(op) = self.operator.as_mut() else {
            return;
        };
        let agreed = op.session.agreed().clone();
        let srtp = op.session.srtp();
        let holds = op.session.peer_holds();
        let (send, receive) = (op.session.we_send(), op.session.peer_sends());
        let hold_changed = holds != op.on_hold;
        op.on_hold = holds;
        // A change of direction alone is a hold or a resume: `Hold`/`Unhold` say all the
        // media path needs (music to the caller, nothing to the operator).
        if changed.stream_changed {
            self.media(
                ctx,
                MediaOrder::Update {
                    leg: Leg::Operator,
                    media: crate::media::relay::LegConfig {
                        srtp,
                        ..leg_media(&agreed)
                    },
                    send,
                    receive,
                },
            );
        }
        if changed.moved {
            tracing::info!(remote = %agreed.remote, "operator's media moved");
            self.timeline(
                ctx,
                CallEventKind::OperatorMediaMoved,
                Some(agreed.remote.to_string()),
            );
        }
        if hold_changed {
            tracing::info!(hold = holds, "operator hold changed");
            let (order, kind) = if holds {
                (MediaOrder::Hold, CallEventKind::OperatorHold)
            } else {
                (MediaOrder::Unhold, CallEventKind::OperatorResume)
            };
            self.media(ctx, order);
            self.timeline(ctx, kind, None);
        }
    }
}
