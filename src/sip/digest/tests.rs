//! Digest arithmetic against published vectors, the credentials parser on what real
//! clients send (and on garbage), and the challenge text.

use super::*;

/// RFC 7616 §3.9.1: the same exchange with SHA-256 and with MD5.
fn rfc7616(algorithm: &str, response: &str) -> String {
    format!(
        r#"Digest username="Mufasa", realm="http-auth@example.org", uri="/dir/index.html",
        algorithm={algorithm}, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", nc=00000001,
        cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", qop=auth,
        response="{response}", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS""#
    )
    .replace('\n', " ")
}

const RFC7616_MD5: &str = "8ca523f5e9506fed4657c9700eebdbec";
const RFC7616_SHA256: &str = "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1";

#[test]
fn rfc7616_sha256_example() {
    let creds = parse_authorization(&rfc7616("SHA-256", RFC7616_SHA256)).unwrap();
    assert_eq!(creds.algorithm, Algorithm::Sha256);
    let ha1 = ha1(
        Algorithm::Sha256,
        "Mufasa",
        "http-auth@example.org",
        "Circle of Life",
    );
    assert_eq!(
        ha1,
        "7987c64c30e25f1b74be53f966b49b90f2808aa92faf9a00262392d7b4794232"
    );
    assert_eq!(expected_response(&ha1, "GET", &creds), RFC7616_SHA256);
    assert!(verify(&ha1, "GET", &creds));
    assert!(!verify(&ha1, "POST", &creds));
    let wrong = super::ha1(
        Algorithm::Sha256,
        "Mufasa",
        "http-auth@example.org",
        "Circle of life",
    );
    assert!(!verify(&wrong, "GET", &creds));
}

#[test]
fn rfc7616_md5_example() {
    let creds = parse_authorization(&rfc7616("MD5", RFC7616_MD5)).unwrap();
    assert_eq!(creds.algorithm, Algorithm::Md5);
    let ha1 = ha1(
        Algorithm::Md5,
        "Mufasa",
        "http-auth@example.org",
        "Circle of Life",
    );
    assert_eq!(ha1, "3d78807defe7de2157e2b0b6573a855f");
    assert!(verify(&ha1, "GET", &creds));
    // A stored HA1 in upper case (hand-edited configuration) still verifies.
    assert!(verify(&ha1.to_uppercase(), "GET", &creds));
}

#[test]
fn rfc2617_example_without_algorithm_is_md5() {
    let value = r#"Digest username="Mufasa", realm="testrealm@host.com",
        nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", qop=auth,
        nc=00000001, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1",
        opaque="5ccc069c403ebaf9f0171e9517f40e41""#
        .replace('\n', " ");
    let creds = parse_authorization(&value).unwrap();
    assert_eq!(creds.algorithm, Algorithm::Md5);
    assert_eq!(
        creds.opaque.as_deref(),
        Some("5ccc069c403ebaf9f0171e9517f40e41")
    );
    let ha1 = ha1(
        Algorithm::Md5,
        "Mufasa",
        "testrealm@host.com",
        "Circle Of Life",
    );
    assert!(verify(&ha1, "GET", &creds));
}

#[test]
fn rfc2069_response_without_qop() {
    // Expected value computed independently (Python hashlib): MD5(HA1:nonce:HA2).
    let value = r#"Digest username="Mufasa", realm="testrealm@host.com",
        nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html",
        response="670fd8c2df070c60b045671b8b24ff02""#
        .replace('\n', " ");
    let creds = parse_authorization(&value).unwrap();
    assert_eq!((creds.qop.as_deref(), creds.nc.as_ref()), (None, None));
    let ha1 = ha1(
        Algorithm::Md5,
        "Mufasa",
        "testrealm@host.com",
        "Circle Of Life",
    );
    assert!(verify(&ha1, "GET", &creds));
}

#[test]
fn sipp_style_credentials_parse() {
    // SIPp: unquoted algorithm, qop and nc; uri is the server address, not the R-URI.
    let creds = parse_authorization(
        "Digest username=\"101\",realm=\"hotline\",cnonce=\"6b8b4567\",nc=0000000a,\
         qop=auth,uri=\"sip:127.0.0.1:5060\",nonce=\"abc\",\
         response=\"0123456789ABCDEF0123456789abcdef\",algorithm=MD5",
    )
    .unwrap();
    assert_eq!(creds.username, "101");
    assert_eq!(creds.uri, "sip:127.0.0.1:5060");
    let nc = creds.nc.unwrap();
    assert_eq!((nc.value, nc.text.as_str()), (10, "0000000a"));
    assert_eq!(creds.response, "0123456789abcdef0123456789abcdef");
    assert_eq!(creds.qop.as_deref(), Some("auth"));
}

