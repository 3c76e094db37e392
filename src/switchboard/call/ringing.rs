//! Operators rung for this call (B2BUA, RFC 3261 §12 as a UAC): the queue says whom to
//! ring and when to give up; the call opens the operator leg's RTP socket, sends the
//! INVITE along the flow the operator registered from, and bridges on the answer.
//!
//! A ring stays with the call until its INVITE got a final answer, whatever happens to
//! the call meanwhile: a 200 that arrives after we gave up (CANCEL/200 race, caller gone)
//! is still ACKed and then ended with BYE, so an operator's phone is never left off-hook.
//! Each ring's result goes to the register once: `answered`, `no_answer` (the queue gave
//! up at the ring timeout, or the phone did), `caller_gone`, `busy`, `declined`, `error`.

use jiff::Timestamp;

use crate::config::SrtpPolicy;
use crate::media::srtp::keys::{CryptoAttr, SrtpMasterKey};
use crate::media::srtp::SrtpKeys;
use crate::media::Leg;
use crate::model::{
    CallUpdate, EndReason, HangupBy, Outcome, RegisterWrite, RingAttempt, RingResult,
};
use crate::sdp;
use crate::sip::dialog::Dialog;
use crate::sip::factory::NewInvite;
use crate::sip::message::{Method, Request, Response};
use crate::sip::transaction::TxKey;
use crate::sip::{Peer, Transport};

use super::arrival::local_session;
use super::{dialog_key, Call, Ctx, Effect, Ending, OperatorLeg, Ringing, State};
use crate::switchboard::session::MediaSession;
use crate::switchboard::{leg_media, Action, MediaOrder};

/// One INVITE to an operator, until its final answer.
pub(super) struct Ring {
    key: TxKey,
    operator: String,
    invite: Request,
    dest: Peer,
    local_port: u16,
    /// Our SRTP key, offered when the operator's flow is TLS.
    srtp: Option<SrtpMasterKey>,
    started_at: Timestamp,
    /// We gave up on it (CANCEL sent), and why: that is its result, whatever comes back.
    given_up: Option<RingResult>,
}

/// The rings of a call still waiting for their final answers.
#[derive(Default)]
pub(super) struct Rings(Vec<Ring>);

impl Rings {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn get_mut(&mut self, key: &TxKey) -> Option<&mut Ring> {
        self.0.iter_mut().find(|r| &r.key == key)
    }

    fn take(&mut self, key: &TxKey) -> Option<Ring> {
        let i = self.0.iter().position(|r| &r.key == key)?;
        Some(self.0.swap_remove(i))
    }
}

impl Call {
    /// The queue wants this operator rung for this caller. `Err` when it cannot be
    /// (the caller is not waiting, or the operator has no registration): the queue
    /// treats it as a failed ring.
    pub fn ring(&mut self, ctx: &mut Ctx<'_>, operator: String) -> Result<(), ()> {
        let waiting = self.state == State::Queued(None);
        if !waiting || ctx.ua.registrar().binding(&operator).is_none() {
            return Err(());
        }
        self.state = State::Queued(Some(Ringing::Opening { operator }));
        ctx.actions.push_back(Action::OpenOperatorMedia {
            call: self.call_ref,
        });
        Ok(())
    }

