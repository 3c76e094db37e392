//! Offer/answer tests: real-world offers in, the exact answer text out, and that every
//! answer we print parses again with the `sdp` crate.

use std::io::Cursor;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use super::*;

const SIPP_OFFER: &str = "v=0\r\n\
o=user1 53655765 2353687637 IN IP4 127.0.0.1\r\n\
s=-\r\n\
c=IN IP4 127.0.0.1\r\n\
t=0 0\r\n\
m=audio 17000 RTP/AVP 0 8 101\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-11,16\r\n\
a=ptime:20\r\n\
a=sendrecv\r\n";

const BOTH: &[Codec] = &[Codec::Pcmu, Codec::Pcma];

fn local() -> LocalSession {
    LocalSession {
        username: "hotline".into(),
        session_id: 42,
        version: 1,
        addr: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10)),
        port: 20000,
    }
}

/// A minimal offer around the given media section (session-level c= 192.0.2.1).
fn offer_with(media: &str) -> String {
    format!("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n{media}")
}

fn reparse_with_crate(text: &str) -> sdp::SessionDescription {
    sdp::SessionDescription::unmarshal(&mut Cursor::new(text.as_bytes()))
        .expect("our own SDP parses")
}

#[path = "limits_tests.rs"]
mod limits_tests;

#[test]
fn sipp_offer_is_understood() {
    let remote = parse(SIPP_OFFER.as_bytes()).unwrap();
    assert_eq!(remote.session_id, 53655765);
    assert_eq!(remote.version, 2353687637);
    let (index, audio) = remote.audio().unwrap();
    assert_eq!(index, 0);
    assert_eq!(audio.addr, "127.0.0.1:17000".parse::<SocketAddr>().unwrap());
    let formats: Vec<_> = audio
        .formats
        .iter()
        .map(|f| (f.payload_type, f.codec))
        .collect();
    assert_eq!(
        formats,
        [(0, Some(Codec::Pcmu)), (8, Some(Codec::Pcma)), (101, None)]
    );
    assert_eq!(audio.telephone_event, Some(101));
    assert_eq!(audio.direction, Direction::SendRecv);
    assert_eq!(audio.ptime_ms, Some(20));
    assert!(!audio.is_hold());
}

#[test]
fn sipp_offer_gets_the_exact_answer() {
    let remote = parse(SIPP_OFFER.as_bytes()).unwrap();
    let neg = negotiate(&remote, BOTH).unwrap();
    assert_eq!(
        neg,
        Negotiated {
            remote: "127.0.0.1:17000".parse().unwrap(),
            codec: Codec::Pcmu,
            payload_type: 0,
            telephone_event: Some(101),
            direction: Direction::SendRecv,
            ptime_ms: 20,
            media_index: 0,
        }
    );
    let text = answer(&local(), &remote, &neg);
    assert_eq!(
        text,
        "v=0\r\n\
         o=hotline 42 1 IN IP4 192.0.2.10\r\n\
         s=hotline\r\n\
         c=IN IP4 192.0.2.10\r\n\
         t=0 0\r\n\
         m=audio 20000 RTP/AVP 0 101\r\n\
         a=rtpmap:0 PCMU/8000\r\n\
         a=rtpmap:101 telephone-event/8000\r\n\
         a=fmtp:101 0-16\r\n\
         a=ptime:20\r\n\
         a=sendrecv\r\n"
    );
    let desc = reparse_with_crate(&text);
    assert_eq!(desc.media_descriptions.len(), 1);
    assert_eq!(desc.media_descriptions[0].media_name.formats, ["0", "101"]);
}

#[test]
fn offer_order_wins_over_ours() {
    let remote = parse(SIPP_OFFER.as_bytes()).unwrap();
    // We prefer PCMA, but the offerer listed PCMU first: RFC 3264 §6.1 lets us pick, and we
    // follow the offerer so both ends agree without transcoding.
    let neg = negotiate(&remote, &[Codec::Pcma, Codec::Pcmu]).unwrap();
    assert_eq!(neg.codec, Codec::Pcmu);
    // Supporting only PCMA picks the offerer's second choice.
    let neg = negotiate(&remote, &[Codec::Pcma]).unwrap();
    assert_eq!((neg.codec, neg.payload_type), (Codec::Pcma, 8));
    let text = answer(&local(), &remote, &neg);
    assert!(text.contains("m=audio 20000 RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\n"));
}

