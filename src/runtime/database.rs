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
//!
//! Time: the retry deadlines and [`APPLY_TIMEOUT`] are read from the runtime's [`Clock`]
//! (tokio's, so tests run outages, back-off and timeouts in paused time against a
//! [`Database`] of their own that answers at once, fails, or never answers).

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::clock::Clock;
use super::spool::Spool;
use crate::model::RegisterWrite;
use crate::store::{ApplyReport, Store, StoreError};

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

/// Where the task commits batches: the call register ([`Store`]) in service.
pub trait Database: Send + Sync + 'static {
    /// Applies `writes` in one transaction, as [`Store::apply`] does (same contract: `Err`
    /// means nothing was committed and the same batch may be applied again).
    fn apply(
        &self,
        writes: &[RegisterWrite],
    ) -> impl Future<Output = Result<ApplyReport, StoreError>> + Send;
}

impl Database for Store {
    fn apply(
        &self,
        writes: &[RegisterWrite],
    ) -> impl Future<Output = Result<ApplyReport, StoreError>> + Send {
        Store::apply(self, writes)
    }
}

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
    pub fn spawn(database: impl Database, capacity: usize) -> (RegisterWriter, JoinHandle<()>) {
        Self::spawn_inner(database, capacity, None)
    }

    /// As [`RegisterWriter::spawn`], with an outage spool (see the module doc). Writes
    /// already in the spool (left by a previous run) are replayed first, before anything
    /// queued now.
    ///
    /// Panics if called outside a tokio runtime.
    pub fn spawn_with_spool(
        database: impl Database,
        capacity: usize,
        spool: Spool,
    ) -> (RegisterWriter, JoinHandle<()>) {
        Self::spawn_inner(database, capacity, Some(spool))
    }

    fn spawn_inner(
        database: impl Database,
        capacity: usize,
        spool: Option<Spool>,
    ) -> (RegisterWriter, JoinHandle<()>) {
        let (queue, items) = mpsc::channel(capacity.max(1));
        let counters = Arc::new(Counters::default());
        if let Some(spool) = &spool {
            counters.spooled.store(spool.pending(), Ordering::Relaxed);
        }
        // The task needs monotonic deadlines only, and those are tokio's whichever clock
        // the line runs on.
        let clock = Clock::system();
        let task = tokio::spawn(run(database, items, Arc::clone(&counters), spool, clock));
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

mod outbox;
mod task;

pub use outbox::Outbox;
use task::run;

#[cfg(test)]
mod tests;
