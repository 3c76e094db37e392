//! Simulated-time tests of session timers on a call-back's citizen leg (RFC 4028): when the
//! provider's 200 OK makes us the refresher we re-INVITE at half the interval and a 2xx
//! re-arms the timer; a lost session (481, no answer, or the provider's refresh overdue)
//! hangs up both legs.

use super::b2bua_support::*;
use super::callback_tests::{
    citizen_invite, done, from_provider, header, line, provider, provider_sdp,
};
use super::renegotiation_tests::updates;
use crate::model::EndReason;

/// The citizen answers with `session_expires` (if any): returns our INVITE.
fn connected(sb: &mut Switchboard, session_expires: Option<&str>, now: Now) -> Request {
    let (_, inv) = citizen_invite(sb, now);
    let mut ok = message::response_to(&inv, 200, Some("prov"));
    message::push_header(&mut ok, "Contact", "<sip:+79115550101@127.0.0.2:5060>").unwrap();
    if let Some(se) = session_expires {
        message::push_header(&mut ok, "Session-Expires", se).unwrap();
        message::push_header(&mut ok, "Require", "timer").unwrap();
    }
    message::set_body(&mut ok, "application/sdp", provider_sdp(40000));
    sb.handle_message(SipMessage::Response(ok), provider(), now);
    let out = drain(sb);
    assert!(out.request_to(provider(), "ACK").is_some(), "200 ACKed");
    inv
}

/// The call-back's own deadline (the switchboard has others: transactions, registrations).
fn deadline(sb: &Switchboard) -> Option<std::time::Instant> {
    sb.callbacks.values().next().and_then(|c| c.poll_timeout())
}

/// The switchboard's deadlines up to `until`, in order: what they produced.
fn run_until(sb: &mut Switchboard, start: Now, until: Now) -> Out {
    let mut all = Out::default();
    while let Some(at) = sb.poll_timeout() {
        if at > until.mono {
            break;
        }
        sb.handle_timeout(start.advanced(at - start.mono));
        let out = drain(sb);
        all.sent.extend(out.sent);
        all.actions.extend(out.actions);
    }
    all
}

fn answer_refresh(
    sb: &mut Switchboard,
    refresh: &Request,
    status: u16,
    extra: &[(&str, &str)],
    now: Now,
) -> Out {
    let mut resp = message::response_to(refresh, status, None);
    if (200..300).contains(&status) {
        message::push_header(&mut resp, "Contact", "<sip:+79115550101@127.0.0.2:5060>").unwrap();
        message::set_body(&mut resp, "application/sdp", provider_sdp(40000));
    }
    for (name, value) in extra {
        message::push_header(&mut resp, name, value).unwrap();
    }
    sb.handle_message(SipMessage::Response(resp), provider(), now);
    drain(sb)
}

/// A call-back connected with us as the refresher of a 90 s session, run to our first
/// refresh at 45 s: the switchboard, the start, the 200's INVITE, the refresh and when.
struct Refreshing {
    sb: Switchboard,
    now: Now,
    inv: Request,
    refresh: Request,
    at: Now,
}

fn refreshing() -> Refreshing {
    let mut sb = line();
    let now = t0();
    let inv = connected(&mut sb, Some("90;refresher=uac"), now);
    let at = now.advanced(Duration::from_secs(45));
    let refresh = run_until(&mut sb, now, at)
        .request_to(provider(), "INVITE")
        .expect("re-INVITE at half the interval");
    Refreshing {
        sb,
        now,
        inv,
        refresh,
        at,
    }
}

/// Both legs got BYE and the row closed as a lost session.
fn assert_session_lost(out: &Out) {
    assert!(
        out.request_to(provider(), "BYE").is_some(),
        "BYE to the provider"
    );
    assert!(
        out.request_to(phone("101"), "BYE").is_some(),
        "BYE to the operator"
    );
    let end = out.final_update().expect("row closed");
    assert_eq!(end.end_reason, Some(EndReason::SessionExpired));
    assert_eq!(end.outcome, Some(Outcome::Answered));
    assert_eq!(end.hangup_by, Some(HangupBy::System));
    assert_eq!(done(out).expect("worklist told").outcome, "answered");
}

