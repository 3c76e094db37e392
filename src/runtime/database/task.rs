//! The register writer's task: batching, delivery to the database or the spool, replay.
//! The rules it keeps are the module invariants of [`super`].
//!
//! Two modes: *direct* (the spool is empty: batches go to the database) and *spooling*
//! (the spool holds writes: batches are appended to it, and a replay is tried whenever the
//! retry deadline passes, even with nothing new queued).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use super::{Counters, Database, Item, APPLY_TIMEOUT, FIRST_BACKOFF, MAX_BACKOFF, MAX_BATCH};
use crate::model::RegisterWrite;
use crate::runtime::clock::Clock;
use crate::runtime::spool::{ChunkReport, Spool, SpoolError};
use crate::store::{ApplyReport, StoreError};

struct Task<D> {
    database: D,
    clock: Clock,
    counters: Arc<Counters>,
    spool: Option<Spool>,
    /// The wait before the next retry; doubles on each failure, reset by a success.
    backoff: Duration,
    /// Consecutive failures, for logging 1, 2, 4, 8… of them.
    attempt: u32,
    /// When spooling: when to try replaying next.
    retry_at: Instant,
    /// `flush_committed` callers waiting for the spool to be replayed.
    waiting_commit: Vec<oneshot::Sender<()>>,
}

pub(super) async fn run(
    database: impl Database,
    mut items: mpsc::Receiver<Item>,
    counters: Arc<Counters>,
    spool: Option<Spool>,
    clock: Clock,
) {
    let mut task = Task {
        database,
        retry_at: clock.mono(),
        clock,
        counters,
        spool,
        backoff: FIRST_BACKOFF,
        attempt: 0,
        waiting_commit: Vec::new(),
    };
    if task.spooling() {
        tracing::info!(
            writes = task.spool.as_ref().map_or(0, Spool::pending),
            "register spool holds writes from before; replaying them first"
        );
        task.replay().await;
    }
    let mut batch: Vec<RegisterWrite> = Vec::with_capacity(MAX_BATCH);
    let mut flushes: Vec<oneshot::Sender<()>> = Vec::new();
    let mut committed: Vec<oneshot::Sender<()>> = Vec::new();
    loop {
        let first = if task.spooling() {
            tokio::select! {
                item = items.recv() => item,
                () = sleep_until(task.retry_at) => {
                    task.replay().await;
                    continue;
                }
            }
        } else {
            items.recv().await
        };
        // `None` only once every sender is gone and the queue is empty.
        let Some(first) = first else { break };
        let mut next = Some(first);
        while let Some(item) = next.take() {
            match item {
                Item::Write(write) => batch.push(write),
                Item::Flush(done) => flushes.push(done),
                Item::FlushCommitted(done) => committed.push(done),
            }
            if batch.len() < MAX_BATCH {
                next = items.try_recv().ok();
            }
        }
        task.deliver(&batch).await;
        batch.clear();
        for done in flushes.drain(..) {
            // The flusher may have given up waiting; nothing to tell it then.
            let _ = done.send(());
        }
        if task.spooling() {
            task.waiting_commit.append(&mut committed);
        } else {
            for done in committed.drain(..) {
                let _ = done.send(());
            }
        }
    }
    if task.spooling() {
        // One last try, so a short outage that ended just now leaves no file behind.
        task.replay().await;
    }
    match &task.spool {
        Some(spool) if spool.pending() > 0 => tracing::warn!(
            writes = spool.pending(),
            path = %spool.path().display(),
            "register writer stopped with writes in the spool; they are replayed at the next start"
        ),
        _ => tracing::debug!("register writer: queue closed and drained"),
    }
}

impl<D: Database> Task<D> {
    fn spooling(&self) -> bool {
        self.spool.as_ref().is_some_and(|s| s.pending() > 0)
    }

    /// Makes `batch` durable: committed, or spooled; keeps trying both until one works.
    async fn deliver(&mut self, batch: &[RegisterWrite]) {
        if batch.is_empty() {
            return;
        }
        loop {
            if !self.spooling() {
                match self.apply(batch).await {
                    Ok(report) => {
                        self.count_applied(batch.len(), &report, false);
                        self.succeeded();
                        return;
                    }
                    Err(error) => self.failed(&error, batch.len()),
                }
            }
            if let Some(spool) = &mut self.spool {
                match spool.append(batch).await {
                    Ok(()) => {
                        let n = batch.len() as u64;
                        self.counters.spooled.fetch_add(n, Ordering::Relaxed);
                        self.counters.queued.fetch_sub(n, Ordering::Relaxed);
                        return;
                    }
                    Err(error) => {
                        self.counters.spool_errors.fetch_add(1, Ordering::Relaxed);
                        tracing::error!(%error, writes = batch.len(), "register spool append failed; holding the batch");
                    }
                }
            }
            // Neither took it: hold the batch, wait, and try again (replaying first, so
            // the spool's older writes stay ahead of it).
            sleep_until(self.retry_at).await;
            self.counters.retries.fetch_add(1, Ordering::Relaxed);
            if self.spooling() {
                self.retry_at = self.clock.mono();
                self.replay().await;
            }
        }
    }

