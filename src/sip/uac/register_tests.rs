//! The registration machine against a scripted registrar, in simulated time: every timer
//! path (retransmission, Timer F, refresh, back-off, Retry-After) and every answer
//! (200 with granted expires, 401/407 with digest, stale nonces, 423, refusals).

use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::SeedableRng;

use super::register::{backoff, refresh_after};
use super::*;
use crate::model::Now;
use crate::sip::digest::{challenge, ha1, parse_authorization, verify, Algorithm};
use crate::sip::Transport;

const T1: Duration = Duration::from_millis(500);

fn settings(transport: Transport) -> RegistrationSettings {
    RegistrationSettings {
        registrar_uri: "sip:sip.provider.example:5060".into(),
        aor: "sip:78112792112@sip.provider.example".into(),
        contact: "sip:78112792112@192.0.2.10:5060".into(),
        via_sent_by: "192.0.2.10:5060".into(),
        transport,
        auth_username: "78112792112".into(),
        password: "secret".into(),
        expires: 600,
        user_agent: "hotline".into(),
        t1: T1,
        t2: Duration::from_secs(4),
        retry_min: RETRY_MIN,
        retry_max: RETRY_MAX,
    }
}

struct Rig {
    reg: Registration,
    now: Now,
    rng: SmallRng,
}

impl Rig {
    fn new(transport: Transport) -> Rig {
        let now = Now {
            mono: Instant::now(),
            wall: "2026-12-01T09:00:00Z".parse().unwrap(),
        };
        let mut rng = SmallRng::seed_from_u64(1);
        let mut reg = Registration::new(settings(transport), now, &mut rng);
        reg.start(now, &mut rng);
        Rig { reg, now, rng }
    }

    fn sent(&mut self) -> Vec<String> {
        std::iter::from_fn(|| self.reg.poll_transmit())
            .map(|b| String::from_utf8(b).unwrap())
            .collect()
    }

    fn one_sent(&mut self) -> String {
        let mut sent = self.sent();
        assert_eq!(sent.len(), 1, "{sent:?}");
        sent.pop().unwrap()
    }

    fn answer(&mut self, request: &str, status: &str, extra: &str) -> bool {
        let response = respond(request, status, extra);
        self.reg
            .handle_response(response.as_bytes(), self.now, &mut self.rng)
    }

    /// Moves time to the next deadline and fires it; returns how far time moved.
    fn fire_next(&mut self) -> Duration {
        let at = self.reg.poll_timeout().expect("a deadline is set");
        let step = at.saturating_duration_since(self.now.mono);
        self.now = self.now.advanced(step);
        self.reg.handle_timeout(self.now, &mut self.rng);
        step
    }

    fn phase(&self) -> RegistrationPhase {
        self.reg.status().phase
    }
}

fn header<'a>(request: &'a str, name: &str) -> Option<&'a str> {
    request.split("\r\n").find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.eq_ignore_ascii_case(name).then_some(v.trim())
    })
}

/// A response echoing the request's Via, From, To, Call-ID and CSeq, as a registrar does.
fn respond(request: &str, status: &str, extra: &str) -> String {
    let mut out = format!("SIP/2.0 {status}\r\n");
    for name in ["Via", "From", "Call-ID", "CSeq"] {
        out.push_str(&format!("{name}: {}\r\n", header(request, name).unwrap()));
    }
    out.push_str(&format!(
        "To: {};tag=reg1\r\n",
        header(request, "To").unwrap()
    ));
    out.push_str(extra);
    out.push_str("Content-Length: 0\r\n\r\n");
    out
}

fn www(nonce: &str, alg: Algorithm, stale: bool) -> String {
    format!(
        "WWW-Authenticate: {}\r\n",
        challenge("provider", nonce, "op", alg, stale)
    )
}

fn expires_of(request: &str) -> u32 {
    header(request, "Expires").unwrap().parse().unwrap()
}

