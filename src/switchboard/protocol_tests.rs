//! Simulated-time tests of the UA core's SIP manners: CANCEL, a missing ACK, OPTIONS,
//! requests for no dialog, unknown methods and garbage, shutdown, no RTP port, and
//! retransmitted INVITEs.

use super::tests::*;
use super::*;
use crate::model::{HangupBy, Outcome};

#[test]
fn cancel_before_the_answer_gets_487_and_frees_nothing_twice() {
    let mut sb = switchboard(false);
    let now = t0();
    sb.handle_datagram(
        &invite("c1", "792112", Some(&sdp(17000, "0"))),
        trunk(),
        now,
    );
    let call = drain(&mut sb).open_media().unwrap();
    let cancel = String::from_utf8(invite("c1", "792112", None))
        .unwrap()
        .replace("INVITE sip", "CANCEL sip")
        .replace("CSeq: 1 INVITE", "CSeq: 1 CANCEL");
    sb.handle_datagram(cancel.as_bytes(), trunk(), now);
    let d = drain(&mut sb);
    let mut st = d.statuses();
    st.sort();
    assert_eq!(st, vec![200, 487]);
    assert_eq!(d.final_update().hangup_by, Some(HangupBy::Caller));
    // The socket that was being opened is returned as soon as the runtime reports it.
    sb.handle_media_ready(call, Leg::Caller, Some(30000), now);
    let d = drain(&mut sb);
    assert!(d.has(|a| matches!(a, Action::CloseMedia { .. })));
    assert!(d.sent.is_empty());
}

#[test]
fn no_ack_for_our_200_ends_the_call_with_bye() {
    let mut sb = switchboard(false);
    let mut now = t0();
    answered_call(&mut sb, now, "noack");
    let until = now.advanced(Duration::from_secs(33));
    let d = run_until(&mut sb, &mut now, until);
    // 200 retransmitted on T1, 2T1, 4T1, then capped at T2…
    assert!(
        d.statuses().iter().filter(|&&s| s == 200).count() >= 6,
        "{:?}",
        d.statuses()
    );
    // One BYE (retransmitted on Timer E while unanswered).
    let reqs = d.requests();
    assert!(
        !reqs.is_empty() && reqs.iter().all(|m| m == "BYE"),
        "{reqs:?}"
    );
    let end = d.final_update();
    assert_eq!(end.outcome, Some(Outcome::Failed));
    assert_eq!(end.end_reason.map(|r| r.as_str()), Some("no_ack"));
}

#[test]
fn options_is_answered_with_what_we_allow() {
    let mut sb = switchboard(false);
    let opt = String::from_utf8(invite("o1", "792112", None))
        .unwrap()
        .replace("INVITE sip", "OPTIONS sip")
        .replace("CSeq: 1 INVITE", "CSeq: 1 OPTIONS");
    sb.handle_datagram(opt.as_bytes(), trunk(), t0());
    let d = drain(&mut sb);
    assert_eq!(d.statuses(), vec![200]);
    let text = d.response(200).to_string();
    assert!(
        text.contains("Allow: INVITE, ACK, CANCEL, BYE, OPTIONS"),
        "{text}"
    );
    assert!(text.contains("Accept: application/sdp"), "{text}");
}

#[test]
fn in_dialog_request_for_no_dialog_gets_481() {
    let mut sb = switchboard(false);
    sb.handle_datagram(&in_dialog("BYE", "nope", "sometag", 2, "b"), trunk(), t0());
    assert_eq!(drain(&mut sb).statuses(), vec![481]);
}

