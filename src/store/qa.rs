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

use super::records::{
    AuditEntry, CallFilter, DayAggregate, EventRecord, OperatorAggregate, Principal, ReadingsDay,
    RingRecord, Role, UserRecord,
};

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

    /// Adds a console user of role `operator` linked to operator `operator_id` (who then
    /// sees only that operator's calls); `Ok(false)` if the name is taken.
    pub async fn add_operator_user(
        &self,
        username: &str,
        password_hash: &str,
        operator_id: &str,
        now: &str,
    ) -> Result<bool, StoreError> {
        on_pool!(self, pool => accounts::add_operator_user(pool, username, password_hash, operator_id, now))
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

    /// Meter readings handed in over `[from, to)` per local day and source (days as in
    /// [`Store::day_aggregates`]); days without readings are left out.
    pub async fn readings_days(
        &self,
        from: &str,
        to: &str,
        offset_seconds: i32,
    ) -> Result<Vec<ReadingsDay>, StoreError> {
        on_pool!(self, pool => stats::readings_days(pool, from, to, offset_seconds))
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
