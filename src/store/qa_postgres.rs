//! The PostgreSQL SQL of the QA side (see `qa.rs`): users, sessions, tokens, audit,
//! searches and statistics aggregates. Schema in
//! `migrations/postgres/0005_users_sessions_audit.sql`; the SQLite twin is `qa_sqlite.rs`,
//! and both answer the same data identically.
//!
//! Invariants:
//! - Every value from a request is bound, never spliced into SQL text; the dynamic search
//!   only appends fixed fragments.
//! - Times stay the register's fixed-width UTC text: ranges compare text (with the "C"
//!   collation, so in byte order as on SQLite) and use the `received_at` indexes; only the
//!   local-day label of a grouped row is computed from the text.
//! - Where PostgreSQL's defaults differ from SQLite's the SQL says so: NULLs sort first in
//!   ascending order (`NULLS FIRST`), and sums of BIGINT are cast back from NUMERIC.
//! - Statistics are aggregated by PostgreSQL; only the per-day sums and counts come back.

use sqlx::postgres::{PgPool, PgRow};
use sqlx::{Postgres, QueryBuilder, Row};

use super::qa::{
    AuditEntry, CallFilter, DayAggregate, OperatorAggregate, Principal, RingRecord, Role,
    TopicFilter, UserRecord,
};
use super::StoreError;
use crate::model::CallRecord;

#[path = "qa_postgres_seed.rs"]
mod seed;

pub(super) use seed::insert_raw_calls;

/// Every column of `calls`, in [`CallRecord`] order.
const COLUMNS: &str = "id, sip_call_id, caller, dialed, source, received_at, answered_at, \
     queued_at, connected_at, ended_at, operator_id, wait_ms, talk_ms, outcome, hangup_by, \
     final_status, end_reason, recording_path, recording_ms, recording_bytes, \
     recording_sha256, recording_error, notice_played_at, notice_completed, topic";

/// The local day of `received_at` in a zone `$1` seconds ahead of UTC, as `YYYY-MM-DD`.
///
/// Casting the text to `timestamp` (without zone) reads the UTC wall time and ignores the
/// `Z`, so neither the session's `TimeZone` nor its `DateStyle` can move the result; the
/// equivalent of SQLite's `date(received_at, '+N seconds')`.
const LOCAL_DAY: &str = "to_char(received_at::timestamp + make_interval(secs => $1), 'YYYY-MM-DD')";

fn database(source: sqlx::Error) -> StoreError {
    StoreError::Database { source }
}

/// Counts come back as `i64`; they are never negative.
fn count(v: i64) -> u64 {
    v.max(0).unsigned_abs()
}

fn role_of(row: &PgRow, column: &str) -> Result<Role, sqlx::Error> {
    let text: String = row.try_get(column)?;
    // The CHECK constraint keeps the column to the three names.
    Role::parse(&text).ok_or_else(|| sqlx::Error::ColumnDecode {
        index: column.to_owned(),
        source: format!("unknown role `{text}`").into(),
    })
}

fn principal(row: PgRow) -> Result<Principal, sqlx::Error> {
    Ok(Principal {
        username: row.try_get("username")?,
        role: role_of(&row, "role")?,
    })
}

