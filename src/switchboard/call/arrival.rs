//! The caller's side from the answer to the queue: the 200 OK once the RTP socket is
//! open, the service message or the greeting, the recording notice, joining the queue,
//! and the queue's words to the caller (announcements, the farewell of an overflow).

use rand::rngs::SmallRng;
use rand::Rng;

use crate::media::player::RtpStreamState;
use crate::media::Leg;
use crate::model::{CallUpdate, EndReason, HangupBy, Outcome};
use crate::sdp::{self, LocalSession};
use crate::sip::dialog::Dialog;
use crate::sip::factory::NO_MEDIA_RETRY_AFTER_S;

use super::super::door::{Feature, Service};
use super::super::session::MediaSession;
use super::super::PromptKind;
use super::{dialog_key, Call, Ctx, Effect, Ending, State};

/// The caller's stream from us: random SSRC, sequence and timestamp (RFC 3550 §5.1).
pub(in crate::switchboard) fn new_stream(rng: &mut SmallRng) -> RtpStreamState {
    RtpStreamState {
        ssrc: rng.random(),
        seq: rng.random(),
        ts: rng.random(),
    }
}

/// Our side of a session on `port`.
pub(in crate::switchboard) fn local_session(ctx: &Ctx<'_>, port: u16) -> LocalSession {
    LocalSession {
        username: "hotline".to_string(),
        session_id: ctx.now.wall.as_millisecond().unsigned_abs(),
        version: 1,
        addr: ctx.settings.media_ip,
        port,
    }
}

impl Call {
    /// The runtime opened (or could not open) an RTP socket for a leg of this call.
    pub fn media_ready(&mut self, ctx: &mut Ctx<'_>, leg: Leg, port: Option<u16>) {
        match (leg, port) {
            (Leg::Caller, Some(port)) => self.caller_media_opened(ctx, port),
            (Leg::Caller, None) => self.caller_media_failed(ctx),
            (Leg::Operator, Some(port)) => self.operator_media_opened(ctx, port),
            (Leg::Operator, None) => self.operator_media_failed(ctx),
        }
    }

    /// Answer with SDP and start the call's first message.
    fn caller_media_opened(&mut self, ctx: &mut Ctx<'_>, port: u16) {
        self.media_open = true;
        if self.state != State::Admitted {
            // The call ended while the socket opened: give the port back.
            return self.release_media(ctx);
        }
        let owner = self.owner(Leg::Caller);
        let c = &mut self.caller;
        let dialog = match Dialog::uas(&c.invite, &c.local_tag, c.source) {
            Ok(d) => d,
            Err(e) => {
                // A request without a usable Contact cannot be called back: refuse it.
                tracing::warn!(error = %e, "cannot form a dialog from the INVITE");
                let bad = ctx.ua.factory().reply(&c.invite, 400, Some(&c.local_tag));
                let key = c.invite_key.clone();
                ctx.ua.respond(&key, bad, ctx.now.mono);
                let ending =
                    Ending::new(Outcome::Rejected, HangupBy::System, EndReason::BadContact)
                        .with_status(400);
                return self.finish(ctx, ending);
            }
        };
        let local = local_session(ctx, port);
        let body = sdp::answer(&local, &c.offer, &c.agreed);
        let mut ok = ctx.ua.factory().session_answer(
            &c.invite,
            Some(&c.local_tag),
            c.source.transport,
            &body,
        );
        c.session_timer.push_headers(&mut ok);
        ctx.ua.bind_dialog(dialog_key(&dialog), owner);
        c.session = Some(MediaSession::new(
            local,
            c.offer.clone(),
            c.agreed.clone(),
            body,
        ));
        c.dialog = Some(dialog);
        tracing::info!(local_port = port, remote = %c.agreed.remote, "answered");
        let key = c.invite_key.clone();
        ctx.ua.respond(&key, ok, ctx.now.mono);
        self.register(
            ctx,
            CallUpdate {
                answered_at: Some(ctx.now.wall),
                final_status: Some(200),
                ..CallUpdate::default()
            },
        );
        let (state, first) = match self.service {
            Service::AfterHours => (State::Serving, PromptKind::AfterHours),
            Service::InHours => (State::Greeting, PromptKind::Greeting),
            Service::Feature(Feature::Pause) => (State::Serving, PromptKind::Paused),
            Service::Feature(Feature::Resume) => (State::Serving, PromptKind::Resumed),
        };
        self.state = state;
        self.play(ctx, vec![first], false);
    }

    /// No RTP port: the caller gets 503 rather than silence.
    fn caller_media_failed(&mut self, ctx: &mut Ctx<'_>) {
        if self.state != State::Admitted {
            return;
        }
        // The runtime logs the exhausted pool once per interval with a count; under a flood
        // a line per call would bury everything else. The row says `no_media_port`.
        tracing::debug!("no RTP port available");
        let c = &self.caller;
        let resp =
            ctx.ua
                .factory()
                .retry_after(&c.invite, 503, &c.local_tag, NO_MEDIA_RETRY_AFTER_S);
        let key = c.invite_key.clone();
        ctx.ua.respond(&key, resp, ctx.now.mono);
        let ending =
            Ending::new(Outcome::Failed, HangupBy::System, EndReason::NoMediaPort).with_status(503);
        self.finish(ctx, ending);
    }

