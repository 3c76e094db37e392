//! Simulated-time tests of the B2BUA: operators register with digest auth, callers queue,
//! operators are rung, answer, hold, hang up; every SIP message checked as a peer sees it.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use crate::clock::Now;
use crate::config::Config;
use crate::sip::digest::{self, Algorithm};
use crate::sip::message::{self, Request, Response, SipMessage};
use crate::sip::{Peer, Transport};

use super::register::{HangupBy, Outcome, RegisterWrite};
use super::{Action, CallRef, Leg, MediaEvent, MediaOrder, PromptKind, Settings, Switchboard};

const TRUNK: &str = "127.0.0.1:5071";

fn t0() -> Now {
    Now {
        mono: std::time::Instant::now(),
        wall: "2026-11-24T09:00:00Z".parse().unwrap(),
    }
}

fn line_with(operators: &[&str]) -> Switchboard {
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
        max_wait = "10m"
        wrap_up = "10s"
        announce_every = "30s"
        "#,
    );
    for op in operators {
        toml.push_str(&format!(
            "[[operators]]\nid = \"{op}\"\nname = \"Operator {op}\"\npassword = \"pass{op}\"\n"
        ));
    }
    let config = Config::from_toml(&toml, Path::new("test.toml"), &[]).expect("valid test config");
    Switchboard::new(Settings::from_config(&config), 7, t0())
}

fn phone(op: &str) -> Peer {
    let port: u16 = 5000 + op.parse::<u16>().unwrap();
    Peer {
        transport: Transport::Udp,
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
    }
}

fn trunk() -> Peer {
    Peer {
        transport: Transport::Udp,
        addr: TRUNK.parse().unwrap(),
    }
}

#[derive(Default)]
struct Out {
    sent: Vec<(Peer, SipMessage)>,
    actions: Vec<Action>,
}

impl Out {
    fn to(&self, peer: Peer) -> Vec<&SipMessage> {
        self.sent
            .iter()
            .filter(|(p, _)| *p == peer)
            .map(|(_, m)| m)
            .collect()
    }
    fn request_to(&self, peer: Peer, method: &str) -> Option<Request> {
        self.to(peer).into_iter().find_map(|m| match m {
            SipMessage::Request(r) if r.method.to_string() == method => Some(r.clone()),
            _ => None,
        })
    }
    fn status_to(&self, peer: Peer) -> Vec<u16> {
        self.to(peer)
            .into_iter()
            .filter_map(|m| match m {
                SipMessage::Response(r) => Some(r.status_code.code()),
                _ => None,
            })
            .collect()
    }
    fn response_to(&self, peer: Peer, code: u16) -> Option<Response> {
        self.to(peer).into_iter().find_map(|m| match m {
            SipMessage::Response(r) if r.status_code.code() == code => Some(r.clone()),
            _ => None,
        })
    }
    fn played(&self) -> Option<(Vec<PromptKind>, u32)> {
        self.actions.iter().rev().find_map(|a| match a {
            Action::Media {
                order: MediaOrder::Play { prompts, tag, .. },
                ..
            } => Some((prompts.clone(), *tag)),
            _ => None,
        })
    }
    fn opens_operator_leg(&self) -> bool {
        self.actions.iter().any(|a| {
            matches!(
                a,
                Action::OpenMedia {
                    leg: Leg::Operator,
                    ..
                }
            )
        })
    }
    fn final_update(&self) -> Option<&super::register::CallUpdate> {
        self.actions.iter().rev().find_map(|a| match a {
            Action::Register(RegisterWrite::Update { update, .. }) if update.ended_at.is_some() => {
                Some(update)
            }
            _ => None,
        })
    }
    fn rings(&self) -> Vec<(String, String)> {
        self.actions
            .iter()
            .filter_map(|a| match a {
                Action::Register(RegisterWrite::Ring(r)) => {
                    Some((r.operator_id.clone(), r.result.clone()))
                }
                _ => None,
            })
            .collect()
    }
}

