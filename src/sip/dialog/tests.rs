//! Dialog tests: both roles, route set order, loose and strict routing, CSeq rules, tags.

use std::net::SocketAddr;

use super::*;
use crate::sip::message::{
    check_mandatory, parse_datagram, response_to, to_bytes, Datagram, SipMessage,
};
use crate::sip::Transport;

const TRUNK_INVITE: &str = "INVITE sip:792112@192.0.2.10 SIP/2.0\r\n\
    Via: SIP/2.0/UDP 198.51.100.5:5060;branch=z9hG4bKa1\r\n\
    Record-Route: <sip:198.51.100.1;lr>\r\n\
    Record-Route: <sip:198.51.100.2;lr>, <sip:sbc.example;lr>\r\n\
    From: \"Caller\" <sip:+79110000001@198.51.100.5>;tag=rt\r\n\
    To: <sip:792112@192.0.2.10>\r\n\
    Call-ID: trunk-call-1\r\n\
    CSeq: 10 INVITE\r\n\
    Contact: <sip:+79110000001@198.51.100.5:5080>\r\n\
    Content-Length: 0\r\n\r\n";

fn parse(raw: &str) -> SipMessage {
    match parse_datagram(raw.as_bytes()) {
        Ok(Datagram::Message(msg)) => msg,
        other => panic!("{other:?}"),
    }
}

fn req(raw: &str) -> Request {
    match parse(raw) {
        SipMessage::Request(r) => r,
        other => panic!("{other:?}"),
    }
}

fn resp(raw: &str) -> Response {
    match parse(raw) {
        SipMessage::Response(r) => r,
        other => panic!("{other:?}"),
    }
}

fn peer(addr: &str) -> Peer {
    Peer {
        transport: Transport::Udp,
        addr: addr.parse().unwrap(),
    }
}

fn via(branch: &str) -> ViaSpec {
    ViaSpec {
        transport: Transport::Udp,
        host: "192.0.2.10".into(),
        port: Some(5060),
        branch: branch.into(),
    }
}

fn uas() -> Dialog {
    Dialog::uas(&req(TRUNK_INVITE), "lt", peer("198.51.100.5:5060")).unwrap()
}

fn text(r: &Request) -> String {
    String::from_utf8(to_bytes(r)).unwrap()
}

#[test]
fn uas_dialog_state_follows_12_1_1() {
    let d = uas();
    assert_eq!(d.call_id, "trunk-call-1");
    assert_eq!((d.local_tag.as_str(), d.remote_tag.as_str()), ("lt", "rt"));
    assert_eq!(d.local_uri.to_string(), "sip:792112@192.0.2.10");
    assert_eq!(d.remote_uri.to_string(), "sip:+79110000001@198.51.100.5");
    assert_eq!(
        d.remote_target.to_string(),
        "sip:+79110000001@198.51.100.5:5080"
    );
    let routes: Vec<String> = d.route_set.iter().map(ToString::to_string).collect();
    assert_eq!(
        routes,
        [
            "sip:198.51.100.1;lr",
            "sip:198.51.100.2;lr",
            "sip:sbc.example;lr"
        ]
    );
    assert_eq!((d.local_cseq, d.remote_cseq), (0, Some(10)));
}

#[test]
fn uas_needs_from_tag_and_contact() {
    let no_tag = TRUNK_INVITE.replace(";tag=rt", "");
    assert_eq!(
        Dialog::uas(&req(&no_tag), "lt", peer("198.51.100.5:5060")),
        Err(DialogError::MissingFromTag)
    );
    let no_contact = TRUNK_INVITE.replace("Contact: <sip:+79110000001@198.51.100.5:5080>\r\n", "");
    assert_eq!(
        Dialog::uas(&req(&no_contact), "lt", peer("198.51.100.5:5060")),
        Err(DialogError::MissingContact)
    );
}

