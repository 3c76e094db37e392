//! A call as read back from the register: the row with its times as the register's text.

/// A row as read back from the register.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRecord {
    pub id: String,
    pub sip_call_id: String,
    pub caller: String,
    pub dialed: String,
    pub source: String,
    pub received_at: String,
    pub answered_at: Option<String>,
    pub queued_at: Option<String>,
    pub connected_at: Option<String>,
    pub ended_at: Option<String>,
    pub operator_id: Option<String>,
    pub wait_ms: Option<i64>,
    pub talk_ms: Option<i64>,
    pub outcome: String,
    pub hangup_by: Option<String>,
    pub final_status: Option<i64>,
    pub end_reason: Option<String>,
    pub recording_path: Option<String>,
    pub recording_ms: Option<i64>,
    pub recording_bytes: Option<i64>,
    pub recording_sha256: Option<String>,
    pub recording_error: Option<String>,
    pub notice_played_at: Option<String>,
    pub notice_completed: Option<bool>,
    pub topic: Option<String>,
    /// `inbound` (a caller) or `outbound` (a call-back through the provider).
    pub direction: String,
}
