//! Tests of the accessors, builders, printing and Via handling, all through our own API
//! (messages enter through `parse_datagram` as they do in production).

use std::net::SocketAddr;

use rand::rngs::SmallRng;
use rand::SeedableRng;

use super::*;
use crate::sip::{Peer, Transport};

const INVITE: &str = "INVITE sip:%2B78112792112@10.0.0.1;user=phone SIP/2.0\r\n\
    Via: SIP/2.0/UDP trunk.example:5070;branch=z9hG4bKtop;rport\r\n\
    Via: SIP/2.0/UDP 10.0.0.20;branch=z9hG4bKmid, SIP/2.0/TCP 10.0.0.21;branch=z9hG4bKlow\r\n\
    Record-Route: <sip:10.0.0.30;lr>, <sip:10.0.0.31;lr>\r\n\
    Record-Route: <sip:edge.example;lr>\r\n\
    Max-Forwards: 69\r\n\
    From: \"Caller\" <sip:+79110000001@trunk.example>;tag=f1\r\n\
    To: <sip:+78112792112@10.0.0.1>\r\n\
    Call-ID: abc-123@trunk.example\r\n\
    CSeq: 4711 INVITE\r\n\
    Timestamp: 54\r\n\
    Contact: <sip:+79110000001@10.0.0.20:5070;transport=udp>;expires=60\r\n\
    Content-Type: application/SDP; charset=utf-8\r\n\
    Content-Length: 4\r\n\r\nv=0\n";

fn parse(raw: &str) -> SipMessage {
    match parse_datagram(raw.as_bytes()) {
        Ok(Datagram::Message(msg)) => msg,
        other => panic!("{other:?}"),
    }
}

fn req(raw: &str) -> Request {
    match parse(raw) {
        SipMessage::Request(r) => r,
        SipMessage::Response(r) => panic!("{r:?}"),
    }
}

fn text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap()
}

#[test]
fn accessors_read_the_invite() {
    let r = req(INVITE);
    assert_eq!(call_id(&r).unwrap(), "abc-123@trunk.example");
    assert_eq!(cseq(&r).unwrap(), (4711, Method::Invite));
    assert_eq!(from_tag(&r).unwrap().as_deref(), Some("f1"));
    assert_eq!(to_tag(&r).unwrap(), None);
    assert_eq!(top_via_branch(&r).unwrap(), "z9hG4bKtop");
    assert_eq!(
        top_via_sent_by(&r).unwrap(),
        ("trunk.example".into(), Some(5070))
    );
    assert_eq!(request_user(&r).as_deref(), Some("+78112792112"));
    assert_eq!(from_user(&r).as_deref(), Some("+79110000001"));
    assert!(has_sdp_body(&r));
    assert_eq!(content_type(&r).as_deref(), Some("application/sdp"));
    assert_eq!(
        contact_uri(&r).unwrap().to_string(),
        "sip:+79110000001@10.0.0.20:5070;transport=UDP"
    );
    assert_eq!(max_forwards(&r), Ok(Some(69)));
    let rr: Vec<String> = record_route(&r)
        .unwrap()
        .iter()
        .map(|na| na.uri.to_string())
        .collect();
    assert_eq!(
        rr,
        [
            "sip:10.0.0.30;lr",
            "sip:10.0.0.31;lr",
            "sip:edge.example;lr"
        ]
    );
}

#[test]
fn accessors_report_what_is_missing() {
    let r = req(&INVITE
        .replace("Max-Forwards: 69\r\n", "")
        .replace("Contact: ", "X-Contact: "));
    assert_eq!(max_forwards(&r), Ok(None));
    assert_eq!(contact_uri(&r), None);
    let mut r = req(INVITE);
    r.headers.retain(|h| !matches!(h, Header::Via(_)));
    assert_eq!(top_via_branch(&r), Err(MessageError::MissingHeader("Via")));
    let r = req(&INVITE.replace(";branch=z9hG4bKtop", ""));
    assert_eq!(top_via_branch(&r), Err(MessageError::MissingBranch));
    let r = req(&INVITE.replace(
        "Content-Length: 4\r\n\r\nv=0\n",
        "Content-Length: 0\r\n\r\n",
    ));
    assert!(!has_sdp_body(&r), "SDP content type without a body");
    let r = req(&INVITE.replace("application/SDP", "text/plain"));
    assert!(!has_sdp_body(&r));
}