fn cseq_of(request: &str) -> u32 {
    header(request, "CSeq")
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn challenge_answered_then_granted_expires_drives_the_refresh() {
    for alg in [Algorithm::Md5, Algorithm::Sha256] {
        let mut rig = Rig::new(Transport::Udp);
        let first = rig.one_sent();
        assert!(first.starts_with("REGISTER sip:sip.provider.example:5060 SIP/2.0\r\n"));
        assert_eq!(header(&first, "Max-Forwards"), Some("70"));
        assert!(header(&first, "Authorization").is_none());
        assert!(rig.answer(&first, "401 Unauthorized", &www("n1", alg, false)));
        let second = rig.one_sent();
        assert_eq!(cseq_of(&second), cseq_of(&first) + 1);
        let creds = parse_authorization(header(&second, "Authorization").unwrap()).unwrap();
        assert_eq!(creds.algorithm, alg);
        assert_eq!(creds.uri, "sip:sip.provider.example:5060");
        assert!(verify(
            &ha1(alg, "78112792112", "provider", "secret"),
            "REGISTER",
            &creds
        ));

        // The registrar grants 120 s to our Contact (less than the 600 asked for).
        let contact = "Contact: <sip:78112792112@192.0.2.10:5060>;expires=120\r\nExpires: 600\r\n";
        assert!(rig.answer(&second, "200 OK", contact));
        assert_eq!(rig.phase(), RegistrationPhase::Registered);
        assert_eq!(rig.reg.status().granted_expires, Some(120));
        assert_eq!(rig.fire_next(), refresh_after(120));
        assert_eq!(refresh_after(120), Duration::from_secs(88));

        // The refresh goes out authorised at once, with the next nonce count.
        let refresh = rig.one_sent();
        let creds = parse_authorization(header(&refresh, "Authorization").unwrap()).unwrap();
        assert_eq!(creds.nc.unwrap().value, 2);
        assert_eq!(header(&refresh, "Call-ID"), header(&first, "Call-ID"));
        assert_eq!(
            rig.phase(),
            RegistrationPhase::Registered,
            "a refresh keeps the phase"
        );
    }
}

#[test]
fn expires_header_is_used_when_the_contact_has_none() {
    let mut rig = Rig::new(Transport::Udp);
    let first = rig.one_sent();
    rig.answer(
        &first,
        "200 OK",
        "Contact: <sip:other@x>;expires=30\r\nExpires: 300\r\n",
    );
    assert_eq!(rig.reg.status().granted_expires, Some(300));
    assert_eq!(rig.fire_next(), Duration::from_secs(300 - 32));
}

#[test]
fn proxy_challenge_is_answered_with_proxy_authorization() {
    let mut rig = Rig::new(Transport::Udp);
    let first = rig.one_sent();
    let extra = format!(
        "Proxy-Authenticate: {}\r\n",
        challenge("proxy", "p1", "o", Algorithm::Md5, false)
    );
    rig.answer(&first, "407 Proxy Authentication Required", &extra);
    let second = rig.one_sent();
    let creds = parse_authorization(header(&second, "Proxy-Authorization").unwrap()).unwrap();
    assert_eq!(creds.realm, "proxy");
    assert!(header(&second, "Authorization").is_none());
}

#[test]
fn udp_retransmits_doubling_to_t2_then_times_out_and_backs_off() {
    let mut rig = Rig::new(Transport::Udp);
    let first = rig.one_sent();
    let mut gaps = Vec::new();
    while rig.phase() == RegistrationPhase::Registering {
        gaps.push(rig.fire_next());
        for resent in rig.sent() {
            assert_eq!(resent, first, "retransmissions are byte-identical");
        }
    }
    let secs: Vec<f64> = gaps.iter().map(Duration::as_secs_f64).collect();
    assert_eq!(&secs[..5], &[0.5, 1.0, 2.0, 4.0, 4.0]);
    assert_eq!(gaps.iter().sum::<Duration>(), T1 * 64, "Timer F at 64·T1");
    assert_eq!(rig.phase(), RegistrationPhase::Failing);
    assert!(rig
        .reg
        .status()
        .last_error
        .as_deref()
        .unwrap()
        .contains("timeout"));

    // The retry comes after a jittered back-off in [RETRY_MIN/2, RETRY_MIN).
    let wait = rig.fire_next();
    assert!(wait >= RETRY_MIN / 2 && wait < RETRY_MIN, "{wait:?}");
    let retry = rig.one_sent();
    assert_eq!(cseq_of(&retry), cseq_of(&first) + 1);
}

#[test]
fn tcp_sends_once_and_waits_for_timer_f() {
    let mut rig = Rig::new(Transport::Tcp);
    let first = rig.one_sent();
    assert!(first.contains("SIP/2.0/TCP 192.0.2.10:5060"));
    assert_eq!(rig.fire_next(), T1 * 64);
    assert!(rig.sent().is_empty());
    assert_eq!(rig.phase(), RegistrationPhase::Failing);
}

#[test]
fn back_off_doubles_to_the_cap_with_jitter() {
    let s = settings(Transport::Udp);
    let mut rng = SmallRng::seed_from_u64(3);
    for (failures, full) in [(1, 5), (2, 10), (3, 20), (7, 300), (40, 300)] {
        let full = Duration::from_secs(full);
        for _ in 0..50 {
            let d = backoff(&s, failures, &mut rng);
            assert!(d >= full / 2 && d <= full, "{failures}: {d:?}");
        }
    }
}

#[test]
fn server_errors_back_off_and_honour_retry_after() {
    let mut rig = Rig::new(Transport::Udp);
    let first = rig.one_sent();
    rig.answer(&first, "503 Service Unavailable", "Retry-After: 120\r\n");
    assert_eq!(rig.phase(), RegistrationPhase::Failing);
    assert_eq!(
        rig.reg.status().last_error.as_deref(),
        Some("503 Service Unavailable")
    );
    assert_eq!(rig.fire_next(), Duration::from_secs(120));
    let second = rig.one_sent();
    rig.answer(&second, "500 Server Error", "");
    assert_eq!(rig.reg.status().failures, 2);
    let wait = rig.fire_next();
    assert!(
        wait >= RETRY_MIN && wait < RETRY_MIN * 2,
        "second failure doubles: {wait:?}"
    );
    let third = rig.one_sent();
    rig.answer(&third, "200 OK", "");
    assert_eq!(rig.phase(), RegistrationPhase::Registered);
    assert_eq!(rig.reg.status().failures, 0);
    assert_eq!(
        rig.reg.status().granted_expires,
        Some(600),
        "nothing granted: as asked"
    );
}

#[test]
fn interval_too_brief_raises_expires_to_min_expires() {
    let mut rig = Rig::new(Transport::Udp);
    let first = rig.one_sent();
    assert_eq!(expires_of(&first), 600);
    rig.answer(&first, "423 Interval Too Brief", "Min-Expires: 900\r\n");
    let second = rig.one_sent();
    assert_eq!(expires_of(&second), 900);
    assert!(second.contains(";expires=900\r\n"));
    assert_eq!(rig.phase(), RegistrationPhase::Registering, "not a failure");
    // A second 423 that does not raise the bar is a failure, not a loop.
    rig.answer(&second, "423 Interval Too Brief", "Min-Expires: 900\r\n");
    assert_eq!(rig.phase(), RegistrationPhase::Failing);
}

#[test]
fn the_same_nonce_refused_again_is_a_wrong_password() {
    let mut rig = Rig::new(Transport::Udp);
    let first = rig.one_sent();
    rig.answer(
        &first,
        "401 Unauthorized",
        &www("n1", Algorithm::Md5, false),
    );
    let second = rig.one_sent();
    rig.answer(
        &second,
        "401 Unauthorized",
        &www("n1", Algorithm::Md5, false),
    );
    assert!(rig.sent().is_empty(), "not answered again");
    assert_eq!(rig.phase(), RegistrationPhase::Failing);
    assert_eq!(
        rig.reg.status().last_error.as_deref(),
        Some("401 Unauthorized: credentials refused")
    );
}

#[test]
fn a_stale_nonce_is_answered_again_without_failing() {
    let mut rig = Rig::new(Transport::Udp);
    let first = rig.one_sent();
    rig.answer(
        &first,
        "401 Unauthorized",
        &www("n1", Algorithm::Md5, false),
    );
    let second = rig.one_sent();
    rig.answer(&second, "200 OK", "");
    rig.fire_next();
    let refresh = rig.one_sent();
    rig.answer(
        &refresh,
        "401 Unauthorized",
        &www("n2", Algorithm::Md5, true),
    );
    let again = rig.one_sent();
    let creds = parse_authorization(header(&again, "Authorization").unwrap()).unwrap();
    assert_eq!(creds.nonce, "n2");
    assert_eq!(rig.phase(), RegistrationPhase::Registered);
}

#[test]
fn stray_and_late_responses_change_nothing() {
    let mut rig = Rig::new(Transport::Udp);
    let first = rig.one_sent();
    let foreign = first.replace(header(&first, "Call-ID").unwrap(), "someone-else");
    assert!(!rig.answer(&foreign, "200 OK", ""));
    assert!(!rig.reg.handle_response(b"garbage", rig.now, &mut rig.rng));
    assert!(rig.answer(&first, "100 Trying", ""));
    assert_eq!(
        rig.fire_next(),
        Duration::from_secs(4),
        "a provisional slows resends to T2"
    );
    assert!(rig.answer(&first, "200 OK", ""));
    assert!(
        !rig.answer(&first, "200 OK", ""),
        "a retransmitted 200 is not ours any more"
    );
    assert_eq!(rig.phase(), RegistrationPhase::Registered);
}

#[test]
fn stop_unregisters_with_expires_zero() {
    let mut rig = Rig::new(Transport::Udp);
    let first = rig.one_sent();
    rig.answer(
        &first,
        "401 Unauthorized",
        &www("n1", Algorithm::Md5, false),
    );
    let second = rig.one_sent();
    rig.answer(&second, "200 OK", "");
    let (now, mut rng) = (rig.now, SmallRng::seed_from_u64(9));
    rig.reg.stop(now, &mut rng);
    assert_eq!(rig.phase(), RegistrationPhase::Unregistering);
    let bye = rig.one_sent();
    assert_eq!(expires_of(&bye), 0);
    assert!(bye.contains(";expires=0\r\n"));
    assert!(
        header(&bye, "Authorization").is_some(),
        "authorised with the cached nonce"
    );
    rig.answer(&bye, "200 OK", "");
    assert!(rig.reg.is_finished());
    assert_eq!(rig.reg.poll_timeout(), None, "no refresh after stopping");
}

#[test]
fn stop_gives_up_at_timer_f_and_before_any_binding_sends_nothing() {
    let mut rig = Rig::new(Transport::Tcp);
    let first = rig.one_sent();
    rig.answer(&first, "200 OK", "");
    let now = rig.now;
    rig.reg.stop(now, &mut SmallRng::seed_from_u64(2));
    rig.one_sent();
    rig.fire_next();
    assert!(rig.reg.is_finished());

    let mut idle = Rig::new(Transport::Udp);
    idle.one_sent();
    idle.reg.handle_transport_error(
        "connection refused",
        idle.now,
        &mut SmallRng::seed_from_u64(4),
    );
    assert_eq!(idle.phase(), RegistrationPhase::Failing);
    let now = idle.now;
    idle.reg.stop(now, &mut SmallRng::seed_from_u64(5));
    assert!(idle.sent().is_empty());
    assert!(idle.reg.is_finished());
}

#[test]
fn restart_registers_at_once_with_a_fresh_challenge() {
    let mut rig = Rig::new(Transport::Udp);
    let first = rig.one_sent();
    rig.answer(
        &first,
        "401 Unauthorized",
        &www("n1", Algorithm::Md5, false),
    );
    let second = rig.one_sent();
    rig.answer(&second, "200 OK", "");
    let now = rig.now;
    rig.reg.restart(now, &mut SmallRng::seed_from_u64(6));
    let again = rig.one_sent();
    assert!(header(&again, "Authorization").is_none());
}

#[test]
fn phase_since_moves_only_on_a_change() {
    let mut rig = Rig::new(Transport::Udp);
    let start = rig.reg.status().since;
    let first = rig.one_sent();
    rig.now = rig.now.advanced(Duration::from_secs(1));
    rig.answer(&first, "403 Forbidden", "");
    let failing_since = rig.reg.status().since;
    assert_ne!(failing_since, start);
    rig.fire_next();
    let retry = rig.one_sent();
    rig.answer(&retry, "403 Forbidden", "");
    assert_eq!(rig.reg.status().since, failing_since);
    assert_eq!(rig.reg.status().failures, 2);
}

mod arbitrary_input {
    //! Whatever a provider sends, nothing panics and nothing it sends out of turn changes
    //! the registration.
    use super::*;
    use crate::sip::digest::parse_challenge;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = ResponseHead::parse(&bytes);
            let _ = parse_challenge(&String::from_utf8_lossy(&bytes));
            let mut rig = Rig::new(Transport::Udp);
            rig.one_sent();
            let before = rig.reg.status().clone();
            if !rig.reg.handle_response(&bytes, rig.now, &mut rig.rng) {
                prop_assert_eq!(rig.reg.status(), &before);
            }
        }

        #[test]
        fn mangled_answers_to_our_register_never_panic(
            status in 100u16..700,
            extra in "[ -~]{0,120}",
        ) {
            let mut rig = Rig::new(Transport::Udp);
            let first = rig.one_sent();
            let text = respond(&first, &format!("{status} Whatever"), &format!("{extra}\r\n"));
            rig.reg.handle_response(text.as_bytes(), rig.now, &mut rig.rng);
            // Whatever happened, there is a next step: a deadline or a binding.
            prop_assert!(rig.reg.poll_timeout().is_some());
        }
    }
}

