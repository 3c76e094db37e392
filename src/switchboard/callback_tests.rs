//! Simulated-time tests of call-backs: the operator is rung first, then the citizen is
//! called through the provider with digest credentials; every final answer of the
//! provider ends in its outcome, and the operator's phone is never left off-hook.

use super::b2bua_support::*;
use super::callback::{CallBackDone, CallBackRefused, CallBackRequest};
use crate::sip::digest::{challenge, parse_authorization, verify};

pub(super) const PROVIDER: &str = r#"
[trunk.provider]
registrar = "sip:127.0.0.2:5060"
username = "78112792112"
password = "secret"
"#;

pub(super) fn provider() -> Peer {
    Peer {
        transport: Transport::Udp,
        addr: "127.0.0.2:5060".parse().unwrap(),
    }
}

/// A line with operator 101 registered and the provider reachable.
pub(super) fn line() -> Switchboard {
    let mut sb = line_with_extra(&["101", "102"], PROVIDER);
    register(&mut sb, "101", t0());
    sb.set_provider_route(Some(provider()));
    sb
}

pub(super) fn request(operator: &str) -> CallBackRequest {
    CallBackRequest {
        item: 7,
        number: "+79115550101".into(),
        operator: operator.into(),
        requested_by: "supervisor".into(),
        topic: None,
    }
}

pub(super) fn done(out: &Out) -> Option<CallBackDone> {
    out.actions.iter().find_map(|a| match a {
        Action::CallBackDone(d) => Some(d.clone()),
        _ => None,
    })
}

pub(super) fn opened_operator_leg(out: &Out) -> CallRef {
    out.actions
        .iter()
        .find_map(|a| match a {
            Action::OpenOperatorMedia { call } => Some(*call),
            _ => None,
        })
        .expect("the operator leg's socket asked for")
}

/// Start a call-back and let operator 101 answer: returns the call, the operator's
/// INVITE and what the answer produced.
fn operator_answered(sb: &mut Switchboard, now: Now) -> (CallRef, Request, Out) {
    sb.start_callback(request("101"), now).expect("started");
    let call = opened_operator_leg(&drain(sb));
    let inv = ring(sb, call, "101", now);
    let out = answer(sb, &inv, "101", now);
    (call, inv, out)
}

/// The operator answered and the citizen leg's socket is open: the INVITE to the provider.
pub(super) fn citizen_invite(sb: &mut Switchboard, now: Now) -> (CallRef, Request) {
    let (call, _, out) = operator_answered(sb, now);
    assert!(out
        .actions
        .iter()
        .any(|a| matches!(a, Action::OpenCitizenMedia { call: c } if *c == call)));
    sb.handle_media_ready(call, Leg::Caller, Some(30000), now);
    let out = drain(sb);
    let inv = out
        .request_to(provider(), "INVITE")
        .expect("INVITE to the provider");
    (call, inv)
}

pub(super) fn provider_says(sb: &mut Switchboard, inv: &Request, status: u16, now: Now) -> Out {
    let resp = message::response_to(inv, status, Some("prov"));
    sb.handle_message(SipMessage::Response(resp), provider(), now);
    drain(sb)
}

fn challenge_401(sb: &mut Switchboard, inv: &Request, nonce: &str, now: Now) -> Out {
    let mut resp = message::response_to(inv, 401, Some("prov"));
    let value = challenge("provider", nonce, "o", Algorithm::Md5, false);
    message::push_header(&mut resp, "WWW-Authenticate", &value).unwrap();
    sb.handle_message(SipMessage::Response(resp), provider(), now);
    drain(sb)
}

pub(super) fn provider_sdp(port: u16) -> Vec<u8> {
    format!(
        "v=0\r\no=prov 1 1 IN IP4 127.0.0.2\r\ns=-\r\nc=IN IP4 127.0.0.2\r\nt=0 0\r\nm=audio {port} RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n"
    )
    .into_bytes()
}

pub(super) fn header(req: &Request, name: &str) -> Option<String> {
    let text = req.to_string();
    text.split("\r\n")
        .find_map(|l| l.strip_prefix(&format!("{name}: ")).map(str::to_string))
}