#[test]
fn caller_number_falls_back_to_p_asserted_identity() {
    let anon = INVITE.replace(
        "From: \"Caller\" <sip:+79110000001@trunk.example>",
        "From: \"Anonymous\" <sip:anonymous@anonymous.invalid>",
    );
    let r = req(&anon);
    assert_eq!(from_user(&r), None);
    let with_pai = anon.replace(
        "Call-ID:",
        "P-Asserted-Identity: <sip:trunk.example>, <tel:+7-911-000-00-02>\r\nCall-ID:",
    );
    assert_eq!(from_user(&req(&with_pai)).as_deref(), Some("+79110000002"));
}

#[test]
fn response_to_copies_what_the_peer_matches_on() {
    let r = req(INVITE);
    let bytes = text(to_bytes(&response_to(&r, 180, Some("lt1"))));
    assert_eq!(
        bytes,
        "SIP/2.0 180 Ringing\r\n\
         Via: SIP/2.0/UDP trunk.example:5070;branch=z9hG4bKtop;rport\r\n\
         Via: SIP/2.0/UDP 10.0.0.20;branch=z9hG4bKmid, SIP/2.0/TCP 10.0.0.21;branch=z9hG4bKlow\r\n\
         Record-Route: <sip:10.0.0.30;lr>, <sip:10.0.0.31;lr>\r\n\
         Record-Route: <sip:edge.example;lr>\r\n\
         From: \"Caller\" <sip:+79110000001@trunk.example>;tag=f1\r\n\
         To: <sip:+78112792112@10.0.0.1>;tag=lt1\r\n\
         Call-ID: abc-123@trunk.example\r\n\
         CSeq: 4711 INVITE\r\n\
         Content-Length: 0\r\n\r\n"
    );
    let trying = text(to_bytes(&response_to(&r, 100, None)));
    assert!(trying.starts_with("SIP/2.0 100 Trying\r\n"));
    assert!(trying.contains("\r\nTimestamp: 54\r\n"));
    assert!(trying.contains("\r\nTo: <sip:+78112792112@10.0.0.1>\r\n"));
    let busy = text(to_bytes(&response_to(&r, 486, Some("lt1"))));
    assert!(!busy.contains("Record-Route") && !busy.contains("Timestamp"));
}

#[test]
fn response_to_keeps_an_existing_to_tag() {
    let r = req(&INVITE.replace("To: <sip:+78112792112@10.0.0.1>", "To: <sip:x@h>;tag=old"));
    let resp = response_to(&r, 200, Some("new"));
    assert_eq!(to_tag(&resp).unwrap().as_deref(), Some("old"));
    assert_eq!(text(to_bytes(&resp)).matches("tag=").count(), 2);
}

#[test]
fn reason_phrases_and_unknown_codes() {
    let r = req(INVITE);
    assert!(to_bytes(&response_to(&r, 499, None)).starts_with(b"SIP/2.0 499 Request Failure\r\n"));
    assert!(to_bytes(&response_to(&r, 699, None)).starts_with(b"SIP/2.0 699 Global Failure\r\n"));
    let mut resp = response_to(&r, 403, Some("t"));
    set_reason(&mut resp, "Outside\r\nX-Evil: 1\tHours");
    assert!(to_bytes(&resp).starts_with(b"SIP/2.0 403 Outside X-Evil: 1 Hours\r\n"));
    assert_eq!(resp.status_code, StatusCode::Forbidden);
}