#[test]
fn parser_is_lenient_where_clients_differ() {
    let creds = parse_authorization(
        "  digest  USERNAME = \"a\\\"b\\\\c\" ,, Realm=hotline,NONCE=\"n\" , uri=\"sip:h\",\
         response=\"0123456789abcdef0123456789abcdef\", qop=\"AUTH\", nc=FFFFFFFF, cnonce=x,\
         x-extension=\"ignored, really\", algorithm=md5,",
    )
    .unwrap();
    assert_eq!(creds.username, "a\"b\\c");
    assert_eq!(creds.realm, "hotline");
    assert_eq!(creds.nc.unwrap().value, u32::MAX);
    assert_eq!(creds.qop.as_deref(), Some("AUTH"));
    assert_eq!(creds.cnonce.as_deref(), Some("x"));
    let utf8 = parse_authorization(
        "Digest username=\"Ёлка\", realm=\"r\", nonce=\"n\", uri=\"sip:h\", \
         response=\"0123456789abcdef0123456789abcdef\"",
    )
    .unwrap();
    assert_eq!(utf8.username, "Ёлка");
}

#[test]
fn parser_rejects_what_it_cannot_read() {
    let ok = "username=\"u\", realm=\"r\", nonce=\"n\", uri=\"sip:h\", \
              response=\"0123456789abcdef0123456789abcdef\"";
    let sha = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    let cases: Vec<(String, DigestError)> = vec![
        ("Basic dXNlcjpwYXNz".into(), DigestError::NotDigest),
        ("".into(), DigestError::NotDigest),
        ("Digestusername=\"u\"".into(), DigestError::NotDigest),
        ("Digest".into(), DigestError::MissingParameter("username")),
        (
            format!("Digest {ok}, username=\"v\""),
            DigestError::DuplicateParameter("username".into()),
        ),
        (
            format!("Digest {}", ok.replace("realm=\"r\", ", "")),
            DigestError::MissingParameter("realm"),
        ),
        (
            format!("Digest {ok}, qop=auth, cnonce=\"c\""),
            DigestError::MissingParameter("nc"),
        ),
        (
            format!("Digest {ok}, qop=auth, nc=00000001"),
            DigestError::MissingParameter("cnonce"),
        ),
        (
            format!("Digest {ok}, qop=auth, nc=1, cnonce=\"c\""),
            DigestError::InvalidParameter { name: "nc" },
        ),
        (
            format!("Digest {ok}, qop=auth, nc=0000000g, cnonce=\"c\""),
            DigestError::InvalidParameter { name: "nc" },
        ),
        (
            format!("Digest {ok}, qop=auth-int, nc=00000001, cnonce=\"c\""),
            DigestError::UnsupportedQop("auth-int".into()),
        ),
        (
            format!("Digest {ok}, algorithm=MD5-sess"),
            DigestError::UnsupportedAlgorithm("MD5-sess".into()),
        ),
        (
            format!("Digest {ok}, algorithm=SHA-256"),
            DigestError::InvalidParameter { name: "response" },
        ),
        (
            format!(
                "Digest {}",
                ok.replace("0123456789abcdef0123456789abcdef", sha)
            ),
            DigestError::InvalidParameter { name: "response" },
        ),
        (
            format!("Digest {ok}, userhash=true"),
            DigestError::UserhashUnsupported,
        ),
        ("Digest username=\"u".into(), DigestError::Syntax(18)),
        ("Digest username".into(), DigestError::Syntax(15)),
        ("Digest username=".into(), DigestError::Syntax(16)),
        ("Digest username=\"u\"x".into(), DigestError::Syntax(19)),
        ("Digest =x".into(), DigestError::Syntax(7)),
        ("Digest a=\"x\\".into(), DigestError::Syntax(12)),
        ("x".repeat(5000), DigestError::TooLong(5000)),
    ];
    for (value, err) in cases {
        assert_eq!(parse_authorization(&value), Err(err), "{value:?}");
    }
    let sha_ok = format!(
        "Digest {}, algorithm=SHA-256",
        ok.replace("0123456789abcdef0123456789abcdef", sha)
    );
    assert!(parse_authorization(&sha_ok).is_ok());
}

#[test]
fn parser_never_panics_on_prefixes_and_byte_noise() {
    let full = rfc7616("SHA-256", RFC7616_SHA256).replace("Mufasa", "Муфаса");
    for end in 0..=full.len() {
        if let Some(prefix) = full.get(..end) {
            let _ = parse_authorization(prefix);
        }
    }
    let mut state: u32 = 1;
    for _ in 0..2000 {
        let text: String = (0..40)
            .map(|_| {
                state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                char::from(b"Digest =,\"\\ abc\t"[(state >> 16) as usize % 16])
            })
            .collect();
        let _ = parse_authorization(&text);
    }
}

#[test]
fn challenge_text() {
    assert_eq!(
        challenge("hotline", "n1", "op", Algorithm::Sha256, false),
        r#"Digest realm="hotline", nonce="n1", opaque="op", algorithm=SHA-256, qop="auth""#
    );
    assert_eq!(
        challenge("a\"b\\c\r\n", "n1", "op", Algorithm::Md5, true),
        r#"Digest realm="a\"b\\c", nonce="n1", opaque="op", algorithm=MD5, qop="auth", stale=true"#
    );
    // What we send parses back with our own parser's rules for quoted strings.
    let value = challenge("a\"b", "n", "o", Algorithm::Md5, false).replacen(
        "Digest ",
        "Digest username=\"u\", uri=\"sip:h\", response=\"0123456789abcdef0123456789abcdef\", ",
        1,
    );
    let value = value.replace(", algorithm=MD5, qop=\"auth\"", "");
    assert_eq!(parse_authorization(&value).unwrap().realm, "a\"b");
}
