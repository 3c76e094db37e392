//! The database task: takes [`RegisterWrite`]s from the engine and commits them in batches,
//! and keeps them in an on-disk spool while the database is unreachable.
//!
//! The engine never waits on the database: it hands writes to a bounded queue with
//! [`RegisterWriter::try_send`]. When the queue is full the write is handed back
//! ([`WriterError::Full`]), never dropped; the engine keeps it and offers it again (and
//! counts the back-pressure). The task takes everything already queued (up to
//! [`MAX_BATCH`]) and applies it with [`Store::apply`] in one transaction.
//!
//! Run loop: wait for the first queued item, drain the queue without waiting up to
//! `MAX_BATCH`, deliver the batch, answer any flush requests that were in the batch,
//! repeat. When every [`RegisterWriter`] is dropped, the queue is drained and the task ends.
//!
//! Delivery with a spool ([`RegisterWriter::spawn_with_spool`]): a batch is committed, or,
//! when that fails (the database is down, or does not answer within [`APPLY_TIMEOUT`]),
//! appended to the [`Spool`] and synced. From then on every batch goes to the spool,
//! without trying the database, so order is kept and the queue never backs up into the
//! engine; meanwhile the task replays the spool, chunk by chunk in file order, with
//! backoff ([`FIRST_BACKOFF`] doubling to [`MAX_BACKOFF`]), and truncates it when all of it
//! has been applied. Then batches go to the database again. Without a spool
//! ([`RegisterWriter::spawn`]) a failed batch is retried in memory until it commits.
//!
//! Invariants:
//! - No write is lost: a write leaves the task's hands only once it is committed, skipped
//!   as inapplicable, or synced into the spool (and a spooled write only once it has been
//!   replayed). If neither the database nor the spool takes a batch, the task keeps it and
//!   tries both again with backoff.
//! - Nothing is written twice: a batch whose commit failed was rolled back, and one whose
//!   commit succeeded without our hearing of it (a timeout, a lost connection) is harmless
//!   to apply again, since `Open` and `Ring` are idempotent and `Update` only fills in
//!   the fields it carries.
//! - Order is kept: writes are committed in queue order; while the spool holds anything,
//!   new writes go behind it.
//! - A write the register cannot apply (an update for an unknown call, a duplicate open,
//!   a write the database refuses) is logged and counted in [`WriterStats::skipped`];
//!   retrying it would never succeed and would stall everything behind it.
//! - [`RegisterWriter::flush`] resolves once everything queued before it is durable:
//!   committed, or synced into the spool (so shutdown never waits for a database that is
//!   down); [`RegisterWriter::flush_committed`] waits until it is in the database.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::spool::Spool;
use crate::model::RegisterWrite;
use crate::store::Store;

/// The most writes committed in one transaction. Large enough that a burst costs few
/// commits (each one an fsync of the WAL), small enough that one transaction holds the
/// write lock only for milliseconds.
pub const MAX_BATCH: usize = 512;
/// The wait before the first retry of a failed batch.
pub const FIRST_BACKOFF: Duration = Duration::from_millis(50);
/// The longest wait between retries.
pub const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// How long one batch may take before the database is taken for unreachable (a network
/// that drops packets rather than refusing connections never fails on its own). Far more
/// than a healthy commit of [`MAX_BATCH`] writes takes.
pub const APPLY_TIMEOUT: Duration = Duration::from_secs(30);

/// Errors of the register writer's sender side.
#[derive(thiserror::Error, Debug)]
pub enum WriterError {
    /// The queue is full (the database is slow or down). The write is handed back
    /// unchanged for the caller to keep and offer again.
    #[error("register queue is full")]
    Full(RegisterWrite),
    /// The writer task has ended (the runtime is shutting down, or the task panicked).
    /// The write is handed back unchanged.
    #[error("register writer has stopped")]
    Closed(RegisterWrite),
    /// The writer task ended before it could confirm a flush.
    #[error("register writer stopped before the flush completed")]
    Stopped,
}