#[test]
fn pcma_only_offer_without_rtpmap() {
    let remote = parse(offer_with("m=audio 4000 RTP/AVP 8\r\n").as_bytes()).unwrap();
    let neg = negotiate(&remote, BOTH).unwrap();
    assert_eq!((neg.codec, neg.payload_type), (Codec::Pcma, 8));
    assert_eq!(neg.telephone_event, None);
    assert_eq!(neg.remote, "192.0.2.1:4000".parse::<SocketAddr>().unwrap());
    let text = answer(&local(), &remote, &neg);
    assert!(text.contains("m=audio 20000 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\na=ptime:20\r\n"));
    assert!(!text.contains("telephone-event"));
    reparse_with_crate(&text);
}

#[test]
fn video_is_refused_with_port_zero_and_audio_kept_in_place() {
    let body = offer_with(
        "m=video 5002 RTP/AVP 96 97\r\n\
         a=rtpmap:96 H264/90000\r\n\
         a=rtpmap:97 VP8/90000\r\n\
         m=audio 5000 RTP/AVP 0 101\r\n\
         a=rtpmap:101 telephone-event/8000\r\n",
    );
    let remote = parse(body.as_bytes()).unwrap();
    assert_eq!(remote.media.len(), 2);
    assert!(remote.media[0].audio.is_none());
    let neg = negotiate(&remote, BOTH).unwrap();
    assert_eq!(neg.media_index, 1);
    let text = answer(&local(), &remote, &neg);
    let m_lines: Vec<_> = text.lines().filter(|l| l.starts_with("m=")).collect();
    assert_eq!(
        m_lines,
        ["m=video 0 RTP/AVP 96 97", "m=audio 20000 RTP/AVP 0 101"]
    );
    let desc = reparse_with_crate(&text);
    assert_eq!(desc.media_descriptions.len(), 2);
    assert_eq!(desc.media_descriptions[0].media_name.port.value, 0);
}

#[test]
fn second_audio_stream_is_refused() {
    let body = offer_with("m=audio 4000 RTP/AVP 0\r\nm=audio 4002 RTP/AVP 8\r\n");
    let remote = parse(body.as_bytes()).unwrap();
    let neg = negotiate(&remote, BOTH).unwrap();
    assert_eq!(neg.media_index, 0);
    let text = answer(&local(), &remote, &neg);
    let m_lines: Vec<_> = text.lines().filter(|l| l.starts_with("m=")).collect();
    assert_eq!(m_lines, ["m=audio 20000 RTP/AVP 0", "m=audio 0 RTP/AVP 8"]);
}

#[test]
fn audio_stream_with_a_common_codec_is_preferred() {
    let body = offer_with(
        "m=audio 4000 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\nm=audio 4002 RTP/AVP 8\r\n",
    );
    let remote = parse(body.as_bytes()).unwrap();
    let neg = negotiate(&remote, BOTH).unwrap();
    assert_eq!((neg.media_index, neg.codec), (1, Codec::Pcma));
    assert_eq!(neg.remote.port(), 4002);
    let text = answer(&local(), &remote, &neg);
    let m_lines: Vec<_> = text.lines().filter(|l| l.starts_with("m=")).collect();
    assert_eq!(m_lines, ["m=audio 0 RTP/AVP 18", "m=audio 20000 RTP/AVP 8"]);
}

#[test]
fn g729_only_is_no_common_codec() {
    let body = offer_with("m=audio 4000 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\n");
    let remote = parse(body.as_bytes()).unwrap();
    let err = negotiate(&remote, BOTH).unwrap_err();
    assert_eq!(err, SdpError::NoCommonCodec);
    assert_eq!(err.status_code(), 488);
}

