//! The call register's behaviour, written once and run against every backend
//! (`tests/store_sqlite.rs`, `tests/store_postgres.rs`): what one backend answers, the other
//! must answer the same way.
//!
//! `store_cases!(Harness)` expands to one `#[tokio::test]` per case below; a [`Harness`]
//! gives each case an empty register of its own and a side door for raw SQL.
#![allow(dead_code)]

use std::future::Future;
use std::time::{Duration, Instant};

use hotline::runtime::register_writer::{RegisterWriter, WriterError};
use hotline::store::{Store, StoreError};
use hotline::model::{
    EndReason,
    CallRecord, CallUpdate, HangupBy, NewCall, Outcome, RegisterWrite, RingAttempt,
};
use jiff::Timestamp;

mod throughput;
pub use throughput::*;

/// One empty register on one backend.
pub trait Harness: Sized {
    fn new() -> impl Future<Output = Self>;
    fn url(&self) -> String;
    /// Runs one statement (no parameters) on a connection of its own.
    fn exec(&self, sql: &str) -> impl Future<Output = Result<u64, sqlx::Error>>;
    /// Statements that make the database refuse any update setting `end_reason =
    /// 'bad_contact'` and any ring attempt of operator `poison`
    /// (a stand-in for any constraint the database might enforce on one write).
    const POISON: &'static [&'static str];

    fn store(&self, max_connections: u32) -> impl Future<Output = Store> {
        let url = self.url();
        async move {
            Store::open(&url, max_connections)
                .await
                .unwrap_or_else(|e| panic!("open register: {e}"))
        }
    }
}

