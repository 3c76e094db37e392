//! Simulated-time tests of offer/answer after the call is set up (RFC 3264 §8, RFC 4028):
//! re-INVITE and UPDATE from the caller and from the operator, hold in both directions,
//! media that moves, session refreshes, and what the call's timeline says of them.

use super::b2bua_support::*;
use crate::model::{CallEventKind, RingResult};

/// A connected call: caller `id` talking to operator 101. Returns the call, our To tag on
/// the caller's dialog, and the INVITE we sent the operator.
fn connected(sb: &mut Switchboard, id: &str, now: Now) -> (CallRef, String, Request) {
    register(sb, "101", now);
    let (call, tag, _) = queued_caller(sb, id, now);
    let inv = ring(sb, call, "101", now);
    answer(sb, &inv, "101", now);
    (call, tag, inv)
}

fn caller_sdp(version: u32, ip: &str, port: u16, codecs: &str, dir: &str) -> String {
    let mut s = format!(
        "v=0\r\no=trunk 1 {version} IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\nm=audio {port} RTP/AVP {codecs}\r\n"
    );
    for pt in codecs.split(' ') {
        match pt {
            "0" => s.push_str("a=rtpmap:0 PCMU/8000\r\n"),
            "8" => s.push_str("a=rtpmap:8 PCMA/8000\r\n"),
            "18" => s.push_str("a=rtpmap:18 G729/8000\r\n"),
            "101" => s.push_str("a=rtpmap:101 telephone-event/8000\r\n"),
            _ => {}
        }
    }
    s.push_str(&format!("a={dir}\r\n"));
    s
}

