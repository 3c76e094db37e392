//! Authentication through the registrar, in simulated time: full exchanges with MD5 and
//! SHA-256, what real clients put in `uri` and `nc`, stale and replayed nonces, stored
//! HA1s, failures, the tarpit and the lockout. Assertions are on the SIP responses.

use std::time::{Duration, Instant};

use super::test_support::*;
use super::{BindingEvent, RegistrarStats};
use crate::sip::digest::Algorithm;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

#[test]
fn md5_exchange_challenges_then_registers() {
    let t0 = Instant::now();
    let mut reg = registrar(t0);
    let mut phone = Phone::new("101", "pw-101", "10.0.0.5:5062");

    let first = phone.send(&mut reg, t0);
    let text = wire(&first.response);
    assert!(text.starts_with("SIP/2.0 401 Unauthorized\r\n"), "{text}");
    assert!(text.contains("\r\nVia: SIP/2.0/UDP 10.0.0.5:5062;branch=z9hG4bK-1-"));
    assert!(text.contains("\r\nCSeq: 1 REGISTER\r\n"));
    let to = &header_values(&first.response, "To")[0];
    assert!(to.starts_with("<sip:101@callcentre.test>;tag="), "{to}");
    let challenges = header_values(&first.response, "WWW-Authenticate");
    assert_eq!(challenges.len(), 2);
    // MD5 first: clients that read only the first challenge must still get in.
    assert_eq!(
        challenge_param(&challenges[0], "algorithm").as_deref(),
        Some("MD5")
    );
    assert_eq!(
        challenge_param(&challenges[1], "algorithm").as_deref(),
        Some("SHA-256")
    );
    for c in &challenges {
        assert!(c.starts_with("Digest realm=\"hotline\", nonce=\""), "{c}");
        assert!(c.contains("qop=\"auth\""));
        assert!(!c.contains("stale"));
    }
    assert_eq!((first.delay, first.events.clone()), (None, vec![]));

    assert!(phone.learn(&first.response));
    assert_eq!(phone.algorithm, Algorithm::Md5);
    let second = phone.send(&mut reg, t0);
    assert_eq!(status(&second), 200, "{}", wire(&second.response));
    assert_eq!(
        header_values(&second.response, "Contact"),
        ["<sip:101@10.0.0.5:5062;transport=udp>;expires=600"]
    );
    assert_eq!(
        second.events,
        [BindingEvent::Online {
            operator: "101".into()
        }]
    );
    let binding = reg.binding("101").expect("bound");
    assert_eq!(binding.peer, phone.source);
    assert_eq!(binding.expires_at, t0 + secs(600));
    assert_eq!(
        (binding.call_id.as_str(), binding.cseq),
        ("reg-101-5062@phone", 2)
    );
}

#[test]
fn sha256_exchange_registers() {
    let t0 = Instant::now();
    let mut reg = registrar(t0);
    let mut phone = Phone::new("101", "pw-101", "10.0.0.5:5062");
    phone.algorithm = Algorithm::Sha256;
    let out = phone.login(&mut reg, t0);
    assert_eq!(status(&out), 200);
    assert_eq!(phone.algorithm, Algorithm::Sha256);
    assert!(reg.binding("101").is_some());
}

#[test]
fn sipp_style_digest_uri_is_accepted() {
    let t0 = Instant::now();
    let mut reg = registrar(t0);
    let mut phone = Phone::new("101", "pw-101", "127.0.0.1:5061");
    phone.digest_uri = "sip:127.0.0.1:5060".into();
    assert_eq!(phone.request_uri, "sip:callcentre.test");
    assert_eq!(status(&phone.login(&mut reg, t0)), 200);
}

#[test]
fn rfc2069_client_without_qop_is_accepted() {
    let t0 = Instant::now();
    let mut reg = registrar(t0);
    let mut phone = Phone::new("101", "pw-101", "10.0.0.5:5062");
    phone.qop = false;
    assert_eq!(status(&phone.login(&mut reg, t0)), 200);
}

