//! A call's course as `GET /api/calls/{id}` shows it: the moments of its row, its timeline
//! events, and the holds those events describe.
//!
//! What a QA person needs beside the recording is what each side heard. Above all an
//! operator's hold: the caller heard hold music while the recording's operator channel
//! kept what the operator said, which the caller never heard.
//!
//! Invariant: events come from the store in time order, and times are the register's
//! fixed-width UTC text, so comparing text compares instants.

use serde_json::{json, Value};

use crate::model::{CallEventKind, CallRecord};
use crate::store::EventRecord;

/// `events` as the API lists them.
pub fn events_json(events: &[EventRecord]) -> Vec<Value> {
    events
        .iter()
        .map(|e| json!({ "at": e.at, "kind": e.kind, "detail": e.detail }))
        .collect()
}

/// The call's moments and its events in time order (`received` first, `ended` last among
/// equal times; moments that did not happen are left out). An event's entry carries its
/// kind as `event`, and its `detail`.
pub fn timeline(c: &CallRecord, events: &[EventRecord]) -> Vec<Value> {
    let moments = [
        ("received", Some(c.received_at.as_str())),
        ("answered", c.answered_at.as_deref()),
        ("notice", c.notice_played_at.as_deref()),
        ("queued", c.queued_at.as_deref()),
        ("connected", c.connected_at.as_deref()),
        ("ended", c.ended_at.as_deref()),
    ];
    let mut entries: Vec<(&str, u8, Value)> = moments
        .into_iter()
        .filter_map(|(event, at)| {
            let rank = if event == "ended" { 2 } else { 0 };
            at.map(|at| (at, rank, json!({ "at": at, "event": event })))
        })
        .collect();
    entries.extend(events.iter().map(|e| {
        let entry = json!({ "at": e.at, "event": e.kind, "detail": e.detail });
        (e.at.as_str(), 1, entry)
    }));
    // Stable: equal times keep the order in which they happen in a call.
    entries.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
    entries.into_iter().map(|(_, _, entry)| entry).collect()
}

/// Who put the other on hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Caller,
    Operator,
}

impl Side {
    fn as_str(self) -> &'static str {
        match self {
            Side::Caller => "caller",
            Side::Operator => "operator",
        }
    }
}