#[test]
fn bodies_and_content_length() {
    let r = req(INVITE);
    let resp = with_body(
        response_to(&r, 200, Some("t")),
        "application/sdp",
        b"v=0\r\n".to_vec(),
    );
    let out = text(to_bytes(&resp));
    assert!(
        out.ends_with("Content-Type: application/sdp\r\nContent-Length: 5\r\n\r\nv=0\r\n"),
        "{out}"
    );
    assert_eq!(out.matches("Content-Length").count(), 1);

    // A stale Content-Length in memory never reaches the wire.
    let mut r = req(INVITE);
    r.body = b"longer body".to_vec();
    let out = text(to_bytes(&r));
    assert!(out.contains("\r\nContent-Length: 11\r\n\r\nlonger body"));
    assert_eq!(out.matches("Content-Length").count(), 1);
    // And what we print parses back to the same message.
    assert_eq!(parse(&out), SipMessage::Request(req(&out)));
    assert_eq!(req(&out).body, b"longer body");
}

#[test]
fn push_header_refuses_injection() {
    let mut resp = response_to(&req(INVITE), 200, Some("t"));
    push_header(&mut resp, "Contact", "<sip:hotline@10.0.0.1:5060>").unwrap();
    push_header(&mut resp, "Server", "hotline").unwrap();
    assert_eq!(
        contact_uri(&resp).unwrap().to_string(),
        "sip:hotline@10.0.0.1:5060"
    );
    assert!(text(to_bytes(&resp)).contains("\r\nServer: hotline\r\n"));
    for (name, value) in [
        ("X", "a\r\nInjected: 1"),
        ("Bad Name", "v"),
        ("", "v"),
        ("X:", "v"),
    ] {
        assert!(matches!(
            push_header(&mut resp, name, value),
            Err(MessageError::UnsafeHeader(_))
        ));
    }
}

#[test]
fn random_identifiers() {
    let mut rng = SmallRng::seed_from_u64(7);
    let (b1, b2) = (new_branch(&mut rng), new_branch(&mut rng));
    assert!(b1.starts_with(MAGIC_COOKIE) && b1.len() == 23 && b1 != b2);
    assert_eq!(new_tag(&mut rng).len(), 12);
    let call_id = new_call_id(&mut rng, "10.0.0.1");
    assert!(call_id.ends_with("@10.0.0.1") && call_id.len() == 33);
    assert!(!new_call_id(&mut rng, " \r\n").contains(['@', ' ', '\r']));
}

const OUR_INVITE: &str = "INVITE sip:101@10.0.0.50:5062 SIP/2.0\r\n\
    Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKours;rport\r\n\
    Route: <sip:10.0.0.40;lr>\r\n\
    Max-Forwards: 70\r\n\
    From: <sip:hotline@10.0.0.1>;tag=ft\r\n\
    To: <sip:101@10.0.0.50>\r\n\
    Call-ID: op-1@10.0.0.1\r\n\
    CSeq: 3 INVITE\r\n\
    Contact: <sip:hotline@10.0.0.1:5060>\r\n\
    Content-Length: 0\r\n\r\n";

#[test]
fn cancel_matches_the_invite() {
    let cancel = cancel_for(&req(OUR_INVITE)).unwrap();
    assert_eq!(
        text(to_bytes(&cancel)),
        "CANCEL sip:101@10.0.0.50:5062 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKours;rport\r\n\
         Route: <sip:10.0.0.40;lr>\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:hotline@10.0.0.1>;tag=ft\r\n\
         To: <sip:101@10.0.0.50>\r\n\
         Call-ID: op-1@10.0.0.1\r\n\
         CSeq: 3 CANCEL\r\n\
         Content-Length: 0\r\n\r\n"
    );
}

