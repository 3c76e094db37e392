//! The database task: batching, back-pressure, flushes, and outages. The outage tests run
//! on tokio's paused clock against a database the test controls (up, down, or never
//! answering), so back-off, retry and `APPLY_TIMEOUT` happen at exact simulated times; one
//! of them uses a real SQLite register made unusable and usable again.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::*;
use crate::model::{CallUpdate, NewCall, Outcome};
use crate::store::ApplyReport;

fn open(id: &str) -> RegisterWrite {
    RegisterWrite::Open(NewCall {
        id: id.to_owned(),
        sip_call_id: format!("{id}@trunk"),
        caller: "+79110000000".to_owned(),
        dialed: "792112".to_owned(),
        source: "udp:127.0.0.1:5060".to_owned(),
        received_at: "2026-11-24T15:21:47Z".parse().expect("valid literal"),
        direction: crate::model::CallDirection::Inbound,
    })
}

fn id_of(write: &RegisterWrite) -> &str {
    match write {
        RegisterWrite::Open(call) => &call.id,
        RegisterWrite::Update { id, .. } => id,
        other => panic!("no test writes {other:?}"),
    }
}

async fn memory_store() -> Store {
    Store::open("sqlite::memory:", 1)
        .await
        .expect("in-memory register opens")
}

/// How the test's database behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Up,
    /// Every batch fails at once, as when the server refuses connections.
    Down,
    /// No batch ever gets an answer, as when the network drops every packet.
    Silent,
}

#[derive(Debug)]
struct Log {
    mode: Mode,
    /// When each batch was offered (the runtime's clock), committed or not.
    attempts: Vec<Instant>,
    committed: Vec<RegisterWrite>,
}

/// A database the test controls; clones share one.
#[derive(Debug, Clone)]
struct TestDatabase(Arc<Mutex<Log>>);

impl TestDatabase {
    fn new(mode: Mode) -> TestDatabase {
        TestDatabase(Arc::new(Mutex::new(Log {
            mode,
            attempts: Vec::new(),
            committed: Vec::new(),
        })))
    }

    fn log(&self) -> std::sync::MutexGuard<'_, Log> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn set(&self, mode: Mode) {
        self.log().mode = mode;
    }

    /// When each batch was offered, from `t0`.
    fn attempts_since(&self, t0: Instant) -> Vec<Duration> {
        self.log().attempts.iter().map(|t| *t - t0).collect()
    }

    fn committed_ids(&self) -> Vec<String> {
        self.log()
            .committed
            .iter()
            .map(|w| id_of(w).to_owned())
            .collect()
    }
}

impl Database for TestDatabase {
    fn apply(
        &self,
        writes: &[RegisterWrite],
    ) -> impl Future<Output = Result<ApplyReport, StoreError>> + Send {
        let mode = {
            let mut log = self.log();
            log.attempts.push(Clock::system().mono());
            if log.mode == Mode::Up {
                log.committed.extend_from_slice(writes);
            }
            log.mode
        };
        let report = ApplyReport {
            opened: writes.len() as u64,
            ..ApplyReport::default()
        };
        async move {
            match mode {
                Mode::Up => Ok(report),
                Mode::Down => Err(StoreError::Database {
                    source: sqlx::Error::PoolTimedOut,
                }),
                Mode::Silent => std::future::pending().await,
            }
        }
    }
}

/// Holds tokio's paused clock still until dropped, so that it moves only when the test
/// advances it: while a blocking task runs tokio never jumps the clock to its next timer,
/// which it would otherwise do whenever the runtime waits for another thread (SQLite's).
struct Frozen {
    _release: std::sync::mpsc::Sender<()>,
}

fn freeze() -> Frozen {
    let (release, released) = std::sync::mpsc::channel::<()>();
    // Returns when the guard is dropped (the sender disconnects).
    tokio::task::spawn_blocking(move || released.recv());
    Frozen { _release: release }
}

/// Waits for `fut`, at most `limit` of real time (the paused clock may stand still).
async fn within<F: Future>(limit: Duration, fut: F) -> Option<F::Output> {
    let (_done, done_rx) = std::sync::mpsc::channel::<()>();
    let deadline = tokio::task::spawn_blocking(move || {
        let _ = done_rx.recv_timeout(limit);
    });
    tokio::select! {
        biased;
        out = fut => Some(out),
        _ = deadline => None,
    }
}

const WAIT: Duration = Duration::from_secs(10);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// The time since `t0`, on the runtime's clock.
fn since(t0: Instant) -> Duration {
    Clock::system().mono() - t0
}

#[tokio::test]
async fn full_queue_hands_the_write_back() {
    let store = memory_store().await;
    // A current-thread runtime: the task cannot run until we yield, so the queue fills.
    let (writer, _task) = RegisterWriter::spawn(store, 2);
    writer.try_send(open("a")).expect("room for the first");
    writer.try_send(open("b")).expect("room for the second");
    match writer.try_send(open("c")) {
        Err(WriterError::Full(write)) => assert_eq!(write, open("c")),
        other => panic!("expected Full with the write back, got {other:?}"),
    }
    assert_eq!(writer.stats().full, 1);
    assert_eq!(writer.stats().queued, 2);
    writer.flush().await.expect("writer runs");
    let stats = writer.stats();
    assert_eq!((stats.queued, stats.written, stats.batches), (0, 2, 1));
}