#[test]
fn nonce_count_is_hex_and_must_grow() {
    let t0 = Instant::now();
    let mut reg = registrar(t0);
    let mut phone = Phone::new("101", "pw-101", "10.0.0.5:5062");
    assert_eq!(status(&phone.prime(&mut reg, t0)), 401);
    phone.nc = 9; // next is 0000000a
    assert_eq!(status(&phone.send(&mut reg, t0)), 200);
    // 00000009 < 0x0a: refused as a replay, which only a hex reading of "0000000a" gives.
    phone.nc = 8;
    let replay = phone.send(&mut reg, t0);
    assert_eq!(status(&replay), 401);
    let challenge = &header_values(&replay.response, "WWW-Authenticate")[0];
    assert!(challenge.ends_with(", stale=true"), "{challenge}");
    // 00000010 is sixteen: accepted.
    phone.nc = 15;
    assert_eq!(status(&phone.send(&mut reg, t0)), 200);
    assert_eq!(reg.stats().failures, 0);
}

#[test]
fn replayed_request_is_refused_with_stale() {
    let t0 = Instant::now();
    let mut reg = registrar(t0);
    let mut phone = Phone::new("101", "pw-101", "10.0.0.5:5062");
    let ok = phone.login(&mut reg, t0);
    assert_eq!(status(&ok), 200);
    // An eavesdropper resends the very same authorized REGISTER (same nonce and nc)
    // from another address and with a new CSeq.
    phone.nc -= 1;
    phone.cseq += 5;
    phone.source = udp("203.0.113.9:5060");
    let replay = phone.send(&mut reg, t0 + secs(1));
    assert_eq!(status(&replay), 401);
    assert!(header_values(&replay.response, "WWW-Authenticate")
        .iter()
        .all(|c| c.ends_with("stale=true")));
    assert_eq!(reg.binding("101").unwrap().peer, udp("10.0.0.5:5062"));
    assert_eq!(replay.events, []);
}

#[test]
fn stale_nonce_gets_stale_true_and_is_not_a_failure() {
    let t0 = Instant::now();
    let mut reg = registrar(t0);
    let mut phone = Phone::new("101", "pw-101", "10.0.0.5:5062");
    assert_eq!(status(&phone.login(&mut reg, t0)), 200);
    // The refresh after 5 min 1 s reuses the old nonce.
    let later = t0 + secs(301);
    let stale = phone.send(&mut reg, later);
    assert_eq!(status(&stale), 401);
    let challenges = header_values(&stale.response, "WWW-Authenticate");
    assert_eq!(challenges.len(), 2);
    assert!(challenges.iter().all(|c| c.ends_with(", stale=true")));
    assert_eq!(reg.stats().stale, 1);
    assert_eq!(reg.stats().failures, 0);
    phone.learn(&stale.response);
    assert_eq!(status(&phone.send(&mut reg, later)), 200);
}

#[test]
fn nonce_from_before_a_restart_is_stale_not_a_failure() {
    let t0 = Instant::now();
    let mut before = registrar(t0);
    let mut phone = Phone::new("101", "pw-101", "10.0.0.5:5062");
    assert_eq!(status(&phone.login(&mut before, t0)), 200);
    let mut after = super::Registrar::new(
        super::RegistrarPolicy::with_realm(REALM),
        accounts(),
        43,
        t0 + secs(10),
    );
    let out = phone.send(&mut after, t0 + secs(11));
    assert_eq!(status(&out), 401);
    assert!(header_values(&out.response, "WWW-Authenticate")[0].ends_with("stale=true"));
    assert_eq!(after.stats().failures, 0);
}

