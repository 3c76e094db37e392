//! The client side of Digest (RFC 3261 §22.2/§22.3 with RFC 7616 and RFC 8760): reading a
//! `WWW-Authenticate` / `Proxy-Authenticate` challenge and answering it with an
//! `Authorization` / `Proxy-Authorization` value, as `hotline` does towards its provider.
//!
//! - [`parse_challenge`]: one challenge value into a [`Challenge`] (same auth-param
//!   grammar as the server side's credentials);
//! - [`pick_challenge`]: of the challenges a 401/407 carries, the strongest we can answer
//!   (SHA-256 before MD5, RFC 8760 §2.4);
//! - [`ClientAuth`]: the credentials for one server: it remembers the last challenge so
//!   that later requests are authorised at once, and counts the uses of a nonce (`nc`).
//!
//! The arithmetic is the server side's ([`super::ha1`], [`super::expected_response`]), so
//! client and server cannot disagree. Nothing here reads a clock or panics on input; the
//! cnonce comes from the caller's random generator.

use rand::distr::Alphanumeric;
use rand::Rng;

use super::parse::scan_params;
use super::{expected_response, ha1, quote, Algorithm, Credentials, DigestError, NonceCount};

/// Longer than any real server's challenge.
const MAX_LEN: usize = 4096;

/// A parsed Digest challenge (RFC 7616 §3.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// `realm`.
    pub realm: String,
    /// `nonce`.
    pub nonce: String,
    /// `opaque`, echoed back unchanged.
    pub opaque: Option<String>,
    /// `algorithm`; MD5 when absent.
    pub algorithm: Algorithm,
    /// Whether `qop` offers `auth` (otherwise the RFC 2069 form is answered).
    pub qop_auth: bool,
    /// `stale=true`: the nonce expired, the password was right; retry at once.
    pub stale: bool,
}

/// Parses one challenge value.
pub fn parse_challenge(value: &str) -> Result<Challenge, DigestError> {
    if value.len() > MAX_LEN {
        return Err(DigestError::TooLong(value.len()));
    }
    let trimmed = value.trim_start();
    let offset = value.len() - trimmed.len();
    let scheme_end = trimmed
        .find(|c: char| c.is_ascii_whitespace())
        .unwrap_or(trimmed.len());
    if !trimmed[..scheme_end].eq_ignore_ascii_case("Digest") {
        return Err(DigestError::NotDigest);
    }
    let params = scan_params(trimmed, scheme_end, offset)?;
    let get = |name: &str| {
        params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let realm = get("realm").ok_or(DigestError::MissingParameter("realm"))?;
    let nonce = get("nonce").ok_or(DigestError::MissingParameter("nonce"))?;
    let algorithm = match get("algorithm") {
        None => Algorithm::Md5,
        Some(token) => Algorithm::from_token(token)
            .ok_or_else(|| DigestError::UnsupportedAlgorithm(token.chars().take(40).collect()))?,
    };
    // `qop` is a quoted list ("auth,auth-int"); we answer `auth` when it is offered.
    let qop_auth = match get("qop") {
        None => false,
        Some(list) => {
            let auth = list
                .split(',')
                .any(|q| q.trim().eq_ignore_ascii_case("auth"));
            if !auth {
                return Err(DigestError::UnsupportedQop(list.chars().take(40).collect()));
            }
            true
        }
    };
    Ok(Challenge {
        realm: realm.to_string(),
        nonce: nonce.to_string(),
        opaque: get("opaque").map(str::to_string),
        algorithm,
        qop_auth,
        stale: get("stale").is_some_and(|v| v.eq_ignore_ascii_case("true")),
    })
}

/// The strongest challenge we can answer among `values` (one per header), or the first
/// error if none is usable.
pub fn pick_challenge<'a>(
    values: impl IntoIterator<Item = &'a str>,
) -> Result<Challenge, DigestError> {
    let mut best: Option<Challenge> = None;
    let mut first_error = None;
    for value in values {
        match parse_challenge(value) {
            Ok(c) => {
                let better = match &best {
                    None => true,
                    Some(b) => b.algorithm == Algorithm::Md5 && c.algorithm == Algorithm::Sha256,
                };
                if better {
                    best = Some(c);
                }
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    best.ok_or_else(|| first_error.unwrap_or(DigestError::NotDigest))
}

/// Which header a challenge came in and the answer goes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthHeader {
    /// 401: `WWW-Authenticate` → `Authorization`.
    Www,
    /// 407: `Proxy-Authenticate` → `Proxy-Authorization`.
    Proxy,
}

impl AuthHeader {
    /// The challenge's header name.
    pub fn challenge_name(self) -> &'static str {
        match self {
            AuthHeader::Www => "WWW-Authenticate",
            AuthHeader::Proxy => "Proxy-Authenticate",
        }
    }

    /// The answer's header name.
    pub fn answer_name(self) -> &'static str {
        match self {
            AuthHeader::Www => "Authorization",
            AuthHeader::Proxy => "Proxy-Authorization",
        }
    }
}

