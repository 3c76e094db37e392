//! Session timers through the wire: requests enter through `parse_datagram` as a peer
//! sends them, answers are checked on the bytes the peer would receive.

use std::time::{Duration, Instant};

use super::*;
use crate::sip::message::{self, Datagram, SipMessage};

/// An INVITE with these extra header lines.
fn invite(extra: &str) -> Request {
    let text = format!(
        "INVITE sip:792112@10.0.0.1 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bKst1;rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:+79110000001@10.0.0.9>;tag=f1\r\n\
         To: <sip:792112@10.0.0.1>\r\n\
         Call-ID: st-1@10.0.0.9\r\n\
         CSeq: 1 INVITE\r\n\
         Contact: <sip:+79110000001@10.0.0.9:5060>\r\n\
         {extra}\
         Content-Length: 0\r\n\r\n"
    );
    match message::parse_datagram(text.as_bytes()) {
        Ok(Datagram::Message(SipMessage::Request(req))) => req,
        other => panic!("test INVITE does not parse: {other:?}"),
    }
}

/// A 200 to our INVITE with these extra header lines.
fn ok_200(extra: &str) -> Response {
    let text = format!(
        "SIP/2.0 200 OK\r\n\
         Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKus1;rport\r\n\
         From: <sip:hotline@10.0.0.1>;tag=a\r\n\
         To: <sip:101@10.0.0.5>;tag=b\r\n\
         Call-ID: st-2@10.0.0.1\r\n\
         CSeq: 1 INVITE\r\n\
         {extra}\
         Content-Length: 0\r\n\r\n"
    );
    match message::parse_datagram(text.as_bytes()) {
        Ok(Datagram::Message(SipMessage::Response(resp))) => resp,
        other => panic!("test 200 does not parse: {other:?}"),
    }
}

fn policy(min_se: u32, interval: u32) -> SessionTimerPolicy {
    SessionTimerPolicy { min_se, interval }
}

/// The answer and the response the peer receives: a 2xx, or the 422 it calls for.
fn answer_invite(extra: &str, policy: &SessionTimerPolicy) -> (UasAnswer, String) {
    let req = invite(extra);
    let answer = answer_request(&SessionTimerRequest::of(&req), policy);
    let status = answer.refusal_status().unwrap_or(200);
    let mut resp = message::response_to(&req, status, Some("uas1"));
    answer.push_headers(&mut resp);
    let wire = String::from_utf8(message::to_bytes(&resp)).expect("text");
    (answer, wire)
}

/// Every value of `name` on the wire, in order.
fn values(wire: &str, name: &str) -> Vec<String> {
    wire.split("\r\n")
        .filter_map(|line| line.split_once(": "))
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.to_string())
        .collect()
}

fn timer_of(answer: UasAnswer) -> SessionTimer {
    match answer {
        UasAnswer::Timer { timer, .. } => timer,
        other => panic!("expected a timer, got {other:?}"),
    }
}

#[test]
fn session_expires_prints_and_parses() {
    let se = SessionExpires::parse(" 1800 ; Refresher = UAC ;x-foo=1").unwrap();
    assert_eq!(
        se,
        SessionExpires {
            interval: 1800,
            refresher: Some(Refresher::Uac)
        }
    );
    assert_eq!(se.to_string(), "1800;refresher=uac");
    assert_eq!(
        se.header().to_string(),
        "Session-Expires: 1800;refresher=uac"
    );
    let bare = SessionExpires::parse("90").unwrap();
    assert_eq!((bare.refresher, bare.to_string()), (None, "90".to_string()));
    assert_eq!(
        SessionExpires::parse("99999999999").unwrap().interval,
        u32::MAX
    );
    for bad in [
        "",
        "soon",
        "-5",
        "1800;refresher=both",
        "1800;refresher",
        "1.5",
        "1800;",
    ] {
        assert!(SessionExpires::parse(bad).is_err(), "{bad:?} accepted");
    }
}

#[test]
fn min_se_prints_and_parses() {
    assert_eq!(MinSe::parse("120;x=1").unwrap(), MinSe(120));
    assert_eq!(MinSe(120).header().to_string(), "Min-SE: 120");
    assert!(MinSe::parse("two minutes").is_err());
}

#[test]
fn supported_and_require_are_read_as_option_tag_lists() {
    let req = SessionTimerRequest::of(&invite("Supported: 100rel, Timer, replaces\r\n"));
    assert!(req.uac_supports);
    assert!(SessionTimerRequest::of(&invite("Require: timer\r\n")).uac_supports);
    assert!(!SessionTimerRequest::of(&invite("Supported: timers, 100rel\r\n")).uac_supports);
    assert!(supports_timer(&ok_200("Require: timer\r\n")));
    assert!(!supports_timer(&ok_200("")));
}