/// A request of the provider's in the citizen's dialog that `inv` (our INVITE) made:
/// `headers` (each ending in CRLF) go in as they are, `sdp` becomes its body.
pub(super) fn from_provider(
    method: &str,
    cseq: u32,
    branch: &str,
    inv: &Request,
    headers: &str,
    sdp: Option<Vec<u8>>,
) -> String {
    let body = sdp
        .map(|b| String::from_utf8(b).unwrap())
        .unwrap_or_default();
    let content_type = if body.is_empty() {
        ""
    } else {
        "Content-Type: application/sdp\r\n"
    };
    format!(
        "{method} sip:78112792112@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.2:5060;branch=z9hG4bK-{branch};rport\r\n\
         From: <sip:+79115550101@127.0.0.2>;tag=prov\r\nTo: <sip:78112792112@127.0.0.2>;tag={}\r\nCall-ID: {}\r\n\
         CSeq: {cseq} {method}\r\nContact: <sip:+79115550101@127.0.0.2:5060>\r\nMax-Forwards: 70\r\n\
         {headers}{content_type}Content-Length: {}\r\n\r\n{body}",
        message::from_tag(inv).unwrap().unwrap(),
        header(inv, "Call-ID").unwrap(),
        body.len(),
    )
}

#[test]
fn the_citizen_is_called_with_credentials_and_bridged_to_the_operator_then_recorded() {
    let mut sb = line();
    let now = t0();
    let (call, inv) = citizen_invite(&mut sb, now);
    let text = inv.to_string();
    assert!(
        text.starts_with("INVITE sip:+79115550101@127.0.0.2 SIP/2.0"),
        "{text}"
    );
    assert_eq!(
        header(&inv, "P-Asserted-Identity").as_deref(),
        Some("<sip:78112792112@127.0.0.2>")
    );
    assert!(header(&inv, "From")
        .unwrap()
        .starts_with("<sip:78112792112@127.0.0.2>;tag="));
    assert_eq!(header(&inv, "Max-Forwards").as_deref(), Some("70"));
    assert!(String::from_utf8_lossy(&inv.body).contains("m=audio 30000 RTP/AVP"));

    // 401: ACKed by the transaction, and the INVITE again with credentials.
    let out = challenge_401(&mut sb, &inv, "n1", now);
    assert!(out.request_to(provider(), "ACK").is_some(), "401 ACKed");
    let again = out
        .request_to(provider(), "INVITE")
        .expect("INVITE with credentials");
    assert_eq!(header(&again, "CSeq").as_deref(), Some("2 INVITE"));
    assert_eq!(header(&again, "Call-ID"), header(&inv, "Call-ID"));
    let creds = parse_authorization(&header(&again, "Authorization").unwrap()).unwrap();
    assert!(verify(
        &digest::ha1(Algorithm::Md5, "78112792112", "provider", "secret"),
        "INVITE",
        &creds
    ));

    // Early media: the operator hears the provider's ring-back before the answer.
    let mut ringing = message::response_to(&again, 183, Some("prov"));
    message::set_body(&mut ringing, "application/sdp", provider_sdp(40000));
    sb.handle_message(SipMessage::Response(ringing), provider(), now);
    let out = drain(&mut sb);
    let started = out.actions.iter().find_map(|a| match a {
        Action::StartCitizenMedia { call: c, media, .. } if *c == call => Some(media.sdp_addr),
        _ => None,
    });
    assert_eq!(started, Some("127.0.0.2:40000".parse().unwrap()));
    let bridge = out.actions.iter().find_map(|a| match a {
        Action::Media {
            order: MediaOrder::Bridge { operator },
            ..
        } => Some(operator.sdp_addr.port()),
        _ => None,
    });
    assert_eq!(bridge, Some(16101), "bridged to the operator's SDP address");
    assert!(!out
        .actions
        .iter()
        .any(|a| matches!(a, Action::StartRecording { .. })));

    // 200: ACK with the authenticated INVITE's CSeq, recording starts.
    let now = now.advanced(Duration::from_secs(5));
    let mut ok = message::response_to(&again, 200, Some("prov"));
    message::push_header(&mut ok, "Contact", "<sip:+79115550101@127.0.0.2:5060>").unwrap();
    message::set_body(&mut ok, "application/sdp", provider_sdp(40000));
    sb.handle_message(SipMessage::Response(ok), provider(), now);
    let out = drain(&mut sb);
    let ack = out.request_to(provider(), "ACK").expect("200 ACKed");
    assert_eq!(header(&ack, "CSeq").as_deref(), Some("2 ACK"));
    assert!(out
        .actions
        .iter()
        .any(|a| matches!(a, Action::StartRecording { call: c, .. } if *c == call)));
    assert!(
        !out.actions
            .iter()
            .any(|a| matches!(a, Action::StartCitizenMedia { .. })),
        "the early media's stream goes on"
    );

    // The citizen hangs up: BYE to the operator, the row and the worklist item closed.
    let now = now.advanced(Duration::from_secs(30));
    let bye = format!(
        "BYE sip:78112792112@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.2:5060;branch=z9hG4bK-pbye;rport\r\n\
         From: <sip:+79115550101@127.0.0.2>;tag=prov\r\nTo: <sip:78112792112@127.0.0.2>;tag={}\r\nCall-ID: {}\r\n\
         CSeq: 1 BYE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
        message::from_tag(&inv).unwrap().unwrap(),
        header(&inv, "Call-ID").unwrap()
    );
    let out = send(&mut sb, &bye, provider(), now);
    assert_eq!(out.status_to(provider()), vec![200]);
    let op_bye = out
        .request_to(phone("101"), "BYE")
        .expect("BYE to the operator");
    let end = out.final_update().expect("row closed");
    assert_eq!(end.outcome, Some(Outcome::Answered));
    assert_eq!(end.hangup_by, Some(HangupBy::Caller));
    assert_eq!(end.talk_ms, Some(30_000));
    assert_eq!(end.operator_id.as_deref(), Some("101"));
    assert!(out
        .actions
        .iter()
        .any(|a| matches!(a, Action::StopRecording { .. })));
    let d = done(&out).expect("worklist told");
    assert_eq!(
        (d.item, d.operator.as_str(), d.outcome.as_str()),
        (7, "101", "answered")
    );
    assert_eq!(sb.active_calls(), 1, "until the operator's BYE is answered");
    sb.handle_message(
        SipMessage::Response(message::response_to(&op_bye, 200, None)),
        phone("101"),
        now,
    );
    assert_eq!(sb.active_calls(), 0);
    assert_eq!(
        sb.acd.operator_state("101"),
        Some(&crate::switchboard::operators::OperatorState::WrapUp),
        "the operator wraps up, then takes calls again"
    );
}

