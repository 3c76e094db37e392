//! A scripted softphone for the registrar tests: builds REGISTERs as text (parsed by our
//! own framer, as in production), answers challenges with a client-side digest written
//! independently of `digest::expected_response`, and reads responses off the wire.

use std::time::Instant;

use md5::Md5;
use sha2::{Digest as _, Sha256};

use super::{Account, AccountSecret, RegisterOutcome, Registrar, RegistrarPolicy};
use crate::sip::digest::{self, Algorithm};
use crate::sip::message::{self, Datagram, Request, Response, SipMessage};
use crate::sip::{Peer, Transport};

pub(super) const REALM: &str = "hotline";

/// 101: password; 102: MD5 HA1; 103: SHA-256 HA1.
pub(super) fn accounts() -> Vec<Account> {
    vec![
        Account {
            id: "101".into(),
            name: "Operator 101".into(),
            secret: AccountSecret::Password("pw-101".into()),
        },
        Account {
            id: "102".into(),
            name: "Operator 102".into(),
            secret: AccountSecret::Ha1 {
                algorithm: Algorithm::Md5,
                hex: digest::ha1(Algorithm::Md5, "102", REALM, "pw-102"),
            },
        },
        Account {
            id: "103".into(),
            name: "Operator 103".into(),
            secret: AccountSecret::Ha1 {
                algorithm: Algorithm::Sha256,
                hex: digest::ha1(Algorithm::Sha256, "103", REALM, "pw-103"),
            },
        },
    ]
}

pub(super) fn registrar(t0: Instant) -> Registrar {
    // Both algorithms offered, so the tests cover SHA-256 exchanges too.
    let policy = RegistrarPolicy {
        algorithms: vec![Algorithm::Md5, Algorithm::Sha256],
        ..RegistrarPolicy::with_realm(REALM)
    };
    Registrar::new(policy, accounts(), 42, t0)
}

pub(super) fn udp(addr: &str) -> Peer {
    Peer {
        transport: Transport::Udp,
        addr: addr.parse().expect("test address"),
    }
}

/// The response as the peer receives it.
pub(super) fn wire(resp: &Response) -> String {
    String::from_utf8(message::to_bytes(resp)).expect("responses are text")
}

pub(super) fn status(outcome: &RegisterOutcome) -> u16 {
    outcome.response.status_code.code()
}

/// Every value of a header in the response, in order.
pub(super) fn header_values(resp: &Response, name: &str) -> Vec<String> {
    wire(resp)
        .split("\r\n")
        .filter_map(|line| line.split_once(": "))
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.to_string())
        .collect()
}

/// The value of `name="..."` or `name=token` in a challenge.
pub(super) fn challenge_param(challenge: &str, name: &str) -> Option<String> {
    let start = challenge.find(&format!("{name}="))? + name.len() + 1;
    let rest = &challenge[start..];
    Some(match rest.strip_prefix('"') {
        Some(quoted) => quoted[..quoted.find('"')?].to_string(),
        None => rest.split([',', ' ']).next()?.to_string(),
    })
}

fn hash(alg: Algorithm, text: &str) -> String {
    match alg {
        Algorithm::Md5 => hex::encode(Md5::digest(text.as_bytes())),
        Algorithm::Sha256 => hex::encode(Sha256::digest(text.as_bytes())),
    }
}

/// A softphone: what it puts in its REGISTERs, and what it learnt from challenges.
pub(super) struct Phone {
    pub user: String,
    pub password: String,
    pub source: Peer,
    pub request_uri: String,
    /// The digest `uri` parameter (SIPp puts the server address here).
    pub digest_uri: String,
    pub to_user: String,
    pub call_id: String,
    pub cseq: u32,
    /// Contact header value(s); `None` sends no Contact (a query).
    pub contact: Option<String>,
    pub expires: Option<String>,
    pub algorithm: Algorithm,
    pub realm: String,
    pub qop: bool,
    pub nonce: Option<String>,
    pub nc: u32,
}

impl Phone {
    pub(super) fn new(user: &str, password: &str, source: &str) -> Phone {
        let port = source.rsplit(':').next().unwrap_or("5060");
        Phone {
            user: user.into(),
            password: password.into(),
            source: udp(source),
            request_uri: "sip:callcentre.test".into(),
            digest_uri: "sip:callcentre.test".into(),
            to_user: user.into(),
            call_id: format!("reg-{user}-{port}@phone"),
            cseq: 0,
            contact: Some(format!("<sip:{user}@{source};transport=udp>")),
            expires: Some("600".into()),
            algorithm: Algorithm::Md5,
            realm: REALM.into(),
            qop: true,
            nonce: None,
            nc: 0,
        }
    }