#[test]
fn no_session_expires_means_no_timer() {
    let (answer, wire) = answer_invite("Supported: timer\r\n", &SessionTimerPolicy::default());
    assert_eq!(answer, UasAnswer::NoTimer);
    assert!(wire.starts_with("SIP/2.0 200 OK\r\n"));
    assert_eq!(values(&wire, "Session-Expires"), Vec::<String>::new());
    assert_eq!(values(&wire, "Require"), Vec::<String>::new());
}

#[test]
fn refresher_absent_is_uac_when_the_uac_supports_timers() {
    let (answer, wire) = answer_invite(
        "Supported: timer\r\nSession-Expires: 1800\r\n",
        &SessionTimerPolicy::default(),
    );
    assert_eq!(values(&wire, "Session-Expires"), ["1800;refresher=uac"]);
    assert_eq!(values(&wire, "Require"), ["timer"]);
    let timer = timer_of(answer);
    assert!(!timer.we_refresh);
    // The UAC refreshes; we give up 32 s before the end if it does not.
    let t0 = Instant::now();
    assert_eq!(
        timer.deadline(t0),
        (t0 + Duration::from_secs(1768), SessionTimerAction::Bye)
    );
}

#[test]
fn refresher_absent_is_uas_when_the_uac_does_not_support_timers() {
    // A proxy put the header in: we refresh, and Require would break the UAC.
    let (answer, wire) = answer_invite(
        "Session-Expires: 1800;refresher=uac\r\n",
        &SessionTimerPolicy::default(),
    );
    assert_eq!(values(&wire, "Session-Expires"), ["1800;refresher=uas"]);
    assert_eq!(values(&wire, "Require"), Vec::<String>::new());
    let timer = timer_of(answer);
    assert!(timer.we_refresh);
    let t0 = Instant::now();
    assert_eq!(
        timer.deadline(t0),
        (t0 + Duration::from_secs(900), SessionTimerAction::Refresh)
    );
}

#[test]
fn the_refresher_the_uac_names_is_kept() {
    let (answer, wire) = answer_invite(
        "Supported: timer\r\nSession-Expires: 600;refresher=uas\r\n",
        &SessionTimerPolicy::default(),
    );
    assert_eq!(values(&wire, "Session-Expires"), ["600;refresher=uas"]);
    assert_eq!(values(&wire, "Require"), ["timer"]);
    assert!(timer_of(answer).we_refresh);
}

#[test]
fn too_small_an_interval_gets_422_with_our_min_se() {
    let (answer, wire) = answer_invite(
        "Supported: timer\r\nSession-Expires: 100\r\nMin-SE: 100\r\n",
        &policy(120, 1800),
    );
    assert_eq!(answer, UasAnswer::TooSmall { min_se: MinSe(120) });
    assert!(
        wire.starts_with("SIP/2.0 422 Session Interval Too Small\r\n"),
        "{wire}"
    );
    assert_eq!(values(&wire, "Min-SE"), ["120"]);
    assert_eq!(values(&wire, "Session-Expires"), Vec::<String>::new());
    assert!(values(&wire, "To")[0].ends_with(";tag=uas1"));

    // Our minimum never goes below RFC 4028's 90 s.
    let (_, wire) = answer_invite(
        "Supported: timer\r\nSession-Expires: 60\r\n",
        &policy(30, 1800),
    );
    assert_eq!(values(&wire, "Min-SE"), ["90"]);
    // Exactly the minimum is enough.
    let (answer, _) = answer_invite("Supported: timer\r\nx: 120\r\n", &policy(120, 1800));
    assert_eq!(timer_of(answer).interval, 120);
}

#[test]
fn too_small_without_timer_support_is_answered_without_a_timer() {
    // Nobody would retry after a 422: answer as a UAS without the extension.
    let (answer, wire) = answer_invite("Session-Expires: 60\r\n", &policy(120, 1800));
    assert_eq!(answer, UasAnswer::NoTimer);
    assert!(wire.starts_with("SIP/2.0 200 OK\r\n"));
    assert_eq!(values(&wire, "Min-SE"), Vec::<String>::new());
}

#[test]
fn compact_forms_are_read() {
    let req = invite("k: timer\r\nx: 1200;refresher=uas\r\n");
    let read = SessionTimerRequest::of(&req);
    assert_eq!(
        read,
        SessionTimerRequest {
            session_expires: Some(SessionExpires {
                interval: 1200,
                refresher: Some(Refresher::Uas)
            }),
            min_se: None,
            uac_supports: true,
        }
    );
    let (_, wire) = answer_invite(
        "k: timer\r\nx: 1200;refresher=uas\r\n",
        &SessionTimerPolicy::default(),
    );
    // We always answer in the long form.
    assert_eq!(values(&wire, "Session-Expires"), ["1200;refresher=uas"]);
}