/// Counters of the writer, for metrics and tests. A snapshot: each field is read
/// separately, so fields may be a write apart from each other.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriterStats {
    /// Writes accepted into the queue and not yet committed or skipped.
    pub queued: u64,
    /// Writes committed to the register.
    pub written: u64,
    /// Writes the register could not apply (see the module invariants).
    pub skipped: u64,
    /// Transactions committed.
    pub batches: u64,
    /// Attempts to commit a batch that failed.
    pub failures: u64,
    /// Attempts that were retries of a failed batch.
    pub retries: u64,
    /// `try_send` calls turned away because the queue was full.
    pub full: u64,
    /// Writes waiting in the spool for the database to come back.
    pub spooled: u64,
    /// Writes replayed from the spool (committed or skipped).
    pub replayed: u64,
    /// Spool lines that could not be read back and were skipped.
    pub spool_corrupt: u64,
    /// Appends to the spool that failed (the disk is full or failing).
    pub spool_errors: u64,
}

#[derive(Debug, Default)]
struct Counters {
    queued: AtomicU64,
    written: AtomicU64,
    skipped: AtomicU64,
    batches: AtomicU64,
    failures: AtomicU64,
    retries: AtomicU64,
    full: AtomicU64,
    spooled: AtomicU64,
    replayed: AtomicU64,
    spool_corrupt: AtomicU64,
    spool_errors: AtomicU64,
}

// Flushes are rare; boxing every write to shrink them would cost an allocation per write.
#[allow(clippy::large_enum_variant)]
enum Item {
    Write(RegisterWrite),
    /// Answered once everything queued before it is durable (committed or spooled).
    Flush(oneshot::Sender<()>),
    /// Answered once everything queued before it has been committed to the database.
    FlushCommitted(oneshot::Sender<()>),
}

/// The sending side of the register writer. Clones share one queue and one task.
#[derive(Debug, Clone)]
pub struct RegisterWriter {
    queue: mpsc::Sender<Item>,
    counters: Arc<Counters>,
}

impl RegisterWriter {
    /// Spawns the writer task on the current tokio runtime, with a queue of `capacity`
    /// items (at least 1). The task ends once every `RegisterWriter` is dropped and the
    /// queue is drained.
    ///
    /// Panics if called outside a tokio runtime.
    pub fn spawn(store: Store, capacity: usize) -> (RegisterWriter, JoinHandle<()>) {
        Self::spawn_inner(store, capacity, None)
    }

    /// As [`RegisterWriter::spawn`], with an outage spool (see the module doc). Writes
    /// already in the spool (left by a previous run) are replayed first, before anything
    /// queued now.
    ///
    /// Panics if called outside a tokio runtime.
    pub fn spawn_with_spool(
        store: Store,
        capacity: usize,
        spool: Spool,
    ) -> (RegisterWriter, JoinHandle<()>) {
        Self::spawn_inner(store, capacity, Some(spool))
    }

    fn spawn_inner(
        store: Store,
        capacity: usize,
        spool: Option<Spool>,
    ) -> (RegisterWriter, JoinHandle<()>) {
        let (queue, items) = mpsc::channel(capacity.max(1));
        let counters = Arc::new(Counters::default());
        if let Some(spool) = &spool {
            counters.spooled.store(spool.pending(), Ordering::Relaxed);
        }
        let task = tokio::spawn(run(store, items, Arc::clone(&counters), spool));
        (RegisterWriter { queue, counters }, task)
    }

    /// Queues a write without waiting. On `Err` the write comes back inside the error.
    #[allow(clippy::result_large_err)] // handing the write back is the point of the error
    pub fn try_send(&self, write: RegisterWrite) -> Result<(), WriterError> {
        // Count before sending, so the task can never uncount a write we have not counted.
        self.counters.queued.fetch_add(1, Ordering::Relaxed);
        match self.queue.try_send(Item::Write(write)) {
            Ok(()) => Ok(()),
            Err(err) => {
                self.counters.queued.fetch_sub(1, Ordering::Relaxed);
                match err {
                    mpsc::error::TrySendError::Full(Item::Write(write)) => {
                        self.counters.full.fetch_add(1, Ordering::Relaxed);
                        Err(WriterError::Full(write))
                    }
                    mpsc::error::TrySendError::Closed(Item::Write(write)) => {
                        Err(WriterError::Closed(write))
                    }
                    _ => unreachable!("the item sent was a write"),
                }
            }
        }
    }