#[test]
fn bye_from_uas_uses_loose_routes_in_order() {
    let mut d = uas();
    let bye = d.new_request(Method::Bye, &via("z9hG4bKbye"), None);
    assert_eq!(
        text(&bye),
        "BYE sip:+79110000001@198.51.100.5:5080 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKbye;rport\r\n\
         Route: <sip:198.51.100.1;lr>\r\n\
         Route: <sip:198.51.100.2;lr>\r\n\
         Route: <sip:sbc.example;lr>\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:792112@192.0.2.10>;tag=lt\r\n\
         To: <sip:+79110000001@198.51.100.5>;tag=rt\r\n\
         Call-ID: trunk-call-1\r\n\
         CSeq: 1 BYE\r\n\
         Content-Length: 0\r\n\r\n"
    );
    assert_eq!(check_mandatory(&parse(&text(&bye))), Ok(()));
    let again = d.new_request(Method::Info, &via("z9hG4bKinfo"), None);
    assert!(text(&again).contains("\r\nCSeq: 2 INFO\r\n"));
    assert_eq!(d.next_hop(), Some("198.51.100.1:5060".parse().unwrap()));
}

#[test]
fn strict_first_route_becomes_the_request_uri() {
    let strict = TRUNK_INVITE.replace(
        "<sip:198.51.100.1;lr>",
        "<sip:198.51.100.1:5070;method=INVITE>",
    );
    let mut d = Dialog::uas(&req(&strict), "lt", peer("198.51.100.5:5060")).unwrap();
    let bye = text(&d.new_request(Method::Bye, &via("z9hG4bKs"), None));
    assert!(
        bye.starts_with("BYE sip:198.51.100.1:5070 SIP/2.0\r\n"),
        "{bye}"
    );
    let routes: Vec<&str> = bye.lines().filter(|l| l.starts_with("Route:")).collect();
    assert_eq!(
        routes,
        [
            "Route: <sip:198.51.100.2;lr>",
            "Route: <sip:sbc.example;lr>",
            "Route: <sip:+79110000001@198.51.100.5:5080>"
        ]
    );
    assert_eq!(d.next_hop(), Some("198.51.100.1:5070".parse().unwrap()));
}

#[test]
fn no_route_set_goes_to_the_remote_target() {
    let plain = TRUNK_INVITE
        .replace("Record-Route: <sip:198.51.100.1;lr>\r\n", "")
        .replace(
            "Record-Route: <sip:198.51.100.2;lr>, <sip:sbc.example;lr>\r\n",
            "",
        );
    let mut d = Dialog::uas(&req(&plain), "lt", peer("198.51.100.5:5060")).unwrap();
    let bye = text(&d.new_request(Method::Bye, &via("z9hG4bKn"), None));
    assert!(bye.starts_with("BYE sip:+79110000001@198.51.100.5:5080 SIP/2.0\r\n"));
    assert!(!bye.contains("Route:"));
    assert_eq!(d.next_hop(), Some("198.51.100.5:5080".parse().unwrap()));
    d.remote_target = crate::sip::message::parse_uri("sip:op@softphone.example").unwrap();
    assert_eq!(d.next_hop(), None, "a domain falls back to the peer flow");
}

const OUR_INVITE: &str = "INVITE sip:101@10.0.0.50:5062 SIP/2.0\r\n\
    Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKop;rport\r\n\
    Max-Forwards: 70\r\n\
    From: <sip:hotline@10.0.0.1>;tag=ours\r\n\
    To: <sip:101@10.0.0.50>\r\n\
    Call-ID: op-call-1\r\n\
    CSeq: 7 INVITE\r\n\
    Contact: <sip:hotline@10.0.0.1:5060>\r\n\
    Content-Length: 0\r\n\r\n";

