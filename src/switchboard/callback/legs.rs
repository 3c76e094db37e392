//! The two legs of a call-back as the SIP core and the media path report on them: the
//! sockets opening, the answers to our INVITEs, and requests inside either dialog.

use crate::media::Leg;
use crate::model::{CallUpdate, EndReason, HangupBy, RegisterWrite};
use crate::sdp;
use crate::sip::dialog::Dialog;
use crate::sip::factory::NewInvite;
use crate::sip::message::{Method, Request, Response};
use crate::sip::transaction::TxKey;
use crate::sip::uac::{InviteAuth, OutboundInvite, OutboundOutcome};

use super::super::call::{local_session, new_stream, Ctx};
use super::super::{leg_media, Action, MediaOrder};
use super::citizen::CitizenLeg;
use super::{outcome_word, CallBack, Stage, CITIZEN_RING_TIMEOUT};

impl CallBack {
    /// The runtime opened (or could not open) a leg's RTP socket.
    pub fn media_ready(&mut self, ctx: &mut Ctx<'_>, leg: Leg, port: Option<u16>) {
        let Some(port) = port else {
            tracing::warn!(?leg, "no RTP port for the call-back");
            let outcome = if leg == Leg::Operator {
                "operator_unavailable"
            } else {
                "failed"
            };
            return self.finish(ctx, outcome, HangupBy::System, EndReason::NoMediaPort);
        };
        match (leg, &self.stage) {
            (Leg::Operator, Stage::OpeningOperator) => self.ring_operator(ctx, port),
            (Leg::Caller, Stage::OpeningCitizen) => self.call_citizen(ctx, port),
            // Over while the socket opened: `finish` already released the call's media.
            _ => {}
        }
    }

    fn ring_operator(&mut self, ctx: &mut Ctx<'_>, port: u16) {
        let Some(binding) = ctx.ua.registrar().binding(&self.operator) else {
            return self.finish(
                ctx,
                "operator_unavailable",
                HangupBy::System,
                EndReason::BadContact,
            );
        };
        let (target, dest) = (binding.contact.to_string(), binding.peer);
        let offer = sdp::offer(&local_session(ctx, port), &ctx.settings.codecs, 101);
        let new = NewInvite {
            target: &target,
            to_user: &self.operator,
            caller: &self.number,
            transport: dest.transport,
            sdp: &offer,
            // Shown on the softphone next to the number: this is the call-back it asked for.
            topic: Some("callback"),
        };
        let invite = match ctx.ua.factory().invite(&new, ctx.rng) {
            Ok(invite) => invite,
            Err(e) => {
                tracing::warn!(error = %e, "cannot build an INVITE to this operator's contact");
                return self.finish(
                    ctx,
                    "operator_unavailable",
                    HangupBy::System,
                    EndReason::BadContact,
                );
            }
        };
        let owner = self.owner(Leg::Operator);
        match ctx
            .ua
            .send_request(invite.clone(), dest, owner, ctx.now.mono)
        {
            Ok(key) => {
                tracing::info!(operator = %self.operator, "ringing the operator for a call-back");
                self.awaiting.push(key.clone());
                self.enter(Stage::RingingOperator { key }, ctx.now);
                self.deadline = Some(ctx.now.mono + ctx.settings.queue.ring_timeout);
                self.op.invite = Some(invite);
            }
            Err(e) => {
                tracing::warn!(error = %e, "INVITE to operator not sent");
                self.finish(
                    ctx,
                    "operator_unavailable",
                    HangupBy::System,
                    EndReason::BadContact,
                );
            }
        }
    }

    fn call_citizen(&mut self, ctx: &mut Ctx<'_>, port: u16) {
        let (Some(provider), Some(dest)) = (&ctx.settings.trunk.provider, ctx.provider_hop) else {
            tracing::warn!("no provider to call the citizen through");
            return self.finish(ctx, "failed", HangupBy::System, EndReason::BadContact);
        };
        let host = provider.registrar.host.clone();
        let sip = ctx.ua.factory().addr_for(dest.transport);
        let template = OutboundInvite {
            number: self.number.clone(),
            provider_host: host,
            hotline_number: provider.username.clone(),
            // Over a stream the provider's requests in the dialog must come back on it.
            contact: match dest.transport {
                crate::sip::Transport::Udp => format!("sip:{}@{sip}", provider.username),
                t => format!(
                    "sip:{}@{sip};transport={}",
                    provider.username,
                    t.as_str().to_ascii_lowercase()
                ),
            },
            via_sent_by: sip.to_string(),
            transport: dest.transport,
            call_id: self.sip_call_id.clone(),
            from_tag: crate::sip::message::new_tag(&mut *ctx.rng),
            session_expires: ctx.settings.session_timer.interval,
            user_agent: ctx.settings.user_agent.clone(),
            sdp: sdp::offer(&local_session(ctx, port), &ctx.settings.codecs, 101),
        };
        let auth = InviteAuth::new(&provider.auth_username, &provider.password.0);
        let owner = self.owner(Leg::Caller);
        match CitizenLeg::start(ctx, template, auth, dest, owner) {
            Ok(leg) => {
                tracing::info!("calling the citizen through the provider");
                self.awaiting.push(leg.key.clone());
                self.citizen = Some(leg);
                self.enter(Stage::RingingCitizen, ctx.now);
                self.deadline = Some(ctx.now.mono + CITIZEN_RING_TIMEOUT);
            }
            Err(e) => {
                tracing::warn!(error = %e, "INVITE to the citizen not sent");
                self.finish(ctx, "failed", HangupBy::System, EndReason::BadContact);
            }
        }
    }