#[test]
fn dynamic_payload_type_for_g711_is_honoured_and_wideband_is_not() {
    let body = offer_with(
        "m=audio 4000 RTP/AVP 96 97 98\r\n\
         a=rtpmap:96 PCMU/16000\r\n\
         a=rtpmap:97 pcma/8000/2\r\n\
         a=rtpmap:98 pcmu/8000/1\r\n",
    );
    let remote = parse(body.as_bytes()).unwrap();
    let neg = negotiate(&remote, BOTH).unwrap();
    assert_eq!((neg.codec, neg.payload_type), (Codec::Pcmu, 98));
    let text = answer(&local(), &remote, &neg);
    assert!(text.contains("m=audio 20000 RTP/AVP 98\r\na=rtpmap:98 PCMU/8000\r\n"));
}

#[test]
fn telephone_event_must_be_listed_and_narrowband() {
    let body = offer_with(
        "m=audio 4000 RTP/AVP 0 100\r\n\
         a=rtpmap:100 telephone-event/48000\r\n\
         a=rtpmap:101 telephone-event/8000\r\n",
    );
    let remote = parse(body.as_bytes()).unwrap();
    assert_eq!(remote.audio().unwrap().1.telephone_event, None);
}

#[test]
fn no_audio_at_all() {
    for media in [
        "m=video 5000 RTP/AVP 96\r\n",
        "m=audio 0 RTP/AVP 0\r\n",
        "m=audio 4000 RTP/SAVP 0\r\n",
        "",
    ] {
        let remote = parse(offer_with(media).as_bytes()).unwrap();
        let err = negotiate(&remote, BOTH).unwrap_err();
        assert_eq!(err, SdpError::NoAudio, "{media:?}");
        assert_eq!(err.status_code(), 488);
    }
}

#[test]
fn ipv6_connection_address() {
    let body = "v=0\r\no=- 7 7 IN IP6 2001:db8::1\r\ns=-\r\nc=IN IP6 2001:db8::1\r\nt=0 0\r\n\
                m=audio 30000 RTP/AVP 0\r\n";
    let remote = parse(body.as_bytes()).unwrap();
    let neg = negotiate(&remote, BOTH).unwrap();
    assert_eq!(
        neg.remote,
        "[2001:db8::1]:30000".parse::<SocketAddr>().unwrap()
    );
    let mut ours = local();
    ours.addr = "2001:db8::10".parse().unwrap();
    let text = answer(&ours, &remote, &neg);
    assert!(text.contains("o=hotline 42 1 IN IP6 2001:db8::10\r\n"));
    assert!(text.contains("c=IN IP6 2001:db8::10\r\n"));
    let desc = reparse_with_crate(&text);
    let c = desc.connection_information.unwrap();
    assert_eq!(c.address_type, "IP6");
}

#[test]
fn media_level_overrides_session_level() {
    let body = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n\
                a=sendonly\r\na=ptime:30\r\n\
                m=audio 4000 RTP/AVP 0\r\nc=IN IP4 10.0.0.2\r\na=sendrecv\r\na=ptime:40\r\n\
                m=audio 4002 RTP/AVP 0\r\n";
    let remote = parse(body.as_bytes()).unwrap();
    let first = remote.media[0].audio.as_ref().unwrap();
    assert_eq!(first.addr, "10.0.0.2:4000".parse::<SocketAddr>().unwrap());
    assert_eq!(first.direction, Direction::SendRecv);
    assert_eq!(first.ptime_ms, Some(40));
    let second = remote.media[1].audio.as_ref().unwrap();
    assert_eq!(second.addr, "10.0.0.1:4002".parse::<SocketAddr>().unwrap());
    assert_eq!(second.direction, Direction::SendOnly);
    assert_eq!(second.ptime_ms, Some(30));
}

