//! The operator's leg of a call (B2BUA, RFC 3261 §12 as a UAC): ring the operator's
//! registered softphone, bridge on answer, follow their hold/resume and hang-up.
//!
//! A ring is an INVITE in its own dialog (new Call-ID, our SDP offer, the caller's number
//! in From and P-Asserted-Identity) sent along the flow the operator registered from. Every
//! ring lives in `rings` until its INVITE transaction is over, whatever happens to the
//! call: a 200 that arrives after we gave up (CANCEL/200 race, caller gone) is still ACKed
//! and then ended with BYE, so an operator's phone is never left off-hook.

use crate::model::EndReason;
use jiff::Timestamp;

use crate::model::Now;
use crate::sdp::{self, Direction};
use crate::sip::dialog::{Dialog, ViaSpec};
use crate::sip::message::{self, Method, Request, Response, SipMessage};
use crate::sip::transaction::TxKey;
use crate::sip::{Peer, Transport};

use super::acd::RingResult;
use super::calls::{header, local_contact, Ending, OperatorLeg, Phase};
use crate::model::{CallUpdate, HangupBy, Outcome, RegisterWrite, RingAttempt};
use super::requests;
use super::{Action, CallRef, Leg, MediaOrder, Switchboard};

/// The call's current ring attempt.
pub(super) struct RingRef {
    pub operator: String,
    /// The INVITE's transaction, once sent (None while its RTP socket opens).
    pub key: Option<TxKey>,
}

/// One INVITE to an operator, until its transaction ends.
pub(super) struct Ring {
    pub call: CallRef,
    pub operator: String,
    pub invite: Request,
    pub dest: Peer,
    pub local_port: u16,
    pub started_at: Timestamp,
    /// We gave up on it (CANCEL sent); the ACD already knows.
    pub cancelled: bool,
    /// The ACK we sent for its 2xx (sent again for retransmitted 2xx).
    pub ack: Option<Request>,
}

fn ring_result(status: u16) -> RingResult {
    match status {
        486 | 600 => RingResult::Busy,
        603 => RingResult::Declined,
        _ => RingResult::Failed,
    }
}

/// A number fit for the user part of a URI, or `anonymous`.
fn uri_user(number: &str) -> &str {
    let ok = !number.is_empty()
        && number
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+*#.-_".contains(c));
    if ok {
        number
    } else {
        "anonymous"
    }
}

impl Switchboard {
    /// The ACD wants this operator rung for this caller.
    pub(super) fn start_ring(&mut self, call: CallRef, operator: String, now: Now) {
        let queued = self
            .calls
            .get(&call)
            .is_some_and(|c| c.phase == Phase::Queued && c.ring.is_none());
        if !queued || self.registrar.binding(&operator).is_none() {
            self.acd
                .handle_ring_failed(call, &operator, RingResult::Failed, now.mono);
            return;
        }
        let c = self.calls.get_mut(&call).expect("checked above");
        c.ring = Some(RingRef {
            operator,
            key: None,
        });
        self.actions.push_back(Action::OpenMedia {
            call,
            leg: Leg::Operator,
        });
    }