#[test]
fn malformed_values_count_as_absent() {
    for broken in [
        "Session-Expires: soon\r\n",
        "Session-Expires: 1800;refresher=both\r\n",
        "Session-Expires: -1800\r\n",
    ] {
        let extra = format!("Supported: timer\r\n{broken}");
        let (answer, wire) = answer_invite(&extra, &SessionTimerPolicy::default());
        assert_eq!(answer, UasAnswer::NoTimer, "{broken:?}");
        assert!(wire.starts_with("SIP/2.0 200 OK\r\n"), "{broken:?}");
        assert_eq!(values(&wire, "Session-Expires"), Vec::<String>::new());
    }
    // A broken Min-SE is ignored; the interval still holds.
    let read = SessionTimerRequest::of(&invite("Session-Expires: 1800\r\nMin-SE: lots\r\n"));
    assert_eq!(read.min_se, None);
    assert_eq!(read.session_expires.map(|se| se.interval), Some(1800));
    // Only the first Session-Expires counts.
    let read =
        SessionTimerRequest::of(&invite("Session-Expires: 900\r\nSession-Expires: 3600\r\n"));
    assert_eq!(read.session_expires.map(|se| se.interval), Some(900));
}

#[test]
fn long_intervals_are_shortened_but_not_below_the_request_min_se() {
    let (answer, wire) = answer_invite(
        "Supported: timer\r\nSession-Expires: 7200\r\n",
        &policy(90, 1800),
    );
    assert_eq!(values(&wire, "Session-Expires"), ["1800;refresher=uac"]);
    assert_eq!(timer_of(answer).interval, 1800);
    let (_, wire) = answer_invite(
        "Supported: timer\r\nSession-Expires: 7200\r\nMin-SE: 3600\r\n",
        &policy(90, 1800),
    );
    assert_eq!(values(&wire, "Session-Expires"), ["3600;refresher=uac"]);
}

#[test]
fn a_uac_asks_for_our_interval_and_refreshes_at_half() {
    let mut req = invite("");
    policy(120, 1800).push_uac_headers(&mut req);
    let wire = String::from_utf8(message::to_bytes(&req)).expect("text");
    assert_eq!(values(&wire, "Supported"), ["timer"]);
    assert_eq!(values(&wire, "Session-Expires"), ["1800"]);
    assert_eq!(values(&wire, "Min-SE"), ["120"]);

    let t0 = Instant::now();
    let timer = SessionTimer::of_2xx(&ok_200(
        "Require: timer\r\nSession-Expires: 1200;refresher=uac\r\n",
    ))
    .expect("a timer");
    assert!(timer.we_refresh);
    assert_eq!(timer.refresh_after(), Duration::from_secs(600));
    assert_eq!(
        timer.deadline(t0),
        (t0 + Duration::from_secs(600), SessionTimerAction::Refresh)
    );
    let mut refresh = invite("");
    timer.push_refresh_headers(&mut refresh);
    let wire = String::from_utf8(message::to_bytes(&refresh)).expect("text");
    assert_eq!(values(&wire, "Session-Expires"), ["1200;refresher=uac"]);
    assert_eq!(values(&wire, "Supported"), ["timer"]);
}

#[test]
fn a_uac_reads_the_timer_of_a_2xx() {
    let t0 = Instant::now();
    let timer = SessionTimer::of_2xx(&ok_200("Session-Expires: 90;refresher=uas\r\n")).unwrap();
    assert!(!timer.we_refresh);
    // A third of 90 s is less than 32 s.
    assert_eq!(
        timer.deadline(t0),
        (t0 + Duration::from_secs(60), SessionTimerAction::Bye)
    );
    // No refresher: the UAS does not know the extension, so we refresh.
    let timer = SessionTimer::of_2xx(&ok_200("Session-Expires: 1800\r\n")).unwrap();
    assert_eq!((timer.refresher, timer.we_refresh), (Refresher::Uac, true));
    // A broken peer's 10 s is read as 90 s.
    let timer = SessionTimer::of_2xx(&ok_200("x: 10;refresher=uac\r\n")).unwrap();
    assert_eq!(timer.refresh_after(), Duration::from_secs(45));
    assert_eq!(SessionTimer::of_2xx(&ok_200("")), None);
    assert_eq!(
        SessionTimer::of_2xx(&ok_200("Session-Expires: x\r\n")),
        None
    );
}

#[test]
fn a_uac_retries_a_422_with_its_min_se() {
    let ours = policy(90, 1800);
    let too_small = |extra: &str| {
        let mut resp = ok_200(extra);
        resp.status_code = message::status_code(422);
        resp
    };
    assert_eq!(
        ours.retry_after_422(&too_small("Min-SE: 2400\r\n"), 1800),
        Some(2400)
    );
    // A Min-SE no longer than what was refused would loop; none at all says nothing.
    assert_eq!(
        ours.retry_after_422(&too_small("Min-SE: 1800\r\n"), 1800),
        None
    );
    assert_eq!(ours.retry_after_422(&too_small(""), 1800), None);
    assert_eq!(
        ours.retry_after_422(&too_small("Min-SE: soon\r\n"), 1800),
        None
    );
}
