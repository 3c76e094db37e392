//! The limits in simulated time, as a peer sees them: `max_calls` (503 with Retry-After
//! and a `rejected` row), `max_waiting` (the overflow message), and the per-source rates
//! (503 with Retry-After and no row for INVITE and REGISTER, silence for OPTIONS).

use super::b2bua_support::*;
use crate::model::{EndReason, RegisterWrite};

fn header(resp: &Response, name: &str) -> Option<String> {
    resp.to_string().lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().to_string())
    })
}

fn opened_rows(out: &Out) -> usize {
    out.actions
        .iter()
        .filter(|a| matches!(a, Action::Register(RegisterWrite::Open(_))))
        .count()
}

fn options(n: u32) -> String {
    format!(
        "OPTIONS sip:127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP {TRUNK};branch=z9hG4bK-opt-{n};rport\r\n\
         From: <sip:ping@127.0.0.1>;tag=p{n}\r\nTo: <sip:127.0.0.1>\r\nCall-ID: opt-{n}\r\n\
         CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    )
}

#[test]
fn beyond_max_calls_an_invite_gets_503_with_retry_after_and_a_rejected_row() {
    let mut sb = line_with_extra(&[], "[limits]\nmax_calls = 2\nretry_after = \"7s\"");
    let now = t0();
    for id in ["m1", "m2"] {
        let out = send(&mut sb, &invite(id), trunk(), now);
        assert!(out.admitted().is_some(), "{id} admitted");
    }
    let out = send(&mut sb, &invite("m3"), trunk(), now);
    assert!(out.admitted().is_none());
    let resp = out
        .response_to(trunk(), 503)
        .expect("503 to the third caller");
    assert_eq!(header(&resp, "Retry-After").as_deref(), Some("7"));
    assert_eq!(opened_rows(&out), 1, "the refused call is registered");
    let row = out.final_update().expect("the row is closed");
    assert_eq!(row.outcome, Some(Outcome::Rejected));
    assert_eq!(row.final_status, Some(503));
    assert_eq!(row.end_reason, Some(EndReason::TooManyCalls));
    assert_eq!(sb.counters().limited.get("max_calls"), Some(&1));
}

#[test]
fn beyond_max_waiting_a_caller_hears_the_overflow_message() {
    let mut sb = line_with_extra(&["101"], "[limits]\nmax_waiting = 1");
    let now = t0();
    register(&mut sb, "101", now);
    let (_first, _, out) = queued_caller(&mut sb, "w1", now);
    assert_eq!(out.played().unwrap().0, vec![PromptKind::HoldMusic]);
    let (second, _, out) = queued_caller(&mut sb, "w2", now);
    let (prompts, tag) = out.played().expect("a message for the second caller");
    assert_eq!(prompts, vec![PromptKind::Overflow]);
    sb.handle_media_event(second, MediaEvent::PromptFinished { tag }, now);
    let out = drain(&mut sb);
    assert!(out.request_to(trunk(), "BYE").is_some(), "then hung up");
    let row = out.final_update().expect("the row is closed");
    assert_eq!(row.outcome, Some(Outcome::Overflow));
    assert_eq!(row.end_reason, Some(EndReason::QueueFull));
    assert_eq!(sb.counters().limited.get("max_waiting"), Some(&1));
}

#[test]
fn a_trunk_over_its_invite_rate_gets_503_without_a_row_until_a_token_is_back() {
    let mut sb = line_with_extra(
        &[],
        "[limits]\ntrunk_invite_rate = 1\ntrunk_invite_burst = 2",
    );
    let now = t0();
    for id in ["r1", "r2"] {
        assert!(send(&mut sb, &invite(id), trunk(), now)
            .admitted()
            .is_some());
    }
    let out = send(&mut sb, &invite("r3"), trunk(), now);
    let resp = out.response_to(trunk(), 503).expect("503 over the rate");
    assert_eq!(header(&resp, "Retry-After").as_deref(), Some("1"));
    assert_eq!(
        opened_rows(&out),
        0,
        "a flood writes nothing to the register"
    );
    assert_eq!(sb.transactions(), 2, "and leaves no transaction behind");
    // The same INVITE again a second later is a call.
    let later = now.advanced(Duration::from_secs(1));
    assert!(send(&mut sb, &invite("r3"), trunk(), later)
        .admitted()
        .is_some());
    assert_eq!(sb.counters().limited.get("trunk_invite_rate"), Some(&1));
}

#[test]
fn a_source_off_the_trunk_has_the_stricter_invite_rate() {
    let mut sb = line_with_extra(&[], "[limits]\ninvite_rate = 1\ninvite_burst = 1");
    let now = t0();
    let stranger = Peer {
        transport: Transport::Udp,
        addr: "192.0.2.7:5060".parse().unwrap(),
    };
    assert_eq!(
        send(&mut sb, &invite("s1"), stranger, now).status_to(stranger),
        vec![100, 403]
    );
    let out = send(&mut sb, &invite("s2"), stranger, now);
    assert_eq!(out.status_to(stranger), vec![100, 503]);
    // The trunk is not affected by the stranger's bucket.
    assert!(send(&mut sb, &invite("s3"), trunk(), now)
        .admitted()
        .is_some());
}

#[test]
fn an_options_flood_is_dropped_unanswered_beyond_the_rate() {
    let mut sb = line_with_extra(&[], "[limits]\noptions_rate = 1\noptions_burst = 3");
    let now = t0();
    let answered = (0..10)
        .filter(|n| {
            !send(&mut sb, &options(*n), trunk(), now)
                .status_to(trunk())
                .is_empty()
        })
        .count();
    assert_eq!(answered, 3);
    assert_eq!(sb.counters().limited.get("options_rate"), Some(&7));
    assert_eq!(sb.transactions(), 3, "dropped pings leave nothing behind");
}

#[test]
fn a_register_flood_gets_503_with_retry_after() {
    let mut sb = line_with_extra(&["101"], "[limits]\nregister_rate = 1\nregister_burst = 2");
    let now = t0();
    register(&mut sb, "101", now);
    let out = send(&mut sb, &register_text("101", 3, None), phone("101"), now);
    let resp = out
        .response_to(phone("101"), 503)
        .expect("503 over the rate");
    assert_eq!(header(&resp, "Retry-After").as_deref(), Some("1"));
    assert_eq!(sb.counters().limited.get("register_rate"), Some(&1));
}