    /// The operator leg's RTP socket is bound: send the INVITE.
    pub(super) fn operator_media_opened(&mut self, call: CallRef, port: u16, now: Now) {
        let pending = self
            .calls
            .get(&call)
            .and_then(|c| c.ring.as_ref())
            .filter(|r| r.key.is_none());
        let Some(operator) = pending.map(|r| r.operator.clone()) else {
            // The ring was called off while the socket opened.
            self.actions.push_back(Action::CloseOperatorMedia { call });
            return;
        };
        let Some(binding) = self.registrar.binding(&operator) else {
            return self.ring_failed(call, &operator, RingResult::Failed, now);
        };
        let (contact, dest) = (binding.contact.to_string(), binding.peer);
        let invite = self.ring_invite(call, &contact, &operator, dest.transport, port, now);
        let Some(invite) = invite else {
            return self.ring_failed(call, &operator, RingResult::Failed, now);
        };
        match self.tx.send_request(invite.clone(), dest, now.mono) {
            Ok(key) => {
                let c = self
                    .calls
                    .get_mut(&call)
                    .expect("pending ring implies the call");
                if let Some(r) = c.ring.as_mut() {
                    r.key = Some(key.clone());
                }
                {
                    let _enter = c.span.enter();
                    tracing::info!(%operator, "ringing operator");
                }
                let ring = Ring {
                    call,
                    operator,
                    invite,
                    dest,
                    local_port: port,
                    started_at: now.wall,
                    cancelled: false,
                    ack: None,
                };
                self.rings.insert(key, ring);
            }
            Err(e) => {
                tracing::warn!(error = %e, "INVITE to operator not sent");
                self.ring_failed(call, &operator, RingResult::Failed, now);
            }
        }
    }

    pub(super) fn operator_media_failed(&mut self, call: CallRef, now: Now) {
        if let Some(operator) = self
            .calls
            .get(&call)
            .and_then(|c| c.ring.as_ref())
            .map(|r| r.operator.clone())
        {
            self.ring_failed(call, &operator, RingResult::Failed, now);
        }
    }

    /// The INVITE we send to an operator's softphone.
    fn ring_invite(
        &mut self,
        call: CallRef,
        contact: &str,
        operator: &str,
        transport: Transport,
        port: u16,
        now: Now,
    ) -> Option<Request> {
        let c = self.calls.get(&call)?;
        let caller = message::from_user(&c.invite).unwrap_or_else(|| "anonymous".to_string());
        let user = uri_user(&caller).to_string();
        let addr = self.settings.sip_addr;
        let host = local_contact(addr, transport);
        let host = host
            .trim_start_matches("<sip:hotline@")
            .split(';')
            .next()
            .unwrap_or_default()
            .to_string();
        let local = self.local_session(port, now);
        let body = sdp::offer(&local, &self.settings.codecs, 101);
        let branch = message::new_branch(&mut self.rng);
        let tag = message::new_tag(&mut self.rng);
        let call_id = message::new_call_id(&mut self.rng, &addr.ip().to_string());
        let text = format!(
            "INVITE {contact} SIP/2.0\r\n\
             Via: SIP/2.0/{t} {host};branch={branch};rport\r\n\
             Max-Forwards: 70\r\n\
             From: \"{user}\" <sip:{user}@{host}>;tag={tag}\r\n\
             To: <sip:{operator}@{host}>\r\n\
             Call-ID: {call_id}\r\n\
             CSeq: 1 INVITE\r\n\
             Contact: {contact_us}\r\n\
             P-Asserted-Identity: \"{user}\" <sip:{user}@{host}>\r\n\
             Allow: {allow}\r\n\
             User-Agent: {ua}\r\n\
             Content-Type: application/sdp\r\n\
             Content-Length: {len}\r\n\r\n{body}",
            t = transport.as_str(),
            contact_us = local_contact(addr, transport),
            allow = requests::ALLOW,
            ua = self.settings.user_agent,
            len = body.len(),
        );
        match SipMessage::try_from(text.as_str()) {
            Ok(SipMessage::Request(r)) => Some(r),
            _ => {
                tracing::warn!(%contact, "cannot build an INVITE to this operator contact");
                None
            }
        }
    }

    /// The ACD gave up on the current ring (timeout, caller left, operator offline).
    pub(super) fn cancel_ring(&mut self, call: CallRef, now: Now) {
        let Some(ring) = self.calls.get_mut(&call).and_then(|c| c.ring.take()) else {
            return;
        };
        self.actions.push_back(Action::CloseOperatorMedia { call });
        if let Some(key) = ring.key {
            if let Some(r) = self.rings.get_mut(&key) {
                r.cancelled = true;
            }
            if let Err(e) = self.tx.cancel(&key, now.mono) {
                tracing::debug!(error = %e, "CANCEL not sent (a final response came first)");
            }
        }
    }

