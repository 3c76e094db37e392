//! Simulated-time tests of the B2BUA: operators register with digest auth, callers queue,
//! operators are rung, answer, hold, hang up; every SIP message checked as a peer sees it.

use super::b2bua_support::*;

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
        bridge.map(|b| b.sdp_addr.port()),
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
