//! The SQLite backend of the call register: connection set-up, migrations and the SQL.
//!
//! Runtime-checked queries (`sqlx::query(..).bind(..)`) keep the build free of a
//! `DATABASE_URL`; the schema lives in `migrations/sqlite` and is embedded at build time.
//!
//! Invariants:
//! - Batches run in `BEGIN IMMEDIATE` transactions: the write lock is taken up front, so a
//!   concurrent writer makes us wait (busy timeout) instead of failing half-way through.
//! - A statement SQLite refuses on a constraint rolls back only that statement (SQLite's
//!   default ABORT resolution), so the batch's transaction stays usable and the write is
//!   reported as skipped; any other error abandons the whole transaction.

use std::str::FromStr;
use std::time::Duration;

use jiff::Timestamp;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::Row;

use super::{ApplyReport, SkippedWrite, StoreError};
use crate::model::{
    format_time, CallEvent, CallRecord, CallUpdate, NewCall, RegisterWrite, RingAttempt,
};

static MIGRATOR: Migrator = sqlx::migrate!("migrations/sqlite");

/// How long a statement waits for another connection's write lock before failing. Long
/// enough to ride out a QA export or a WAL checkpoint, short enough that the register
/// writer notices a wedged database and starts logging its retries.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// SQLite's primary result code for every kind of constraint failure (CHECK, NOT NULL,
/// UNIQUE, a trigger's `RAISE(ABORT)`...); extended codes keep it in their low byte.
const SQLITE_CONSTRAINT: i32 = 19;

/// Every column of `calls`, in [`CallRecord`] order.
macro_rules! columns {
    () => {
        "id, sip_call_id, caller, dialed, source, received_at, answered_at, queued_at, \
         connected_at, ended_at, operator_id, wait_ms, talk_ms, outcome, hangup_by, \
         final_status, end_reason, recording_path, recording_ms, recording_bytes, \
         recording_sha256, recording_error, notice_played_at, notice_completed, topic"
    };
}

const INSERT_CALL: &str = "INSERT INTO calls \
     (id, sip_call_id, caller, dialed, source, received_at, outcome) \
     VALUES (?, ?, ?, ?, ?, ?, 'in_progress') \
     ON CONFLICT (id) DO NOTHING";

// `COALESCE(?, col)`: an absent field (NULL) keeps what the row has, so updates only ever
// add facts and can be applied twice without harm.
const UPDATE_CALL: &str = "UPDATE calls SET \
     answered_at = COALESCE(?, answered_at), \
     queued_at = COALESCE(?, queued_at), \
     connected_at = COALESCE(?, connected_at), \
     ended_at = COALESCE(?, ended_at), \
     operator_id = COALESCE(?, operator_id), \
     wait_ms = COALESCE(?, wait_ms), \
     talk_ms = COALESCE(?, talk_ms), \
     outcome = COALESCE(?, outcome), \
     hangup_by = COALESCE(?, hangup_by), \
     final_status = COALESCE(?, final_status), \
     end_reason = COALESCE(?, end_reason), \
     recording_path = COALESCE(?, recording_path), \
     recording_ms = COALESCE(?, recording_ms), \
     recording_bytes = COALESCE(?, recording_bytes), \
     recording_sha256 = COALESCE(?, recording_sha256), \
     recording_error = COALESCE(?, recording_error), \
     notice_played_at = COALESCE(?, notice_played_at), \
     notice_completed = COALESCE(?, notice_completed) \
     WHERE id = ?";

const MARK_INTERRUPTED: &str = "UPDATE calls SET \
     outcome = 'interrupted', \
     ended_at = COALESCE(ended_at, ?), \
     end_reason = COALESCE(end_reason, 'server_restart'), \
     hangup_by = COALESCE(hangup_by, 'system') \
     WHERE outcome = 'in_progress'";

const SELECT_CALL: &str = concat!("SELECT ", columns!(), " FROM calls WHERE id = ?");
const SELECT_BY_SIP_CALL_ID: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM calls WHERE sip_call_id = ? ORDER BY received_at, id"
);
const SELECT_RECENT: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM calls ORDER BY received_at DESC, id DESC LIMIT ?"
);

const SELECT_WITH_RECORDINGS: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM calls WHERE outcome = 'answered' OR connected_at IS NOT NULL \
     OR recording_path IS NOT NULL OR recording_error IS NOT NULL \
     ORDER BY received_at, id"
);

fn database(source: sqlx::Error) -> StoreError {
    StoreError::Database { source }
}