#[test]
fn ack_for_a_failure_uses_the_response_to() {
    let invite = req(OUR_INVITE);
    let busy = match parse(&text(to_bytes(&response_to(&invite, 486, Some("op-tag"))))) {
        SipMessage::Response(r) => r,
        other => panic!("{other:?}"),
    };
    let ack = ack_for_non2xx(&invite, &busy).unwrap();
    let out = text(to_bytes(&ack));
    assert!(out.starts_with("ACK sip:101@10.0.0.50:5062 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKours;rport\r\n"));
    assert!(out.contains("\r\nTo: <sip:101@10.0.0.50>;tag=op-tag\r\n"));
    assert!(out.contains("\r\nCSeq: 3 ACK\r\n"));
    assert!(out.contains("\r\nRoute: <sip:10.0.0.40;lr>\r\n"));
    // The ACK is itself a valid message.
    assert_eq!(check_mandatory(&parse(&out)), Ok(()));
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn top_via_text(r: &Request) -> String {
    r.via_header().unwrap().value().to_string()
}

#[test]
fn stamp_via_follows_rfc3581() {
    // Domain sent-by and rport: received and rport both filled in.
    let mut r = req(INVITE);
    stamp_via(&mut r, addr("192.0.2.7:40000")).unwrap();
    assert_eq!(
        top_via_text(&r),
        "SIP/2.0/UDP trunk.example:5070;branch=z9hG4bKtop;received=192.0.2.7;rport=40000"
    );
    // The other Via values are untouched.
    let second: Vec<_> = r
        .headers
        .iter()
        .filter(|h| matches!(h, Header::Via(_)))
        .collect();
    assert_eq!(
        second[1].value(),
        "SIP/2.0/UDP 10.0.0.20;branch=z9hG4bKmid, SIP/2.0/TCP 10.0.0.21;branch=z9hG4bKlow"
    );
    // And the response carries the stamped Via back.
    assert!(
        text(to_bytes(&response_to(&r, 100, None))).contains(";received=192.0.2.7;rport=40000\r\n")
    );

    // Sent-by equals the source and no rport: nothing to add.
    let mut r = req(OUR_INVITE.replace(";rport", "").as_str());
    let before = top_via_text(&r);
    stamp_via(&mut r, addr("10.0.0.1:5060")).unwrap();
    assert_eq!(top_via_text(&r), before);
    // Different IP, no rport: received only.
    stamp_via(&mut r, addr("10.0.0.2:5060")).unwrap();
    assert_eq!(
        top_via_text(&r),
        "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKours;received=10.0.0.2"
    );

    // IPv6 source: received carries the bare address.
    let mut r = req(&INVITE.replace("trunk.example:5070", "[2001:db8::1]:5070"));
    stamp_via(&mut r, addr("[2001:db8::2]:5999")).unwrap();
    assert_eq!(
        top_via_text(&r),
        "SIP/2.0/UDP [2001:db8::1]:5070;branch=z9hG4bKtop;received=2001:db8::2;rport=5999"
    );
}

#[test]
fn response_target_per_18_2_2() {
    let udp = |a: &str| Peer {
        transport: Transport::Udp,
        addr: addr(a),
    };
    let tcp = Peer {
        transport: Transport::Tcp,
        addr: addr("192.0.2.7:41000"),
    };
    let with_rport = req(INVITE);
    assert_eq!(response_target(&with_rport, tcp), tcp);
    assert_eq!(
        response_target(&with_rport, udp("192.0.2.7:40000")),
        udp("192.0.2.7:40000")
    );
    let no_rport = req(&INVITE.replace(";rport", ""));
    assert_eq!(
        response_target(&no_rport, udp("192.0.2.7:40000")),
        udp("192.0.2.7:5070")
    );
    let no_port = req(&INVITE
        .replace(";rport", "")
        .replace("trunk.example:5070", "trunk.example"));
    assert_eq!(
        response_target(&no_port, udp("192.0.2.7:40000")),
        udp("192.0.2.7:5060")
    );
}