#[test]
fn session_level_direction_is_answered_in_reverse() {
    for (theirs, ours) in [
        ("a=sendonly\r\n", "a=recvonly\r\n"),
        ("a=recvonly\r\n", "a=sendonly\r\n"),
        ("a=inactive\r\n", "a=inactive\r\n"),
        ("", "a=sendrecv\r\n"),
    ] {
        let body = format!(
            "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n{theirs}\
             m=audio 4000 RTP/AVP 0\r\n"
        );
        let remote = parse(body.as_bytes()).unwrap();
        let neg = negotiate(&remote, BOTH).unwrap();
        let text = answer(&local(), &remote, &neg);
        assert!(text.ends_with(ours), "{theirs:?} → {text}");
    }
}

#[test]
fn old_style_hold_with_zero_address() {
    let remote =
        parse(offer_with("m=audio 4000 RTP/AVP 0\r\nc=IN IP4 0.0.0.0\r\n").as_bytes()).unwrap();
    let audio = remote.audio().unwrap().1;
    assert!(audio.is_hold());
    assert_eq!(audio.direction, Direction::SendOnly);
    let neg = negotiate(&remote, BOTH).unwrap();
    assert_eq!(neg.direction, Direction::RecvOnly);
    assert!(neg.remote.ip().is_unspecified());
    assert!(answer(&local(), &remote, &neg).ends_with("a=recvonly\r\n"));

    let remote = parse(
        offer_with("m=audio 4000 RTP/AVP 0\r\nc=IN IP4 0.0.0.0\r\na=recvonly\r\n").as_bytes(),
    )
    .unwrap();
    assert_eq!(
        negotiate(&remote, BOTH).unwrap().direction,
        Direction::Inactive
    );
}

#[test]
fn rfc3264_hold_with_sendonly() {
    let remote = parse(offer_with("m=audio 4000 RTP/AVP 0\r\na=sendonly\r\n").as_bytes()).unwrap();
    assert!(remote.audio().unwrap().1.is_hold());
    assert_eq!(
        negotiate(&remote, BOTH).unwrap().direction,
        Direction::RecvOnly
    );
}

#[test]
fn connection_address_problems() {
    let no_c = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";
    let err = parse(no_c.as_bytes()).unwrap_err();
    assert_eq!(err, SdpError::NoConnectionAddress { m_line: 0 });
    assert_eq!(err.status_code(), 400);

    let host = offer_with("m=audio 4000 RTP/AVP 0\r\nc=IN IP4 media.example.com\r\n");
    let err = parse(host.as_bytes()).unwrap_err();
    assert_eq!(
        err,
        SdpError::BadConnectionAddress("media.example.com".into())
    );
    assert_eq!(err.status_code(), 488);

    let wrong_family = offer_with("m=audio 4000 RTP/AVP 0\r\nc=IN IP4 2001:db8::1\r\n");
    assert!(matches!(
        parse(wrong_family.as_bytes()),
        Err(SdpError::BadConnectionAddress(_))
    ));

    // A refused stream needs no address.
    let refused = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 0 RTP/AVP 0\r\n";
    assert!(parse(refused.as_bytes()).is_ok());

    // Multicast and broadcast: media must never go to a group (see limits_tests.rs).
    let multicast = offer_with("m=audio 4000 RTP/AVP 0\r\nc=IN IP4 224.2.1.1/127\r\n");
    let err = parse(multicast.as_bytes()).unwrap_err();
    assert_eq!(
        err,
        SdpError::MulticastAddress("224.2.1.1".parse().unwrap())
    );
    assert_eq!(err.status_code(), 488);
}

#[test]
fn bad_payload_type_is_malformed() {
    let err = parse(offer_with("m=audio 4000 RTP/AVP 0 200\r\n").as_bytes()).unwrap_err();
    assert_eq!(
        err,
        SdpError::BadPayloadType {
            m_line: 0,
            format: "200".into()
        }
    );
    assert_eq!(err.status_code(), 400);
}

#[test]
fn bare_lf_line_endings_are_accepted() {
    let body = SIPP_OFFER.replace("\r\n", "\n");
    let remote = parse(body.as_bytes()).unwrap();
    let neg = negotiate(&remote, BOTH).unwrap();
    assert_eq!((neg.codec, neg.telephone_event), (Codec::Pcmu, Some(101)));
}