    /// A playback that was not looped reached its end.
    pub fn prompt_finished(&mut self, ctx: &mut Ctx<'_>, tag: u32) {
        if tag != self.play_tag {
            return; // a playback since replaced
        }
        match self.state.clone() {
            State::Serving => {
                let ending = match self.service {
                    Service::Feature(_) => {
                        Ending::new(Outcome::Answered, HangupBy::System, EndReason::FeatureDone)
                    }
                    _ => Ending::new(Outcome::AfterHours, HangupBy::System, EndReason::PromptDone),
                };
                self.hang_up(ctx, ending);
            }
            State::Greeting => self.play_notice(ctx),
            State::Notice => {
                self.register(
                    ctx,
                    CallUpdate {
                        notice_completed: Some(true),
                        ..CallUpdate::default()
                    },
                );
                // With nobody logged in the queue says so at once: asking for a topic
                // first would only delay that message.
                if ctx.settings.menu.enabled && ctx.operators_present {
                    self.start_menu(ctx);
                } else {
                    self.enqueue(ctx);
                }
            }
            State::Menu => self.menu_prompt_finished(ctx),
            State::Readings => self.readings_prompt_finished(ctx),
            // Looped hold music never finishes: this was an announcement.
            State::Queued(_) => self.play_hold_music(ctx),
            State::Farewell(outcome, reason) => {
                self.hang_up(ctx, Ending::new(outcome, HangupBy::System, reason))
            }
            State::Admitted | State::Connected | State::Ended => {}
        }
    }

    /// Every conversation is recorded, so every caller is told before being connected.
    fn play_notice(&mut self, ctx: &mut Ctx<'_>) {
        self.state = State::Notice;
        self.register(
            ctx,
            CallUpdate {
                notice_played_at: Some(ctx.now.wall),
                ..CallUpdate::default()
            },
        );
        self.play(ctx, vec![PromptKind::RecordingNotice], false);
    }

    /// The notice (or the menu) is over: the caller joins the queue and hears hold music.
    pub(super) fn enqueue(&mut self, ctx: &mut Ctx<'_>) {
        self.state = State::Queued(None);
        self.times.queued = Some((ctx.now.wall, ctx.now.mono));
        tracing::info!("queued");
        self.register(
            ctx,
            CallUpdate {
                queued_at: Some(ctx.now.wall),
                ..CallUpdate::default()
            },
        );
        self.play_hold_music(ctx);
        ctx.effects.push(Effect::Queued);
    }

    /// The queue tells a waiting caller their place and the estimated wait.
    pub fn announce(&mut self, ctx: &mut Ctx<'_>, prompts: Vec<PromptKind>) {
        if matches!(self.state, State::Queued(_)) {
            self.play(ctx, prompts, false);
        }
    }

    /// The queue let the caller go (overflow, no operators): a last message, then we hang
    /// up. The queue has already forgotten the caller.
    pub fn farewell(
        &mut self,
        ctx: &mut Ctx<'_>,
        prompt: PromptKind,
        outcome: Outcome,
        reason: EndReason,
    ) {
        if !matches!(self.state, State::Queued(_)) {
            return;
        }
        self.state = State::Farewell(outcome, reason);
        self.play(ctx, vec![prompt], false);
    }

    /// The caller's ACK for our 200 arrived: the dialog is confirmed.
    pub fn acked(&self) {
        tracing::debug!("ACK received");
    }

    /// CANCEL before we answered: 487 to the INVITE, the caller gave up.
    pub fn cancelled(&mut self, ctx: &mut Ctx<'_>) {
        if self.state != State::Admitted {
            return;
        }
        let c = &self.caller;
        let resp = ctx.ua.factory().reply(&c.invite, 487, Some(&c.local_tag));
        let key = c.invite_key.clone();
        ctx.ua.respond(&key, resp, ctx.now.mono);
        let ending = Ending::new(
            self.outcome_if_caller_leaves(),
            HangupBy::Caller,
            EndReason::CallerCancel,
        )
        .with_status(487);
        self.finish(ctx, ending);
    }

    /// Our 2xx was never ACKed (RFC 3261 §13.3.1.4): end the session with BYE.
    pub fn ack_timeout(&mut self, ctx: &mut Ctx<'_>) {
        self.hang_up(
            ctx,
            Ending::new(Outcome::Failed, HangupBy::System, EndReason::NoAck),
        );
    }

    /// No RTP from a leg for `media.rtp_timeout`.
    pub fn media_inactive(&mut self, ctx: &mut Ctx<'_>, leg: Leg) {
        tracing::warn!(?leg, "no RTP: ending the call");
        let outcome = if self.state == State::Connected {
            Outcome::Answered
        } else {
            Outcome::Failed
        };
        self.hang_up(
            ctx,
            Ending::new(outcome, HangupBy::System, EndReason::RtpTimeout),
        );
    }

    /// The outcome if the caller leaves now.
    pub(super) fn outcome_if_caller_leaves(&self) -> Outcome {
        match (&self.state, self.service) {
            (State::Farewell(outcome, _), _) => *outcome,
            (State::Connected, _) => Outcome::Answered,
            (_, Service::AfterHours) => Outcome::AfterHours,
            _ => Outcome::Abandoned,
        }
    }
}