    /// A ring ended without an answer, on its own (not called off by the ACD).
    fn ring_failed(&mut self, call: CallRef, operator: &str, result: RingResult, now: Now) {
        if let Some(c) = self.calls.get_mut(&call) {
            c.ring = None;
        }
        self.actions.push_back(Action::CloseOperatorMedia { call });
        self.acd
            .handle_ring_failed(call, operator, result, now.mono);
    }

    pub(super) fn on_ring_response(&mut self, key: &TxKey, resp: &Response, now: Now) {
        let status = resp.status_code.code();
        if status < 200 {
            return;
        }
        if (200..300).contains(&status) {
            return self.on_ring_answered(key, resp, now);
        }
        let Some(ring) = self.rings.remove(key) else {
            return;
        };
        let result = if ring.cancelled {
            "cancelled"
        } else {
            ring_result_name(status)
        };
        self.record_ring(ring.call, &ring.operator, ring.started_at, result, now);
        if !ring.cancelled {
            self.ring_failed(ring.call, &ring.operator, ring_result(status), now);
        }
        self.forget_if_done(ring.call);
    }

    pub(super) fn on_ring_timeout(&mut self, key: &TxKey, now: Now) {
        let Some(ring) = self.rings.remove(key) else {
            return;
        };
        let result = if ring.cancelled {
            "cancelled"
        } else {
            "failed"
        };
        self.record_ring(ring.call, &ring.operator, ring.started_at, result, now);
        if !ring.cancelled {
            self.ring_failed(ring.call, &ring.operator, RingResult::Failed, now);
        }
        self.forget_if_done(ring.call);
    }

    fn on_ring_answered(&mut self, key: &TxKey, resp: &Response, now: Now) {
        let local = self.settings.sip_addr;
        let branch = message::new_branch(&mut self.rng);
        let Some(ring) = self.rings.get_mut(key) else {
            return;
        };
        if let Some(ack) = &ring.ack {
            // A retransmitted 2xx: our ACK was lost.
            let (ack, dest) = (ack.clone(), ring.dest);
            return self.tx.send_stateless(SipMessage::Request(ack), dest);
        }
        let Ok(mut dialog) = Dialog::uac(&ring.invite, resp, ring.dest) else {
            tracing::warn!("operator's 200 OK cannot form a dialog");
            return;
        };
        let via = ViaSpec {
            transport: ring.dest.transport,
            host: local.ip().to_string(),
            port: Some(local.port()),
            branch,
        };
        let ack = dialog.ack_for_2xx(1, &via);
        ring.ack = Some(ack.clone());
        let (call, operator, dest, cancelled, port) = (
            ring.call,
            ring.operator.clone(),
            ring.dest,
            ring.cancelled,
            ring.local_port,
        );
        self.tx.send_stateless(SipMessage::Request(ack), dest);

        let current = self.calls.get(&call).is_some_and(|c| {
            c.phase == Phase::Queued && c.ring.as_ref().and_then(|r| r.key.as_ref()) == Some(key)
        });
        let answer = sdp::parse(&resp.body).ok();
        let negotiated = answer
            .as_ref()
            .and_then(|a| sdp::negotiate(a, &self.settings.codecs).ok());
        let (Some(answer), Some(negotiated), true) = (answer, negotiated, current && !cancelled)
        else {
            // Too late (the caller left, or we gave up) or no usable answer: hang the
            // operator's phone up at once.
            let bye_branch = message::new_branch(&mut self.rng);
            let via = ViaSpec {
                transport: dest.transport,
                host: local.ip().to_string(),
                port: Some(local.port()),
                branch: bye_branch,
            };
            let bye = dialog.new_request(Method::Bye, &via, None);
            let hop = dialog
                .next_hop()
                .map(|addr| Peer {
                    transport: dest.transport,
                    addr,
                })
                .unwrap_or(dest);
            let _ = self.tx.send_request(bye, hop, now.mono);
            let late = cancelled || !current;
            let attempt = self
                .rings
                .get(key)
                .map(|r| (r.call, r.operator.clone(), r.started_at));
            if let Some((call, operator, started_at)) = attempt {
                self.record_ring(
                    call,
                    &operator,
                    started_at,
                    if late { "answered_late" } else { "failed" },
                    now,
                );
            }
            if !late {
                self.ring_failed(call, &operator, RingResult::Failed, now);
            }
            return;
        };
        self.connect(call, key, operator, dialog, answer, negotiated, port, now);
    }

