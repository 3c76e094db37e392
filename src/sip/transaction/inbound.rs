//! Messages from the network into the transaction layer: server transaction matching
//! (RFC 3261 §17.2.3), CANCEL handling (§9.2), the ACK for a 2xx (§13.3.1.4 with RFC
//! 6026), and client transaction matching of responses (§17.1.3).
//!
//! Invariants: a request without a usable top Via or CSeq never creates a transaction
//! (it is answered 400 when it can be answered at all; never for ACK); a response that
//! matches no client transaction is counted and dropped; nothing here panics on input.

use std::time::Instant;

use rsipstack::sip::{
    Header, HeadersExt, Method, Request, Response, SipMessage, StatusCode, StatusCodeKind,
};

use super::server_invite::{ServerInvite, ServerInviteState};
use super::server_non_invite::ServerNonInvite;
use super::util::{call_id_or_empty, cseq, from_tag, reply_target, response_to, stamp_via, TopVia};
use super::{AckMatch, TransactionLayer, TxEvent, TxKey};
use crate::sip::Peer;

impl TransactionLayer {
    pub(super) fn handle_request(&mut self, mut request: Request, source: Peer, now: Instant) {
        let Some(via) = TopVia::of(&request.headers) else {
            // Without a Via there is nowhere to send an answer (§18.2.2).
            self.out.stats.malformed += 1;
            return;
        };
        let seq = match cseq(&request.headers) {
            Some((seq, method)) if method == request.method && has_dialog_ids(&request) => seq,
            _ => {
                self.out.stats.malformed += 1;
                if request.method != Method::Ack {
                    self.reply_stateless(
                        &request,
                        StatusCode::BadRequest,
                        reply_target(source, &via),
                    );
                }
                return;
            }
        };
        stamp_via(&mut request, source);
        let reply_to = reply_target(source, &via);
        let branch = match via.rfc3261_branch() {
            Some(branch) => branch.to_string(),
            None => rfc2543_branch(&request, seq),
        };
        let key_method = if request.method == Method::Ack {
            Method::Invite
        } else {
            request.method
        };
        let key = TxKey::server(branch, via.sent_by, key_method);
        match request.method {
            Method::Ack => self.on_ack(key, request, source, now),
            Method::Cancel => self.on_cancel(key, request, reply_to, now),
            Method::Invite => self.on_invite(key, request, source, reply_to, now),
            _ => self.on_non_invite(key, request, source, reply_to, now),
        }
    }

    fn on_invite(
        &mut self,
        key: TxKey,
        request: Request,
        source: Peer,
        reply_to: Peer,
        now: Instant,
    ) {
        let mut ctx = self.out.ctx(now, &key);
        if let Some(tx) = self.txs.server_invite.get_mut(&key) {
            tx.on_invite_retransmission(&mut ctx);
        } else {
            let tx = ServerInvite::new(key.clone(), &request, reply_to, &mut ctx);
            self.txs.server_invite.insert(key.clone(), tx);
            ctx.emit(TxEvent::Request {
                key: key.clone(),
                request,
                source,
            });
        }
        self.settle(&key);
    }

    fn on_non_invite(
        &mut self,
        key: TxKey,
        request: Request,
        source: Peer,
        reply_to: Peer,
        now: Instant,
    ) {
        let mut ctx = self.out.ctx(now, &key);
        if let Some(tx) = self.txs.server_non_invite.get_mut(&key) {
            tx.on_request_retransmission(&mut ctx);
        } else {
            self.txs
                .server_non_invite
                .insert(key.clone(), ServerNonInvite::new(reply_to));
            ctx.emit(TxEvent::Request {
                key: key.clone(),
                request,
                source,
            });
        }
        self.settle(&key);
    }

