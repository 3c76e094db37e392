//! One call through the line: the caller's leg from INVITE to the end.
//!
//! ```text
//!   INVITE ─door─► OpeningMedia ─socket─► Answered ─greeting done─► Queued ─operator answers─► Connected
//!                    │ CANCEL → 487          │ after hours: message    │ (hold music,               │
//!                    │ no port → 503         │ done → BYE              │  announcements, rings)     │
//!                    ▼                       ▼                         ▼ caller BYE: abandoned      ▼ BYE either side
//!                   gone                 HangingUp ◄── overflow / no operators: message → BYE ── HangingUp ─► gone
//! ```
//! The register row is opened when the INVITE arrives and closed exactly once, by
//! `close_row`, when the caller's experience of the call ends. An INVITE's arrival (the
//! door) is in `arrival.rs`, operator rings and the bridge in `operator_leg.rs`, the queue
//! glue in `queueing.rs`.

use crate::model::EndReason;
use std::net::{IpAddr, SocketAddr};

use jiff::Timestamp;
use rand::Rng;
use tracing::Span;

use crate::model::Now;
use crate::media::player::RtpStreamState;
use crate::sdp::{self, LocalSession, Negotiated, RemoteSession};
use crate::sip::dialog::{Dialog, ViaSpec};
use crate::sip::message::{self, Method, Request, Response};
use crate::sip::transaction::TxKey;
use crate::sip::{Peer, Transport};

use super::door::{Feature, Service};
use crate::model::{CallUpdate, HangupBy, Outcome, RegisterWrite};
use super::requests;
use super::{Action, CallRef, Leg, MediaEvent, MediaOrder, PromptKind, Switchboard};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// Admitted; the runtime is binding the caller's RTP socket.
    OpeningMedia,
    /// 200 OK sent; a service prompt plays (after-hours message, greeting, feature confirmation).
    Answered,
    /// Waiting for an operator: hold music, announcements, rings.
    Queued,
    /// Talking to an operator through the bridge.
    Connected,
    /// Our BYE(s) are out; waiting for their answers.
    HangingUp,
}

/// What the caller hears now, so that a finished playback is read rightly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Playing {
    Nothing,
    Service,
    /// "Разговор записывается": before the caller can be connected.
    Notice,
    Announcement,
    Hold,
    /// A last message, then hang up with this outcome.
    Farewell(Outcome, EndReason),
}

/// The operator leg once the operator answered.
pub(super) struct OperatorLeg {
    pub dialog: Dialog,
    pub local: LocalSession,
    pub offer: RemoteSession,
    pub negotiated: Negotiated,
    pub on_hold: bool,
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
    /// Whether this call has a register row (feature codes do not).
    pub registered: bool,
    pub row_closed: bool,
    pub playing: Playing,
    /// Tag of the current playback; a `PromptFinished` with another tag is stale.
    pub tag: u32,
    pub queued_at: Option<Timestamp>,
    pub connected_at: Option<Timestamp>,
    /// The operator being rung (while the ring's socket opens, then its INVITE is out).
    pub ring: Option<super::operator_leg::RingRef>,
    pub operator: Option<OperatorLeg>,
    /// BYEs of ours still waiting for an answer.
    pub pending_byes: usize,
    /// Whether the recording notice was heard to its end (None: not started).
    pub notice_completed: Option<bool>,
    /// Whether this call's conversation is being recorded.
    pub recording: bool,
    /// When the INVITE arrived (the recording's folder is that day's).
    pub received_at: Timestamp,
}

/// How a call ended, for the register.
pub(super) struct Ending {
    pub outcome: Outcome,
    pub hangup_by: HangupBy,
    pub reason: EndReason,
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
}

impl Call {
    /// The outcome if the caller leaves now.
    fn outcome_if_caller_leaves(&self) -> Outcome {
        if let Playing::Farewell(outcome, _) = self.playing {
            return outcome;
        }
        match (self.service, self.phase) {
            (_, Phase::Connected) => Outcome::Answered,
            (Service::AfterHours, _) => Outcome::AfterHours,
            _ => Outcome::Abandoned,
        }
    }
}

impl Switchboard {
    /// The runtime bound an RTP socket for a leg of the call.
    pub fn handle_media_opened(&mut self, call: CallRef, leg: Leg, local_port: u16, now: Now) {
        match leg {
            Leg::Caller => self.caller_media_opened(call, local_port, now),
            Leg::Operator => self.operator_media_opened(call, local_port, now),
        }
        self.pump(now);
    }

    /// No RTP port could be bound for a leg.
    pub fn handle_media_failed(&mut self, call: CallRef, leg: Leg, now: Now) {
        match leg {
            Leg::Caller => self.caller_media_failed(call, now),
            Leg::Operator => self.operator_media_failed(call, now),
        }
        self.pump(now);
    }

