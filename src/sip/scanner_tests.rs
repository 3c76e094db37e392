use super::*;
use crate::sip::message::{parse_datagram, Datagram, SipMessage};

fn request(user_agent: &str, from: &str) -> Request {
    let text = format!(
        "OPTIONS sip:100@192.0.2.1 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.9:5060;branch=z9hG4bK1\r\n\
         From: {from};tag=1\r\nTo: <sip:100@192.0.2.1>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n\
         {user_agent}Content-Length: 0\r\n\r\n"
    );
    match parse_datagram(text.as_bytes()) {
        Ok(Datagram::Message(SipMessage::Request(r))) => r,
        other => panic!("{other:?}"),
    }
}

#[test]
fn scanners_are_known_by_user_agent_or_from_display_name() {
    for ua in [
        "User-Agent: friendly-scanner\r\n",
        "User-Agent: sipvicious\r\n",
        "User-Agent: sipcli/v1.8\r\n",
        "User-Agent: VaxSIPUserAgent/3.1\r\n",
        "User-Agent: iWar\r\n",
        "User-Agent: sundayddr\r\n",
        "User-Agent: pplsip\r\n",
        "User-Agent: sip-scan\r\n",
        "User-Agent: SIPVicious0.3\r\n",
    ] {
        assert!(is_scanner(&request(ua, "<sip:100@192.0.2.9>")), "{ua}");
    }
    assert!(is_scanner(&request(
        "",
        "\"sipvicious\" <sip:100@192.0.2.9>"
    )));
}

#[test]
fn ordinary_phones_and_trunks_are_not_scanners() {
    for ua in [
        "User-Agent: baresip v3.10.1 (x86_64/linux)\r\n",
        "User-Agent: Linphone/5.2\r\n",
        "User-Agent: MicroSIP/3.21.3\r\n",
        "User-Agent: Zoiper rv2.10\r\n",
        "User-Agent: MySipClient 2.0\r\n",
        "User-Agent: Kiwari/1.0\r\n",
        "",
    ] {
        assert!(
            !is_scanner(&request(ua, "\"Ivanova\" <sip:101@192.0.2.9>")),
            "{ua}"
        );
    }
    // The user part is a number, not a name: only the display name is looked at.
    assert!(!is_scanner(&request("", "<sip:iwar@192.0.2.9>")));
}

#[test]
fn unparseable_probes_are_recognised_too() {
    let probe = b"OPTIONS sip:100@192.0.2.1 SIP/2.0\r\nUser-Agent: friendly-scanner\r\n\r\n";
    assert!(bytes_are_scanner(probe));
    assert!(!bytes_are_scanner(
        b"OPTIONS sip:100@192.0.2.1 SIP/2.0\r\n\r\n"
    ));
    assert!(!bytes_are_scanner(&[0xff, 0xfe, 0x00]));
}