/// Connects a pool to the file named by `url` and applies the embedded migrations.
pub(super) async fn open(url: &str, max_connections: u32) -> Result<SqlitePool, StoreError> {
    let options =
        SqliteConnectOptions::from_str(url).map_err(|source| StoreError::InvalidUrl { source })?;
    let path = options.get_filename().to_path_buf();
    if path.as_os_str().is_empty() {
        return Err(StoreError::MissingPath);
    }
    if !is_in_memory(url) {
        if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|source| StoreError::CreateDir {
                    path: dir.to_path_buf(),
                    source,
                })?;
        }
    }
    let options = options
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(BUSY_TIMEOUT);
    let pool = SqlitePoolOptions::new()
        .max_connections(max_connections.max(1))
        .connect_with(options)
        .await
        .map_err(|source| StoreError::Connect { source })?;
    if let Err(source) = MIGRATOR.run(&pool).await {
        pool.close().await;
        return Err(StoreError::Migrate { source });
    }
    Ok(pool)
}

/// `sqlite::memory:` or `mode=memory`: no file, so no directory to create.
fn is_in_memory(url: &str) -> bool {
    let (location, query) = url.split_once('?').unwrap_or((url, ""));
    location.ends_with(":memory:") || query.split('&').any(|pair| pair == "mode=memory")
}

/// Is this the database refusing one statement (rather than failing as a whole)?
fn is_refusal(err: &sqlx::Error) -> bool {
    err.as_database_error()
        .and_then(|db| db.code())
        .and_then(|code| code.parse::<i32>().ok())
        .is_some_and(|code| code & 0xff == SQLITE_CONSTRAINT)
}

pub(super) async fn apply(
    pool: &SqlitePool,
    writes: &[RegisterWrite],
) -> Result<ApplyReport, StoreError> {
    let mut report = ApplyReport::default();
    if writes.is_empty() {
        return Ok(report);
    }
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.map_err(database)?;
    for (index, write) in writes.iter().enumerate() {
        let (id, result) = match write {
            RegisterWrite::Open(call) => (&call.id, insert(&mut tx, call).await),
            RegisterWrite::Update { id, update } => (id, update_call(&mut tx, id, update).await),
            RegisterWrite::Ring(ring) => (&ring.call_id, insert_ring(&mut tx, ring).await),
            RegisterWrite::Event(event) => (&event.call_id, insert_event(&mut tx, event).await),
        };
        let error = match result {
            Ok(rows) => match super::count_outcome(write, rows, &mut report) {
                Some(error) => error,
                None => continue,
            },
            Err(source) if is_refusal(&source) => StoreError::Refused {
                id: id.clone(),
                source,
            },
            // Dropping `tx` rolls the whole batch back.
            Err(source) => return Err(database(source)),
        };
        report.skipped.push(SkippedWrite { index, error });
    }
    tx.commit().await.map_err(database)?;
    Ok(report)
}

async fn insert_ring(
    conn: &mut sqlx::SqliteConnection,
    ring: &RingAttempt,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO ring_attempts (call_id, operator_id, started_at, ended_at, result) \
         VALUES (?, ?, ?, ?, ?) ON CONFLICT (call_id, operator_id, started_at) DO NOTHING",
    )
    .bind(&ring.call_id)
    .bind(&ring.operator_id)
    .bind(format_time(ring.started_at))
    .bind(format_time(ring.ended_at))
    .bind(ring.result.as_str())
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

async fn insert(conn: &mut sqlx::SqliteConnection, call: &NewCall) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(INSERT_CALL)
        .bind(&call.id)
        .bind(&call.sip_call_id)
        .bind(&call.caller)
        .bind(&call.dialed)
        .bind(&call.source)
        .bind(format_time(call.received_at))
        .execute(conn)
        .await?;
    Ok(done.rows_affected())
}

async fn update_call(
    conn: &mut sqlx::SqliteConnection,
    id: &str,
    update: &CallUpdate,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(UPDATE_CALL)
        .bind(update.answered_at.map(format_time))
        .bind(update.queued_at.map(format_time))
        .bind(update.connected_at.map(format_time))
        .bind(update.ended_at.map(format_time))
        .bind(update.operator_id.as_deref())
        .bind(update.wait_ms)
        .bind(update.talk_ms)
        .bind(update.outcome.map(|o| o.as_str()))
        .bind(update.hangup_by.map(|h| h.as_str()))
        .bind(update.final_status.map(i64::from))
        .bind(update.end_reason.map(|r| r.as_str()))
        .bind(update.recording_path.as_deref())
        .bind(update.recording_ms)
        .bind(update.recording_bytes)
        .bind(update.recording_sha256.as_deref())
        .bind(update.recording_error.as_deref())
        .bind(update.notice_played_at.map(format_time))
        .bind(update.notice_completed.map(i64::from))
        .bind(id)
        .execute(conn)
        .await?;
    Ok(done.rows_affected())
}

pub(super) async fn call(pool: &SqlitePool, id: &str) -> Result<Option<CallRecord>, StoreError> {
    let row = sqlx::query(SELECT_CALL)
        .bind(id)
        .fetch_optional(pool)
        .await
        .map_err(database)?;
    row.as_ref().map(record).transpose().map_err(database)
}

