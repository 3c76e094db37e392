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

/// How a call ended, as QA reads it. Stored as the snake_case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// Still going (the value a row is opened with).
    InProgress,
    /// Outside working hours: the after-hours message was played.
    AfterHours,
    /// Talked to an operator.
    Answered,
    /// The caller left while waiting or while an operator rang.
    Abandoned,
    /// The maximum wait was reached.
    Overflow,
    /// Nobody was logged in.
    NoOperators,
    /// Refused at the door (403, 404, 488, 503…): see `final_status`.
    Rejected,
    /// Something went wrong on our side or in the network (see `end_reason`).
    Failed,
    /// The server stopped (or crashed) during the call.
    Interrupted,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::InProgress => "in_progress",
            Outcome::AfterHours => "after_hours",
            Outcome::Answered => "answered",
            Outcome::Abandoned => "abandoned",
            Outcome::Overflow => "overflow",
            Outcome::NoOperators => "no_operators",
            Outcome::Rejected => "rejected",
            Outcome::Failed => "failed",
            Outcome::Interrupted => "interrupted",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "in_progress" => Outcome::InProgress,
            "after_hours" => Outcome::AfterHours,
            "answered" => Outcome::Answered,
            "abandoned" => Outcome::Abandoned,
            "overflow" => Outcome::Overflow,
            "no_operators" => Outcome::NoOperators,
            "rejected" => Outcome::Rejected,
            "failed" => Outcome::Failed,
            "interrupted" => Outcome::Interrupted,
            _ => return None,
        })
    }
}

/// Who ended the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HangupBy {
    Caller,
    Operator,
    System,
}

impl HangupBy {
    pub fn as_str(self) -> &'static str {
        match self {
            HangupBy::Caller => "caller",
            HangupBy::Operator => "operator",
            HangupBy::System => "system",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "caller" => HangupBy::Caller,
            "operator" => HangupBy::Operator,
            "system" => HangupBy::System,
            _ => return None,
        })
    }
}

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
    /// A short machine-readable reason for how the call ended (`prompt_done`,
    /// `caller_bye`, `ack_timeout`, `bye_timeout`, `shutdown`…).
    pub end_reason: Option<String>,
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
}

/// One attempt to ring an operator for a call (the `ring_attempts` table).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RingAttempt {
    pub call_id: String,
    pub operator_id: String,
    pub started_at: Timestamp,
    pub ended_at: Timestamp,
    /// `answered`, `no_answer`/`cancelled`, `busy`, `declined`, `failed`, `answered_late`.
    pub result: String,
}

/// One write to the register, applied in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegisterWrite {
    Open(NewCall),
    Update { id: String, update: CallUpdate },
    Ring(RingAttempt),
}

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
}

/// The register's one text format for times: RFC 3339 UTC, milliseconds, fixed width.
pub fn format_time(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_fixed_width_utc_with_milliseconds() {
        let t: Timestamp = "2026-11-24T15:21:47Z".parse().unwrap();
        assert_eq!(format_time(t), "2026-11-24T15:21:47.000Z");
        let t: Timestamp = "2026-11-24T15:21:47.123456Z".parse().unwrap();
        assert_eq!(format_time(t), "2026-11-24T15:21:47.123Z");
    }

    #[test]
    fn outcome_names_round_trip() {
        for o in [
            Outcome::InProgress,
            Outcome::AfterHours,
            Outcome::Answered,
            Outcome::Abandoned,
            Outcome::Overflow,
            Outcome::NoOperators,
            Outcome::Rejected,
            Outcome::Failed,
            Outcome::Interrupted,
        ] {
            assert_eq!(Outcome::parse(o.as_str()), Some(o));
        }
    }
}
