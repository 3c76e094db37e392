//! Bulk insertion of fabricated register rows on PostgreSQL (the `dev seed` command).
//!
//! A row-by-row INSERT costs a round trip per call; tens of thousands of calls go instead
//! as one `INSERT ... SELECT FROM UNNEST(...)` per chunk, each column bound as one array,
//! all chunks in one transaction (so a failed seed leaves nothing behind, as on SQLite).
//!
//! Invariants:
//! - The statement has a fixed number of parameters (one per column), whatever the chunk
//!   size, so it stays far from the protocol's 65,535-parameter limit.
//! - The columns and their order are those of `COLUMNS` in the parent module.

use sqlx::postgres::PgPool;

use super::{database, StoreError, COLUMNS};
use crate::model::CallRecord;

/// Rows per statement: large enough that round trips do not matter, small enough that one
/// message stays a few megabytes.
const CHUNK: usize = 10_000;

/// Array types of the columns, in `COLUMNS` order.
const ARRAY_TYPES: [&str; 25] = [
    "TEXT", "TEXT", "TEXT", "TEXT", "TEXT", "TEXT", "TEXT", "TEXT", "TEXT", "TEXT", "TEXT",
    "BIGINT", "BIGINT", "TEXT", "TEXT", "BIGINT", "TEXT", "TEXT", "BIGINT", "BIGINT", "TEXT",
    "TEXT", "TEXT", "BIGINT", "TEXT",
];

fn insert_sql() -> String {
    let arrays: Vec<String> = ARRAY_TYPES
        .iter()
        .enumerate()
        .map(|(i, t)| format!("${}::{t}[]", i + 1))
        .collect();
    format!(
        "INSERT INTO calls ({COLUMNS}) SELECT * FROM UNNEST({})",
        arrays.join(", ")
    )
}

fn texts(calls: &[CallRecord], f: impl Fn(&CallRecord) -> &str) -> Vec<&str> {
    calls.iter().map(f).collect()
}

fn opt_texts(
    calls: &[CallRecord],
    f: impl Fn(&CallRecord) -> &Option<String>,
) -> Vec<Option<&str>> {
    calls.iter().map(|c| f(c).as_deref()).collect()
}

fn ints(calls: &[CallRecord], f: impl Fn(&CallRecord) -> Option<i64>) -> Vec<Option<i64>> {
    calls.iter().map(f).collect()
}

pub(in crate::store) async fn insert_raw_calls(
    pool: &PgPool,
    calls: &[CallRecord],
) -> Result<u64, StoreError> {
    let sql = insert_sql();
    let mut tx = pool.begin().await.map_err(database)?;
    let mut inserted = 0;
    for chunk in calls.chunks(CHUNK) {
        let done = sqlx::query(&sql)
            .bind(texts(chunk, |c| &c.id))
            .bind(texts(chunk, |c| &c.sip_call_id))
            .bind(texts(chunk, |c| &c.caller))
            .bind(texts(chunk, |c| &c.dialed))
            .bind(texts(chunk, |c| &c.source))
            .bind(texts(chunk, |c| &c.received_at))
            .bind(opt_texts(chunk, |c| &c.answered_at))
            .bind(opt_texts(chunk, |c| &c.queued_at))
            .bind(opt_texts(chunk, |c| &c.connected_at))
            .bind(opt_texts(chunk, |c| &c.ended_at))
            .bind(opt_texts(chunk, |c| &c.operator_id))
            .bind(ints(chunk, |c| c.wait_ms))
            .bind(ints(chunk, |c| c.talk_ms))
            .bind(texts(chunk, |c| &c.outcome))
            .bind(opt_texts(chunk, |c| &c.hangup_by))
            .bind(ints(chunk, |c| c.final_status))
            .bind(opt_texts(chunk, |c| &c.end_reason))
            .bind(opt_texts(chunk, |c| &c.recording_path))
            .bind(ints(chunk, |c| c.recording_ms))
            .bind(ints(chunk, |c| c.recording_bytes))
            .bind(opt_texts(chunk, |c| &c.recording_sha256))
            .bind(opt_texts(chunk, |c| &c.recording_error))
            .bind(opt_texts(chunk, |c| &c.notice_played_at))
            .bind(ints(chunk, |c| c.notice_completed.map(i64::from)))
            .bind(opt_texts(chunk, |c| &c.topic))
            .execute(&mut *tx)
            .await
            .map_err(database)?;
        inserted += done.rows_affected();
    }
    tx.commit().await.map_err(database)?;
    // A bulk load leaves the planner's statistics describing the table before it, and the
    // new pages not yet marked all-visible (so the covering `calls_stats` index would still
    // visit the table for every row). Autovacuum gets there in its own time; a seed is
    // followed at once by statistics queries, so do it now. (VACUUM cannot run inside a
    // transaction, hence after the commit.)
    sqlx::query("VACUUM (ANALYZE) calls")
        .execute(pool)
        .await
        .map_err(database)?;
    Ok(inserted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_array_per_column() {
        assert_eq!(ARRAY_TYPES.len(), COLUMNS.split(',').count());
        let sql = insert_sql();
        assert!(sql.contains("$25::TEXT[])"), "{sql}");
        assert!(sql.contains("$12::BIGINT[], $13::BIGINT[]"), "{sql}");
        assert!(!sql.contains("$26"), "{sql}");
    }
}
