//! The QA console's queries on PostgreSQL (interim: not yet written; every call answers
//! `StoreError::NotOnThisBackend`, so the console says so instead of failing obscurely).

#![allow(unused_variables)]

use sqlx::PgPool;

use super::qa::*;
use super::StoreError;
use crate::switchboard::register::CallRecord;

pub(super) async fn add_user(
    pool: &PgPool,
    username: &str,
    password_hash: &str,
    role: Role,
    now: &str,
) -> Result<bool, StoreError> {
    Err(StoreError::NotOnThisBackend { what: "add_user" })
}

pub(super) async fn user(pool: &PgPool, username: &str) -> Result<Option<UserRecord>, StoreError> {
    Err(StoreError::NotOnThisBackend { what: "user" })
}

pub(super) async fn users(pool: &PgPool) -> Result<Vec<UserRecord>, StoreError> {
    Err(StoreError::NotOnThisBackend { what: "users" })
}

pub(super) async fn create_session(
    pool: &PgPool,
    token_sha256: &str,
    username: &str,
    now: &str,
    idle_cutoff: &str,
) -> Result<(), StoreError> {
    Err(StoreError::NotOnThisBackend {
        what: "create_session",
    })
}

pub(super) async fn touch_session(
    pool: &PgPool,
    token_sha256: &str,
    now: &str,
    idle_cutoff: &str,
) -> Result<Option<Principal>, StoreError> {
    Err(StoreError::NotOnThisBackend {
        what: "touch_session",
    })
}

pub(super) async fn delete_session(pool: &PgPool, token_sha256: &str) -> Result<(), StoreError> {
    Err(StoreError::NotOnThisBackend {
        what: "delete_session",
    })
}

pub(super) async fn add_token(
    pool: &PgPool,
    token_sha256: &str,
    name: &str,
    username: &str,
    now: &str,
) -> Result<bool, StoreError> {
    Err(StoreError::NotOnThisBackend { what: "add_token" })
}

pub(super) async fn token_principal(
    pool: &PgPool,
    token_sha256: &str,
) -> Result<Option<Principal>, StoreError> {
    Err(StoreError::NotOnThisBackend {
        what: "token_principal",
    })
}

pub(super) async fn audit(pool: &PgPool, entry: &AuditEntry) -> Result<(), StoreError> {
    Err(StoreError::NotOnThisBackend { what: "audit" })
}

pub(super) async fn audit_entries(
    pool: &PgPool,
    limit: u32,
    offset: u64,
) -> Result<(Vec<AuditEntry>, u64), StoreError> {
    Err(StoreError::NotOnThisBackend {
        what: "audit_entries",
    })
}

pub(super) async fn search_calls(
    pool: &PgPool,
    f: &CallFilter,
) -> Result<(Vec<CallRecord>, u64), StoreError> {
    Err(StoreError::NotOnThisBackend {
        what: "search_calls",
    })
}

pub(super) async fn rings(pool: &PgPool, call_id: &str) -> Result<Vec<RingRecord>, StoreError> {
    Err(StoreError::NotOnThisBackend { what: "rings" })
}

pub(super) async fn set_topic(
    pool: &PgPool,
    call_id: &str,
    topic: Option<&str>,
) -> Result<bool, StoreError> {
    Err(StoreError::NotOnThisBackend { what: "set_topic" })
}

pub(super) async fn day_aggregates(
    pool: &PgPool,
    from: &str,
    to: &str,
    offset_seconds: i32,
) -> Result<Vec<DayAggregate>, StoreError> {
    Err(StoreError::NotOnThisBackend {
        what: "day_aggregates",
    })
}

pub(super) async fn answered_waits(
    pool: &PgPool,
    from: &str,
    to: &str,
    offset_seconds: i32,
) -> Result<Vec<(String, i64)>, StoreError> {
    Err(StoreError::NotOnThisBackend {
        what: "answered_waits",
    })
}

pub(super) async fn operator_aggregates(
    pool: &PgPool,
    from: &str,
    to: &str,
) -> Result<Vec<OperatorAggregate>, StoreError> {
    Err(StoreError::NotOnThisBackend {
        what: "operator_aggregates",
    })
}

pub(super) async fn topic_counts(
    pool: &PgPool,
    from: &str,
    to: &str,
) -> Result<Vec<(Option<String>, u64)>, StoreError> {
    Err(StoreError::NotOnThisBackend {
        what: "topic_counts",
    })
}

pub(super) async fn insert_raw_calls(
    pool: &PgPool,
    calls: &[CallRecord],
) -> Result<u64, StoreError> {
    Err(StoreError::NotOnThisBackend {
        what: "insert_raw_calls",
    })
}
