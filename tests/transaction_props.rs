//! Property tests of the SIP transaction layer (RFC 3261 §17, RFC 6026): random
//! interleavings of our requests and the peer's answers, the peer's requests and our
//! answers, retransmissions, ACKs, CANCELs and time never panic; every transaction the
//! layer reports ends exactly once (one `Terminated`), a client transaction learns its
//! fate (a final response or a timeout, never a timeout after a final), and once time has
//! run past every timer nothing is left: no transaction, no pending timer.
//!
//! `PROPTEST_CASES` raises the case count (default kept small for `cargo test`).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use hotline::sip::message::{self, Datagram, Request, SipMessage};
use hotline::sip::transaction::{TimerConfig, TransactionLayer, TxEvent, TxKey};
use hotline::sip::{Peer, Transport};
use proptest::prelude::*;

const METHODS: [&str; 3] = ["INVITE", "OPTIONS", "BYE"];
const CODES: [u16; 7] = [100, 180, 200, 200, 404, 486, 503];

#[derive(Debug, Clone)]
enum Step {
    /// We send a request (a method from `METHODS`).
    Send(usize),
    /// The peer answers our `n`-th request with a code from `CODES` (again if repeated).
    PeerAnswers(usize, usize),
    /// We CANCEL our `n`-th request (only INVITEs may be).
    Cancel(usize),
    /// The peer sends request `n` (retransmitted when repeated).
    PeerSends(usize, usize),
    /// We answer the peer's `n`-th request.
    WeAnswer(usize, usize),
    /// The peer ACKs its `n`-th request (an INVITE) after our final response.
    PeerAcks(usize),
    /// The peer CANCELs its `n`-th request.
    PeerCancels(usize),
    Advance(Duration),
}

fn step() -> impl Strategy<Value = Step> {
    let n = || 0usize..4;
    let code = || 0..CODES.len();
    prop_oneof![
        2 => (0..METHODS.len()).prop_map(Step::Send),
        3 => (n(), code()).prop_map(|(i, c)| Step::PeerAnswers(i, c)),
        1 => n().prop_map(Step::Cancel),
        2 => (n(), 0..METHODS.len()).prop_map(|(i, m)| Step::PeerSends(i, m)),
        3 => (n(), code()).prop_map(|(i, c)| Step::WeAnswer(i, c)),
        1 => n().prop_map(Step::PeerAcks),
        1 => n().prop_map(Step::PeerCancels),
        3 => prop_oneof![0u64..2_000, 2_000u64..40_000].prop_map(|ms| Step::Advance(Duration::from_millis(ms))),
    ]
}

fn peer() -> Peer {
    Peer {
        transport: Transport::Udp,
        addr: SocketAddr::from(([127, 0, 0, 1], 5080)),
    }
}

