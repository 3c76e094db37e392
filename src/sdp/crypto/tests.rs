use std::net::{IpAddr, Ipv4Addr};

use super::*;
use crate::media::srtp::keys::SrtpMasterKey;
use crate::sdp;

fn local() -> LocalSession {
    LocalSession {
        username: "hotline".into(),
        session_id: 1,
        version: 1,
        addr: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10)),
        port: 40_000,
    }
}

fn key(tag: u32, byte: u8) -> CryptoAttr {
    CryptoAttr {
        tag,
        key: SrtpMasterKey {
            key: [byte; 16],
            salt: [byte; 14],
        },
    }
}

#[test]
fn our_secure_offer_reads_back_as_srtp_with_our_key() {
    let ours = key(1, 7);
    let offer = secure_offer(&local(), &[Codec::Pcmu, Codec::Pcma], 101, &ours);
    assert!(
        offer.contains("m=audio 40000 RTP/SAVP 0 8 101\r\n"),
        "{offer}"
    );
    assert!(
        offer.contains("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:"),
        "{offer}"
    );
    assert_eq!(
        remote_security(offer.as_bytes()),
        Ok(RemoteSecurity::Srtp(ours))
    );
    // The plain parser still reads its codecs (it describes the m-line, without audio).
    assert!(sdp::parse(offer.as_bytes()).is_ok());
}

#[test]
fn a_plain_offer_is_plain_and_savp_without_a_usable_key_is_unusable() {
    let plain = sdp::offer(&local(), &[Codec::Pcmu], 101);
    assert_eq!(remote_security(plain.as_bytes()), Ok(RemoteSecurity::Plain));
    let no_key = plain.replace("RTP/AVP", "RTP/SAVP");
    assert_eq!(
        remote_security(no_key.as_bytes()),
        Ok(RemoteSecurity::Unusable)
    );
    let other_suite = no_key.replace(
        "a=ptime:20",
        "a=crypto:1 AES_256_CM_HMAC_SHA1_80 inline:AAAA\r\na=ptime:20",
    );
    assert_eq!(
        remote_security(other_suite.as_bytes()),
        Ok(RemoteSecurity::Unusable)
    );
}

#[test]
fn the_first_usable_crypto_line_is_taken() {
    let plain = sdp::offer(&local(), &[Codec::Pcmu], 101).replace("RTP/AVP", "RTP/SAVP");
    let theirs = key(2, 9);
    let body = plain.replace(
        "a=ptime:20",
        &format!(
            "a=crypto:1 AES_CM_128_HMAC_SHA1_32 inline:AAAA\r\na=crypto:{}\r\na=ptime:20",
            theirs.to_value()
        ),
    );
    assert_eq!(
        remote_security(body.as_bytes()),
        Ok(RemoteSecurity::Srtp(theirs))
    );
}

#[test]
fn garbage_is_an_error_not_a_panic() {
    assert!(remote_security(b"not sdp").is_err());
    assert!(remote_security(b"").is_err());
}
