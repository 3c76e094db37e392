//! The engine's side of a call's media task: commands offered without waiting, and the
//! close that ends the task.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::MediaCommand;

/// Calls closed by the engine, ever, in this process. A ring's pump reads it once a round
/// and looks at its calls' flags only when it moved: reading each packet's call's flag, an
/// allocation of its own, was a cache miss per packet (3% of the server's time at 1,200
/// calls).
pub(super) static CLOSES: AtomicU64 = AtomicU64::new(0);

/// Why a command did not reach the task.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CommandError {
    /// The task's command queue is full; the engine never waits on it.
    #[error("media task command queue is full")]
    Full,
    /// The task has ended.
    #[error("media task has ended")]
    Closed,
}

/// The engine's side of a call's media task. Dropping it ends the task (after `Closed`).
#[derive(Debug)]
pub struct CallMediaHandle {
    pub(super) commands: mpsc::Sender<MediaCommand>,
    /// Set to end the task. A flag rather than a cancellation token the task would have to
    /// poll on every wake-up (a token takes a lock each time): the task reads it after each
    /// wake-up, and `close` wakes it with a command.
    pub(super) closed: Arc<AtomicBool>,
    pub(super) task: JoinHandle<()>,
}

impl CallMediaHandle {
    /// Queues a command without waiting.
    pub fn command(&self, command: MediaCommand) -> Result<(), CommandError> {
        self.commands.try_send(command).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => CommandError::Full,
            mpsc::error::TrySendError::Closed(_) => CommandError::Closed,
        })
    }

    /// Ends the task: it stops at once, drops its sockets and reports `Closed`.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        // After the flag: a pump that sees the count has changed sees the flag too.
        CLOSES.fetch_add(1, Ordering::Release);
        // A full queue wakes the task anyway, and it reads the flag then.
        let _ = self.commands.try_send(MediaCommand::Close);
    }

    /// Whether the task has ended.
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Waits for the task to end (after `close`, or by itself).
    pub async fn join(self) {
        if let Err(e) = self.task.await {
            tracing::error!(error = %e, "call media task failed");
        }
    }
}
