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

/// A call-back in progress (`POST /api/worklist/{id}/callback`): a call the line places
/// itself, the operator's softphone rung first, then the citizen through the provider.
/// On the board from the start until it is over.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallBackLive {
    /// The outbound call's public id (its register row).
    pub call_id: String,
    /// The worklist item being called back.
    pub item: i64,
    /// The citizen's number (shown like a waiting caller's, per `log.show_numbers`).
    pub number: String,
    /// The operator making the call-back.
    pub operator: String,
    /// Always `outbound`: the line placed this call (as the register row says).
    pub direction: String,
    /// `ringing_operator`, `ringing_citizen` (the operator answered; early media may
    /// already reach them), `talking` (both bridged and recorded).
    pub stage: String,
    /// RFC 3339 UTC, when the stage began.
    pub since: String,
    /// How long the stage has lasted, as `waited_ms` counts a caller's wait.
    pub stage_ms: u64,
    /// The topic of the missed call being returned, if the caller chose one.
    pub topic: Option<String>,
}

/// The whole board at one instant.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct LiveSnapshot {
    /// RFC 3339 UTC, when the snapshot was taken.
    pub at: String,
    pub operators: Vec<OperatorLive>,
    pub waiting: Vec<WaitingLive>,
    /// Call-backs in progress, oldest first.
    pub callbacks: Vec<CallBackLive>,
    /// Calls in progress of any kind (prompts, queue, talking, call-backs).
    pub active_calls: usize,
    pub longest_wait_ms: u64,
    /// The provider link, when `[trunk.provider]` is configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<super::ProviderState>,
}