    /// Queues a write, waiting for room. For callers that may wait (shutdown, tools);
    /// the engine uses [`RegisterWriter::try_send`].
    #[allow(clippy::result_large_err)] // handing the write back is the point of the error
    pub async fn send(&self, write: RegisterWrite) -> Result<(), WriterError> {
        self.counters.queued.fetch_add(1, Ordering::Relaxed);
        match self.queue.send(Item::Write(write)).await {
            Ok(()) => Ok(()),
            Err(mpsc::error::SendError(item)) => {
                self.counters.queued.fetch_sub(1, Ordering::Relaxed);
                match item {
                    Item::Write(write) => Err(WriterError::Closed(write)),
                    Item::Flush(_) | Item::FlushCommitted(_) => {
                        unreachable!("the item sent was a write")
                    }
                }
            }
        }
    }

    /// Resolves once every write queued before this call is durable: committed (or
    /// skipped as inapplicable), or synced into the spool. Without a spool, or when the
    /// spool cannot be written, it waits through database outages until the batch commits.
    pub async fn flush(&self) -> Result<(), WriterError> {
        let (done, durable) = oneshot::channel();
        self.queue
            .send(Item::Flush(done))
            .await
            .map_err(|_| WriterError::Stopped)?;
        durable.await.map_err(|_| WriterError::Stopped)
    }

    /// Resolves once every write queued before this call has been committed to the
    /// database (or skipped as inapplicable), spooled ones included. Waits through
    /// outages.
    pub async fn flush_committed(&self) -> Result<(), WriterError> {
        let (done, committed) = oneshot::channel();
        self.queue
            .send(Item::FlushCommitted(done))
            .await
            .map_err(|_| WriterError::Stopped)?;
        committed.await.map_err(|_| WriterError::Stopped)
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> WriterStats {
        let c = &self.counters;
        WriterStats {
            queued: c.queued.load(Ordering::Relaxed),
            written: c.written.load(Ordering::Relaxed),
            skipped: c.skipped.load(Ordering::Relaxed),
            batches: c.batches.load(Ordering::Relaxed),
            failures: c.failures.load(Ordering::Relaxed),
            retries: c.retries.load(Ordering::Relaxed),
            full: c.full.load(Ordering::Relaxed),
            spooled: c.spooled.load(Ordering::Relaxed),
            replayed: c.replayed.load(Ordering::Relaxed),
            spool_corrupt: c.spool_corrupt.load(Ordering::Relaxed),
            spool_errors: c.spool_errors.load(Ordering::Relaxed),
        }
    }
}

mod task;
use task::run;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CallUpdate, NewCall, Outcome};
    use std::time::Duration;

    fn open(id: &str) -> RegisterWrite {
        RegisterWrite::Open(NewCall {
            id: id.to_owned(),
            sip_call_id: format!("{id}@trunk"),
            caller: "+79110000000".to_owned(),
            dialed: "792112".to_owned(),
            source: "udp:127.0.0.1:5060".to_owned(),
            received_at: "2026-11-24T15:21:47Z".parse().expect("valid literal"),
        })
    }

    async fn memory_store() -> Store {
        Store::open("sqlite::memory:", 1)
            .await
            .expect("in-memory register opens")
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
    async fn an_outage_goes_to_the_spool_and_is_replayed_in_order() {
        use sqlx::{Connection, Executor};
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
            tokio::time::timeout(Duration::from_secs(5), writer.flush())
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
        assert!(stats.failures >= 1);
        assert!(!committed.is_finished(), "not in the database yet");

        side.execute("ALTER TABLE calls_away RENAME TO calls")
            .await
            .expect("back");
        tokio::time::timeout(Duration::from_secs(10), committed)
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
}