pub(super) async fn calls_by_sip_call_id(
    pool: &SqlitePool,
    sip_call_id: &str,
) -> Result<Vec<CallRecord>, StoreError> {
    let rows = sqlx::query(SELECT_BY_SIP_CALL_ID)
        .bind(sip_call_id)
        .fetch_all(pool)
        .await
        .map_err(database)?;
    rows.iter()
        .map(record)
        .collect::<Result<_, _>>()
        .map_err(database)
}

pub(super) async fn ring_attempts(
    pool: &SqlitePool,
    call_id: &str,
) -> Result<Vec<(String, String)>, StoreError> {
    let rows = sqlx::query(
        "SELECT operator_id, result FROM ring_attempts WHERE call_id = ? ORDER BY started_at, rowid",
    )
    .bind(call_id)
    .fetch_all(pool)
    .await
    .map_err(database)?;
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect::<Result<_, sqlx::Error>>()
        .map_err(database)
}

pub(super) async fn recent_calls(
    pool: &SqlitePool,
    limit: u32,
) -> Result<Vec<CallRecord>, StoreError> {
    let rows = sqlx::query(SELECT_RECENT)
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await
        .map_err(database)?;
    rows.iter()
        .map(record)
        .collect::<Result<_, _>>()
        .map_err(database)
}

pub(super) async fn calls_with_recordings(
    pool: &SqlitePool,
) -> Result<Vec<CallRecord>, StoreError> {
    let rows = sqlx::query(SELECT_WITH_RECORDINGS)
        .fetch_all(pool)
        .await
        .map_err(database)?;
    rows.iter()
        .map(record)
        .collect::<Result<_, _>>()
        .map_err(database)
}

pub(super) async fn count_calls(pool: &SqlitePool) -> Result<u64, StoreError> {
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM calls")
        .fetch_one(pool)
        .await
        .map_err(database)?;
    // COUNT(*) is never negative.
    Ok(count.unsigned_abs())
}

pub(super) async fn mark_interrupted(pool: &SqlitePool, now: Timestamp) -> Result<u64, StoreError> {
    let done = sqlx::query(MARK_INTERRUPTED)
        .bind(format_time(now))
        .execute(pool)
        .await
        .map_err(database)?;
    Ok(done.rows_affected())
}

/// One `calls` row as the register's record (also used by the QA queries).
pub(super) fn record(row: &SqliteRow) -> Result<CallRecord, sqlx::Error> {
    Ok(CallRecord {
        id: row.try_get("id")?,
        sip_call_id: row.try_get("sip_call_id")?,
        caller: row.try_get("caller")?,
        dialed: row.try_get("dialed")?,
        source: row.try_get("source")?,
        received_at: row.try_get("received_at")?,
        answered_at: row.try_get("answered_at")?,
        queued_at: row.try_get("queued_at")?,
        connected_at: row.try_get("connected_at")?,
        ended_at: row.try_get("ended_at")?,
        operator_id: row.try_get("operator_id")?,
        wait_ms: row.try_get("wait_ms")?,
        talk_ms: row.try_get("talk_ms")?,
        outcome: row.try_get("outcome")?,
        hangup_by: row.try_get("hangup_by")?,
        final_status: row.try_get("final_status")?,
        end_reason: row.try_get("end_reason")?,
        recording_path: row.try_get("recording_path")?,
        recording_ms: row.try_get("recording_ms")?,
        recording_bytes: row.try_get("recording_bytes")?,
        recording_sha256: row.try_get("recording_sha256")?,
        recording_error: row.try_get("recording_error")?,
        notice_played_at: row.try_get("notice_played_at")?,
        notice_completed: row
            .try_get::<Option<i64>, _>("notice_completed")?
            .map(|v| v != 0),
        topic: row.try_get("topic")?,
    })
}

async fn insert_event(
    conn: &mut sqlx::SqliteConnection,
    event: &CallEvent,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO call_events (call_id, at, kind, detail) VALUES (?, ?, ?, ?) \
         ON CONFLICT (call_id, at, kind) DO NOTHING",
    )
    .bind(&event.call_id)
    .bind(format_time(event.at))
    .bind(event.kind.as_str())
    .bind(event.detail.as_deref())
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_memory_urls_are_recognised() {
        assert!(is_in_memory("sqlite::memory:"));
        assert!(is_in_memory("sqlite://register?mode=memory&cache=shared"));
        assert!(!is_in_memory("sqlite://data/hotline.db?mode=rwc"));
        assert!(!is_in_memory("sqlite:hotline.db"));
    }

    #[test]
    fn every_column_is_selected() {
        // One per CallRecord field (the 0003 migration added three).
        assert_eq!(columns!().split(',').count(), 25);
    }
}
