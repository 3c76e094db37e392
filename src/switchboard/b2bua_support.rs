//! Test support for the B2BUA's simulated-time tests: a line with operators, softphones
//! that register with digest auth, callers that queue, and what the switchboard sent.

pub(super) use std::net::SocketAddr;
pub(super) use std::path::Path;
pub(super) use std::time::Duration;

pub(super) use crate::config::Config;
pub(super) use crate::model::Now;
pub(super) use crate::sip::digest::{self, Algorithm};
pub(super) use crate::sip::message::{self, Request, Response, SipMessage};
pub(super) use crate::sip::{Peer, Transport};

pub(super) use super::{
    Action, CallRef, Leg, MediaEvent, MediaOrder, PromptKind, Settings, Switchboard,
};
pub(super) use crate::model::{HangupBy, Outcome, RegisterWrite};

pub(super) const TRUNK: &str = "127.0.0.1:5071";

pub(super) fn t0() -> Now {
    Now {
        mono: std::time::Instant::now(),
        wall: "2026-11-24T09:00:00Z".parse().unwrap(),
    }
}

pub(super) fn line_with(operators: &[&str]) -> Switchboard {
    line_with_extra(operators, "")
}

/// A line with more configuration appended (e.g. a `[limits]` section).
pub(super) fn line_with_extra(operators: &[&str], extra: &str) -> Switchboard {
    line_with_env(operators, extra, &[])
}

/// A line with more configuration and `HOTLINE_…` overrides (e.g. the menu turned on).
pub(super) fn line_with_env(
    operators: &[&str],
    extra: &str,
    env: &[(String, String)],
) -> Switchboard {
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
        [menu]
        enabled = false
        "#,
    );
    toml.push_str(extra);
    toml.push('\n');
    for op in operators {
        toml.push_str(&format!(
            "[[operators]]\nid = \"{op}\"\nname = \"Operator {op}\"\npassword = \"pass{op}\"\n"
        ));
    }
    let config = Config::from_toml(&toml, Path::new("test.toml"), env).expect("valid test config");
    Switchboard::new(Settings::from_config(&config), 7, t0())
}

pub(super) fn phone(op: &str) -> Peer {
    let port: u16 = 5000 + op.parse::<u16>().unwrap();
    Peer {
        transport: Transport::Udp,
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
    }
}

pub(super) fn trunk() -> Peer {
    Peer {
        transport: Transport::Udp,
        addr: TRUNK.parse().unwrap(),
    }
}

#[derive(Default)]
pub(super) struct Out {
    pub(super) sent: Vec<(Peer, SipMessage)>,
    pub(super) actions: Vec<Action>,
}

impl Out {
    pub(super) fn to(&self, peer: Peer) -> Vec<&SipMessage> {
        self.sent
            .iter()
            .filter(|(p, _)| *p == peer)
            .map(|(_, m)| m)
            .collect()
    }
    pub(super) fn request_to(&self, peer: Peer, method: &str) -> Option<Request> {
        self.to(peer).into_iter().find_map(|m| match m {
            SipMessage::Request(r) if r.method.to_string() == method => Some(r.clone()),
            _ => None,
        })
    }
    pub(super) fn status_to(&self, peer: Peer) -> Vec<u16> {
        self.to(peer)
            .into_iter()
            .filter_map(|m| match m {
                SipMessage::Response(r) => Some(r.status_code.code()),
                _ => None,
            })
            .collect()
    }
    pub(super) fn response_to(&self, peer: Peer, code: u16) -> Option<Response> {
        self.to(peer).into_iter().find_map(|m| match m {
            SipMessage::Response(r) if r.status_code.code() == code => Some(r.clone()),
            _ => None,
        })
    }
    pub(super) fn played(&self) -> Option<(Vec<PromptKind>, u32)> {
        self.actions.iter().rev().find_map(|a| match a {
            Action::Media {
                order: MediaOrder::Play { prompts, tag, .. },
                ..
            } => Some((prompts.clone(), *tag)),
            _ => None,
        })
    }
    /// The call the door let in (its caller's media asked for).
    pub(super) fn admitted(&self) -> Option<CallRef> {
        self.actions.iter().find_map(|a| match a {
            Action::OpenCallerMedia { call, .. } => Some(*call),
            _ => None,
        })
    }
    pub(super) fn opens_operator_leg(&self) -> bool {
        self.actions
            .iter()
            .any(|a| matches!(a, Action::OpenOperatorMedia { .. }))
    }
    pub(super) fn final_update(&self) -> Option<&crate::model::CallUpdate> {
        self.actions.iter().rev().find_map(|a| match a {
            Action::Register(RegisterWrite::Update { update, .. }) if update.ended_at.is_some() => {
                Some(update)
            }
            _ => None,
        })
    }
    pub(super) fn rings(&self) -> Vec<(String, String)> {
        self.actions
            .iter()
            .filter_map(|a| match a {
                Action::Register(RegisterWrite::Ring(r)) => {
                    Some((r.operator_id.clone(), r.result.as_str().to_string()))
                }
                _ => None,
            })
            .collect()
    }
}

pub(super) fn drain(sb: &mut Switchboard) -> Out {
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

pub(super) fn send(sb: &mut Switchboard, text: &str, from: Peer, now: Now) -> Out {
    sb.handle_datagram(text.as_bytes(), from, now);
    drain(sb)
}

pub(super) fn register_text(op: &str, cseq: u32, auth: Option<&str>) -> String {
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
pub(super) fn register(sb: &mut Switchboard, op: &str, now: Now) {
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

pub(super) fn invite(call_id: &str) -> String {
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
pub(super) fn queued_caller(
    sb: &mut Switchboard,
    call_id: &str,
    now: Now,
) -> (CallRef, String, Out) {
    let out = send(sb, &invite(call_id), trunk(), now);
    let call = out.admitted().expect("caller media");
    sb.handle_media_ready(call, Leg::Caller, Some(30000), now);
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
pub(super) fn ring(sb: &mut Switchboard, call: CallRef, op: &str, now: Now) -> Request {
    sb.handle_media_ready(call, Leg::Operator, Some(30002), now);
    let out = drain(sb);
    out.request_to(phone(op), "INVITE")
        .unwrap_or_else(|| panic!("INVITE to {op}"))
}

pub(super) fn answer(sb: &mut Switchboard, invite: &Request, op: &str, now: Now) -> Out {
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

pub(super) fn bye_from(
    call_id: &str,
    from_tag: &str,
    to_tag: &str,
    cseq: u32,
    peer: Peer,
) -> String {
    format!(
        "BYE sip:hotline@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP {};branch=z9hG4bK-bye-{call_id}-{cseq};rport\r\n\
         From: <sip:x@127.0.0.1>;tag={from_tag}\r\nTo: <sip:y@127.0.0.1>;tag={to_tag}\r\nCall-ID: {call_id}\r\n\
         CSeq: {cseq} BYE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
        peer.addr
    )
}

pub(super) fn digest_answer(challenge: &Response, op: &str, method: &str, uri: &str) -> String {
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