/// A request from the caller inside its dialog (re-INVITE or UPDATE), with `extra` headers.
fn from_caller(method: &str, id: &str, tag: &str, cseq: u32, body: &str, extra: &str) -> String {
    format!(
        "{method} sip:hotline@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP {TRUNK};branch=z9hG4bK-{method}-{id}-{cseq};rport\r\n\
         From: <sip:+79115550101@127.0.0.1>;tag=c-{id}\r\nTo: <sip:792112@127.0.0.1>;tag={tag}\r\nCall-ID: {id}\r\n\
         CSeq: {cseq} {method}\r\nContact: <sip:caller@{TRUNK}>\r\nMax-Forwards: 70\r\n{extra}\
         Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// A re-INVITE from operator 101 inside the operator's dialog.
fn from_operator(inv: &Request, cseq: u32, body: &str) -> String {
    let our_tag = message::from_tag(inv).unwrap().unwrap();
    let cid = message::call_id(inv).unwrap().to_string();
    format!(
        "INVITE sip:hotline@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5101;branch=z9hG4bK-re-{cseq};rport\r\n\
         From: <sip:101@127.0.0.1>;tag=op101\r\nTo: <sip:x@127.0.0.1>;tag={our_tag}\r\nCall-ID: {cid}\r\nCSeq: {cseq} INVITE\r\n\
         Contact: <sip:101@127.0.0.1:5101>\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

fn answer_body(out: &Out, peer: Peer) -> String {
    let ok = out.response_to(peer, 200).expect("200 OK");
    String::from_utf8_lossy(&ok.body).into_owned()
}

pub(super) fn updates(out: &Out) -> Vec<(Leg, SocketAddr, bool, bool)> {
    out.actions
        .iter()
        .filter_map(|a| match a {
            Action::Media {
                order:
                    MediaOrder::Update {
                        leg,
                        media,
                        send,
                        receive,
                    },
                ..
            } => Some((*leg, media.sdp_addr, *send, *receive)),
            _ => None,
        })
        .collect()
}

fn events(out: &Out) -> Vec<CallEventKind> {
    out.actions
        .iter()
        .filter_map(|a| match a {
            Action::Register(RegisterWrite::Event(e)) => Some(e.kind),
            _ => None,
        })
        .collect()
}

#[test]
fn a_caller_who_holds_gets_recvonly_and_the_media_stops_sending_to_them() {
    let mut sb = line_with(&["101"]);
    let now = t0();
    let (_, tag, _) = connected(&mut sb, "r1", now);
    let body = caller_sdp(2, "127.0.0.1", 17000, "8 0 101", "sendonly");
    let out = send(
        &mut sb,
        &from_caller("INVITE", "r1", &tag, 2, &body, ""),
        trunk(),
        now,
    );
    let sdp = answer_body(&out, trunk());
    assert!(sdp.contains("a=recvonly"), "hold answered recvonly: {sdp}");
    let here: SocketAddr = "127.0.0.1:17000".parse().unwrap();
    assert_eq!(updates(&out), vec![(Leg::Caller, here, false, true)]);
    assert_eq!(events(&out), vec![CallEventKind::CallerHold]);

    let inactive = caller_sdp(3, "127.0.0.1", 17000, "8 0 101", "inactive");
    let out = send(
        &mut sb,
        &from_caller("INVITE", "r1", &tag, 3, &inactive, ""),
        trunk(),
        now,
    );
    assert!(answer_body(&out, trunk()).contains("a=inactive"));
    assert_eq!(updates(&out), vec![(Leg::Caller, here, false, false)]);

    let back = caller_sdp(4, "127.0.0.1", 17000, "8 0 101", "sendrecv");
    let out = send(
        &mut sb,
        &from_caller("INVITE", "r1", &tag, 4, &back, ""),
        trunk(),
        now,
    );
    assert!(answer_body(&out, trunk()).contains("a=sendrecv"));
    assert_eq!(updates(&out), vec![(Leg::Caller, here, true, true)]);
    assert_eq!(events(&out), vec![CallEventKind::CallerResume]);
}

#[test]
fn a_caller_whose_media_moves_is_followed_to_the_new_address() {
    let mut sb = line_with(&["101"]);
    let now = t0();
    let (_, tag, _) = connected(&mut sb, "r2", now);
    let body = caller_sdp(2, "127.0.0.2", 17002, "8 0 101", "sendrecv");
    let out = send(
        &mut sb,
        &from_caller("INVITE", "r2", &tag, 2, &body, ""),
        trunk(),
        now,
    );
    let sdp = answer_body(&out, trunk());
    assert!(sdp.contains("a=sendrecv"), "{sdp}");
    assert!(sdp.contains("o=hotline "), "{sdp}");
    let moved: SocketAddr = "127.0.0.2:17002".parse().unwrap();
    assert_eq!(updates(&out), vec![(Leg::Caller, moved, true, true)]);
    assert_eq!(events(&out), vec![CallEventKind::CallerMediaMoved]);
}

#[test]
fn an_offer_without_a_common_codec_gets_488_and_the_session_stays() {
    let mut sb = line_with(&["101"]);
    let now = t0();
    let (_, tag, _) = connected(&mut sb, "r3", now);
    let body = caller_sdp(2, "127.0.0.9", 17009, "18", "sendrecv");
    let out = send(
        &mut sb,
        &from_caller("INVITE", "r3", &tag, 2, &body, ""),
        trunk(),
        now,
    );
    assert_eq!(out.status_to(trunk()), vec![100, 488]);
    assert!(updates(&out).is_empty(), "the media stays where it was");
    // The session is intact: the next offer is answered against the old one.
    let again = caller_sdp(2, "127.0.0.1", 17000, "8 0 101", "sendrecv");
    let out = send(
        &mut sb,
        &from_caller("INVITE", "r3", &tag, 3, &again, ""),
        trunk(),
        now,
    );
    assert!(answer_body(&out, trunk()).contains("a=sendrecv"));
}

#[test]
fn an_update_with_an_offer_is_answered_like_a_reinvite() {
    let mut sb = line_with(&["101"]);
    let now = t0();
    let (_, tag, _) = connected(&mut sb, "r4", now);
    let body = caller_sdp(2, "127.0.0.1", 17000, "8 0 101", "sendonly");
    let out = send(
        &mut sb,
        &from_caller("UPDATE", "r4", &tag, 2, &body, ""),
        trunk(),
        now,
    );
    assert_eq!(out.status_to(trunk()), vec![200]);
    let sdp = answer_body(&out, trunk());
    assert!(
        sdp.contains("a=recvonly"),
        "UPDATE answered with SDP: {sdp}"
    );
    assert_eq!(events(&out), vec![CallEventKind::CallerHold]);
}

#[test]
fn a_session_refresh_is_answered_with_its_interval_and_refresher() {
    let mut sb = line_with(&["101"]);
    let now = t0();
    let (_, tag, _) = connected(&mut sb, "r5", now);
    let body = caller_sdp(1, "127.0.0.1", 17000, "8 0 101", "sendrecv");
    let timer = "Supported: timer\r\nSession-Expires: 1800;refresher=uac\r\n";
    let out = send(
        &mut sb,
        &from_caller("INVITE", "r5", &tag, 2, &body, timer),
        trunk(),
        now,
    );
    let ok = out.response_to(trunk(), 200).expect("refresh accepted");
    let text = ok.to_string();
    assert!(
        text.contains("Session-Expires: 1800;refresher=uac"),
        "{text}"
    );
    assert!(text.contains("Require: timer"), "{text}");
    assert!(updates(&out).iter().all(|u| u.2 && u.3), "nothing held");
    assert!(events(&out).is_empty(), "a refresh is not an event");

    let short = "Supported: timer\r\nSession-Expires: 30\r\n";
    let out = send(
        &mut sb,
        &from_caller("INVITE", "r5", &tag, 3, &body, short),
        trunk(),
        now,
    );
    let too_small = out
        .response_to(trunk(), 422)
        .expect("422 Session Interval Too Small");
    assert!(too_small.to_string().contains("Min-SE: 90"));
}

#[test]
fn operator_hold_and_resume_are_on_the_calls_timeline() {
    let mut sb = line_with(&["101"]);
    let now = t0();
    let (_, _, inv) = connected(&mut sb, "r6", now);
    let hold = caller_sdp(2, "127.0.0.1", 16101, "0", "sendonly");
    let out = send(&mut sb, &from_operator(&inv, 2, &hold), phone("101"), now);
    assert!(answer_body(&out, phone("101")).contains("a=recvonly"));
    assert_eq!(events(&out), vec![CallEventKind::OperatorHold]);
    let later = now.advanced(Duration::from_secs(20));
    let resume = caller_sdp(3, "127.0.0.1", 16101, "0", "sendrecv");
    let out = send(
        &mut sb,
        &from_operator(&inv, 3, &resume),
        phone("101"),
        later,
    );
    assert_eq!(events(&out), vec![CallEventKind::OperatorResume]);
    let at = out.actions.iter().find_map(|a| match a {
        Action::Register(RegisterWrite::Event(e)) => Some(e.at),
        _ => None,
    });
    assert_eq!(at, Some(later.wall));
}

#[test]
fn an_operator_whose_media_moves_is_followed() {
    let mut sb = line_with(&["101"]);
    let now = t0();
    let (_, _, inv) = connected(&mut sb, "r7", now);
    let moved = caller_sdp(2, "127.0.0.3", 16201, "0", "sendrecv");
    let out = send(&mut sb, &from_operator(&inv, 2, &moved), phone("101"), now);
    assert!(answer_body(&out, phone("101")).contains("a=sendrecv"));
    let to: SocketAddr = "127.0.0.3:16201".parse().unwrap();
    assert_eq!(updates(&out), vec![(Leg::Operator, to, true, true)]);
    assert_eq!(events(&out), vec![CallEventKind::OperatorMediaMoved]);
}

/// The phone answers our CANCEL with 200 and its INVITE with 487, as phones do.
fn cancelled_ring(
    sb: &mut Switchboard,
    cancel: &Request,
    invite: &Request,
    op: &str,
    now: Now,
) -> Out {
    let tag = format!("op{op}");
    for (req, status) in [(cancel, 200), (invite, 487)] {
        let resp = message::response_to(req, status, Some(&tag));
        sb.handle_message(SipMessage::Response(resp), phone(op), now);
    }
    drain(sb)
}

#[test]
fn a_ring_timeout_is_no_answer_and_a_caller_leaving_is_caller_gone() {
    let mut sb = line_with(&["101", "102"]);
    let now = t0();
    register(&mut sb, "101", now);
    register(&mut sb, "102", now.advanced(Duration::from_secs(1)));
    let (call, tag, _) = queued_caller(&mut sb, "r8", now);
    let inv = ring(&mut sb, call, "101", now);
    let ringing = |inv: &Request, op: &str| {
        SipMessage::Response(message::response_to(inv, 180, Some(&format!("op{op}"))))
    };
    sb.handle_message(ringing(&inv, "101"), phone("101"), now);
    let later = now.advanced(Duration::from_secs(15));
    sb.handle_timeout(later);
    let out = drain(&mut sb);
    let cancel = out
        .request_to(phone("101"), "CANCEL")
        .expect("CANCEL on timeout");
    let out = cancelled_ring(&mut sb, &cancel, &inv, "101", later);
    assert_eq!(
        out.rings(),
        vec![("101".to_string(), RingResult::NoAnswer.as_str().to_string())]
    );

    // 102 rings next; the caller hangs up while it rings.
    let inv2 = ring(&mut sb, call, "102", later);
    sb.handle_message(ringing(&inv2, "102"), phone("102"), later);
    drain(&mut sb);
    let out = send(
        &mut sb,
        &bye_from("r8", "c-r8", &tag, 2, trunk()),
        trunk(),
        later,
    );
    let cancel = out
        .request_to(phone("102"), "CANCEL")
        .expect("CANCEL when the caller leaves");
    let out = cancelled_ring(&mut sb, &cancel, &inv2, "102", later);
    assert_eq!(
        out.rings(),
        vec![(
            "102".to_string(),
            RingResult::CallerGone.as_str().to_string()
        )]
    );
}

#[test]
fn busy_declined_and_failed_rings_say_so() {
    for (status, result) in [
        (486, RingResult::Busy),
        (603, RingResult::Declined),
        (480, RingResult::NoAnswer),
        (500, RingResult::Error),
    ] {
        let mut sb = line_with(&["101"]);
        let now = t0();
        register(&mut sb, "101", now);
        let (call, _, _) = queued_caller(&mut sb, "r9", now);
        let inv = ring(&mut sb, call, "101", now);
        sb.handle_message(
            SipMessage::Response(message::response_to(&inv, status, Some("op101"))),
            phone("101"),
            now,
        );
        let out = drain(&mut sb);
        assert_eq!(
            out.rings(),
            vec![("101".to_string(), result.as_str().to_string())],
            "{status}"
        );
    }
}

/// An INVITE from the trunk with `extra` headers.
fn invite_with(id: &str, extra: &str) -> String {
    invite(id).replacen(
        "Max-Forwards: 70\r\n",
        &format!("Max-Forwards: 70\r\n{extra}"),
        1,
    )
}

#[test]
fn the_first_answer_carries_the_callers_session_timer_and_a_short_one_is_refused() {
    let mut sb = line_with(&["101"]);
    let now = t0();
    let timer = "Supported: timer\r\nSession-Expires: 900\r\n";
    let out = send(&mut sb, &invite_with("s1", timer), trunk(), now);
    let call = out.admitted().expect("admitted");
    sb.handle_media_ready(call, Leg::Caller, Some(30000), now);
    let out = drain(&mut sb);
    let ok = out.response_to(trunk(), 200).expect("answered").to_string();
    assert!(ok.contains("Session-Expires: 900;refresher=uac"), "{ok}");
    assert!(ok.contains("Require: timer"), "{ok}");

    // A peer without the extension asks nothing of us: no timer in the answer.
    let out = send(
        &mut sb,
        &invite_with("s2", "Session-Expires: 900\r\n"),
        trunk(),
        now,
    );
    let call = out.admitted().expect("admitted");
    sb.handle_media_ready(call, Leg::Caller, Some(30004), now);
    let ok = drain(&mut sb)
        .response_to(trunk(), 200)
        .unwrap()
        .to_string();
    assert!(!ok.contains("Session-Expires"), "{ok}");

    let short = "Supported: timer\r\nSession-Expires: 60\r\n";
    let out = send(&mut sb, &invite_with("s3", short), trunk(), now);
    let refused = out.response_to(trunk(), 422).expect("422").to_string();
    assert!(refused.contains("Min-SE: 90"), "{refused}");
    let end = out.final_update().expect("the row is closed");
    assert_eq!(end.outcome, Some(Outcome::Rejected));
    assert_eq!(end.final_status, Some(422));
    assert_eq!(
        end.end_reason,
        Some(crate::model::EndReason::SessionTooSmall)
    );
}
