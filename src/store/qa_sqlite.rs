//! The SQLite SQL of the QA side (see `qa.rs`): users, sessions, tokens, audit, searches
//! and statistics aggregates. Schema in `migrations/sqlite/0004_users_sessions_audit.sql`.
//!
//! Invariants:
//! - Every value from a request is bound, never spliced into SQL text; the dynamic search
//!   only appends fixed fragments.
//! - Statistics are aggregated by SQLite; only the per-day sums and counts come back.

use sqlx::sqlite::{SqlitePool, SqliteRow};
use sqlx::{QueryBuilder, Row, Sqlite};

use super::qa::{
    AuditEntry, CallFilter, DayAggregate, OperatorAggregate, Principal, RingRecord, Role,
    TopicFilter, UserRecord,
};
use super::StoreError;
use crate::model::CallRecord;

const COLUMNS: &str = "id, sip_call_id, caller, dialed, source, received_at, answered_at, \
     queued_at, connected_at, ended_at, operator_id, wait_ms, talk_ms, outcome, hangup_by, \
     final_status, end_reason, recording_path, recording_ms, recording_bytes, \
     recording_sha256, recording_error, notice_played_at, notice_completed, topic";

fn database(source: sqlx::Error) -> StoreError {
    StoreError::Database { source }
}

/// Counts come back as `i64`; they are never negative.
fn count(v: i64) -> u64 {
    v.max(0).unsigned_abs()
}

fn role_of(row: &SqliteRow, column: &str) -> Result<Role, sqlx::Error> {
    let text: String = row.try_get(column)?;
    // The CHECK constraint keeps the column to the three names.
    Role::parse(&text).ok_or_else(|| sqlx::Error::ColumnDecode {
        index: column.to_owned(),
        source: format!("unknown role `{text}`").into(),
    })
}

pub(super) async fn add_user(
    pool: &SqlitePool,
    username: &str,
    password_hash: &str,
    role: Role,
    now: &str,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "INSERT INTO users (username, password_hash, role, created_at) VALUES (?, ?, ?, ?) \
         ON CONFLICT (username) DO NOTHING",
    )
    .bind(username)
    .bind(password_hash)
    .bind(role.as_str())
    .bind(now)
    .execute(pool)
    .await
    .map_err(database)?;
    Ok(done.rows_affected() == 1)
}

fn user_record(row: &SqliteRow) -> Result<UserRecord, sqlx::Error> {
    Ok(UserRecord {
        username: row.try_get("username")?,
        role: role_of(row, "role")?,
        password_hash: row.try_get("password_hash")?,
        created_at: row.try_get("created_at")?,
    })
}

pub(super) async fn user(
    pool: &SqlitePool,
    username: &str,
) -> Result<Option<UserRecord>, StoreError> {
    let row = sqlx::query(
        "SELECT username, password_hash, role, created_at FROM users WHERE username = ?",
    )
    .bind(username)
    .fetch_optional(pool)
    .await
    .map_err(database)?;
    row.as_ref().map(user_record).transpose().map_err(database)
}

pub(super) async fn users(pool: &SqlitePool) -> Result<Vec<UserRecord>, StoreError> {
    let rows = sqlx::query(
        "SELECT username, password_hash, role, created_at FROM users ORDER BY username",
    )
    .fetch_all(pool)
    .await
    .map_err(database)?;
    rows.iter()
        .map(user_record)
        .collect::<Result<_, _>>()
        .map_err(database)
}

pub(super) async fn create_session(
    pool: &SqlitePool,
    token_sha256: &str,
    username: &str,
    now: &str,
    idle_cutoff: &str,
) -> Result<(), StoreError> {
    let mut tx = pool.begin().await.map_err(database)?;
    sqlx::query("DELETE FROM sessions WHERE last_seen_at < ?")
        .bind(idle_cutoff)
        .execute(&mut *tx)
        .await
        .map_err(database)?;
    sqlx::query(
        "INSERT INTO sessions (token_sha256, username, created_at, last_seen_at) \
         VALUES (?, ?, ?, ?)",
    )
    .bind(token_sha256)
    .bind(username)
    .bind(now)
    .bind(now)
    .execute(&mut *tx)
    .await
    .map_err(database)?;
    tx.commit().await.map_err(database)
}

