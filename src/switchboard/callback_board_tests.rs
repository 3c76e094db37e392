//! Simulated-time tests of call-backs on the live board: listed from the start with their
//! stage and since when (the operator's phone ringing, the citizen's, talking), the
//! operator shown on it, and off the board once over.

use super::b2bua_support::*;
use super::callback_tests::{
    header, line, opened_operator_leg, provider, provider_says, provider_sdp, request,
};
use crate::model::{format_time, CallBackLive, CallDirection, LiveSnapshot, RegisterWrite};

fn the_callback(snap: &LiveSnapshot) -> &CallBackLive {
    assert_eq!(snap.callbacks.len(), 1, "{:?}", snap.callbacks);
    &snap.callbacks[0]
}

fn operator_101(snap: &LiveSnapshot) -> (&str, Option<&str>) {
    let op = snap.operators.iter().find(|o| o.id == "101").unwrap();
    (op.state.as_str(), op.call_id.as_deref())
}

#[test]
fn a_call_back_is_on_the_board_at_each_stage_and_leaves_it_when_over() {
    let mut sb = line();
    let start = t0();
    let mut req = request("101");
    req.topic = Some("billing".into());
    let id = sb.start_callback(req, start).expect("started");
    let first = drain(&mut sb);
    let call = opened_operator_leg(&first);
    // The row is opened outbound and given the missed call's topic at once.
    let writes: Vec<&RegisterWrite> = first
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::Register(w) => Some(w),
            _ => None,
        })
        .collect();
    assert!(
        matches!(writes[0], RegisterWrite::Open(n) if n.id == id && n.direction == CallDirection::Outbound),
        "{writes:?}"
    );
    assert!(
        matches!(writes[1], RegisterWrite::Update { id: i, update } if *i == id && update.topic.as_deref() == Some("billing")),
        "{writes:?}"
    );

    // The operator's phone: from the start.
    let now = start.advanced(Duration::from_secs(1));
    let inv = ring(&mut sb, call, "101", now);
    let now = start.advanced(Duration::from_secs(3));
    let snap = sb.snapshot(now);
    let cb = the_callback(&snap);
    assert_eq!(
        cb,
        &CallBackLive {
            call_id: id.clone(),
            item: 7,
            number: "+7911555****".into(),
            operator: "101".into(),
            direction: "outbound".into(),
            stage: "ringing_operator".into(),
            since: format_time(start.wall),
            stage_ms: 3_000,
            topic: Some("billing".into()),
        }
    );
    assert_eq!(operator_101(&snap), ("talking", Some(id.as_str())));
    assert_eq!(snap.active_calls, 1);
    assert!(snap.waiting.is_empty(), "a call-back is nobody's wait");

    // The operator answers: the citizen's phone rings (after a 401 and early media).
    let answered = start.advanced(Duration::from_secs(4));
    answer(&mut sb, &inv, "101", answered);
    sb.handle_media_ready(call, Leg::Caller, Some(30000), answered);
    let to_citizen = drain(&mut sb)
        .request_to(provider(), "INVITE")
        .expect("INVITE to the provider");
    let mut ringing = message::response_to(&to_citizen, 183, Some("prov"));
    message::set_body(&mut ringing, "application/sdp", provider_sdp(40000));
    let now = start.advanced(Duration::from_secs(6));
    sb.handle_message(SipMessage::Response(ringing), provider(), now);
    drain(&mut sb);
    let now = start.advanced(Duration::from_secs(9));
    let snap = sb.snapshot(now);
    let cb = the_callback(&snap);
    assert_eq!(
        (cb.stage.as_str(), cb.since.as_str(), cb.stage_ms),
        (
            "ringing_citizen",
            format_time(answered.wall).as_str(),
            5_000
        )
    );
    assert_eq!(operator_101(&snap), ("talking", Some(id.as_str())));

    // The citizen answers: talking.
    let connected = start.advanced(Duration::from_secs(10));
    let mut ok = message::response_to(&to_citizen, 200, Some("prov"));
    message::push_header(&mut ok, "Contact", "<sip:+79115550101@127.0.0.2:5060>").unwrap();
    message::set_body(&mut ok, "application/sdp", provider_sdp(40000));
    sb.handle_message(SipMessage::Response(ok), provider(), connected);
    drain(&mut sb);
    let now = start.advanced(Duration::from_secs(70));
    let snap = sb.snapshot(now);
    let cb = the_callback(&snap);
    assert_eq!(
        (cb.stage.as_str(), cb.since.as_str(), cb.stage_ms),
        ("talking", format_time(connected.wall).as_str(), 60_000)
    );
    assert_eq!((cb.call_id.as_str(), cb.item), (id.as_str(), 7));

    // The citizen hangs up: off the board at once, though the operator's BYE is unanswered.
    let bye = format!(
        "BYE sip:78112792112@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.2:5060;branch=z9hG4bK-pbye;rport\r\n\
         From: <sip:+79115550101@127.0.0.2>;tag=prov\r\nTo: <sip:78112792112@127.0.0.2>;tag={}\r\nCall-ID: {}\r\n\
         CSeq: 1 BYE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
        message::from_tag(&to_citizen).unwrap().unwrap(),
        header(&to_citizen, "Call-ID").unwrap()
    );
    send(&mut sb, &bye, provider(), now);
    let snap = sb.snapshot(now);
    assert_eq!(snap.callbacks, vec![]);
    assert_eq!(snap.active_calls, 0);
    assert_eq!(operator_101(&snap), ("wrap_up", None));
}

#[test]
fn a_call_back_the_citizen_does_not_take_leaves_the_board() {
    let mut sb = line();
    let now = t0();
    sb.start_callback(request("101"), now).expect("started");
    let call = opened_operator_leg(&drain(&mut sb));
    let inv = ring(&mut sb, call, "101", now);
    answer(&mut sb, &inv, "101", now);
    sb.handle_media_ready(call, Leg::Caller, Some(30000), now);
    let to_citizen = drain(&mut sb)
        .request_to(provider(), "INVITE")
        .expect("INVITE to the provider");
    let snap = sb.snapshot(now);
    let cb = the_callback(&snap);
    assert_eq!(
        (cb.stage.as_str(), cb.topic.as_deref()),
        ("ringing_citizen", None)
    );

    provider_says(&mut sb, &to_citizen, 486, now);
    let snap = sb.snapshot(now);
    assert_eq!(snap.callbacks, vec![]);
    assert_ne!(operator_101(&snap).0, "talking");
}

#[test]
fn a_call_back_the_operator_refuses_leaves_the_board() {
    let mut sb = line();
    let now = t0();
    sb.start_callback(request("101"), now).expect("started");
    let call = opened_operator_leg(&drain(&mut sb));
    let inv = ring(&mut sb, call, "101", now);
    assert_eq!(the_callback(&sb.snapshot(now)).stage, "ringing_operator");
    let busy = message::response_to(&inv, 486, Some("op101"));
    sb.handle_message(SipMessage::Response(busy), phone("101"), now);
    drain(&mut sb);
    assert_eq!(sb.snapshot(now).callbacks, vec![]);
}