#[test]
fn garbage_is_malformed() {
    for body in [
        &b""[..],
        b"hello",
        b"v=1\r\n",
        b"v=0\r\no=broken\r\n",
        b"\xff\xfe\x00v=0",
        b"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\nm=audio 99999 RTP/AVP 0\r\n",
        b"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\nm=audio\r\n",
        b"v=0\r\no=- x 1 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\n",
    ] {
        let err = parse(body).unwrap_err();
        assert!(matches!(err, SdpError::Malformed(_)), "{body:?}: {err:?}");
        assert_eq!(err.status_code(), 400);
    }
}

#[test]
fn mangled_offers_never_panic() {
    // Deterministic xorshift: every truncation and thousands of byte flips of a real offer.
    let base = SIPP_OFFER.as_bytes();
    for len in 0..base.len() {
        let _ = parse(&base[..len]);
    }
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let alphabet = b"=:/ \r\n0123456789aAmcvtoIP.-\xff";
    for _ in 0..5000 {
        let mut body = base.to_vec();
        for _ in 0..(next() % 4 + 1) {
            let at = (next() % body.len() as u64) as usize;
            body[at] = alphabet[(next() % alphabet.len() as u64) as usize];
        }
        if let Ok(remote) = parse(&body) {
            if let Ok(neg) = negotiate(&remote, BOTH) {
                let _ = answer(&local(), &remote, &neg);
            }
        }
    }
}

#[test]
fn our_offer_text_and_round_trip() {
    let text = offer(&local(), BOTH, 101);
    assert_eq!(
        text,
        "v=0\r\n\
         o=hotline 42 1 IN IP4 192.0.2.10\r\n\
         s=hotline\r\n\
         c=IN IP4 192.0.2.10\r\n\
         t=0 0\r\n\
         m=audio 20000 RTP/AVP 0 8 101\r\n\
         a=rtpmap:0 PCMU/8000\r\n\
         a=rtpmap:8 PCMA/8000\r\n\
         a=rtpmap:101 telephone-event/8000\r\n\
         a=fmtp:101 0-16\r\n\
         a=ptime:20\r\n\
         a=sendrecv\r\n"
    );
    reparse_with_crate(&text);
    // Our own offer, read back as the remote's, negotiates like any other.
    let remote = parse(text.as_bytes()).unwrap();
    let neg = negotiate(&remote, &[Codec::Pcma]).unwrap();
    assert_eq!((neg.codec, neg.payload_type), (Codec::Pcma, 8));
    assert_eq!(neg.telephone_event, Some(101));
    assert_eq!(
        neg.remote,
        "192.0.2.10:20000".parse::<SocketAddr>().unwrap()
    );
}

#[test]
fn answer_parses_back_to_what_was_negotiated() {
    let remote = parse(SIPP_OFFER.as_bytes()).unwrap();
    let neg = negotiate(&remote, BOTH).unwrap();
    let ours = parse(answer(&local(), &remote, &neg).as_bytes()).unwrap();
    let back = negotiate(&ours, BOTH).unwrap();
    assert_eq!(
        (back.codec, back.payload_type),
        (neg.codec, neg.payload_type)
    );
    assert_eq!(back.telephone_event, Some(101));
    assert_eq!(
        back.remote,
        "192.0.2.10:20000".parse::<SocketAddr>().unwrap()
    );
}

#[test]
fn codec_names_and_numbers() {
    assert_eq!(Codec::parse("pcmu"), Some(Codec::Pcmu));
    assert_eq!(Codec::parse("PCMA"), Some(Codec::Pcma));
    assert_eq!(Codec::parse("G729"), None);
    assert_eq!(Codec::Pcmu.payload_type(), 0);
    assert_eq!(Codec::Pcma.payload_type(), 8);
    assert_eq!(Codec::Pcma.name(), "PCMA");
}