/// Our credentials for one server and the challenge it last gave.
#[derive(Debug, Clone)]
pub struct ClientAuth {
    username: String,
    password: String,
    current: Option<(AuthHeader, Challenge)>,
    nonce_count: u32,
}

impl ClientAuth {
    /// Credentials with no challenge yet.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> ClientAuth {
        ClientAuth {
            username: username.into(),
            password: password.into(),
            current: None,
            nonce_count: 0,
        }
    }

    /// Takes a new challenge. Returns `false` when it is not worth answering: the same
    /// nonce refused again without `stale=true` means the password is wrong, and sending
    /// it once more would only count as another failure at the server.
    pub fn take_challenge(&mut self, header: AuthHeader, challenge: Challenge) -> bool {
        let repeated = self.current.as_ref().is_some_and(|(h, c)| {
            *h == header && c.nonce == challenge.nonce && c.realm == challenge.realm
        });
        if repeated && !challenge.stale {
            return false;
        }
        self.current = Some((header, challenge));
        self.nonce_count = 0;
        true
    }

    /// Forgets the challenge (a new registrar, or a restart).
    pub fn forget(&mut self) {
        self.current = None;
        self.nonce_count = 0;
    }

    /// The header (name, value) authorising `method` for `uri`, if a challenge is known.
    /// Each call uses the nonce once more (`nc` counts up).
    pub fn authorize(
        &mut self,
        method: &str,
        uri: &str,
        rng: &mut impl Rng,
    ) -> Option<(&'static str, String)> {
        let (header, challenge) = self.current.as_ref()?;
        self.nonce_count = self.nonce_count.wrapping_add(1);
        let (qop, nc, cnonce) = if challenge.qop_auth {
            let cnonce: String = (0..16).map(|_| rng.sample(Alphanumeric) as char).collect();
            let nc = NonceCount {
                value: self.nonce_count,
                text: format!("{:08x}", self.nonce_count),
            };
            (Some("auth".to_string()), Some(nc), Some(cnonce))
        } else {
            (None, None, None)
        };
        let mut creds = Credentials {
            username: self.username.clone(),
            realm: challenge.realm.clone(),
            nonce: challenge.nonce.clone(),
            uri: uri.to_string(),
            response: String::new(),
            algorithm: challenge.algorithm,
            cnonce,
            opaque: challenge.opaque.clone(),
            qop,
            nc,
        };
        let secret = ha1(
            challenge.algorithm,
            &self.username,
            &challenge.realm,
            &self.password,
        );
        creds.response = expected_response(&secret, method, &creds);
        Some((header.answer_name(), credentials_value(&creds)))
    }
}