pub(super) async fn touch_session(
    pool: &SqlitePool,
    token_sha256: &str,
    now: &str,
    idle_cutoff: &str,
) -> Result<Option<Principal>, StoreError> {
    // One statement: the idle check and the refresh cannot be split by a concurrent
    // request, and a dead session is never revived.
    let row = sqlx::query(
        "UPDATE sessions SET last_seen_at = ? \
         WHERE token_sha256 = ? AND last_seen_at >= ? \
         RETURNING username, (SELECT role FROM users WHERE users.username = sessions.username) AS role",
    )
    .bind(now)
    .bind(token_sha256)
    .bind(idle_cutoff)
    .fetch_optional(pool)
    .await
    .map_err(database)?;
    row.map(|row| {
        Ok(Principal {
            username: row.try_get("username")?,
            role: role_of(&row, "role")?,
        })
    })
    .transpose()
    .map_err(database)
}

pub(super) async fn delete_session(
    pool: &SqlitePool,
    token_sha256: &str,
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM sessions WHERE token_sha256 = ?")
        .bind(token_sha256)
        .execute(pool)
        .await
        .map_err(database)?;
    Ok(())
}

pub(super) async fn add_token(
    pool: &SqlitePool,
    token_sha256: &str,
    name: &str,
    username: &str,
    now: &str,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "INSERT INTO api_tokens (token_sha256, name, username, created_at) \
         SELECT ?, ?, username, ? FROM users WHERE username = ?",
    )
    .bind(token_sha256)
    .bind(name)
    .bind(now)
    .bind(username)
    .execute(pool)
    .await
    .map_err(database)?;
    Ok(done.rows_affected() == 1)
}

pub(super) async fn token_principal(
    pool: &SqlitePool,
    token_sha256: &str,
) -> Result<Option<Principal>, StoreError> {
    let row = sqlx::query(
        "SELECT u.username, u.role FROM api_tokens t JOIN users u ON u.username = t.username \
         WHERE t.token_sha256 = ?",
    )
    .bind(token_sha256)
    .fetch_optional(pool)
    .await
    .map_err(database)?;
    row.map(|row| {
        Ok(Principal {
            username: row.try_get("username")?,
            role: role_of(&row, "role")?,
        })
    })
    .transpose()
    .map_err(database)
}

pub(super) async fn audit(pool: &SqlitePool, entry: &AuditEntry) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO audit (at, username, action, call_id, remote, detail) VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(&entry.at)
    .bind(&entry.username)
    .bind(&entry.action)
    .bind(&entry.call_id)
    .bind(&entry.remote)
    .bind(&entry.detail)
    .execute(pool)
    .await
    .map_err(database)?;
    Ok(())
}

