//! Simulated-time tests of the UA core: every call path of the line as it is today, driven
//! with SIP bytes in and actions out; no sockets, no sleeping. The SIP harness here (a
//! switchboard, INVITEs, what it sent) serves the protocol tests too (`protocol_tests.rs`).

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use crate::config::Config;
use crate::model::Now;
use crate::sip::message::{self, Datagram, SipMessage};
use crate::sip::{Peer, Transport};

use super::{Action, CallRef, Leg, MediaEvent, MediaOrder, PromptKind, Settings, Switchboard};
use crate::model::{HangupBy, Outcome, RegisterWrite};

pub(super) const TRUNK: &str = "127.0.0.1:5071";

/// A switchboard whose line is always closed (`open = false`) or always open.
pub(super) fn switchboard(open: bool) -> Switchboard {
    let days = if open {
        r#"["mon","tue","wed","thu","fri","sat","sun"]"#
    } else {
        "[]"
    };
    let toml = format!(
        r#"
        [sip]
        listen = "127.0.0.1:5060"
        [trunk]
        numbers = ["792112", "+78112792112"]
        allow = ["127.0.0.1/32"]
        [hours]
        days = {days}
        open = "00:00"
        close = "24:00"
        [menu]
        enabled = false
        "#
    );
    let config =
        Config::from_toml(&toml, Path::new("test.toml"), &[]).expect("test config is valid");
    Switchboard::new(Settings::from_config(&config), 42, t0())
}

pub(super) fn t0() -> Now {
    Now {
        mono: std::time::Instant::now(),
        wall: "2026-11-24T20:00:00Z".parse().unwrap(),
    }
}

pub(super) fn trunk() -> Peer {
    Peer {
        transport: Transport::Udp,
        addr: TRUNK.parse().unwrap(),
    }
}

pub(super) fn sdp(port: u16, pts: &str) -> String {
    let mut s = format!("v=0\r\no=trunk 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {port} RTP/AVP {pts}\r\n");
    for pt in pts.split(' ') {
        match pt {
            "0" => s.push_str("a=rtpmap:0 PCMU/8000\r\n"),
            "8" => s.push_str("a=rtpmap:8 PCMA/8000\r\n"),
            "18" => s.push_str("a=rtpmap:18 G729/8000\r\n"),
            "101" => s.push_str("a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\n"),
            _ => {}
        }
    }
    s.push_str("a=ptime:20\r\na=sendrecv\r\n");
    s
}