    /// The operator leg's RTP socket is bound: send the INVITE.
    pub(super) fn operator_media_opened(&mut self, ctx: &mut Ctx<'_>, port: u16) {
        let State::Queued(Some(Ringing::Opening { operator })) = self.state.clone() else {
            // The ring was called off while the socket opened.
            return self.close_operator_media(ctx);
        };
        let Some(binding) = ctx.ua.registrar().binding(&operator) else {
            return self.ring_failed(ctx, operator, RingResult::Error);
        };
        let (target, dest) = (binding.contact.to_string(), binding.peer);
        let local = local_session(ctx, port);
        // A phone on TLS gets SRTP offered (its signalling is private, so can its media
        // be); keys come from the system's CSPRNG, never from the seeded switchboard one.
        let srtp =
            (dest.transport == Transport::Tls).then(|| SrtpMasterKey::generate(&mut rand::rng()));
        let offer = match srtp {
            Some(key) => {
                let ours = CryptoAttr { tag: 1, key };
                sdp::secure_offer(&local, &ctx.settings.codecs, 101, &ours)
            }
            None => sdp::offer(&local, &ctx.settings.codecs, 101),
        };
        let new = NewInvite {
            target: &target,
            to_user: &operator,
            caller: &self.caller_number,
            transport: dest.transport,
            sdp: &offer,
            topic: self.topic.as_deref(),
        };
        let invite = match ctx.ua.factory().invite(&new, ctx.rng) {
            Ok(invite) => invite,
            Err(e) => {
                tracing::warn!(error = %e, "cannot build an INVITE to this operator's contact");
                return self.ring_failed(ctx, operator, RingResult::Error);
            }
        };
        let owner = self.owner(Leg::Operator);
        match ctx
            .ua
            .send_request(invite.clone(), dest, owner, ctx.now.mono)
        {
            Ok(key) => {
                tracing::info!(%operator, "ringing operator");
                self.state = State::Queued(Some(Ringing::Sent { key: key.clone() }));
                self.rings.0.push(Ring {
                    key,
                    operator,
                    invite,
                    dest,
                    local_port: port,
                    srtp,
                    started_at: ctx.now.wall,
                    given_up: None,
                });
            }
            Err(e) => {
                tracing::warn!(error = %e, "INVITE to operator not sent");
                self.ring_failed(ctx, operator, RingResult::Error);
            }
        }
    }

    pub(super) fn operator_media_failed(&mut self, ctx: &mut Ctx<'_>) {
        if let State::Queued(Some(Ringing::Opening { operator })) = self.state.clone() {
            self.ring_failed(ctx, operator, RingResult::Error);
        }
    }

    /// The queue gave up on the current ring (`why`: the ring timeout, the operator
    /// paused or gone, the phone moved). The queue knows; nothing is reported back.
    pub fn cancel_ring(&mut self, ctx: &mut Ctx<'_>, why: RingResult) {
        if matches!(self.state, State::Queued(Some(_))) {
            self.give_up_ring(ctx, why);
            self.state = State::Queued(None);
        }
    }

    /// Stop the current ring, if any: CANCEL, and `why` will be its result.
    pub(super) fn give_up_ring(&mut self, ctx: &mut Ctx<'_>, why: RingResult) {
        let State::Queued(Some(ringing)) = &self.state else {
            return;
        };
        if let Ringing::Sent { key } = ringing {
            let key = key.clone();
            if let Some(ring) = self.rings.get_mut(&key) {
                ring.given_up = Some(why);
            }
            if let Err(e) = ctx.ua.cancel(&key, ctx.now.mono) {
                tracing::debug!(error = %e, "CANCEL not sent (a final response came first)");
            }
        }
        self.close_operator_media(ctx);
    }

    fn close_operator_media(&self, ctx: &mut Ctx<'_>) {
        ctx.actions.push_back(Action::CloseOperatorMedia {
            call: self.call_ref,
        });
    }

    /// A ring ended without an answer, on its own: the queue must hear of it.
    fn ring_failed(&mut self, ctx: &mut Ctx<'_>, operator: String, result: RingResult) {
        if matches!(self.state, State::Queued(Some(_))) {
            self.state = State::Queued(None);
        }
        self.close_operator_media(ctx);
        ctx.effects.push(Effect::RingFailed { operator, result });
    }

    /// Is `key` the ring the caller is waiting on?
    fn is_current(&self, key: &TxKey) -> bool {
        matches!(&self.state, State::Queued(Some(Ringing::Sent { key: k })) if k == key)
    }