/// The holds of a call, paired from its hold and resume events, in the order they began:
/// `{"by": "caller" | "operator", "from": at, "to": at | null}`.
///
/// A hold that is never resumed lasts until the call ended (`to` is the call's `ended_at`,
/// null while it goes on). A second hold by the same side before a resume (a phone that
/// re-sends its hold offer) continues the first; a resume without a hold is ignored.
pub fn holds(events: &[EventRecord], ended_at: Option<&str>) -> Vec<Value> {
    let mut open: [(Side, Option<&str>); 2] = [(Side::Caller, None), (Side::Operator, None)];
    let mut done: Vec<(Side, &str, Option<&str>)> = Vec::new();
    for e in events {
        let (side, holding) = match CallEventKind::parse(&e.kind) {
            Some(CallEventKind::CallerHold) => (Side::Caller, true),
            Some(CallEventKind::CallerResume) => (Side::Caller, false),
            Some(CallEventKind::OperatorHold) => (Side::Operator, true),
            Some(CallEventKind::OperatorResume) => (Side::Operator, false),
            _ => continue,
        };
        let slot = &mut open[side as usize].1;
        match (holding, *slot) {
            (true, None) => *slot = Some(&e.at),
            (false, Some(from)) => {
                done.push((side, from, Some(&e.at)));
                *slot = None;
            }
            _ => {}
        }
    }
    done.extend(
        open.iter()
            .filter_map(|(side, from)| from.map(|from| (*side, from, ended_at))),
    );
    done.sort_by(|a, b| (a.1, a.0 as u8).cmp(&(b.1, b.0 as u8)));
    done.into_iter()
        .map(|(side, from, to)| json!({ "by": side.as_str(), "from": from, "to": to }))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(at: &str, kind: &str) -> EventRecord {
        EventRecord {
            at: format!("2026-11-24T15:{at}.000Z"),
            kind: kind.into(),
            detail: None,
        }
    }

    fn t(at: &str) -> String {
        format!("2026-11-24T15:{at}.000Z")
    }

    #[test]
    fn holds_pair_each_side_s_hold_with_its_resume() {
        let events = [
            ev("22:00", "operator_hold"),
            ev("22:30", "caller_hold"),
            ev("22:40", "operator_resume"),
            ev("22:45", "caller_media_moved"),
            ev("22:50", "caller_resume"),
            ev("23:00", "operator_hold"),
            ev("23:05", "operator_hold"),
            ev("23:10", "operator_resume"),
            ev("23:20", "caller_resume"),
        ];
        assert_eq!(
            holds(&events, Some(&t("25:00"))),
            [
                json!({ "by": "operator", "from": t("22:00"), "to": t("22:40") }),
                json!({ "by": "caller", "from": t("22:30"), "to": t("22:50") }),
                json!({ "by": "operator", "from": t("23:00"), "to": t("23:10") }),
            ]
        );
    }

    #[test]
    fn a_hold_never_resumed_lasts_until_the_call_ended() {
        let events = [ev("22:00", "caller_hold"), ev("24:00", "operator_hold")];
        assert_eq!(
            holds(&events, Some(&t("25:00"))),
            [
                json!({ "by": "caller", "from": t("22:00"), "to": t("25:00") }),
                json!({ "by": "operator", "from": t("24:00"), "to": t("25:00") }),
            ]
        );
        assert_eq!(
            holds(&events[..1], None),
            [json!({ "by": "caller", "from": t("22:00"), "to": null })],
            "a call still going on"
        );
        assert!(holds(&[ev("22:00", "operator_resume")], None).is_empty());
    }

    #[test]
    fn the_timeline_puts_events_among_the_moments() {
        let call = CallRecord {
            id: "20261124T152147Z-K7Q3M9XA".into(),
            sip_call_id: "abc@trunk".into(),
            caller: "79110000001".into(),
            dialed: "792112".into(),
            source: "udp:127.0.0.1:5060".into(),
            received_at: t("21:47"),
            answered_at: Some(t("21:47")),
            queued_at: Some(t("21:55")),
            connected_at: Some(t("22:05")),
            ended_at: Some(t("23:10")),
            operator_id: Some("101".into()),
            wait_ms: Some(10_000),
            talk_ms: Some(65_000),
            outcome: "answered".into(),
            hangup_by: Some("caller".into()),
            final_status: Some(200),
            end_reason: Some("caller_bye".into()),
            recording_path: None,
            recording_ms: None,
            recording_bytes: None,
            recording_sha256: None,
            recording_error: None,
            notice_played_at: Some(t("21:48")),
            notice_completed: Some(true),
            topic: None,
            direction: "inbound".into(),
        };
        let mut moved = ev("23:10", "caller_media_moved");
        moved.detail = Some("198.51.100.7:40000".into());
        let events = [ev("22:30", "operator_hold"), moved];
        let got = timeline(&call, &events);
        let names: Vec<&str> = got.iter().map(|e| e["event"].as_str().unwrap()).collect();
        assert_eq!(
            names,
            [
                "received",
                "answered",
                "notice",
                "queued",
                "connected",
                "operator_hold",
                "caller_media_moved",
                "ended"
            ]
        );
        assert_eq!(got[6]["detail"], "198.51.100.7:40000");
        assert!(got[0].get("detail").is_none(), "moments have no detail");
        let mut bare = call.clone();
        bare.answered_at = None;
        bare.notice_played_at = None;
        bare.queued_at = None;
        bare.connected_at = None;
        assert_eq!(timeline(&bare, &[]).len(), 2);
    }
}
