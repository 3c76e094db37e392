//! How many register writes a second each backend takes for the writes a real call makes,
//! in the two shapes the register writer delivers them: one write per batch (a quiet line,
//! each write committed as it comes) and full batches of many calls in flight (a busy line,
//! or the outage spool replayed). Ignored by default: it measures, it does not judge.
//!
//! `cargo test --test store_sqlite --test store_postgres -- --ignored --nocapture throughput`

use std::time::Instant;

use hotline::model::{
    CallEvent, CallEventKind, CallUpdate, EndReason, HangupBy, Outcome, RegisterWrite, RingAttempt,
    RingResult,
};
use hotline::runtime::database::MAX_BATCH;
use jiff::{SignedDuration, Timestamp};

use super::{new_call, ts, update, Harness};

/// Calls in the run; every one makes [`WRITES_PER_CALL`] writes.
const CALLS: usize = 300;
/// Calls whose writes interleave in the busy shape.
const IN_FLIGHT: usize = 40;
pub const WRITES_PER_CALL: usize = 13;

/// The writes of one answered call, in the order the switchboard and the recorder emit
/// them: the row, the line's answer, the recording notice played and heard, the queue, two
/// operators who did not take it and one who did, a hold, the end, the recording's facts.
pub fn answered_call(id: &str, at: Timestamp) -> Vec<RegisterWrite> {
    let t = |ms: i64| at + SignedDuration::from_millis(ms);
    let ring = |operator: &str, from: i64, to: i64, result| {
        RegisterWrite::Ring(RingAttempt {
            call_id: id.to_owned(),
            operator_id: operator.to_owned(),
            started_at: t(from),
            ended_at: t(to),
            result,
        })
    };
    let event = |ms: i64, kind| {
        RegisterWrite::Event(CallEvent {
            call_id: id.to_owned(),
            at: t(ms),
            kind,
            detail: None,
        })
    };
    let mut open = new_call(id, "2026-11-24T15:00:00Z");
    open.received_at = at;
    vec![
        RegisterWrite::Open(open),
        update(
            id,
            CallUpdate {
                answered_at: Some(t(120)),
                final_status: Some(200),
                ..CallUpdate::default()
            },
        ),
        update(
            id,
            CallUpdate {
                notice_played_at: Some(t(300)),
                ..CallUpdate::default()
            },
        ),
        update(
            id,
            CallUpdate {
                notice_completed: Some(true),
                ..CallUpdate::default()
            },
        ),
        update(
            id,
            CallUpdate {
                queued_at: Some(t(6_000)),
                ..CallUpdate::default()
            },
        ),
        ring("101", 6_100, 21_100, RingResult::NoAnswer),
        ring("102", 21_200, 22_000, RingResult::Busy),
        ring("103", 22_100, 30_000, RingResult::Answered),
        update(
            id,
            CallUpdate {
                connected_at: Some(t(30_000)),
                operator_id: Some("103".to_owned()),
                wait_ms: Some(24_000),
                ..CallUpdate::default()
            },
        ),
        event(90_000, CallEventKind::OperatorHold),
        event(120_000, CallEventKind::OperatorResume),
        update(
            id,
            CallUpdate {
                ended_at: Some(t(200_000)),
                outcome: Some(Outcome::Answered),
                hangup_by: Some(HangupBy::Caller),
                end_reason: Some(EndReason::CallerBye),
                wait_ms: Some(24_000),
                talk_ms: Some(170_000),
                ..CallUpdate::default()
            },
        ),
        update(
            id,
            CallUpdate {
                recording_path: Some(format!("2026/11/24/{id}.wav")),
                recording_ms: Some(170_000),
                recording_bytes: Some(5_440_044),
                recording_sha256: Some("ab".repeat(32)),
                ..CallUpdate::default()
            },
        ),
    ]
}

/// `CALLS` calls, `IN_FLIGHT` at a time: call `i` starts when call `i - IN_FLIGHT` ends, and
/// the writes of the calls in flight take turns, as they reach the writer on a busy line.
fn busy_line(prefix: &str) -> Vec<RegisterWrite> {
    let base = ts("2026-11-24T08:00:00Z");
    let calls: Vec<Vec<RegisterWrite>> = (0..CALLS)
        .map(|i| {
            answered_call(
                &format!("{prefix}-{i:04}"),
                base + SignedDuration::from_secs(i as i64),
            )
        })
        .collect();
    let mut out = Vec::with_capacity(CALLS * WRITES_PER_CALL);
    for wave in calls.chunks(IN_FLIGHT) {
        for step in 0..WRITES_PER_CALL {
            out.extend(wave.iter().map(|writes| writes[step].clone()));
        }
    }
    out
}

pub async fn register_write_throughput<H: Harness>(h: &H) {
    let store = h.store(2).await;
    let quiet = busy_line("quiet");
    let started = Instant::now();
    for write in &quiet {
        let report = store
            .apply(std::slice::from_ref(write))
            .await
            .expect("apply");
        assert!(report.skipped.is_empty(), "{:?}", report.skipped);
    }
    let one_by_one = quiet.len() as f64 / started.elapsed().as_secs_f64();

    let busy = busy_line("busy");
    let started = Instant::now();
    for batch in busy.chunks(MAX_BATCH) {
        let report = store.apply(batch).await.expect("apply");
        assert!(report.skipped.is_empty(), "{:?}", report.skipped);
    }
    let batched = busy.len() as f64 / started.elapsed().as_secs_f64();

    // Both shapes leave the same rows.
    let row = store.call("busy-0123").await.expect("read").expect("row");
    assert_eq!(
        (row.outcome.as_str(), row.talk_ms),
        ("answered", Some(170_000))
    );
    assert_eq!(row.recording_ms, Some(170_000));
    assert_eq!(row.notice_completed, Some(true));
    let mut quiet_row = store.call("quiet-0123").await.expect("read").expect("row");
    quiet_row.id = row.id.clone();
    quiet_row.sip_call_id = row.sip_call_id.clone();
    quiet_row.recording_path = row.recording_path.clone();
    assert_eq!(quiet_row, row);
    println!(
        "register writes ({}), {CALLS} calls x {WRITES_PER_CALL} writes: \
         one write per batch {one_by_one:.0} writes/s; \
         batches of {MAX_BATCH}, {IN_FLIGHT} calls in flight {batched:.0} writes/s",
        store.backend_name()
    );
    store.close().await;
}