    /// §17.2.3: an ACK with the INVITE's branch belongs to that transaction (non-2xx);
    /// an ACK for our 2xx has its own branch and is found by dialog identifiers.
    fn on_ack(&mut self, key: TxKey, ack: Request, source: Peer, now: Instant) {
        let invite_key = if self.txs.server_invite.contains_key(&key) {
            Some(key)
        } else {
            AckMatch::of(&ack.headers).and_then(|m| self.acks.get(&m).cloned())
        };
        let Some(invite_key) = invite_key else {
            self.out.stats.stray_acks += 1;
            self.out.events.push_back(TxEvent::StrayAck { ack, source });
            return;
        };
        let mut ctx = self.out.ctx(now, &invite_key);
        if let Some(tx) = self.txs.server_invite.get_mut(&invite_key) {
            tx.on_ack(ack, source, &mut ctx);
        }
        self.settle(&invite_key);
    }

    /// §9.2: CANCEL is answered by the layer in its own transaction; the TU only hears
    /// about it when there is still an INVITE to answer with 487.
    fn on_cancel(&mut self, key: TxKey, cancel: Request, reply_to: Peer, now: Instant) {
        let mut ctx = self.out.ctx(now, &key);
        if let Some(tx) = self.txs.server_non_invite.get_mut(&key) {
            tx.on_request_retransmission(&mut ctx);
            self.settle(&key);
            return;
        }
        let invite_key = key.with_method(Method::Invite);
        let invite_state = self
            .txs
            .server_invite
            .get(&invite_key)
            .map(ServerInvite::state);
        let status = match invite_state {
            Some(_) => StatusCode::OK,
            None => StatusCode::CallTransactionDoesNotExist,
        };
        let mut tx = ServerNonInvite::new(reply_to);
        // A fresh Trying transaction always accepts its first final response.
        let _ = tx.on_tu_response(response_to(&cancel, status), &mut ctx);
        self.txs.server_non_invite.insert(key.clone(), tx);
        self.settle(&key);
        if invite_state == Some(ServerInviteState::Proceeding) {
            self.out.events.push_back(TxEvent::Cancelled {
                invite: invite_key,
                cancel,
            });
        }
    }

    pub(super) fn handle_response(&mut self, response: Response, now: Instant) {
        // §18.1.2: a response with more than one Via was not meant for us.
        if response.status_code.kind() == StatusCodeKind::Other || response.has_multiple_vias() {
            self.out.stats.malformed += 1;
            return;
        }
        let branch = TopVia::of(&response.headers).and_then(|v| v.branch);
        let (Some(branch), Some((_, method))) = (branch, cseq(&response.headers)) else {
            self.out.stats.stray_responses += 1;
            return;
        };
        let key = TxKey::client(branch, method);
        let mut ctx = self.out.ctx(now, &key);
        if method == Method::Invite {
            let Some(tx) = self.txs.client_invite.get_mut(&key) else {
                self.out.stats.stray_responses += 1;
                return;
            };
            tx.on_response(response, &mut ctx);
            self.start_pending_cancel(&key, now);
        } else {
            let Some(tx) = self.txs.client_non_invite.get_mut(&key) else {
                self.out.stats.stray_responses += 1;
                return;
            };
            tx.on_response(response, &mut ctx);
        }
        self.settle(&key);
    }

    fn reply_stateless(&mut self, request: &Request, status: StatusCode, dest: Peer) {
        let response = response_to(request, status);
        self.send_stateless(SipMessage::Response(response), dest);
    }
}

/// Call-ID, From and To are needed to answer at all and to match ACKs and CANCELs.
fn has_dialog_ids(request: &Request) -> bool {
    let (mut call_id, mut from, mut to) = (false, false, false);
    for h in request.headers.iter() {
        match h {
            Header::CallId(_) => call_id = true,
            Header::From(_) => from = true,
            Header::To(_) => to = true,
            _ => {}
        }
    }
    call_id && from && to
}

/// §17.2.3 fallback for RFC 2543 requests: a transaction id from the fields an INVITE,
/// its CANCEL and the ACK for a non-2xx share. The prefix cannot start with `z9hG4bK`,
/// so it never collides with a real branch.
fn rfc2543_branch(request: &Request, seq: u32) -> String {
    format!(
        "rfc2543;{};{};{};{}",
        call_id_or_empty(&request.headers),
        from_tag(&request.headers).unwrap_or_default(),
        seq,
        request.uri
    )
}
