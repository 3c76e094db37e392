//! The SIP transaction layer, sans-IO: RFC 3261 §17 with the RFC 6026 corrections.
//!
//! Run loop (the engine owns one [`TransactionLayer`]):
//! 1. feed every parsed message with [`TransactionLayer::handle_message`], and TU
//!    decisions with [`TransactionLayer::respond`], [`TransactionLayer::send_request`],
//!    [`TransactionLayer::cancel`];
//! 2. when the clock reaches [`TransactionLayer::poll_timeout`], call
//!    [`TransactionLayer::handle_timeout`];
//! 3. after each input drain [`TransactionLayer::poll_event`]: bytes to send and events
//!    for the TU, in the order they happened.
//!
//! Matching (§17.2.3, §17.1.3): server transactions by top-Via branch, sent-by and method
//! (ACK joins its INVITE; CANCEL gets its own transaction linked to the INVITE with the
//! same branch); client transactions by branch and CSeq method. An ACK for our 2xx carries
//! a new branch, so it is matched by Call-ID, CSeq number, From tag and our To tag.
//!
//! RFC 2543 peers (no `z9hG4bK` branch) are matched loosely: the key is built from
//! Call-ID, From tag, CSeq number and Request-URI (§17.2.3's fallback without the To tag
//! and Via comparison), which keeps INVITE, its CANCEL and the ACK for a non-2xx together.
//!
//! Invariants: nothing here reads a clock or touches a socket; no input can panic;
//! transactions live in four maps, one per state machine type, and leave them as soon as
//! they reach Terminated (then `Terminated` is reported, except for the layer's own
//! CANCEL transactions, which the TU never sees); the timer queue's head is never stale,
//! so `poll_timeout` is exact.

mod client_invite;
mod client_non_invite;
mod event;
mod inbound;
mod server_invite;
mod server_non_invite;
pub mod timer;
mod util;

#[cfg(test)]
mod client_tests;
#[cfg(test)]
mod server_invite_tests;
#[cfg(test)]
mod server_tests;
#[cfg(test)]
mod test_support;

use std::collections::{HashMap, VecDeque};
use std::time::Instant;

use rsipstack::sip::{Method, Request, Response, SipMessage, StatusCodeKind};

use self::client_invite::ClientInvite;
use self::client_non_invite::ClientNonInvite;
use self::server_invite::ServerInvite;
use self::server_non_invite::ServerNonInvite;
use self::timer::{TimerQueue, TimerTable};
use self::util::{cseq, request_bytes, response_bytes, TopVia};
use crate::sip::{Peer, Spare};

pub use self::event::{TxError, TxEvent, TxStats};
pub use self::timer::{Timer, TimerConfig};

/// Identifies one transaction. Opaque apart from a few getters for logging.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct TxKey {
    role: Role,
    branch: String,
    /// Normalised sent-by of the top Via for server transactions (§17.2.3); empty for
    /// client ones, where the Via is ours.
    sent_by: String,
    /// INVITE for an INVITE transaction and its ACK; otherwise the request method.
    method: Method,
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Role {
    Server,
    Client,
}

impl TxKey {
    fn server(branch: String, sent_by: String, method: Method) -> TxKey {
        TxKey {
            role: Role::Server,
            branch,
            sent_by,
            method,
        }
    }

    fn client(branch: String, method: Method) -> TxKey {
        TxKey {
            role: Role::Client,
            branch,
            sent_by: String::new(),
            method,
        }
    }

    fn with_method(&self, method: Method) -> TxKey {
        TxKey {
            method,
            ..self.clone()
        }
    }

    /// The method of the transaction's request.
    pub fn method(&self) -> Method {
        self.method
    }

    /// The top-Via branch (for RFC 2543 peers, a key derived from the request).
    pub fn branch(&self) -> &str {
        &self.branch
    }

    /// Whether we received the request (server) or sent it (client).
    pub fn is_server(&self) -> bool {
        self.role == Role::Server
    }

    /// CANCEL transactions are run by the layer itself and never reported to the TU.
    fn is_internal(&self) -> bool {
        self.method == Method::Cancel
    }
}

/// What a state machine may do while handling one input: send, tell the TU, count.
pub(crate) struct Ctx<'a> {
    pub(crate) now: Instant,
    pub(crate) config: &'a TimerConfig,
    pub(crate) stats: &'a mut TxStats,
    events: &'a mut VecDeque<TxEvent>,
    /// Set for the layer's own CANCEL transactions: their news stays inside.
    silent: bool,
}