    /// The next REGISTER (CSeq + 1), with credentials if a nonce is known.
    pub(super) fn request(&mut self) -> Request {
        self.cseq += 1;
        self.build("REGISTER")
    }

    /// A request of `method` as this phone would send it.
    pub(super) fn build(&mut self, method: &str) -> Request {
        let mut text = format!(
            "{method} {ruri} SIP/2.0\r\n\
             Via: SIP/2.0/UDP {src};branch=z9hG4bK-{cseq}-{cid};rport\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:{user}@callcentre.test>;tag=ph-{user}\r\n\
             To: <sip:{to}@callcentre.test>\r\n\
             Call-ID: {cid}\r\n\
             CSeq: {cseq} {method}\r\n",
            ruri = self.request_uri,
            src = self.source.addr,
            cseq = self.cseq,
            cid = self.call_id,
            user = self.user,
            to = self.to_user,
        );
        if let Some(contact) = &self.contact {
            text.push_str(&format!("Contact: {contact}\r\n"));
        }
        if let Some(expires) = &self.expires {
            text.push_str(&format!("Expires: {expires}\r\n"));
        }
        if let Some(auth) = self.authorization(method) {
            text.push_str(&format!("Authorization: {auth}\r\n"));
        }
        text.push_str("Content-Length: 0\r\n\r\n");
        match message::parse_datagram(text.as_bytes()) {
            Ok(Datagram::Message(SipMessage::Request(req))) => req,
            other => panic!("test request does not parse: {other:?}\n{text}"),
        }
    }

    fn authorization(&mut self, method: &str) -> Option<String> {
        let nonce = self.nonce.clone()?;
        let alg = self.algorithm;
        let ha1 = hash(
            alg,
            &format!("{}:{}:{}", self.user, self.realm, self.password),
        );
        let ha2 = hash(alg, &format!("{method}:{}", self.digest_uri));
        let mut value = format!(
            "Digest username=\"{}\", realm=\"{}\", nonce=\"{nonce}\", uri=\"{}\", algorithm={}",
            self.user,
            self.realm,
            self.digest_uri,
            alg.as_str()
        );
        let response = if self.qop {
            self.nc += 1;
            let nc = format!("{:08x}", self.nc);
            value.push_str(&format!(", qop=auth, nc={nc}, cnonce=\"c0ffee\""));
            hash(alg, &format!("{ha1}:{nonce}:{nc}:c0ffee:auth:{ha2}"))
        } else {
            hash(alg, &format!("{ha1}:{nonce}:{ha2}"))
        };
        value.push_str(&format!(", response=\"{response}\", opaque=\"x\""));
        Some(value)
    }

    /// Takes the nonce of the challenge for our algorithm (or the first challenge, whose
    /// algorithm we then use); false if there is none.
    pub(super) fn learn(&mut self, resp: &Response) -> bool {
        let challenges = header_values(resp, "WWW-Authenticate");
        let mine = challenges
            .iter()
            .find(|c| challenge_param(c, "algorithm").as_deref() == Some(self.algorithm.as_str()))
            .or_else(|| challenges.first());
        let Some(challenge) = mine else {
            return false;
        };
        if let Some(alg) =
            challenge_param(challenge, "algorithm").and_then(|a| Algorithm::from_token(&a))
        {
            self.algorithm = alg;
        }
        self.nonce = challenge_param(challenge, "nonce");
        self.nc = 0;
        self.nonce.is_some()
    }

    /// Sends one REGISTER.
    pub(super) fn send(&mut self, reg: &mut Registrar, now: Instant) -> RegisterOutcome {
        let req = self.request();
        reg.handle_register(&req, self.source, now)
    }

    /// Sends one REGISTER and learns from its challenge, if any.
    pub(super) fn prime(&mut self, reg: &mut Registrar, now: Instant) -> RegisterOutcome {
        let outcome = self.send(reg, now);
        self.learn(&outcome.response);
        outcome
    }

    /// Sends REGISTERs, answering challenges, until a final answer that is not a 401
    /// (at most three rounds); returns that answer.
    pub(super) fn login(&mut self, reg: &mut Registrar, now: Instant) -> RegisterOutcome {
        let mut outcome = self.send(reg, now);
        for _ in 0..3 {
            if status(&outcome) != 401 || !self.learn(&outcome.response) {
                break;
            }
            outcome = self.send(reg, now);
        }
        outcome
    }
}
