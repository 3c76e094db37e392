//! The engine's side of the database task. Register writes go out in the order the
//! switchboard made them: straight into the task's bounded queue while it has room, else
//! held here, in order, behind the first one the full queue handed back. The engine never
//! waits on the database: it offers held writes again on its next turn (the writer counts
//! every refusal in `WriterStats::full`).

use std::collections::VecDeque;

use super::{RegisterWriter, WriterError, WriterStats};
use crate::model::RegisterWrite;

/// Register writes on their way to the database task.
#[derive(Debug)]
pub struct Outbox {
    writer: RegisterWriter,
    /// Writes waiting because the writer's queue was full (order kept).
    held: VecDeque<RegisterWrite>,
}

impl Outbox {
    pub fn new(writer: RegisterWriter) -> Outbox {
        Outbox {
            writer,
            held: VecDeque::new(),
        }
    }

    /// Sends a write, in order: behind any held ones, else straight to the writer.
    pub fn push(&mut self, write: RegisterWrite) {
        self.held.push_back(write);
        self.offer();
    }

    /// Moves held writes into the writer's queue while it has room (a full queue hands the
    /// write back: it stays first in line).
    pub fn offer(&mut self) {
        while let Some(write) = self.held.pop_front() {
            match self.writer.try_send(write) {
                Ok(()) => {}
                Err(WriterError::Full(write)) => {
                    self.held.push_front(write);
                    break;
                }
                Err(e) => {
                    tracing::error!(error = %e, "register writer gone: a register write is lost")
                }
            }
        }
    }

    /// Whether writes are held, to be offered again soon.
    pub fn is_holding(&self) -> bool {
        !self.held.is_empty()
    }

    /// Hands every held write to the writer, waiting for room (at shutdown).
    pub async fn drain(&mut self) {
        while let Some(write) = self.held.pop_front() {
            let _ = self.writer.send(write).await;
        }
    }

    /// The writer's counters.
    pub fn stats(&self) -> WriterStats {
        self.writer.stats()
    }
}
