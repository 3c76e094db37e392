//! Out-of-dialog requests and our Via, checked on the bytes a peer receives and read back
//! through our own framer, as a peer's parser would.

use std::net::SocketAddr;

use rand::rngs::SmallRng;
use rand::SeedableRng;

use super::*;
use crate::sip::message::{
    from_header, parse_datagram, to_bytes, to_header, top_via_branch, Datagram, Host, SipMessage,
    MAGIC_COOKIE,
};

const SDP: &str = "v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\n";

fn local() -> SocketAddr {
    "192.0.2.10:5060".parse().expect("test address")
}

/// The INVITE that rings operator 101's phone for caller +79110000001.
fn ring() -> OutOfDialogRequest {
    let caller = Party::new(local_uri(Some("+79110000001"), local(), None)).named("+79110000001");
    OutOfDialogRequest {
        method: Method::Invite,
        request_uri: parse_uri("sip:101@192.0.2.7:5081").expect("contact"),
        via: ViaSpec::new(Transport::Udp, local(), "z9hG4bKring1"),
        from: caller.clone(),
        from_tag: "ft1".into(),
        to: Party::new(local_uri(Some("101"), local(), None)),
        call_id: "c1@192.0.2.10".into(),
        cseq: 1,
        contact: Some(local_uri(Some("hotline"), local(), Some(Transport::Udp))),
        asserted_identity: Some(caller),
        allow: vec![
            Method::Invite,
            Method::Ack,
            Method::Cancel,
            Method::Bye,
            Method::Options,
            Method::Info,
            Method::Update,
            Method::Register,
        ],
        user_agent: Some("hotline/1.0".into()),
        extension: Vec::new(),
        body: Some(Body::sdp(SDP)),
    }
}

fn wire(req: &Request) -> String {
    String::from_utf8(to_bytes(req)).expect("text")
}

/// What a peer's parser makes of the bytes.
fn received(req: &Request) -> Request {
    match parse_datagram(&to_bytes(req)) {
        Ok(Datagram::Message(SipMessage::Request(r))) => r,
        other => panic!("our request does not parse: {other:?}\n{}", wire(req)),
    }
}

#[test]
fn the_ring_invite_prints_every_header_exactly() {
    let req = ring().build().expect("a valid request");
    let expected = format!(
        "INVITE sip:101@192.0.2.7:5081 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKring1;rport\r\n\
         Max-Forwards: 70\r\n\
         From: \"+79110000001\" <sip:+79110000001@192.0.2.10:5060>;tag=ft1\r\n\
         To: <sip:101@192.0.2.10:5060>\r\n\
         Call-ID: c1@192.0.2.10\r\n\
         CSeq: 1 INVITE\r\n\
         Contact: <sip:hotline@192.0.2.10:5060;transport=udp>\r\n\
         P-Asserted-Identity: \"+79110000001\" <sip:+79110000001@192.0.2.10:5060>\r\n\
         Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, REGISTER\r\n\
         User-Agent: hotline/1.0\r\n\
         Content-Type: application/sdp\r\n\
         Content-Length: {}\r\n\r\n{SDP}",
        SDP.len()
    );
    assert_eq!(wire(&req), expected);
    let back = received(&req);
    assert_eq!(top_via_branch(&back).unwrap(), "z9hG4bKring1");
    assert_eq!(back.body, SDP.as_bytes());
}

#[test]
fn optional_headers_are_left_out() {
    let mut options = ring();
    options.method = Method::Options;
    options.contact = None;
    options.asserted_identity = None;
    options.allow.clear();
    options.user_agent = None;
    options.body = None;
    let text = wire(&options.build().expect("valid"));
    assert!(text.starts_with("OPTIONS sip:101@192.0.2.7:5081 SIP/2.0\r\n"));
    assert!(text.contains("\r\nCSeq: 1 OPTIONS\r\n"));
    assert!(text
        .ends_with("\r\nCall-ID: c1@192.0.2.10\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"));
    for absent in [
        "Contact:",
        "P-Asserted-Identity:",
        "Allow:",
        "User-Agent:",
        "Content-Type:",
    ] {
        assert!(!text.contains(absent), "{absent} in\n{text}");
    }
    // An INVITE must say where the dialog reaches us (RFC 3261 §8.1.1.8).
    let mut invite = ring();
    invite.contact = None;
    assert_eq!(invite.build(), Err(MessageError::MissingHeader("Contact")));
}

