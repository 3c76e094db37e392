//! The user-agent core (RFC 3261 §8.2, §12.2.2): the transaction layer, the registrar,
//! and the routing of what arrives to whoever owns it. Like quinn's `Endpoint`, it keeps
//! the shared tables and hands each event to the one it belongs to; it knows nothing of
//! calls, only of owners (`O`, the switchboard's "this call, this leg").
//!
//! | arrives                                   | goes to                               |
//! |-------------------------------------------|---------------------------------------|
//! | INVITE, REGISTER, OPTIONS over the source's rate | 503 + Retry-After sent statelessly (OPTIONS: dropped), no state kept |
//! | INVITE, no To tag                         | `UaEvent::NewInvite` (the owner-to-be)|
//! | any request with a To tag, dialog bound   | `UaEvent::InDialog` to its owner      |
//! | any request with a To tag, no dialog      | 481                                   |
//! | OPTIONS outside a dialog                  | 200 with Allow / Accept               |
//! | BYE, INFO, UPDATE, PRACK, NOTIFY, CANCEL outside a dialog | 481                   |
//! | REGISTER                                  | the registrar (answers may be held back to slow down guessing) |
//! | MESSAGE, SUBSCRIBE, PUBLISH, REFER        | 405 with Allow                        |
//! | a method we do not know                   | 501 with Allow (from the framer)      |
//! | a request from a known scanner            | nothing (dropped, counted)            |
//! | a scheme, Require, body or Accept we cannot serve | 416/420/415/406 (`inspect`)   |
//! | a response, a timeout, an ACK, a CANCEL   | the owner of its transaction          |
//!
//! Run loop: `handle_datagram` / `handle_message` / `handle_timeout` in, then
//! `poll_event` until `None`; `poll_timeout` for the next deadline. Owners answer and send
//! through `respond`, `send_request`, `send_ack`, `cancel`, and tell the core which
//! dialogs and server INVITEs are theirs (`bind_dialog`, `bind_invite`).
//!
//! Invariants: a routed event names exactly one owner; a client transaction's owner hears
//! `Ended` once, when it terminates, and the route is dropped then; nothing from the
//! network can panic.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::hash::Hash;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::SeedableRng;

use super::factory::{Factory, ALLOW};
use super::inspect;
use super::message::{self, Datagram, FrameError, Method, Request, Response, SipMessage};
use super::rate::{Limited, RateLimits, RequestKind, SourceLimiter};
use super::registrar::{Account, BindingEvent, Registrar, RegistrarPolicy, RegistrarStats};
use super::scanner;
use super::transaction::{TimerConfig, TransactionLayer, TxError, TxEvent, TxKey, TxStats};
use super::{Peer, Spare};

/// A dialog as the core routes it: Call-ID and our tag (the peer's tag is checked by the
/// owner's dialog).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DialogKey {
    pub call_id: String,
    pub local_tag: String,
}

/// What the core hands to its surroundings.
#[derive(Debug, Clone, PartialEq)]
pub enum UaEvent<O> {
    /// Bytes to put on the wire.
    Transmit { peer: Peer, data: Vec<u8> },
    /// A new INVITE outside any dialog (100 Trying already sent).
    NewInvite {
        key: TxKey,
        request: Request,
        source: Peer,
    },
    /// A request inside a dialog bound to `owner`.
    InDialog {
        owner: O,
        key: TxKey,
        request: Request,
    },
    /// The ACK for our 2xx on the owner's INVITE arrived.
    Acked { owner: O },
    /// CANCEL for the owner's INVITE (already answered 200): answer the INVITE 487.
    Cancelled { owner: O, invite: TxKey },
    /// Our 2xx on the owner's INVITE was never ACKed (§13.3.1.4).
    AckTimeout { owner: O },
    /// A response on one of the owner's client transactions.
    Response {
        owner: O,
        key: TxKey,
        response: Response,
    },
    /// One of the owner's client transactions got no final response (Timer B/F).
    Timeout { owner: O, key: TxKey },
    /// One of the owner's client transactions is over: nothing more will come on it.
    Ended { owner: O, key: TxKey },
    /// An operator's registration changed.
    Binding(BindingEvent),
}

