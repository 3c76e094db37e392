//! A simulated line around a `Switchboard`: a trunk with a few callers, two softphones,
//! a runtime that carries out every action as the engine does (an RTP port pool small
//! enough to run dry, recordings, register rows), and a clock that only moves when told.
//! It keeps what the peers would know (dialog tags, the last INVITE each phone got, BYEs
//! awaiting an answer) so that random steps make sense to the switchboard often enough to
//! reach deep states.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use hotline::config::Config;
use hotline::model::{Now, RegisterWrite};
use hotline::sip::digest::{self, Algorithm};
use hotline::sip::message::{self, Datagram, Request, SipMessage};
use hotline::sip::{Peer, Transport};
use hotline::switchboard::{Action, CallRef, Leg, MediaEvent, MediaOrder, Settings, Switchboard};

pub const OPERATORS: usize = 2;
pub const CALLERS: usize = 3;
/// Fewer ports than three bridged calls need: running out is part of the game.
pub const POOL: u16 = 5;

pub fn phone(op: usize) -> Peer {
    udp(SocketAddr::from(([127, 0, 0, 1], 5001 + op as u16)))
}

pub fn trunk() -> Peer {
    udp(SocketAddr::from(([127, 0, 0, 1], 5071)))
}

fn udp(addr: SocketAddr) -> Peer {
    Peer {
        transport: Transport::Udp,
        addr,
    }
}

/// One caller's current call, as the caller's phone knows it.
#[derive(Debug, Default)]
pub struct CallerCall {
    pub call_id: String,
    pub call: Option<CallRef>,
    /// Our To tag, from the 200 OK.
    pub to_tag: Option<String>,
    pub cseq: u32,
}

/// The runtime's state for one call (`runtime/engine/media.rs`): its ports.
#[derive(Debug, Default)]
struct Slot {
    caller: Option<u16>,
    operator: Option<u16>,
}

pub struct Line {
    pub sb: Switchboard,
    pub now: Now,
    pub callers: Vec<Option<CallerCall>>,
    calls_made: u32,
    /// The newest INVITE each phone received, and the tag it answers with.
    pub rung: Vec<Option<Request>>,
    /// BYEs sent to a peer that it has not answered yet.
    pub byes: Vec<(Peer, Request)>,
    media: BTreeMap<CallRef, Slot>,
    free: Vec<u16>,
    /// The newest prompt each call was told to play once (looped ones never finish).
    pub plays: BTreeMap<CallRef, u32>,
    pub recording: BTreeSet<CallRef>,
    /// Register rows opened, and how many final updates each got.
    pub rows: BTreeMap<String, u32>,
    pub registered: Vec<bool>,
    reg_cseq: u32,
    /// The caller whose INVITE is being handled: the call the runtime opens media for.
    pending_caller: Option<usize>,
    /// What peers answer by themselves, sent once the current input is handled.
    pending_messages: Vec<(SipMessage, Peer)>,
}

impl Line {
    pub fn new() -> Line {
        Line::with_menu(false)
    }

    /// A line whose callers hear the topic menu (`with_menu`) or go straight to the queue.
    pub fn with_menu(menu: bool) -> Line {
        let mut toml = String::from(
            r#"
            [sip]
            listen = "127.0.0.1:5060"
            realm = "hotline"
            [trunk]
            numbers = ["792112"]
            allow = ["127.0.0.1/32"]
            [hours]
            days = ["mon","tue","wed","thu","fri","sat","sun"]
            open = "00:00"
            close = "24:00"
            [queue]
            ring_timeout = "15s"
            max_wait = "3m"
            wrap_up = "5s"
            announce_every = "30s"
            [menu]
            enabled = false
            "#,
        );
        for op in 0..OPERATORS {
            toml.push_str(&format!(
                "[[operators]]\nid = \"{op}\"\nname = \"Operator {op}\"\npassword = \"pass{op}\"\n"
            ));
        }
        let env = [("HOTLINE_MENU__ENABLED".to_owned(), menu.to_string())];
        let config = Config::from_toml(&toml, Path::new("props.toml"), &env).expect("valid config");
        let now = Now {
            mono: Instant::now(),
            wall: "2026-11-24T09:00:00Z".parse().expect("literal time"),
        };
        Line {
            sb: Switchboard::new(Settings::from_config(&config), 11, now),
            now,
            callers: (0..CALLERS).map(|_| None).collect(),
            calls_made: 0,
            rung: vec![None; OPERATORS],
            byes: Vec::new(),
            media: BTreeMap::new(),
            free: (0..POOL).map(|i| 30000 + 2 * i).collect(),
            plays: BTreeMap::new(),
            recording: BTreeSet::new(),
            rows: BTreeMap::new(),
            registered: vec![false; OPERATORS],
            reg_cseq: 0,
            pending_caller: None,
            pending_messages: Vec::new(),
        }
    }