#[test]
fn we_refresh_at_half_the_interval_with_our_offer_and_a_2xx_rearms_the_timer() {
    let mut sb = line();
    let now = t0();
    let inv = connected(&mut sb, Some("90;refresher=uac"), now);
    assert_eq!(deadline(&sb), Some(now.mono + Duration::from_secs(45)));
    let out = run_until(&mut sb, now, now.advanced(Duration::from_secs(44)));
    assert!(
        out.request_to(provider(), "INVITE").is_none(),
        "not before half"
    );

    let at = now.advanced(Duration::from_secs(45));
    let out = run_until(&mut sb, now, at);
    let refresh = out.request_to(provider(), "INVITE").expect("re-INVITE");
    assert_eq!(header(&refresh, "CSeq").as_deref(), Some("2 INVITE"));
    assert_eq!(header(&refresh, "Call-ID"), header(&inv, "Call-ID"));
    assert_eq!(header(&refresh, "From"), header(&inv, "From"));
    assert!(header(&refresh, "To").unwrap().contains("tag=prov"));
    assert_eq!(
        header(&refresh, "Session-Expires").as_deref(),
        Some("90;refresher=uac")
    );
    assert!(header(&refresh, "Supported").unwrap().contains("timer"));
    assert!(header(&refresh, "Contact")
        .unwrap()
        .contains("78112792112@"));
    assert!(refresh
        .to_string()
        .starts_with("INVITE sip:+79115550101@127.0.0.2:5060 SIP/2.0"));
    assert_eq!(
        refresh.body, inv.body,
        "our last offer, o= version unchanged"
    );
    assert_eq!(deadline(&sb), None, "Timer A only while it awaits");

    // The 2xx is ACKed and restarts the timer with the interval it states.
    let t = at.advanced(Duration::from_millis(80));
    let out = answer_refresh(
        &mut sb,
        &refresh,
        200,
        &[("Session-Expires", "120;refresher=uac")],
        t,
    );
    let ack = out.request_to(provider(), "ACK").expect("2xx ACKed");
    assert_eq!(header(&ack, "CSeq").as_deref(), Some("2 ACK"));
    assert!(done(&out).is_none(), "the call goes on");
    assert_eq!(deadline(&sb), Some(t.mono + Duration::from_secs(60)));
    let out = run_until(&mut sb, now, t.advanced(Duration::from_secs(60)));
    let second = out
        .request_to(provider(), "INVITE")
        .expect("second refresh");
    assert_eq!(header(&second, "CSeq").as_deref(), Some("3 INVITE"));
    assert_eq!(
        header(&second, "Session-Expires").as_deref(),
        Some("120;refresher=uac")
    );
}

#[test]
fn a_session_expires_without_refresher_makes_us_the_refresher() {
    let mut sb = line();
    let now = t0();
    connected(&mut sb, Some("1800"), now);
    assert_eq!(deadline(&sb), Some(now.mono + Duration::from_secs(900)));
    let out = run_until(&mut sb, now, now.advanced(Duration::from_secs(900)));
    let refresh = out.request_to(provider(), "INVITE").expect("re-INVITE");
    assert_eq!(
        header(&refresh, "Session-Expires").as_deref(),
        Some("1800;refresher=uac")
    );
}

#[test]
fn no_session_expires_in_the_200_means_no_timer() {
    let mut sb = line();
    let now = t0();
    connected(&mut sb, None, now);
    assert_eq!(deadline(&sb), None);
}

#[test]
fn a_481_to_our_refresh_ends_the_call_with_byes_on_both_legs() {
    let Refreshing {
        mut sb,
        refresh,
        at,
        ..
    } = refreshing();
    let out = answer_refresh(&mut sb, &refresh, 481, &[], at);
    assert_session_lost(&out);
}

#[test]
fn a_408_or_no_answer_to_our_refresh_ends_the_call() {
    let Refreshing {
        mut sb,
        now,
        refresh,
        at,
        ..
    } = refreshing();
    assert_session_lost(&answer_refresh(&mut sb, &refresh, 408, &[], at));

    // No answer at all: Timer B (64·T1) ends the transaction, then the call.
    let mut sb = line();
    connected(&mut sb, Some("90;refresher=uac"), now);
    let out = run_until(&mut sb, now, now.advanced(Duration::from_secs(45 + 33)));
    assert!(
        out.to(provider())
            .iter()
            .filter(|m| matches!(m, SipMessage::Request(r) if r.method.to_string() == "INVITE"))
            .count()
            > 1,
        "retransmitted"
    );
    assert_session_lost(&out);
}

#[test]
fn a_422_to_our_refresh_is_retried_at_once_with_its_min_se() {
    let Refreshing {
        mut sb,
        refresh,
        at,
        ..
    } = refreshing();
    let out = answer_refresh(&mut sb, &refresh, 422, &[("Min-SE", "300")], at);
    let again = out.request_to(provider(), "INVITE").expect("retried");
    assert_eq!(header(&again, "CSeq").as_deref(), Some("3 INVITE"));
    assert_eq!(
        header(&again, "Session-Expires").as_deref(),
        Some("300;refresher=uac")
    );
    assert_eq!(header(&again, "Min-SE").as_deref(), Some("300"));
    let out = answer_refresh(
        &mut sb,
        &again,
        200,
        &[("Session-Expires", "300;refresher=uac")],
        at,
    );
    assert!(out.request_to(provider(), "ACK").is_some());
    assert_eq!(deadline(&sb), Some(at.mono + Duration::from_secs(150)));
}

