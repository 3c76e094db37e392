//! The spool's line format and file handling: round trips, torn tails, unreadable lines,
//! and replay that resumes where it stopped.

use super::*;
use crate::model::format_time;
use crate::store::Store;

fn ts(s: &str) -> Timestamp {
    s.parse().expect("valid literal")
}

fn open(id: &str) -> RegisterWrite {
    RegisterWrite::Open(NewCall {
        id: id.to_owned(),
        sip_call_id: format!("{id}@trunk"),
        caller: "+79110000000".to_owned(),
        dialed: "792112".to_owned(),
        source: "udp:127.0.0.1:5060".to_owned(),
        received_at: ts("2026-11-24T15:21:47.123456789Z"),
        direction: CallDirection::Inbound,
    })
}

fn every_kind() -> Vec<RegisterWrite> {
    let mut odd = open("c1");
    if let RegisterWrite::Open(call) = &mut odd {
        call.caller = "line\nbreak \"quoted\" \\ Жуков \u{0}".to_owned();
    }
    vec![
        odd,
        RegisterWrite::Update {
            id: "c1".to_owned(),
            update: CallUpdate {
                answered_at: Some(ts("2026-11-24T15:21:47.250Z")),
                queued_at: Some(ts("2026-11-24T15:21:52.5Z")),
                connected_at: Some(ts("2026-11-24T15:22:10.999999Z")),
                ended_at: Some(ts("2026-11-24T15:25:00Z")),
                operator_id: Some("101".to_owned()),
                wait_ms: Some(-1),
                talk_ms: Some(i64::MAX),
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
                notice_completed: Some(false),
                topic: Some("billing".to_owned()),
            },
        },
        RegisterWrite::Update {
            id: "c1".to_owned(),
            update: CallUpdate::default(),
        },
        RegisterWrite::Ring(RingAttempt {
            call_id: "c1".to_owned(),
            operator_id: "102".to_owned(),
            started_at: ts("2026-11-24T15:21:49Z"),
            ended_at: ts("2026-11-24T15:21:55Z"),
            result: RingResult::NoAnswer,
        }),
    ]
}

#[test]
fn every_write_round_trips_on_one_line() {
    let mut call_back = open("c2");
    if let RegisterWrite::Open(call) = &mut call_back {
        call.direction = CallDirection::Outbound;
    }
    for write in every_kind().into_iter().chain([call_back]) {
        let mut out = Vec::new();
        encode(&write, &mut out);
        assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 1);
        assert_eq!(out.last(), Some(&b'\n'));
        assert_eq!(decode(&out[..out.len() - 1]), Ok(write));
    }
}

#[test]
fn absent_fields_are_left_out_of_the_line() {
    let mut out = Vec::new();
    encode(
        &RegisterWrite::Update {
            id: "c9".to_owned(),
            update: CallUpdate {
                outcome: Some(Outcome::Abandoned),
                ..CallUpdate::default()
            },
        },
        &mut out,
    );
    assert_eq!(
        String::from_utf8(out).expect("utf-8"),
        "{\"kind\":\"update\",\"id\":\"c9\",\"outcome\":\"abandoned\"}\n"
    );
}

#[test]
fn an_open_spooled_without_a_direction_is_inbound() {
    let line = b"{\"kind\":\"open\",\"id\":\"c3\",\"sip_call_id\":\"c3@trunk\",\"caller\":\"1\",\"dialed\":\"2\",\"source\":\"udp:192.0.2.1:5060\",\"received_at\":\"2026-11-24T15:21:47Z\"}";
    let Ok(RegisterWrite::Open(call)) = decode(line) else {
        panic!("an open line");
    };
    assert_eq!(call.direction, CallDirection::Inbound);
    assert!(matches!(
        decode(b"{\"kind\":\"open\",\"id\":\"c3\",\"sip_call_id\":\"s\",\"caller\":\"1\",\"dialed\":\"2\",\"source\":\"s\",\"received_at\":\"2026-11-24T15:21:47Z\",\"direction\":\"sideways\"}"),
        Err(LineError::Vocabulary(_))
    ));
}

#[test]
fn unreadable_lines_are_errors_not_panics() {
    assert!(matches!(
        decode(b"{\"kind\":\"open\""),
        Err(LineError::Shape(_))
    ));
    assert!(matches!(decode(b"\xff\xfe"), Err(LineError::Shape(_))));
    assert!(matches!(
        decode(b"{\"kind\":\"drop\",\"id\":\"x\"}"),
        Err(LineError::Shape(_))
    ));
    assert_eq!(
        decode(b"{\"kind\":\"update\",\"id\":\"x\",\"outcome\":\"lost\"}"),
        Err(LineError::Vocabulary("lost".to_owned()))
    );
    assert_eq!(
        decode(b"{\"kind\":\"ring\",\"call_id\":\"x\",\"operator_id\":\"1\",\"started_at\":\"soon\",\"ended_at\":\"later\",\"result\":\"busy\"}"),
        Err(LineError::Time("soon".to_owned()))
    );
}