#[tokio::test]
async fn inapplicable_writes_are_counted_not_retried() {
    let store = memory_store().await;
    let (writer, _task) = RegisterWriter::spawn(store.clone(), 16);
    writer.send(open("a")).await.expect("queued");
    writer
        .send(RegisterWrite::Update {
            id: "missing".to_owned(),
            update: CallUpdate {
                outcome: Some(Outcome::Answered),
                ..CallUpdate::default()
            },
        })
        .await
        .expect("queued");
    writer.send(open("b")).await.expect("queued");
    writer.flush().await.expect("writer runs");
    let stats = writer.stats();
    assert_eq!((stats.written, stats.skipped, stats.failures), (2, 1, 0));
    assert_eq!(store.count_calls().await.expect("count"), 2);
}

#[tokio::test]
async fn task_drains_and_ends_when_senders_are_dropped() {
    let store = memory_store().await;
    let (writer, task) = RegisterWriter::spawn(store.clone(), 64);
    for i in 0..10 {
        writer.try_send(open(&format!("call-{i}"))).expect("room");
    }
    drop(writer);
    task.await.expect("task ends cleanly");
    assert_eq!(store.count_calls().await.expect("count"), 10);
}

#[tokio::test]
async fn writes_left_in_the_spool_are_replayed_at_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("register.spool");
    let mut spool = Spool::open(&path).await.expect("spool");
    spool
        .append(&[open("old-1"), open("old-2")])
        .await
        .expect("append");
    drop(spool);

    let store = memory_store().await;
    let spool = Spool::open(&path).await.expect("spool");
    let (writer, _task) = RegisterWriter::spawn_with_spool(store.clone(), 8, spool);
    writer.send(open("new")).await.expect("queued");
    writer.flush_committed().await.expect("flush");
    let ids: Vec<String> = store
        .recent_calls(10)
        .await
        .expect("rows")
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(ids.len(), 3);
    let stats = writer.stats();
    assert_eq!((stats.replayed, stats.written, stats.spooled), (2, 3, 0));
}

#[tokio::test(start_paused = true)]
async fn a_real_register_outage_goes_to_the_spool_and_is_replayed_in_order() {
    use sqlx::{Connection, Executor};
    let _frozen = freeze();
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("r.db").display());
    let store = Store::open(&url, 1).await.expect("open");
    let spool = Spool::open(dir.path().join("spool/register.spool"))
        .await
        .expect("spool");
    let (writer, task) = RegisterWriter::spawn_with_spool(store.clone(), 64, spool);
    writer.send(open("before")).await.expect("queued");
    writer.flush().await.expect("flush");
    assert_eq!(writer.stats().written, 1);

    let mut side = sqlx::SqliteConnection::connect(&url).await.expect("side");
    side.execute("ALTER TABLE calls RENAME TO calls_away")
        .await
        .expect("outage");
    let done = |id: &str| RegisterWrite::Update {
        id: id.to_owned(),
        update: CallUpdate {
            outcome: Some(Outcome::Answered),
            ..CallUpdate::default()
        },
    };
    for id in ["during-1", "during-2"] {
        writer.send(open(id)).await.expect("queued");
        writer.send(done(id)).await.expect("queued");
        // Durable in the spool: flush does not wait for the database.
        within(WAIT, writer.flush())
            .await
            .expect("flush returns during the outage")
            .expect("flush");
    }
    writer.send(done("before")).await.expect("queued");
    let committed = tokio::spawn({
        let writer = writer.clone();
        async move { writer.flush_committed().await }
    });
    writer.flush().await.expect("flush");
    let stats = writer.stats();
    assert_eq!((stats.spooled, stats.queued, stats.written), (5, 0, 1));
    assert_eq!(stats.failures, 1);
    assert!(!committed.is_finished(), "not in the database yet");

    side.execute("ALTER TABLE calls_away RENAME TO calls")
        .await
        .expect("back");
    // The clock stands still until moved: the replay comes at the first retry.
    tokio::time::advance(FIRST_BACKOFF).await;
    within(WAIT, committed)
        .await
        .expect("replayed once the database is back")
        .expect("task")
        .expect("flush");
    let stats = writer.stats();
    assert_eq!((stats.spooled, stats.replayed, stats.written), (0, 5, 6));
    assert_eq!(stats.skipped, 0);
    for id in ["before", "during-1", "during-2"] {
        let row = store.call(id).await.expect("read").expect("row");
        assert_eq!(row.outcome, "answered", "{id}");
    }
    let spool_file = dir.path().join("spool/register.spool");
    assert_eq!(std::fs::metadata(&spool_file).expect("spool").len(), 0);

    // Back to direct writes.
    writer.send(open("after")).await.expect("queued");
    writer.flush_committed().await.expect("flush");
    assert!(store.call("after").await.expect("read").is_some());
    assert_eq!(writer.stats().spooled, 0);
    drop(writer);
    task.await.expect("task ends");
}