pub(super) async fn audit_entries(
    pool: &SqlitePool,
    limit: u32,
    offset: u64,
) -> Result<(Vec<AuditEntry>, u64), StoreError> {
    let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit")
        .fetch_one(pool)
        .await
        .map_err(database)?;
    let rows = sqlx::query(
        "SELECT at, username, action, call_id, remote, detail FROM audit \
         ORDER BY id DESC LIMIT ? OFFSET ?",
    )
    .bind(i64::from(limit))
    .bind(i64::try_from(offset).unwrap_or(i64::MAX))
    .fetch_all(pool)
    .await
    .map_err(database)?;
    let entries = rows
        .iter()
        .map(|r| {
            Ok(AuditEntry {
                at: r.try_get("at")?,
                username: r.try_get("username")?,
                action: r.try_get("action")?,
                call_id: r.try_get("call_id")?,
                remote: r.try_get("remote")?,
                detail: r.try_get("detail")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(database)?;
    Ok((entries, count(total)))
}

/// Appends the filter's conditions (each a fixed fragment with bound values).
fn push_conditions<'a>(q: &mut QueryBuilder<'a, Sqlite>, f: &'a CallFilter) {
    q.push(" WHERE 1 = 1");
    if let Some(from) = &f.from {
        q.push(" AND received_at >= ").push_bind(from);
    }
    if let Some(to) = &f.to {
        q.push(" AND received_at < ").push_bind(to);
    }
    if let Some(caller) = &f.caller {
        q.push(" AND instr(caller, ")
            .push_bind(caller)
            .push(") > 0");
    }
    if let Some(operator) = &f.operator {
        q.push(" AND operator_id = ").push_bind(operator);
    }
    if let Some(outcome) = &f.outcome {
        q.push(" AND outcome = ").push_bind(outcome);
    }
    match &f.topic {
        Some(TopicFilter::Unset) => {
            q.push(" AND topic IS NULL");
        }
        Some(TopicFilter::Is(topic)) => {
            q.push(" AND topic = ").push_bind(topic);
        }
        None => {}
    }
    if let Some(min) = f.min_talk_ms {
        q.push(" AND talk_ms >= ").push_bind(min);
    }
}

pub(super) async fn search_calls(
    pool: &SqlitePool,
    f: &CallFilter,
) -> Result<(Vec<CallRecord>, u64), StoreError> {
    let mut q = QueryBuilder::new("SELECT COUNT(*) FROM calls");
    push_conditions(&mut q, f);
    let total: i64 = q
        .build_query_scalar()
        .fetch_one(pool)
        .await
        .map_err(database)?;
    let mut q = QueryBuilder::new(format!("SELECT {COLUMNS} FROM calls"));
    push_conditions(&mut q, f);
    q.push(" ORDER BY received_at DESC, id DESC LIMIT ")
        .push_bind(i64::from(f.limit))
        .push(" OFFSET ")
        .push_bind(i64::try_from(f.offset).unwrap_or(i64::MAX));
    let rows = q.build().fetch_all(pool).await.map_err(database)?;
    let calls = rows
        .iter()
        .map(super::sqlite::record)
        .collect::<Result<_, _>>()
        .map_err(database)?;
    Ok((calls, count(total)))
}

pub(super) async fn rings(pool: &SqlitePool, call_id: &str) -> Result<Vec<RingRecord>, StoreError> {
    let rows = sqlx::query(
        "SELECT operator_id, started_at, ended_at, result FROM ring_attempts \
         WHERE call_id = ? ORDER BY started_at, rowid",
    )
    .bind(call_id)
    .fetch_all(pool)
    .await
    .map_err(database)?;
    rows.iter()
        .map(|r| {
            Ok(RingRecord {
                operator_id: r.try_get("operator_id")?,
                started_at: r.try_get("started_at")?,
                ended_at: r.try_get("ended_at")?,
                result: r.try_get("result")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(database)
}

pub(super) async fn set_topic(
    pool: &SqlitePool,
    call_id: &str,
    topic: Option<&str>,
) -> Result<bool, StoreError> {
    let done = sqlx::query("UPDATE calls SET topic = ? WHERE id = ?")
        .bind(topic)
        .bind(call_id)
        .execute(pool)
        .await
        .map_err(database)?;
    Ok(done.rows_affected() == 1)
}

/// SQLite's date modifier that moves a UTC time into the zone.
fn offset_modifier(offset_seconds: i32) -> String {
    format!("{offset_seconds:+} seconds")
}

pub(super) async fn day_aggregates(
    pool: &SqlitePool,
    from: &str,
    to: &str,
    offset_seconds: i32,
) -> Result<Vec<DayAggregate>, StoreError> {
    // `received_at` is fixed-width UTC text, which date() reads (the `Z` included); the
    // range condition is answered from the `calls_stats` covering index.
    let rows = sqlx::query(
        "SELECT date(received_at, ?1) AS day, \
           COUNT(*) AS calls, \
           SUM(outcome = 'answered') AS answered, \
           SUM(outcome = 'abandoned') AS abandoned, \
           SUM(outcome = 'after_hours') AS after_hours, \
           SUM(outcome = 'overflow') AS overflow, \
           SUM(outcome = 'no_operators') AS no_operators, \
           SUM(outcome = 'rejected') AS rejected, \
           TOTAL(CASE WHEN outcome = 'answered' THEN wait_ms END) AS wait_sum, \
           COUNT(CASE WHEN outcome = 'answered' THEN wait_ms END) AS wait_n, \
           SUM(outcome = 'answered' AND wait_ms <= 20000) AS within_20s, \
           TOTAL(CASE WHEN outcome = 'answered' THEN talk_ms END) AS talk_sum, \
           COUNT(CASE WHEN outcome = 'answered' THEN talk_ms END) AS talk_n \
         FROM calls WHERE received_at >= ?2 AND received_at < ?3 \
         GROUP BY day ORDER BY day",
    )
    .bind(offset_modifier(offset_seconds))
    .bind(from)
    .bind(to)
    .fetch_all(pool)
    .await
    .map_err(database)?;
    rows.iter()
        .map(|r| {
            Ok(DayAggregate {
                date: r.try_get::<Option<String>, _>("day")?.unwrap_or_default(),
                calls: count(r.try_get("calls")?),
                answered: count(r.try_get("answered")?),
                abandoned: count(r.try_get("abandoned")?),
                after_hours: count(r.try_get("after_hours")?),
                overflow: count(r.try_get("overflow")?),
                no_operators: count(r.try_get("no_operators")?),
                rejected: count(r.try_get("rejected")?),
                // TOTAL() is a float; millisecond sums of a period fit exactly in an f64.
                wait_ms_sum: r.try_get::<f64, _>("wait_sum")? as i64,
                wait_n: count(r.try_get("wait_n")?),
                within_20s: count(r.try_get("within_20s")?),
                talk_ms_sum: r.try_get::<f64, _>("talk_sum")? as i64,
                talk_n: count(r.try_get("talk_n")?),
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(database)
}

pub(super) async fn answered_waits(
    pool: &SqlitePool,
    from: &str,
    to: &str,
    offset_seconds: i32,
) -> Result<Vec<(String, i64)>, StoreError> {
    let rows = sqlx::query(
        "SELECT date(received_at, ?1) AS day, wait_ms FROM calls \
         WHERE received_at >= ?2 AND received_at < ?3 \
           AND outcome = 'answered' AND wait_ms IS NOT NULL",
    )
    .bind(offset_modifier(offset_seconds))
    .bind(from)
    .bind(to)
    .fetch_all(pool)
    .await
    .map_err(database)?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get::<Option<String>, _>("day")?.unwrap_or_default(),
                r.try_get("wait_ms")?,
            ))
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(database)
}

pub(super) async fn operator_aggregates(
    pool: &SqlitePool,
    from: &str,
    to: &str,
) -> Result<Vec<OperatorAggregate>, StoreError> {
    let rows = sqlx::query(
        "SELECT operator_id, COUNT(*) AS answered, TOTAL(talk_ms) AS talk_total, \
           COUNT(talk_ms) AS talk_n \
         FROM calls WHERE received_at >= ? AND received_at < ? \
           AND outcome = 'answered' AND operator_id IS NOT NULL \
         GROUP BY operator_id ORDER BY operator_id",
    )
    .bind(from)
    .bind(to)
    .fetch_all(pool)
    .await
    .map_err(database)?;
    rows.iter()
        .map(|r| {
            Ok(OperatorAggregate {
                operator_id: r.try_get("operator_id")?,
                answered: count(r.try_get("answered")?),
                talk_ms_total: r.try_get::<f64, _>("talk_total")? as i64,
                talk_n: count(r.try_get("talk_n")?),
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(database)
}

pub(super) async fn topic_counts(
    pool: &SqlitePool,
    from: &str,
    to: &str,
) -> Result<Vec<(Option<String>, u64)>, StoreError> {
    let rows = sqlx::query(
        "SELECT topic, COUNT(*) AS calls FROM calls \
         WHERE received_at >= ? AND received_at < ? \
         GROUP BY topic ORDER BY calls DESC, topic",
    )
    .bind(from)
    .bind(to)
    .fetch_all(pool)
    .await
    .map_err(database)?;
    rows.iter()
        .map(|r| Ok((r.try_get("topic")?, count(r.try_get("calls")?))))
        .collect::<Result<_, sqlx::Error>>()
        .map_err(database)
}

pub(super) async fn insert_raw_calls(
    pool: &SqlitePool,
    calls: &[CallRecord],
) -> Result<u64, StoreError> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.map_err(database)?;
    let sql = format!(
        "INSERT INTO calls ({COLUMNS}) VALUES \
         (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    );
    let mut inserted = 0;
    for c in calls {
        let done = sqlx::query(&sql)
            .bind(&c.id)
            .bind(&c.sip_call_id)
            .bind(&c.caller)
            .bind(&c.dialed)
            .bind(&c.source)
            .bind(&c.received_at)
            .bind(&c.answered_at)
            .bind(&c.queued_at)
            .bind(&c.connected_at)
            .bind(&c.ended_at)
            .bind(&c.operator_id)
            .bind(c.wait_ms)
            .bind(c.talk_ms)
            .bind(&c.outcome)
            .bind(&c.hangup_by)
            .bind(c.final_status)
            .bind(&c.end_reason)
            .bind(&c.recording_path)
            .bind(c.recording_ms)
            .bind(c.recording_bytes)
            .bind(&c.recording_sha256)
            .bind(&c.recording_error)
            .bind(&c.notice_played_at)
            .bind(c.notice_completed.map(i64::from))
            .bind(&c.topic)
            .execute(&mut *tx)
            .await
            .map_err(database)?;
        inserted += done.rows_affected();
    }
    tx.commit().await.map_err(database)?;
    Ok(inserted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_become_sqlite_modifiers() {
        assert_eq!(offset_modifier(10_800), "+10800 seconds");
        assert_eq!(offset_modifier(-18_000), "-18000 seconds");
        assert_eq!(offset_modifier(0), "+0 seconds");
    }
}
