//! The PostgreSQL backend of the call register: connection set-up, migrations and the SQL.
//!
//! Same schema and meaning as the SQLite backend (`migrations/postgres` mirrors
//! `migrations/sqlite`; times are the same fixed-width TEXT), so every [`super::Store`]
//! method answers identically on both. Runtime-checked queries keep the build free of a
//! `DATABASE_URL`.
//!
//! Invariants:
//! - A batch runs in one transaction. PostgreSQL aborts a whole transaction on any failed
//!   statement, so a batch in which the database refuses a write on its own merits (a
//!   constraint, a trigger's exception, a value PostgreSQL cannot store) is rolled back and
//!   run again with a savepoint per write: the refused write is rolled back to its
//!   savepoint and reported as skipped, and the rest of the batch commits, exactly as on
//!   SQLite. Any other error abandons the whole transaction.
//! - The URL (which may carry a password) is parsed here and never formatted into an error
//!   or a log line; errors carry only what the driver or server said.

use std::str::FromStr;
use std::time::Duration;

use jiff::Timestamp;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::Row;

use super::{ApplyReport, SkippedWrite, StoreError};
use crate::model::{
    format_time, CallEvent, CallRecord, CallUpdate, NewCall, RegisterWrite, RingAttempt,
};

static MIGRATOR: Migrator = sqlx::migrate!("migrations/postgres");

/// How long taking a connection from the pool may take, connecting included. Short, so a
/// database that is down fails a batch within seconds and the register writer turns to its
/// spool instead of holding the engine's writes in memory.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

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
     VALUES ($1, $2, $3, $4, $5, $6, 'in_progress') \
     ON CONFLICT (id) DO NOTHING";

const INSERT_RING: &str = "INSERT INTO ring_attempts \
     (call_id, operator_id, started_at, ended_at, result) VALUES ($1, $2, $3, $4, $5) \
     ON CONFLICT (call_id, operator_id, started_at) DO NOTHING";

// `COALESCE($n, col)`: an absent field (NULL) keeps what the row has, so updates only ever
// add facts and can be applied twice without harm.
const UPDATE_CALL: &str = "UPDATE calls SET \
     answered_at = COALESCE($1, answered_at), \
     queued_at = COALESCE($2, queued_at), \
     connected_at = COALESCE($3, connected_at), \
     ended_at = COALESCE($4, ended_at), \
     operator_id = COALESCE($5, operator_id), \
     wait_ms = COALESCE($6, wait_ms), \
     talk_ms = COALESCE($7, talk_ms), \
     outcome = COALESCE($8, outcome), \
     hangup_by = COALESCE($9, hangup_by), \
     final_status = COALESCE($10, final_status), \
     end_reason = COALESCE($11, end_reason), \
     recording_path = COALESCE($12, recording_path), \
     recording_ms = COALESCE($13, recording_ms), \
     recording_bytes = COALESCE($14, recording_bytes), \
     recording_sha256 = COALESCE($15, recording_sha256), \
     recording_error = COALESCE($16, recording_error), \
     notice_played_at = COALESCE($17, notice_played_at), \
     notice_completed = COALESCE($18, notice_completed) \
     WHERE id = $19";

const MARK_INTERRUPTED: &str = "UPDATE calls SET \
     outcome = 'interrupted', \
     ended_at = COALESCE(ended_at, $1), \
     end_reason = COALESCE(end_reason, 'server_restart'), \
     hangup_by = COALESCE(hangup_by, 'system') \
     WHERE outcome = 'in_progress'";

const SELECT_CALL: &str = concat!("SELECT ", columns!(), " FROM calls WHERE id = $1");
const SELECT_BY_SIP_CALL_ID: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM calls WHERE sip_call_id = $1 ORDER BY received_at, id"
);
const SELECT_RECENT: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM calls ORDER BY received_at DESC, id DESC LIMIT $1"
);
const SELECT_WITH_RECORDINGS: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM calls WHERE outcome = 'answered' OR connected_at IS NOT NULL \
     OR recording_path IS NOT NULL OR recording_error IS NOT NULL \
     ORDER BY received_at, id"
);