pub(super) fn invite(call_id: &str, to_user: &str, body: Option<&str>) -> Vec<u8> {
    let body = body.unwrap_or("");
    let ctype = if body.is_empty() {
        ""
    } else {
        "Content-Type: application/sdp\r\n"
    };
    format!(
        "INVITE sip:{to_user}@127.0.0.1:5060 SIP/2.0\r\n\
         Via: SIP/2.0/UDP {TRUNK};branch=z9hG4bK-{call_id};rport\r\n\
         From: \"Caller\" <sip:+79115550101@127.0.0.1>;tag=from-{call_id}\r\n\
         To: <sip:{to_user}@127.0.0.1>\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: 1 INVITE\r\n\
         Contact: <sip:caller@{TRUNK}>\r\n\
         Max-Forwards: 70\r\n\
         {ctype}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// An in-dialog request from the caller (BYE, ACK…), echoing our To tag.
pub(super) fn in_dialog(
    method: &str,
    call_id: &str,
    to_tag: &str,
    cseq: u32,
    branch: &str,
) -> Vec<u8> {
    format!(
        "{method} sip:hotline@127.0.0.1:5060 SIP/2.0\r\n\
         Via: SIP/2.0/UDP {TRUNK};branch=z9hG4bK-{branch};rport\r\n\
         From: \"Caller\" <sip:+79115550101@127.0.0.1>;tag=from-{call_id}\r\n\
         To: <sip:792112@127.0.0.1>;tag={to_tag}\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: {cseq} {method}\r\n\
         Max-Forwards: 70\r\n\
         Content-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

pub(super) struct Drained {
    pub(super) sent: Vec<SipMessage>,
    pub(super) actions: Vec<Action>,
}

impl Drained {
    pub(super) fn statuses(&self) -> Vec<u16> {
        self.sent
            .iter()
            .filter_map(|m| match m {
                SipMessage::Response(r) => Some(r.status_code.code()),
                _ => None,
            })
            .collect()
    }
    pub(super) fn requests(&self) -> Vec<String> {
        self.sent
            .iter()
            .filter_map(|m| match m {
                SipMessage::Request(r) => Some(r.method.to_string()),
                _ => None,
            })
            .collect()
    }
    pub(super) fn response(&self, code: u16) -> &crate::sip::message::Response {
        self.sent
            .iter()
            .find_map(|m| match m {
                SipMessage::Response(r) if r.status_code.code() == code => Some(r),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no {code} sent"))
    }
    pub(super) fn open_media(&self) -> Option<CallRef> {
        self.actions.iter().find_map(|a| match a {
            Action::OpenCallerMedia { call, .. } => Some(*call),
            _ => None,
        })
    }
    /// The last playback ordered: its prompts and tag.
    pub(super) fn played(&self) -> Option<(Vec<PromptKind>, u32)> {
        self.actions.iter().rev().find_map(|a| match a {
            Action::Media {
                order: MediaOrder::Play { prompts, tag, .. },
                ..
            } => Some((prompts.clone(), *tag)),
            _ => None,
        })
    }
    pub(super) fn writes(&self) -> Vec<&RegisterWrite> {
        self.actions
            .iter()
            .filter_map(|a| match a {
                Action::Register(w) => Some(w),
                _ => None,
            })
            .collect()
    }
    pub(super) fn final_update(&self) -> &crate::model::CallUpdate {
        self.writes()
            .into_iter()
            .rev()
            .find_map(|w| match w {
                RegisterWrite::Update { update, .. } if update.ended_at.is_some() => Some(update),
                _ => None,
            })
            .expect("a final register update")
    }
    pub(super) fn has(&self, pred: impl Fn(&Action) -> bool) -> bool {
        self.actions.iter().any(pred)
    }
}

pub(super) fn drain(sb: &mut Switchboard) -> Drained {
    let mut d = Drained {
        sent: vec![],
        actions: vec![],
    };
    while let Some(a) = sb.poll_action() {
        if let Action::Transmit { data, .. } = &a {
            match message::parse_datagram(data) {
                Ok(Datagram::Message(m)) => d.sent.push(m),
                other => panic!("we sent something unparseable: {other:?}"),
            }
        }
        d.actions.push(a);
    }
    d
}

/// Run timers until `until`, collecting everything, stepping by each deadline.
pub(super) fn run_until(sb: &mut Switchboard, now: &mut Now, until: Now) -> Drained {
    let mut all = Drained {
        sent: vec![],
        actions: vec![],
    };
    while let Some(t) = sb.poll_timeout() {
        if t > until.mono {
            break;
        }
        *now = now.advanced(t.saturating_duration_since(now.mono));
        sb.handle_timeout(*now);
        let d = drain(sb);
        all.sent.extend(d.sent);
        all.actions.extend(d.actions);
    }
    *now = until;
    all
}

/// The prompt `tag` of `call` has finished playing: what the switchboard did next.
pub(super) fn prompt_finished(sb: &mut Switchboard, call: CallRef, tag: u32, now: Now) -> Drained {
    sb.handle_media_event(call, MediaEvent::PromptFinished { tag }, now);
    drain(sb)
}

/// INVITE → OpenMedia → opened on port 30000: returns the call, our To tag, and what was sent.
pub(super) fn answered_call(
    sb: &mut Switchboard,
    now: Now,
    call_id: &str,
) -> (CallRef, String, Drained) {
    sb.handle_datagram(
        &invite(call_id, "792112", Some(&sdp(17000, "0 8 101"))),
        trunk(),
        now,
    );
    let first = drain(sb);
    assert_eq!(first.statuses(), vec![100]);
    let call = first.open_media().expect("media requested");
    let remote: SocketAddr = "127.0.0.1:17000".parse().unwrap();
    assert!(
        first.has(
            |a| matches!(a, Action::OpenCallerMedia { media, .. } if media.sdp_addr == remote)
        ),
        "the caller's media goes to the address in its offer"
    );
    sb.handle_media_ready(call, Leg::Caller, Some(30000), now);
    let d = drain(sb);
    let ok = d.response(200);
    let tag = message::to_tag(ok).unwrap().expect("200 has a To tag");
    (call, tag, d)
}

#[test]
fn after_hours_call_is_answered_plays_the_message_and_is_hung_up() {
    let mut sb = switchboard(false);
    let mut now = t0();
    let (call, tag, d) = answered_call(&mut sb, now, "ah1");
    let ok = d.response(200);
    let body = String::from_utf8_lossy(&ok.body);
    assert!(body.contains("m=audio 30000 RTP/AVP 0"), "{body}");
    let (prompts, prompt_tag) = d.played().expect("a playback");
    assert_eq!(prompts, vec![PromptKind::AfterHours]);
    sb.handle_datagram(&in_dialog("ACK", "ah1", &tag, 1, "ack1"), trunk(), now);
    assert!(drain(&mut sb).sent.is_empty());

    now = now.advanced(Duration::from_secs(8));
    sb.handle_media_event(
        call,
        MediaEvent::PromptFinished {
            tag: prompt_tag.wrapping_add(7),
        },
        now,
    );
    assert!(
        drain(&mut sb).sent.is_empty(),
        "a stale playback's end changes nothing"
    );
    sb.handle_media_event(call, MediaEvent::PromptFinished { tag: prompt_tag }, now);
    let d = drain(&mut sb);
    assert_eq!(d.requests(), vec!["BYE"]);
    assert!(d.has(|a| matches!(a, Action::CloseMedia { .. })));
    let end = d.final_update();
    assert_eq!(end.outcome, Some(Outcome::AfterHours));
    assert_eq!(end.hangup_by, Some(HangupBy::System));
    assert_eq!(end.end_reason.map(|r| r.as_str()), Some("prompt_done"));

    // The caller answers the BYE: the call is gone; only lingering transactions remain.
    let bye = &d.sent[0];
    let SipMessage::Request(bye) = bye else {
        unreachable!()
    };
    let ok = message::response_to(bye, 200, None);
    sb.handle_message(SipMessage::Response(ok), trunk(), now);
    drain(&mut sb);
    assert_eq!(sb.active_calls(), 0);
    let later = now.advanced(Duration::from_secs(64));
    run_until(&mut sb, &mut now, later);
    assert_eq!(sb.transactions(), 0, "no transaction outlives its timers");
}

#[test]
fn in_hours_with_nobody_logged_in_the_caller_is_told_and_let_go() {
    let mut sb = switchboard(true);
    let now = t0();
    let (call, _, d) = answered_call(&mut sb, now, "g1");
    let (prompts, tag) = d.played().unwrap();
    assert_eq!(prompts, vec![PromptKind::Greeting]);
    let (prompts, tag) = prompt_finished(&mut sb, call, tag, now).played().unwrap();
    assert_eq!(prompts, vec![PromptKind::RecordingNotice]);
    let (prompts, tag) = prompt_finished(&mut sb, call, tag, now).played().unwrap();
    assert_eq!(prompts, vec![PromptKind::NoOperators]);
    let d = prompt_finished(&mut sb, call, tag, now);
    assert_eq!(d.requests(), vec!["BYE"]);
    assert_eq!(d.final_update().outcome, Some(Outcome::NoOperators));
}

/// Joining the queue orders hold music, and with nobody logged in the queue answers at
/// once with the farewell: the hold music must not go out first, or the caller hears a
/// packet of it before "no operators".
#[test]
fn with_nobody_logged_in_no_hold_music_is_ordered_before_the_farewell() {
    let mut sb = switchboard(true);
    let now = t0();
    let (call, _, d) = answered_call(&mut sb, now, "g2");
    let (_, tag) = d.played().unwrap();
    let (_, tag) = prompt_finished(&mut sb, call, tag, now).played().unwrap();
    let d = prompt_finished(&mut sb, call, tag, now);
    let plays: Vec<Vec<PromptKind>> = d
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::Media {
                order: MediaOrder::Play { prompts, .. },
                ..
            } => Some(prompts.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(plays, vec![vec![PromptKind::NoOperators]]);
}

#[test]
fn every_invite_opens_its_row_first() {
    let mut sb = switchboard(false);
    sb.handle_datagram(
        &invite("row1", "792112", Some(&sdp(17000, "0"))),
        trunk(),
        t0(),
    );
    let d = drain(&mut sb);
    match d.writes().first() {
        Some(RegisterWrite::Open(row)) => {
            assert_eq!(row.sip_call_id, "row1");
            assert_eq!(row.caller, "+79115550101");
            assert_eq!(row.dialed, "792112");
            assert_eq!(row.source, "udp:127.0.0.1:5071");
        }
        other => panic!("first write should open the row: {other:?}"),
    }
}

#[test]
fn caller_bye_during_the_prompt_ends_the_call_at_once() {
    let mut sb = switchboard(false);
    let now = t0();
    let (_, tag, _) = answered_call(&mut sb, now, "bye1");
    sb.handle_datagram(&in_dialog("ACK", "bye1", &tag, 1, "ack"), trunk(), now);
    let now = now.advanced(Duration::from_secs(2));
    sb.handle_datagram(&in_dialog("BYE", "bye1", &tag, 2, "bye"), trunk(), now);
    let d = drain(&mut sb);
    assert_eq!(d.statuses(), vec![200]);
    assert!(d.has(|a| matches!(a, Action::CloseMedia { .. })));
    let end = d.final_update();
    assert_eq!(end.hangup_by, Some(HangupBy::Caller));
    assert_eq!(end.end_reason.map(|r| r.as_str()), Some("caller_bye"));
    assert_eq!(sb.active_calls(), 0);
}

#[test]
fn refusals_get_their_status_and_a_rejected_row() {
    let cases: [(&[u8], Peer, u16, &str); 4] = [
        (
            &invite("r1", "000", Some(&sdp(17000, "0"))),
            trunk(),
            404,
            "not_our_number",
        ),
        (
            &invite("r2", "792112", Some(&sdp(17000, "0"))),
            Peer {
                transport: Transport::Udp,
                addr: "127.0.0.2:5071".parse().unwrap(),
            },
            403,
            "source_not_allowed",
        ),
        (
            &invite("r3", "792112", Some(&sdp(17000, "18"))),
            trunk(),
            488,
            "no_common_codec",
        ),
        (&invite("r4", "792112", None), trunk(), 488, "sdp_missing"),
    ];
    for (bytes, from, status, reason) in cases {
        let mut sb = switchboard(false);
        sb.handle_datagram(bytes, from, t0());
        let d = drain(&mut sb);
        assert_eq!(d.statuses(), vec![100, status], "{reason}");
        let end = d.final_update();
        assert_eq!(end.outcome, Some(Outcome::Rejected));
        assert_eq!(end.final_status, Some(status));
        assert_eq!(end.end_reason.map(|r| r.as_str()), Some(reason));
        assert!(d.open_media().is_none());
    }
}

#[test]
fn the_tel_form_of_our_number_is_answered() {
    let mut sb = switchboard(false);
    let bytes = String::from_utf8(invite("tel1", "792112", Some(&sdp(17000, "0"))))
        .unwrap()
        .replace(
            "INVITE sip:792112@127.0.0.1:5060",
            "INVITE tel:+78112792112",
        );
    sb.handle_datagram(bytes.as_bytes(), trunk(), t0());
    assert!(drain(&mut sb).open_media().is_some());
}
