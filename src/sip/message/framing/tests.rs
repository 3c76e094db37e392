//! Framing tests: datagrams, streams split at every byte, and garbage that must not panic.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::*;
use crate::sip::message::{bad_request, call_id, cseq, request_user, MessageParts, Request};

const SDP: &str = "v=0\r\no=- 1 1 IN IP4 10.0.0.9\r\ns=-\r\nc=IN IP4 10.0.0.9\r\nt=0 0\r\n";

fn invite(content_length: Option<usize>, body: &str) -> String {
    let cl = content_length.map_or(String::new(), |n| format!("Content-Length: {n}\r\n"));
    format!(
        "INVITE sip:792112@10.0.0.1 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bKinv1;rport\r\n\
         Max-Forwards: 70\r\n\
         From: \"Caller\" <sip:+79110000001@10.0.0.9>;tag=f1\r\n\
         To: <sip:792112@10.0.0.1>\r\n\
         Call-ID: call-1@10.0.0.9\r\n\
         CSeq: 1 INVITE\r\n\
         Contact: <sip:+79110000001@10.0.0.9:5060>\r\n\
         Content-Type: application/sdp\r\n\
         {cl}\r\n{body}"
    )
}

const BYE: &str = "BYE sip:op@10.0.0.1 SIP/2.0\r\n\
    Via: SIP/2.0/TCP 10.0.0.9:5060;branch=z9hG4bKbye1\r\n\
    From: <sip:a@h>;tag=1\r\nTo: <sip:b@h>;tag=2\r\nCall-ID: c2\r\nCSeq: 2 BYE\r\n\r\n";

fn request(dgram: Result<Datagram, FrameError>) -> Request {
    match dgram {
        Ok(Datagram::Message(SipMessage::Request(req))) => req,
        other => panic!("expected a request, got {other:?}"),
    }
}

#[test]
fn datagram_body_follows_content_length() {
    let req = request(parse_datagram(invite(Some(SDP.len()), SDP).as_bytes()));
    assert_eq!(req.body, SDP.as_bytes());
    assert_eq!(call_id(&req).unwrap(), "call-1@10.0.0.9");
    assert_eq!(request_user(&req).as_deref(), Some("792112"));

    // Extra bytes beyond Content-Length are discarded (§18.3).
    let req = request(parse_datagram(
        format!("{}garbage", invite(Some(SDP.len()), SDP)).as_bytes(),
    ));
    assert_eq!(req.body, SDP.as_bytes());
    let req = request(parse_datagram(invite(Some(4), SDP).as_bytes()));
    assert_eq!(req.body, b"v=0\r");
}

#[test]
fn datagram_without_content_length_takes_the_rest() {
    let req = request(parse_datagram(invite(None, SDP).as_bytes()));
    assert_eq!(req.body, SDP.as_bytes());
}

#[test]
fn content_length_beyond_the_datagram_is_refused_with_400() {
    let raw = invite(Some(SDP.len() + 1), SDP);
    let err = parse_datagram(raw.as_bytes()).unwrap_err();
    assert_eq!(
        err,
        FrameError::ContentLengthExceedsDatagram {
            declared: SDP.len() + 1,
            available: SDP.len()
        }
    );
    assert_eq!(err.status(), 400);
    let answer = bad_request(raw.as_bytes(), &err.reason()).unwrap();
    assert!(answer.starts_with(b"SIP/2.0 400 Content-Length Exceeds Datagram\r\n"));
}

#[test]
fn keep_alives_and_leading_crlf() {
    for ka in ["", "\r\n", "\r\n\r\n", "\n"] {
        assert_eq!(
            parse_datagram(ka.as_bytes()),
            Ok(Datagram::KeepAlive),
            "{ka:?}"
        );
    }
    let req = request(parse_datagram(
        format!("\r\n{}", invite(Some(0), "")).as_bytes(),
    ));
    assert!(req.body.is_empty());
}

