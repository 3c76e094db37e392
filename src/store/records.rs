//! What the QA side of the store reads and writes, as plain values: users and roles,
//! sessions' principals, audit rows, call searches, ring attempts and timeline events read
//! back, and the aggregates behind the statistics. No queries here (they are in
//! `accounts.rs`, `register.rs`, `search.rs`, `stats.rs`), so every module of the store
//! can use these without using each other.

/// What a user may do. Each role includes the rights of the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// An operator: sees only their own calls, recordings and evaluations, and answers
    /// their evaluations (acknowledge or dispute). Linked to an operator id.
    Operator,
    /// Quality assurance: searches calls, listens to recordings, sets topics, reads stats.
    Qa,
    /// Also watches the live board and pauses or resumes operators.
    Supervisor,
    /// Also manages users and tokens and reads the audit log.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Operator => "operator",
            Role::Qa => "qa",
            Role::Supervisor => "supervisor",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Some(match s {
            "operator" => Role::Operator,
            "qa" => Role::Qa,
            "supervisor" => Role::Supervisor,
            "admin" => Role::Admin,
            _ => return None,
        })
    }
}

/// A user as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub username: String,
    pub role: Role,
    /// argon2id PHC string.
    pub password_hash: String,
    pub created_at: String,
    /// The operator an `operator` user is (`None` for every other role).
    pub operator_id: Option<String>,
}

/// Who a session or a token acts for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub username: String,
    pub role: Role,
    /// The operator an `operator` user is (`None` for every other role).
    pub operator_id: Option<String>,
}

/// One audit row.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuditEntry {
    pub at: String,
    pub username: Option<String>,
    /// `login`, `login_failed`, `logout`, `recording_stream`, `recording_download`,
    /// `topic_set`, `operator_pause`, `operator_resume`, `user_add`, `token_add`,
    /// `reading_add`, ….
    pub action: String,
    pub call_id: Option<String>,
    /// The peer address of the HTTP connection.
    pub remote: Option<String>,
    pub detail: Option<String>,
}

/// A call search. Every `Some` narrows the result; times are register text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallFilter {
    /// `received_at >= from`.
    pub from: Option<String>,
    /// `received_at < to`.
    pub to: Option<String>,
    /// Digits that must appear somewhere in the caller's number.
    pub caller: Option<String>,
    pub operator: Option<String>,
    pub outcome: Option<String>,
    /// `inbound` or `outbound`.
    pub direction: Option<String>,
    pub topic: Option<TopicFilter>,
    /// `talk_ms >= min_talk_ms`.
    pub min_talk_ms: Option<i64>,
    /// Audio metrics the call's recording must have.
    pub audio: super::audio::AudioFilter,
    pub limit: u32,
    pub offset: u64,
}

/// Which topic a searched call must have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TopicFilter {
    /// Calls nobody has given a topic yet.
    Unset,
    Is(String),
}

/// One attempt to ring an operator, as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RingRecord {
    pub operator_id: String,
    pub started_at: String,
    pub ended_at: String,
    pub result: String,
}

/// One event of a call's timeline, as read back: when, what (`CallEventKind`'s name, such
/// as `operator_hold`) and any detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRecord {
    pub at: String,
    pub kind: String,
    pub detail: Option<String>,
}

/// Sums and counts of one local day (or of a slice of one, see [`Store::day_aggregates`]):
/// everything needed to merge slices and then derive averages and shares.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DayAggregate {
    /// `YYYY-MM-DD` in the zone whose offset the query was given.
    pub date: String,
    pub calls: u64,
    pub answered: u64,
    pub abandoned: u64,
    pub after_hours: u64,
    pub overflow: u64,
    pub no_operators: u64,
    pub rejected: u64,
    /// Settled by the phone's self-service without an operator.
    pub self_service: u64,
    /// Sum and count of `wait_ms` over answered calls that have one.
    pub wait_ms_sum: i64,
    pub wait_n: u64,
    /// Answered calls with `wait_ms <= 20000`.
    pub within_20s: u64,
    /// Sum and count of `talk_ms` over answered calls that have one.
    pub talk_ms_sum: i64,
    pub talk_n: u64,
}

/// Meter readings handed in on one local day (or a slice of one, as [`DayAggregate`]), by
/// source.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadingsDay {
    /// `YYYY-MM-DD` in the zone whose offset the query was given.
    pub date: String,
    /// Keyed in by callers (source `phone`).
    pub phone: u64,
    /// Entered by operators in the console (source `operator`).
    pub operator: u64,
}

/// One operator's answered calls over a period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorAggregate {
    pub operator_id: String,
    pub answered: u64,
    pub talk_ms_total: i64,
    /// Answered calls with a `talk_ms` (the divisor of the average).
    pub talk_n: u64,
}
