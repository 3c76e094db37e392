//! One call through the line today: admitted → media opened → 200 OK and prompt → BYE.
//!
//! States (one `Phase` per call):
//! ```text
//!   INVITE ──door──► OpeningMedia ──media opened──► Answered ──prompt done──► HangingUp ──BYE final/timeout──► gone
//!                       │  └─ CANCEL → 487 ─────────┐   │ └─ caller BYE → 200 ──────────────────────────────► gone
//!                       └─ no RTP port → 503 ───────┴───┴─ ACK timeout / shutdown → BYE ─► HangingUp
//! ```
//! The register row is opened when the INVITE arrives and closed exactly once, by
//! `close_row`, at the moment the caller's experience of the call ends (our BYE sent, their
//! BYE received, the final error answered).

use jiff::Timestamp;
use tracing::Span;

use crate::clock::Now;
use crate::media::player::RtpStreamState;
use crate::sdp::{self, LocalSession, Negotiated, RemoteSession};
use crate::sip::dialog::{Dialog, ViaSpec};
use crate::sip::message::{self, Method, Request, Response};
use crate::sip::transaction::TxKey;
use crate::sip::{Peer, Transport};
use rand::Rng;
use std::net::{IpAddr, SocketAddr};

use super::door::{Admitted, Door, Knock, Refusal, Service};
use super::register::{CallUpdate, HangupBy, NewCall, Outcome, RegisterWrite};
use super::requests;
use super::{ids, loggable_number, Action, CallRef, MediaEvent, PromptKind, Switchboard};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// Admitted; the runtime is binding the RTP socket.
    OpeningMedia,
    /// 200 OK sent, the prompt is playing.
    Answered,
    /// We sent BYE and wait for its final response.
    HangingUp,
}

pub(super) struct Call {
    pub id: String,
    pub span: Span,
    pub service: Service,
    pub phase: Phase,
    pub invite_key: TxKey,
    pub invite: Request,
    pub source: Peer,
    pub local_tag: String,
    pub offer: RemoteSession,
    pub negotiated: Negotiated,
    pub dialog: Option<Dialog>,
    pub media_open: bool,
    pub local_sdp: Option<String>,
    pub row_closed: bool,
}

/// How a call ended, for the register.
struct Ending {
    outcome: Outcome,
    hangup_by: HangupBy,
    reason: &'static str,
    final_status: Option<u16>,
}

impl Service {
    fn outcome(self) -> Outcome {
        match self {
            Service::AfterHours => Outcome::AfterHours,
            Service::Greeting => Outcome::Greeted,
        }
    }

    fn prompt(self) -> PromptKind {
        match self {
            Service::AfterHours => PromptKind::AfterHours,
            Service::Greeting => PromptKind::Greeting,
        }
    }
}

impl Switchboard {
    /// A new INVITE (no To tag): open its row, then admit or refuse it.
    pub(super) fn on_new_invite(&mut self, key: TxKey, invite: Request, source: Peer, now: Now) {
        self.stats.invites += 1;
        let id = ids::new_call_id(now.wall, &mut self.rng);
        let caller = message::from_user(&invite).unwrap_or_else(|| "anonymous".to_string());
        let dialed = message::request_user(&invite);
        let sip_call_id = message::call_id(&invite).unwrap_or_default().to_string();
        let span = tracing::info_span!(
            "call",
            call_id = %id,
            caller = %loggable_number(&caller, self.settings.show_numbers),
            operator = tracing::field::Empty,
        );
        self.actions
            .push_back(Action::Register(RegisterWrite::Open(NewCall {
                id: id.clone(),
                sip_call_id,
                caller,
                dialed: dialed.clone().unwrap_or_default(),
                source: source.to_string(),
                received_at: now.wall,
            })));

        let sdp_body = message::has_sdp_body(&invite).then_some(invite.body.as_slice());
        let knock = Knock {
            source_ip: source.addr.ip(),
            dialed: dialed.as_deref(),
            max_forwards: message::max_forwards(&invite).ok().flatten(),
            sdp: sdp_body,
            now: now.wall,
        };
        let door = Door {
            trunk: &self.settings.trunk,
            calendar: &self.settings.calendar,
            codecs: &self.settings.codecs,
            draining: self.draining,
        };
        match door.decide(&knock) {
            Err(refusal) => self.refuse(&id, &span, &key, &invite, refusal, now),
            Ok(admitted) => self.admit(id, span, key, invite, source, admitted),
        }
    }