#[test]
fn unknown_method_gets_501_and_garbage_is_dropped() {
    let mut sb = switchboard(false);
    let foo = String::from_utf8(invite("f1", "792112", None))
        .unwrap()
        .replace("INVITE sip", "FOO sip")
        .replace("CSeq: 1 INVITE", "CSeq: 1 FOO");
    sb.handle_datagram(foo.as_bytes(), trunk(), t0());
    // The 501 echoes `CSeq: 1 FOO`, which no parser of ours accepts: read it as text.
    let Some(Action::Transmit { data, .. }) = sb.poll_action() else {
        panic!("no answer")
    };
    let text = String::from_utf8(data).unwrap();
    assert!(text.starts_with("SIP/2.0 501 "), "{text}");
    assert!(text.contains("CSeq: 1 FOO"), "{text}");
    assert!(sb.poll_action().is_none());
    sb.handle_datagram(b"\x00\xff garbage \x01", trunk(), t0());
    assert!(drain(&mut sb).sent.is_empty());
    assert_eq!(sb.stats().bad_dropped, 1);
    // …and the next good call is served.
    sb.handle_datagram(
        &invite("after-garbage", "792112", Some(&sdp(17000, "0"))),
        trunk(),
        t0(),
    );
    assert!(drain(&mut sb).open_media().is_some());
}

#[test]
fn during_shutdown_new_calls_get_503_and_calls_in_progress_go_on() {
    let mut sb = switchboard(false);
    let now = t0();
    let (call, _, d) = answered_call(&mut sb, now, "s1");
    let (_, tag) = d.played().unwrap();
    sb.begin_shutdown(Duration::from_secs(30), now);
    sb.handle_datagram(
        &invite("s2", "792112", Some(&sdp(17002, "0"))),
        trunk(),
        now,
    );
    let d = drain(&mut sb);
    assert_eq!(d.statuses(), vec![100, 503]);
    assert!(d.response(503).to_string().contains("Retry-After: 30"));
    assert_eq!(sb.active_calls(), 1);
    sb.handle_media_event(call, MediaEvent::PromptFinished { tag }, now);
    assert_eq!(
        drain(&mut sb).requests(),
        vec!["BYE"],
        "the call in progress ends normally"
    );
}

#[test]
fn grace_over_interrupts_calls_in_progress_and_their_byes_get_a_bounded_wait() {
    let mut sb = switchboard(false);
    let now = t0();
    answered_call(&mut sb, now, "i1");
    sb.begin_shutdown(Duration::from_secs(30), now);
    assert!(!sb.is_stopped(now));
    let before = now.advanced(Duration::from_millis(29_999));
    sb.handle_timeout(before);
    assert!(
        drain(&mut sb).requests().is_empty(),
        "the grace is not over yet"
    );
    let over = sb.poll_timeout().expect("the grace's end is a deadline");
    assert_eq!(over, now.mono + Duration::from_secs(30));
    let at_end = now.advanced(Duration::from_secs(30));
    sb.handle_timeout(at_end);
    let d = drain(&mut sb);
    assert_eq!(d.requests(), vec!["BYE"]);
    assert_eq!(d.final_update().outcome, Some(Outcome::Interrupted));
    // The caller never answers our BYE: the line stops after the hard-stop wait anyway.
    assert!(!sb.is_stopped(at_end));
    let hard = at_end.advanced(Switchboard::HARD_STOP_AFTER);
    assert!(sb.poll_timeout().is_some_and(|t| t <= hard.mono));
    assert!(sb.is_stopped(hard));
}

#[test]
fn no_rtp_port_gives_503_not_silence() {
    let mut sb = switchboard(false);
    sb.handle_datagram(
        &invite("p1", "792112", Some(&sdp(17000, "0"))),
        trunk(),
        t0(),
    );
    let call = drain(&mut sb).open_media().unwrap();
    sb.handle_media_ready(call, Leg::Caller, None, t0());
    let d = drain(&mut sb);
    assert_eq!(d.statuses(), vec![503]);
    assert_eq!(d.final_update().outcome, Some(Outcome::Failed));
}

#[test]
fn invite_retransmission_is_absorbed_and_makes_no_second_call() {
    let mut sb = switchboard(false);
    let now = t0();
    let bytes = invite("rt1", "792112", Some(&sdp(17000, "0")));
    sb.handle_datagram(&bytes, trunk(), now);
    let d = drain(&mut sb);
    assert_eq!(d.writes().len(), 1);
    sb.handle_datagram(&bytes, trunk(), now.advanced(Duration::from_millis(500)));
    let d = drain(&mut sb);
    assert!(d.writes().is_empty(), "no second row");
    assert!(d.open_media().is_none());
    assert_eq!(sb.active_calls(), 1);
}
