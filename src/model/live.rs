//! The live state of the line, as the QA console's live board shows it: plain values the
//! switchboard builds on request (`Switchboard::snapshot`) and the engine hands to the web
//! side through a channel. Phone numbers here follow `log.show_numbers` like the logs do.

use serde::Serialize;

/// One operator's state on the board.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OperatorLive {
    pub id: String,
    pub name: String,
    /// `offline`, `available`, `ringing`, `talking`, `wrap_up`, `paused`.
    pub state: String,
    /// Why paused (`no_answer`, or what the supervisor or `*50` gave), when paused.
    pub pause_reason: Option<String>,
    /// The public id of the call they ring or talk on.
    pub call_id: Option<String>,
    /// Whether a softphone is registered for them.
    pub registered: bool,
    /// The topics they are offered first (`[[operators]] skills`).
    pub skills: Vec<String>,
}

/// One caller waiting in the queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WaitingLive {
    pub call_id: String,
    pub caller: String,
    /// 1-based place in the queue.
    pub position: usize,
    pub waited_ms: u64,
    /// The operator being rung for them, if any.
    pub ringing: Option<String>,
    /// The topic the caller chose in the phone menu, if any.
    pub topic: Option<String>,
}

/// The whole board at one instant.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct LiveSnapshot {
    /// RFC 3339 UTC, when the snapshot was taken.
    pub at: String,
    pub operators: Vec<OperatorLive>,
    pub waiting: Vec<WaitingLive>,
    /// Calls in progress of any kind (prompts, queue, talking).
    pub active_calls: usize,
    pub longest_wait_ms: u64,
    /// The provider link, when `[trunk.provider]` is configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<super::ProviderState>,
}