fn operator_ok() -> Response {
    resp(
        "SIP/2.0 200 OK\r\n\
        Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKop;rport=5060;received=10.0.0.1\r\n\
        Record-Route: <sip:10.0.0.60;lr>, <sip:10.0.0.61;lr>\r\n\
        From: <sip:hotline@10.0.0.1>;tag=ours\r\n\
        To: <sip:101@10.0.0.50>;tag=theirs\r\n\
        Call-ID: op-call-1\r\n\
        CSeq: 7 INVITE\r\n\
        Contact: <sip:101@10.0.0.50:5062;transport=tcp>\r\n\
        Content-Length: 0\r\n\r\n",
    )
}

#[test]
fn uac_dialog_reverses_record_route() {
    let d = Dialog::uac(&req(OUR_INVITE), &operator_ok(), peer("10.0.0.50:5062")).unwrap();
    assert_eq!(
        (d.local_tag.as_str(), d.remote_tag.as_str()),
        ("ours", "theirs")
    );
    assert_eq!(d.remote_uri.to_string(), "sip:101@10.0.0.50");
    assert_eq!(
        d.remote_target.to_string(),
        "sip:101@10.0.0.50:5062;transport=TCP"
    );
    let routes: Vec<String> = d.route_set.iter().map(ToString::to_string).collect();
    assert_eq!(routes, ["sip:10.0.0.61;lr", "sip:10.0.0.60;lr"]);
    assert_eq!((d.local_cseq, d.remote_cseq), (7, None));
    assert!(d.matches_response(&operator_ok()));

    let no_tag = resp(&to_string(&operator_ok()).replace(";tag=theirs", ""));
    assert_eq!(
        Dialog::uac(&req(OUR_INVITE), &no_tag, peer("10.0.0.50:5062")),
        Err(DialogError::MissingToTag)
    );
}

fn to_string(r: &Response) -> String {
    String::from_utf8(to_bytes(r)).unwrap()
}

#[test]
fn ack_for_2xx_keeps_the_invite_cseq_with_a_new_branch() {
    let mut d = Dialog::uac(&req(OUR_INVITE), &operator_ok(), peer("10.0.0.50:5062")).unwrap();
    let ack = text(&d.ack_for_2xx(7, &via("z9hG4bKack")));
    assert!(
        ack.starts_with("ACK sip:101@10.0.0.50:5062;transport=TCP SIP/2.0\r\n"),
        "{ack}"
    );
    assert!(ack.contains("\r\nVia: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKack;rport\r\n"));
    assert!(ack.contains("\r\nCSeq: 7 ACK\r\n"));
    assert!(ack.contains("\r\nRoute: <sip:10.0.0.61;lr>\r\nRoute: <sip:10.0.0.60;lr>\r\n"));
    assert!(ack.contains(
        "\r\nFrom: <sip:hotline@10.0.0.1>;tag=ours\r\nTo: <sip:101@10.0.0.50>;tag=theirs\r\n"
    ));
    assert_eq!(d.local_cseq, 7);
    let bye = text(&d.new_request(Method::Bye, &via("z9hG4bKb"), None));
    assert!(bye.contains("\r\nCSeq: 8 BYE\r\n"));
}

#[test]
fn matching_swaps_tags_for_requests_from_the_peer() {
    let d = uas();
    let bye = |from_tag: &str, to_tag: &str, call: &str| {
        req(&format!(
            "BYE sip:792112@192.0.2.10 SIP/2.0\r\nVia: SIP/2.0/UDP 198.51.100.5;branch=z9hG4bKb\r\n\
             From: <sip:+79110000001@198.51.100.5>;tag={from_tag}\r\nTo: <sip:792112@192.0.2.10>;tag={to_tag}\r\n\
             Call-ID: {call}\r\nCSeq: 11 BYE\r\n\r\n"
        ))
    };
    assert!(d.matches(&bye("rt", "lt", "trunk-call-1")));
    assert!(!d.matches(&bye("lt", "rt", "trunk-call-1")), "tags swapped");
    assert!(!d.matches(&bye("rt", "lt", "other-call")));
    assert!(!d.matches(&bye("rt", "x", "trunk-call-1")));
    assert_eq!(
        DialogId::of_request(&bye("rt", "lt", "trunk-call-1")),
        Some(d.id())
    );
    assert_eq!(
        DialogId::of_request(&req(TRUNK_INVITE)),
        None,
        "no To tag: not in a dialog"
    );
    // Our own responses to the INVITE carry the local tag in To.
    let ok = response_to(&req(TRUNK_INVITE), 200, Some("lt"));
    assert!(
        !d.matches_response(&ok),
        "a response we send is not one to our request"
    );
}

