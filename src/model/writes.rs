//! What the switchboard writes into the call register, as plain values.
//!
//! The switchboard emits a [`RegisterWrite::Open`] the moment an INVITE arrives (so a row
//! exists from the first INVITE, whatever happens next) and [`RegisterWrite::Update`]s as
//! the call moves on. The store applies them in order; it never invents values itself.
//!
//! Times are wall-clock `Timestamp`s here; the store writes them as fixed-width RFC 3339
//! UTC text with milliseconds (`2026-11-24T15:21:47.123Z`), one format everywhere, which
//! sorts chronologically as text.

use jiff::Timestamp;

use super::{EndReason, HangupBy, Outcome, RingResult};

/// A new row, written when the INVITE arrives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCall {
    /// Stable public id (also the recording's file name).
    pub id: String,
    pub sip_call_id: String,
    /// The caller's number (user part of From, or the tel: number).
    pub caller: String,
    /// The dialled number (user part of the Request-URI / To).
    pub dialed: String,
    /// Where the INVITE came from (`udp:1.2.3.4:5060`).
    pub source: String,
    pub received_at: Timestamp,
    /// Who placed the call: written with the row, never changed (so a row left unfinished
    /// by a crash keeps it too).
    pub direction: CallDirection,
}

/// Who placed a call: a caller (`inbound`), or the line itself, a call-back through the
/// provider (`outbound`). Stored as the snake_case name.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum CallDirection {
    #[default]
    Inbound,
    Outbound,
}

impl CallDirection {
    pub fn as_str(self) -> &'static str {
        match self {
            CallDirection::Inbound => "inbound",
            CallDirection::Outbound => "outbound",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [CallDirection::Inbound, CallDirection::Outbound]
            .into_iter()
            .find(|d| d.as_str() == s)
    }
}

/// Changes to an existing row. `None` leaves a column as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallUpdate {
    pub answered_at: Option<Timestamp>,
    pub queued_at: Option<Timestamp>,
    pub connected_at: Option<Timestamp>,
    pub ended_at: Option<Timestamp>,
    pub operator_id: Option<String>,
    pub wait_ms: Option<i64>,
    pub talk_ms: Option<i64>,
    pub outcome: Option<Outcome>,
    pub hangup_by: Option<HangupBy>,
    /// The final SIP status we answered the INVITE with (200, 403, 404, 487…).
    pub final_status: Option<u16>,
    /// How the call ended, in more detail than the outcome.
    pub end_reason: Option<EndReason>,
    pub recording_path: Option<String>,
    pub recording_ms: Option<i64>,
    pub recording_bytes: Option<i64>,
    pub recording_sha256: Option<String>,
    /// Why the recording failed (disk error…); the call itself went on.
    pub recording_error: Option<String>,
    /// When the recording notice started playing to the caller.
    pub notice_played_at: Option<Timestamp>,
    /// Whether the caller heard the notice to its end.
    pub notice_completed: Option<bool>,
    /// The call's topic (one of [`super::topic::TOPICS`]), chosen in the phone menu.
    pub topic: Option<String>,
}

/// One attempt to ring an operator for a call (the `ring_attempts` table).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RingAttempt {
    pub call_id: String,
    pub operator_id: String,
    pub started_at: Timestamp,
    pub ended_at: Timestamp,
    pub result: RingResult,
}

/// Something that happened during a call, for its timeline (the `call_events` table):
/// what a QA person listening to the recording needs to know about what each side heard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallEvent {
    pub call_id: String,
    pub at: Timestamp,
    pub kind: CallEventKind,
    /// Free detail for the console (e.g. the new media address), never personal data.
    pub detail: Option<String>,
}

/// The kinds of timeline events. Stored as the snake_case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallEventKind {
    /// The caller put us on hold (re-INVITE or UPDATE with `sendonly` or `inactive`).
    CallerHold,
    /// The caller took us off hold.
    CallerResume,
    /// The operator put the caller on hold: from here the caller heard hold music, and the
    /// recording's operator channel is what the operator said, which the caller did not hear.
    OperatorHold,
    /// The operator took the caller off hold: the conversation goes on.
    OperatorResume,
    /// The caller's media moved to a new address or port (handover, media failover).
    CallerMediaMoved,
    /// The operator's media moved to a new address or port.
    OperatorMediaMoved,
    /// The caller chose in the topic menu (a topic, or 0 for an operator); the detail is
    /// the keys pressed at each question and where they led (`9 / 2 → billing`).
    MenuChoice,
    /// The menu ended without a choice (silence or wrong keys to the last question): the
    /// caller went to the queue without a topic; the detail is the keys as for a choice.
    MenuNoChoice,
    /// The caller keyed an account number in the readings dialogue (the detail); the
    /// account's meters are looked up.
    ReadingsAccount,
    /// A meter reading was confirmed and stored; the detail is `meter: previous → value`.
    ReadingAccepted,
    /// The readings dialogue sent the caller to an operator (0, three failures, or the
    /// account could not be looked up); the detail says which.
    ReadingsToOperator,
    /// Every meter of the account was read.
    ReadingsDone,
}

impl CallEventKind {
    pub const ALL: [CallEventKind; 12] = [
        CallEventKind::CallerHold,
        CallEventKind::CallerResume,
        CallEventKind::OperatorHold,
        CallEventKind::OperatorResume,
        CallEventKind::CallerMediaMoved,
        CallEventKind::OperatorMediaMoved,
        CallEventKind::MenuChoice,
        CallEventKind::MenuNoChoice,
        CallEventKind::ReadingsAccount,
        CallEventKind::ReadingAccepted,
        CallEventKind::ReadingsToOperator,
        CallEventKind::ReadingsDone,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CallEventKind::CallerHold => "caller_hold",
            CallEventKind::CallerResume => "caller_resume",
            CallEventKind::OperatorHold => "operator_hold",
            CallEventKind::OperatorResume => "operator_resume",
            CallEventKind::CallerMediaMoved => "caller_media_moved",
            CallEventKind::OperatorMediaMoved => "operator_media_moved",
            CallEventKind::MenuChoice => "menu_choice",
            CallEventKind::MenuNoChoice => "menu_no_choice",
            CallEventKind::ReadingsAccount => "readings_account",
            CallEventKind::ReadingAccepted => "reading_accepted",
            CallEventKind::ReadingsToOperator => "readings_to_operator",
            CallEventKind::ReadingsDone => "readings_done",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        CallEventKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// One write to the register, applied in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegisterWrite {
    Open(NewCall),
    Update { id: String, update: CallUpdate },
    Ring(RingAttempt),
    Event(CallEvent),
}

/// How a conversation's recording ended, as the runtime reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordingResult {
    /// A complete file: its path under the recordings root, length, size and SHA-256.
    Done {
        path: String,
        ms: i64,
        bytes: i64,
        sha256: String,
    },
    /// No usable file (disk full, permissions…): the call went on regardless.
    Failed { path: String, reason: String },
}

impl RecordingResult {
    /// The register's columns for this outcome: the file's facts, or why there is none.
    pub fn into_update(self) -> CallUpdate {
        match self {
            RecordingResult::Done {
                path,
                ms,
                bytes,
                sha256,
            } => CallUpdate {
                recording_path: Some(path),
                recording_ms: Some(ms),
                recording_bytes: Some(bytes),
                recording_sha256: Some(sha256),
                ..CallUpdate::default()
            },
            RecordingResult::Failed { path, reason } => CallUpdate {
                recording_path: Some(path),
                recording_error: Some(reason),
                ..CallUpdate::default()
            },
        }
    }
}