    fn refuse(
        &mut self,
        id: &str,
        span: &Span,
        key: &TxKey,
        invite: &Request,
        why: Refusal,
        now: Now,
    ) {
        let _enter = span.enter();
        tracing::info!(status = why.status(), reason = why.reason(), "call refused");
        let tag = message::new_tag(&mut self.rng);
        let mut resp = message::response_to(invite, why.status(), Some(&tag));
        if why == Refusal::ShuttingDown {
            header(
                &mut resp,
                "Retry-After",
                &Self::RETRY_AFTER.as_secs().to_string(),
            );
        }
        if matches!(why, Refusal::BadOffer(_)) {
            // RFC 3261 §21.4.26: say what we can do instead.
            header(
                &mut resp,
                "Warning",
                "304 hotline \"Media type not available\"",
            );
        }
        self.respond(key, resp, now);
        self.actions
            .push_back(Action::Register(RegisterWrite::Update {
                id: id.to_string(),
                update: CallUpdate {
                    ended_at: Some(now.wall),
                    outcome: Some(Outcome::Rejected),
                    hangup_by: Some(HangupBy::System),
                    final_status: Some(why.status()),
                    end_reason: Some(why.reason().to_string()),
                    ..CallUpdate::default()
                },
            }));
    }

    fn admit(
        &mut self,
        id: String,
        span: Span,
        key: TxKey,
        invite: Request,
        source: Peer,
        a: Admitted,
    ) {
        let call = self.new_ref();
        {
            let _enter = span.enter();
            tracing::info!(service = ?a.service, codec = a.negotiated.codec.name(), "call admitted");
        }
        let local_tag = message::new_tag(&mut self.rng);
        self.by_invite.insert(key.clone(), call);
        self.calls.insert(
            call,
            Call {
                id,
                span,
                service: a.service,
                phase: Phase::OpeningMedia,
                invite_key: key,
                invite,
                source,
                local_tag,
                offer: a.offer,
                negotiated: a.negotiated,
                dialog: None,
                media_open: false,
                local_sdp: None,
                row_closed: false,
            },
        );
        self.stats.calls_started += 1;
        self.actions.push_back(Action::OpenMedia { call });
    }