pub(super) async fn add_user(
    pool: &PgPool,
    username: &str,
    password_hash: &str,
    role: Role,
    now: &str,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "INSERT INTO users (username, password_hash, role, created_at) VALUES ($1, $2, $3, $4) \
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

fn user_record(row: &PgRow) -> Result<UserRecord, sqlx::Error> {
    Ok(UserRecord {
        username: row.try_get("username")?,
        role: role_of(row, "role")?,
        password_hash: row.try_get("password_hash")?,
        created_at: row.try_get("created_at")?,
    })
}

pub(super) async fn user(pool: &PgPool, username: &str) -> Result<Option<UserRecord>, StoreError> {
    let row = sqlx::query(
        "SELECT username, password_hash, role, created_at FROM users WHERE username = $1",
    )
    .bind(username)
    .fetch_optional(pool)
    .await
    .map_err(database)?;
    row.as_ref().map(user_record).transpose().map_err(database)
}

pub(super) async fn users(pool: &PgPool) -> Result<Vec<UserRecord>, StoreError> {
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
    pool: &PgPool,
    token_sha256: &str,
    username: &str,
    now: &str,
    idle_cutoff: &str,
) -> Result<(), StoreError> {
    let mut tx = pool.begin().await.map_err(database)?;
    sqlx::query("DELETE FROM sessions WHERE last_seen_at < $1")
        .bind(idle_cutoff)
        .execute(&mut *tx)
        .await
        .map_err(database)?;
    sqlx::query(
        "INSERT INTO sessions (token_sha256, username, created_at, last_seen_at) \
         VALUES ($1, $2, $3, $3)",
    )
    .bind(token_sha256)
    .bind(username)
    .bind(now)
    .execute(&mut *tx)
    .await
    .map_err(database)?;
    tx.commit().await.map_err(database)
}

pub(super) async fn touch_session(
    pool: &PgPool,
    token_sha256: &str,
    now: &str,
    idle_cutoff: &str,
) -> Result<Option<Principal>, StoreError> {
    // One statement: the idle check and the refresh cannot be split by a concurrent
    // request, and a dead session is never revived.
    let row = sqlx::query(
        "UPDATE sessions s SET last_seen_at = $1 FROM users u \
         WHERE s.token_sha256 = $2 AND s.last_seen_at >= $3 AND u.username = s.username \
         RETURNING s.username, u.role",
    )
    .bind(now)
    .bind(token_sha256)
    .bind(idle_cutoff)
    .fetch_optional(pool)
    .await
    .map_err(database)?;
    row.map(principal).transpose().map_err(database)
}

pub(super) async fn delete_session(pool: &PgPool, token_sha256: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM sessions WHERE token_sha256 = $1")
        .bind(token_sha256)
        .execute(pool)
        .await
        .map_err(database)?;
    Ok(())
}

pub(super) async fn add_token(
    pool: &PgPool,
    token_sha256: &str,
    name: &str,
    username: &str,
    now: &str,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "INSERT INTO api_tokens (token_sha256, name, username, created_at) \
         SELECT $1, $2, username, $3 FROM users WHERE username = $4",
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
    pool: &PgPool,
    token_sha256: &str,
) -> Result<Option<Principal>, StoreError> {
    let row = sqlx::query(
        "SELECT u.username, u.role FROM api_tokens t JOIN users u ON u.username = t.username \
         WHERE t.token_sha256 = $1",
    )
    .bind(token_sha256)
    .fetch_optional(pool)
    .await
    .map_err(database)?;
    row.map(principal).transpose().map_err(database)
}

pub(super) async fn audit(pool: &PgPool, entry: &AuditEntry) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO audit (at, username, action, call_id, remote, detail) \
         VALUES ($1, $2, $3, $4, $5, $6)",
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
    pool: &PgPool,
    limit: u32,
    offset: u64,
) -> Result<(Vec<AuditEntry>, u64), StoreError> {
    let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit")
        .fetch_one(pool)
        .await
        .map_err(database)?;
    let rows = sqlx::query(
        "SELECT at, username, action, call_id, remote, detail FROM audit \
         ORDER BY id DESC LIMIT $1 OFFSET $2",
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
fn push_conditions<'a>(q: &mut QueryBuilder<'a, Postgres>, f: &'a CallFilter) {
    q.push(" WHERE TRUE");
    if let Some(from) = &f.from {
        q.push(" AND received_at >= ").push_bind(from);
    }
    if let Some(to) = &f.to {
        q.push(" AND received_at < ").push_bind(to);
    }
    if let Some(caller) = &f.caller {
        // strpos, like SQLite's instr, matches the digits literally (no LIKE wildcards).
        q.push(" AND strpos(caller, ")
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
    pool: &PgPool,
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
        .map(super::postgres::record)
        .collect::<Result<_, _>>()
        .map_err(database)?;
    Ok((calls, count(total)))
}

pub(super) async fn rings(pool: &PgPool, call_id: &str) -> Result<Vec<RingRecord>, StoreError> {
    // `seq` keeps the write order of attempts that started in the same millisecond, as
    // the rowid does on SQLite.
    let rows = sqlx::query(
        "SELECT operator_id, started_at, ended_at, result FROM ring_attempts \
         WHERE call_id = $1 ORDER BY started_at, seq",
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
    pool: &PgPool,
    call_id: &str,
    topic: Option<&str>,
) -> Result<bool, StoreError> {
    let done = sqlx::query("UPDATE calls SET topic = $1 WHERE id = $2")
        .bind(topic)
        .bind(call_id)
        .execute(pool)
        .await
        .map_err(database)?;
    Ok(done.rows_affected() == 1)
}

/// The per-day aggregate query; `$1` is the zone's offset, `[$2, $3)` the period.
fn day_aggregates_sql() -> String {
    // COUNT(... FILTER) is never NULL, and SUM over BIGINT is NUMERIC (cast back; the
    // millisecond sums of any period fit a BIGINT with room to spare).
    format!(
        "SELECT {LOCAL_DAY} AS day, \
           COUNT(*) AS calls, \
           COUNT(*) FILTER (WHERE outcome = 'answered') AS answered, \
           COUNT(*) FILTER (WHERE outcome = 'abandoned') AS abandoned, \
           COUNT(*) FILTER (WHERE outcome = 'after_hours') AS after_hours, \
           COUNT(*) FILTER (WHERE outcome = 'overflow') AS overflow, \
           COUNT(*) FILTER (WHERE outcome = 'no_operators') AS no_operators, \
           COUNT(*) FILTER (WHERE outcome = 'rejected') AS rejected, \
           COALESCE(SUM(wait_ms) FILTER (WHERE outcome = 'answered'), 0)::BIGINT AS wait_sum, \
           COUNT(wait_ms) FILTER (WHERE outcome = 'answered') AS wait_n, \
           COUNT(*) FILTER (WHERE outcome = 'answered' AND wait_ms <= 20000) AS within_20s, \
           COALESCE(SUM(talk_ms) FILTER (WHERE outcome = 'answered'), 0)::BIGINT AS talk_sum, \
           COUNT(talk_ms) FILTER (WHERE outcome = 'answered') AS talk_n \
         FROM calls WHERE received_at >= $2 AND received_at < $3 \
         GROUP BY day ORDER BY day"
    )
}

pub(super) async fn day_aggregates(
    pool: &PgPool,
    from: &str,
    to: &str,
    offset_seconds: i32,
) -> Result<Vec<DayAggregate>, StoreError> {
    let rows = sqlx::query(&day_aggregates_sql())
        .bind(offset_seconds)
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
                wait_ms_sum: r.try_get("wait_sum")?,
                wait_n: count(r.try_get("wait_n")?),
                within_20s: count(r.try_get("within_20s")?),
                talk_ms_sum: r.try_get("talk_sum")?,
                talk_n: count(r.try_get("talk_n")?),
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(database)
}

pub(super) async fn answered_waits(
    pool: &PgPool,
    from: &str,
    to: &str,
    offset_seconds: i32,
) -> Result<Vec<(String, i64)>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {LOCAL_DAY} AS day, wait_ms FROM calls \
         WHERE received_at >= $2 AND received_at < $3 \
           AND outcome = 'answered' AND wait_ms IS NOT NULL"
    ))
    .bind(offset_seconds)
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
    pool: &PgPool,
    from: &str,
    to: &str,
) -> Result<Vec<OperatorAggregate>, StoreError> {
    let rows = sqlx::query(
        "SELECT operator_id, COUNT(*) AS answered, \
           COALESCE(SUM(talk_ms), 0)::BIGINT AS talk_total, COUNT(talk_ms) AS talk_n \
         FROM calls WHERE received_at >= $1 AND received_at < $2 \
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
                talk_ms_total: r.try_get("talk_total")?,
                talk_n: count(r.try_get("talk_n")?),
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(database)
}

pub(super) async fn topic_counts(
    pool: &PgPool,
    from: &str,
    to: &str,
) -> Result<Vec<(Option<String>, u64)>, StoreError> {
    // NULLS FIRST: SQLite's order for the ties it breaks by topic.
    let rows = sqlx::query(
        "SELECT topic, COUNT(*) AS calls FROM calls \
         WHERE received_at >= $1 AND received_at < $2 \
         GROUP BY topic ORDER BY calls DESC, topic NULLS FIRST",
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_column_is_selected() {
        assert_eq!(COLUMNS.split(',').count(), 25);
    }

    #[test]
    fn the_day_query_binds_offset_then_period() {
        let sql = day_aggregates_sql();
        assert!(sql.contains("make_interval(secs => $1)"), "{sql}");
        // The range stays a plain comparison of the column, which the index answers.
        assert!(
            sql.contains("WHERE received_at >= $2 AND received_at < $3"),
            "{sql}"
        );
        assert!(!sql.contains("$4"), "{sql}");
    }
}
