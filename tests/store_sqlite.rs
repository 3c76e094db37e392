//! The call register on real SQLite files: schema, round trips, batch semantics, crash
//! recovery, and the register writer under load and through a database outage.

use std::path::Path;
use std::time::{Duration, Instant};

use hotline::runtime::register_writer::{RegisterWriter, WriterError};
use hotline::store::{Store, StoreError};
use hotline::switchboard::register::{
    CallRecord, CallUpdate, HangupBy, NewCall, Outcome, RegisterWrite,
};
use jiff::Timestamp;
use sqlx::Connection;

fn ts(text: &str) -> Timestamp {
    text.parse().expect("valid timestamp literal")
}

fn url_in(dir: &Path) -> String {
    format!("sqlite://{}?mode=rwc", dir.join("hotline.db").display())
}

fn new_call(id: &str, received_at: &str) -> NewCall {
    NewCall {
        id: id.to_owned(),
        sip_call_id: format!("{id}@trunk.example"),
        caller: "+79111234567".to_owned(),
        dialed: "792112".to_owned(),
        source: "udp:192.0.2.1:5060".to_owned(),
        received_at: ts(received_at),
    }
}

fn open(id: &str) -> RegisterWrite {
    RegisterWrite::Open(new_call(id, "2026-11-24T15:21:47Z"))
}

fn update(id: &str, update: CallUpdate) -> RegisterWrite {
    RegisterWrite::Update {
        id: id.to_owned(),
        update,
    }
}

/// A connection of its own, for what the `Store` API deliberately cannot do.
async fn raw(dir: &Path) -> sqlx::SqliteConnection {
    sqlx::SqliteConnection::connect(&url_in(dir))
        .await
        .expect("raw connection")
}

#[tokio::test]
async fn open_creates_the_file_and_reopening_is_idempotent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let nested = dir.path().join("var/lib/hotline");
    let url = url_in(&nested);

    let store = Store::open(&url, 4).await.expect("first open");
    assert!(nested.join("hotline.db").is_file());
    assert_eq!(store.count_calls().await.expect("count"), 0);
    let report = store.apply(&[open("c1")]).await.expect("apply");
    assert_eq!(report.opened, 1);
    store.close().await;

    let store = Store::open(&url, 4).await.expect("second open");
    assert_eq!(store.count_calls().await.expect("count"), 1);
    store.close().await;

    // Read before another connection touches the file. WAL is recorded in the file:
    // header bytes 18 and 19 (write and read versions) are 2 in WAL mode, 1 otherwise.
    let header = std::fs::read(nested.join("hotline.db")).expect("database file");
    assert_eq!(&header[18..20], &[2, 2], "the register runs in WAL mode");

    let mut conn = raw(&nested).await;
    let migrations: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
        .fetch_one(&mut conn)
        .await
        .expect("migrations table");
    let shipped = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite"))
        .expect("migrations folder")
        .count() as i64;
    assert_eq!(
        migrations, shipped,
        "each migration applied once: re-open must not re-apply them"
    );
}

#[tokio::test]
async fn the_short_url_form_works_too() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("short.db");
    let store = Store::open(&format!("sqlite:{}", path.display()), 1)
        .await
        .expect("open");
    assert!(path.is_file());
    assert_eq!(store.count_calls().await.expect("count"), 0);
}

#[tokio::test]
async fn unsupported_and_empty_urls_are_clear_errors() {
    let err = Store::open("postgres://hotline:s3cret@db/hotline", 1)
        .await
        .expect_err("no postgres backend yet");
    assert!(matches!(&err, StoreError::UnsupportedUrl { scheme } if scheme == "postgres"));
    assert!(
        !err.to_string().contains("s3cret"),
        "a password must not reach the message"
    );
    let err = Store::open("hotline.db", 1).await.expect_err("no scheme");
    assert!(matches!(err, StoreError::UnsupportedUrl { .. }));
    let err = Store::open("sqlite:", 1).await.expect_err("no file");
    assert!(matches!(err, StoreError::MissingPath));
}

#[tokio::test]
async fn open_and_update_round_trip_every_column() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&url_in(dir.path()), 2).await.expect("open");
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
        end_reason: Some("operator_bye".to_owned()),
        recording_path: Some("2026/11/24/c1.wav".to_owned()),
        recording_ms: Some(169_000),
        recording_bytes: Some(5_408_044),
        recording_sha256: Some("ab".repeat(32)),
        recording_error: Some("disk full".to_owned()),
        notice_played_at: Some(ts("2026-11-24T15:21:50Z")),
        notice_completed: Some(true),
    };
    let mut call = new_call("c1", "2026-11-24T15:21:47.123456Z");
    call.caller = "+7 (911) 123-45-67;ext=\"x\"".to_owned();
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
        caller: "+7 (911) 123-45-67;ext=\"x\"".to_owned(),
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
}

#[tokio::test]
async fn an_update_leaves_absent_fields_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&url_in(dir.path()), 1).await.expect("open");
    let first = CallUpdate {
        queued_at: Some(ts("2026-11-24T15:21:48Z")),
        operator_id: Some("101".to_owned()),
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
    assert_eq!(row.ended_at.as_deref(), Some("2026-11-24T15:23:00.000Z"));
    assert_eq!(row.outcome, "abandoned");
    assert_eq!(row.hangup_by.as_deref(), Some("caller"));
    assert_eq!(row.answered_at, None);
}