    /// A response to one of our requests: a BYE, or either leg's INVITE.
    pub fn response(&mut self, ctx: &mut Ctx<'_>, key: &TxKey, resp: &Response) {
        let status = resp.status_code.code();
        if key.method() == Method::Bye {
            if status >= 200 {
                self.pending_byes = self.pending_byes.saturating_sub(1);
            }
            return;
        }
        if self.refresh_response(ctx, key, resp) {
            return;
        }
        let citizen = self.citizen.as_ref().is_some_and(|c| &c.key == key);
        if status >= 200 {
            self.awaiting.retain(|k| k != key);
        }
        if self.stage == Stage::Ended {
            if (200..300).contains(&status) {
                self.hang_up_late_answer(ctx, key, resp, citizen);
            }
            return;
        }
        match (&self.stage, citizen) {
            (Stage::RingingOperator { key: k }, false) if k == key => {
                self.operator_response(ctx, key, resp)
            }
            (Stage::RingingCitizen, true) => self.citizen_response(ctx, key, resp),
            _ => {
                if (200..300).contains(&status) {
                    self.hang_up_late_answer(ctx, key, resp, citizen);
                }
            }
        }
    }

    fn operator_response(&mut self, ctx: &mut Ctx<'_>, key: &TxKey, resp: &Response) {
        let status = resp.status_code.code();
        if status < 200 {
            return;
        }
        if status >= 300 {
            tracing::info!(status, "the operator's phone refused the call-back");
            return self.finish(
                ctx,
                "operator_unavailable",
                HangupBy::Operator,
                EndReason::OperatorBye,
            );
        }
        let Some(invite) = self.op.invite.clone() else {
            return;
        };
        let Ok(dialog) = Dialog::uac(&invite, resp, self.op_dest(ctx)) else {
            tracing::warn!("operator's 200 OK cannot form a dialog");
            return self.finish(
                ctx,
                "operator_unavailable",
                HangupBy::System,
                EndReason::BadContact,
            );
        };
        let (ack, dest) = ctx.ua.factory().ack(&dialog, 1, ctx.rng);
        ctx.ua.send_ack(key, ack, dest, ctx.now.mono);
        ctx.ua
            .bind_dialog(super::dialog_key(&dialog), self.owner(Leg::Operator));
        let agreed = sdp::parse(&resp.body)
            .ok()
            .and_then(|a| sdp::negotiate(&a, &ctx.settings.codecs).ok());
        let Some(agreed) = agreed else {
            tracing::warn!("the operator's answer has no usable audio");
            self.op.dialog = Some(dialog);
            return self.finish(
                ctx,
                "operator_unavailable",
                HangupBy::System,
                EndReason::SdpNoAudio,
            );
        };
        self.op.dialog = Some(dialog);
        self.op.media = Some(leg_media(&agreed));
        tracing::info!(operator = %self.operator, "operator answered: calling the citizen");
        self.enter(Stage::OpeningCitizen, ctx.now);
        self.deadline = None;
        ctx.actions.push_back(Action::OpenCitizenMedia {
            call: self.call_ref,
        });
    }

    fn op_dest(&self, ctx: &Ctx<'_>) -> crate::sip::Peer {
        ctx.ua
            .registrar()
            .binding(&self.operator)
            .map(|b| b.peer)
            .unwrap_or(crate::sip::Peer {
                transport: crate::sip::Transport::Udp,
                addr: ctx.settings.sip_addr,
            })
    }