/// Each final answer of the provider ends the call-back with its outcome, and the
/// operator is hung up.
fn ends_with(status: u16) -> (String, Out) {
    let mut sb = line();
    let now = t0();
    let (_, inv) = citizen_invite(&mut sb, now);
    let out = provider_says(&mut sb, &inv, status, now);
    assert!(
        out.request_to(phone("101"), "BYE").is_some(),
        "{status}: the operator is hung up"
    );
    let end = out.final_update().expect("row closed");
    assert_eq!(end.outcome, Some(Outcome::Failed), "{status}");
    assert_eq!(end.final_status, Some(status));
    (done(&out).expect("worklist told").outcome, out)
}

#[test]
fn busy_and_decline_are_busy() {
    for status in [486, 600, 603] {
        assert_eq!(ends_with(status).0, "busy", "{status}");
    }
}

#[test]
fn no_answer_statuses_are_no_answer() {
    for status in [408, 480, 487] {
        assert_eq!(ends_with(status).0, "no_answer", "{status}");
    }
}

#[test]
fn other_failures_are_failed_and_redirects_not_followed() {
    for status in [302, 403, 488, 500, 503] {
        let (outcome, out) = ends_with(status);
        assert_eq!(outcome, "failed", "{status}");
        assert_eq!(
            out.to(provider())
                .iter()
                .filter(|m| matches!(m, SipMessage::Request(r) if r.method.to_string() == "INVITE"))
                .count(),
            0,
            "{status}: nothing is sent anywhere else"
        );
    }
    assert_eq!(ends_with(404).0, "unreachable");
}