#[test]
fn wrong_password_is_tarpitted_then_the_account_locked() {
    let t0 = Instant::now();
    let mut reg = registrar(t0);
    let mut attacker = Phone::new("101", "guess", "198.51.100.7:5060");
    attacker.prime(&mut reg, t0);
    let mut delays = Vec::new();
    for i in 0..10 {
        let out = attacker.prime(&mut reg, t0 + secs(i));
        assert_eq!(status(&out), 401, "attempt {i}");
        assert_eq!(header_values(&out.response, "WWW-Authenticate").len(), 2);
        delays.push(out.delay.map(|d| d.as_secs()));
    }
    assert_eq!(
        delays,
        [
            None,
            None,
            None,
            Some(1),
            Some(2),
            Some(3),
            Some(4),
            Some(5),
            Some(5),
            Some(5)
        ]
    );

    // Locked: even the right password for 101 from another address gets 403, at once.
    let mut victim = Phone::new("101", "pw-101", "203.0.113.5:5070");
    victim.nonce = attacker.nonce.clone();
    let out = victim.send(&mut reg, t0 + secs(20));
    assert!(wire(&out.response).starts_with("SIP/2.0 403 Forbidden\r\n"));
    assert!(header_values(&out.response, "To")[0].contains(";tag="));
    assert_eq!((out.delay, reg.binding("101")), (None, None));
    // Another operator from the attacker's address is not affected (it may be a NAT).
    let mut other = Phone::new("102", "pw-102", "198.51.100.7:5062");
    other.algorithm = Algorithm::Md5;
    assert_eq!(status(&other.login(&mut reg, t0 + secs(21))), 200);

    assert_eq!(
        reg.stats(),
        RegistrarStats {
            bindings: 1,
            registrations: 1,
            failures: 10,
            stale: 0,
            locked_out: 1,
            locked_accounts: 1,
            blocked_sources: 0,
            tarpitted: 7,
        }
    );
    // After the lockout (10 min from the 10th failure) the account is open again.
    let free = t0 + secs(9) + Duration::from_secs(600);
    assert_eq!(
        status(&victim.send(&mut reg, free - Duration::from_millis(1))),
        403
    );
    let out = victim.login(&mut reg, free);
    assert_eq!((status(&out), out.delay), (200, None));
    assert_eq!(reg.stats().locked_accounts, 0);
}

#[test]
fn the_owner_registers_from_its_usual_address_while_its_account_is_attacked() {
    let t0 = Instant::now();
    let mut reg = registrar(t0);
    let mut owner = Phone::new("101", "pw-101", "10.0.0.5:5062");
    assert_eq!(status(&owner.login(&mut reg, t0)), 200);
    // 15 addresses guess 9 times each.
    let mut answers = std::collections::BTreeMap::new();
    for a in 0..15 {
        let mut attacker = Phone::new("101", "guess", &format!("198.51.100.{}:5060", a + 1));
        attacker.prime(&mut reg, t0 + secs(1));
        for _ in 0..9 {
            let out = attacker.prime(&mut reg, t0 + secs(2));
            *answers.entry(status(&out)).or_insert(0) += 1;
        }
    }
    assert_eq!(answers, [(401, 10), (403, 125)].into_iter().collect());
    // The owner's refresh, after its nonce went stale, still goes through.
    let later = t0 + secs(400);
    let out = owner.login(&mut reg, later);
    assert_eq!((status(&out), out.delay), (200, None));
    assert_eq!(reg.stats().locked_accounts, 1);
}

#[test]
fn a_source_guessing_many_names_is_blocked() {
    let t0 = Instant::now();
    let mut reg = registrar(t0);
    for (i, name) in ["100", "admin", "101", "102", "sip"].iter().enumerate() {
        let mut p = Phone::new(name, "guess", "198.51.100.7:5060");
        p.prime(&mut reg, t0);
        assert_eq!(status(&p.send(&mut reg, t0 + secs(i as u64))), 401);
    }
    let mut p = Phone::new("103", "whatever", "198.51.100.7:5060");
    p.prime(&mut reg, t0);
    assert_eq!(status(&p.send(&mut reg, t0 + secs(6))), 403);
    assert_eq!(reg.stats().blocked_sources, 1);
}

#[test]
fn success_resets_the_failure_count() {
    let t0 = Instant::now();
    let mut reg = registrar(t0);
    let mut phone = Phone::new("101", "typo", "10.0.0.5:5062");
    phone.prime(&mut reg, t0);
    for _ in 0..5 {
        phone.prime(&mut reg, t0);
    }
    phone.password = "pw-101".into();
    let ok = phone.send(&mut reg, t0);
    assert_eq!((status(&ok), ok.delay), (200, None));
    phone.password = "typo".into();
    let out = phone.send(&mut reg, t0);
    assert_eq!((status(&out), out.delay), (401, None));
}

#[test]
fn failure_window_forgets_old_failures() {
    let t0 = Instant::now();
    let mut reg = registrar(t0);
    let mut phone = Phone::new("101", "typo", "10.0.0.5:5062");
    for _ in 0..5 {
        phone.prime(&mut reg, t0);
    }
    let later = t0 + secs(601);
    let out = phone.send(&mut reg, later);
    assert_eq!(
        (status(&out), out.delay),
        (401, None),
        "first failure of a new window"
    );
}