    /// RTP ports still held for some call.
    pub fn ports_in_use(&self) -> usize {
        usize::from(POOL) - self.free.len()
    }

    pub fn slots(&self) -> usize {
        self.media.len()
    }

    // ---- what the peers send ----

    pub fn datagram(&mut self, text: &str, from: Peer) {
        let now = self.now;
        self.sb.handle_datagram(text.as_bytes(), from, now);
        self.carry_out();
    }

    fn message(&mut self, msg: SipMessage, from: Peer) {
        let bytes = message::to_bytes(&msg);
        let now = self.now;
        self.sb.handle_datagram(&bytes, from, now);
        self.carry_out();
    }

    /// A new call from caller `i` (a caller already in a call hangs up on it in the
    /// caller's mind only: the old dialog is simply forgotten, as a crashed phone would).
    pub fn invite(&mut self, i: usize) {
        self.calls_made += 1;
        let call_id = format!("c{i}-{}", self.calls_made);
        self.callers[i] = Some(CallerCall {
            call_id: call_id.clone(),
            cseq: 1,
            ..CallerCall::default()
        });
        let body = "v=0\r\no=trunk 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
                    m=audio 17000 RTP/AVP 8 0 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\n\
                    a=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n";
        let text = format!(
            "INVITE sip:792112@127.0.0.1:5060 SIP/2.0\r\n{}\
             Contact: <sip:caller@127.0.0.1:5071>\r\nContent-Type: application/sdp\r\n\
             Content-Length: {}\r\n\r\n{body}",
            self.caller_headers(i, "INVITE", 1, "inv"),
            body.len()
        );
        self.pending_caller = Some(i);
        self.datagram(&text, trunk());
        self.pending_caller = None;
    }

    /// Via, From, To (with our tag once known), Call-ID, CSeq and Max-Forwards of caller
    /// `i`'s current call. `branch` keys the transaction: CANCEL shares the INVITE's.
    fn caller_headers(&self, i: usize, method: &str, cseq: u32, branch: &str) -> String {
        let c = self.callers[i].as_ref().expect("a current call");
        let to_tag = c
            .to_tag
            .as_ref()
            .map(|t| format!(";tag={t}"))
            .unwrap_or_default();
        format!(
            "Via: SIP/2.0/UDP 127.0.0.1:5071;branch=z9hG4bK-{branch}-{id};rport\r\n\
             From: <sip:+7911555010{i}@127.0.0.1>;tag=c-{id}\r\nTo: <sip:792112@127.0.0.1>{to_tag}\r\n\
             Call-ID: {id}\r\nCSeq: {cseq} {method}\r\nMax-Forwards: 70\r\n",
            id = c.call_id
        )
    }

    pub fn cancel(&mut self, i: usize) {
        if self.callers[i].is_none() {
            return;
        }
        let text = format!(
            "CANCEL sip:792112@127.0.0.1:5060 SIP/2.0\r\n{}Content-Length: 0\r\n\r\n",
            self.caller_headers(i, "CANCEL", 1, "inv")
        );
        self.datagram(&text, trunk());
    }

    pub fn ack(&mut self, i: usize) {
        if self.callers[i].is_none() {
            return;
        }
        let text = format!(
            "ACK sip:hotline@127.0.0.1:5060 SIP/2.0\r\n{}Content-Length: 0\r\n\r\n",
            self.caller_headers(i, "ACK", 1, "ack")
        );
        self.datagram(&text, trunk());
    }

    pub fn caller_bye(&mut self, i: usize) {
        let Some(c) = self.callers[i].as_mut() else {
            return;
        };
        c.cseq += 1;
        let cseq = c.cseq;
        let text = format!(
            "BYE sip:hotline@127.0.0.1:5060 SIP/2.0\r\n{}Content-Length: 0\r\n\r\n",
            self.caller_headers(i, "BYE", cseq, &format!("bye{cseq}"))
        );
        self.datagram(&text, trunk());
    }

