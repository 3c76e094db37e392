//! What each fuzz target does with its input, one function per target.
//!
//! The same file is the library of the fuzz crate and a module of
//! `tests/fuzz_regressions.rs`, so an input that once crashed a target is replayed by
//! `cargo test` through exactly the code the fuzzer ran, without libFuzzer.
//!
//! Every function must return normally for every input: a panic (including a failed
//! `assert!` of a property below, an overflow, an out-of-bounds index) is the crash the
//! fuzzer reports. Properties are checked only where the crate promises them.

use std::io::{Cursor, Seek, SeekFrom};
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use hotline::config::Config;
use hotline::media::relay::{LegConfig, RelayLeg};
use hotline::media::rtp::{self, RtpView};
use hotline::media::stereo;
use hotline::media::Codec;
use hotline::model::Now;
use hotline::sdp::{self, LocalSession};
use hotline::sip::message::{self, Datagram, Frame, SipMessage, StreamFramer};
use hotline::sip::{digest, Peer, Transport};
use hotline::switchboard::{Action, Leg, Settings, Switchboard};

fn udp(addr: &str) -> Peer {
    Peer {
        transport: Transport::Udp,
        addr: addr.parse().expect("literal address"),
    }
}

/// Whatever the receive path does with one datagram before the UA core routes it: frame
/// and parse, check the mandatory headers, print it back (logs, 400 answers), and read the
/// fields every request's handling reads.
pub fn sip_datagram(data: &[u8]) {
    let source = udp("192.0.2.7:5060");
    if message::parse_datagram(data).is_err() {
        // The UA answers what it cannot parse with a 400 built from the raw bytes.
        let _ = message::bad_request(data, "Bad Request");
        return;
    }
    let Ok(Datagram::Message(msg)) = message::parse_datagram(data) else {
        return;
    };
    let _ = message::check_mandatory(&msg);
    let _ = msg.to_string();
    let _ = message::to_bytes(&msg);
    let _ = message::response_target(&msg, source);
    let _ = message::call_id(&msg);
    let _ = message::cseq(&msg);
    let _ = message::from_tag(&msg);
    let _ = message::to_tag(&msg);
    let _ = message::top_via_branch(&msg);
    if let SipMessage::Request(req) = msg {
        let _ = message::uri_number(&req.uri);
        let _ = message::request_user(&req);
        let mut stamped = req.clone();
        let _ = message::stamp_via(&mut stamped, source.addr);
        let _ = message::to_bytes(&message::response_to(&req, 400, Some("fz")));
        let _ = message::cancel_for(&req);
    }
}

/// The TCP framer fed the input in pieces whose size the first byte chooses: no piece
/// boundary may change what it yields or make it panic.
pub fn sip_stream(data: &[u8]) {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let piece = usize::from(first % 64) + 1;
    let mut framer = StreamFramer::with_limit(4096);
    let mut whole = StreamFramer::with_limit(4096);
    let mut frames = Vec::new();
    let mut stopped = false;
    for chunk in rest.chunks(piece) {
        framer.push(chunk);
        loop {
            match framer.next() {
                Ok(Some(frame)) => frames.push(frame),
                Ok(None) => break,
                Err(_) => {
                    stopped = true;
                    break;
                }
            }
        }
        if stopped {
            break;
        }
    }
    if stopped {
        return;
    }
    // Given all at once, a stream that never failed in pieces yields the same frames.
    whole.push(rest);
    let mut at_once = Vec::new();
    while let Ok(Some(frame)) = whole.next() {
        at_once.push(frame);
    }
    assert_eq!(frames, at_once, "framing depends on how the bytes arrived");
    for frame in frames {
        if let Frame::Message(msg) = frame {
            let _ = msg.to_string();
        }
    }
}

/// A line with two operators, answering everything it says as the runtime would (RTP
/// ports from a small pool), fed datagrams from the trunk and the operators' phones with
/// time passing between them. The input is a list of records `[control] datagram`
/// separated by NUL bytes: the control byte's low two bits pick the sender, the rest how
/// many quarter-seconds pass first. Afterwards a shutdown must stop the line.
pub fn switchboard(data: &[u8]) {
    let mut line = FuzzLine::new();
    for record in data.split(|&b| b == 0) {
        let Some((&control, datagram)) = record.split_first() else {
            continue;
        };
        let from = match control & 3 {
            0 | 3 => udp("127.0.0.1:5071"),
            1 => udp("127.0.0.1:5001"),
            _ => udp("127.0.0.1:5002"),
        };
        line.advance(Duration::from_millis(250 * u64::from(control >> 2)));
        let now = line.now();
        line.sb.handle_datagram(datagram, from, now);
        line.carry_out();
    }
    let now = line.now();
    line.sb.begin_shutdown(Duration::from_secs(1), now);
    line.carry_out();
    line.advance(Duration::from_secs(2) + Switchboard::HARD_STOP_AFTER);
    assert!(line.sb.is_stopped(line.now()), "the line never stopped");
}