    /// The runtime bound the call's RTP socket: answer with SDP and start the prompt.
    pub fn handle_media_opened(&mut self, call: CallRef, local_port: u16, now: Now) {
        let Some(c) = self.calls.get_mut(&call) else {
            // The call ended while the socket was being opened: give the port back.
            self.actions.push_back(Action::CloseMedia { call });
            return;
        };
        c.media_open = true;
        if c.phase != Phase::OpeningMedia {
            return;
        }
        let dialog = match Dialog::uas(&c.invite, &c.local_tag, c.source) {
            Ok(d) => d,
            Err(e) => {
                // A request without a usable Contact cannot be called back: refuse it.
                let _enter = c.span.clone().entered();
                tracing::warn!(error = %e, "cannot form a dialog from the INVITE");
                let key = c.invite_key.clone();
                let bad = message::response_to(&c.invite, 400, Some(&c.local_tag));
                self.respond(&key, bad, now);
                let ending = Ending {
                    outcome: Outcome::Rejected,
                    hangup_by: HangupBy::System,
                    reason: "bad_contact",
                    final_status: Some(400),
                };
                self.finish(call, ending, now);
                self.pump(now);
                return;
            }
        };
        let local = LocalSession {
            username: "hotline".to_string(),
            session_id: now.wall.as_millisecond().unsigned_abs(),
            version: 1,
            addr: self.settings.media_ip,
            port: local_port,
        };
        let body = sdp::answer(&local, &c.offer, &c.negotiated);
        let mut ok = message::response_to(&c.invite, 200, Some(&c.local_tag));
        header(
            &mut ok,
            "Contact",
            &local_contact(self.settings.sip_addr, c.source.transport),
        );
        header(&mut ok, "Allow", requests::ALLOW);
        header(&mut ok, "Server", &self.settings.user_agent);
        message::set_body(&mut ok, "application/sdp", body.as_bytes().to_vec());
        let dialog_key = (dialog.call_id.clone(), c.local_tag.clone());
        c.dialog = Some(dialog);
        c.local_sdp = Some(body);
        c.phase = Phase::Answered;
        let mut accepted_pts = vec![c.negotiated.payload_type];
        accepted_pts.extend(c.negotiated.telephone_event);
        let play = Action::PlayPrompt {
            call,
            prompt: c.service.prompt(),
            remote: c.negotiated.remote,
            codec: c.negotiated.codec,
            payload_type: c.negotiated.payload_type,
            accepted_pts,
            stream: RtpStreamState {
                ssrc: self.rng.random(),
                seq: self.rng.random(),
                ts: self.rng.random(),
            },
        };
        let answered = Action::Register(RegisterWrite::Update {
            id: c.id.clone(),
            update: CallUpdate {
                answered_at: Some(now.wall),
                final_status: Some(200),
                ..CallUpdate::default()
            },
        });
        {
            let _enter = c.span.enter();
            tracing::info!(local_port, remote = %c.negotiated.remote, "answered");
        }
        let key = c.invite_key.clone();
        self.by_dialog.insert(dialog_key, call);
        self.respond(&key, ok, now);
        self.actions.push_back(play);
        self.actions.push_back(answered);
        self.pump(now);
    }

    /// No RTP port could be bound: the caller gets 503 rather than silence.
    pub fn handle_media_failed(&mut self, call: CallRef, now: Now) {
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        if c.phase != Phase::OpeningMedia {
            return;
        }
        let _enter = c.span.clone().entered();
        tracing::error!("no RTP port available");
        let key = c.invite_key.clone();
        let mut resp = message::response_to(&c.invite, 503, Some(&c.local_tag));
        header(&mut resp, "Retry-After", "5");
        self.respond(&key, resp, now);
        self.finish(
            call,
            Ending {
                outcome: Outcome::Failed,
                hangup_by: HangupBy::System,
                reason: "no_media_port",
                final_status: Some(503),
            },
            now,
        );
        self.pump(now);
    }

    pub fn handle_media_event(&mut self, call: CallRef, event: MediaEvent, now: Now) {
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        match event {
            MediaEvent::PromptFinished if c.phase == Phase::Answered => {
                let outcome = c.service.outcome();
                self.hang_up(
                    call,
                    Ending {
                        outcome,
                        hangup_by: HangupBy::System,
                        reason: "prompt_done",
                        final_status: None,
                    },
                    now,
                );
            }
            MediaEvent::PromptFinished => {}
        }
        self.pump(now);
    }

    /// The caller's ACK for our 200 arrived: the dialog is confirmed.
    pub(super) fn on_ack(&mut self, invite: &TxKey) {
        if let Some(c) = self.by_invite.get(invite).and_then(|r| self.calls.get(r)) {
            let _enter = c.span.enter();
            tracing::debug!("ACK received");
        }
    }

    /// CANCEL before we answered: 487 to the INVITE, the caller gave up.
    pub(super) fn on_cancel(&mut self, invite: &TxKey, now: Now) {
        let Some(&call) = self.by_invite.get(invite) else {
            return;
        };
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        if c.phase != Phase::OpeningMedia {
            return;
        }
        let resp = message::response_to(&c.invite, 487, Some(&c.local_tag));
        let outcome = c.service.outcome();
        self.respond(invite, resp, now);
        self.finish(
            call,
            Ending {
                outcome,
                hangup_by: HangupBy::Caller,
                reason: "caller_cancel",
                final_status: Some(487),
            },
            now,
        );
    }