#[test]
fn unknown_user_looks_like_a_wrong_password() {
    let t0 = Instant::now();
    let mut reg = registrar(t0);
    let mut known = Phone::new("101", "wrong", "10.0.0.5:5062");
    let mut unknown = Phone::new("999", "wrong", "10.0.0.6:5062");
    for phone in [&mut known, &mut unknown] {
        phone.prime(&mut reg, t0);
        let out = phone.send(&mut reg, t0);
        assert_eq!(status(&out), 401);
        let algs: Vec<_> = header_values(&out.response, "WWW-Authenticate")
            .iter()
            .map(|c| challenge_param(c, "algorithm").unwrap())
            .collect();
        assert_eq!(algs, ["MD5", "SHA-256"]);
    }
    assert_eq!(reg.stats().failures, 2);
}

#[test]
fn stored_md5_ha1_rechallenges_a_sha256_client_with_md5() {
    let t0 = Instant::now();
    let mut reg = registrar(t0);
    let mut phone = Phone::new("102", "pw-102", "10.0.0.7:5062");
    phone.algorithm = Algorithm::Sha256;
    phone.prime(&mut reg, t0);
    let out = phone.send(&mut reg, t0);
    assert_eq!(status(&out), 401);
    let challenges = header_values(&out.response, "WWW-Authenticate");
    assert_eq!(challenges.len(), 1);
    assert_eq!(
        challenge_param(&challenges[0], "algorithm").as_deref(),
        Some("MD5")
    );
    phone.learn(&out.response);
    assert_eq!(status(&phone.send(&mut reg, t0)), 200);
    assert_eq!(reg.stats().failures, 0);
}

#[test]
fn stored_sha256_ha1_registers() {
    let t0 = Instant::now();
    let mut reg = registrar(t0);
    let mut phone = Phone::new("103", "pw-103", "10.0.0.8:5062");
    phone.algorithm = Algorithm::Sha256;
    assert_eq!(status(&phone.login(&mut reg, t0)), 200);
    let mut wrong = Phone::new("103", "pw-102", "10.0.0.9:5062");
    wrong.algorithm = Algorithm::Sha256;
    assert_eq!(status(&wrong.login(&mut reg, t0)), 401);
}

#[test]
fn other_realm_is_challenged_without_counting_a_failure() {
    let t0 = Instant::now();
    let mut reg = registrar(t0);
    let mut phone = Phone::new("101", "pw-101", "10.0.0.5:5062");
    phone.prime(&mut reg, t0);
    phone.realm = "elsewhere".into();
    let out = phone.send(&mut reg, t0);
    assert_eq!(status(&out), 401);
    assert_eq!(reg.stats().failures, 0);
}

#[test]
fn registering_someone_elses_aor_is_forbidden() {
    let t0 = Instant::now();
    let mut reg = registrar(t0);
    let mut phone = Phone::new("101", "pw-101", "10.0.0.5:5062");
    phone.to_user = "102".into();
    let out = phone.login(&mut reg, t0);
    assert_eq!(status(&out), 403);
    assert_eq!((reg.binding("101"), reg.binding("102")), (None, None));
}

#[test]
fn operator_invite_is_authenticated() {
    let t0 = Instant::now();
    let mut reg = registrar(t0);
    let mut phone = Phone::new("101", "pw-101", "10.0.0.5:5062");
    phone.request_uri = "sip:*50@callcentre.test".into();
    phone.digest_uri = phone.request_uri.clone();
    phone.to_user = "*50".into();
    phone.cseq = 1;
    let invite = phone.build("INVITE");
    let challenge = reg.authenticate(&invite, phone.source, t0).unwrap_err();
    assert!(wire(&challenge).starts_with("SIP/2.0 401 Unauthorized\r\n"));
    assert!(wire(&challenge).contains("\r\nCSeq: 1 INVITE\r\n"));
    assert!(phone.learn(&challenge));
    phone.cseq += 1;
    let invite = phone.build("INVITE");
    assert_eq!(
        reg.authenticate(&invite, phone.source, t0),
        Ok("101".to_string())
    );
    // The same credentials do not authenticate another method: it is hashed in.
    let mut replayed = invite.clone();
    replayed.method = crate::sip::message::Method::Bye;
    let refusal = reg.authenticate(&replayed, phone.source, t0).unwrap_err();
    assert_eq!(refusal.status_code.code(), 401);
}