/// One `#[tokio::test]` per shared case, on the backend of `$harness`.
#[macro_export]
macro_rules! store_cases {
    ($harness:ty) => {
        $crate::store_cases!(@cases $harness;
            open_and_update_round_trip_every_column,
            an_update_leaves_absent_fields_alone,
            the_schema_rejects_unknown_outcomes_and_hangup_parties,
            inapplicable_writes_are_skipped_and_the_batch_commits,
            applying_a_batch_twice_changes_nothing,
            ring_attempts_are_ordered_and_counted_once,
            mark_interrupted_closes_rows_left_in_progress,
            recent_calls_and_call_id_lookups_are_ordered,
            calls_with_recordings_lists_what_verify_checks,
            writer_retries_through_an_outage_without_losing_writes
        );
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn writer_under_load_loses_and_duplicates_nothing() {
            store_cases::writer_under_load_loses_and_duplicates_nothing(
                &<$harness as store_cases::Harness>::new().await,
            )
            .await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        #[ignore = "a measurement: run with --ignored --nocapture"]
        async fn register_write_throughput() {
            store_cases::register_write_throughput(
                &<$harness as store_cases::Harness>::new().await,
            )
            .await;
        }
    };
    (@cases $harness:ty; $($case:ident),*) => {
        $(
            #[tokio::test]
            async fn $case() {
                store_cases::$case(&<$harness as store_cases::Harness>::new().await).await;
            }
        )*
    };
}

pub fn ts(text: &str) -> Timestamp {
    text.parse().expect("valid timestamp literal")
}

pub fn new_call(id: &str, received_at: &str) -> NewCall {
    NewCall {
        id: id.to_owned(),
        sip_call_id: format!("{id}@trunk.example"),
        caller: "+79111234567".to_owned(),
        dialed: "792112".to_owned(),
        source: "udp:192.0.2.1:5060".to_owned(),
        received_at: ts(received_at),
    }
}

pub fn open(id: &str) -> RegisterWrite {
    RegisterWrite::Open(new_call(id, "2026-11-24T15:21:47Z"))
}

pub fn update(id: &str, update: CallUpdate) -> RegisterWrite {
    RegisterWrite::Update {
        id: id.to_owned(),
        update,
    }
}

pub fn ring(call_id: &str, operator_id: &str, started_at: &str, result: &str) -> RegisterWrite {
    RegisterWrite::Ring(RingAttempt {
        call_id: call_id.to_owned(),
        operator_id: operator_id.to_owned(),
        started_at: ts(started_at),
        ended_at: ts(started_at) + jiff::SignedDuration::from_secs(3),
        result: hotline::model::RingResult::parse(result).expect("a ring result"),
    })
}

fn is_check_violation(err: &sqlx::Error) -> bool {
    err.as_database_error()
        .is_some_and(|e| e.is_check_violation())
}

pub async fn open_and_update_round_trip_every_column<H: Harness>(h: &H) {
    let store = h.store(2).await;
    let full = CallUpdate {
        answered_at: Some(ts("2026-11-24T15:21:47.250Z")),
        queued_at: Some(ts("2026-11-24T15:21:52.5Z")),
        connected_at: Some(ts("2026-11-24T15:22:10.999999Z")),
        ended_at: Some(ts("2026-11-24T15:25:00Z")),
        operator_id: Some("101".to_owned()),
        wait_ms: Some(18_499),
        talk_ms: Some(169_001),
        outcome: Some(Outcome::Answered),
        hangup_by: Some(HangupBy::Operator),
        final_status: Some(200),
        end_reason: Some(EndReason::OperatorBye),
        recording_path: Some("2026/11/24/c1.wav".to_owned()),
        recording_ms: Some(169_000),
        recording_bytes: Some(5_408_044),
        recording_sha256: Some("ab".repeat(32)),
        recording_error: Some("disk full".to_owned()),
        notice_played_at: Some(ts("2026-11-24T15:21:50Z")),
        notice_completed: Some(true),
    };
    let mut call = new_call("c1", "2026-11-24T15:21:47.123456Z");
    call.caller = "+7 (911) 123-45-67;ext=\"x\" 'Ж'".to_owned();
    let report = store
        .apply(&[RegisterWrite::Open(call), update("c1", full)])
        .await
        .expect("apply");
    assert_eq!((report.opened, report.updated), (1, 1));
    assert!(report.skipped.is_empty());

    let got = store.call("c1").await.expect("read").expect("row exists");
    let want = CallRecord {
        id: "c1".to_owned(),
        sip_call_id: "c1@trunk.example".to_owned(),
        caller: "+7 (911) 123-45-67;ext=\"x\" 'Ж'".to_owned(),
        dialed: "792112".to_owned(),
        source: "udp:192.0.2.1:5060".to_owned(),
        received_at: "2026-11-24T15:21:47.123Z".to_owned(),
        answered_at: Some("2026-11-24T15:21:47.250Z".to_owned()),
        queued_at: Some("2026-11-24T15:21:52.500Z".to_owned()),
        connected_at: Some("2026-11-24T15:22:10.999Z".to_owned()),
        ended_at: Some("2026-11-24T15:25:00.000Z".to_owned()),
        operator_id: Some("101".to_owned()),
        wait_ms: Some(18_499),
        talk_ms: Some(169_001),
        outcome: "answered".to_owned(),
        hangup_by: Some("operator".to_owned()),
        final_status: Some(200),
        end_reason: Some("operator_bye".to_owned()),
        recording_path: Some("2026/11/24/c1.wav".to_owned()),
        recording_ms: Some(169_000),
        recording_bytes: Some(5_408_044),
        recording_sha256: Some("ab".repeat(32)),
        recording_error: Some("disk full".to_owned()),
        notice_played_at: Some("2026-11-24T15:21:50.000Z".to_owned()),
        notice_completed: Some(true),
        topic: None,
    };
    assert_eq!(got, want);
    assert!(store.call("c2").await.expect("read").is_none());
    store.close().await;
}

pub async fn an_update_leaves_absent_fields_alone<H: Harness>(h: &H) {
    let store = h.store(1).await;
    let first = CallUpdate {
        queued_at: Some(ts("2026-11-24T15:21:48Z")),
        operator_id: Some("101".to_owned()),
        notice_completed: Some(false),
        ..CallUpdate::default()
    };
    let second = CallUpdate {
        ended_at: Some(ts("2026-11-24T15:23:00Z")),
        outcome: Some(Outcome::Abandoned),
        hangup_by: Some(HangupBy::Caller),
        ..CallUpdate::default()
    };
    store
        .apply(&[open("c1"), update("c1", first)])
        .await
        .expect("apply");
    store.apply(&[update("c1", second)]).await.expect("apply");
    let row = store.call("c1").await.expect("read").expect("row");
    assert_eq!(row.queued_at.as_deref(), Some("2026-11-24T15:21:48.000Z"));
    assert_eq!(row.operator_id.as_deref(), Some("101"));
    assert_eq!(row.notice_completed, Some(false));
    assert_eq!(row.ended_at.as_deref(), Some("2026-11-24T15:23:00.000Z"));
    assert_eq!(row.outcome, "abandoned");
    assert_eq!(row.hangup_by.as_deref(), Some("caller"));
    assert_eq!(row.answered_at, None);
    store.close().await;
}

pub async fn the_schema_rejects_unknown_outcomes_and_hangup_parties<H: Harness>(h: &H) {
    let store = h.store(1).await;
    store.apply(&[open("c1")]).await.expect("apply");
    let insert = |outcome: &str| {
        format!(
            "INSERT INTO calls (id, sip_call_id, caller, dialed, source, received_at, outcome) \
             VALUES ('x', 's', 'c', 'd', 'src', '2026-11-24T15:21:47.000Z', '{outcome}')"
        )
    };
    let err = h.exec(&insert("lost")).await.expect_err("unknown outcome");
    assert!(is_check_violation(&err), "{err}");
    h.exec(&insert("greeted"))
        .await
        .expect("every known outcome is accepted");
    let err = h
        .exec("UPDATE calls SET hangup_by = 'nobody' WHERE id = 'c1'")
        .await
        .expect_err("unknown hangup party");
    assert!(is_check_violation(&err), "{err}");
    let err = h
        .exec("UPDATE calls SET wait_ms = 'soon' WHERE id = 'c1'")
        .await
        .expect_err("text stays out of integer columns");
    assert!(err.as_database_error().is_some());
    assert_eq!(
        store.call("c1").await.expect("read").expect("row").outcome,
        "in_progress"
    );
    store.close().await;
}

pub async fn inapplicable_writes_are_skipped_and_the_batch_commits<H: Harness>(h: &H) {
    let store = h.store(1).await;
    store.apply(&[open("c0")]).await.expect("apply");
    for sql in H::POISON {
        h.exec(sql).await.expect("poison trigger");
    }
    let answered = CallUpdate {
        outcome: Some(Outcome::Answered),
        ..CallUpdate::default()
    };
    let poison = CallUpdate {
        end_reason: Some(EndReason::BadContact),
        outcome: Some(Outcome::Failed),
        ..CallUpdate::default()
    };
    let mut duplicate = new_call("c0", "2027-01-01T00:00:00Z");
    duplicate.caller = "someone else".to_owned();
    let report = store
        .apply(&[
            open("c1"),
            update("missing", answered.clone()),
            RegisterWrite::Open(duplicate),
            update("c1", poison),
            ring("missing", "101", "2026-11-24T15:21:50Z", "no_answer"),
            ring("c1", "poison", "2026-11-24T15:21:50Z", "no_answer"),
            update("c1", answered),
            open("c2"),
        ])
        .await
        .expect("batch commits");

    assert_eq!((report.opened, report.updated), (2, 1));
    let skipped: Vec<(usize, &StoreError)> =
        report.skipped.iter().map(|s| (s.index, &s.error)).collect();
    assert_eq!(skipped.len(), 5, "{skipped:?}");
    assert!(matches!(skipped[0], (1, StoreError::UnknownCall { id }) if id == "missing"));
    assert!(matches!(skipped[1], (2, StoreError::DuplicateCall { id }) if id == "c0"));
    assert!(matches!(skipped[2], (3, StoreError::Refused { id, .. }) if id == "c1"));
    assert!(
        matches!(skipped[3], (4, StoreError::Refused { id, .. }) if id == "missing"),
        "a ring for an unknown call is refused by the foreign key"
    );
    assert!(matches!(skipped[4], (5, StoreError::Refused { id, .. }) if id == "c1"));

    let c0 = store.call("c0").await.expect("read").expect("row");
    assert_eq!(
        c0.caller, "+79111234567",
        "a duplicate open keeps the first row"
    );
    assert_eq!(c0.received_at, "2026-11-24T15:21:47.000Z");
    let c1 = store.call("c1").await.expect("read").expect("row");
    assert_eq!(c1.outcome, "answered");
    assert_eq!(c1.end_reason, None, "the refused write left nothing behind");
    assert!(store.ring_attempts("c1").await.expect("rings").is_empty());
    assert!(store.call("c2").await.expect("read").is_some());
    assert!(store.call("missing").await.expect("read").is_none());
    assert_eq!(store.count_calls().await.expect("count"), 3);
    store.close().await;
}

/// What the outage spool relies on: a batch whose commit was not acknowledged may be
/// applied again, whole, and the register ends as if it had been applied once.
pub async fn applying_a_batch_twice_changes_nothing<H: Harness>(h: &H) {
    let store = h.store(1).await;
    let batch = [
        open("c1"),
        update(
            "c1",
            CallUpdate {
                queued_at: Some(ts("2026-11-24T15:21:48Z")),
                ..CallUpdate::default()
            },
        ),
        ring("c1", "101", "2026-11-24T15:21:49Z", "no_answer"),
        ring("c1", "102", "2026-11-24T15:21:55Z", "answered"),
        update(
            "c1",
            CallUpdate {
                operator_id: Some("102".to_owned()),
                outcome: Some(Outcome::Answered),
                talk_ms: Some(42_000),
                ..CallUpdate::default()
            },
        ),
    ];
    let first = store.apply(&batch).await.expect("first");
    assert_eq!(
        (first.opened, first.updated, first.skipped.len()),
        (1, 4, 0)
    );
    let before = store.call("c1").await.expect("read");
    let again = store.apply(&batch).await.expect("again");
    let skipped: Vec<String> = again
        .skipped
        .iter()
        .map(|s| format!("{}:{}", s.index, s.error))
        .collect();
    assert_eq!(again.opened, 0);
    assert_eq!(
        skipped,
        [
            "0:call `c1` is already in the register",
            "2:this ring attempt of call `c1` is already in the register",
            "3:this ring attempt of call `c1` is already in the register",
        ]
    );
    assert_eq!(store.call("c1").await.expect("read"), before);
    assert_eq!(store.count_calls().await.expect("count"), 1);
    assert_eq!(store.ring_attempts("c1").await.expect("rings").len(), 2);
    store.close().await;
}

pub async fn ring_attempts_are_ordered_and_counted_once<H: Harness>(h: &H) {
    let store = h.store(1).await;
    store
        .apply(&[
            open("c1"),
            ring("c1", "103", "2026-11-24T15:22:10Z", "answered"),
            ring("c1", "101", "2026-11-24T15:21:50Z", "no_answer"),
            // Same millisecond, another operator: kept in the order written.
            ring("c1", "104", "2026-11-24T15:22:00Z", "busy"),
            ring("c1", "102", "2026-11-24T15:22:00Z", "declined"),
        ])
        .await
        .expect("apply");
    let rings = store.ring_attempts("c1").await.expect("rings");
    let want = [
        ("101", "no_answer"),
        ("104", "busy"),
        ("102", "declined"),
        ("103", "answered"),
    ];
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(o, r)| (o.to_string(), r.to_string()))
        .collect();
    assert_eq!(rings, want);
    assert!(store.ring_attempts("c2").await.expect("none").is_empty());
    store.close().await;
}