    /// Our 2xx was never ACKed (RFC 3261 §13.3.1.4): end the session with BYE.
    pub(super) fn on_ack_timeout(&mut self, invite: &TxKey, now: Now) {
        let Some(&call) = self.by_invite.get(invite) else {
            return;
        };
        self.hang_up(
            call,
            Ending {
                outcome: Outcome::Failed,
                hangup_by: HangupBy::System,
                reason: "no_ack",
                final_status: None,
            },
            now,
        );
    }

    /// An in-dialog request for one of our calls (BYE, re-INVITE, INFO…).
    pub(super) fn on_in_dialog(&mut self, call: CallRef, key: TxKey, req: Request, now: Now) {
        let contact = match self.calls.get(&call) {
            Some(c) => local_contact(self.settings.sip_addr, c.source.transport),
            None => return,
        };
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        let Some(dialog) = c.dialog.as_mut() else {
            return;
        };
        if dialog.handle_remote_cseq(&req).is_err() {
            let resp = message::response_to(&req, 500, None);
            self.respond(&key, resp, now);
            return;
        }
        let (phase, outcome, local_sdp) = (c.phase, c.service.outcome(), c.local_sdp.clone());
        match req.method {
            Method::Bye => {
                let resp = message::response_to(&req, 200, None);
                self.respond(&key, resp, now);
                if phase == Phase::HangingUp {
                    return; // BYEs crossed: ours is already closing the call.
                }
                let ending = Ending {
                    outcome,
                    hangup_by: HangupBy::Caller,
                    reason: "caller_bye",
                    final_status: None,
                };
                self.finish(call, ending, now);
            }
            Method::Invite => {
                // Session refresh or a new offer: we keep our media as it is and answer
                // with our current session description (same version: nothing changed).
                let mut resp = message::response_to(&req, 200, None);
                header(&mut resp, "Contact", &contact);
                message::set_body(
                    &mut resp,
                    "application/sdp",
                    local_sdp.unwrap_or_default().into_bytes(),
                );
                self.respond(&key, resp, now);
            }
            Method::Info | Method::Update | Method::Options | Method::Notify => {
                let resp = message::response_to(&req, 200, None);
                self.respond(&key, resp, now);
            }
            _ => {
                let mut resp = message::response_to(&req, 405, None);
                header(&mut resp, "Allow", requests::ALLOW);
                self.respond(&key, resp, now);
            }
        }
    }

    /// A response to our BYE (or another client request of a call).
    pub(super) fn on_response(&mut self, key: &TxKey, resp: &Response, _now: Now) {
        if resp.status_code.code() < 200 {
            return;
        }
        if let Some(call) = self.by_bye.remove(key) {
            if let Some(c) = self.calls.get(&call) {
                let _enter = c.span.enter();
                tracing::debug!(status = resp.status_code.code(), "BYE answered");
            }
            self.forget(call);
        }
    }

    pub(super) fn on_client_timeout(&mut self, key: &TxKey, _now: Now) {
        if let Some(call) = self.by_bye.remove(key) {
            if let Some(c) = self.calls.get(&call) {
                let _enter = c.span.enter();
                tracing::warn!("BYE got no answer");
            }
            self.forget(call);
        }
    }

    pub(super) fn on_terminated(&mut self, key: &TxKey) {
        self.by_invite.remove(key);
    }

    /// Shutdown grace is over for this call.
    pub(super) fn interrupt(&mut self, call: CallRef, now: Now) {
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        let ending = Ending {
            outcome: Outcome::Interrupted,
            hangup_by: HangupBy::System,
            reason: "shutdown",
            final_status: None,
        };
        match c.phase {
            Phase::OpeningMedia => {
                let key = c.invite_key.clone();
                let resp = message::response_to(&c.invite, 503, Some(&c.local_tag));
                self.respond(&key, resp, now);
                self.finish(
                    call,
                    Ending {
                        final_status: Some(503),
                        ..ending
                    },
                    now,
                );
            }
            Phase::Answered => self.hang_up(call, ending, now),
            Phase::HangingUp => {}
        }
    }