impl Ctx<'_> {
    pub(crate) fn transmit(&mut self, peer: Peer, data: Vec<u8>) {
        self.events.push_back(TxEvent::Transmit { peer, data });
    }

    pub(crate) fn retransmit(&mut self, peer: Peer, data: Vec<u8>) {
        self.stats.retransmissions_sent += 1;
        self.transmit(peer, data);
    }

    pub(crate) fn emit(&mut self, event: TxEvent) {
        if !self.silent {
            self.events.push_back(event);
        }
    }
}

/// The parts of the layer every input writes to.
#[derive(Debug)]
struct Output {
    config: TimerConfig,
    events: VecDeque<TxEvent>,
    stats: TxStats,
}

impl Output {
    fn ctx(&mut self, now: Instant, key: &TxKey) -> Ctx<'_> {
        Ctx {
            now,
            config: &self.config,
            stats: &mut self.stats,
            events: &mut self.events,
            silent: key.is_internal(),
        }
    }
}

/// The four machine types share this much, so the layer can settle them alike.
trait Machine {
    fn timers_mut(&mut self) -> &mut TimerTable;
    fn timers(&self) -> &TimerTable;
    fn terminated(&self) -> bool;
}

macro_rules! machine {
    ($t:ty) => {
        impl Machine for $t {
            fn timers_mut(&mut self) -> &mut TimerTable {
                &mut self.timers
            }
            fn timers(&self) -> &TimerTable {
                &self.timers
            }
            fn terminated(&self) -> bool {
                self.is_terminated()
            }
        }
    };
}
machine!(ServerInvite);
machine!(ServerNonInvite);
machine!(ClientInvite);
machine!(ClientNonInvite);

/// Live transactions, one map per state machine.
#[derive(Debug, Default)]
struct Transactions {
    server_invite: HashMap<TxKey, ServerInvite>,
    server_non_invite: HashMap<TxKey, ServerNonInvite>,
    client_invite: HashMap<TxKey, ClientInvite>,
    client_non_invite: HashMap<TxKey, ClientNonInvite>,
}

impl Transactions {
    fn deadline(&self, key: &TxKey, timer: Timer) -> Option<std::time::Instant> {
        let table = match (key.role, key.method == Method::Invite) {
            (Role::Server, true) => self.server_invite.get(key).map(Machine::timers),
            (Role::Server, false) => self.server_non_invite.get(key).map(Machine::timers),
            (Role::Client, true) => self.client_invite.get(key).map(Machine::timers),
            (Role::Client, false) => self.client_non_invite.get(key).map(Machine::timers),
        };
        table.and_then(|t| t.get(timer))
    }

    fn len(&self) -> usize {
        self.server_invite.len()
            + self.server_non_invite.len()
            + self.client_invite.len()
            + self.client_non_invite.len()
    }
}

/// Dialog identifiers of a 2xx we sent; the ACK for it carries the same (§17.2.3 does
/// not cover it: that ACK is a transaction of its own, §13.3.1.4).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct AckMatch {
    call_id: String,
    cseq: u32,
    from_tag: String,
    to_tag: String,
}

impl AckMatch {
    fn of(headers: &rsipstack::sip::Headers) -> Option<AckMatch> {
        Some(AckMatch {
            call_id: util::call_id(headers)?.to_string(),
            cseq: cseq(headers)?.0,
            from_tag: util::from_tag(headers).unwrap_or_default(),
            to_tag: util::to_tag(headers).unwrap_or_default(),
        })
    }
}

/// Pushes newly armed timers into the queue and removes the transaction if it ended.
/// Returns whether it was removed.
fn settle<M: Machine>(
    map: &mut HashMap<TxKey, M>,
    key: &TxKey,
    queue: &mut TimerQueue,
    out: &mut Output,
) -> bool {
    let Some(tx) = map.get_mut(key) else {
        return false;
    };
    for (timer, at) in tx.timers_mut().take_armed() {
        queue.push(key.clone(), timer, at);
    }
    if !tx.terminated() {
        return false;
    }
    map.remove(key);
    if !key.is_internal() {
        out.events
            .push_back(TxEvent::Terminated { key: key.clone() });
    }
    true
}

/// RFC 3261 transactions for one SIP endpoint.
#[derive(Debug)]
pub struct TransactionLayer {
    txs: Transactions,
    /// 2xx responses of INVITE server transactions awaiting (or having had) their ACK.
    acks: HashMap<AckMatch, TxKey>,
    ack_of: HashMap<TxKey, AckMatch>,
    timers: TimerQueue,
    out: Output,
}