fn drain(sb: &mut Switchboard) -> Out {
    let mut out = Out::default();
    while let Some(a) = sb.poll_action() {
        if let Action::Transmit { peer, data } = &a {
            if let Ok(message::Datagram::Message(m)) = message::parse_datagram(data) {
                out.sent.push((*peer, m));
            }
        }
        out.actions.push(a);
    }
    out
}

fn send(sb: &mut Switchboard, text: &str, from: Peer, now: Now) -> Out {
    sb.handle_datagram(text.as_bytes(), from, now);
    drain(sb)
}

fn register_text(op: &str, cseq: u32, auth: Option<&str>) -> String {
    let p = phone(op).addr;
    let auth = auth
        .map(|a| format!("Authorization: {a}\r\n"))
        .unwrap_or_default();
    format!(
        "REGISTER sip:127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP {p};branch=z9hG4bK-reg-{op}-{cseq};rport\r\n\
         From: <sip:{op}@127.0.0.1>;tag=reg{op}\r\nTo: <sip:{op}@127.0.0.1>\r\nCall-ID: reg-{op}\r\nCSeq: {cseq} REGISTER\r\n\
         Contact: <sip:{op}@{p}>\r\nExpires: 3600\r\n{auth}Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    )
}

/// A softphone's digest registration: 401 with a challenge, then 200.
fn register(sb: &mut Switchboard, op: &str, now: Now) {
    let out = send(sb, &register_text(op, 1, None), phone(op), now);
    let challenge = out.response_to(phone(op), 401).expect("401 challenge");
    let text = challenge.to_string();
    let md5 = text
        .lines()
        .find(|l| l.starts_with("WWW-Authenticate") && l.contains("MD5"))
        .expect("an MD5 challenge");
    let field = |name: &str| -> String {
        let start = md5.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
        md5[start..].split('"').next().unwrap().to_string()
    };
    let (realm, nonce) = (field("realm"), field("nonce"));
    let uri = "sip:127.0.0.1:5060";
    let ha1 = digest::ha1(Algorithm::Md5, op, &realm, &format!("pass{op}"));
    let ha2 = Algorithm::Md5.hash_hex(format!("REGISTER:{uri}").as_bytes());
    let response =
        Algorithm::Md5.hash_hex(format!("{ha1}:{nonce}:00000001:c0ffee:auth:{ha2}").as_bytes());
    let auth = format!(
        "Digest username=\"{op}\",realm=\"{realm}\",nonce=\"{nonce}\",uri=\"{uri}\",response=\"{response}\",algorithm=MD5,cnonce=\"c0ffee\",nc=00000001,qop=auth"
    );
    let out = send(sb, &register_text(op, 2, Some(&auth)), phone(op), now);
    assert_eq!(out.status_to(phone(op)), vec![200], "registration of {op}");
}

fn invite(call_id: &str) -> String {
    let body = "v=0\r\no=trunk 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
                m=audio 17000 RTP/AVP 8 0 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\n\
                a=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n";
    format!(
        "INVITE sip:792112@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP {TRUNK};branch=z9hG4bK-{call_id};rport\r\n\
         From: <sip:+79115550101@127.0.0.1>;tag=c-{call_id}\r\nTo: <sip:792112@127.0.0.1>\r\nCall-ID: {call_id}\r\n\
         CSeq: 1 INVITE\r\nContact: <sip:caller@{TRUNK}>\r\nMax-Forwards: 70\r\nContent-Type: application/sdp\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// A caller through the greeting into the queue. Returns the call and our To tag.
fn queued_caller(sb: &mut Switchboard, call_id: &str, now: Now) -> (CallRef, String, Out) {
    let out = send(sb, &invite(call_id), trunk(), now);
    let call = out
        .actions
        .iter()
        .find_map(|a| match a {
            Action::OpenMedia {
                call,
                leg: Leg::Caller,
            } => Some(*call),
            _ => None,
        })
        .expect("caller media");
    sb.handle_media_opened(call, Leg::Caller, 30000, now);
    let out = drain(sb);
    let ok = out.response_to(trunk(), 200).expect("200 to the caller");
    let tag = message::to_tag(&ok).unwrap().unwrap();
    let ack = format!(
        "ACK sip:hotline@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP {TRUNK};branch=z9hG4bK-ack-{call_id};rport\r\n\
         From: <sip:+79115550101@127.0.0.1>;tag=c-{call_id}\r\nTo: <sip:792112@127.0.0.1>;tag={tag}\r\nCall-ID: {call_id}\r\n\
         CSeq: 1 ACK\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    );
    sb.handle_datagram(ack.as_bytes(), trunk(), now);
    let (prompts, greeting) = out.played().unwrap();
    assert_eq!(prompts, vec![PromptKind::Greeting]);
    sb.handle_media_event(call, MediaEvent::PromptFinished { tag: greeting }, now);
    // Every conversation is recorded: the caller is told before joining the queue.
    let out = drain(sb);
    let (prompts, notice) = out.played().unwrap();
    assert_eq!(prompts, vec![PromptKind::RecordingNotice]);
    assert!(out.actions.iter().any(|a| matches!(a, Action::Register(RegisterWrite::Update { update, .. }) if update.notice_played_at.is_some())));
    sb.handle_media_event(call, MediaEvent::PromptFinished { tag: notice }, now);
    (call, tag, drain(sb))
}

/// The operator leg's socket opens: the INVITE to the operator goes out.
fn ring(sb: &mut Switchboard, call: CallRef, op: &str, now: Now) -> Request {
    sb.handle_media_opened(call, Leg::Operator, 30002, now);
    let out = drain(sb);
    out.request_to(phone(op), "INVITE")
        .unwrap_or_else(|| panic!("INVITE to {op}"))
}

fn answer(sb: &mut Switchboard, invite: &Request, op: &str, now: Now) -> Out {
    let p = phone(op).addr;
    let mut ok = message::response_to(invite, 200, Some(&format!("op{op}")));
    message::push_header(&mut ok, "Contact", &format!("<sip:{op}@{p}>")).unwrap();
    let sdp = format!(
        "v=0\r\no=op 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n",
        16000 + op.parse::<u16>().unwrap()
    );
    message::set_body(&mut ok, "application/sdp", sdp.into_bytes());
    sb.handle_message(SipMessage::Response(ok), phone(op), now);
    drain(sb)
}

fn bye_from(call_id: &str, from_tag: &str, to_tag: &str, cseq: u32, peer: Peer) -> String {
    format!(
        "BYE sip:hotline@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP {};branch=z9hG4bK-bye-{call_id}-{cseq};rport\r\n\
         From: <sip:x@127.0.0.1>;tag={from_tag}\r\nTo: <sip:y@127.0.0.1>;tag={to_tag}\r\nCall-ID: {call_id}\r\n\
         CSeq: {cseq} BYE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
        peer.addr
    )
}

#[test]
fn a_queued_caller_is_bridged_to_the_registered_operator_and_the_call_registered() {
    let mut sb = line_with(&["101"]);
    let now = t0();
    register(&mut sb, "101", now);
    let (call, caller_tag, out) = queued_caller(&mut sb, "b1", now);
    assert_eq!(
        out.played().unwrap().0,
        vec![PromptKind::HoldMusic],
        "hold music while the operator rings"
    );
    assert!(out.opens_operator_leg());

    let now = now.advanced(Duration::from_secs(3));
    let inv = ring(&mut sb, call, "101", now);
    let text = inv.to_string();
    assert!(
        text.starts_with("INVITE sip:101@127.0.0.1:5101 SIP/2.0"),
        "{text}"
    );
    assert!(
        text.contains("From: \"+79115550101\" <sip:+79115550101@"),
        "caller's number shown: {text}"
    );
    assert!(text.contains("P-Asserted-Identity:"), "{text}");
    assert!(
        String::from_utf8_lossy(&inv.body).contains("m=audio 30002 RTP/AVP"),
        "our offer on the operator socket"
    );

    let now = now.advanced(Duration::from_secs(2));
    let out = answer(&mut sb, &inv, "101", now);
    assert!(
        out.request_to(phone("101"), "ACK").is_some(),
        "the operator's 200 is ACKed"
    );
    let bridge = out.actions.iter().find_map(|a| match a {
        Action::Media {
            order: MediaOrder::Bridge { operator },
            ..
        } => Some(*operator),
        _ => None,
    });
    assert_eq!(
        bridge.map(|b| b.remote.port()),
        Some(16101),
        "media bridged to the operator's SDP address"
    );
    assert_eq!(
        out.rings(),
        vec![("101".to_string(), "answered".to_string())]
    );

    // The caller hangs up: 200 to them, BYE to the operator, the row says who and how long.
    let now = now.advanced(Duration::from_secs(60));
    let out = send(
        &mut sb,
        &bye_from("b1", "c-b1", &caller_tag, 2, trunk()),
        trunk(),
        now,
    );
    assert_eq!(out.status_to(trunk()), vec![200]);
    let op_bye = out
        .request_to(phone("101"), "BYE")
        .expect("BYE to the operator");
    let end = out.final_update().expect("final row update");
    assert_eq!(end.outcome, Some(Outcome::Answered));
    assert_eq!(end.hangup_by, Some(HangupBy::Caller));
    assert_eq!(end.talk_ms, Some(60_000));
    assert_eq!(end.wait_ms, Some(5_000));
    sb.handle_message(
        SipMessage::Response(message::response_to(&op_bye, 200, None)),
        phone("101"),
        now,
    );
    drain(&mut sb);
    assert_eq!(sb.active_calls(), 0);
}

#[test]
fn operator_hangs_up_and_the_caller_gets_bye() {
    let mut sb = line_with(&["101"]);
    let now = t0();
    register(&mut sb, "101", now);
    let (call, _, _) = queued_caller(&mut sb, "b2", now);
    let inv = ring(&mut sb, call, "101", now);
    answer(&mut sb, &inv, "101", now);
    let from_tag = message::from_tag(&inv).unwrap().unwrap();
    let out = send(
        &mut sb,
        &bye_from(
            message::call_id(&inv).unwrap(),
            "op101",
            &from_tag,
            1,
            phone("101"),
        ),
        phone("101"),
        now,
    );
    assert_eq!(out.status_to(phone("101")), vec![200]);
    assert!(
        out.request_to(trunk(), "BYE").is_some(),
        "BYE to the caller"
    );
    assert_eq!(
        out.final_update().unwrap().hangup_by,
        Some(HangupBy::Operator)
    );
}

#[test]
fn ring_timeout_cancels_and_rings_the_next_operator() {
    let mut sb = line_with(&["101", "102"]);
    let mut now = t0();
    register(&mut sb, "101", now);
    now = now.advanced(Duration::from_secs(1));
    register(&mut sb, "102", now);
    let (call, _, _) = queued_caller(&mut sb, "b3", now);
    // 101 has been idle longest: rung first.
    let inv = ring(&mut sb, call, "101", now);
    let mut ringing = message::response_to(&inv, 180, Some("op101"));
    message::set_body(&mut ringing, "application/sdp", Vec::new());
    sb.handle_message(SipMessage::Response(ringing), phone("101"), now);
    drain(&mut sb);
    let later = now.advanced(Duration::from_secs(15));
    sb.handle_timeout(later);
    let out = drain(&mut sb);
    let cancel = out
        .request_to(phone("101"), "CANCEL")
        .expect("CANCEL to the operator who did not answer");
    assert!(out.opens_operator_leg(), "the next operator is rung");
    sb.handle_message(
        SipMessage::Response(message::response_to(&cancel, 200, Some("op101"))),
        phone("101"),
        later,
    );
    sb.handle_message(
        SipMessage::Response(message::response_to(&inv, 487, Some("op101"))),
        phone("101"),
        later,
    );
    let out = drain(&mut sb);
    assert!(
        out.request_to(phone("101"), "ACK").is_some(),
        "487 is ACKed"
    );
    let inv2 = ring(&mut sb, call, "102", later);
    let out = answer(&mut sb, &inv2, "102", later);
    assert!(out.actions.iter().any(|a| matches!(
        a,
        Action::Media {
            order: MediaOrder::Bridge { .. },
            ..
        }
    )));
}

#[test]
fn caller_who_hangs_up_while_the_operator_rings_is_abandoned_and_the_ring_cancelled() {
    let mut sb = line_with(&["101"]);
    let now = t0();
    register(&mut sb, "101", now);
    let (call, tag, _) = queued_caller(&mut sb, "b4", now);
    let inv = ring(&mut sb, call, "101", now);
    sb.handle_message(
        SipMessage::Response(message::response_to(&inv, 180, Some("op101"))),
        phone("101"),
        now,
    );
    drain(&mut sb);
    let out = send(
        &mut sb,
        &bye_from("b4", "c-b4", &tag, 2, trunk()),
        trunk(),
        now,
    );
    assert_eq!(out.status_to(trunk()), vec![200]);
    assert!(
        out.request_to(phone("101"), "CANCEL").is_some(),
        "the operator stops ringing"
    );
    assert_eq!(
        out.final_update().unwrap().outcome,
        Some(Outcome::Abandoned)
    );
    // The operator answered at the same moment (CANCEL/200 race): ACK, then BYE.
    let out = answer(&mut sb, &inv, "101", now);
    assert!(out.request_to(phone("101"), "ACK").is_some());
    assert!(
        out.request_to(phone("101"), "BYE").is_some(),
        "never leave an operator's phone off-hook"
    );
}

#[test]
fn busy_operator_is_never_rung_and_the_second_caller_waits() {
    let mut sb = line_with(&["101"]);
    let now = t0();
    register(&mut sb, "101", now);
    let (c1, _, _) = queued_caller(&mut sb, "b5", now);
    let inv = ring(&mut sb, c1, "101", now);
    answer(&mut sb, &inv, "101", now);
    let (_, _, out) = queued_caller(&mut sb, "b6", now);
    assert!(!out.opens_operator_leg(), "101 is talking: not rung");
    assert_eq!(out.played().unwrap().0, vec![PromptKind::HoldMusic]);
}

#[test]
fn operator_hold_plays_music_to_the_caller_and_resume_bridges_again() {
    let mut sb = line_with(&["101"]);
    let now = t0();
    register(&mut sb, "101", now);
    let (call, _, _) = queued_caller(&mut sb, "b7", now);
    let inv = ring(&mut sb, call, "101", now);
    answer(&mut sb, &inv, "101", now);
    let from_tag = message::from_tag(&inv).unwrap().unwrap();
    let cid = message::call_id(&inv).unwrap().to_string();
    let reinvite = |cseq: u32, dir: &str| {
        let body = format!("v=0\r\no=op 1 {cseq} IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 16101 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na={dir}\r\n");
        format!(
            "INVITE sip:hotline@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5101;branch=z9hG4bK-re-{cseq};rport\r\n\
             From: <sip:101@127.0.0.1>;tag=op101\r\nTo: <sip:x@127.0.0.1>;tag={from_tag}\r\nCall-ID: {cid}\r\nCSeq: {cseq} INVITE\r\n\
             Contact: <sip:101@127.0.0.1:5101>\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
    };
    let out = send(&mut sb, &reinvite(2, "sendonly"), phone("101"), now);
    let ok = out.response_to(phone("101"), 200).expect("hold accepted");
    assert!(String::from_utf8_lossy(&ok.body).contains("a=recvonly"));
    assert!(out.actions.iter().any(|a| matches!(
        a,
        Action::Media {
            order: MediaOrder::Hold,
            ..
        }
    )));
    let out = send(&mut sb, &reinvite(3, "sendrecv"), phone("101"), now);
    assert_eq!(out.status_to(phone("101")), vec![100, 200]);
    assert!(out.actions.iter().any(|a| matches!(
        a,
        Action::Media {
            order: MediaOrder::Unhold,
            ..
        }
    )));
}

#[test]
fn wrong_password_is_refused_and_the_operator_is_not_offered_calls() {
    let mut sb = line_with(&["101"]);
    let now = t0();
    let out = send(&mut sb, &register_text("101", 1, None), phone("101"), now);
    assert_eq!(out.status_to(phone("101")), vec![401]);
    let bad = "Digest username=\"101\",realm=\"hotline\",nonce=\"x\",uri=\"sip:127.0.0.1:5060\",response=\"00000000000000000000000000000000\",algorithm=MD5,cnonce=\"a\",nc=00000001,qop=auth";
    let out = send(
        &mut sb,
        &register_text("101", 2, Some(bad)),
        phone("101"),
        now,
    );
    assert_eq!(out.status_to(phone("101")), vec![401]);
    let (_, _, out) = queued_caller(&mut sb, "b8", now);
    assert!(!out.opens_operator_leg());
    assert_eq!(
        out.played().unwrap().0,
        vec![PromptKind::NoOperators],
        "nobody logged in"
    );
}

fn feature_invite(op: &str, code: &str, cseq: u32, auth: Option<&str>) -> String {
    let p = phone(op).addr;
    let body = "v=0\r\no=op 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 16101 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";
    let auth = auth
        .map(|a| format!("Authorization: {a}\r\n"))
        .unwrap_or_default();
    format!(
        "INVITE sip:{code}@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP {p};branch=z9hG4bK-f-{op}-{cseq};rport\r\n\
         From: <sip:{op}@127.0.0.1>;tag=f{op}\r\nTo: <sip:{code}@127.0.0.1>\r\nCall-ID: feature-{op}-{code}\r\n\
         CSeq: {cseq} INVITE\r\nContact: <sip:{op}@{p}>\r\n{auth}Max-Forwards: 70\r\nContent-Type: application/sdp\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// Answer a 401 the way a softphone does (MD5, qop=auth).
fn digest_answer(challenge: &Response, op: &str, method: &str, uri: &str) -> String {
    let text = challenge.to_string();
    let line = text
        .lines()
        .find(|l| l.starts_with("WWW-Authenticate") && l.contains("MD5"))
        .expect("MD5 challenge");
    let field = |name: &str| -> String {
        let start = line.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
        line[start..].split('"').next().unwrap().to_string()
    };
    let (realm, nonce) = (field("realm"), field("nonce"));
    let ha1 = digest::ha1(Algorithm::Md5, op, &realm, &format!("pass{op}"));
    let ha2 = Algorithm::Md5.hash_hex(format!("{method}:{uri}").as_bytes());
    let response =
        Algorithm::Md5.hash_hex(format!("{ha1}:{nonce}:00000001:beef:auth:{ha2}").as_bytes());
    format!("Digest username=\"{op}\",realm=\"{realm}\",nonce=\"{nonce}\",uri=\"{uri}\",response=\"{response}\",algorithm=MD5,cnonce=\"beef\",nc=00000001,qop=auth")
}

#[test]
fn star_50_pauses_the_operator_after_digest_auth_and_star_51_resumes() {
    let mut sb = line_with(&["101"]);
    let now = t0();
    register(&mut sb, "101", now);
    let out = send(
        &mut sb,
        &feature_invite("101", "*50", 1, None),
        phone("101"),
        now,
    );
    let challenge = out
        .response_to(phone("101"), 401)
        .expect("feature codes need the operator's password");
    let auth = digest_answer(&challenge, "101", "INVITE", "sip:*50@127.0.0.1:5060");
    let out = send(
        &mut sb,
        &feature_invite("101", "*50", 2, Some(&auth)),
        phone("101"),
        now,
    );
    let call = out
        .actions
        .iter()
        .find_map(|a| match a {
            Action::OpenMedia {
                call,
                leg: Leg::Caller,
            } => Some(*call),
            _ => None,
        })
        .expect("the code is confirmed by voice");
    sb.handle_media_opened(call, Leg::Caller, 30010, now);
    let out = drain(&mut sb);
    assert_eq!(out.played().unwrap().0, vec![PromptKind::Paused]);
    assert!(
        out.actions
            .iter()
            .all(|a| !matches!(a, Action::Register(_))),
        "not a call to the line: no row"
    );
    assert!(matches!(
        sb.acd.operator_state("101"),
        Some(super::acd::OperatorState::Paused(_))
    ));

    // A caller now waits: the paused operator is logged in but not rung.
    let (_, _, out) = queued_caller(&mut sb, "p1", now);
    assert!(!out.opens_operator_leg());
    assert_eq!(out.played().unwrap().0, vec![PromptKind::HoldMusic]);

    let out = send(
        &mut sb,
        &feature_invite("101", "*51", 3, None),
        phone("101"),
        now,
    );
    let challenge = out.response_to(phone("101"), 401).unwrap();
    let auth = digest_answer(&challenge, "101", "INVITE", "sip:*51@127.0.0.1:5060");
    let out = send(
        &mut sb,
        &feature_invite("101", "*51", 4, Some(&auth)),
        phone("101"),
        now,
    );
    assert!(
        out.opens_operator_leg(),
        "resumed: the waiting caller is offered at once"
    );
}

#[test]
fn callers_already_queued_at_closing_time_are_still_served() {
    // Weekdays 08:00-18:00 Moscow; Tuesday 2026-11-24 17:59:50 MSK is 14:59:50Z.
    let toml = r#"
        [sip]
        listen = "127.0.0.1:5060"
        [trunk]
        numbers = ["792112"]
        allow = ["127.0.0.1/32"]
        [queue]
        wrap_up = "10s"
        [[operators]]
        id = "101"
        name = "Operator 101"
        password = "pass101"
        "#;
    let config = Config::from_toml(toml, Path::new("test.toml"), &[]).unwrap();
    let now = Now {
        mono: std::time::Instant::now(),
        wall: "2026-11-24T14:59:30Z".parse().unwrap(),
    };
    let mut sb = Switchboard::new(Settings::from_config(&config), 9, now);
    register(&mut sb, "101", now);
    let (a, a_tag, _) = queued_caller(&mut sb, "a", now);
    let inv = ring(&mut sb, a, "101", now);
    answer(&mut sb, &inv, "101", now);
    // B arrives at 17:59:50, in hours: greeting, then the queue (101 is busy).
    let now = now.advanced(Duration::from_secs(20));
    let (b, _, out) = queued_caller(&mut sb, "b", now);
    assert!(!out.opens_operator_leg());
    // 18:00:30: closed. A new caller gets the after-hours message…
    let now = now.advanced(Duration::from_secs(40));
    let out = send(&mut sb, &invite("c"), trunk(), now);
    let c = out.actions.iter().find_map(|a| match a {
        Action::OpenMedia {
            call,
            leg: Leg::Caller,
        } => Some(*call),
        _ => None,
    });
    sb.handle_media_opened(c.unwrap(), Leg::Caller, 30020, now);
    assert_eq!(
        drain(&mut sb).played().unwrap().0,
        vec![PromptKind::AfterHours]
    );
    // …while B, who queued in hours, is rung once 101's wrap-up ends.
    let now = now.advanced(Duration::from_secs(30));
    let out = send(
        &mut sb,
        &bye_from("a", "c-a", &a_tag, 2, trunk()),
        trunk(),
        now,
    );
    assert_eq!(out.status_to(trunk()), vec![200]);
    let wrapped = now.advanced(Duration::from_secs(10));
    sb.handle_timeout(wrapped);
    let out = drain(&mut sb);
    assert!(out.opens_operator_leg(), "B is served after closing time");
    let _ = b;
}

#[test]
fn reload_removes_an_operator_and_changes_the_hours_without_dropping_calls() {
    let mut sb = line_with(&["101", "102"]);
    let now = t0();
    register(&mut sb, "101", now);
    register(&mut sb, "102", now);
    let (call, _, _) = queued_caller(&mut sb, "r1", now);
    let inv = ring(&mut sb, call, "101", now);
    answer(&mut sb, &inv, "101", now);
    // New config: 102 is gone, the line is closed from now on.
    let toml = "[sip]\nlisten = \"127.0.0.1:5060\"\n[trunk]\nnumbers = [\"792112\"]\nallow = [\"127.0.0.1/32\"]\n[hours]\ndays = []\n[[operators]]\nid = \"101\"\nname = \"Operator 101\"\npassword = \"pass101\"\n";
    let config = Config::from_toml(toml, Path::new("test.toml"), &[]).unwrap();
    sb.reload(Settings::from_config(&config), now);
    drain(&mut sb);
    assert_eq!(sb.active_calls(), 1, "the call in progress goes on");
    assert!(
        sb.acd.operator_state("102").is_none(),
        "102 is no longer an operator"
    );
    let out = send(&mut sb, &invite("r2"), trunk(), now);
    let c = out.actions.iter().find_map(|a| match a {
        Action::OpenMedia {
            call,
            leg: Leg::Caller,
        } => Some(*call),
        _ => None,
    });
    sb.handle_media_opened(c.unwrap(), Leg::Caller, 30030, now);
    assert_eq!(
        drain(&mut sb).played().unwrap().0,
        vec![PromptKind::AfterHours],
        "new hours apply to new calls"
    );
}

#[test]
fn a_softphone_that_moves_while_ringing_is_rung_again_at_its_new_address() {
    let mut sb = line_with(&["101"]);
    let now = t0();
    register(&mut sb, "101", now);
    let (call, _, _) = queued_caller(&mut sb, "m1", now);
    let inv = ring(&mut sb, call, "101", now);
    sb.handle_message(
        SipMessage::Response(message::response_to(&inv, 180, Some("op101"))),
        phone("101"),
        now,
    );
    drain(&mut sb);

    // The softphone restarts on another port and registers again (new Call-ID, new Contact).
    let moved = Peer {
        transport: Transport::Udp,
        addr: SocketAddr::from(([127, 0, 0, 1], 6101)),
    };
    let text = |cseq: u32, auth: Option<&str>| {
        register_text("101", cseq, auth)
            .replace("127.0.0.1:5101", "127.0.0.1:6101")
            .replace("Call-ID: reg-101", "Call-ID: reg-101-b")
    };
    let out = send(&mut sb, &text(1, None), moved, now);
    let challenge = out.response_to(moved, 401).unwrap();
    let auth = digest_answer(&challenge, "101", "REGISTER", "sip:127.0.0.1:5060");
    let out = send(&mut sb, &text(2, Some(&auth)), moved, now);
    assert_eq!(out.status_to(moved), vec![200]);
    assert!(
        out.request_to(phone("101"), "CANCEL").is_some(),
        "the old device stops ringing"
    );
    assert!(
        !out.opens_operator_leg(),
        "not at once: after the retry interval"
    );

    let later = now.advanced(Duration::from_secs(6));
    sb.handle_timeout(later);
    let out = drain(&mut sb);
    assert!(out.opens_operator_leg(), "rung again");
    sb.handle_media_opened(call, Leg::Operator, 30004, later);
    let out = drain(&mut sb);
    let again = out
        .request_to(moved, "INVITE")
        .expect("the INVITE goes to the new address");
    assert!(
        again
            .to_string()
            .starts_with("INVITE sip:101@127.0.0.1:6101"),
        "{again}"
    );
    assert!(
        out.request_to(phone("101"), "INVITE").is_none(),
        "never to the old one"
    );
}