    #[allow(clippy::too_many_arguments)]
    fn connect(
        &mut self,
        call: CallRef,
        key: &TxKey,
        operator: String,
        dialog: Dialog,
        answer: sdp::RemoteSession,
        negotiated: sdp::Negotiated,
        port: u16,
        now: Now,
    ) {
        let local = self.local_session(port, now);
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        c.ring = None;
        c.phase = Phase::Connected;
        c.connected_at = Some(now.wall);
        c.span.record("operator", operator.as_str());
        {
            let _enter = c.span.enter();
            tracing::info!(%operator, codec = negotiated.codec.name(), "connected");
        }
        let wait_ms = c
            .queued_at
            .map(|q| now.wall.duration_since(q).as_millis() as i64);
        let id = c.id.clone();
        self.by_dialog.insert(
            (dialog.call_id.clone(), dialog.local_tag.clone()),
            (call, Leg::Operator),
        );
        let spec = super::leg_media(&negotiated);
        c.operator = Some(OperatorLeg {
            dialog,
            local,
            offer: answer,
            negotiated,
            on_hold: false,
        });
        c.playing = super::calls::Playing::Nothing;
        self.actions.push_back(Action::Media {
            call,
            order: MediaOrder::Bridge { operator: spec },
        });
        if c.registered {
            // From the operator's answer to the end of the call (the recording's time zero).
            c.recording = true;
            self.actions.push_back(Action::StartRecording {
                call,
                call_id: id.clone(),
                received_at: c.received_at,
            });
        }
        self.actions
            .push_back(Action::Register(RegisterWrite::Update {
                id,
                update: CallUpdate {
                    connected_at: Some(now.wall),
                    operator_id: Some(operator.clone()),
                    wait_ms,
                    ..CallUpdate::default()
                },
            }));
        if let Some(started_at) = self.rings.get(key).map(|r| r.started_at) {
            self.record_ring(call, &operator, started_at, "answered", now);
        }
        if !self.acd.handle_ring_answered(call, &operator, now.mono) {
            // The ACD had already let this caller go: do not keep the operator.
            tracing::warn!(%operator, "answer the ACD no longer expected: releasing the operator");
            self.hang_up(
                call,
                Ending::new(Outcome::Failed, HangupBy::System, EndReason::AnswerNotExpected),
                now,
            );
        }
    }