impl TransactionLayer {
    /// A layer with the given base intervals (T1 is raised to at least 1 ms, T2 to T1).
    pub fn new(config: TimerConfig) -> Self {
        TransactionLayer {
            txs: Transactions::default(),
            acks: HashMap::new(),
            ack_of: HashMap::new(),
            timers: TimerQueue::default(),
            out: Output {
                config: config.sanitized(),
                events: VecDeque::new(),
                stats: TxStats::default(),
            },
        }
    }

    /// A parsed message arrived from `source`.
    pub fn handle_message(&mut self, msg: SipMessage, source: Peer, now: Instant) {
        match msg {
            SipMessage::Request(request) => self.handle_request(request, source, now),
            SipMessage::Response(response) => self.handle_response(response, now),
        }
        self.prune();
    }

    /// Fire every timer due at or before `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some((key, timer, at)) = self.timers.pop_due(now) {
            if self.txs.deadline(&key, timer) != Some(at) {
                continue;
            }
            self.fire(&key, timer, now);
        }
        self.prune();
    }

    fn fire(&mut self, key: &TxKey, timer: Timer, now: Instant) {
        let mut ctx = self.out.ctx(now, key);
        match (key.role, key.method == Method::Invite) {
            (Role::Server, true) => {
                if let Some(tx) = self.txs.server_invite.get_mut(key) {
                    tx.timers.disarm(timer);
                    tx.on_timer(timer, &mut ctx);
                }
            }
            (Role::Server, false) => {
                if let Some(tx) = self.txs.server_non_invite.get_mut(key) {
                    tx.timers.disarm(timer);
                    tx.on_timer(timer, &mut ctx);
                }
            }
            (Role::Client, true) => {
                if let Some(tx) = self.txs.client_invite.get_mut(key) {
                    tx.timers.disarm(timer);
                    tx.on_timer(timer, &mut ctx);
                }
            }
            (Role::Client, false) => {
                if let Some(tx) = self.txs.client_non_invite.get_mut(key) {
                    tx.timers.disarm(timer);
                    tx.on_timer(timer, &mut ctx);
                }
            }
        }
        self.settle(key);
    }

    /// The earliest pending timer.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.peek()
    }

    /// The next thing to send or tell the TU.
    pub fn poll_event(&mut self) -> Option<TxEvent> {
        self.out.events.pop_front()
    }

    /// Counters since creation.
    pub fn stats(&self) -> TxStats {
        self.out.stats
    }

    /// Forget a server transaction the TU will not answer through the layer: a request
    /// refused statelessly or dropped under a flood, which must leave no state behind.
    /// Nothing is sent and no `Terminated` is reported; its queued timers go stale.
    pub fn discard(&mut self, key: &TxKey) {
        self.txs.server_invite.remove(key);
        self.txs.server_non_invite.remove(key);
    }

    /// Live transactions (all four kinds, including the layer's own CANCELs).
    pub fn len(&self) -> usize {
        self.txs.len()
    }

    /// Whether no transaction is alive.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The TU answers a server transaction. Responses go to where the request came from
    /// (§18.2.2: TCP → the same flow; UDP with `rport` in the top Via → source addr+port;
    /// UDP without rport → source IP with the Via sent-by port, default 5060).
    pub fn respond(
        &mut self,
        key: &TxKey,
        response: Response,
        now: Instant,
    ) -> Result<(), TxError> {
        if key.role != Role::Server {
            return Err(TxError::UnknownTransaction);
        }
        let code = response.status_code.code();
        if response.status_code.kind() == StatusCodeKind::Other {
            return Err(TxError::InvalidStatus(code));
        }
        let mut ctx = self.out.ctx(now, key);
        if key.method == Method::Invite {
            let tx = self
                .txs
                .server_invite
                .get_mut(key)
                .ok_or(TxError::UnknownTransaction)?;
            let ack_match = (response.status_code.kind() == StatusCodeKind::Successful)
                .then(|| AckMatch::of(&response.headers))
                .flatten();
            tx.on_tu_response(response, &mut ctx)?;
            if let Some(m) = ack_match {
                if let Some(old) = self.ack_of.insert(key.clone(), m.clone()) {
                    self.acks.remove(&old);
                }
                self.acks.insert(m, key.clone());
            }
        } else {
            let tx = self
                .txs
                .server_non_invite
                .get_mut(key)
                .ok_or(TxError::UnknownTransaction)?;
            tx.on_tu_response(response, &mut ctx)?;
        }
        self.settle(key);
        self.prune();
        Ok(())
    }

    /// Start a client transaction (INVITE → client INVITE, anything else but ACK and
    /// CANCEL → non-INVITE). The request must carry its top Via with a `z9hG4bK` branch.
    pub fn send_request(
        &mut self,
        request: Request,
        dest: Peer,
        now: Instant,
    ) -> Result<TxKey, TxError> {
        if matches!(request.method, Method::Ack | Method::Cancel) {
            return Err(TxError::MethodNotAllowed(request.method));
        }
        let via = TopVia::of(&request.headers).ok_or(TxError::MissingBranch)?;
        let branch = via
            .rfc3261_branch()
            .ok_or(TxError::MissingBranch)?
            .to_string();
        match cseq(&request.headers) {
            Some((_, method)) if method == request.method => {}
            _ => return Err(TxError::BadCSeq),
        }
        let key = TxKey::client(branch, request.method);
        if self.txs.client_invite.contains_key(&key)
            || self.txs.client_non_invite.contains_key(&key)
        {
            return Err(TxError::DuplicateTransaction);
        }
        let mut ctx = self.out.ctx(now, &key);
        if request.method == Method::Invite {
            let tx = ClientInvite::new(key.clone(), request, dest, &mut ctx);
            self.txs.client_invite.insert(key.clone(), tx);
        } else {
            let tx = ClientNonInvite::new(key.clone(), request, dest, &mut ctx);
            self.txs.client_non_invite.insert(key.clone(), tx);
        }
        self.settle(&key);
        self.prune();
        Ok(key)
    }

    /// Send without a transaction (ACK for a 2xx, stateless replies).
    pub fn send_stateless(&mut self, msg: SipMessage, dest: Peer) {
        let data = match msg {
            SipMessage::Request(r) => request_bytes(r),
            SipMessage::Response(r) => response_bytes(r),
        };
        self.out
            .events
            .push_back(TxEvent::Transmit { peer: dest, data });
    }

    /// CANCEL a client INVITE (§9.1): the CANCEL goes out in its own non-INVITE client
    /// transaction once a provisional response has arrived (queued until then; dropped if
    /// a final comes first). Calling it again is harmless.
    pub fn cancel(&mut self, invite: &TxKey, now: Instant) -> Result<(), TxError> {
        if invite.role != Role::Client || invite.method != Method::Invite {
            return Err(TxError::NotAnInvite);
        }
        let tx = self
            .txs
            .client_invite
            .get_mut(invite)
            .ok_or(TxError::UnknownTransaction)?;
        tx.request_cancel()?;
        self.start_pending_cancel(invite, now);
        self.settle(invite);
        self.prune();
        Ok(())
    }

    /// Sends the CANCEL of `invite` if one is waiting and may go now.
    fn start_pending_cancel(&mut self, invite: &TxKey, now: Instant) {
        let Some(tx) = self.txs.client_invite.get_mut(invite) else {
            return;
        };
        let mut ctx = self.out.ctx(now, invite);
        let Some(cancel) = tx.take_cancel(&mut ctx) else {
            return;
        };
        let dest = tx.dest();
        let key = invite.with_method(Method::Cancel);
        if self.txs.client_non_invite.contains_key(&key) {
            return;
        }
        let mut ctx = self.out.ctx(now, &key);
        let tx = ClientNonInvite::new(key.clone(), cancel, dest, &mut ctx);
        self.txs.client_non_invite.insert(key.clone(), tx);
        self.settle(&key);
    }

    /// Settles `key` in its map; drops the ACK index of a finished INVITE server tx.
    fn settle(&mut self, key: &TxKey) {
        let (queue, out) = (&mut self.timers, &mut self.out);
        let removed = match (key.role, key.method == Method::Invite) {
            (Role::Server, true) => settle(&mut self.txs.server_invite, key, queue, out),
            (Role::Server, false) => settle(&mut self.txs.server_non_invite, key, queue, out),
            (Role::Client, true) => settle(&mut self.txs.client_invite, key, queue, out),
            (Role::Client, false) => settle(&mut self.txs.client_non_invite, key, queue, out),
        };
        if removed {
            if let Some(m) = self.ack_of.remove(key) {
                self.acks.remove(&m);
            }
        }
    }

    /// Keeps the queue head live so `poll_timeout` never reports a dead deadline.
    fn prune(&mut self) {
        let txs = &self.txs;
        self.timers
            .prune(|key, timer, at| txs.deadline(key, timer) == Some(at));
        self.timers.release_spare();
        let t = &mut self.txs;
        t.server_invite.release_spare();
        t.server_non_invite.release_spare();
        t.client_invite.release_spare();
        t.client_non_invite.release_spare();
        self.acks.release_spare();
        self.ack_of.release_spare();
    }
}