    fn citizen_response(&mut self, ctx: &mut Ctx<'_>, key: &TxKey, resp: &Response) {
        let status = resp.status_code.code();
        if status < 200 {
            if resp.body.is_empty() || self.bridged {
                return;
            }
            // Early media (183 or 180 with SDP): the operator hears the ring-back or the
            // provider's announcement.
            return self.bridge_citizen(ctx, &resp.body);
        }
        if status == 401 || status == 407 {
            let owner = self.owner(Leg::Caller);
            let bytes = resp.to_string().into_bytes();
            let result = match self.citizen.as_mut() {
                Some(c) => c.challenged(ctx, &bytes, owner),
                None => Err(OutboundOutcome::Rejected),
            };
            match result {
                Ok(()) => {
                    let key = self.citizen.as_ref().map(|c| c.key.clone());
                    self.awaiting.extend(key);
                    tracing::info!(status, "the provider asked for credentials: sent");
                }
                Err(outcome) => {
                    self.final_status = Some(status);
                    tracing::warn!(status, "the provider refused our credentials");
                    self.finish(
                        ctx,
                        outcome_word(outcome),
                        HangupBy::System,
                        EndReason::BadContact,
                    );
                }
            }
            return;
        }
        self.final_status = Some(status);
        if status >= 300 {
            let outcome = if status == 487 && self.timed_out {
                OutboundOutcome::NoAnswer
            } else {
                OutboundOutcome::of_status(status)
            };
            tracing::info!(
                status,
                outcome = outcome.as_str(),
                "the citizen was not reached: hanging up the operator"
            );
            return self.finish(
                ctx,
                outcome_word(outcome),
                HangupBy::System,
                EndReason::CallerCancel,
            );
        }
        self.citizen_answered(ctx, key, resp);
    }

    /// Points the citizen leg's media at the address and codec an SDP of the provider's
    /// names (a 200 after early media; a refresh's answer or offer: an SBC that fails over
    /// moves the media with it). A body without usable audio changes nothing.
    pub(super) fn follow_citizen_sdp(&self, ctx: &mut Ctx<'_>, body: &[u8]) {
        let Some(agreed) = sdp::parse(body)
            .ok()
            .and_then(|a| sdp::negotiate(&a, &ctx.settings.codecs).ok())
        else {
            return;
        };
        ctx.actions.push_back(Action::Media {
            call: self.call_ref,
            order: MediaOrder::Update {
                leg: Leg::Caller,
                media: leg_media(&agreed),
                send: true,
                receive: true,
            },
        });
    }

    fn citizen_answered(&mut self, ctx: &mut Ctx<'_>, key: &TxKey, resp: &Response) {
        let Some(c) = &self.citizen else {
            return;
        };
        let Ok(dialog) = Dialog::uac(&c.invite, resp, c.dest) else {
            tracing::warn!("the provider's 200 OK cannot form a dialog");
            return self.finish(ctx, "failed", HangupBy::System, EndReason::BadContact);
        };
        let (ack, dest) = ctx.ua.factory().ack(&dialog, c.cseq(), ctx.rng);
        ctx.ua.send_ack(key, ack, dest, ctx.now.mono);
        ctx.ua
            .bind_dialog(super::dialog_key(&dialog), self.owner(Leg::Caller));
        self.citizen_dialog = Some(dialog);
        if !self.bridged {
            self.bridge_citizen(ctx, &resp.body);
            if !self.bridged {
                return self.finish(ctx, "failed", HangupBy::System, EndReason::SdpNoAudio);
            }
        } else {
            // The answer's SDP may differ from the early media's (another media server
            // played the ring-back): follow it.
            self.follow_citizen_sdp(ctx, &resp.body);
        }
        self.enter(Stage::Connected, ctx.now);
        self.deadline = None;
        self.start_session_timer(resp, ctx.now.mono);
        self.connected = Some((ctx.now.wall, ctx.now.mono));
        tracing::info!("the citizen answered: bridged and recorded");
        self.recording = true;
        ctx.actions.push_back(Action::StartRecording {
            call: self.call_ref,
            call_id: self.id.clone(),
            received_at: self.started_at,
        });
        ctx.actions
            .push_back(Action::Register(RegisterWrite::Update {
                id: self.id.clone(),
                update: CallUpdate {
                    answered_at: Some(ctx.now.wall),
                    connected_at: Some(ctx.now.wall),
                    operator_id: Some(self.operator.clone()),
                    ..CallUpdate::default()
                },
            }));
    }