#[tokio::test]
async fn the_schema_rejects_unknown_outcomes_and_hangup_parties() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&url_in(dir.path()), 1).await.expect("open");
    store.apply(&[open("c1")]).await.expect("apply");
    let mut conn = raw(dir.path()).await;

    let insert =
        "INSERT INTO calls (id, sip_call_id, caller, dialed, source, received_at, outcome) \
                  VALUES ('x', 's', 'c', 'd', 'src', '2026-11-24T15:21:47.000Z', ?)";
    let err = sqlx::query(insert)
        .bind("lost")
        .execute(&mut conn)
        .await
        .expect_err("unknown outcome");
    assert!(err
        .as_database_error()
        .is_some_and(|e| e.is_check_violation()));
    sqlx::query(insert)
        .bind("greeted")
        .execute(&mut conn)
        .await
        .expect("every known outcome is accepted");

    let err = sqlx::query("UPDATE calls SET hangup_by = 'nobody' WHERE id = 'c1'")
        .execute(&mut conn)
        .await
        .expect_err("unknown hangup party");
    assert!(err
        .as_database_error()
        .is_some_and(|e| e.is_check_violation()));
    let err = sqlx::query("UPDATE calls SET wait_ms = 'soon' WHERE id = 'c1'")
        .execute(&mut conn)
        .await
        .expect_err("STRICT keeps text out of integer columns");
    assert!(err.as_database_error().is_some());
    assert_eq!(
        store.call("c1").await.expect("read").expect("row").outcome,
        "in_progress"
    );
}

#[tokio::test]
async fn inapplicable_writes_are_skipped_and_the_batch_commits() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&url_in(dir.path()), 1).await.expect("open");
    store.apply(&[open("c0")]).await.expect("apply");
    let mut conn = raw(dir.path()).await;
    // Stands in for any constraint the database might enforce on one write.
    sqlx::query(
        "CREATE TRIGGER refuse_poison BEFORE UPDATE ON calls WHEN NEW.end_reason = 'poison' \
         BEGIN SELECT RAISE(ABORT, 'poisoned'); END",
    )
    .execute(&mut conn)
    .await
    .expect("trigger");

    let answered = CallUpdate {
        outcome: Some(Outcome::Answered),
        ..CallUpdate::default()
    };
    let poison = CallUpdate {
        end_reason: Some("poison".to_owned()),
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
            update("c1", answered),
            open("c2"),
        ])
        .await
        .expect("batch commits");

    assert_eq!((report.opened, report.updated), (2, 1));
    let skipped: Vec<(usize, &StoreError)> =
        report.skipped.iter().map(|s| (s.index, &s.error)).collect();
    assert_eq!(skipped.len(), 3);
    assert!(matches!(skipped[0], (1, StoreError::UnknownCall { id }) if id == "missing"));
    assert!(matches!(skipped[1], (2, StoreError::DuplicateCall { id }) if id == "c0"));
    assert!(matches!(skipped[2], (3, StoreError::Refused { id, .. }) if id == "c1"));

    let c0 = store.call("c0").await.expect("read").expect("row");
    assert_eq!(
        c0.caller, "+79111234567",
        "a duplicate open keeps the first row"
    );
    assert_eq!(c0.received_at, "2026-11-24T15:21:47.000Z");
    let c1 = store.call("c1").await.expect("read").expect("row");
    assert_eq!(c1.outcome, "answered");
    assert_eq!(c1.end_reason, None, "the refused write left nothing behind");
    assert!(store.call("c2").await.expect("read").is_some());
    assert!(store.call("missing").await.expect("read").is_none());
    assert_eq!(store.count_calls().await.expect("count"), 3);
}

#[tokio::test]
async fn mark_interrupted_closes_rows_left_in_progress() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&url_in(dir.path()), 1).await.expect("open");
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
                    end_reason: Some("prompt_done".to_owned()),
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
}

#[tokio::test]
async fn recent_calls_and_call_id_lookups_are_ordered() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&url_in(dir.path()), 1).await.expect("open");
    let mut retry = new_call("b", "2026-11-24T10:00:05Z");
    retry.sip_call_id = "a@trunk.example".to_owned();
    store
        .apply(&[
            RegisterWrite::Open(new_call("c", "2026-11-24T11:00:00Z")),
            RegisterWrite::Open(new_call("a", "2026-11-24T10:00:00Z")),
            RegisterWrite::Open(retry),
        ])
        .await
        .expect("apply");

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
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writer_under_load_loses_and_duplicates_nothing() {
    const CALLS: usize = 10_000;
    const PRODUCERS: usize = 8;
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&url_in(dir.path()), 2).await.expect("open");
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
        "register writer: {} writes ({CALLS} rows) in {elapsed:?} = {:.0} writes/s, {} batches, \
         {} full",
        stats.written,
        stats.written as f64 / elapsed.as_secs_f64(),
        stats.batches,
        stats.full
    );

    drop(writer);
    task.await.expect("writer task ends");
}

#[tokio::test]
async fn writer_retries_through_an_outage_without_losing_writes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&url_in(dir.path()), 1).await.expect("open");
    let (writer, _task) = RegisterWriter::spawn(store.clone(), 16);
    let mut conn = raw(dir.path()).await;
    // The table vanishing makes every statement fail the way a broken database would.
    sqlx::query("ALTER TABLE calls RENAME TO calls_away")
        .execute(&mut conn)
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

    sqlx::query("ALTER TABLE calls_away RENAME TO calls")
        .execute(&mut conn)
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