    /// A request from the operator inside the call's operator dialog.
    pub(super) fn on_operator_in_dialog(
        &mut self,
        call: CallRef,
        key: TxKey,
        req: Request,
        now: Now,
    ) {
        let Some(op) = self.calls.get_mut(&call).and_then(|c| c.operator.as_mut()) else {
            let resp = message::response_to(&req, 481, None);
            return self.respond(&key, resp, now);
        };
        if op.dialog.handle_remote_cseq(&req).is_err() {
            let resp = message::response_to(&req, 500, None);
            return self.respond(&key, resp, now);
        }
        match req.method {
            Method::Bye => {
                let resp = message::response_to(&req, 200, None);
                self.respond(&key, resp, now);
                let Some(c) = self.calls.get_mut(&call) else {
                    return;
                };
                if let Some(op) = c.operator.take() {
                    self.by_dialog
                        .remove(&(op.dialog.call_id, op.dialog.local_tag));
                }
                self.hang_up(
                    call,
                    Ending::new(Outcome::Answered, HangupBy::Operator, EndReason::OperatorBye),
                    now,
                );
            }
            Method::Invite => self.operator_reinvite(call, key, req, now),
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

    /// Hold (sendonly/inactive) or resume from the operator's softphone (RFC 3264 §8.4).
    fn operator_reinvite(&mut self, call: CallRef, key: TxKey, req: Request, now: Now) {
        let contact = local_contact(self.settings.sip_addr, Transport::Udp);
        let codecs = self.settings.codecs.clone();
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        let Some(op) = c.operator.as_mut() else {
            return;
        };
        let offer = if message::has_sdp_body(&req) {
            sdp::parse(&req.body).ok()
        } else {
            Some(op.offer.clone())
        };
        let Some(offer) = offer else {
            let resp = message::response_to(&req, 488, None);
            return self.respond(&key, resp, now);
        };
        let Ok(negotiated) = sdp::negotiate(&offer, &codecs) else {
            let resp = message::response_to(&req, 488, None);
            return self.respond(&key, resp, now);
        };
        let hold = matches!(
            negotiated.direction,
            Direction::RecvOnly | Direction::Inactive
        );
        op.dialog.handle_target_refresh(&req);
        op.local.version += 1;
        let body = sdp::answer(&op.local, &offer, &negotiated);
        op.offer = offer;
        op.negotiated = negotiated;
        let changed = hold != op.on_hold;
        op.on_hold = hold;
        let _enter = c.span.clone().entered();
        let mut resp = message::response_to(&req, 200, None);
        header(&mut resp, "Contact", &contact);
        message::set_body(&mut resp, "application/sdp", body.into_bytes());
        self.respond(&key, resp, now);
        if changed {
            tracing::info!(hold, "operator hold changed");
            let order = if hold {
                MediaOrder::Hold
            } else {
                MediaOrder::Unhold
            };
            self.actions.push_back(Action::Media { call, order });
        }
    }

    /// End the operator's leg from our side (the caller hung up, or we end the call).
    pub(super) fn bye_operator(&mut self, call: CallRef, now: Now) {
        let local = self.settings.sip_addr;
        let branch = message::new_branch(&mut self.rng);
        let Some(mut op) = self.calls.get_mut(&call).and_then(|c| c.operator.take()) else {
            return;
        };
        self.by_dialog
            .remove(&(op.dialog.call_id.clone(), op.dialog.local_tag.clone()));
        let transport = op.dialog.peer.transport;
        let via = ViaSpec {
            transport,
            host: local.ip().to_string(),
            port: Some(local.port()),
            branch,
        };
        let bye = op.dialog.new_request(Method::Bye, &via, None);
        let dest = Peer {
            transport,
            addr: op.dialog.next_hop().unwrap_or(op.dialog.peer.addr),
        };
        self.send_bye(call, bye, dest, now);
    }

    fn record_ring(
        &mut self,
        call: CallRef,
        operator: &str,
        started_at: Timestamp,
        result: &str,
        now: Now,
    ) {
        super::counters::Counters::bump(&mut self.counters.rings_by_result, result.to_string());
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        if !c.registered {
            return;
        }
        self.actions
            .push_back(Action::Register(RegisterWrite::Ring(RingAttempt {
                call_id: c.id.clone(),
                operator_id: operator.to_string(),
                started_at,
                ended_at: now.wall,
                result: match result {
                    "cancelled" => crate::model::RingResult::NoAnswer,
                    "answered_late" => crate::model::RingResult::CallerGone,
                    other => crate::model::RingResult::parse(other)
                        .unwrap_or(crate::model::RingResult::Error),
                },
            })));
    }
}

fn ring_result_name(status: u16) -> &'static str {
    match ring_result(status) {
        RingResult::Busy => "busy",
        RingResult::Declined => "declined",
        _ => "failed",
    }
}