/// SIP traffic counted for metrics, by method and status.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SipCounters {
    /// Requests received, by method.
    pub requests_in: BTreeMap<String, u64>,
    /// Responses received (to our requests), by status code.
    pub responses_in: BTreeMap<u16, u64>,
    /// Responses we sent, by status code.
    pub responses_out: BTreeMap<u16, u64>,
    /// Datagrams received.
    pub datagrams: u64,
    /// Keep-alives (CRLF) received.
    pub keepalives: u64,
    /// Unreadable input answered (400, 501, 505, 513).
    pub bad_answered: u64,
    /// Unreadable input that could not be answered.
    pub bad_dropped: u64,
    /// Requests refused (INVITE, REGISTER: 503) or dropped (OPTIONS) over their source's
    /// rate, by kind.
    pub rate_limited: BTreeMap<&'static str, u64>,
    /// Requests from known scanners, dropped unanswered.
    pub scanners_dropped: u64,
}

fn bump<K: Ord>(map: &mut BTreeMap<K, u64>, key: K) {
    *map.entry(key).or_insert(0) += 1;
}

/// The core itself.
pub struct UserAgent<O> {
    tx: TransactionLayer,
    registrar: Registrar,
    factory: Factory,
    dialogs: HashMap<DialogKey, O>,
    /// Client transactions and server INVITEs, by owner.
    owners: HashMap<TxKey, O>,
    /// Responses held back on purpose (registrar tarpit), sent at their instant.
    held: Vec<(Instant, TxKey, Response)>,
    /// The ACK sent for the 2xx of each of our INVITEs, sent again for each retransmitted
    /// 2xx until the transaction ends (§13.2.2.4: the UAC core ACKs every 2xx).
    acks: HashMap<TxKey, (Request, Peer)>,
    events: VecDeque<UaEvent<O>>,
    counters: SipCounters,
    rng: SmallRng,
    limiter: SourceLimiter,
    /// Whether a source is a trunk (its INVITEs get the trunk's rate).
    trusted: TrustedSources,
    /// When the rate buckets are next swept of refilled ones.
    next_sweep: Instant,
}

/// Tells trunk sources apart (the owner knows the trunk; the core does not).
pub type TrustedSources = Box<dyn Fn(IpAddr) -> bool + Send + Sync>;

/// How often refilled rate buckets are forgotten, so a flood's sources do not stay.
const SWEEP_EVERY: Duration = Duration::from_secs(10);

impl<O: Copy + Eq + Hash + std::fmt::Debug> UserAgent<O> {
    pub fn new(
        timers: TimerConfig,
        factory: Factory,
        policy: RegistrarPolicy,
        accounts: Vec<Account>,
        seed: u64,
        now: Instant,
    ) -> UserAgent<O> {
        UserAgent {
            tx: TransactionLayer::new(timers),
            registrar: Registrar::new(policy, accounts, seed, now),
            factory,
            dialogs: HashMap::new(),
            owners: HashMap::new(),
            held: Vec::new(),
            acks: HashMap::new(),
            events: VecDeque::new(),
            counters: SipCounters::default(),
            rng: SmallRng::seed_from_u64(seed ^ 0x5eed_0a11),
            limiter: SourceLimiter::new(RateLimits::OFF),
            trusted: Box::new(|_| false),
            next_sweep: now + SWEEP_EVERY,
        }
    }

    /// Per-source rates for INVITE, REGISTER and OPTIONS; `trusted` says which sources
    /// are trunks. Buckets already kept keep their tokens.
    pub fn set_rate_limits(&mut self, limits: RateLimits, trusted: TrustedSources) {
        self.limiter.set_limits(limits);
        self.trusted = trusted;
    }

    /// How our messages are spelled.
    pub fn factory(&self) -> &Factory {
        &self.factory
    }

    /// The operators' registrations.
    pub fn registrar(&self) -> &Registrar {
        &self.registrar
    }

    // ---- inputs ----

    /// A UDP datagram arrived.
    pub fn handle_datagram(&mut self, data: &[u8], source: Peer, now: Instant) {
        self.counters.datagrams += 1;
        match message::parse_datagram(data) {
            Ok(Datagram::Message(msg)) => self.handle_message(msg, source, now),
            Ok(Datagram::KeepAlive) => self.counters.keepalives += 1,
            Err(e) => self.answer_unparseable(data, &e, source),
        }
    }