#[test]
fn structural_errors() {
    assert_eq!(
        parse_datagram(b"INVITE sip:a@b SIP/2.0\r\nVia: x\r\n"),
        Err(FrameError::MissingHeaderEnd)
    );
    let big = vec![b'a'; MAX_MESSAGE_BYTES + 1];
    let err = parse_datagram(&big).unwrap_err();
    assert_eq!(
        (err.status(), err.reason().as_ref()),
        (513, "Message Too Large")
    );

    let with_cl = |v: &str| {
        invite(None, "").replace(
            "Content-Type",
            &format!("Content-Length: {v}\r\nContent-Type"),
        )
    };
    assert_eq!(
        parse_datagram(with_cl("12abc").as_bytes()),
        Err(FrameError::InvalidContentLength("12abc".into()))
    );
    assert_eq!(
        parse_datagram(with_cl("-1").as_bytes()),
        Err(FrameError::InvalidContentLength("-1".into()))
    );
    let two = invite(Some(0), "").replace("Content-Type", "l: 5\r\nContent-Type");
    assert_eq!(
        parse_datagram(two.as_bytes()),
        Err(FrameError::ConflictingContentLength)
    );
}

#[test]
fn utf8_display_names_pass_but_other_bytes_are_refused() {
    let raw = invite(Some(0), "").replace("\"Caller\"", "\"Иван Петров\"");
    let req = request(parse_datagram(raw.as_bytes()));
    assert_eq!(
        crate::sip::message::from_header(&req)
            .unwrap()
            .display_name
            .as_deref(),
        Some("Иван Петров")
    );
    // rsipstack would silently stop reading headers at a non-UTF-8 line; we refuse it.
    let mut bytes = invite(Some(0), "").into_bytes();
    let at = bytes.windows(6).position(|w| w == b"Caller").unwrap();
    bytes[at] = 0xff;
    assert_eq!(parse_datagram(&bytes), Err(FrameError::NotUtf8));
    assert!(bad_request(&bytes, "Bad Request").is_some());
}

#[test]
fn start_line_errors_map_to_statuses() {
    let raw = invite(Some(0), "");
    let cases = [
        (raw.replacen("INVITE sip", "FROB sip", 1), 501),
        (raw.replacen("SIP/2.0\r\n", "SIP/3.0\r\n", 1), 505),
        (
            raw.replacen("INVITE sip:792112@10.0.0.1 ", "INVITE ", 1),
            400,
        ),
        (
            raw.replacen("sip:792112@10.0.0.1", "sip:%zz@10.0.0.1", 1),
            400,
        ),
        (raw.replacen("INVITE ", "INV(TE ", 1), 400),
    ];
    for (bytes, status) in cases {
        let err = parse_datagram(bytes.as_bytes()).unwrap_err();
        assert_eq!(err.status(), status, "{err:?}");
    }
}

#[test]
fn mandatory_headers_are_checked() {
    let raw = invite(Some(0), "");
    let err =
        parse_datagram(raw.replace("Call-ID: call-1@10.0.0.9\r\n", "").as_bytes()).unwrap_err();
    assert_eq!(
        err,
        FrameError::Header(MessageError::MissingHeader("Call-ID"))
    );
    assert_eq!(err.reason(), "Missing Call-ID");
    let err = parse_datagram(raw.replace("CSeq: 1 INVITE", "CSeq: 1 BYE").as_bytes()).unwrap_err();
    assert_eq!(err.reason(), "CSeq Method Mismatch");
    let err =
        parse_datagram(raw.replace("CSeq: 1 INVITE", "CSeq: one INVITE").as_bytes()).unwrap_err();
    assert_eq!(err.reason(), "Bad CSeq");
    let err = parse_datagram(
        raw.replace("Max-Forwards: 70", "Max-Forwards: lots")
            .as_bytes(),
    )
    .unwrap_err();
    assert_eq!(err.reason(), "Bad Max-Forwards");
    let err = parse_datagram(
        raw.replace("To: <sip:792112@10.0.0.1>", "To: <sip:792112@")
            .as_bytes(),
    )
    .unwrap_err();
    assert_eq!(err.reason(), "Bad To");
}

