//! A real PostgreSQL outage under the register writer: the server is stopped (as in a
//! crash) while calls go on, started again, and every write must end up in the register
//! once, in order: rows lost = 0, rows duplicated = 0.
//!
//! Uses a PostgreSQL server of its own (initdb in a temporary directory), so stopping it
//! disturbs no other test.

mod pg_support;

use std::time::{Duration, Instant};

use hotline::model::{CallUpdate, HangupBy, NewCall, Outcome, RegisterWrite, RingAttempt};
use hotline::runtime::database::{RegisterWriter, WriterError};
use hotline::runtime::spool::Spool;
use hotline::store::Store;
use jiff::{SignedDuration, Timestamp};
use pg_support::PrivateCluster;
use sqlx::{Connection, PgConnection};

/// The writes of one answered call, as the switchboard emits them.
fn call_writes(i: usize) -> [RegisterWrite; 4] {
    let id = format!("call-{i:04}");
    let t0: Timestamp = "2026-11-24T09:00:00Z".parse().expect("literal");
    let received = t0 + SignedDuration::from_secs(i as i64);
    [
        RegisterWrite::Open(NewCall {
            id: id.clone(),
            sip_call_id: format!("{id}@trunk"),
            caller: format!("+7911{i:07}"),
            dialed: "792112".to_owned(),
            source: "udp:127.0.0.1:5060".to_owned(),
            received_at: received,
            direction: hotline::model::CallDirection::Inbound,
        }),
        RegisterWrite::Update {
            id: id.clone(),
            update: CallUpdate {
                queued_at: Some(received + SignedDuration::from_millis(300)),
                ..CallUpdate::default()
            },
        },
        RegisterWrite::Ring(RingAttempt {
            call_id: id.clone(),
            operator_id: "101".to_owned(),
            started_at: received + SignedDuration::from_secs(1),
            ended_at: received + SignedDuration::from_secs(3),
            result: hotline::model::RingResult::Answered,
        }),
        RegisterWrite::Update {
            id,
            update: CallUpdate {
                connected_at: Some(received + SignedDuration::from_secs(3)),
                ended_at: Some(received + SignedDuration::from_secs(60)),
                operator_id: Some("101".to_owned()),
                talk_ms: Some(i as i64),
                outcome: Some(Outcome::Answered),
                hangup_by: Some(HangupBy::Caller),
                ..CallUpdate::default()
            },
        },
    ]
}

/// What the engine does: never wait while there is room; hold a write when the queue is
/// full and offer it again.
async fn place(writer: &RegisterWriter, calls: std::ops::Range<usize>) {
    for i in calls {
        for write in call_writes(i) {
            match writer.try_send(write) {
                Ok(()) => {}
                Err(WriterError::Full(write)) => writer.send(write).await.expect("writer alive"),
                Err(other) => panic!("writer stopped: {other}"),
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_stopped_mid_run_loses_and_duplicates_nothing() {
    const BEFORE: usize = 100;
    const DURING: usize = 300;
    const AFTER: usize = 100;
    let cluster = PrivateCluster::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let spool_path = dir.path().join("spool/register.spool");
    let store = Store::open(&cluster.url, 2).await.expect("open register");
    let spool = Spool::open(&spool_path).await.expect("spool");
    let (writer, task) = RegisterWriter::spawn_with_spool(store.clone(), 256, spool);

    place(&writer, 0..BEFORE).await;
    writer.flush_committed().await.expect("committed");
    assert_eq!(writer.stats().spooled, 0);

    // The outage: the server dies with the writer's connections open.
    cluster.stop();
    let down = Instant::now();
    place(&writer, BEFORE..BEFORE + DURING).await;
    // Durable without the database: flush returns once the writes are in the spool.
    tokio::time::timeout(Duration::from_secs(60), writer.flush())
        .await
        .expect("flush returns during the outage")
        .expect("flush");
    let during = writer.stats();
    assert_eq!(during.queued, 0);
    assert_eq!(
        during.spooled,
        (DURING * 4) as u64,
        "every write of the outage is in the spool"
    );
    let spool_lines = std::fs::read_to_string(&spool_path)
        .expect("spool file")
        .lines()
        .count();
    assert_eq!(spool_lines, DURING * 4);
    assert!(during.failures >= 1);

    cluster.start_again();
    let outage = down.elapsed();
    let back = Instant::now();
    tokio::time::timeout(Duration::from_secs(60), writer.flush_committed())
        .await
        .expect("the spool is replayed once the server is back")
        .expect("flush");
    let replay = back.elapsed();
    place(&writer, BEFORE + DURING..BEFORE + DURING + AFTER).await;
    writer.flush_committed().await.expect("committed");
    let stats = writer.stats();

    // Read the register back through a connection of our own.
    let total = BEFORE + DURING + AFTER;
    let mut conn = PgConnection::connect(&cluster.url).await.expect("connect");
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM calls")
        .fetch_one(&mut conn)
        .await
        .expect("count");
    let distinct: i64 = sqlx::query_scalar("SELECT COUNT(DISTINCT id) FROM calls")
        .fetch_one(&mut conn)
        .await
        .expect("count");
    let rings: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM ring_attempts")
        .fetch_one(&mut conn)
        .await
        .expect("count");
    let complete: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM calls WHERE outcome = 'answered' AND queued_at IS NOT NULL \
         AND operator_id = '101' AND talk_ms = CAST(substr(id, 6) AS BIGINT)",
    )
    .fetch_one(&mut conn)
    .await
    .expect("count");
    let lost = total as i64 - complete;
    let duplicated = (rows - distinct) + (rings - total as i64).max(0);
    println!(
        "outage: {outage:?} down, {DURING} calls ({} writes) spooled during it, replayed in \
         {replay:?}; {} writes replayed, {} written in all, {} skipped; calls in the register \
         {rows}/{total}, ring attempts {rings}/{total}; lost {lost}, duplicated {duplicated}",
        DURING * 4,
        stats.replayed,
        stats.written,
        stats.skipped,
    );
    assert_eq!(rows, total as i64);
    assert_eq!(lost, 0, "rows lost");
    assert_eq!(duplicated, 0, "rows duplicated");
    assert_eq!(rings, total as i64);
    assert_eq!(stats.replayed, (DURING * 4) as u64);
    assert_eq!(stats.written, (total * 4) as u64);
    assert_eq!(
        (stats.spooled, stats.queued, stats.spool_corrupt),
        (0, 0, 0)
    );
    assert_eq!(std::fs::metadata(&spool_path).expect("spool").len(), 0);

    drop(writer);
    task.await.expect("writer task ends");
    store.close().await;
}