pub async fn mark_interrupted_closes_rows_left_in_progress<H: Harness>(h: &H) {
    let store = h.store(1).await;
    store
        .apply(&[
            open("ringing"),
            open("caller-left"),
            update(
                "caller-left",
                CallUpdate {
                    hangup_by: Some(HangupBy::Caller),
                    ended_at: Some(ts("2026-11-24T15:22:00Z")),
                    ..CallUpdate::default()
                },
            ),
            open("done"),
            update(
                "done",
                CallUpdate {
                    outcome: Some(Outcome::AfterHours),
                    hangup_by: Some(HangupBy::System),
                    end_reason: Some(EndReason::PromptDone),
                    ..CallUpdate::default()
                },
            ),
        ])
        .await
        .expect("apply");

    let now = ts("2026-11-24T16:00:00.5Z");
    assert_eq!(store.mark_interrupted(now).await.expect("mark"), 2);

    let ringing = store.call("ringing").await.expect("read").expect("row");
    assert_eq!(ringing.outcome, "interrupted");
    assert_eq!(
        ringing.ended_at.as_deref(),
        Some("2026-11-24T16:00:00.500Z")
    );
    assert_eq!(ringing.end_reason.as_deref(), Some("server_restart"));
    assert_eq!(ringing.hangup_by.as_deref(), Some("system"));

    let left = store.call("caller-left").await.expect("read").expect("row");
    assert_eq!(left.outcome, "interrupted");
    assert_eq!(left.ended_at.as_deref(), Some("2026-11-24T15:22:00.000Z"));
    assert_eq!(left.hangup_by.as_deref(), Some("caller"));
    assert_eq!(left.end_reason.as_deref(), Some("server_restart"));

    let done = store.call("done").await.expect("read").expect("row");
    assert_eq!(done.outcome, "after_hours");
    assert_eq!(done.ended_at, None);
    assert_eq!(done.end_reason.as_deref(), Some("prompt_done"));

    assert_eq!(store.mark_interrupted(now).await.expect("mark again"), 0);
    store.close().await;
}