    /// A response to one of our requests (a BYE on either leg, or a ring's INVITE).
    pub fn response(&mut self, ctx: &mut Ctx<'_>, key: &TxKey, resp: &Response) {
        let status = resp.status_code.code();
        if key.method() == Method::Bye {
            if status >= 200 {
                self.pending_byes = self.pending_byes.saturating_sub(1);
            }
            return;
        }
        if status < 200 {
            return;
        }
        if (200..300).contains(&status) {
            return self.ring_answered(ctx, key, resp);
        }
        let Some(ring) = self.rings.take(key) else {
            return;
        };
        let current = self.is_current(key);
        let result = ring.given_up.unwrap_or(RingResult::from_status(status));
        self.record_ring(ctx, &ring, result);
        if ring.given_up.is_none() && current {
            self.ring_failed(ctx, ring.operator, result);
        }
    }

    /// A request of ours (a BYE, or a ring's INVITE) got no final answer.
    pub fn timeout(&mut self, ctx: &mut Ctx<'_>, key: &TxKey) {
        if key.method() == Method::Bye {
            tracing::warn!("BYE got no answer");
            self.pending_byes = self.pending_byes.saturating_sub(1);
            return;
        }
        let Some(ring) = self.rings.take(key) else {
            return;
        };
        let current = self.is_current(key);
        let result = ring.given_up.unwrap_or(RingResult::Error);
        self.record_ring(ctx, &ring, result);
        if ring.given_up.is_none() && current {
            self.ring_failed(ctx, ring.operator, result);
        }
    }

    /// A ring's INVITE transaction is over. A ring still here never got a final answer
    /// we could use (the transaction ended without one): it failed.
    pub(super) fn ring_transaction_ended(&mut self, ctx: &mut Ctx<'_>, key: &TxKey) {
        if self.rings.get_mut(key).is_some() {
            self.timeout(ctx, key);
        }
    }

    fn ring_answered(&mut self, ctx: &mut Ctx<'_>, key: &TxKey, resp: &Response) {
        let Some(ring) = self.rings.take(key) else {
            return; // retransmissions of a 2xx are ACKed by the SIP core
        };
        let current = self.is_current(key);
        let mut dialog = match Dialog::uac(&ring.invite, resp, ring.dest) {
            Ok(dialog) => dialog,
            Err(e) => {
                // Without a dialog there is no ACK nor BYE to send: the phone will give
                // up on its own when our ACK never comes.
                tracing::warn!(error = %e, "operator's 200 OK cannot form a dialog");
                self.record_ring(ctx, &ring, ring.given_up.unwrap_or(RingResult::Error));
                if ring.given_up.is_none() && current {
                    self.ring_failed(ctx, ring.operator, RingResult::Error);
                }
                return;
            }
        };
        let (ack, dest) = ctx.ua.factory().ack(&dialog, 1, ctx.rng);
        ctx.ua.send_ack(key, ack, dest, ctx.now.mono);
        let (answer, keys) = answer_security(ctx, ring.srtp, &resp.body);
        let agreed = answer
            .as_ref()
            .and_then(|a| sdp::negotiate(a, &ctx.settings.codecs).ok());
        let usable = current && ring.given_up.is_none();
        let (Some(answer), Some(agreed), true) = (answer, agreed, usable) else {
            // Too late (the caller left, or we gave up) or no usable answer: hang the
            // operator's phone up at once.
            let (bye, dest) = ctx
                .ua
                .factory()
                .in_dialog(&mut dialog, Method::Bye, ctx.rng);
            let owner = self.owner(Leg::Operator);
            match ctx.ua.send_request(bye, dest, owner, ctx.now.mono) {
                Ok(_) => self.pending_byes += 1,
                Err(e) => tracing::warn!(error = %e, "could not send BYE"),
            }
            let result = ring.given_up.unwrap_or(if usable {
                RingResult::Error
            } else {
                RingResult::CallerGone
            });
            self.record_ring(ctx, &ring, result);
            if usable {
                self.ring_failed(ctx, ring.operator, RingResult::Error);
            }
            return;
        };
        self.connect(ctx, ring, dialog, answer, agreed, keys);
    }

