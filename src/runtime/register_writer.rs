//! The database task: takes [`RegisterWrite`]s from the engine and commits them in batches.
//!
//! The engine never waits on the database: it hands writes to a bounded queue with
//! [`RegisterWriter::try_send`]. When the queue is full the write is handed back
//! ([`WriterError::Full`]), never dropped; the engine keeps it and offers it again (and
//! counts the back-pressure). The task takes everything already queued (up to
//! [`MAX_BATCH`]) and applies it with [`Store::apply`] in one transaction.
//!
//! Run loop: wait for the first queued item, drain the queue without waiting up to
//! `MAX_BATCH`, commit, answer any flush requests that were in the batch, repeat. When
//! every [`RegisterWriter`] is dropped, the queue is drained and the task ends.
//!
//! Invariants:
//! - No write is lost: a failed batch is retried, whole and unchanged, with backoff
//!   ([`FIRST_BACKOFF`] doubling to [`MAX_BACKOFF`]) until it commits. A batch that failed
//!   was rolled back, and `Open` is idempotent, so a retry never duplicates a row. (During
//!   a long outage the queue fills and `try_send` reports `Full`; an on-disk spool for that
//!   case is still to come.)
//! - Order is kept: writes are committed in queue order, one batch at a time.
//! - A write the register cannot apply (an update for an unknown call, a duplicate open,
//!   a write the database refuses) is logged and counted in [`WriterStats::skipped`];
//!   retrying it would never succeed and would stall everything behind it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::store::Store;
use crate::switchboard::register::RegisterWrite;

/// The most writes committed in one transaction. Large enough that a burst costs few
/// commits (each one an fsync of the WAL), small enough that one transaction holds the
/// write lock only for milliseconds.
pub const MAX_BATCH: usize = 512;
/// The wait before the first retry of a failed batch.
pub const FIRST_BACKOFF: Duration = Duration::from_millis(50);
/// The longest wait between retries.
pub const MAX_BACKOFF: Duration = Duration::from_secs(2);

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
}

// Flushes are rare; boxing every write to shrink them would cost an allocation per write.
#[allow(clippy::large_enum_variant)]
enum Item {
    Write(RegisterWrite),
    /// Answered once everything queued before it has been committed.
    Flush(oneshot::Sender<()>),
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
        let (queue, items) = mpsc::channel(capacity.max(1));
        let counters = Arc::new(Counters::default());
        let task = tokio::spawn(run(store, items, Arc::clone(&counters)));
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
                    Item::Flush(_) => unreachable!("the item sent was a write"),
                }
            }
        }
    }

    /// Resolves once every write queued before this call has been committed (or skipped
    /// as inapplicable). Waits through database outages: the writer retries until the
    /// batch commits.
    pub async fn flush(&self) -> Result<(), WriterError> {
        let (done, committed) = oneshot::channel();
        self.queue
            .send(Item::Flush(done))
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
        }
    }
}

async fn run(store: Store, mut items: mpsc::Receiver<Item>, counters: Arc<Counters>) {
    let mut batch: Vec<RegisterWrite> = Vec::with_capacity(MAX_BATCH);
    let mut flushes: Vec<oneshot::Sender<()>> = Vec::new();
    // `recv` returns `None` only once every sender is gone and the queue is empty.
    while let Some(first) = items.recv().await {
        let mut next = Some(first);
        while let Some(item) = next.take() {
            match item {
                Item::Write(write) => batch.push(write),
                Item::Flush(done) => flushes.push(done),
            }
            if batch.len() < MAX_BATCH {
                next = items.try_recv().ok();
            }
        }
        commit(&store, &batch, &counters).await;
        batch.clear();
        for done in flushes.drain(..) {
            // The flusher may have given up waiting; nothing to tell it then.
            let _ = done.send(());
        }
    }
    tracing::debug!("register writer: queue closed and drained");
}

/// Applies `batch` until it commits; never gives up (see the module invariants).
async fn commit(store: &Store, batch: &[RegisterWrite], counters: &Counters) {
    if batch.is_empty() {
        return;
    }
    let mut backoff = FIRST_BACKOFF;
    let mut attempt: u32 = 1;
    loop {
        match store.apply(batch).await {
            Ok(report) => {
                for skipped in &report.skipped {
                    tracing::warn!(error = %skipped.error, "register write skipped");
                }
                let skipped = report.skipped.len() as u64;
                let written = batch.len() as u64 - skipped;
                counters.written.fetch_add(written, Ordering::Relaxed);
                counters.skipped.fetch_add(skipped, Ordering::Relaxed);
                counters.batches.fetch_add(1, Ordering::Relaxed);
                counters
                    .queued
                    .fetch_sub(batch.len() as u64, Ordering::Relaxed);
                if attempt > 1 {
                    tracing::info!(attempt, writes = batch.len(), "register batch committed");
                }
                return;
            }
            Err(error) => {
                counters.failures.fetch_add(1, Ordering::Relaxed);
                // Attempts 1, 2, 4, 8...: a long outage stays visible without a line
                // every two seconds.
                if attempt.is_power_of_two() {
                    tracing::warn!(
                    %error,
                    writes = batch.len(),
                    attempt,
                    retry_in_ms = backoff.as_millis() as u64,
                    "register batch failed; retrying"
                    );
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                attempt = attempt.saturating_add(1);
                counters.retries.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::switchboard::register::{CallUpdate, NewCall, Outcome};

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
}