    /// A softphone registers (or, with `expires` 0, unregisters) with digest auth: the
    /// first REGISTER is challenged, the second answers the challenge.
    pub fn register(&mut self, op: usize, expires: u32) {
        self.reg_cseq += 2;
        let cseq = self.reg_cseq;
        let first = register_text(op, cseq - 1, expires, None);
        let now = self.now;
        self.sb.handle_datagram(first.as_bytes(), phone(op), now);
        let challenge = self
            .carry_out_collect(phone(op))
            .into_iter()
            .find_map(|m| match m {
                SipMessage::Response(r) if r.status_code.code() == 401 => Some(r),
                _ => None,
            });
        let Some(challenge) = challenge else { return };
        let text = challenge.to_string();
        let Some(line) = text
            .lines()
            .find(|l| l.starts_with("WWW-Authenticate") && l.contains("MD5"))
        else {
            return;
        };
        let field = |name: &str| -> String {
            let key = format!("{name}=\"");
            let start = line.find(&key).map(|s| s + key.len()).unwrap_or(line.len());
            line[start..].split('"').next().unwrap_or("").to_string()
        };
        let (realm, nonce) = (field("realm"), field("nonce"));
        let uri = "sip:127.0.0.1:5060";
        let ha1 = digest::ha1(
            Algorithm::Md5,
            &op.to_string(),
            &realm,
            &format!("pass{op}"),
        );
        let ha2 = Algorithm::Md5.hash_hex(format!("REGISTER:{uri}").as_bytes());
        let response =
            Algorithm::Md5.hash_hex(format!("{ha1}:{nonce}:00000001:c0ffee:auth:{ha2}").as_bytes());
        let auth = format!(
            "Digest username=\"{op}\",realm=\"{realm}\",nonce=\"{nonce}\",uri=\"{uri}\",response=\"{response}\",algorithm=MD5,cnonce=\"c0ffee\",nc=00000001,qop=auth"
        );
        self.datagram(&register_text(op, cseq, expires, Some(&auth)), phone(op));
        self.registered[op] = expires > 0;
    }

    /// Phone `op` (or, if it was never rung, the other) answers the newest INVITE it got
    /// with `code` (200 with its SDP).
    pub fn operator_answers(&mut self, op: usize, code: u16) {
        let op = if self.rung[op].is_some() {
            op
        } else {
            (op + 1) % OPERATORS
        };
        let Some(invite) = self.rung[op].clone() else {
            return;
        };
        let mut resp = message::response_to(&invite, code, Some(&format!("op{op}")));
        if code == 200 {
            let p = phone(op).addr;
            message::push_header(&mut resp, "Contact", &format!("<sip:{op}@{p}>"))
                .expect("a valid Contact");
            let sdp = format!(
                "v=0\r\no=op 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
                 m=audio {} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n\
                 a=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n",
                16000 + op
            );
            message::set_body(&mut resp, "application/sdp", sdp.into_bytes());
        }
        self.message(SipMessage::Response(resp), phone(op));
    }

    /// Phone `op` hangs up the call of the newest INVITE it got.
    pub fn operator_bye(&mut self, op: usize) {
        let Some(invite) = self.rung[op].as_ref() else {
            return;
        };
        let (Ok(call_id), Ok(Some(our_tag))) =
            (message::call_id(invite), message::from_tag(invite))
        else {
            return;
        };
        let text = format!(
            "BYE sip:hotline@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP {p};branch=z9hG4bK-obye-{call_id}\r\n\
             From: <sip:{op}@127.0.0.1>;tag=op{op}\r\nTo: <sip:hotline@127.0.0.1>;tag={our_tag}\r\n\
             Call-ID: {call_id}\r\nCSeq: 2 BYE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
            p = phone(op).addr
        );
        self.datagram(&text, phone(op));
    }

    /// Every peer answers the BYEs it got with 200.
    pub fn answer_byes(&mut self) {
        for (peer, bye) in std::mem::take(&mut self.byes) {
            let ok = message::response_to(&bye, 200, None);
            self.message(SipMessage::Response(ok), peer);
        }
    }

    /// The media task of caller `i`'s call reports the newest once-played prompt over
    /// (or, with `stale`, a tag that is not current).
    pub fn prompt_finished(&mut self, i: usize, stale: bool) {
        let Some(call) = self.callers[i].as_ref().and_then(|c| c.call) else {
            return;
        };
        let tag = match self.plays.get(&call) {
            Some(&tag) if !stale => tag,
            Some(&tag) => tag.wrapping_sub(1),
            None => 0,
        };
        if !stale {
            self.plays.remove(&call);
        }
        let now = self.now;
        self.sb
            .handle_media_event(call, MediaEvent::PromptFinished { tag }, now);
        self.carry_out();
    }