/// The `Authorization` value for filled-in credentials (RFC 7616 §3.4).
fn credentials_value(c: &Credentials) -> String {
    let mut value = format!(
        "Digest username={}, realm={}, nonce={}, uri={}, response=\"{}\", algorithm={}",
        quote(&c.username),
        quote(&c.realm),
        quote(&c.nonce),
        quote(&c.uri),
        c.response,
        c.algorithm.as_str()
    );
    if let Some(opaque) = &c.opaque {
        value.push_str(&format!(", opaque={}", quote(opaque)));
    }
    if let (Some(nc), Some(cnonce)) = (&c.nc, &c.cnonce) {
        value.push_str(&format!(
            ", qop=auth, nc={}, cnonce={}",
            nc.text,
            quote(cnonce)
        ));
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::digest::{challenge, parse_authorization, verify};
    use rand::rngs::SmallRng;
    use rand::SeedableRng;

    fn rng() -> SmallRng {
        SmallRng::seed_from_u64(7)
    }

    #[test]
    fn answers_our_own_server_challenge_for_both_algorithms() {
        for alg in [Algorithm::Md5, Algorithm::Sha256] {
            let value = challenge("provider", "n0nce", "op", alg, false);
            let mut auth = ClientAuth::new("78112792112", "secret");
            assert!(auth.take_challenge(AuthHeader::Www, parse_challenge(&value).unwrap()));
            let (name, answer) = auth
                .authorize("REGISTER", "sip:sip.example", &mut rng())
                .unwrap();
            assert_eq!(name, "Authorization");
            let creds = parse_authorization(&answer).unwrap();
            assert_eq!(creds.algorithm, alg);
            assert_eq!(creds.opaque.as_deref(), Some("op"));
            assert_eq!(creds.nc.as_ref().unwrap().value, 1);
            let stored = ha1(alg, "78112792112", "provider", "secret");
            assert!(verify(&stored, "REGISTER", &creds));
            assert!(!verify(&stored, "INVITE", &creds));
        }
    }

    #[test]
    fn rfc_2617_example_response() {
        // RFC 2617 §3.5: Mufasa / Circle Of Life, qop=auth, nc=00000001.
        let c = Credentials {
            username: "Mufasa".into(),
            realm: "testrealm@host.com".into(),
            nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093".into(),
            uri: "/dir/index.html".into(),
            response: String::new(),
            algorithm: Algorithm::Md5,
            cnonce: Some("0a4f113b".into()),
            opaque: None,
            qop: Some("auth".into()),
            nc: Some(NonceCount {
                value: 1,
                text: "00000001".into(),
            }),
        };
        let secret = ha1(
            Algorithm::Md5,
            "Mufasa",
            "testrealm@host.com",
            "Circle Of Life",
        );
        assert_eq!(
            expected_response(&secret, "GET", &c),
            "6629fae49393a05397450978507c4ef1"
        );
    }

    #[test]
    fn nonce_count_rises_with_each_use_and_resets_on_a_new_nonce() {
        let mut auth = ClientAuth::new("u", "p");
        let first = parse_challenge(&challenge("r", "a", "o", Algorithm::Md5, false)).unwrap();
        auth.take_challenge(AuthHeader::Proxy, first);
        let nc = |auth: &mut ClientAuth| {
            let (name, v) = auth.authorize("INVITE", "sip:x", &mut rng()).unwrap();
            assert_eq!(name, "Proxy-Authorization");
            parse_authorization(&v).unwrap().nc.unwrap().value
        };
        assert_eq!(nc(&mut auth), 1);
        assert_eq!(nc(&mut auth), 2);
        let second = parse_challenge(&challenge("r", "b", "o", Algorithm::Md5, false)).unwrap();
        assert!(auth.take_challenge(AuthHeader::Proxy, second));
        assert_eq!(nc(&mut auth), 1);
    }

    #[test]
    fn same_nonce_refused_twice_is_a_wrong_password_unless_stale() {
        let mut auth = ClientAuth::new("u", "p");
        let c = parse_challenge(&challenge("r", "a", "o", Algorithm::Md5, false)).unwrap();
        assert!(auth.take_challenge(AuthHeader::Www, c.clone()));
        assert!(!auth.take_challenge(AuthHeader::Www, c.clone()));
        let stale = parse_challenge(&challenge("r", "a", "o", Algorithm::Md5, true)).unwrap();
        assert!(stale.stale);
        assert!(auth.take_challenge(AuthHeader::Www, stale));
    }

    #[test]
    fn sha256_is_preferred_and_unknown_schemes_are_skipped() {
        let md5 = challenge("r", "m", "o", Algorithm::Md5, false);
        let sha = challenge("r", "s", "o", Algorithm::Sha256, false);
        let picked = pick_challenge(["Basic realm=\"x\"", md5.as_str(), sha.as_str()]).unwrap();
        assert_eq!(picked.algorithm, Algorithm::Sha256);
        assert_eq!(picked.nonce, "s");
        assert_eq!(
            pick_challenge(["Basic realm=\"x\""]),
            Err(DigestError::NotDigest)
        );
    }

    #[test]
    fn challenge_without_qop_is_answered_in_the_rfc_2069_form() {
        let c = parse_challenge("Digest realm=\"r\", nonce=\"n\"").unwrap();
        assert!(!c.qop_auth);
        let mut auth = ClientAuth::new("u", "p");
        auth.take_challenge(AuthHeader::Www, c);
        let (_, v) = auth.authorize("REGISTER", "sip:r", &mut rng()).unwrap();
        let creds = parse_authorization(&v).unwrap();
        assert!(creds.qop.is_none());
        assert!(verify(
            &ha1(Algorithm::Md5, "u", "r", "p"),
            "REGISTER",
            &creds
        ));
    }

    #[test]
    fn bad_challenges_are_errors_not_panics() {
        assert!(parse_challenge("Digest nonce=\"n\"").is_err());
        assert!(parse_challenge("Digest realm=\"r\", nonce=\"n\", qop=\"auth-int\"").is_err());
        assert!(parse_challenge("Digest realm=\"r\", nonce=\"n\", algorithm=MD5-sess").is_err());
        assert!(parse_challenge("Digest realm=\"unterminated").is_err());
        assert!(parse_challenge("Digest realm=\"ы\", nonce=\"я\"").is_ok());
    }
}