/// The switchboard and what the runtime holds for it: the simulated clock and the RTP
/// ports given to calls.
struct FuzzLine {
    sb: Switchboard,
    now: Now,
    ports: Vec<(hotline::switchboard::CallRef, Leg, u16)>,
    next_port: u16,
}

impl FuzzLine {
    fn new() -> FuzzLine {
        let toml = r#"
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
            [menu]
            enabled = false
            [[operators]]
            id = "1"
            name = "Operator 1"
            password = "pass1"
            [[operators]]
            id = "2"
            name = "Operator 2"
            password = "pass2"
        "#;
        let config = Config::from_toml(toml, Path::new("fuzz.toml"), &[]).expect("valid config");
        let now = Now {
            mono: Instant::now(),
            wall: "2026-11-24T09:00:00Z".parse().expect("literal time"),
        };
        FuzzLine {
            sb: Switchboard::new(Settings::from_config(&config), 7, now),
            now,
            ports: Vec::new(),
            next_port: 30000,
        }
    }

    fn now(&self) -> Now {
        self.now
    }

    /// Moves the clock, firing every timer due on the way at its own time.
    fn advance(&mut self, by: Duration) {
        let until = self.now.mono + by;
        let mut spins = 0;
        while let Some(due) = self.sb.poll_timeout().filter(|&t| t <= until) {
            // Once stopped, the shutdown deadline stays in the past: the runtime exits.
            if self.sb.is_stopped(self.now) {
                break;
            }
            self.now = self
                .now
                .advanced(due.saturating_duration_since(self.now.mono));
            let now = self.now;
            self.sb.handle_timeout(now);
            self.carry_out();
            // A deadline that firing does not move would spin the engine's loop.
            // (A timer set for "now" while firing is fine once, not forever.)
            spins = if self.sb.poll_timeout() == Some(due) && !self.sb.is_stopped(now) {
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

    /// Does what the engine does with each action; a pool of four ports.
    fn carry_out(&mut self) {
        while let Some(action) = self.sb.poll_action() {
            let now = self.now();
            match action {
                Action::OpenCallerMedia { call, .. } => {
                    let port = self.bind(call, Leg::Caller);
                    self.sb.handle_media_ready(call, Leg::Caller, port, now);
                }
                Action::OpenOperatorMedia { call } => {
                    self.ports
                        .retain(|p| !(p.0 == call && p.1 == Leg::Operator));
                    let port = self.bind(call, Leg::Operator);
                    self.sb.handle_media_ready(call, Leg::Operator, port, now);
                }
                Action::CloseOperatorMedia { call } => {
                    self.ports
                        .retain(|p| !(p.0 == call && p.1 == Leg::Operator));
                }
                Action::CloseMedia { call } => self.ports.retain(|p| p.0 != call),
                _ => {}
            }
        }
    }

    fn bind(&mut self, call: hotline::switchboard::CallRef, leg: Leg) -> Option<u16> {
        if self.ports.len() >= 4 {
            return None;
        }
        self.next_port = self.next_port.wrapping_add(2);
        self.ports.push((call, leg, self.next_port));
        Some(self.next_port)
    }
}

/// An offer as it arrives in an INVITE: parsed, negotiated, and answered. Our answer must
/// parse as SDP again and negotiate to the same codec.
pub fn sdp(data: &[u8]) {
    let Ok(remote) = sdp::parse(data) else {
        return;
    };
    let _ = remote.audio();
    let Ok(neg) = sdp::negotiate(&remote, &[Codec::Pcma, Codec::Pcmu]) else {
        return;
    };
    let local = LocalSession {
        username: "hotline".into(),
        session_id: 1,
        version: 1,
        addr: [192, 0, 2, 1].into(),
        port: 40000,
    };
    let answer = sdp::answer(&local, &remote, &neg);
    let back = sdp::parse(answer.as_bytes())
        .unwrap_or_else(|e| panic!("our answer does not parse ({e}):\n{answer}"));
    let again = sdp::negotiate(&back, &[neg.codec])
        .unwrap_or_else(|e| panic!("our answer does not negotiate ({e}):\n{answer}"));
    assert_eq!(
        again.codec, neg.codec,
        "answer changed the codec:\n{answer}"
    );
}

/// RTP and RTCP on a bridged call: each record (separated by the byte string `RTP!`) is a
/// datagram; its first byte picks the sender's address and how much time passes. Packets
/// the caller's leg accepts are relayed to the operator's.
pub fn rtp(data: &[u8]) {
    let start = Instant::now();
    let caller: SocketAddr = "192.0.2.10:17000".parse().expect("literal address");
    let cfg = |codec: Codec, addr| LegConfig {
        codec,
        payload_type: codec.payload_type(),
        telephone_event: Some(101),
        sdp_addr: addr,
        srtp: None,
    };
    let stream = hotline::media::player::RtpStreamState {
        ssrc: 0x1234,
        seq: 65530,
        ts: u32::MAX - 200,
    };
    let mut inbound = RelayLeg::new(cfg(Codec::Pcma, caller), stream, start);
    let mut outbound = RelayLeg::new(
        cfg(
            Codec::Pcmu,
            "192.0.2.20:16000".parse().expect("literal address"),
        ),
        stream,
        start,
    );
    let mut at = start;
    let mut out = [0u8; 1500];
    for record in split_on(data, b"RTP!") {
        let Some((&control, packet)) = record.split_first() else {
            continue;
        };
        at += Duration::from_millis(u64::from(control >> 2) * 20);
        let src = if control & 3 == 0 {
            "192.0.2.11:17000".parse().expect("literal address")
        } else {
            caller
        };
        let _ = rtp::is_rtcp(packet);
        if let Ok(view) = RtpView::parse(packet) {
            let _ = (view.header(), view.payload());
            let mut copy = packet.to_vec();
            let _ = rtp::rewrite_header(&mut copy, &view.header());
        }
        if control & 0x80 != 0 {
            let moved = cfg(Codec::Pcmu, src);
            inbound.update(moved, at);
        }
        if let Some(accepted) = inbound.handle_inbound(at, src, packet) {
            let payload = accepted.payload(packet);
            assert_eq!(
                payload.len(),
                accepted.payload_len,
                "payload outside the datagram"
            );
            if let Some(n) = outbound.relay_from(at, &accepted, packet, &mut out) {
                let sent = RtpView::parse(&out[..n]).expect("we send RTP that parses");
                assert_eq!(sent.ssrc(), outbound.ssrc());
            }
        }
    }
    let _ = inbound.stats();
}

fn split_on<'a>(data: &'a [u8], sep: &'a [u8]) -> impl Iterator<Item = &'a [u8]> + 'a {
    let mut rest = Some(data);
    std::iter::from_fn(move || {
        let r = rest?;
        match r.windows(sep.len()).position(|w| w == sep) {
            Some(i) => {
                rest = Some(&r[i + sep.len()..]);
                Some(&r[..i])
            }
            None => {
                rest = None;
                Some(r)
            }
        }
    })
}

/// A softphone's `Authorization` header value.
pub fn digest(data: &[u8]) {
    let value = String::from_utf8_lossy(data);
    let _ = digest::parse_authorization(&value);
}

/// A recording left unfinished by a crash, as startup repair meets it: inspected,
/// repaired, and once repaired and cut to the length repair gives, valid as it says.
pub fn wav(data: &[u8]) {
    let _ = stereo::inspect(&mut Cursor::new(data));
    let mut file = Cursor::new(data.to_vec());
    let len = data.len() as u64;
    let Ok(Some(report)) = stereo::repair(&mut file, len) else {
        return;
    };
    let mut fixed = file.into_inner();
    assert!(report.len <= len, "repair says the file grew");
    fixed.truncate(report.len as usize);
    let mut cursor = Cursor::new(fixed);
    let info = stereo::inspect(&mut cursor)
        .unwrap_or_else(|e| panic!("repaired file does not inspect: {e}"));
    assert_eq!(info.frames, report.frames, "repair and inspect disagree");
    let _ = cursor.seek(SeekFrom::Start(0));
    assert!(
        matches!(stereo::repair(&mut cursor, report.len), Ok(None)),
        "a repaired file needs repair again"
    );
}

/// The configuration file as `check-config` and `serve` read it, with an environment
/// override taken from the input's first line when it looks like one.
pub fn config(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (env, toml) = match text.split_once('\n') {
        Some((first, rest)) if first.starts_with("HOTLINE_") => match first.split_once('=') {
            Some((k, v)) => (vec![(k.to_string(), v.to_string())], rest),
            None => (Vec::new(), &*text),
        },
        _ => (Vec::new(), &*text),
    };
    if let Ok(config) = Config::from_toml(toml, Path::new("conf/hotline.toml"), &env) {
        let _ = config.warnings();
        let _ = Settings::from_config(&config);
    }
}