async fn memory_store() -> Store {
    Store::open("sqlite::memory:", 1)
        .await
        .expect("in-memory register")
}

#[tokio::test]
async fn appended_writes_replay_in_order_and_the_file_is_emptied() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("spool/register.spool");
    let mut spool = Spool::open(&path).await.expect("open");
    assert_eq!(spool.pending(), 0);
    let writes = every_kind();
    spool.append(&writes[..2]).await.expect("append");
    spool.append(&writes[2..]).await.expect("append");
    assert_eq!(spool.pending(), 4);
    drop(spool);

    // A restart finds them again.
    let mut spool = Spool::open(&path).await.expect("reopen");
    assert_eq!(spool.pending(), 4);
    let store = memory_store().await;
    let first = spool
        .replay_chunk(&store, 3)
        .await
        .expect("replay")
        .expect("a chunk");
    assert_eq!((first.writes, first.applied.applied()), (3, 3));
    assert_eq!(spool.pending(), 1);
    let second = spool
        .replay_chunk(&store, 3)
        .await
        .expect("replay")
        .expect("the rest");
    assert_eq!((second.writes, second.applied.applied()), (1, 1));
    assert!(spool.replay_chunk(&store, 3).await.expect("done").is_none());
    assert_eq!(spool.pending(), 0);
    assert_eq!(std::fs::metadata(&path).expect("file").len(), 0);

    let row = store.call("c1").await.expect("read").expect("row");
    assert_eq!(row.outcome, "answered");
    assert_eq!(row.received_at, "2026-11-24T15:21:47.123Z");
    assert_eq!(row.notice_completed, Some(false));
    assert_eq!(
        store.ring_attempts("c1").await.expect("rings"),
        [("102".to_owned(), "no_answer".to_owned())]
    );
}

#[tokio::test]
async fn a_torn_last_line_is_cut_off_and_appends_stay_readable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("register.spool");
    let mut text = Vec::new();
    encode(&open("a"), &mut text);
    let whole = text.len();
    encode(&open("b"), &mut text);
    text.truncate(whole + 20); // a crash half-way through the second line
    std::fs::write(&path, &text).expect("write");

    let mut spool = Spool::open(&path).await.expect("open");
    assert_eq!(spool.pending(), 1);
    assert_eq!(std::fs::metadata(&path).expect("file").len(), whole as u64);
    spool.append(&[open("c")]).await.expect("append");
    let store = memory_store().await;
    assert_eq!(spool.replay_all(&store, 512).await.expect("replay"), 2);
    let ids: Vec<String> = store
        .recent_calls(10)
        .await
        .expect("rows")
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(ids, ["c", "a"].map(String::from));
}

#[tokio::test]
async fn an_unreadable_line_is_skipped_and_counted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("register.spool");
    let mut text = Vec::new();
    encode(&open("a"), &mut text);
    text.extend_from_slice(b"{\"kind\":\"open\",\"id\":\"broken\"}\n");
    encode(&open("b"), &mut text);
    std::fs::write(&path, &text).expect("write");

    let mut spool = Spool::open(&path).await.expect("open");
    assert_eq!(spool.pending(), 3);
    let store = memory_store().await;
    let chunk = spool
        .replay_chunk(&store, 512)
        .await
        .expect("replay")
        .expect("chunk");
    assert_eq!(
        (chunk.writes, chunk.corrupt, chunk.applied.opened),
        (2, 1, 2)
    );
    assert!(spool
        .replay_chunk(&store, 512)
        .await
        .expect("done")
        .is_none());
}

#[tokio::test]
async fn a_failed_replay_keeps_the_chunk_for_the_next_attempt() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("hotline.db");
    let url = format!("sqlite://{}?mode=rwc", db.display());
    let store = Store::open(&url, 1).await.expect("open");
    let mut spool = Spool::open(dir.path().join("register.spool"))
        .await
        .expect("open");
    spool.append(&[open("a"), open("b")]).await.expect("append");

    use sqlx::{Connection, Executor};
    let mut side = sqlx::SqliteConnection::connect(&url)
        .await
        .expect("side door");
    // A database that fails every statement, as an unreachable one does.
    side.execute("ALTER TABLE calls RENAME TO calls_away")
        .await
        .expect("rename");
    let err = spool
        .replay_chunk(&store, 1)
        .await
        .expect_err("database down");
    assert!(matches!(err, SpoolError::Store(_)), "{err}");
    assert_eq!(spool.pending(), 2);
    side.execute("ALTER TABLE calls_away RENAME TO calls")
        .await
        .expect("rename back");

    assert_eq!(spool.replay_all(&store, 1).await.expect("replay"), 2);
    assert_eq!(store.count_calls().await.expect("count"), 2);
    let row = store.call("a").await.expect("read").expect("row");
    assert_eq!(row.received_at, format_time(ts("2026-11-24T15:21:47.123Z")));
}
