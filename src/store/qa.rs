//! The QA side of the store: users and roles, sessions, API tokens, the audit log, call
//! searches, topics and the aggregates behind the statistics.
//!
//! Like the register methods in `mod.rs`, each method runs the one query of its module
//! (`accounts.rs`, `search.rs`, `stats.rs`) on whichever backend the store has. Secrets
//! never reach this layer in the clear: callers pass the argon2id PHC string of a password
//! and the SHA-256 (hex) of a token.
//!
//! Invariants:
//! - Times in and out are the register's RFC 3339 UTC text (`format_time`), so range
//!   bounds compare as text and use the indexes directly.
//! - The audit log is append-only: nothing here updates or deletes an audit row.

use super::{accounts, register, search, stats, Store, StoreError};
use crate::model::CallRecord;

/// What a user may do. Each role includes the rights of the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
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
            Role::Qa => "qa",
            Role::Supervisor => "supervisor",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Some(match s {
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
}

/// Who a session or a token acts for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub username: String,
    pub role: Role,
}

/// One audit row.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuditEntry {
    pub at: String,
    pub username: Option<String>,
    /// `login`, `login_failed`, `logout`, `recording_stream`, `recording_download`,
    /// `topic_set`, `operator_pause`, `operator_resume`, `user_add`, `token_add`.
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
    pub topic: Option<TopicFilter>,
    /// `talk_ms >= min_talk_ms`.
    pub min_talk_ms: Option<i64>,
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
    /// Sum and count of `wait_ms` over answered calls that have one.
    pub wait_ms_sum: i64,
    pub wait_n: u64,
    /// Answered calls with `wait_ms <= 20000`.
    pub within_20s: u64,
    /// Sum and count of `talk_ms` over answered calls that have one.
    pub talk_ms_sum: i64,
    pub talk_n: u64,
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

impl Store {
    /// Adds a user; `Ok(false)` if the name is taken (the existing user is kept).
    pub async fn add_user(
        &self,
        username: &str,
        password_hash: &str,
        role: Role,
        now: &str,
    ) -> Result<bool, StoreError> {
        on_pool!(self, pool => accounts::add_user(pool, username, password_hash, role, now))
    }

    pub async fn user(&self, username: &str) -> Result<Option<UserRecord>, StoreError> {
        on_pool!(self, pool => accounts::user(pool, username))
    }

    /// Every user, by name.
    pub async fn users(&self) -> Result<Vec<UserRecord>, StoreError> {
        on_pool!(self, pool => accounts::users(pool))
    }

    /// Records a new session for `username` and drops sessions idle since before
    /// `idle_cutoff`.
    pub async fn create_session(
        &self,
        token_sha256: &str,
        username: &str,
        now: &str,
        idle_cutoff: &str,
    ) -> Result<(), StoreError> {
        on_pool!(self, pool => accounts::create_session(pool, token_sha256, username, now, idle_cutoff))
    }

    /// Who this session acts for, if it exists and was used at or after `idle_cutoff`;
    /// marks it used at `now`.
    pub async fn touch_session(
        &self,
        token_sha256: &str,
        now: &str,
        idle_cutoff: &str,
    ) -> Result<Option<Principal>, StoreError> {
        on_pool!(self, pool => accounts::touch_session(pool, token_sha256, now, idle_cutoff))
    }

    /// Ends a session (logging out twice is not an error).
    pub async fn delete_session(&self, token_sha256: &str) -> Result<(), StoreError> {
        on_pool!(self, pool => accounts::delete_session(pool, token_sha256))
    }

    /// Stores an API token acting as `username`; `Ok(false)` if there is no such user.
    pub async fn add_token(
        &self,
        token_sha256: &str,
        name: &str,
        username: &str,
        now: &str,
    ) -> Result<bool, StoreError> {
        on_pool!(self, pool => accounts::add_token(pool, token_sha256, name, username, now))
    }

    /// Who this API token acts for.
    pub async fn token_principal(
        &self,
        token_sha256: &str,
    ) -> Result<Option<Principal>, StoreError> {
        on_pool!(self, pool => accounts::token_principal(pool, token_sha256))
    }

    /// Appends one row to the audit log.
    pub async fn audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        on_pool!(self, pool => accounts::audit(pool, entry))
    }

    /// A page of the audit log, newest first, and how many rows it has in all.
    pub async fn audit_entries(
        &self,
        limit: u32,
        offset: u64,
    ) -> Result<(Vec<AuditEntry>, u64), StoreError> {
        on_pool!(self, pool => accounts::audit_entries(pool, limit, offset))
    }

    /// A page of the calls matching `filter`, newest first, and how many match in all.
    pub async fn search_calls(
        &self,
        filter: &CallFilter,
    ) -> Result<(Vec<CallRecord>, u64), StoreError> {
        on_pool!(self, pool => search::search_calls(pool, filter))
    }

    /// The operators rung for a call, in order, with times.
    pub async fn rings(&self, call_id: &str) -> Result<Vec<RingRecord>, StoreError> {
        on_pool!(self, pool => register::rings(pool, call_id))
    }

    /// A call's timeline events (hold and resume by either side, media that moved), in
    /// time order; events of one instant in the order they were written.
    pub async fn call_events(&self, call_id: &str) -> Result<Vec<EventRecord>, StoreError> {
        on_pool!(self, pool => register::events(pool, call_id))
    }

    /// Sets (or clears) a call's topic; `Ok(false)` if there is no such call.
    pub async fn set_topic(&self, call_id: &str, topic: Option<&str>) -> Result<bool, StoreError> {
        on_pool!(self, pool => search::set_topic(pool, call_id, topic))
    }

    /// Per-day aggregates of calls received in `[from, to)`, days being taken in a zone
    /// that is `offset_seconds` ahead of UTC throughout that span (split a period at the
    /// zone's transitions and merge the slices).
    pub async fn day_aggregates(
        &self,
        from: &str,
        to: &str,
        offset_seconds: i32,
    ) -> Result<Vec<DayAggregate>, StoreError> {
        on_pool!(self, pool => stats::day_aggregates(pool, from, to, offset_seconds))
    }

    /// `(local date, wait_ms)` of every answered call received in `[from, to)` that has a
    /// wait, for percentiles (dates as in [`Store::day_aggregates`]).
    pub async fn answered_waits(
        &self,
        from: &str,
        to: &str,
        offset_seconds: i32,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        on_pool!(self, pool => stats::answered_waits(pool, from, to, offset_seconds))
    }

    /// Answered calls per operator over `[from, to)`, by operator id.
    pub async fn operator_aggregates(
        &self,
        from: &str,
        to: &str,
    ) -> Result<Vec<OperatorAggregate>, StoreError> {
        on_pool!(self, pool => stats::operator_aggregates(pool, from, to))
    }

    /// Calls per topic over `[from, to)` (`None`: no topic set), most frequent first.
    pub async fn topic_counts(
        &self,
        from: &str,
        to: &str,
    ) -> Result<Vec<(Option<String>, u64)>, StoreError> {
        on_pool!(self, pool => stats::topic_counts(pool, from, to))
    }

    /// Inserts fabricated register rows in one transaction (the `dev seed` command).
    pub async fn insert_raw_calls(&self, calls: &[CallRecord]) -> Result<u64, StoreError> {
        on_pool!(self, pool => search::insert_raw_calls(pool, calls))
    }
}