#[test]
fn remote_cseq_must_not_go_backwards() {
    let mut d = uas();
    let with_cseq = |n: u32, m: &str| {
        req(&format!(
            "{m} sip:792112@192.0.2.10 SIP/2.0\r\nVia: SIP/2.0/UDP 198.51.100.5;branch=z9hG4bK{n}\r\n\
             From: <sip:a@h>;tag=rt\r\nTo: <sip:b@h>;tag=lt\r\nCall-ID: trunk-call-1\r\nCSeq: {n} {m}\r\n\r\n"
        ))
    };
    assert_eq!(
        d.handle_remote_cseq(&with_cseq(9, "INFO")),
        Err(DialogError::CSeqOutOfOrder {
            received: 9,
            last: 10
        })
    );
    assert_eq!(
        d.handle_remote_cseq(&with_cseq(10, "ACK")),
        Ok(()),
        "ACK is exempt"
    );
    assert_eq!(
        d.handle_remote_cseq(&with_cseq(3, "CANCEL")),
        Ok(()),
        "CANCEL is exempt"
    );
    assert_eq!(d.handle_remote_cseq(&with_cseq(12, "INFO")), Ok(()));
    assert_eq!(d.remote_cseq, Some(12));
    assert_eq!(
        d.handle_remote_cseq(&with_cseq(11, "BYE")),
        Err(DialogError::CSeqOutOfOrder {
            received: 11,
            last: 12
        })
    );

    // A UAC dialog accepts any first CSeq from the peer.
    let mut d = Dialog::uac(&req(OUR_INVITE), &operator_ok(), peer("10.0.0.50:5062")).unwrap();
    assert_eq!(d.handle_remote_cseq(&with_cseq(1, "BYE")), Ok(()));
    assert_eq!(d.remote_cseq, Some(1));
}

#[test]
fn target_refresh_replaces_the_remote_target() {
    let mut d = uas();
    let reinvite = req(&TRUNK_INVITE
        .replace(
            "To: <sip:792112@192.0.2.10>",
            "To: <sip:792112@192.0.2.10>;tag=lt",
        )
        .replace("CSeq: 10", "CSeq: 11")
        .replace("198.51.100.5:5080", "198.51.100.9:5090"));
    assert!(d.handle_target_refresh(&reinvite));
    assert!(!d.handle_target_refresh(&reinvite));
    let bye = text(&d.new_request(Method::Bye, &via("z9hG4bKr"), None));
    assert!(bye.starts_with("BYE sip:+79110000001@198.51.100.9:5090 SIP/2.0\r\n"));
}

#[test]
fn via_spec_and_contact() {
    let v6 = ViaSpec {
        transport: Transport::Tcp,
        host: "2001:db8::10".into(),
        port: None,
        branch: "z9hG4bKx".into(),
    };
    assert_eq!(
        v6.header_value(),
        "SIP/2.0/TCP [2001:db8::10];branch=z9hG4bKx;rport"
    );
    let mut d = uas();
    let contact = crate::sip::message::parse_uri("sip:hotline@192.0.2.10:5060").unwrap();
    let reinvite = text(&d.new_request(Method::Invite, &via("z9hG4bKc"), Some(&contact)));
    assert!(reinvite.contains("\r\nContact: <sip:hotline@192.0.2.10:5060>\r\n"));
    let addr: SocketAddr = "198.51.100.5:5060".parse().unwrap();
    assert_eq!(d.peer.addr, addr);
}