#[test]
fn compact_forms_spaces_ipv6_and_tel_through_our_parser() {
    let raw = "INVITE tel:+7-811-279-21-12 SIP/2.0\r\n\
        v : SIP/2.0/UDP [2001:db8::9]:5070;branch=z9hG4bKv6\r\n\
        f: <sip:100@[2001:db8::9]>;tag=a\r\n\
        t :<tel:+78112792112>\r\n\
        i: v6call\r\n\
        CSeq  : 7 INVITE\r\n\
        m: <sip:100@[2001:db8::9]:5070>\r\n\
        c: application/sdp\r\n\
        l: 3\r\n\r\nabcdef";
    let req = request(parse_datagram(raw.as_bytes()));
    assert_eq!(req.body, b"abc");
    assert_eq!(call_id(&req).unwrap(), "v6call");
    assert_eq!(cseq(&req).unwrap(), (7, Method::Invite));
    assert_eq!(request_user(&req).as_deref(), Some("+78112792112"));
    assert_eq!(
        crate::sip::message::top_via_sent_by(&req).unwrap(),
        ("2001:db8::9".to_string(), Some(5070))
    );
    assert_eq!(
        crate::sip::message::contact_uri(&req).unwrap().to_string(),
        "sip:100@[2001:db8::9]:5070"
    );
    assert!(crate::sip::message::has_sdp_body(&req));
}

#[test]
fn responses_parse_too() {
    let raw = "SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKx\r\n\
        From: <sip:a@h>;tag=1\r\nTo: <sip:b@h>;tag=2\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n\r\n";
    match parse_datagram(raw.as_bytes()) {
        Ok(Datagram::Message(SipMessage::Response(resp))) => {
            assert_eq!(resp.status_code.code(), 180);
        }
        other => panic!("{other:?}"),
    }
}

fn drain(framer: &mut StreamFramer) -> Vec<Frame> {
    let mut out = Vec::new();
    while let Some(frame) = framer.next().expect("stream stays framed") {
        out.push(frame);
    }
    out
}

fn summary(frames: &[Frame]) -> Vec<String> {
    frames
        .iter()
        .map(|f| match f {
            Frame::Message(m) => format!("{} body={}", m.start_line(), m.body_bytes().len()),
            Frame::Ping => "ping".into(),
            Frame::Invalid { error, .. } => format!("invalid {error}"),
        })
        .collect()
}

#[test]
fn stream_frames_survive_every_split_point() {
    let stream = format!(
        "{}\r\n\r\n{BYE}\r\n{}",
        invite(Some(SDP.len()), SDP),
        invite(Some(0), "")
    );
    let bytes = stream.as_bytes();
    let mut whole = StreamFramer::new();
    whole.push(bytes);
    let expected = summary(&drain(&mut whole));
    assert_eq!(
        expected,
        vec![
            format!("INVITE sip:792112@10.0.0.1 SIP/2.0 body={}", SDP.len()),
            "ping".to_string(),
            "BYE sip:op@10.0.0.1 SIP/2.0 body=0".to_string(),
            "INVITE sip:792112@10.0.0.1 SIP/2.0 body=0".to_string(),
        ]
    );
    assert_eq!(whole.buffered(), 0);
    for split in 0..=bytes.len() {
        let mut framer = StreamFramer::new();
        framer.push(&bytes[..split]);
        let mut frames = drain(&mut framer);
        framer.push(&bytes[split..]);
        frames.extend(drain(&mut framer));
        assert_eq!(summary(&frames), expected, "split at {split}");
    }
    // Byte by byte.
    let mut framer = StreamFramer::new();
    let mut frames = Vec::new();
    for b in bytes {
        framer.push(std::slice::from_ref(b));
        frames.extend(drain(&mut framer));
    }
    assert_eq!(summary(&frames), expected);
}

#[test]
fn stream_without_content_length_means_empty_body() {
    let mut framer = StreamFramer::new();
    framer.push(format!("{}{BYE}", invite(None, "")).as_bytes());
    let frames = drain(&mut framer);
    assert_eq!(frames.len(), 2);
    assert!(matches!(&frames[1], Frame::Message(m) if m.start_line().starts_with("BYE")));
}