pub async fn recent_calls_and_call_id_lookups_are_ordered<H: Harness>(h: &H) {
    let store = h.store(1).await;
    let mut retry = new_call("b", "2026-11-24T10:00:05Z");
    retry.sip_call_id = "a@trunk.example".to_owned();
    store
        .apply(&[
            RegisterWrite::Open(new_call("c", "2026-11-24T11:00:00Z")),
            RegisterWrite::Open(new_call("a", "2026-11-24T10:00:00Z")),
            RegisterWrite::Open(retry),
            // Same moment: ids break the tie in byte order ('B' < 'a'), whatever the
            // database's locale would say.
            RegisterWrite::Open(new_call("B", "2026-11-24T09:00:00Z")),
            RegisterWrite::Open(new_call("a-9", "2026-11-24T09:00:00Z")),
        ])
        .await
        .expect("apply");

    let recent: Vec<String> = store
        .recent_calls(10)
        .await
        .expect("recent")
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(recent, ["c", "b", "a", "a-9", "B"]);
    let recent: Vec<String> = store
        .recent_calls(2)
        .await
        .expect("recent")
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(recent, ["c", "b"]);
    let same: Vec<String> = store
        .calls_by_sip_call_id("a@trunk.example")
        .await
        .expect("lookup")
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(same, ["a", "b"]);
    assert!(store
        .calls_by_sip_call_id("nobody")
        .await
        .expect("lookup")
        .is_empty());
    store.close().await;
}