    fn connect(
        &mut self,
        ctx: &mut Ctx<'_>,
        ring: Ring,
        dialog: Dialog,
        answer: sdp::RemoteSession,
        agreed: sdp::Negotiated,
        keys: Option<SrtpKeys>,
    ) {
        self.state = State::Connected;
        self.times.connected = Some((ctx.now.wall, ctx.now.mono));
        self.span.record("operator", ring.operator.as_str());
        tracing::info!(operator = %ring.operator, codec = agreed.codec.name(), "connected");
        ctx.ua
            .bind_dialog(dialog_key(&dialog), self.owner(Leg::Operator));
        let offer = String::from_utf8_lossy(&ring.invite.body).into_owned();
        let local = local_session(ctx, ring.local_port);
        let media = crate::media::relay::LegConfig {
            srtp: keys,
            ..leg_media(&agreed)
        };
        self.operator = Some(OperatorLeg {
            dialog,
            session: MediaSession::new(local, answer, agreed, offer).with_srtp(keys),
            on_hold: false,
        });
        self.media(ctx, MediaOrder::Bridge { operator: media });
        if self.registered {
            // From the operator's answer to the end of the call (the recording's time zero).
            self.recording = true;
            ctx.actions.push_back(Action::StartRecording {
                call: self.call_ref,
                call_id: self.id.clone(),
                received_at: self.times.received_at.unwrap_or(ctx.now.wall),
            });
        }
        let wait_ms = self
            .times
            .queued
            .map(|(_, queued)| super::millis(queued, ctx.now.mono));
        self.register(
            ctx,
            CallUpdate {
                connected_at: Some(ctx.now.wall),
                operator_id: Some(ring.operator.clone()),
                wait_ms,
                ..CallUpdate::default()
            },
        );
        self.record_ring(ctx, &ring, RingResult::Answered);
        ctx.effects.push(Effect::RingAnswered {
            operator: ring.operator,
        });
    }

    /// The queue had already let this caller go when the operator answered: do not keep
    /// the operator.
    pub fn answer_not_expected(&mut self, ctx: &mut Ctx<'_>) {
        tracing::warn!("answer the queue no longer expected: releasing the operator");
        self.hang_up(
            ctx,
            Ending::new(
                Outcome::Failed,
                HangupBy::System,
                EndReason::AnswerNotExpected,
            ),
        );
    }

    fn record_ring(&self, ctx: &mut Ctx<'_>, ring: &Ring, result: RingResult) {
        ctx.counters.count_ring(result);
        if self.registered {
            ctx.actions
                .push_back(Action::Register(RegisterWrite::Ring(RingAttempt {
                    call_id: self.id.clone(),
                    operator_id: ring.operator.clone(),
                    started_at: ring.started_at,
                    ended_at: ctx.now.wall,
                    result,
                })));
        }
    }
}

/// The operator's answer, read as our offer asked: plain, or (when we offered SRTP) with
/// its key. A plain answer to our SRTP offer is taken under `sip.srtp = "optional"` and
/// refused under `"mandatory"`; an RTP/SAVP answer without a usable key is refused.
fn answer_security(
    ctx: &Ctx<'_>,
    ours: Option<SrtpMasterKey>,
    body: &[u8],
) -> (Option<sdp::RemoteSession>, Option<SrtpKeys>) {
    let Some(send) = ours else {
        return (sdp::parse(body).ok(), None);
    };
    match sdp::remote_security(body) {
        Ok(sdp::RemoteSecurity::Srtp(theirs)) => (
            sdp::parse_secure(body).ok(),
            Some(SrtpKeys {
                send,
                receive: theirs.key,
            }),
        ),
        Ok(sdp::RemoteSecurity::Plain) if ctx.settings.srtp == SrtpPolicy::Optional => {
            (sdp::parse(body).ok(), None)
        }
        _ => {
            tracing::warn!("operator's answer has no usable SRTP key: hanging up");
            (None, None)
        }
    }
}