#[tokio::test(start_paused = true)]
async fn an_outage_is_retried_with_doubling_back_off_and_the_spool_replayed_in_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("register.spool");
    let spool = Spool::open(&path).await.expect("spool");
    let database = TestDatabase::new(Mode::Down);
    let (writer, _task) = RegisterWriter::spawn_with_spool(database.clone(), 64, spool);
    let t0 = Clock::system().mono();
    writer.send(open("a")).await.expect("queued");
    // Durable in the spool although the database refused it: flush does not wait for it.
    writer.flush().await.expect("flush");
    let stats = writer.stats();
    assert_eq!((stats.failures, stats.spooled, stats.queued), (1, 1, 0));
    // While the spool holds writes, new ones go behind them without trying the database.
    writer.send(open("b")).await.expect("queued");
    writer.flush().await.expect("flush");
    assert_eq!(database.attempts_since(t0), [ms(0)]);
    assert_eq!(writer.stats().spooled, 2);
    let committed = tokio::spawn({
        let writer = writer.clone();
        async move { writer.flush_committed().await }
    });

    // Replays are tried 50 ms after the failure, then after twice as long each time, up
    // to two seconds.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let expected = [0, 50, 150, 350, 750, 1_550, 3_150, 5_150].map(ms);
    assert_eq!(database.attempts_since(t0), expected);
    assert!(!committed.is_finished(), "nothing committed yet");
    assert_eq!(writer.stats().failures, 8);

    database.set(Mode::Up);
    committed.await.expect("task").expect("flush");
    assert_eq!(since(t0), ms(7_150));
    assert_eq!(database.committed_ids(), ["a", "b"], "in the order queued");
    let stats = writer.stats();
    assert_eq!((stats.spooled, stats.replayed, stats.written), (0, 2, 2));
    assert_eq!(std::fs::metadata(&path).expect("spool").len(), 0);

    // Back to direct writes, with the back-off reset.
    writer.send(open("c")).await.expect("queued");
    writer.flush_committed().await.expect("flush");
    assert_eq!(database.committed_ids(), ["a", "b", "c"]);
    assert_eq!(database.attempts_since(t0).len(), 10);
}

#[tokio::test(start_paused = true)]
async fn a_database_that_never_answers_is_given_up_on_after_apply_timeout() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spool = Spool::open(dir.path().join("register.spool"))
        .await
        .expect("spool");
    let database = TestDatabase::new(Mode::Silent);
    let (writer, _task) = RegisterWriter::spawn_with_spool(database.clone(), 64, spool);
    let t0 = Clock::system().mono();
    writer.send(open("a")).await.expect("queued");
    writer.flush().await.expect("flush");
    assert_eq!(since(t0), APPLY_TIMEOUT, "spooled when the wait ran out");
    let stats = writer.stats();
    assert_eq!((stats.failures, stats.spooled), (1, 1));

    database.set(Mode::Up);
    writer.flush_committed().await.expect("flush");
    assert_eq!(since(t0), APPLY_TIMEOUT + FIRST_BACKOFF);
    assert_eq!(database.committed_ids(), ["a"]);
}

#[tokio::test(start_paused = true)]
async fn without_a_spool_a_failed_batch_is_held_and_retried_until_it_commits() {
    let database = TestDatabase::new(Mode::Down);
    let (writer, _task) = RegisterWriter::spawn(database.clone(), 16);
    let t0 = Clock::system().mono();
    writer.send(open("a")).await.expect("queued");
    let flushed = tokio::spawn({
        let writer = writer.clone();
        async move { writer.flush().await }
    });
    tokio::time::sleep(ms(200)).await;
    assert_eq!(database.attempts_since(t0), [0, 50, 150].map(ms));
    assert!(!flushed.is_finished(), "nothing durable during the outage");
    assert_eq!(writer.stats().queued, 1);

    database.set(Mode::Up);
    flushed.await.expect("task").expect("flush");
    assert_eq!(since(t0), ms(350));
    assert_eq!(database.committed_ids(), ["a"]);
    let stats = writer.stats();
    assert_eq!(
        (stats.written, stats.queued, stats.retries, stats.failures),
        (1, 0, 3, 3)
    );
}

#[tokio::test(start_paused = true)]
async fn the_outbox_holds_writes_in_order_while_the_queue_is_full() {
    let database = TestDatabase::new(Mode::Up);
    // A current-thread runtime: the task takes nothing until this test yields.
    let (writer, _task) = RegisterWriter::spawn(database.clone(), 1);
    let mut outbox = Outbox::new(writer.clone());
    for id in ["a", "b", "c"] {
        outbox.push(open(id));
    }
    assert!(outbox.is_holding(), "b and c wait behind a full queue");
    assert_eq!((outbox.stats().queued, outbox.stats().full), (1, 2));
    tokio::task::yield_now().await;
    outbox.push(open("d"));
    outbox.drain().await;
    assert!(!outbox.is_holding());
    writer.flush_committed().await.expect("flush");
    assert_eq!(database.committed_ids(), ["a", "b", "c", "d"]);
}
