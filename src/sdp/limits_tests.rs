//! Offers we will not take: multicast, broadcast and (initially) unspecified addresses,
//! and bodies beyond our bounds. All are 488: readable descriptions we refuse.

use super::*;

fn with_c(addr: &str) -> String {
    format!(
        "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc={addr}\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"
    )
}

#[test]
fn multicast_and_broadcast_addresses_are_refused_with_488() {
    for (c, ip) in [
        ("IN IP4 224.0.0.1", "224.0.0.1"),
        ("IN IP4 239.255.255.250/16", "239.255.255.250"),
        ("IN IP4 255.255.255.255", "255.255.255.255"),
        ("IN IP6 ff02::1", "ff02::1"),
        ("IN IP6 ff0e::1234", "ff0e::1234"),
    ] {
        let err = parse(with_c(c).as_bytes()).unwrap_err();
        assert_eq!(err, SdpError::MulticastAddress(ip.parse().unwrap()), "{c}");
        assert_eq!(err.status_code(), 488);
    }
    // The edges of 224.0.0.0/4 and ff00::/8 stay usable.
    for c in [
        "IN IP4 223.255.255.255",
        "IN IP4 240.0.0.1",
        "IN IP6 fe80::1",
    ] {
        assert!(parse(with_c(c).as_bytes()).is_ok(), "{c}");
    }
}

#[test]
fn the_unspecified_address_is_a_hold_in_a_re_offer_but_refused_initially() {
    for c in ["IN IP4 0.0.0.0", "IN IP6 ::"] {
        let remote = parse(with_c(c).as_bytes()).unwrap();
        // RFC 3264 §8.4: a re-offer's c=0.0.0.0 is a hold, negotiated as before.
        let held = negotiate(&remote, &[Codec::Pcmu]).unwrap();
        assert_eq!(held.direction, Direction::RecvOnly, "{c}");
        let err = negotiate_initial(&remote, &[Codec::Pcmu]).unwrap_err();
        assert_eq!(err, SdpError::UnspecifiedAddress);
        assert_eq!(err.status_code(), 488);
    }
    let remote = parse(with_c("IN IP4 192.0.2.7").as_bytes()).unwrap();
    assert!(negotiate_initial(&remote, &[Codec::Pcmu]).is_ok());
}

#[test]
fn too_many_media_lines_or_attributes_or_bytes_are_refused_with_488() {
    let head = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n";
    let lines = |n: usize| "m=video 0 RTP/AVP 31\r\n".repeat(n);
    let ok = format!("{head}m=audio 4000 RTP/AVP 0\r\n{}", lines(MAX_MEDIA - 1));
    assert_eq!(parse(ok.as_bytes()).unwrap().media.len(), MAX_MEDIA);
    let thousand = format!("{head}m=audio 4000 RTP/AVP 0\r\n{}", lines(999));
    let err = parse(thousand.as_bytes()).unwrap_err();
    assert_eq!(
        err,
        SdpError::TooLarge {
            size: thousand.len(),
            limit: MAX_BODY_BYTES
        }
    );
    let nine = format!("{head}m=audio 4000 RTP/AVP 0\r\n{}", lines(MAX_MEDIA));
    let err = parse(nine.as_bytes()).unwrap_err();
    assert_eq!(err, SdpError::TooManyMedia { limit: MAX_MEDIA });
    assert_eq!(err.status_code(), 488);

    let attrs = |n: usize| "a=x-junk:1\r\n".repeat(n);
    let ok = format!("{head}m=audio 4000 RTP/AVP 0\r\n{}", attrs(MAX_ATTRIBUTES));
    assert!(parse(ok.as_bytes()).is_ok());
    let many = format!(
        "{head}m=audio 4000 RTP/AVP 0\r\n{}",
        attrs(MAX_ATTRIBUTES + 1)
    );
    assert_eq!(
        parse(many.as_bytes()).unwrap_err(),
        SdpError::TooManyAttributes {
            m_line: Some(0),
            limit: MAX_ATTRIBUTES
        }
    );
    let session = format!(
        "{head}{}m=audio 4000 RTP/AVP 0\r\n",
        attrs(MAX_ATTRIBUTES + 1)
    );
    assert_eq!(
        parse(session.as_bytes()).unwrap_err(),
        SdpError::TooManyAttributes {
            m_line: None,
            limit: MAX_ATTRIBUTES
        }
    );
}

/// The bounds count every line the parser may read, however it is separated or indented.
/// Found by fuzzing: nine m-lines each behind "\n\r" passed the count (the parser drops
/// the CR), and the answer, which mirrors every m-line, then failed our own bound.
#[test]
fn the_bounds_count_lines_however_they_are_separated() {
    let head = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n";
    for (sep, indent) in [
        ("\r", ""),
        ("\n", " "),
        ("\r\n", "\t"),
        ("\n", "\r"),
        ("\r\n", "\r"),
        ("\n", "\x0b"),
        ("\n", "\x0c"),
    ] {
        let m = format!("{indent}m=video 0 RTP/AVP 31{sep}").repeat(MAX_MEDIA);
        let body = format!("{head}m=audio 4000 RTP/AVP 0{sep}{m}");
        match parse(body.as_bytes()) {
            // Refused, whichever way: as too many, or as unreadable.
            Err(_) => {}
            Ok(remote) => assert!(
                remote.media.len() <= MAX_MEDIA,
                "{sep:?} {indent:?}: {} media sections passed the bound",
                remote.media.len()
            ),
        }
    }
}
