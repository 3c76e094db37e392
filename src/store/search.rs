//! Call searches, topics and the bulk load of fabricated rows (see `qa.rs`), written once
//! for both backends.
//!
//! Invariants:
//! - Every value from a request is bound, never spliced into SQL text; the dynamic search
//!   only appends fixed fragments.
//! - Range bounds compare the register's fixed-width text with the column as it is, so the
//!   `received_at` indexes answer them.

use sqlx::{Pool, QueryBuilder};

use super::caller_match::CallerMatch;
use super::dialect::{
    count_fresh, execute, fetch_all_fresh, push_tuple, read_all, Arg, Db, PushArg,
};
use super::records::{CallFilter, TopicFilter};
use super::register::{record, select_calls, COLUMNS};
use super::{database, StoreError};
use crate::model::CallRecord;

/// Rows per `INSERT` of a bulk load: 26 values each stays under the bind limits of both
/// backends (SQLite 32,766, PostgreSQL 65,535) while round trips stop mattering.
const LOAD_CHUNK: usize = 1_000;

/// Appends the filter's conditions (each a fixed fragment with bound values); `caller` is
/// the condition chosen for the filter's caller digits, if it has any.
fn push_conditions<'a, DB: Db>(
    q: &mut QueryBuilder<'a, DB>,
    f: &'a CallFilter,
    caller: Option<CallerMatch<'a>>,
) {
    q.push(" WHERE 1 = 1");
    if let Some(from) = &f.from {
        q.push(" AND received_at >= ").arg(from);
    }
    if let Some(to) = &f.to {
        q.push(" AND received_at < ").arg(to);
    }
    if let Some(caller) = caller {
        caller.push(q);
    }
    if let Some(operator) = &f.operator {
        q.push(" AND operator_id = ").arg(operator);
    }
    if let Some(outcome) = &f.outcome {
        q.push(" AND outcome = ").arg(outcome);
    }
    if let Some(direction) = &f.direction {
        q.push(" AND direction = ").arg(direction);
    }
    match &f.topic {
        Some(TopicFilter::Unset) => {
            q.push(" AND topic IS NULL");
        }
        Some(TopicFilter::Is(topic)) => {
            q.push(" AND topic = ").arg(topic);
        }
        None => {}
    }
    if let Some(min) = f.min_talk_ms {
        q.push(" AND talk_ms >= ").arg(min);
    }
    super::audio::push_conditions(q, &f.audio);
}

pub(super) async fn search_calls<DB: Db>(
    pool: &Pool<DB>,
    f: &CallFilter,
) -> Result<(Vec<CallRecord>, u64), StoreError> {
    // Both queries are planned for their values each time (`fetch_all_fresh`): which
    // index answers a search depends on them, the caller's digits above all.
    let caller = match &f.caller {
        Some(digits) => Some(CallerMatch::choose(pool, digits).await?),
        None => None,
    };
    let mut q = QueryBuilder::new("SELECT COUNT(*) AS n FROM calls");
    push_conditions(&mut q, f, caller);
    let total = count_fresh(pool, &mut q).await?;
    let mut q = select_calls();
    push_conditions(&mut q, f, caller);
    q.push(" ORDER BY received_at DESC, id DESC LIMIT ")
        .arg(i64::from(f.limit))
        .push(" OFFSET ")
        .arg(i64::try_from(f.offset).unwrap_or(i64::MAX));
    let rows = fetch_all_fresh(pool, &mut q).await?;
    Ok((read_all(&rows, record)?, total))
}

pub(super) async fn set_topic<DB: Db>(
    pool: &Pool<DB>,
    call_id: &str,
    topic: Option<&str>,
) -> Result<bool, StoreError> {
    let mut q = QueryBuilder::new("UPDATE calls SET topic = ");
    q.arg(topic).push(" WHERE id = ").arg(call_id);
    Ok(execute(pool, &mut q).await? == 1)
}

/// Every column of a fabricated row, in `COLUMNS` order (whose 26 columns a test counts).
fn values(c: &CallRecord) -> [Arg<'_>; 26] {
    [
        (&c.id).into(),
        (&c.sip_call_id).into(),
        (&c.caller).into(),
        (&c.dialed).into(),
        (&c.source).into(),
        (&c.received_at).into(),
        (&c.answered_at).into(),
        (&c.queued_at).into(),
        (&c.connected_at).into(),
        (&c.ended_at).into(),
        (&c.operator_id).into(),
        c.wait_ms.into(),
        c.talk_ms.into(),
        (&c.outcome).into(),
        (&c.hangup_by).into(),
        c.final_status.into(),
        (&c.end_reason).into(),
        (&c.recording_path).into(),
        c.recording_ms.into(),
        c.recording_bytes.into(),
        (&c.recording_sha256).into(),
        (&c.recording_error).into(),
        (&c.notice_played_at).into(),
        c.notice_completed.map(i64::from).into(),
        (&c.topic).into(),
        (&c.direction).into(),
    ]
}

/// Inserts fabricated rows, many per statement, all in one transaction (a failed load
/// leaves nothing behind).
pub(super) async fn insert_raw_calls<DB: Db>(
    pool: &Pool<DB>,
    calls: &[CallRecord],
) -> Result<u64, StoreError> {
    let mut tx = pool
        .begin_with(DB::DIALECT.begin())
        .await
        .map_err(database)?;
    let mut inserted = 0;
    for chunk in calls.chunks(LOAD_CHUNK) {
        let mut q = QueryBuilder::new(format!("INSERT INTO calls ({COLUMNS}) VALUES "));
        for (n, call) in chunk.iter().enumerate() {
            if n > 0 {
                q.push(", ");
            }
            push_tuple(&mut q, values(call));
        }
        inserted += DB::execute(&mut tx, &mut q).await.map_err(database)?;
    }
    tx.commit().await.map_err(database)?;
    if let Some(sql) = DB::DIALECT.after_bulk_load() {
        // Not inside a transaction: VACUUM refuses to run in one.
        let mut conn = pool.acquire().await.map_err(database)?;
        DB::execute_plain(&mut conn, sql).await.map_err(database)?;
    }
    Ok(inserted)
}
