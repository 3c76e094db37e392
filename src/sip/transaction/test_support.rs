//! Test harness for the transaction layer: canned messages, a simulated clock that jumps
//! from deadline to deadline, and helpers that read the bytes put on the wire.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rsipstack::sip::{Request, Response, SipMessage, StatusCode};

use super::util::response_to;
use super::{TimerConfig, TransactionLayer, TxEvent, TxKey};
use crate::sip::{Peer, Transport};

pub(crate) fn udp(addr: &str) -> Peer {
    Peer {
        transport: Transport::Udp,
        addr: addr.parse::<SocketAddr>().expect("test address"),
    }
}

pub(crate) fn tcp(addr: &str) -> Peer {
    Peer {
        transport: Transport::Tcp,
        addr: addr.parse::<SocketAddr>().expect("test address"),
    }
}

pub(crate) fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

pub(crate) fn parse(text: &str) -> SipMessage {
    let text = text.replace('\n', "\r\n");
    SipMessage::try_from(text.as_str()).expect("test message parses")
}

pub(crate) fn request(text: &str) -> Request {
    match parse(text) {
        SipMessage::Request(r) => r,
        SipMessage::Response(_) => panic!("expected a request"),
    }
}

pub(crate) fn response(text: &str) -> Response {
    match parse(text) {
        SipMessage::Response(r) => r,
        SipMessage::Request(_) => panic!("expected a response"),
    }
}

/// An INVITE from the trunk as it would arrive; `via` is the top Via value.
pub(crate) fn invite_with_via(via: &str) -> Request {
    request(&format!(
        "INVITE sip:792112@hotline.example SIP/2.0
Via: {via}
Max-Forwards: 70
From: <sip:+79110000000@trunk.example>;tag=caller1
To: <sip:792112@hotline.example>
Call-ID: call-1@trunk.example
CSeq: 1 INVITE
Contact: <sip:caller@192.0.2.5:5062>
Content-Length: 0

"
    ))
}

pub(crate) fn trunk_invite() -> Request {
    invite_with_via("SIP/2.0/UDP 192.0.2.5:5062;branch=z9hG4bK-inv1")
}

/// A request of `method` on the trunk's dialog with its own branch.
pub(crate) fn in_dialog(method: &str, branch: &str, cseq: u32, to_tag: &str) -> Request {
    request(&format!(
        "{method} sip:792112@hotline.example SIP/2.0
Via: SIP/2.0/UDP 192.0.2.5:5062;branch={branch}
Max-Forwards: 70
From: <sip:+79110000000@trunk.example>;tag=caller1
To: <sip:792112@hotline.example>{to_tag}
Call-ID: call-1@trunk.example
CSeq: {cseq} {method}
Content-Length: 0

",
        to_tag = if to_tag.is_empty() {
            String::new()
        } else {
            format!(";tag={to_tag}")
        }
    ))
}

/// What the TU would answer: the request's dialog headers, our To tag, the status.
pub(crate) fn tu_answer(req: &Request, code: u16, to_tag: &str) -> Response {
    let mut r = response_to(req, StatusCode::from(code));
    if code > 100 {
        for h in r.headers.iter_mut() {
            if let rsipstack::sip::Header::To(to) = h {
                let plain = to.value().split(";tag=").next().unwrap_or("").to_string();
                *to = format!("{plain};tag={to_tag}").into();
            }
        }
    }
    r
}

/// The layer plus a simulated clock starting at `t0`.
pub(crate) struct Sim {
    pub layer: TransactionLayer,
    pub t0: Instant,
    pub now: Instant,
}

impl Sim {
    pub(crate) fn new() -> Sim {
        let t0 = Instant::now();
        Sim {
            layer: TransactionLayer::new(TimerConfig::default()),
            t0,
            now: t0,
        }
    }

    /// Moves the clock to `t0 + at` and feeds `msg`.
    pub(crate) fn receive_at(&mut self, at: Duration, msg: impl Into<SipMessage>, from: Peer) {
        self.now = self.t0 + at;
        self.layer.handle_message(msg.into(), from, self.now);
    }

    /// Fires every timer up to `t0 + until`, jumping from deadline to deadline; returns
    /// each event with the offset from `t0` at which it happened.
    pub(crate) fn run_until(&mut self, until: Duration) -> Vec<(Duration, TxEvent)> {
        let end = self.t0 + until;
        let mut seen = self.drain_at_now();
        while let Some(deadline) = self.layer.poll_timeout() {
            if deadline > end {
                break;
            }
            assert!(deadline >= self.now, "deadlines never go back in time");
            self.now = deadline;
            self.layer.handle_timeout(deadline);
            seen.extend(self.drain_at_now());
        }
        self.now = self.now.max(end);
        seen
    }

    /// Events queued so far, stamped with the current offset.
    pub(crate) fn drain_at_now(&mut self) -> Vec<(Duration, TxEvent)> {
        let at = self.now - self.t0;
        std::iter::from_fn(|| self.layer.poll_event())
            .map(|e| (at, e))
            .collect()
    }

    pub(crate) fn drain(&mut self) -> Vec<TxEvent> {
        std::iter::from_fn(|| self.layer.poll_event()).collect()
    }
}

/// The text of every Transmit, with its destination.
pub(crate) fn wire(events: &[TxEvent]) -> Vec<(Peer, String)> {
    events
        .iter()
        .filter_map(|e| match e {
            TxEvent::Transmit { peer, data } => {
                Some((*peer, String::from_utf8_lossy(data).into_owned()))
            }
            _ => None,
        })
        .collect()
}

/// (offset, first line) of every Transmit in a timed event list.
pub(crate) fn sent_lines(events: &[(Duration, TxEvent)]) -> Vec<(Duration, String)> {
    events
        .iter()
        .filter_map(|(at, e)| match e {
            TxEvent::Transmit { data, .. } => {
                Some((*at, first_line(&String::from_utf8_lossy(data))))
            }
            _ => None,
        })
        .collect()
}

/// Events other than Transmit, without their times.
pub(crate) fn tu_events(events: &[(Duration, TxEvent)]) -> Vec<(Duration, TxEvent)> {
    events
        .iter()
        .filter(|(_, e)| !matches!(e, TxEvent::Transmit { .. }))
        .cloned()
        .collect()
}

pub(crate) fn first_line(text: &str) -> String {
    text.split("\r\n").next().unwrap_or("").to_string()
}

/// The value of the first header called `name` (case-insensitive) in printed bytes.
pub(crate) fn header(text: &str, name: &str) -> Option<String> {
    text.split("\r\n")
        .skip(1)
        .take_while(|l| !l.is_empty())
        .find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
}

/// Offsets in milliseconds, for compact schedule assertions.
pub(crate) fn millis(times: &[(Duration, String)]) -> Vec<u64> {
    times.iter().map(|(at, _)| at.as_millis() as u64).collect()
}

/// When a non-2xx final is sent again over UDP: Timer G from T1, doubling up to T2.
pub(crate) const G_SCHEDULE: [u64; 10] = [
    500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500,
];

/// The trunk the server tests receive from.
pub(crate) fn trunk() -> crate::sip::Peer {
    udp("192.0.2.5:5062")
}

/// Feeds the trunk INVITE at t0 and returns the new transaction's key.
pub(crate) fn start_invite(sim: &mut Sim) -> TxKey {
    sim.receive_at(ms(0), trunk_invite(), trunk());
    let events = sim.drain();
    events
        .iter()
        .find_map(|e| match e {
            TxEvent::Request { key, .. } => Some(key.clone()),
            _ => None,
        })
        .expect("INVITE reaches the TU")
}