/// The savepoint each write runs under. One name is enough: after a write succeeds it is
/// released and set again, and `ROLLBACK TO` keeps it in place for the next write.
const SAVEPOINT: &str = "SAVEPOINT register_write";
const NEXT_SAVEPOINT: &str = "RELEASE SAVEPOINT register_write; SAVEPOINT register_write";
const ROLLBACK_WRITE: &str = "ROLLBACK TO SAVEPOINT register_write";

fn database(source: sqlx::Error) -> StoreError {
    StoreError::Database { source }
}

/// Connects a pool to the database named by `url` and applies the embedded migrations.
pub(super) async fn open(url: &str, max_connections: u32) -> Result<PgPool, StoreError> {
    let options =
        PgConnectOptions::from_str(url).map_err(|source| StoreError::InvalidUrl { source })?;
    let pool = PgPoolOptions::new()
        .max_connections(max_connections.max(1))
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_with(options)
        .await
        .map_err(|source| StoreError::Connect { source })?;
    if let Err(source) = MIGRATOR.run(&pool).await {
        pool.close().await;
        return Err(StoreError::Migrate { source });
    }
    Ok(pool)
}

/// Is this the database refusing one statement on its merits (rather than failing as a
/// whole)? SQLSTATE class 23 (integrity constraint: CHECK, UNIQUE, foreign key, NOT NULL),
/// class 22 (data exception: a value PostgreSQL cannot store, such as a NUL byte in text)
/// and P0001 (an exception raised by a trigger).
fn is_refusal(err: &sqlx::Error) -> bool {
    err.as_database_error()
        .and_then(|db| db.code())
        .is_some_and(|code| code.starts_with("23") || code.starts_with("22") || code == "P0001")
}

pub(super) async fn apply(
    pool: &PgPool,
    writes: &[RegisterWrite],
) -> Result<ApplyReport, StoreError> {
    if writes.is_empty() {
        return Ok(ApplyReport::default());
    }
    // Refusals are rare: try the batch without savepoints first (one round trip per
    // write instead of two), and only when a write is refused roll it all back and run it
    // again write by write under savepoints.
    match run_batch(pool, writes, Guard::None).await? {
        Some(report) => Ok(report),
        None => Ok(run_batch(pool, writes, Guard::Savepoints)
            .await?
            .expect("a batch under savepoints never gives up on a refusal")),
    }
}

/// How a batch protects itself from one refused write.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Guard {
    /// No protection: the first refusal abandons the batch (`Ok(None)`).
    None,
    /// A savepoint per write: a refused write is rolled back alone and reported.
    Savepoints,
}

async fn run_batch(
    pool: &PgPool,
    writes: &[RegisterWrite],
    guard: Guard,
) -> Result<Option<ApplyReport>, StoreError> {
    let mut report = ApplyReport::default();
    let mut tx = pool.begin().await.map_err(database)?;
    if guard == Guard::Savepoints {
        savepoint(&mut tx, SAVEPOINT).await.map_err(database)?;
    }
    for (index, write) in writes.iter().enumerate() {
        let (id, result) = match write {
            RegisterWrite::Open(call) => (&call.id, insert(&mut tx, call).await),
            RegisterWrite::Update { id, update } => (id, update_call(&mut tx, id, update).await),
            RegisterWrite::Ring(ring) => (&ring.call_id, insert_ring(&mut tx, ring).await),
            RegisterWrite::Event(event) => (&event.call_id, insert_event(&mut tx, event).await),
        };
        let error = match result {
            Ok(rows) => {
                if guard == Guard::Savepoints && index + 1 < writes.len() {
                    savepoint(&mut tx, NEXT_SAVEPOINT).await.map_err(database)?;
                }
                match super::count_outcome(write, rows, &mut report) {
                    Some(error) => error,
                    None => continue,
                }
            }
            // Dropping `tx` rolls the batch back.
            Err(source) if is_refusal(&source) && guard == Guard::None => return Ok(None),
            Err(source) if is_refusal(&source) => {
                savepoint(&mut tx, ROLLBACK_WRITE).await.map_err(database)?;
                StoreError::Refused {
                    id: id.clone(),
                    source,
                }
            }
            Err(source) => return Err(database(source)),
        };
        report.skipped.push(SkippedWrite { index, error });
    }
    tx.commit().await.map_err(database)?;
    Ok(Some(report))
}