#[test]
fn the_citizens_ring_timeout_cancels_and_counts_as_no_answer() {
    let mut sb = line();
    let now = t0();
    let (_, inv) = citizen_invite(&mut sb, now);
    provider_says(&mut sb, &inv, 180, now);
    let later = now.advanced(super::callback::CITIZEN_RING_TIMEOUT + Duration::from_secs(1));
    assert!(sb.poll_timeout().unwrap() <= later.mono);
    sb.handle_timeout(later);
    let out = drain(&mut sb);
    assert!(
        out.request_to(provider(), "CANCEL").is_some(),
        "CANCEL sent"
    );
    let out = provider_says(&mut sb, &inv, 487, later);
    assert_eq!(done(&out).unwrap().outcome, "no_answer");
    assert!(out.request_to(phone("101"), "BYE").is_some());
}

#[test]
fn credentials_refused_twice_fail_without_a_third_try() {
    let mut sb = line();
    let now = t0();
    let (_, inv) = citizen_invite(&mut sb, now);
    let out = challenge_401(&mut sb, &inv, "n1", now);
    let again = out.request_to(provider(), "INVITE").unwrap();
    let out = challenge_401(&mut sb, &again, "n2", now);
    let again = out.request_to(provider(), "INVITE").unwrap();
    let out = challenge_401(&mut sb, &again, "n3", now);
    assert!(out.request_to(provider(), "INVITE").is_none());
    assert_eq!(done(&out).unwrap().outcome, "failed");
}

#[test]
fn an_operator_who_does_not_answer_means_the_citizen_is_not_called() {
    let mut sb = line();
    let now = t0();
    sb.start_callback(request("101"), now).unwrap();
    let call = opened_operator_leg(&drain(&mut sb));
    let inv = ring(&mut sb, call, "101", now);
    let resp = message::response_to(&inv, 486, Some("op"));
    sb.handle_message(SipMessage::Response(resp), phone("101"), now);
    let out = drain(&mut sb);
    assert!(out.request_to(provider(), "INVITE").is_none());
    assert_eq!(done(&out).unwrap().outcome, "operator_unavailable");
    assert_eq!(sb.active_calls(), 0);
    // The operator is free again (after the wrap-up) for the next call-back or caller.
    assert_ne!(
        sb.acd.operator_state("101"),
        Some(&crate::switchboard::operators::OperatorState::Talking(call))
    );
}

#[test]
fn the_operator_hanging_up_while_the_citizen_rings_cancels_the_citizen() {
    let mut sb = line();
    let now = t0();
    let (call, op_inv, _) = operator_answered(&mut sb, now);
    sb.handle_media_ready(call, Leg::Caller, Some(30000), now);
    let inv = drain(&mut sb).request_to(provider(), "INVITE").unwrap();
    provider_says(&mut sb, &inv, 180, now);
    let bye = bye_from(
        header(&op_inv, "Call-ID").as_deref().unwrap(),
        "op101",
        &message::from_tag(&op_inv).unwrap().unwrap(),
        1,
        phone("101"),
    );
    let out = send(&mut sb, &bye, phone("101"), now);
    assert_eq!(out.status_to(phone("101")), vec![200]);
    assert!(out.request_to(provider(), "CANCEL").is_some());
    assert!(done(&out).is_some());
    // The provider's 487 closes the last transaction; nothing else is sent.
    let out = provider_says(&mut sb, &inv, 487, now);
    assert!(out.request_to(phone("101"), "BYE").is_none());
    assert_eq!(sb.active_calls(), 0);
}