    /// End an answered call from our side: BYE to the caller, the call stays until the BYE
    /// transaction completes.
    fn hang_up(&mut self, call: CallRef, ending: Ending, now: Now) {
        let local = self.settings.sip_addr;
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        if c.phase != Phase::Answered {
            return;
        }
        let Some(dialog) = c.dialog.as_mut() else {
            return;
        };
        let branch = message::new_branch(&mut self.rng);
        let via = ViaSpec {
            transport: c.source.transport,
            host: local.ip().to_string(),
            port: Some(local.port()),
            branch,
        };
        let bye = dialog.new_request(Method::Bye, &via, None);
        let dest = Peer {
            transport: c.source.transport,
            addr: dialog.next_hop().unwrap_or(c.source.addr),
        };
        c.phase = Phase::HangingUp;
        {
            let _enter = c.span.enter();
            tracing::info!(reason = ending.reason, "hanging up");
        }
        match self.tx.send_request(bye, dest, now.mono) {
            Ok(key) => {
                self.by_bye.insert(key, call);
                self.close_row(call, ending, now.wall);
                self.release_media(call);
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not send BYE");
                self.finish(call, ending, now);
            }
        }
    }

    /// The call is over now (nothing more to send): close its row, free media, forget it.
    fn finish(&mut self, call: CallRef, ending: Ending, now: Now) {
        self.close_row(call, ending, now.wall);
        self.release_media(call);
        self.forget(call);
    }

    fn close_row(&mut self, call: CallRef, ending: Ending, at: Timestamp) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        if c.row_closed {
            return;
        }
        c.row_closed = true;
        {
            let _enter = c.span.enter();
            tracing::info!(
                outcome = ending.outcome.as_str(),
                hangup_by = ending.hangup_by.as_str(),
                reason = ending.reason,
                "call ended"
            );
        }
        self.stats.calls_ended += 1;
        self.actions
            .push_back(Action::Register(RegisterWrite::Update {
                id: c.id.clone(),
                update: CallUpdate {
                    ended_at: Some(at),
                    outcome: Some(ending.outcome),
                    hangup_by: Some(ending.hangup_by),
                    end_reason: Some(ending.reason.to_string()),
                    final_status: ending.final_status,
                    ..CallUpdate::default()
                },
            }));
    }

    fn release_media(&mut self, call: CallRef) {
        if let Some(c) = self.calls.get_mut(&call) {
            if c.media_open {
                c.media_open = false;
                self.actions.push_back(Action::CloseMedia { call });
            }
        }
    }

    fn forget(&mut self, call: CallRef) {
        if let Some(c) = self.calls.remove(&call) {
            self.by_dialog.remove(&(
                message::call_id(&c.invite).unwrap_or_default().to_string(),
                c.local_tag,
            ));
            // `by_invite` is cleaned when the INVITE transaction terminates (it may still
            // see a CANCEL or an ACK until then).
        }
    }

    pub(super) fn respond(&mut self, key: &TxKey, resp: Response, now: Now) {
        if let Err(e) = self.tx.respond(key, resp, now.mono) {
            tracing::debug!(error = %e, "response not sent: transaction gone");
        }
    }
}

/// Add a header whose value we made ourselves (never contains CR/LF).
pub(super) fn header<M: message::HasHeaders + ?Sized>(msg: &mut M, name: &str, value: &str) {
    message::push_header(msg, name, value).expect("our own header values are single-line");
}

/// Our Contact: where the caller sends in-dialog requests.
pub(super) fn local_contact(addr: SocketAddr, transport: Transport) -> String {
    let host = match addr.ip() {
        IpAddr::V6(ip) => format!("[{ip}]"),
        IpAddr::V4(ip) => ip.to_string(),
    };
    format!(
        "<sip:hotline@{host}:{};transport={}>",
        addr.port(),
        transport.as_str().to_ascii_lowercase()
    )
}