    /// A whole SIP message arrived (from the TCP framer, or a parsed datagram).
    pub fn handle_message(&mut self, msg: SipMessage, source: Peer, now: Instant) {
        if matches!(&msg, SipMessage::Request(req) if scanner::is_scanner(req)) {
            self.counters.scanners_dropped += 1;
            tracing::debug!(%source, "request from a known scanner dropped");
            return;
        }
        // The transaction layer stamps `received`/`rport` into the top Via (RFC 3581).
        self.tx.handle_message(msg, source, now);
        self.pump(now);
    }

    /// Input that was not a SIP message we can read: answer it (400, 501 for an unknown
    /// method, 505, 513) when there is enough to address a response, else drop and count.
    pub fn answer_unparseable(&mut self, data: &[u8], why: &FrameError, source: Peer) {
        if scanner::bytes_are_scanner(data) {
            self.counters.scanners_dropped += 1;
            return;
        }
        // §21.5.2: a 501 says what we do implement.
        let allow: &[(&str, &str)] = match why.status() {
            501 => &[("Allow", ALLOW)],
            _ => &[],
        };
        match message::error_response_with(data, why.status(), &why.reason(), allow) {
            Some(bytes) => {
                self.counters.bad_answered += 1;
                // Unparsed means no trustworthy Via: answer the flow it came on.
                self.events.push_back(UaEvent::Transmit {
                    peer: source,
                    data: bytes,
                });
            }
            None => self.counters.bad_dropped += 1,
        }
        tracing::debug!(%source, %why, "unparseable SIP input");
    }