#[test]
fn stream_bad_message_is_reported_and_skipped() {
    let bad = BYE.replace("CSeq: 2 BYE", "CSeq: 2 ACK");
    let mut framer = StreamFramer::new();
    framer.push(format!("{bad}{BYE}").as_bytes());
    let frames = drain(&mut framer);
    match &frames[0] {
        Frame::Invalid { bytes, error } => {
            assert_eq!(bytes, bad.as_bytes());
            assert_eq!(error.reason(), "CSeq Method Mismatch");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(&frames[1], Frame::Message(_)));
}

#[test]
fn stream_limits_close_the_connection() {
    let mut framer = StreamFramer::with_limit(256);
    framer.push(&[b'a'; 257]);
    assert_eq!(
        framer.next(),
        Err(FrameError::HeadersTooLong { limit: 256 })
    );
    framer.push(BYE.as_bytes());
    assert_eq!(
        framer.next(),
        Err(FrameError::HeadersTooLong { limit: 256 }),
        "stays failed"
    );

    let mut framer = StreamFramer::with_limit(256);
    framer.push(
        BYE.replace("\r\n\r\n", "\r\nContent-Length: 200\r\n\r\n")
            .as_bytes(),
    );
    assert!(matches!(
        framer.next(),
        Err(FrameError::TooLarge { limit: 256, .. })
    ));

    let mut framer = StreamFramer::with_limit(256);
    framer.push(
        BYE.replace("\r\n\r\n", "\r\nContent-Length: x\r\n\r\n")
            .as_bytes(),
    );
    assert!(matches!(
        framer.next(),
        Err(FrameError::InvalidContentLength(_))
    ));
    // RFC 4475 §3.1.2.3: answered once before the stream is closed.
    let answer = String::from_utf8(framer.failure_answer().expect("a 400 is owed")).unwrap();
    assert!(
        answer.starts_with("SIP/2.0 400 Bad Content-Length\r\n"),
        "{answer}"
    );
    assert_eq!(framer.failure_answer(), None);

    let mut framer = StreamFramer::with_limit(256);
    framer.push(&[b'a'; 300]);
    framer.push(&[b'a'; 300]);
    assert_eq!(framer.next(), Err(FrameError::BufferOverflow));
    assert_eq!(framer.buffered(), 0);
}

#[test]
fn stream_pings_and_pongs() {
    let mut framer = StreamFramer::new();
    framer.push(b"\r\n\r");
    assert_eq!(framer.next(), Ok(None));
    framer.push(b"\n\r\n");
    assert_eq!(framer.next(), Ok(Some(Frame::Ping)));
    assert_eq!(framer.next(), Ok(None), "a lone CRLF (pong) waits");
    framer.push(BYE.as_bytes());
    assert!(matches!(framer.next(), Ok(Some(Frame::Message(_)))));
}

/// Garbage of every kind must come back as an error or a message, never a panic.
#[test]
fn arbitrary_bytes_never_panic() {
    let valid = invite(Some(SDP.len()), SDP).into_bytes();
    let mut inputs: Vec<Vec<u8>> = (0..=valid.len()).map(|n| valid[..n].to_vec()).collect();
    let mut rng = SmallRng::seed_from_u64(0x5eed);
    for _ in 0..2000 {
        let len = rng.random_range(0..300);
        inputs.push((0..len).map(|_| rng.random::<u8>()).collect());
        let mut mutated = valid.clone();
        for _ in 0..rng.random_range(1..8) {
            let at = rng.random_range(0..mutated.len());
            mutated[at] = *b"\r\n:;<>@\"%\x00\xff \t,=0123456789"
                .get(rng.random_range(0..22))
                .unwrap_or(&b'x');
        }
        inputs.push(mutated);
    }
    let mut framer = StreamFramer::new();
    for input in &inputs {
        let _ = parse_datagram(input);
        let _ = bad_request(input, "x");
        framer.push(input);
        while let Ok(Some(_)) = framer.next() {}
        if framer.next().is_err() {
            framer = StreamFramer::new();
        }
    }
}