#[test]
fn a_caller_number_that_is_no_sip_user_cannot_break_the_message() {
    let hostile = "+7 911\"<sip:x@evil>\r\nBYE: now\\";
    let mut invite = ring();
    let party = Party::new(local_uri(Some(hostile), local(), None)).named(hostile);
    invite.from = party.clone();
    invite.asserted_identity = Some(party);
    let req = invite
        .build()
        .expect("anything in a user part can be encoded");
    let text = wire(&req);
    // The user part is percent-encoded, the display name quoted and escaped, CR/LF gone.
    let from = r#""+7 911\"<sip:x@evil>BYE: now\\" <sip:+7%20911%22%3Csip%3Ax%40evil%3E%0D%0ABYE%3A%20now%5C@192.0.2.10:5060>"#;
    assert!(
        text.contains(&format!("\r\nFrom: {from};tag=ft1\r\n")),
        "{text}"
    );
    assert!(text.contains(&format!("\r\nP-Asserted-Identity: {from}\r\n")));
    assert!(!text.contains("\r\nBYE: now"));
    assert_eq!(
        text.matches("\r\n").count(),
        14 + SDP.matches("\r\n").count()
    );

    // A peer reads back the very number and name we meant.
    let back = received(&req);
    let from = from_header(&back).unwrap();
    assert_eq!(from.uri.user(), Some(hostile));
    assert_eq!(
        from.display_name.as_deref(),
        Some("+7 911\"<sip:x@evil>BYE: now\\")
    );
    assert_eq!(from.tag(), Some("ft1"));
    assert_eq!(to_header(&back).unwrap().uri.user(), Some("101"));
}

#[test]
fn values_that_cannot_be_printed_are_refused() {
    let refused = |edit: fn(&mut OutOfDialogRequest)| {
        let mut req = ring();
        edit(&mut req);
        req.build().unwrap_err()
    };
    // A host or parameter the printer would copy verbatim.
    assert!(matches!(
        refused(|r| r.to.uri.host_with_port.host = Host::Domain("evil.example>".into())),
        MessageError::InvalidUri(_)
    ));
    assert!(matches!(
        refused(|r| r.request_uri.params.push(Param::Other(
            OtherParam::new("x"),
            Some(OtherParamValue::new("a b"))
        ))),
        MessageError::InvalidUri(_)
    ));
    // A user part with `?` is legal but does not read back as the same user.
    assert!(matches!(
        refused(|r| r.from.uri = local_uri(Some("a?b"), local(), None)),
        MessageError::InvalidUri(_)
    ));
    assert!(matches!(
        refused(|r| r.from_tag = "a;b".into()),
        MessageError::InvalidHeader { header: "From", .. }
    ));
    assert!(matches!(
        refused(|r| r.call_id = "a b".into()),
        MessageError::InvalidHeader {
            header: "Call-ID",
            ..
        }
    ));
    assert!(matches!(
        refused(|r| r.user_agent = Some("x\r\nEvil: 1".into())),
        MessageError::InvalidHeader {
            header: "User-Agent",
            ..
        }
    ));
    assert!(matches!(
        refused(|r| r.body = Some(Body {
            content_type: "sdp".into(),
            bytes: Vec::new()
        })),
        MessageError::InvalidHeader {
            header: "Content-Type",
            ..
        }
    ));
}

#[test]
fn our_via_is_built_in_one_place() {
    let via = ViaSpec::new(Transport::Udp, local(), "z9hG4bKabc");
    assert_eq!(
        via.header().to_string(),
        "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKabc;rport"
    );
    let v6 = ViaSpec::new(
        Transport::Tcp,
        "[2001:db8::10]:5070".parse().unwrap(),
        "z9hG4bKx",
    );
    assert_eq!(
        v6.header_value(),
        "SIP/2.0/TCP [2001:db8::10]:5070;branch=z9hG4bKx;rport"
    );
    let named = ViaSpec {
        transport: Transport::Udp,
        host: "sip.example.org".into(),
        port: None,
        branch: "z9hG4bKn".into(),
    };
    assert_eq!(
        named.header_value(),
        "SIP/2.0/UDP sip.example.org;branch=z9hG4bKn;rport"
    );
    let mut rng = SmallRng::seed_from_u64(7);
    let (a, b) = (
        ViaSpec::fresh(Transport::Udp, local(), &mut rng),
        ViaSpec::fresh(Transport::Udp, local(), &mut rng),
    );
    assert!(a.branch.starts_with(MAGIC_COOKIE));
    assert_ne!(a.branch, b.branch, "every transaction gets its own branch");
}

#[test]
fn local_uri_forms() {
    let v6: SocketAddr = "[2001:db8::10]:5060".parse().unwrap();
    assert_eq!(
        local_uri(Some("hotline"), v6, Some(Transport::Tcp)).to_string(),
        "sip:hotline@[2001:db8::10]:5060;transport=tcp"
    );
    assert_eq!(
        local_uri(None, local(), None).to_string(),
        "sip:192.0.2.10:5060"
    );
}
