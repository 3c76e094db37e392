use super::keys::{self, CryptoAttr, SrtpMasterKey};
use super::*;

fn hex16(s: &str) -> [u8; 16] {
    hex::decode(s).unwrap().try_into().unwrap()
}

fn hex14(s: &str) -> [u8; 14] {
    hex::decode(s).unwrap().try_into().unwrap()
}

/// RFC 3711 Appendix B.2: the AES-CM keystream for session key, salt, SSRC 0, index 0.
#[test]
fn rfc3711_b2_aes_cm_keystream() {
    let cipher = Aes128::new(&hex16("2B7E151628AED2A6ABF7158809CF4F3C").into());
    let salt = hex14("F0F1F2F3F4F5F6F7F8F9FAFBFCFD");
    let mut out = [0u8; 48];
    apply_keystream(&cipher, &salt, 0, 0, &mut out);
    assert_eq!(
        hex::encode_upper(out),
        "E03EAD0935C95E80E166B16DD92B4EB4\
         D23513162B02D0F72A43A2FE4A5F97AB\
         41E95B3BB0A2E8DD477901E4FCA894C0"
    );
}

/// RFC 3711 Appendix B.2: the last blocks, counters FEFF..FF01.
#[test]
fn rfc3711_b2_aes_cm_keystream_last_blocks() {
    let cipher = Aes128::new(&hex16("2B7E151628AED2A6ABF7158809CF4F3C").into());
    let mut iv = [0u8; 16];
    iv[..14].copy_from_slice(&hex14("F0F1F2F3F4F5F6F7F8F9FAFBFCFD"));
    iv[14..].copy_from_slice(&0xFEFFu16.to_be_bytes());
    let mut out = [0u8; 48];
    keystream_xor(&cipher, iv, &mut out);
    assert_eq!(
        hex::encode_upper(out),
        "EC8CDF7398607CB0F2D21675EA9EA1E4\
         362B7C3C6773516318A077D7FC5073AE\
         6A2CC3787889374FBEB4C81B17BA6C44"
    );
}

/// RFC 3711 Appendix B.3: session keys from a master key and salt.
#[test]
fn rfc3711_b3_key_derivation() {
    let master = SrtpMasterKey {
        key: hex16("E1F97A0D3E018BE0D64FA32C06DE4139"),
        salt: hex14("0EC675AD498AFEEBB6960B3AABE6"),
    };
    let k = keys::derive(&master);
    assert_eq!(
        hex::encode_upper(k.cipher_key),
        "C61E7A93744F39EE10734AFE3FF7A087"
    );
    assert_eq!(
        hex::encode_upper(k.cipher_salt),
        "30CBBC08863D8C85D49DB34A9AE1"
    );
    assert_eq!(
        hex::encode_upper(k.auth_key),
        "CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4"
    );
}

fn master() -> SrtpMasterKey {
    SrtpMasterKey {
        key: hex16("E1F97A0D3E018BE0D64FA32C06DE4139"),
        salt: hex14("0EC675AD498AFEEBB6960B3AABE6"),
    }
}

/// An RTP packet (PCMU, 160 bytes of payload) in a buffer with room for the tag.
fn packet(seq: u16, ssrc: u32) -> ([u8; 200], usize) {
    let mut buf = [0u8; 200];
    buf[0] = 0x80;
    buf[2..4].copy_from_slice(&seq.to_be_bytes());
    buf[4..8].copy_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    buf[8..12].copy_from_slice(&ssrc.to_be_bytes());
    for (i, b) in buf[12..172].iter_mut().enumerate() {
        *b = (i as u8) ^ (seq as u8);
    }
    (buf, 172)
}

#[test]
fn protect_then_unprotect_gives_the_packet_back() {
    let (mut tx, mut rx) = (SrtpContext::new(&master()), SrtpContext::new(&master()));
    for seq in [1u16, 2, 3, 5, 4] {
        let (clear, len) = packet(seq, 0x1234);
        let mut buf = clear;
        let sent = tx.protect(&mut buf, len).unwrap();
        assert_eq!(sent, len + TAG_LEN);
        assert_ne!(buf[12..len], clear[12..len], "the payload is encrypted");
        assert_eq!(buf[..12], clear[..12], "the header stays in clear");
        let got = rx.unprotect(&mut buf[..sent]).unwrap();
        assert_eq!(got, len);
        assert_eq!(buf[..len], clear[..len]);
    }
}

#[test]
fn a_replayed_packet_is_refused() {
    let (mut tx, mut rx) = (SrtpContext::new(&master()), SrtpContext::new(&master()));
    let (mut buf, len) = packet(10, 7);
    let sent = tx.protect(&mut buf, len).unwrap();
    let copy = buf;
    rx.unprotect(&mut buf[..sent]).unwrap();
    let mut again = copy;
    assert_eq!(rx.unprotect(&mut again[..sent]), Err(SrtpError::Replayed));
}

#[test]
fn a_packet_older_than_the_window_is_refused() {
    let (mut tx, mut rx) = (SrtpContext::new(&master()), SrtpContext::new(&master()));
    let (mut old, len) = packet(1, 7);
    let old_len = tx.protect(&mut old, len).unwrap();
    for seq in 2..=100u16 {
        let (mut buf, len) = packet(seq, 7);
        let n = tx.protect(&mut buf, len).unwrap();
        rx.unprotect(&mut buf[..n]).unwrap();
    }
    assert_eq!(rx.unprotect(&mut old[..old_len]), Err(SrtpError::Replayed));
}