fn request_text(method: &str, branch: &str, call_id: &str, cseq_method: &str) -> String {
    format!(
        "{method} sip:x@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bK-{branch};rport\r\n\
         From: <sip:a@127.0.0.1>;tag=fa\r\nTo: <sip:x@127.0.0.1>\r\nCall-ID: {call_id}\r\n\
         CSeq: 1 {cseq_method}\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    )
}

fn parse_request(text: &str) -> Request {
    match message::parse_datagram(text.as_bytes()) {
        Ok(Datagram::Message(SipMessage::Request(r))) => r,
        other => panic!("test request does not parse: {other:?}"),
    }
}

/// The layer, the clock, and what each transaction has been told.
struct World {
    layer: TransactionLayer,
    now: Instant,
    ours: Vec<(TxKey, Request)>,
    theirs: Vec<Request>,
    /// Server transactions as the layer reported them, by their request's branch.
    server_keys: BTreeMap<String, TxKey>,
    /// Transactions started, by name (a server one may start again after it ended).
    started: BTreeMap<String, u32>,
    terminated: BTreeMap<String, u32>,
    finals: BTreeMap<String, u32>,
    timeouts: BTreeMap<String, u32>,
}

fn name(key: &TxKey) -> String {
    format!("{}/{}/{}", key.is_server(), key.method(), key.branch())
}

impl World {
    fn new() -> World {
        World {
            layer: TransactionLayer::new(TimerConfig::default()),
            now: Instant::now(),
            ours: Vec::new(),
            theirs: Vec::new(),
            server_keys: BTreeMap::new(),
            started: BTreeMap::new(),
            terminated: BTreeMap::new(),
            finals: BTreeMap::new(),
            timeouts: BTreeMap::new(),
        }
    }

    fn deliver(&mut self, msg: SipMessage) {
        // Through the wire format, as every message the layer meets arrives.
        let bytes = message::to_bytes(&msg);
        let Ok(Datagram::Message(msg)) = message::parse_datagram(&bytes) else {
            panic!("a message we built does not parse");
        };
        self.layer.handle_message(msg, peer(), self.now);
        self.events();
    }

    /// Takes the layer's events, checking each against what came before (a failed check
    /// panics; proptest shrinks panics like failed assertions).
    fn events(&mut self) {
        while let Some(event) = self.layer.poll_event() {
            match event {
                TxEvent::Request { key, .. } => {
                    // A copy arriving after its transaction ended starts a new one
                    // (§17.2.3); while it lives, copies are absorbed.
                    let n = name(&key);
                    let started = self.started.entry(n.clone()).or_default();
                    assert_eq!(
                        *started,
                        self.terminated.get(&n).copied().unwrap_or(0),
                        "one request reported as two live transactions"
                    );
                    *started += 1;
                    self.server_keys.insert(key.branch().to_string(), key);
                }
                TxEvent::Response { key, response } if response.status_code.code() >= 200 => {
                    assert!(
                        !self.timeouts.contains_key(&name(&key)),
                        "a final response after a timeout"
                    );
                    *self.finals.entry(name(&key)).or_default() += 1;
                }
                TxEvent::Timeout { key } => {
                    assert!(
                        !self.finals.contains_key(&name(&key)),
                        "a timeout after a final response"
                    );
                    *self.timeouts.entry(name(&key)).or_default() += 1;
                }
                TxEvent::Terminated { key } => *self.terminated.entry(name(&key)).or_default() += 1,
                _ => {}
            }
        }
    }

    fn apply(&mut self, step: &Step) {
        match *step {
            Step::Send(m) => {
                let n = self.ours.len();
                let text = request_text(
                    METHODS[m],
                    &format!("ours{n}"),
                    &format!("o{n}"),
                    METHODS[m],
                );
                let req = parse_request(&text);
                let key = self
                    .layer
                    .send_request(req.clone(), peer(), self.now)
                    .expect("a fresh, well-formed request starts a transaction");
                self.ours.push((key, req));
            }
            Step::PeerAnswers(i, c) => {
                if let Some((_, req)) = self.ours.get(i) {
                    let resp = message::response_to(req, CODES[c], Some("peer"));
                    self.deliver(SipMessage::Response(resp));
                }
            }
            Step::Cancel(i) => {
                if let Some((key, _)) = self.ours.get(i) {
                    // Refusals (not an INVITE, already final) are answers, not failures.
                    let _ = self.layer.cancel(&key.clone(), self.now);
                }
            }
            Step::PeerSends(i, m) => {
                while self.theirs.len() <= i {
                    let n = self.theirs.len();
                    let text = request_text(
                        METHODS[m],
                        &format!("theirs{n}"),
                        &format!("t{n}"),
                        METHODS[m],
                    );
                    self.theirs.push(parse_request(&text));
                }
                let req = self.theirs[i].clone();
                self.deliver(SipMessage::Request(req));
            }
            Step::WeAnswer(i, c) => {
                let Some(req) = self.theirs.get(i) else {
                    return;
                };
                let branch = format!("z9hG4bK-theirs{i}");
                let Some(key) = self.server_keys.get(&branch).cloned() else {
                    return;
                };
                let resp = message::response_to(req, CODES[c], Some("us"));
                // Answering a finished transaction is refused, never a panic.
                let _ = self.layer.respond(&key, resp, self.now);
            }
            Step::PeerAcks(i) => {
                if i < self.theirs.len() {
                    let text = request_text("ACK", &format!("theirs{i}"), &format!("t{i}"), "ACK")
                        .replace("To: <sip:x@127.0.0.1>", "To: <sip:x@127.0.0.1>;tag=us");
                    self.deliver(SipMessage::Request(parse_request(&text)));
                }
            }
            Step::PeerCancels(i) => {
                if self.theirs.get(i).is_some() {
                    let text =
                        request_text("CANCEL", &format!("theirs{i}"), &format!("t{i}"), "CANCEL");
                    self.deliver(SipMessage::Request(parse_request(&text)));
                }
            }
            Step::Advance(by) => self.advance(by),
        }
        self.events();
    }

    fn advance(&mut self, by: Duration) {
        let until = self.now + by;
        while let Some(due) = self.layer.poll_timeout().filter(|&t| t <= until) {
            self.now = self.now.max(due);
            self.layer.handle_timeout(self.now);
            self.events();
        }
        self.now = until;
    }
}

fn run(steps: &[Step]) -> Result<(), TestCaseError> {
    let mut w = World::new();
    for step in steps {
        w.apply(step);
    }
    // The TU answers whatever it left unanswered; then time runs past every timer
    // (64*T1 bounds every transaction; T4 absorbs late copies).
    let unanswered: Vec<(TxKey, Request)> = w
        .theirs
        .iter()
        .enumerate()
        .filter_map(|(i, r)| {
            w.server_keys
                .get(&format!("z9hG4bK-theirs{i}"))
                .map(|k| (k.clone(), r.clone()))
        })
        .collect();
    for (key, req) in unanswered {
        let _ = w
            .layer
            .respond(&key, message::response_to(&req, 500, Some("us")), w.now);
    }
    // And gives up on its INVITEs still ringing, as the switchboard's ring timeout does
    // (in Proceeding only a final response or a CANCEL ends one, §9.1, §17.1.1.2).
    for (key, _) in w.ours.clone() {
        let _ = w.layer.cancel(&key, w.now);
    }
    w.events();
    w.advance(Duration::from_secs(300));
    prop_assert_eq!(w.layer.len(), 0, "transactions left");
    prop_assert_eq!(w.layer.poll_timeout(), None, "timers left");
    for (key, _) in &w.ours {
        *w.started.entry(name(key)).or_default() += 1;
    }
    for (key, started) in &w.started {
        let ended = w.terminated.get(key).copied().unwrap_or(0);
        prop_assert_eq!(
            ended,
            *started,
            "{} started {} times, ended {}",
            key,
            started,
            ended
        );
        if !key.starts_with("true") {
            let told = w.finals.contains_key(key) || w.timeouts.contains_key(key);
            prop_assert!(told, "client transaction {} never learnt its fate", key);
        }
    }
    Ok(())
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(128)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn every_transaction_ends_once_and_nothing_is_left(steps in prop::collection::vec(step(), 1..40)) {
        run(&steps)?;
    }
}
