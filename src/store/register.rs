//! The register's reads and its one write of its own (`mark_interrupted`), written once
//! for both backends.
//!
//! Orders are total, so both backends list the same rows in the same order: by time, then
//! by id (in byte order on both), or by write order for rows of one call at one instant.

use sqlx::{Pool, QueryBuilder};

use super::dialect::{count, execute, fetch_all, fetch_optional, read_all, Columns, Db, PushArg};
use super::records::{EventRecord, RingRecord};
use super::{database, StoreError};
use crate::model::{format_time, CallRecord};

/// Every column of `calls`, in [`CallRecord`] order.
pub(super) const COLUMNS: &str = "id, sip_call_id, caller, dialed, source, received_at, \
     answered_at, queued_at, connected_at, ended_at, operator_id, wait_ms, talk_ms, outcome, \
     hangup_by, final_status, end_reason, recording_path, recording_ms, recording_bytes, \
     recording_sha256, recording_error, notice_played_at, notice_completed, topic, direction";

/// `SELECT` of every column of `calls`, to be followed by a condition and an order.
pub(super) fn select_calls<'a, DB: Db>() -> QueryBuilder<'a, DB> {
    QueryBuilder::new(format!("SELECT {COLUMNS} FROM calls"))
}

/// One `calls` row as the register's record.
pub(super) fn record(row: &impl Columns) -> Result<CallRecord, sqlx::Error> {
    Ok(CallRecord {
        id: row.text("id")?,
        sip_call_id: row.text("sip_call_id")?,
        caller: row.text("caller")?,
        dialed: row.text("dialed")?,
        source: row.text("source")?,
        received_at: row.text("received_at")?,
        answered_at: row.opt_text("answered_at")?,
        queued_at: row.opt_text("queued_at")?,
        connected_at: row.opt_text("connected_at")?,
        ended_at: row.opt_text("ended_at")?,
        operator_id: row.opt_text("operator_id")?,
        wait_ms: row.opt_int("wait_ms")?,
        talk_ms: row.opt_int("talk_ms")?,
        outcome: row.text("outcome")?,
        hangup_by: row.opt_text("hangup_by")?,
        final_status: row.opt_int("final_status")?,
        end_reason: row.opt_text("end_reason")?,
        recording_path: row.opt_text("recording_path")?,
        recording_ms: row.opt_int("recording_ms")?,
        recording_bytes: row.opt_int("recording_bytes")?,
        recording_sha256: row.opt_text("recording_sha256")?,
        recording_error: row.opt_text("recording_error")?,
        notice_played_at: row.opt_text("notice_played_at")?,
        notice_completed: row.opt_int("notice_completed")?.map(|v| v != 0),
        topic: row.opt_text("topic")?,
        direction: row.text("direction")?,
    })
}

async fn calls<DB: Db>(
    pool: &Pool<DB>,
    q: &mut QueryBuilder<'_, DB>,
) -> Result<Vec<CallRecord>, StoreError> {
    let rows = fetch_all(pool, q).await?;
    read_all(&rows, record)
}

pub(super) async fn call<DB: Db>(
    pool: &Pool<DB>,
    id: &str,
) -> Result<Option<CallRecord>, StoreError> {
    let mut q = select_calls();
    q.push(" WHERE id = ").arg(id);
    let row = fetch_optional(pool, &mut q).await?;
    row.as_ref().map(record).transpose().map_err(database)
}

pub(super) async fn calls_by_sip_call_id<DB: Db>(
    pool: &Pool<DB>,
    sip_call_id: &str,
) -> Result<Vec<CallRecord>, StoreError> {
    let mut q = select_calls();
    q.push(" WHERE sip_call_id = ")
        .arg(sip_call_id)
        .push(" ORDER BY received_at, id");
    calls(pool, &mut q).await
}

pub(super) async fn recent_calls<DB: Db>(
    pool: &Pool<DB>,
    limit: u32,
) -> Result<Vec<CallRecord>, StoreError> {
    let mut q = select_calls();
    q.push(" ORDER BY received_at DESC, id DESC LIMIT ")
        .arg(i64::from(limit));
    calls(pool, &mut q).await
}

pub(super) async fn calls_with_recordings<DB: Db>(
    pool: &Pool<DB>,
) -> Result<Vec<CallRecord>, StoreError> {
    let mut q = select_calls();
    q.push(
        " WHERE (outcome = 'answered' OR connected_at IS NOT NULL \
         OR recording_path IS NOT NULL OR recording_error IS NOT NULL) \
         AND recording_purged_at IS NULL ORDER BY received_at, id",
    );
    calls(pool, &mut q).await
}

pub(super) async fn count_calls<DB: Db>(pool: &Pool<DB>) -> Result<u64, StoreError> {
    count(
        pool,
        &mut QueryBuilder::new("SELECT COUNT(*) AS n FROM calls"),
    )
    .await
}

pub(super) async fn mark_interrupted<DB: Db>(
    pool: &Pool<DB>,
    now: jiff::Timestamp,
) -> Result<u64, StoreError> {
    let mut q = QueryBuilder::new(
        "UPDATE calls SET outcome = 'interrupted', \
         end_reason = COALESCE(end_reason, 'server_restart'), \
         hangup_by = COALESCE(hangup_by, 'system'), \
         ended_at = COALESCE(ended_at, ",
    );
    q.arg(format_time(now))
        .push(") WHERE outcome = 'in_progress'");
    execute(pool, &mut q).await
}

/// The operators rung for a call, in the order they were rung (attempts that started in
/// the same millisecond in the order they were written).
pub(super) async fn rings<DB: Db>(
    pool: &Pool<DB>,
    call_id: &str,
) -> Result<Vec<RingRecord>, StoreError> {
    let mut q = QueryBuilder::new(
        "SELECT operator_id, started_at, ended_at, result FROM ring_attempts WHERE call_id = ",
    );
    q.arg(call_id).push(format_args!(
        " ORDER BY started_at, {}",
        DB::DIALECT.write_order()
    ));
    let rows = fetch_all(pool, &mut q).await?;
    read_all(&rows, |r| {
        Ok(RingRecord {
            operator_id: r.text("operator_id")?,
            started_at: r.text("started_at")?,
            ended_at: r.text("ended_at")?,
            result: r.text("result")?,
        })
    })
}

/// A call's timeline events in time order (events of one instant in the order written).
pub(super) async fn events<DB: Db>(
    pool: &Pool<DB>,
    call_id: &str,
) -> Result<Vec<EventRecord>, StoreError> {
    let mut q = QueryBuilder::new("SELECT at, kind, detail FROM call_events WHERE call_id = ");
    q.arg(call_id)
        .push(format_args!(" ORDER BY at, {}", DB::DIALECT.write_order()));
    let rows = fetch_all(pool, &mut q).await?;
    read_all(&rows, |r| {
        Ok(EventRecord {
            at: r.text("at")?,
            kind: r.text("kind")?,
            detail: r.opt_text("detail")?,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_column_is_selected() {
        // One per CallRecord field.
        assert_eq!(COLUMNS.split(',').count(), 26);
    }
}