    /// Every prompt being played once reaches its end, as the media tasks report it.
    pub fn prompts_end(&mut self) {
        for (call, tag) in std::mem::take(&mut self.plays) {
            let now = self.now;
            self.sb
                .handle_media_event(call, MediaEvent::PromptFinished { tag }, now);
            self.carry_out();
        }
    }

    /// Caller `i` presses `key` (reported by the media task whatever the call's state).
    pub fn key(&mut self, i: usize, key: char) {
        let Some(call) = self.callers[i].as_ref().and_then(|c| c.call) else {
            return;
        };
        let now = self.now;
        self.sb
            .handle_media_event(call, MediaEvent::Key { key }, now);
        self.carry_out();
    }

    /// No RTP on one leg of caller `i`'s call for the RTP timeout.
    pub fn inactive(&mut self, i: usize, leg: Leg) {
        let Some(call) = self.callers[i].as_ref().and_then(|c| c.call) else {
            return;
        };
        let now = self.now;
        self.sb
            .handle_media_event(call, MediaEvent::Inactive { leg }, now);
        self.carry_out();
    }

    /// Moves the clock by `by`, firing every timer at its own time.
    pub fn advance(&mut self, by: Duration) {
        let until = self.now.mono + by;
        let mut spins = 0;
        while let Some(due) = self.sb.poll_timeout().filter(|&t| t <= until) {
            self.now = self
                .now
                .advanced(due.saturating_duration_since(self.now.mono));
            let now = self.now;
            self.sb.handle_timeout(now);
            self.carry_out();
            // A deadline that firing does not move would spin the engine's loop.
            // (A timer set for "now" while firing is fine once, not forever.)
            spins = if self.sb.poll_timeout() == Some(due) {
                spins + 1
            } else {
                0
            };
            assert!(spins < 100, "a timer due at {due:?} stays due after firing");
        }
        self.now = self
            .now
            .advanced(until.saturating_duration_since(self.now.mono));
    }

    /// Everything the peers and the runtime can do to let calls end, repeated until the
    /// switchboard is idle or an hour of simulated time has passed: prompts play out,
    /// BYEs and CANCELs are answered, media goes quiet on every call.
    pub fn drain(&mut self) {
        let deadline = self.now.mono + Duration::from_secs(3600);
        while self.now.mono < deadline && !(self.sb.is_idle() && self.byes.is_empty()) {
            self.flush_peers();
            self.answer_byes();
            self.prompts_end();
            let calls: Vec<CallRef> = self.media.keys().copied().collect();
            for call in calls {
                let now = self.now;
                let leg = Leg::Caller;
                self.sb
                    .handle_media_event(call, MediaEvent::Inactive { leg }, now);
                self.carry_out();
            }
            let step = self
                .sb
                .poll_timeout()
                .map(|t| t.saturating_duration_since(self.now.mono))
                .unwrap_or(Duration::from_secs(1))
                .max(Duration::from_millis(1));
            self.advance(step);
        }
    }

    // ---- the runtime ----

    fn carry_out(&mut self) {
        self.carry_out_collect(trunk());
    }

    /// Carries out every queued action as `runtime/engine.rs` does; returns the messages
    /// sent to `watch`.
    fn carry_out_collect(&mut self, watch: Peer) -> Vec<SipMessage> {
        let mut seen = Vec::new();
        while let Some(action) = self.sb.poll_action() {
            let now = self.now;
            match action {
                Action::Transmit { peer, data } => {
                    let Ok(Datagram::Message(msg)) = message::parse_datagram(&data) else {
                        panic!(
                            "we sent what we cannot parse: {}",
                            String::from_utf8_lossy(&data)
                        );
                    };
                    self.received(peer, &msg);
                    if peer == watch {
                        seen.push(msg);
                    }
                }
                Action::OpenCallerMedia { call, .. } => {
                    if let Some(i) = self.pending_caller {
                        if let Some(c) = self.callers[i].as_mut() {
                            c.call = Some(call);
                        }
                    }
                    let port = self.free.pop();
                    if let Some(port) = port {
                        self.media.entry(call).or_default().caller = Some(port);
                    }
                    self.sb.handle_media_ready(call, Leg::Caller, port, now);
                }
                // No subscribers here: every lookup fails and the caller goes to the queue.
                Action::LookUpMeters { call, .. } => self.sb.handle_meters(call, None, now),
                Action::StoreReading { .. } => {}
                // This line places no call-backs; were it to, the citizen's socket comes
                // from the same pool as a caller's.
                Action::OpenCitizenMedia { call } => {
                    let port = self.free.pop();
                    if let Some(port) = port {
                        self.media.entry(call).or_default().caller = Some(port);
                    }
                    self.sb.handle_media_ready(call, Leg::Caller, port, now);
                }
                Action::StartCitizenMedia { .. } | Action::CallBackDone(_) => {}
                Action::OpenOperatorMedia { call } => {
                    let port = self.free.pop();
                    if let Some(port) = port {
                        let slot = self.media.entry(call).or_default();
                        if let Some(old) = slot.operator.replace(port) {
                            self.free.push(old);
                        }
                    }
                    self.sb.handle_media_ready(call, Leg::Operator, port, now);
                }
                Action::Media { call, order } => {
                    if let MediaOrder::Play {
                        looped: false, tag, ..
                    } = order
                    {
                        self.plays.insert(call, tag);
                    }
                }
                Action::StartRecording { call, .. } => {
                    assert!(
                        self.recording.insert(call),
                        "{call:?} recorded twice at once"
                    );
                }
                Action::StopRecording { call } => {
                    self.recording.remove(&call);
                }
                Action::CloseOperatorMedia { call } => {
                    if let Some(port) = self.media.get_mut(&call).and_then(|s| s.operator.take()) {
                        self.free.push(port);
                    }
                }
                Action::CloseMedia { call } => {
                    if let Some(slot) = self.media.remove(&call) {
                        self.free.extend(slot.caller);
                        self.free.extend(slot.operator);
                    }
                    self.plays.remove(&call);
                }
                Action::Register(write) => self.row(write),
            }
        }
        seen
    }