pub async fn calls_with_recordings_lists_what_verify_checks<H: Harness>(h: &H) {
    let store = h.store(1).await;
    let set = |outcome, connected: bool, path: Option<&str>, error: Option<&str>| CallUpdate {
        outcome: Some(outcome),
        connected_at: connected.then(|| ts("2026-11-24T15:22:00Z")),
        recording_path: path.map(str::to_owned),
        recording_error: error.map(str::to_owned),
        ..CallUpdate::default()
    };
    store
        .apply(&[
            RegisterWrite::Open(new_call("answered", "2026-11-24T15:00:00Z")),
            update(
                "answered",
                set(Outcome::Answered, true, Some("a.wav"), None),
            ),
            RegisterWrite::Open(new_call("after-hours", "2026-11-24T15:01:00Z")),
            update("after-hours", set(Outcome::AfterHours, false, None, None)),
            RegisterWrite::Open(new_call("cut", "2026-11-24T15:02:00Z")),
            update("cut", set(Outcome::Interrupted, true, None, None)),
            RegisterWrite::Open(new_call("failed", "2026-11-24T15:03:00Z")),
            update(
                "failed",
                set(Outcome::Failed, false, None, Some("disk full")),
            ),
            RegisterWrite::Open(new_call("left", "2026-11-24T14:59:00Z")),
            update("left", set(Outcome::Abandoned, false, None, None)),
        ])
        .await
        .expect("apply");
    let ids: Vec<String> = store
        .calls_with_recordings()
        .await
        .expect("query")
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(ids, ["answered", "cut", "failed"]);
    store.close().await;
}