#[test]
fn refusals_say_why() {
    let now = t0();
    let mut sb = line_with_extra(&["101"], PROVIDER);
    register(&mut sb, "101", now);
    assert_eq!(
        sb.start_callback(request("101"), now),
        Err(CallBackRefused::NoProvider),
        "not before the provider's route is known"
    );
    let mut sb = line();
    assert_eq!(
        sb.start_callback(request("102"), now),
        Err(CallBackRefused::NotRegistered("102".into()))
    );
    assert_eq!(
        sb.start_callback(request("999"), now),
        Err(CallBackRefused::UnknownOperator("999".into()))
    );
    let mut bad = request("101");
    bad.number = "101@evil.example".into();
    assert_eq!(
        sb.start_callback(bad, now),
        Err(CallBackRefused::NotANumber)
    );
    sb.start_callback(request("101"), now).unwrap();
    assert_eq!(
        sb.start_callback(request("101"), now),
        Err(CallBackRefused::OperatorBusy("101".into()))
    );
    let mut none = line_with(&["101"]);
    none.set_provider_route(Some(provider()));
    assert_eq!(
        none.start_callback(request("101"), now),
        Err(CallBackRefused::NoProvider),
        "no [trunk.provider]"
    );
}

#[test]
fn a_queued_caller_is_not_offered_to_an_operator_on_a_call_back() {
    let mut sb = line();
    let now = t0();
    sb.start_callback(request("101"), now).unwrap();
    drain(&mut sb);
    let (_, _, out) = queued_caller(&mut sb, "q1", now);
    assert!(
        !out.opens_operator_leg(),
        "the only operator is busy with the call-back"
    );
}

#[test]
fn a_session_refresh_from_the_provider_gets_our_session_unchanged_and_a_new_answer_address_is_followed(
) {
    let mut sb = line();
    let now = t0();
    let (call, inv) = citizen_invite(&mut sb, now);
    let mut early = message::response_to(&inv, 183, Some("prov"));
    message::set_body(&mut early, "application/sdp", provider_sdp(40000));
    sb.handle_message(SipMessage::Response(early), provider(), now);
    drain(&mut sb);
    let mut ok = message::response_to(&inv, 200, Some("prov"));
    message::push_header(&mut ok, "Contact", "<sip:+79115550101@127.0.0.2:5060>").unwrap();
    message::set_body(&mut ok, "application/sdp", provider_sdp(40002));
    sb.handle_message(SipMessage::Response(ok), provider(), now);
    let out = drain(&mut sb);
    let moved = out.actions.iter().find_map(|a| match a {
        Action::Media {
            call: c,
            order: MediaOrder::Update { leg, media, .. },
        } if *c == call => Some((*leg, media.sdp_addr.port())),
        _ => None,
    });
    assert_eq!(moved, Some((Leg::Caller, 40002)));

    let reinvite = from_provider("INVITE", 2, "refresh", &inv, "", Some(provider_sdp(40002)));
    let out = send(
        &mut sb,
        &reinvite,
        provider(),
        now.advanced(Duration::from_secs(900)),
    );
    let ok = out.response_to(provider(), 200).expect("refresh answered");
    assert_eq!(ok.body, inv.body, "our first offer, o= line unchanged");
    assert!(done(&out).is_none(), "the call goes on");
}

#[test]
fn an_operator_phone_ringing_past_the_ring_timeout_is_cancelled() {
    let mut sb = line();
    let now = t0();
    sb.start_callback(request("101"), now).unwrap();
    let call = opened_operator_leg(&drain(&mut sb));
    let inv = ring(&mut sb, call, "101", now);
    let ringing = message::response_to(&inv, 180, Some("op"));
    sb.handle_message(SipMessage::Response(ringing), phone("101"), now);
    drain(&mut sb);
    let later = now.advanced(Duration::from_secs(16));
    sb.handle_timeout(later);
    let out = drain(&mut sb);
    assert!(out.request_to(phone("101"), "CANCEL").is_some());
    assert_eq!(done(&out).unwrap().outcome, "operator_unavailable");
    assert!(out.request_to(provider(), "INVITE").is_none());
    // The phone's 487 closes the ring; nothing is left.
    let resp = message::response_to(&inv, 487, Some("op"));
    sb.handle_message(SipMessage::Response(resp), phone("101"), later);
    assert_eq!(sb.active_calls(), 0);
}
