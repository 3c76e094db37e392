//! The UA core's routing in simulated time: bytes in, routed events and bytes out.

use std::time::{Duration, Instant};

use super::*;
use crate::sip::dialog::ViaSpec;
use crate::sip::message::Response;
use crate::sip::Transport;

type Ua = UserAgent<u32>;

fn ua(now: Instant) -> Ua {
    UserAgent::new(
        TimerConfig::default(),
        Factory::new("127.0.0.1:5060".parse().unwrap(), "hotline/test"),
        RegistrarPolicy::with_realm("hotline"),
        Vec::new(),
        7,
        now,
    )
}

fn peer(port: u16) -> Peer {
    Peer {
        transport: Transport::Udp,
        addr: ([127, 0, 0, 1], port).into(),
    }
}

fn events(ua: &mut Ua) -> Vec<UaEvent<u32>> {
    std::iter::from_fn(|| ua.poll_event()).collect()
}

/// The status lines and methods put on the wire, in order.
fn wire(events: &[UaEvent<u32>]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            UaEvent::Transmit { data, .. } => Some(
                String::from_utf8_lossy(data)
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .to_string(),
            ),
            _ => None,
        })
        .collect()
}

fn request(method: &str, to_tag: Option<&str>, cseq: u32) -> Vec<u8> {
    let to_tag = to_tag.map(|t| format!(";tag={t}")).unwrap_or_default();
    format!(
        "{method} sip:hotline@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5071;branch=z9hG4bK-{method}-{cseq};rport\r\n\
         From: <sip:1@127.0.0.1>;tag=them\r\nTo: <sip:hotline@127.0.0.1>{to_tag}\r\nCall-ID: c1\r\n\
         CSeq: {cseq} {method}\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

#[test]
fn requests_go_to_the_owner_of_their_dialog_or_get_481() {
    let t0 = Instant::now();
    let mut ua = ua(t0);
    ua.handle_datagram(&request("BYE", Some("ours"), 2), peer(5071), t0);
    let out = events(&mut ua);
    assert_eq!(wire(&out), ["SIP/2.0 481 Call/Transaction Does Not Exist"]);

    ua.bind_dialog(
        DialogKey {
            call_id: "c1".into(),
            local_tag: "ours".into(),
        },
        42,
    );
    ua.handle_datagram(&request("BYE", Some("ours"), 3), peer(5071), t0);
    let out = events(&mut ua);
    assert!(
        matches!(&out[..], [UaEvent::InDialog { owner: 42, request, .. }] if request.method == Method::Bye),
        "{out:?}"
    );
}

#[test]
fn a_new_invite_is_handed_out_and_options_and_strays_are_answered_here() {
    let t0 = Instant::now();
    let mut ua = ua(t0);
    ua.handle_datagram(&request("INVITE", None, 1), peer(5071), t0);
    let out = events(&mut ua);
    assert_eq!(wire(&out), ["SIP/2.0 100 Trying"]);
    assert!(out.iter().any(|e| matches!(e, UaEvent::NewInvite { .. })));

    ua.handle_datagram(&request("OPTIONS", None, 2), peer(5071), t0);
    assert_eq!(wire(&events(&mut ua)), ["SIP/2.0 200 OK"]);
    ua.handle_datagram(&request("INFO", None, 3), peer(5071), t0);
    assert_eq!(
        wire(&events(&mut ua)),
        ["SIP/2.0 481 Call/Transaction Does Not Exist"]
    );
    ua.handle_datagram(&request("MESSAGE", None, 4), peer(5071), t0);
    assert_eq!(wire(&events(&mut ua)), ["SIP/2.0 405 Method Not Allowed"]);
    assert_eq!(ua.counters().requests_in.get("OPTIONS"), Some(&1));
}

#[test]
fn our_requests_report_to_their_owner_and_a_repeated_2xx_is_acked_by_the_core() {
    let t0 = Instant::now();
    let mut ua = ua(t0);
    let mut rng = SmallRng::seed_from_u64(1);
    let via: ViaSpec = ua.factory().via(Transport::Udp, &mut rng);
    let text = format!(
        "INVITE sip:101@127.0.0.1:5101 SIP/2.0\r\nVia: {}\r\nFrom: <sip:hotline@127.0.0.1>;tag=us\r\n\
         To: <sip:101@127.0.0.1>\r\nCall-ID: ring-1\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n\
         Contact: <sip:hotline@127.0.0.1:5060>\r\nContent-Length: 0\r\n\r\n",
        via.header_value()
    );
    let invite = match SipMessage::try_from(text.as_str()).unwrap() {
        SipMessage::Request(r) => r,
        _ => unreachable!(),
    };
    let key = ua.send_request(invite.clone(), peer(5101), 7, t0).unwrap();
    assert_eq!(
        wire(&events(&mut ua)),
        ["INVITE sip:101@127.0.0.1:5101 SIP/2.0"]
    );

    let mut ok: Response = message::response_to(&invite, 200, Some("op"));
    message::push_header(&mut ok, "Contact", "<sip:101@127.0.0.1:5101>").unwrap();
    let ok_bytes = message::to_bytes(&ok);
    ua.handle_datagram(&ok_bytes, peer(5101), t0);
    let out = events(&mut ua);
    assert!(
        matches!(&out[..], [UaEvent::Response { owner: 7, response, .. }] if response.status_code.code() == 200),
        "{out:?}"
    );
    let ack = match SipMessage::try_from(
        "ACK sip:101@127.0.0.1:5101 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKack1\r\n\
         From: <sip:hotline@127.0.0.1>;tag=us\r\nTo: <sip:101@127.0.0.1>;tag=op\r\nCall-ID: ring-1\r\n\
         CSeq: 1 ACK\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
    )
    .unwrap()
    {
        SipMessage::Request(r) => r,
        _ => unreachable!(),
    };
    ua.send_ack(&key, ack, peer(5101), t0);
    assert_eq!(
        wire(&events(&mut ua)),
        ["ACK sip:101@127.0.0.1:5101 SIP/2.0"]
    );

    // The phone did not hear our ACK and sends its 200 again: the core ACKs it, the
    // owner hears nothing.
    let t1 = t0 + Duration::from_millis(500);
    ua.handle_datagram(&ok_bytes, peer(5101), t1);
    let out = events(&mut ua);
    assert_eq!(wire(&out), ["ACK sip:101@127.0.0.1:5101 SIP/2.0"]);
    assert_eq!(out.len(), 1, "{out:?}");

    // The transaction ends in time and its owner is told once.
    let mut ended = Vec::new();
    let mut now = t1;
    while let Some(at) = ua.poll_timeout() {
        now = at.max(now);
        ua.handle_timeout(now);
        ended.extend(
            events(&mut ua)
                .into_iter()
                .filter(|e| matches!(e, UaEvent::Ended { .. })),
        );
    }
    assert_eq!(ended, [UaEvent::Ended { owner: 7, key }]);
}

#[test]
fn scanners_are_dropped_unanswered_and_counted() {
    let now = Instant::now();
    let mut ua = ua(now);
    let probe = String::from_utf8(request("OPTIONS", None, 1))
        .unwrap()
        .replace(
            "Max-Forwards",
            "User-Agent: friendly-scanner\r\nMax-Forwards",
        );
    ua.handle_datagram(probe.as_bytes(), peer(5071), now);
    let broken = b"OPTIONS sip:100@h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK9\r\nUser-Agent: sipvicious\r\n\r\n";
    ua.handle_datagram(broken, peer(5071), now);
    assert_eq!(wire(&events(&mut ua)), Vec::<String>::new());
    assert_eq!(ua.counters().scanners_dropped, 2);
    ua.handle_datagram(&request("OPTIONS", None, 2), peer(5071), now);
    assert_eq!(wire(&events(&mut ua)), vec!["SIP/2.0 200 OK"]);
}

#[test]
fn inspection_refusals_carry_what_we_can_do() {
    let now = Instant::now();
    let mut ua = ua(now);
    let with = |extra: &str, method: &str, cseq: u32| {
        String::from_utf8(request(method, None, cseq))
            .unwrap()
            .replace("Max-Forwards", &format!("{extra}\r\nMax-Forwards"))
    };
    ua.handle_datagram(
        with("Require: foo", "OPTIONS", 1).as_bytes(),
        peer(5071),
        now,
    );
    let out = events(&mut ua);
    assert_eq!(wire(&out), vec!["SIP/2.0 420 Bad Extension"]);
    let UaEvent::Transmit { data, .. } = &out[0] else {
        panic!()
    };
    assert!(String::from_utf8_lossy(data).contains("\r\nUnsupported: foo\r\n"));
    // MESSAGE is refused as a method before anything else is looked at.
    ua.handle_datagram(
        with("Require: foo", "MESSAGE", 2).as_bytes(),
        peer(5071),
        now,
    );
    assert_eq!(
        wire(&events(&mut ua)),
        vec!["SIP/2.0 405 Method Not Allowed"]
    );
}