    /// Answer with SDP, start the call's media and its first message.
    fn caller_media_opened(&mut self, call: CallRef, local_port: u16, now: Now) {
        let local = self.local_session(local_port, now);
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
                    final_status: Some(400),
                    ..Ending::new(Outcome::Rejected, HangupBy::System, EndReason::BadContact)
                };
                self.finish(call, ending, now);
                return;
            }
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
        let start = Action::StartMedia {
            call,
            caller: super::leg_media(&c.negotiated),
            stream: RtpStreamState {
                ssrc: self.rng.random(),
                seq: self.rng.random(),
                ts: self.rng.random(),
            },
        };
        let first = match c.service {
            Service::AfterHours => PromptKind::AfterHours,
            Service::InHours => PromptKind::Greeting,
            Service::Feature(Feature::Pause) => PromptKind::Paused,
            Service::Feature(Feature::Resume) => PromptKind::Resumed,
        };
        {
            let _enter = c.span.enter();
            tracing::info!(local_port, remote = %c.negotiated.remote, "answered");
        }
        let key = c.invite_key.clone();
        let (id, registered) = (c.id.clone(), c.registered);
        self.by_dialog.insert(dialog_key, (call, Leg::Caller));
        self.respond(&key, ok, now);
        self.actions.push_back(start);
        self.play(call, vec![first], false, Playing::Service);
        if registered {
            self.actions
                .push_back(Action::Register(RegisterWrite::Update {
                    id,
                    update: CallUpdate {
                        answered_at: Some(now.wall),
                        final_status: Some(200),
                        ..CallUpdate::default()
                    },
                }));
        }
    }

    /// No RTP port: the caller gets 503 rather than silence.
    fn caller_media_failed(&mut self, call: CallRef, now: Now) {
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
        let ending = Ending {
            final_status: Some(503),
            ..Ending::new(Outcome::Failed, HangupBy::System, EndReason::NoMediaPort)
        };
        self.finish(call, ending, now);
    }

    pub fn handle_media_event(&mut self, call: CallRef, event: MediaEvent, now: Now) {
        match event {
            MediaEvent::PromptFinished { tag } => self.on_prompt_finished(call, tag, now),
            MediaEvent::Inactive { leg } => {
                let Some(c) = self.calls.get(&call) else {
                    return;
                };
                let _enter = c.span.clone().entered();
                tracing::warn!(?leg, "no RTP: ending the call");
                let outcome = if c.phase == Phase::Connected {
                    Outcome::Answered
                } else {
                    Outcome::Failed
                };
                self.hang_up(
                    call,
                    Ending::new(outcome, HangupBy::System, EndReason::RtpTimeout),
                    now,
                );
            }
        }
        self.pump(now);
    }

    fn on_prompt_finished(&mut self, call: CallRef, tag: u32, now: Now) {
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        if tag != c.tag {
            return; // a playback since replaced
        }
        match (c.playing, c.service) {
            (Playing::Service, Service::AfterHours) => self.hang_up(
                call,
                Ending::new(Outcome::AfterHours, HangupBy::System, EndReason::PromptDone),
                now,
            ),
            (Playing::Service, Service::Feature(_)) => self.hang_up(
                call,
                Ending::new(Outcome::Answered, HangupBy::System, EndReason::FeatureDone),
                now,
            ),
            (Playing::Service, Service::InHours) => self.play_notice(call, now),
            (Playing::Notice, _) => {
                if let Some(c) = self.calls.get_mut(&call) {
                    c.notice_completed = Some(true);
                }
                self.register_notice(call, Some(true));
                self.enqueue(call, now)
            }
            (Playing::Announcement, _) => self.play_hold(call),
            (Playing::Farewell(outcome, reason), _) => {
                self.hang_up(call, Ending::new(outcome, HangupBy::System, reason), now)
            }
            (Playing::Hold | Playing::Nothing, _) => {}
        }
    }

    /// Every conversation is recorded, so every caller is told before being connected.
    fn play_notice(&mut self, call: CallRef, now: Now) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        c.notice_completed = Some(false);
        let id = c.id.clone();
        self.actions
            .push_back(Action::Register(RegisterWrite::Update {
                id,
                update: CallUpdate {
                    notice_played_at: Some(now.wall),
                    ..CallUpdate::default()
                },
            }));
        self.play(
            call,
            vec![PromptKind::RecordingNotice],
            false,
            Playing::Notice,
        );
    }

    fn register_notice(&mut self, call: CallRef, completed: Option<bool>) {
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        if c.registered && completed.is_some() {
            self.actions
                .push_back(Action::Register(RegisterWrite::Update {
                    id: c.id.clone(),
                    update: CallUpdate {
                        notice_completed: completed,
                        ..CallUpdate::default()
                    },
                }));
        }
    }

    /// Play prompts to the caller, replacing whatever plays.
    pub(super) fn play(
        &mut self,
        call: CallRef,
        prompts: Vec<PromptKind>,
        looped: bool,
        playing: Playing,
    ) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        c.tag = c.tag.wrapping_add(1);
        c.playing = playing;
        let order = MediaOrder::Play {
            prompts,
            looped,
            tag: c.tag,
        };
        self.actions.push_back(Action::Media { call, order });
    }

    pub(super) fn play_hold(&mut self, call: CallRef) {
        self.play(call, vec![PromptKind::HoldMusic], true, Playing::Hold);
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
        let outcome = c.outcome_if_caller_leaves();
        self.respond(invite, resp, now);
        let ending = Ending {
            final_status: Some(487),
            ..Ending::new(outcome, HangupBy::Caller, EndReason::CallerCancel)
        };
        self.finish(call, ending, now);
    }

    /// Our 2xx was never ACKed (RFC 3261 §13.3.1.4): end the session with BYE.
    pub(super) fn on_ack_timeout(&mut self, invite: &TxKey, now: Now) {
        let Some(&call) = self.by_invite.get(invite) else {
            return;
        };
        self.hang_up(
            call,
            Ending::new(Outcome::Failed, HangupBy::System, EndReason::NoAck),
            now,
        );
    }

    /// An in-dialog request on the caller's leg (BYE, re-INVITE, INFO…).
    pub(super) fn on_caller_in_dialog(
        &mut self,
        call: CallRef,
        key: TxKey,
        req: Request,
        now: Now,
    ) {
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
            return self.respond(&key, resp, now);
        }
        let (phase, outcome, local_sdp) =
            (c.phase, c.outcome_if_caller_leaves(), c.local_sdp.clone());
        match req.method {
            Method::Bye => {
                let resp = message::response_to(&req, 200, None);
                self.respond(&key, resp, now);
                if phase == Phase::HangingUp {
                    return; // BYEs crossed: ours is already closing the call.
                }
                self.caller_left(
                    call,
                    Ending::new(outcome, HangupBy::Caller, EndReason::CallerBye),
                    now,
                );
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

    /// The caller hung up (their BYE was answered): end the rest of the call.
    fn caller_left(&mut self, call: CallRef, ending: Ending, now: Now) {
        self.leave_queue(call, now);
        self.close_row(call, ending, now.wall);
        self.release_media(call);
        self.bye_operator(call, now);
        self.forget_if_done(call);
    }

    /// A response to one of our client requests (BYE, or an INVITE to an operator).
    pub(super) fn on_response(&mut self, key: &TxKey, resp: &Response, now: Now) {
        if self.rings.contains_key(key) {
            return self.on_ring_response(key, resp, now);
        }
        if resp.status_code.code() < 200 {
            return;
        }
        self.bye_done(key);
    }

    pub(super) fn on_client_timeout(&mut self, key: &TxKey, now: Now) {
        if self.rings.contains_key(key) {
            return self.on_ring_timeout(key, now);
        }
        if let Some(c) = self.by_bye.get(key).and_then(|call| self.calls.get(call)) {
            let _enter = c.span.enter();
            tracing::warn!("BYE got no answer");
        }
        self.bye_done(key);
    }

    fn bye_done(&mut self, key: &TxKey) {
        if let Some(call) = self.by_bye.remove(key) {
            if let Some(c) = self.calls.get_mut(&call) {
                c.pending_byes = c.pending_byes.saturating_sub(1);
            }
            self.forget_if_done(call);
        }
    }

    pub(super) fn on_terminated(&mut self, key: &TxKey) {
        self.by_invite.remove(key);
        if let Some(ring) = self.rings.remove(key) {
            self.forget_if_done(ring.call);
        }
    }

    /// Shutdown grace is over for this call.
    pub(super) fn interrupt(&mut self, call: CallRef, now: Now) {
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        let ending = Ending::new(Outcome::Interrupted, HangupBy::System, EndReason::Shutdown);
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
            Phase::Answered | Phase::Queued | Phase::Connected => self.hang_up(call, ending, now),
            Phase::HangingUp => {}
        }
    }

    /// End an answered call from our side: BYE to the caller (and the operator, if
    /// connected); the call stays until the BYE transactions complete.
    pub(super) fn hang_up(&mut self, call: CallRef, ending: Ending, now: Now) {
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        if matches!(c.phase, Phase::HangingUp | Phase::OpeningMedia) {
            return;
        }
        {
            let _enter = c.span.enter();
            tracing::info!(reason = ending.reason.as_str(), "hanging up");
        }
        self.leave_queue(call, now);
        self.close_row(call, ending, now.wall);
        self.release_media(call);
        self.bye_caller(call, now);
        self.bye_operator(call, now);
        self.forget_if_done(call);
    }

    fn bye_caller(&mut self, call: CallRef, now: Now) {
        let local = self.settings.sip_addr;
        let branch = message::new_branch(&mut self.rng);
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        c.phase = Phase::HangingUp;
        let Some(dialog) = c.dialog.as_mut() else {
            return;
        };
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
        self.send_bye(call, bye, dest, now);
    }

    pub(super) fn send_bye(&mut self, call: CallRef, bye: Request, dest: Peer, now: Now) {
        match self.tx.send_request(bye, dest, now.mono) {
            Ok(key) => {
                self.by_bye.insert(key, call);
                if let Some(c) = self.calls.get_mut(&call) {
                    c.pending_byes += 1;
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not send BYE"),
        }
    }

    /// The call is over now (nothing more to send): close its row, free media, forget it.
    pub(super) fn finish(&mut self, call: CallRef, ending: Ending, now: Now) {
        self.leave_queue(call, now);
        self.close_row(call, ending, now.wall);
        self.release_media(call);
        if let Some(c) = self.calls.get_mut(&call) {
            c.phase = Phase::HangingUp;
        }
        self.forget_if_done(call);
    }

    pub(super) fn close_row(&mut self, call: CallRef, ending: Ending, at: Timestamp) {
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
                reason = ending.reason.as_str(),
                "call ended"
            );
        }
        self.stats.calls_ended += 1;
        if !c.registered {
            return;
        }
        super::counters::Counters::bump(
            &mut self.counters.calls_by_outcome,
            ending.outcome.as_str(),
        );
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        if !c.registered {
            return;
        }
        let ms = |from: Option<Timestamp>, to: Timestamp| {
            from.map(|f| to.duration_since(f).as_millis() as i64)
        };
        let wait_ms = ms(c.queued_at, c.connected_at.unwrap_or(at));
        let talk_ms = ms(c.connected_at, at);
        self.actions
            .push_back(Action::Register(RegisterWrite::Update {
                id: c.id.clone(),
                update: CallUpdate {
                    ended_at: Some(at),
                    outcome: Some(ending.outcome),
                    hangup_by: Some(ending.hangup_by),
                    end_reason: Some(ending.reason),
                    final_status: ending.final_status,
                    wait_ms,
                    talk_ms,
                    ..CallUpdate::default()
                },
            }));
    }

    fn release_media(&mut self, call: CallRef) {
        if let Some(c) = self.calls.get_mut(&call) {
            if c.recording {
                c.recording = false;
                self.actions.push_back(Action::StopRecording { call });
            }
            if c.media_open {
                c.media_open = false;
                self.actions.push_back(Action::CloseMedia { call });
            }
        }
    }

    /// Forget the call once nothing is pending on it any more (no BYE in flight, no ring
    /// waiting for its final answer).
    pub(super) fn forget_if_done(&mut self, call: CallRef) {
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        let ringing = self
            .rings
            .values()
            .any(|r| r.call == call && r.ack.is_none());
        if c.pending_byes > 0 || c.ring.is_some() || ringing || c.phase != Phase::HangingUp {
            return;
        }
        if let Some(c) = self.calls.remove(&call) {
            self.by_dialog.remove(&(
                message::call_id(&c.invite).unwrap_or_default().to_string(),
                c.local_tag,
            ));
            if let Some(op) = c.operator {
                self.by_dialog
                    .remove(&(op.dialog.call_id, op.dialog.local_tag));
            }
            // `by_invite` is cleaned when the INVITE transaction terminates (it may still
            // see a CANCEL or an ACK until then).
        }
    }

    pub(super) fn respond(&mut self, key: &TxKey, resp: Response, now: Now) {
        super::counters::Counters::bump(&mut self.counters.responses_out, resp.status_code.code());
        if let Err(e) = self.tx.respond(key, resp, now.mono) {
            tracing::debug!(error = %e, "response not sent: transaction gone");
        }
    }

    pub(super) fn local_session(&self, port: u16, now: Now) -> LocalSession {
        LocalSession {
            username: "hotline".to_string(),
            session_id: now.wall.as_millisecond().unsigned_abs(),
            version: 1,
            addr: self.settings.media_ip,
            port,
        }
    }
}

/// Add a header whose value we made ourselves (never contains CR/LF).
pub(super) fn header<M: message::HasHeaders + ?Sized>(msg: &mut M, name: &str, value: &str) {
    message::push_header(msg, name, value).expect("our own header values are single-line");
}

/// Our Contact: where peers send in-dialog requests.
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
