//! The register writer on a real database: under load, and through an outage.

use std::time::{Duration, Instant};

use hotline::model::{CallUpdate, Outcome};
use hotline::runtime::database::{RegisterWriter, WriterError};

use super::{open, update, Harness};

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