/// Runs one of the savepoint statements (a plain function, so the batch future stays
/// `Send` for the writer task).
async fn savepoint(conn: &mut sqlx::PgConnection, sql: &'static str) -> Result<(), sqlx::Error> {
    sqlx::Executor::execute(conn, sql).await.map(drop)
}

async fn insert(conn: &mut sqlx::PgConnection, call: &NewCall) -> Result<u64, sqlx::Error> {
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

async fn insert_ring(
    conn: &mut sqlx::PgConnection,
    ring: &RingAttempt,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(INSERT_RING)
        .bind(&ring.call_id)
        .bind(&ring.operator_id)
        .bind(format_time(ring.started_at))
        .bind(format_time(ring.ended_at))
        .bind(ring.result.as_str())
        .execute(conn)
        .await?;
    Ok(done.rows_affected())
}

async fn update_call(
    conn: &mut sqlx::PgConnection,
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

pub(super) async fn call(pool: &PgPool, id: &str) -> Result<Option<CallRecord>, StoreError> {
    let row = sqlx::query(SELECT_CALL)
        .bind(id)
        .fetch_optional(pool)
        .await
        .map_err(database)?;
    row.as_ref().map(record).transpose().map_err(database)
}

pub(super) async fn calls_by_sip_call_id(
    pool: &PgPool,
    sip_call_id: &str,
) -> Result<Vec<CallRecord>, StoreError> {
    let rows = sqlx::query(SELECT_BY_SIP_CALL_ID)
        .bind(sip_call_id)
        .fetch_all(pool)
        .await
        .map_err(database)?;
    records(&rows)
}

pub(super) async fn ring_attempts(
    pool: &PgPool,
    call_id: &str,
) -> Result<Vec<(String, String)>, StoreError> {
    let rows = sqlx::query(
        "SELECT operator_id, result FROM ring_attempts WHERE call_id = $1 ORDER BY started_at, seq",
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

pub(super) async fn recent_calls(pool: &PgPool, limit: u32) -> Result<Vec<CallRecord>, StoreError> {
    let rows = sqlx::query(SELECT_RECENT)
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await
        .map_err(database)?;
    records(&rows)
}

pub(super) async fn calls_with_recordings(pool: &PgPool) -> Result<Vec<CallRecord>, StoreError> {
    let rows = sqlx::query(SELECT_WITH_RECORDINGS)
        .fetch_all(pool)
        .await
        .map_err(database)?;
    records(&rows)
}

pub(super) async fn count_calls(pool: &PgPool) -> Result<u64, StoreError> {
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM calls")
        .fetch_one(pool)
        .await
        .map_err(database)?;
    // COUNT(*) is never negative.
    Ok(count.unsigned_abs())
}

pub(super) async fn mark_interrupted(pool: &PgPool, now: Timestamp) -> Result<u64, StoreError> {
    let done = sqlx::query(MARK_INTERRUPTED)
        .bind(format_time(now))
        .execute(pool)
        .await
        .map_err(database)?;
    Ok(done.rows_affected())
}

fn records(rows: &[PgRow]) -> Result<Vec<CallRecord>, StoreError> {
    rows.iter()
        .map(record)
        .collect::<Result<_, _>>()
        .map_err(database)
}

/// One `calls` row as the register's record (also used by the QA queries).
pub(super) fn record(row: &PgRow) -> Result<CallRecord, sqlx::Error> {
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
    conn: &mut sqlx::PgConnection,
    event: &CallEvent,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO call_events (call_id, at, kind, detail) VALUES ($1, $2, $3, $4) \
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
    fn every_column_is_selected() {
        assert_eq!(columns!().split(',').count(), 25);
    }

    #[test]
    fn update_binds_every_placeholder_once() {
        for n in 1..=19 {
            assert_eq!(
                UPDATE_CALL.matches(&format!("${n},")).count()
                    + UPDATE_CALL.matches(&format!("${n})")).count()
                    + usize::from(UPDATE_CALL.ends_with(&format!("${n}"))),
                1,
                "${n}"
            );
        }
    }

    #[tokio::test]
    async fn a_bad_url_error_does_not_quote_the_password() {
        let err = open("postgres://hotline:s3cret@db:notaport/hotline", 1)
            .await
            .expect_err("bad port");
        assert!(matches!(err, StoreError::InvalidUrl { .. }));
        assert!(!format!("{err} {err:?}").contains("s3cret"), "{err:?}");
    }
}