    /// Fire due timers: transactions, registrations, held responses.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.next_sweep <= now {
            self.limiter.sweep(now);
            self.next_sweep = now + SWEEP_EVERY;
        }
        self.tx.handle_timeout(now);
        for event in self.registrar.handle_timeout(now) {
            self.events.push_back(UaEvent::Binding(event));
        }
        let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.held)
            .into_iter()
            .partition(|held| held.0 <= now);
        self.held = later;
        for (_, key, response) in due {
            self.respond(&key, response, now);
        }
        self.pump(now);
    }

    /// A new set of operator accounts (configuration reload).
    pub fn set_accounts(&mut self, accounts: Vec<Account>, now: Instant) {
        for event in self.registrar.set_accounts(accounts, now) {
            self.events.push_back(UaEvent::Binding(event));
        }
    }

    /// Authenticates an operator's own request (a feature-code INVITE): the operator id,
    /// or the challenge (401) or refusal (403) to answer with.
    pub fn authenticate(
        &mut self,
        req: &Request,
        source: Peer,
        now: Instant,
    ) -> Result<String, Response> {
        self.registrar.authenticate(req, source, now)
    }

    // ---- outputs ----

    /// The next event, in order.
    pub fn poll_event(&mut self) -> Option<UaEvent<O>> {
        let event = self.events.pop_front();
        if event.is_none() {
            self.events.release_spare();
        }
        event
    }

    /// The next instant `handle_timeout` must be called at.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let held = self.held.iter().map(|h| h.0).min();
        // The sweep only matters while buckets are kept.
        let sweep = (!self.limiter.is_empty()).then_some(self.next_sweep);
        [
            self.tx.poll_timeout(),
            self.registrar.poll_timeout(),
            held,
            sweep,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    // ---- what owners do ----

    /// Answer a server transaction.
    pub fn respond(&mut self, key: &TxKey, response: Response, now: Instant) {
        bump(
            &mut self.counters.responses_out,
            response.status_code.code(),
        );
        if let Err(e) = self.tx.respond(key, response, now) {
            tracing::debug!(error = %e, "response not sent: transaction gone");
        }
        self.pump(now);
    }

    /// Start a client transaction for `owner`; its responses, timeout and end go to it.
    pub fn send_request(
        &mut self,
        request: Request,
        dest: Peer,
        owner: O,
        now: Instant,
    ) -> Result<TxKey, TxError> {
        let key = self.tx.send_request(request, dest, now)?;
        self.owners.insert(key.clone(), owner);
        self.pump(now);
        Ok(key)
    }

    /// ACK the 2xx to our INVITE `invite` (no transaction of its own, §17.1.1.3). The
    /// core sends it again for every retransmission of that 2xx, without troubling the
    /// owner, until the INVITE transaction ends.
    pub fn send_ack(&mut self, invite: &TxKey, ack: Request, dest: Peer, now: Instant) {
        self.acks.insert(invite.clone(), (ack.clone(), dest));
        self.tx.send_stateless(SipMessage::Request(ack), dest);
        self.pump(now);
    }

    /// CANCEL a client INVITE (sent once a provisional response has arrived).
    pub fn cancel(&mut self, invite: &TxKey, now: Instant) -> Result<(), TxError> {
        let result = self.tx.cancel(invite, now);
        self.pump(now);
        result
    }

    /// Requests carrying this dialog's Call-ID and our tag go to `owner`.
    pub fn bind_dialog(&mut self, key: DialogKey, owner: O) {
        self.dialogs.insert(key, owner);
    }

    /// The dialog is over: its requests are answered 481 from now on.
    pub fn unbind_dialog(&mut self, key: &DialogKey) {
        self.dialogs.remove(key);
        self.dialogs.release_spare();
    }

    /// CANCEL, the ACK and the ACK timeout of this server INVITE go to `owner`.
    pub fn bind_invite(&mut self, key: TxKey, owner: O) {
        self.owners.insert(key, owner);
    }

    // ---- reads ----

    pub fn counters(&self) -> &SipCounters {
        &self.counters
    }

    pub fn tx_stats(&self) -> TxStats {
        self.tx.stats()
    }

    pub fn registrar_stats(&self) -> RegistrarStats {
        self.registrar.stats()
    }

    /// Live transactions.
    pub fn transactions(&self) -> usize {
        self.tx.len()
    }

    /// Dialogs bound to owners.
    pub fn dialogs(&self) -> usize {
        self.dialogs.len()
    }

    // ---- routing ----

    /// Move the transaction layer's output into ours, answering what needs no owner.
    fn pump(&mut self, now: Instant) {
        while let Some(event) = self.tx.poll_event() {
            self.route(event, now);
        }
    }

    fn route(&mut self, event: TxEvent, now: Instant) {
        let owner = |owners: &HashMap<TxKey, O>, key: &TxKey| owners.get(key).copied();
        match event {
            TxEvent::Transmit { peer, data } => {
                self.events.push_back(UaEvent::Transmit { peer, data })
            }
            TxEvent::Request {
                key,
                request,
                source,
            } => {
                bump(&mut self.counters.requests_in, request.method.to_string());
                self.on_request(key, request, source, now);
            }
            TxEvent::AckFor2xx { invite, .. } => {
                if let Some(owner) = owner(&self.owners, &invite) {
                    self.events.push_back(UaEvent::Acked { owner });
                }
            }
            TxEvent::StrayAck { .. } => {}
            TxEvent::Cancelled { invite, .. } => {
                if let Some(owner) = owner(&self.owners, &invite) {
                    self.events.push_back(UaEvent::Cancelled { owner, invite });
                }
            }
            TxEvent::Response { key, response } => {
                bump(&mut self.counters.responses_in, response.status_code.code());
                let success = (200..300).contains(&response.status_code.code());
                if let Some((ack, dest)) = self.acks.get(&key).filter(|_| success) {
                    // A retransmitted 2xx: our ACK was lost.
                    let (ack, dest) = (ack.clone(), *dest);
                    self.tx.send_stateless(SipMessage::Request(ack), dest);
                    return;
                }
                if let Some(owner) = owner(&self.owners, &key) {
                    self.events.push_back(UaEvent::Response {
                        owner,
                        key,
                        response,
                    });
                }
            }
            TxEvent::Timeout { key } => {
                if let Some(owner) = owner(&self.owners, &key) {
                    self.events.push_back(UaEvent::Timeout { owner, key });
                }
            }
            TxEvent::AckTimeout { invite } => {
                if let Some(owner) = owner(&self.owners, &invite) {
                    self.events.push_back(UaEvent::AckTimeout { owner });
                }
            }
            TxEvent::Terminated { key } => {
                self.acks.remove(&key);
                self.acks.release_spare();
                if let Some(owner) = self.owners.remove(&key) {
                    self.owners.release_spare();
                    if !key.is_server() {
                        self.events.push_back(UaEvent::Ended { owner, key });
                    }
                }
            }
        }
    }

    fn on_request(&mut self, key: TxKey, req: Request, source: Peer, now: Instant) {
        // §8.2.1 first: methods we do not take get their 405 below, whatever else is wrong.
        let taken = !matches!(
            req.method,
            Method::Message | Method::Subscribe | Method::Publish | Method::Refer
        );
        if let Some(refusal) = inspect::inspect(&req).filter(|_| taken) {
            let tag = match message::to_tag(&req) {
                Ok(Some(_)) => None,
                _ => Some(message::new_tag(&mut self.rng)),
            };
            let resp = self
                .factory
                .inspection_refusal(&req, &refusal, tag.as_deref());
            self.respond(&key, resp, now);
            return;
        }
        if let Ok(Some(local_tag)) = message::to_tag(&req) {
            let dialog = DialogKey {
                call_id: message::call_id(&req).unwrap_or_default().to_string(),
                local_tag,
            };
            match self.dialogs.get(&dialog).copied() {
                Some(owner) => self.events.push_back(UaEvent::InDialog {
                    owner,
                    key,
                    request: req,
                }),
                None => {
                    let resp = self.factory.reply(&req, 481, None);
                    self.respond(&key, resp, now);
                }
            }
            return;
        }
        if let Err(limited) = self.check_rate(&req, source, now) {
            return self.refuse_over_rate(&key, &req, source, limited);
        }
        match req.method {
            Method::Invite => self.events.push_back(UaEvent::NewInvite {
                key,
                request: req,
                source,
            }),
            Method::Options => {
                let tag = message::new_tag(&mut self.rng);
                let resp = self.factory.options(&req, &tag);
                self.respond(&key, resp, now);
            }
            Method::Ack => {}
            Method::Bye
            | Method::Cancel
            | Method::Info
            | Method::Update
            | Method::PRack
            | Method::Notify => {
                let resp = self.factory.reply(&req, 481, None);
                self.respond(&key, resp, now);
            }
            Method::Register => {
                let outcome = self.registrar.handle_register(&req, source, now);
                for event in outcome.events {
                    self.events.push_back(UaEvent::Binding(event));
                }
                match outcome.delay {
                    Some(d) => self.held.push((now + d, key, outcome.response)),
                    None => self.respond(&key, outcome.response, now),
                }
            }
            Method::Message | Method::Subscribe | Method::Publish | Method::Refer => {
                let tag = message::new_tag(&mut self.rng);
                let resp = self.factory.not_allowed(&req, Some(&tag));
                self.respond(&key, resp, now);
            }
        }
    }

    /// A request outside any dialog takes a token from its source's bucket.
    fn check_rate(&mut self, req: &Request, source: Peer, now: Instant) -> Result<(), Limited> {
        let ip = source.addr.ip();
        let kind = match req.method {
            Method::Invite if (self.trusted)(ip) => RequestKind::TrunkInvite,
            Method::Invite => RequestKind::Invite,
            Method::Register => RequestKind::Register,
            Method::Options => RequestKind::Options,
            _ => return Ok(()),
        };
        self.limiter.check(kind, ip, now)
    }

    /// Over the rate: nothing is kept. INVITE and REGISTER get a stateless 503 with
    /// Retry-After (a real client backs off; a retransmission is simply judged again);
    /// OPTIONS is dropped, because answering a ping flood only feeds it and a legitimate
    /// pinger that loses one ping sees no more than packet loss.
    fn refuse_over_rate(&mut self, key: &TxKey, req: &Request, source: Peer, limited: Limited) {
        self.tx.discard(key);
        bump(&mut self.counters.rate_limited, limited.kind.as_str());
        tracing::debug!(%source, kind = limited.kind.as_str(), "request over its source's rate");
        if limited.kind == RequestKind::Options {
            return;
        }
        let tag = message::new_tag(&mut self.rng);
        let resp = self
            .factory
            .retry_after(req, 503, &tag, limited.retry_after_s);
        bump(&mut self.counters.responses_out, 503);
        // No transaction and an unverified Via: answer the flow it came on.
        // The routing loop (`pump`) moves it out with the layer's other output.
        self.tx.send_stateless(SipMessage::Response(resp), source);
    }
}

#[cfg(test)]
mod tests;
