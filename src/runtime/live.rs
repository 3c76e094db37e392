//! The web side's line to the engine: a snapshot of the live state, and the supervisor's
//! commands, each with a reply. The engine owns the switchboard; this is the only way in.

use tokio::sync::{mpsc, oneshot};

use crate::model::callback::{CallBackRefused, CallBackRequest};
use crate::model::LiveSnapshot;
use crate::switchboard::acd::AcdError;

pub enum LiveCommand {
    Snapshot {
        reply: oneshot::Sender<LiveSnapshot>,
    },
    Pause {
        operator: String,
        reason: String,
        reply: oneshot::Sender<Result<(), AcdError>>,
    },
    Resume {
        operator: String,
        reply: oneshot::Sender<Result<(), AcdError>>,
    },
    /// Start a call-back of a worklist item; the reply is the outbound call's id.
    CallBack {
        request: CallBackRequest,
        reply: oneshot::Sender<Result<String, CallBackRefused>>,
    },
}

/// Why a live request got no answer.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LiveError {
    /// The engine is not running (stopping, or not started).
    #[error("the line is not running")]
    Unavailable,
    /// No such operator in the line's current configuration (the engine's, after any
    /// reload: the one source of truth for who the operators are).
    #[error("no operator {0:?}")]
    UnknownOperator(String),
    /// The switchboard refused (not logged in, not paused…).
    #[error("{0}")]
    Refused(String),
}

#[derive(Clone)]
pub struct LiveHandle {
    tx: mpsc::Sender<LiveCommand>,
}

impl LiveHandle {
    pub fn channel(capacity: usize) -> (LiveHandle, mpsc::Receiver<LiveCommand>) {
        let (tx, rx) = mpsc::channel(capacity);
        (LiveHandle { tx }, rx)
    }

    pub async fn snapshot(&self) -> Result<LiveSnapshot, LiveError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(LiveCommand::Snapshot { reply })
            .await
            .map_err(|_| LiveError::Unavailable)?;
        rx.await.map_err(|_| LiveError::Unavailable)
    }

    pub async fn pause(&self, operator: &str, reason: &str) -> Result<(), LiveError> {
        let (reply, rx) = oneshot::channel();
        let cmd = LiveCommand::Pause {
            operator: operator.to_string(),
            reason: reason.to_string(),
            reply,
        };
        self.tx
            .send(cmd)
            .await
            .map_err(|_| LiveError::Unavailable)?;
        rx.await
            .map_err(|_| LiveError::Unavailable)?
            .map_err(LiveError::from)
    }

    /// Start a call-back (`switchboard::callback`): `Ok(Err(_))` when the switchboard
    /// refused it, with why.
    pub async fn call_back(
        &self,
        request: CallBackRequest,
    ) -> Result<Result<String, CallBackRefused>, LiveError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(LiveCommand::CallBack { request, reply })
            .await
            .map_err(|_| LiveError::Unavailable)?;
        rx.await.map_err(|_| LiveError::Unavailable)
    }

    pub async fn resume(&self, operator: &str) -> Result<(), LiveError> {
        let (reply, rx) = oneshot::channel();
        let cmd = LiveCommand::Resume {
            operator: operator.to_string(),
            reply,
        };
        self.tx
            .send(cmd)
            .await
            .map_err(|_| LiveError::Unavailable)?;
        rx.await
            .map_err(|_| LiveError::Unavailable)?
            .map_err(LiveError::from)
    }
}

impl From<AcdError> for LiveError {
    fn from(e: AcdError) -> LiveError {
        match e {
            AcdError::UnknownOperator(id) => LiveError::UnknownOperator(id),
            other => LiveError::Refused(other.to_string()),
        }
    }
}