pub async fn writer_under_load_loses_and_duplicates_nothing<H: Harness>(h: &H) {
    const CALLS: usize = 10_000;
    const PRODUCERS: usize = 8;
    let store = h.store(2).await;
    let (writer, task) = RegisterWriter::spawn(store.clone(), 1024);

    let started = Instant::now();
    let mut producers = Vec::new();
    for p in 0..PRODUCERS {
        let writer = writer.clone();
        producers.push(tokio::spawn(async move {
            for i in (p..CALLS).step_by(PRODUCERS) {
                let id = format!("call-{i:05}");
                let done = CallUpdate {
                    outcome: Some(Outcome::Answered),
                    talk_ms: Some(i as i64),
                    ..CallUpdate::default()
                };
                for write in [open(&id), update(&id, done)] {
                    // What the engine does: never wait while there is room; hold the write
                    // when the queue is full and offer it again.
                    match writer.try_send(write) {
                        Ok(()) => {}
                        Err(WriterError::Full(write)) => {
                            writer.send(write).await.expect("writer alive")
                        }
                        Err(other) => panic!("writer stopped: {other}"),
                    }
                }
            }
        }));
    }
    for producer in producers {
        producer.await.expect("producer finished");
    }
    writer.flush().await.expect("flush");
    let elapsed = started.elapsed();

    let stats = writer.stats();
    assert_eq!(stats.written, 2 * CALLS as u64);
    assert_eq!((stats.queued, stats.skipped, stats.failures), (0, 0, 0));
    assert_eq!(store.count_calls().await.expect("count"), CALLS as u64);
    let rows = store.recent_calls(2 * CALLS as u32).await.expect("rows");
    assert_eq!(rows.len(), CALLS);
    for row in &rows {
        let i: i64 = row.id["call-".len()..].parse().expect("our id");
        assert_eq!(
            (row.outcome.as_str(), row.talk_ms),
            ("answered", Some(i)),
            "{}",
            row.id
        );
    }
    println!(
        "register writer ({}): {} writes ({CALLS} rows) in {elapsed:?} = {:.0} writes/s, \
         {} batches, {} full",
        store.backend_name(),
        stats.written,
        stats.written as f64 / elapsed.as_secs_f64(),
        stats.batches,
        stats.full
    );
    drop(writer);
    task.await.expect("writer task ends");
    store.close().await;
}

pub async fn writer_retries_through_an_outage_without_losing_writes<H: Harness>(h: &H) {
    let store = h.store(1).await;
    let (writer, _task) = RegisterWriter::spawn(store.clone(), 16);
    // The table vanishing makes every statement fail the way a broken database would.
    h.exec("ALTER TABLE calls RENAME TO calls_away")
        .await
        .expect("rename");

    writer.send(open("c1")).await.expect("queued");
    let flushed = tokio::spawn({
        let writer = writer.clone();
        async move { writer.flush().await }
    });
    tokio::time::timeout(Duration::from_secs(10), async {
        while writer.stats().failures < 2 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the writer keeps trying");
    assert!(
        !flushed.is_finished(),
        "nothing is committed during the outage"
    );
    assert_eq!(writer.stats().queued, 1);

    h.exec("ALTER TABLE calls_away RENAME TO calls")
        .await
        .expect("rename back");
    tokio::time::timeout(Duration::from_secs(10), flushed)
        .await
        .expect("flush completes once the database is back")
        .expect("task")
        .expect("flush");
    let stats = writer.stats();
    assert_eq!((stats.written, stats.queued, stats.batches), (1, 0, 1));
    assert!(stats.retries >= 2);
    assert!(store.call("c1").await.expect("read").is_some());
}