    /// What a peer does on receiving `msg` without being told: note what it must answer
    /// later, answer a CANCEL (200, then 487 to the INVITE, RFC 3261 §9.2).
    fn received(&mut self, peer: Peer, msg: &SipMessage) {
        let SipMessage::Request(req) = msg else {
            if peer == trunk() {
                self.caller_got_response(msg);
            }
            return;
        };
        let op = (0..OPERATORS).find(|&op| phone(op) == peer);
        match (req.method.to_string().as_str(), op) {
            ("INVITE", Some(op)) => self.rung[op] = Some(req.clone()),
            ("BYE", _) => self.byes.push((peer, req.clone())),
            ("CANCEL", Some(op)) => {
                let ok = message::response_to(req, 200, Some(&format!("op{op}")));
                self.pending_messages.push((SipMessage::Response(ok), peer));
                if let Some(invite) = self.rung[op].clone() {
                    let gone = message::response_to(&invite, 487, Some(&format!("op{op}")));
                    self.pending_messages
                        .push((SipMessage::Response(gone), peer));
                }
            }
            _ => {}
        }
    }

    fn caller_got_response(&mut self, msg: &SipMessage) {
        let (Ok(call_id), Ok(Some(tag))) = (message::call_id(msg), message::to_tag(msg)) else {
            return;
        };
        for c in self.callers.iter_mut().flatten() {
            if c.call_id == call_id && c.to_tag.is_none() {
                c.to_tag = Some(tag.clone());
            }
        }
    }

    /// Answers a peer queued while actions were carried out (never re-entrantly).
    pub fn flush_peers(&mut self) {
        while !self.pending_messages.is_empty() {
            for (msg, peer) in std::mem::take(&mut self.pending_messages) {
                self.message(msg, peer);
            }
        }
    }

    fn row(&mut self, write: RegisterWrite) {
        match write {
            RegisterWrite::Open(call) => {
                assert!(
                    self.rows.insert(call.id.clone(), 0).is_none(),
                    "row {} opened twice",
                    call.id
                );
            }
            RegisterWrite::Update { id, update } if update.ended_at.is_some() => {
                let closed = self
                    .rows
                    .get_mut(&id)
                    .unwrap_or_else(|| panic!("row {id} closed before it was opened"));
                *closed += 1;
            }
            _ => {}
        }
    }
}

fn register_text(op: usize, cseq: u32, expires: u32, auth: Option<&str>) -> String {
    let p = phone(op).addr;
    let auth = auth
        .map(|a| format!("Authorization: {a}\r\n"))
        .unwrap_or_default();
    format!(
        "REGISTER sip:127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP {p};branch=z9hG4bK-reg-{op}-{cseq}-{expires};rport\r\n\
         From: <sip:{op}@127.0.0.1>;tag=reg{op}\r\nTo: <sip:{op}@127.0.0.1>\r\nCall-ID: reg-{op}\r\nCSeq: {cseq} REGISTER\r\n\
         Contact: <sip:{op}@{p}>\r\nExpires: {expires}\r\n{auth}Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    )
}