#[test]
fn a_lost_connection_registers_again_at_once_unless_unregistering() {
    let mut rig = Rig::new(Transport::Tls);
    let first = rig.one_sent();
    rig.answer(&first, "200 OK", "Contact: <sip:x>;expires=600\r\n");
    assert_eq!(rig.phase(), RegistrationPhase::Registered);
    let now = rig.now;
    rig.reg.handle_connection_lost(
        "TLS connection closed",
        now,
        &mut SmallRng::seed_from_u64(7),
    );
    let again = rig.one_sent();
    assert!(again.starts_with("REGISTER "), "{again}");
    assert_eq!(cseq_of(&again), cseq_of(&first) + 1);
    assert_eq!(expires_of(&again), 600);
    assert_eq!(
        rig.phase(),
        RegistrationPhase::Registered,
        "the binding still stands"
    );

    // Lost again while that REGISTER is under way: the attempt fails and backs off.
    let now = rig.now;
    rig.reg.handle_connection_lost(
        "TLS connection closed",
        now,
        &mut SmallRng::seed_from_u64(8),
    );
    assert_eq!(rig.phase(), RegistrationPhase::Failing);
    assert!(rig.sent().is_empty());
    let wait = rig.fire_next();
    assert!(wait >= RETRY_MIN / 2, "backed off {wait:?}");
    let retry = rig.one_sent();
    rig.answer(&retry, "200 OK", "Contact: <sip:x>;expires=600\r\n");
    assert_eq!(rig.phase(), RegistrationPhase::Registered);

    // Un-registering: a closed connection is expected, nothing is sent.
    let now = rig.now;
    rig.reg.stop(now, &mut SmallRng::seed_from_u64(9));
    let unregister = rig.one_sent();
    rig.answer(&unregister, "200 OK", "");
    let now = rig.now;
    rig.reg.handle_connection_lost(
        "TLS connection closed",
        now,
        &mut SmallRng::seed_from_u64(10),
    );
    assert!(rig.sent().is_empty());
}