#[test]
fn a_tampered_or_wrongly_keyed_packet_is_refused() {
    let mut tx = SrtpContext::new(&master());
    let (mut buf, len) = packet(1, 7);
    let n = tx.protect(&mut buf, len).unwrap();
    let mut tampered = buf;
    tampered[40] ^= 1;
    let mut rx = SrtpContext::new(&master());
    assert_eq!(rx.unprotect(&mut tampered[..n]), Err(SrtpError::AuthFailed));
    let other = SrtpMasterKey {
        key: [7; 16],
        salt: [9; 14],
    };
    let mut rx = SrtpContext::new(&other);
    assert_eq!(rx.unprotect(&mut buf[..n]), Err(SrtpError::AuthFailed));
}

/// The ROC follows the sequence number across its wrap on both sides, with the last
/// packet of the old cycle arriving twenty packets late (inside the replay window).
#[test]
fn the_rollover_counter_follows_the_wrap() {
    let (mut tx, mut rx) = (SrtpContext::new(&master()), SrtpContext::new(&master()));
    let mut late = None;
    for step in 0..200u32 {
        let seq = (65_436 + step) as u16;
        let (clear, len) = packet(seq, 99);
        let mut buf = clear;
        let n = tx.protect(&mut buf, len).unwrap();
        if seq == 65_535 {
            late = Some((buf, n, clear));
            continue;
        }
        assert_eq!(rx.unprotect(&mut buf[..n]), Ok(len), "seq {seq}");
        assert_eq!(buf[..len], clear[..len]);
        if seq == 20 {
            let (mut buf, n, clear) = late.take().unwrap();
            assert_eq!(rx.unprotect(&mut buf[..n]), Ok(n - TAG_LEN));
            assert_eq!(buf[..n - TAG_LEN], clear[..n - TAG_LEN]);
        }
    }
    assert_eq!(rx.stream.unwrap().roc, 1);
    assert_eq!(rx.stream.unwrap().highest_seq, 99);
}

#[test]
fn short_or_foreign_input_is_an_error_not_a_panic() {
    let mut rx = SrtpContext::new(&master());
    for len in 0..40 {
        let mut buf = vec![0x80u8; len];
        let _ = rx.unprotect(&mut buf);
        let mut buf = vec![0x9fu8; len];
        let _ = rx.unprotect(&mut buf);
        let mut tx = SrtpContext::new(&master());
        let mut buf = vec![0x90u8; len + TAG_LEN];
        let _ = tx.protect(&mut buf, len);
    }
    let mut buf = [0x40u8; 40];
    assert_eq!(rx.unprotect(&mut buf), Err(SrtpError::NotRtp));
    let (mut buf, len) = packet(1, 1);
    assert_eq!(rx.protect(&mut buf[..len + 3], len), Err(SrtpError::NoRoom));
}

#[test]
fn crypto_attribute_round_trip_and_refusals() {
    let attr = CryptoAttr {
        tag: 1,
        key: master(),
    };
    let value = attr.to_value();
    assert!(value.starts_with("1 AES_CM_128_HMAC_SHA1_80 inline:"));
    assert_eq!(CryptoAttr::parse(&value), Ok(attr.clone()));
    let with_lifetime = format!("{value}|2^31");
    assert_eq!(CryptoAttr::parse(&with_lifetime), Ok(attr));
    assert!(matches!(
        CryptoAttr::parse("1 AES_CM_128_HMAC_SHA1_32 inline:AAAA"),
        Err(keys::CryptoAttrError::Suite(_))
    ));
    assert_eq!(
        CryptoAttr::parse("1 AES_CM_128_HMAC_SHA1_80 inline:AAAA"),
        Err(keys::CryptoAttrError::Key)
    );
    assert_eq!(
        CryptoAttr::parse(&format!("{value}|2^20|1:4")),
        Err(keys::CryptoAttrError::Key)
    );
    assert_eq!(
        CryptoAttr::parse("x"),
        Err(keys::CryptoAttrError::Malformed)
    );
}

#[test]
fn generated_keys_differ() {
    let mut rng = rand::rng();
    let a = SrtpMasterKey::generate(&mut rng);
    let b = SrtpMasterKey::generate(&mut rng);
    assert_ne!(a, b);
}

/// The media task protects and unprotects every packet: neither may allocate.
#[test]
fn protect_and_unprotect_do_not_allocate() {
    let (mut tx, mut rx) = (SrtpContext::new(&master()), SrtpContext::new(&master()));
    let (clear, len) = packet(1, 5);
    let mut buf = clear;
    let info = allocation_counter::measure(|| {
        for seq in 1..500u16 {
            buf[2..4].copy_from_slice(&seq.to_be_bytes());
            let n = tx.protect(&mut buf, len).unwrap();
            let got = rx.unprotect(&mut buf[..n]).unwrap();
            assert_eq!(got, len);
        }
    });
    assert_eq!(info.count_total, 0);
}