    /// The citizen's SDP (early or in the answer): start their media on the socket we
    /// offered and relay it to and from the operator.
    fn bridge_citizen(&mut self, ctx: &mut Ctx<'_>, body: &[u8]) {
        let agreed = sdp::parse(body)
            .ok()
            .and_then(|a| sdp::negotiate(&a, &ctx.settings.codecs).ok());
        let (Some(agreed), Some(operator)) = (agreed, self.op.media) else {
            tracing::debug!("no usable SDP from the provider yet");
            return;
        };
        self.bridged = true;
        ctx.actions.push_back(Action::StartCitizenMedia {
            call: self.call_ref,
            media: leg_media(&agreed),
            stream: new_stream(ctx.rng),
        });
        ctx.actions.push_back(Action::Media {
            call: self.call_ref,
            order: MediaOrder::Bridge { operator },
        });
    }

    /// A 200 to an INVITE we no longer want (CANCEL crossed it): ACK, then BYE, so that no
    /// phone is left off-hook.
    fn hang_up_late_answer(
        &mut self,
        ctx: &mut Ctx<'_>,
        key: &TxKey,
        resp: &Response,
        citizen: bool,
    ) {
        let (invite, dest, cseq) = if citizen {
            let Some(c) = &self.citizen else { return };
            (c.invite.clone(), c.dest, c.cseq())
        } else {
            let Some(i) = self.op.invite.clone() else {
                return;
            };
            (i, self.op_dest(ctx), 1)
        };
        let Ok(mut dialog) = Dialog::uac(&invite, resp, dest) else {
            return;
        };
        let (ack, to) = ctx.ua.factory().ack(&dialog, cseq, ctx.rng);
        ctx.ua.send_ack(key, ack, to, ctx.now.mono);
        let leg = if citizen { Leg::Caller } else { Leg::Operator };
        self.bye(ctx, &mut dialog, leg);
    }

    /// A request of ours got no final answer (Timer B/F).
    pub fn timeout(&mut self, ctx: &mut Ctx<'_>, key: &TxKey) {
        if key.method() == Method::Bye {
            tracing::warn!("BYE got no answer");
            self.pending_byes = self.pending_byes.saturating_sub(1);
            return;
        }
        if self.refresh_unanswered(ctx, key) {
            return;
        }
        if !self.awaiting.contains(key) {
            return;
        }
        self.awaiting.retain(|k| k != key);
        let citizen = self.citizen.as_ref().is_some_and(|c| &c.key == key);
        let outcome = if !citizen {
            "operator_unavailable"
        } else if self.timed_out {
            "no_answer"
        } else {
            // No answer at all from the provider.
            "failed"
        };
        self.finish(ctx, outcome, HangupBy::System, EndReason::MaxWait);
    }

    /// An INVITE transaction of ours ended without a final answer we could use.
    pub fn transaction_ended(&mut self, ctx: &mut Ctx<'_>, key: &TxKey) {
        if key.method() == Method::Invite && self.refresh_unanswered(ctx, key) {
            return;
        }
        if key.method() == Method::Invite && self.awaiting.contains(key) {
            self.timeout(ctx, key);
        }
    }

    /// A request inside either dialog: BYE ends the call-back; a session refresh is
    /// answered with the session as it is (the citizen's also with its timer,
    /// `refresh.rs`).
    pub fn in_dialog(&mut self, ctx: &mut Ctx<'_>, leg: Leg, key: TxKey, req: Request) {
        match req.method {
            Method::Bye => {
                let ok = ctx.ua.factory().reply(&req, 200, None);
                ctx.ua.respond(&key, ok, ctx.now.mono);
                if leg == Leg::Operator {
                    self.op.dialog = None;
                } else {
                    self.citizen_dialog = None;
                }
                let (by, reason) = match leg {
                    Leg::Operator => (crate::model::HangupBy::Operator, EndReason::OperatorBye),
                    Leg::Caller => (crate::model::HangupBy::Caller, EndReason::CallerBye),
                };
                let outcome = if self.stage == Stage::Connected {
                    "answered"
                } else {
                    "operator_unavailable"
                };
                self.finish(ctx, outcome, by, reason);
            }
            Method::Invite | Method::Update if leg == Leg::Caller => {
                self.citizen_refresh(ctx, key, &req);
            }
            Method::Invite | Method::Update if !req.body.is_empty() => {
                // The operator's phone refreshing: our session as first offered,
                // unchanged (same o= line and version, RFC 3264 §8); the media goes on.
                let ours = self.op.invite.as_ref().map(|i| i.body.clone());
                let body = String::from_utf8_lossy(&ours.unwrap_or_default()).into_owned();
                let transport = self.op_dest(ctx).transport;
                let ok = ctx
                    .ua
                    .factory()
                    .session_answer(&req, None, transport, &body);
                ctx.ua.respond(&key, ok, ctx.now.mono);
            }
            Method::Ack => {}
            _ => {
                let ok = ctx.ua.factory().reply(&req, 200, None);
                ctx.ua.respond(&key, ok, ctx.now.mono);
            }
        }
    }
}