#[test]
fn another_failure_keeps_the_call_and_retries_while_time_remains() {
    let Refreshing {
        mut sb,
        now,
        refresh,
        at,
        ..
    } = refreshing();
    // The provider would give up at 90 - 30 = 60 s: retried halfway there, at 52.5 s.
    let out = answer_refresh(&mut sb, &refresh, 500, &[], at);
    assert!(done(&out).is_none(), "the call goes on");
    assert_eq!(
        deadline(&sb),
        Some(now.mono + Duration::from_millis(52_500))
    );
    let at = now.advanced(Duration::from_millis(52_500));
    let again = run_until(&mut sb, now, at)
        .request_to(provider(), "INVITE")
        .expect("retried");
    // 491 at 58 s: less than the margin left before 60 s, the session is given up.
    let late = now.advanced(Duration::from_secs(58));
    let out = answer_refresh(&mut sb, &again, 491, &[], late);
    assert_session_lost(&out);
}

#[test]
fn with_the_provider_as_refresher_its_silence_ends_the_call() {
    let mut sb = line();
    let now = t0();
    connected(&mut sb, Some("90;refresher=uas"), now);
    // §10: the interval less min(32 s, a third of it) = 60 s; we send nothing before.
    assert_eq!(deadline(&sb), Some(now.mono + Duration::from_secs(60)));
    let out = run_until(&mut sb, now, now.advanced(Duration::from_secs(59)));
    assert!(out.to(provider()).is_empty());
    let out = run_until(&mut sb, now, now.advanced(Duration::from_secs(60)));
    assert!(
        out.request_to(provider(), "INVITE").is_none(),
        "we do not refresh"
    );
    assert_session_lost(&out);
}

#[test]
fn with_the_provider_as_refresher_its_refresh_restarts_the_watch() {
    let mut sb = line();
    let now = t0();
    let inv = connected(&mut sb, Some("90;refresher=uas"), now);
    let at = now.advanced(Duration::from_secs(50));
    let timer = "Supported: timer\r\nSession-Expires: 120;refresher=uac\r\n";
    let update = from_provider("UPDATE", 7, "upd", &inv, timer, None);
    let out = send(&mut sb, &update, provider(), at);
    let ok = out.response_to(provider(), 200).expect("refresh answered");
    let text = ok.to_string();
    assert!(
        text.contains("Session-Expires: 120;refresher=uac"),
        "{text}"
    );
    assert!(text.contains("Require: timer"), "{text}");
    assert!(done(&out).is_none());
    // Watched again from the refresh: 120 - 32 = 88 s later.
    assert_eq!(deadline(&sb), Some(at.mono + Duration::from_secs(88)));
    let out = run_until(&mut sb, now, at.advanced(Duration::from_secs(87)));
    assert!(done(&out).is_none());
    let out = run_until(&mut sb, now, at.advanced(Duration::from_secs(88)));
    assert_session_lost(&out);
}

#[test]
fn a_re_invite_of_the_provider_crossing_ours_gets_491() {
    let Refreshing {
        mut sb,
        inv,
        refresh,
        at,
        ..
    } = refreshing();
    let theirs = from_provider("INVITE", 5, "glare", &inv, "", None);
    let out = send(&mut sb, &theirs, provider(), at);
    assert_eq!(out.status_to(provider()).last(), Some(&491));
    // Ours goes on: its 2xx re-arms the timer.
    answer_refresh(
        &mut sb,
        &refresh,
        200,
        &[("Session-Expires", "90;refresher=uac")],
        at,
    );
    assert_eq!(deadline(&sb), Some(at.mono + Duration::from_secs(45)));
}

#[test]
fn media_moved_by_the_provider_in_a_refresh_is_followed() {
    let Refreshing {
        mut sb,
        inv,
        refresh,
        at,
        ..
    } = refreshing();
    // Our refresh's 2xx names another media address (an SBC failed over).
    let mut ok = message::response_to(&refresh, 200, None);
    message::push_header(&mut ok, "Contact", "<sip:+79115550101@127.0.0.2:5060>").unwrap();
    message::push_header(&mut ok, "Session-Expires", "90;refresher=uac").unwrap();
    message::set_body(&mut ok, "application/sdp", provider_sdp(40002));
    sb.handle_message(SipMessage::Response(ok), provider(), at);
    let out = drain(&mut sb);
    assert!(out.request_to(provider(), "ACK").is_some());
    let moved: SocketAddr = "127.0.0.2:40002".parse().unwrap();
    assert_eq!(updates(&out), [(Leg::Caller, moved, true, true)]);
    assert!(done(&out).is_none(), "the call goes on");

    // The provider's own re-INVITE with an offer elsewhere: answered, and followed.
    let later = at.advanced(Duration::from_secs(10));
    let theirs = from_provider("INVITE", 9, "move", &inv, "", Some(provider_sdp(40004)));
    let out = send(&mut sb, &theirs, provider(), later);
    assert_eq!(out.status_to(provider()).last(), Some(&200));
    let moved: SocketAddr = "127.0.0.2:40004".parse().unwrap();
    assert_eq!(updates(&out), [(Leg::Caller, moved, true, true)]);
}