    /// Replays the spool chunk by chunk until it is empty or the database fails again
    /// (then schedules the next try).
    async fn replay(&mut self) {
        let Some(spool) = &mut self.spool else { return };
        let started = spool.pending();
        let result = loop {
            let chunk =
                tokio::time::timeout(APPLY_TIMEOUT, spool.replay_chunk(&self.database, MAX_BATCH))
                    .await;
            match chunk {
                Ok(Ok(Some(ChunkReport {
                    writes,
                    applied,
                    corrupt,
                }))) => {
                    let c = &self.counters;
                    c.replayed.fetch_add(writes as u64, Ordering::Relaxed);
                    c.spool_corrupt.fetch_add(corrupt, Ordering::Relaxed);
                    c.spooled
                        .fetch_sub(writes as u64 + corrupt, Ordering::Relaxed);
                    count_report(c, writes, &applied, true);
                }
                Ok(Ok(None)) => break Ok(()),
                Ok(Err(error)) => break Err(error),
                Err(_) => break Err(SpoolError::Store(StoreError::Timeout)),
            }
        };
        match result {
            Ok(()) => {
                tracing::info!(
                    writes = started,
                    "register spool replayed; writing to the database again"
                );
                self.succeeded();
                for done in self.waiting_commit.drain(..) {
                    let _ = done.send(());
                }
            }
            Err(SpoolError::Store(error)) => {
                let pending = self.spool.as_ref().map_or(0, Spool::pending);
                self.failed(&error, pending as usize);
            }
            Err(error) => {
                // The spool file itself cannot be read: nothing to do but try again later.
                tracing::error!(%error, "register spool replay failed");
                self.failed_quietly();
            }
        }
    }

    async fn apply(&self, batch: &[RegisterWrite]) -> Result<ApplyReport, StoreError> {
        tokio::time::timeout(APPLY_TIMEOUT, self.database.apply(batch))
            .await
            .unwrap_or(Err(StoreError::Timeout))
    }

    fn count_applied(&self, writes: usize, report: &ApplyReport, replayed: bool) {
        count_report(&self.counters, writes, report, replayed);
        self.counters
            .queued
            .fetch_sub(writes as u64, Ordering::Relaxed);
    }

    fn succeeded(&mut self) {
        if self.attempt > 0 {
            tracing::info!(
                failures = self.attempt,
                "register writes reach the database again"
            );
        }
        self.attempt = 0;
        self.backoff = FIRST_BACKOFF;
    }

    fn failed(&mut self, error: &StoreError, writes: usize) {
        self.counters.failures.fetch_add(1, Ordering::Relaxed);
        self.attempt = self.attempt.saturating_add(1);
        // Attempts 1, 2, 4, 8...: a long outage stays visible without a line every two
        // seconds.
        if self.attempt.is_power_of_two() {
            tracing::warn!(
                %error,
                writes,
                attempt = self.attempt,
                retry_in_ms = self.backoff.as_millis() as u64,
                spool = self.spool.is_some(),
                "register writes failed; retrying"
            );
        }
        self.failed_quietly();
    }

    fn failed_quietly(&mut self) {
        self.retry_at = self.clock.mono() + self.backoff;
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
    }
}

fn count_report(counters: &Counters, writes: usize, report: &ApplyReport, replayed: bool) {
    for skipped in &report.skipped {
        // A replay after a commit we did not hear of finds its opens and rings already
        // there: expected, not worth a warning.
        if replayed {
            tracing::debug!(error = %skipped.error, "replayed register write skipped");
        } else {
            tracing::warn!(error = %skipped.error, "register write skipped");
        }
    }
    let skipped = report.skipped.len() as u64;
    counters
        .written
        .fetch_add(writes as u64 - skipped, Ordering::Relaxed);
    counters.skipped.fetch_add(skipped, Ordering::Relaxed);
    counters.batches.fetch_add(1, Ordering::Relaxed);
}

async fn sleep_until(at: Instant) {
    tokio::time::sleep_until(at.into()).await;
}
