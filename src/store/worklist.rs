//! The missed-calls worklist: every abandoned, overflowed, after-hours or no-operator call
//! from a known number lands on an item for that number, merged while the item is open
//! (`new`, `in_progress`, `unreachable`), with the first and last time, the longest wait
//! and how many missed calls it gathered; who worked it and what happened are kept in its
//! history.
//!
//! The register is the source: [`sync`] gathers missed calls not yet on the list (so a
//! call written late, or replayed from the outage spool, still arrives), and the
//! `worklist_calls` key (a call joins an item once per role) makes a repeated sync change
//! nothing. Callers serialise syncs (one at a time), so two never create the same item.

use sqlx::{Pool, QueryBuilder};

use super::dialect::{execute, fetch_all, fetch_optional, read_all, Columns, Db, PushArg};
use super::StoreError;

/// Register outcomes that put a call on the worklist.
pub const MISSED_OUTCOMES: [&str; 4] = ["abandoned", "overflow", "after_hours", "no_operators"];

/// Item states.
pub const STATES: [&str; 5] = ["new", "in_progress", "called_back", "unreachable", "closed"];

/// Call-back outcomes that count as a failed attempt on the number (see
/// [`record_callback`]): the citizen was called and not reached. `operator_unavailable`
/// is not one (the citizen was never called), `unreachable` ends the item anyway.
pub const FAILED_ATTEMPTS: [&str; 3] = ["busy", "no_answer", "failed"];

/// States in which an item still gathers calls from its number.
const OPEN_STATES: &str = "('new', 'in_progress', 'unreachable')";

/// Missed calls gathered by one sync at most (the rest come with the next).
const SYNC_BATCH: i64 = 1000;

/// One item as the console lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorklistItem {
    pub id: i64,
    pub number: String,
    pub state: String,
    pub first_at: String,
    pub last_at: String,
    pub longest_wait_ms: i64,
    pub missed_calls: i64,
    pub worked_by: Option<String>,
    pub updated_at: String,
    /// Calls from this number (any outcome) received since the start of today.
    pub calls_today: i64,
}

/// One line of an item's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorklistEntry {
    pub at: String,
    /// A console user name, an operator id, or `system`.
    pub actor: String,
    /// `missed` (a call joined), `state` (changed by hand), `callback` (placed or ended).
    pub action: String,
    pub state: Option<String>,
    pub detail: Option<String>,
}

/// An item with its calls and history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorklistDetail {
    pub item: WorklistItem,
    /// (call id, `missed` or `callback`), oldest first.
    pub calls: Vec<(String, String)>,
    pub history: Vec<WorklistEntry>,
}

/// One call-back attempt on an item, as [`record_callback`] stores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallBackAttempt<'a> {
    pub item_id: i64,
    /// The outbound call's public id (its register row).
    pub call_id: &'a str,
    /// The operator who made it.
    pub operator: &'a str,
    /// `answered`, `busy`, `no_answer`, `failed`, `unreachable`, `operator_unavailable`.
    pub outcome: &'a str,
}

const ITEM_COLUMNS: &str = "i.id, i.number, i.state, i.first_at, i.last_at, i.longest_wait_ms, \
     i.missed_calls, i.worked_by, i.updated_at";

fn read_item<R: Columns>(r: &R) -> Result<WorklistItem, sqlx::Error> {
    Ok(WorklistItem {
        id: r.int("id")?,
        number: r.text("number")?,
        state: r.text("state")?,
        first_at: r.text("first_at")?,
        last_at: r.text("last_at")?,
        longest_wait_ms: r.int("longest_wait_ms")?,
        missed_calls: r.int("missed_calls")?,
        worked_by: r.opt_text("worked_by")?,
        updated_at: r.text("updated_at")?,
        calls_today: r.int("calls_today")?,
    })
}

fn push_item_select<'a, DB: Db>(q: &mut QueryBuilder<'a, DB>, today_from: &'a str) {
    q.push("SELECT ")
        .push(ITEM_COLUMNS)
        .push(", (SELECT COUNT(*) FROM calls c WHERE c.caller = i.number AND c.received_at >= ");
    q.arg(today_from)
        .push(") AS calls_today FROM worklist_items i");
}

/// Puts missed calls that are not on the list yet onto it; how many joined.
pub(super) async fn sync<DB: Db>(pool: &Pool<DB>, now: &str) -> Result<u64, StoreError> {
    let mut q = QueryBuilder::new(
        "SELECT c.id, c.caller, c.received_at, c.wait_ms, c.outcome FROM calls c \
         WHERE c.direction = 'inbound' AND c.caller <> '' AND c.caller <> 'anonymous' \
         AND c.outcome IN ('abandoned', 'overflow', 'after_hours', 'no_operators') \
         AND NOT EXISTS (SELECT 1 FROM worklist_calls w WHERE w.call_id = c.id AND w.role = 'missed') \
         ORDER BY c.received_at LIMIT ",
    );
    q.arg(SYNC_BATCH);
    let rows = fetch_all(pool, &mut q).await?;
    let missed = read_all(&rows, |r| {
        Ok((
            r.text("id")?,
            r.text("caller")?,
            r.text("received_at")?,
            r.opt_int("wait_ms")?.unwrap_or(0),
            r.text("outcome")?,
        ))
    })?;
    let mut joined = 0;
    for (call_id, number, at, wait_ms, outcome) in missed {
        let item = open_item(pool, &number).await?;
        let item_id = match item {
            Some((id, state)) => {
                let mut q = QueryBuilder::new("UPDATE worklist_items SET missed_calls = missed_calls + 1, last_at = CASE WHEN last_at < ");
                q.arg(at.as_str()).push(" THEN ").arg(at.as_str());
                q.push(" ELSE last_at END, longest_wait_ms = CASE WHEN longest_wait_ms < ");
                q.arg(wait_ms).push(" THEN ").arg(wait_ms);
                q.push(" ELSE longest_wait_ms END, state = CASE WHEN state = 'unreachable' THEN 'new' ELSE state END, updated_at = ");
                q.arg(now).push(" WHERE id = ").arg(id);
                execute(pool, &mut q).await?;
                if state == "unreachable" {
                    // The number called us: it is reachable after all. A state line also
                    // starts the count of failed call-backs afresh (`failed_attempts`).
                    history(
                        pool,
                        id,
                        now,
                        "system",
                        "state",
                        Some("new"),
                        Some(&format!("reopened by {call_id}")),
                    )
                    .await?;
                }
                id
            }
            None => {
                let mut q = QueryBuilder::new(
                    "INSERT INTO worklist_items (number, state, first_at, last_at, longest_wait_ms, missed_calls, updated_at) VALUES (",
                );
                q.arg(number.as_str()).push(", 'new', ").arg(at.as_str());
                q.push(", ").arg(at.as_str()).push(", ").arg(wait_ms);
                q.push(", 1, ").arg(now).push(") RETURNING id");
                let row = fetch_optional(pool, &mut q).await?;
                let ids = read_all(&row.into_iter().collect::<Vec<_>>(), |r| r.int("id"))?;
                ids.first().copied().ok_or_else(|| StoreError::Database {
                    source: sqlx::Error::RowNotFound,
                })?
            }
        };
        let mut q =
            QueryBuilder::new("INSERT INTO worklist_calls (item_id, call_id, role) VALUES (");
        q.arg(item_id)
            .push(", ")
            .arg(call_id.as_str())
            .push(", 'missed') ON CONFLICT DO NOTHING");
        execute(pool, &mut q).await?;
        history(
            pool,
            item_id,
            &at,
            "system",
            "missed",
            None,
            Some(&format!("{outcome} {call_id}")),
        )
        .await?;
        joined += 1;
    }
    Ok(joined)
}

/// The open item of a number and its state, if any (the newest, should there be more).
async fn open_item<DB: Db>(
    pool: &Pool<DB>,
    number: &str,
) -> Result<Option<(i64, String)>, StoreError> {
    let mut q = QueryBuilder::new("SELECT id, state FROM worklist_items WHERE number = ");
    q.arg(number)
        .push(" AND state IN ")
        .push(OPEN_STATES)
        .push(" ORDER BY id DESC LIMIT 1");
    let row = fetch_optional(pool, &mut q).await?;
    let items = read_all(&row.into_iter().collect::<Vec<_>>(), |r| {
        Ok((r.int("id")?, r.text("state")?))
    })?;
    Ok(items.into_iter().next())
}

/// Failed call-backs of an item since its state was last set otherwise than by a
/// call-back (by hand, or reopened by a new missed call): its history read in the order
/// it was written, each `callback` line whose outcome (the detail's first word) is one of
/// [`FAILED_ATTEMPTS`] counting one, each `state` line starting again from zero.
async fn failed_attempts<DB: Db>(pool: &Pool<DB>, item_id: i64) -> Result<u32, StoreError> {
    let mut q = QueryBuilder::new("SELECT action, detail FROM worklist_history WHERE item_id = ");
    q.arg(item_id)
        .push(format_args!(" ORDER BY {}", DB::DIALECT.write_order()));
    let rows = fetch_all(pool, &mut q).await?;
    let lines = read_all(&rows, |r| Ok((r.text("action")?, r.opt_text("detail")?)))?;
    let mut count = 0u32;
    for (action, detail) in lines {
        match action.as_str() {
            "state" => count = 0,
            "callback" => {
                let outcome = detail.as_deref().and_then(|d| d.split(' ').next());
                if outcome.is_some_and(|o| FAILED_ATTEMPTS.contains(&o)) {
                    count = count.saturating_add(1);
                }
            }
            _ => {}
        }
    }
    Ok(count)
}

/// Appends one line to an item's history.
pub(super) async fn history<DB: Db>(
    pool: &Pool<DB>,
    item_id: i64,
    at: &str,
    actor: &str,
    action: &str,
    state: Option<&str>,
    detail: Option<&str>,
) -> Result<(), StoreError> {
    let mut q = QueryBuilder::new(
        "INSERT INTO worklist_history (item_id, at, actor, action, state, detail) VALUES (",
    );
    q.arg(item_id).push(", ").arg(at).push(", ").arg(actor);
    q.push(", ")
        .arg(action)
        .push(", ")
        .arg(state)
        .push(", ")
        .arg(detail)
        .push(")");
    execute(pool, &mut q).await?;
    Ok(())
}

/// Items, open ones first then by last call, newest first; only `state` if given.
pub(super) async fn list<DB: Db>(
    pool: &Pool<DB>,
    state: Option<&str>,
    today_from: &str,
    limit: i64,
) -> Result<Vec<WorklistItem>, StoreError> {
    let mut q = QueryBuilder::new("");
    push_item_select(&mut q, today_from);
    if let Some(state) = state {
        q.push(" WHERE i.state = ").arg(state);
    }
    q.push(" ORDER BY CASE WHEN i.state IN ")
        .push(OPEN_STATES)
        .push(" THEN 0 ELSE 1 END, i.last_at DESC, i.id DESC LIMIT ")
        .arg(limit);
    let rows = fetch_all(pool, &mut q).await?;
    read_all(&rows, read_item)
}

/// One item with its calls and history.
pub(super) async fn detail<DB: Db>(
    pool: &Pool<DB>,
    id: i64,
    today_from: &str,
) -> Result<Option<WorklistDetail>, StoreError> {
    let mut q = QueryBuilder::new("");
    push_item_select(&mut q, today_from);
    q.push(" WHERE i.id = ").arg(id);
    let Some(row) = fetch_optional(pool, &mut q).await? else {
        return Ok(None);
    };
    let item = read_all(&[row], read_item)?.remove(0);
    let mut q = QueryBuilder::new(
        "SELECT w.call_id, w.role FROM worklist_calls w JOIN calls c ON c.id = w.call_id WHERE w.item_id = ",
    );
    q.arg(id).push(" ORDER BY c.received_at, w.call_id");
    let rows = fetch_all(pool, &mut q).await?;
    let calls = read_all(&rows, |r| Ok((r.text("call_id")?, r.text("role")?)))?;
    let mut q = QueryBuilder::new(
        "SELECT at, actor, action, state, detail FROM worklist_history WHERE item_id = ",
    );
    q.arg(id)
        .push(format_args!(" ORDER BY at, {}", DB::DIALECT.write_order()));
    let rows = fetch_all(pool, &mut q).await?;
    let history = read_all(&rows, |r| {
        Ok(WorklistEntry {
            at: r.text("at")?,
            actor: r.text("actor")?,
            action: r.text("action")?,
            state: r.opt_text("state")?,
            detail: r.opt_text("detail")?,
        })
    })?;
    Ok(Some(WorklistDetail {
        item,
        calls,
        history,
    }))
}

/// Sets an item's state (and who works it), with a history line; `false` if no such item.
pub(super) async fn set_state<DB: Db>(
    pool: &Pool<DB>,
    id: i64,
    state: &str,
    actor: &str,
    now: &str,
    note: Option<&str>,
) -> Result<bool, StoreError> {
    let mut q = QueryBuilder::new("UPDATE worklist_items SET state = ");
    q.arg(state).push(", worked_by = ").arg(actor);
    q.push(", updated_at = ")
        .arg(now)
        .push(" WHERE id = ")
        .arg(id);
    if execute(pool, &mut q).await? != 1 {
        return Ok(false);
    }
    history(pool, id, now, actor, "state", Some(state), note).await?;
    Ok(true)
}

/// A call-back made for an item: the outbound call's row (`outbound` since its `Open`) is
/// linked to the item, and its outcome decides the item's state (answered → `called_back`, a
/// number that cannot be reached → `unreachable`, anything else (busy, no answer…) leaves
/// it `in_progress`, until the `max_attempts`th failed attempt in a row (see
/// [`failed_attempts`]) makes it `unreachable` too; 0 never does); the history says who
/// called and how it went. `false` if no such item.
pub(super) async fn record_callback<DB: Db>(
    pool: &Pool<DB>,
    attempt: &CallBackAttempt<'_>,
    max_attempts: u32,
    now: &str,
) -> Result<bool, StoreError> {
    let CallBackAttempt {
        item_id,
        call_id,
        operator,
        outcome,
    } = *attempt;
    let mut state = match outcome {
        "answered" => "called_back",
        "unreachable" => "unreachable",
        _ => "in_progress",
    };
    let mut detail = format!("{outcome} {call_id}");
    if max_attempts > 0 && FAILED_ATTEMPTS.contains(&outcome) {
        let attempts = failed_attempts(pool, item_id).await?.saturating_add(1);
        if attempts >= max_attempts {
            state = "unreachable";
            detail = format!("{detail}: {attempts} attempts without answer");
        }
    }
    let mut q = QueryBuilder::new("UPDATE worklist_items SET state = ");
    q.arg(state).push(", worked_by = ").arg(operator);
    q.push(", updated_at = ")
        .arg(now)
        .push(" WHERE id = ")
        .arg(item_id);
    if execute(pool, &mut q).await? != 1 {
        return Ok(false);
    }
    let mut q = QueryBuilder::new("INSERT INTO worklist_calls (item_id, call_id, role) VALUES (");
    q.arg(item_id)
        .push(", ")
        .arg(call_id)
        .push(", 'callback') ON CONFLICT DO NOTHING");
    execute(pool, &mut q).await?;
    history(
        pool,
        item_id,
        now,
        operator,
        "callback",
        Some(state),
        Some(&detail),
    )
    .await?;
    Ok(true)
}

impl super::Store {
    /// Gathers missed calls not yet on the worklist; how many joined (see [`sync`]).
    pub async fn sync_worklist(&self, now: &str) -> Result<u64, StoreError> {
        on_pool!(self, pool => sync(pool, now))
    }

    /// Worklist items (open first, newest call first), only those in `state` if given;
    /// `calls_today` counts calls received at or after `today_from`.
    pub async fn worklist(
        &self,
        state: Option<&str>,
        today_from: &str,
        limit: u32,
    ) -> Result<Vec<WorklistItem>, StoreError> {
        on_pool!(self, pool => list(pool, state, today_from, i64::from(limit)))
    }

    /// One item with its calls and history.
    pub async fn worklist_item(
        &self,
        id: i64,
        today_from: &str,
    ) -> Result<Option<WorklistDetail>, StoreError> {
        on_pool!(self, pool => detail(pool, id, today_from))
    }

    /// Records a call-back's outbound call and outcome on an item, the item becoming
    /// `unreachable` after `max_attempts` failed ones in a row (0: never by count; see
    /// [`record_callback`]); `Ok(false)` if there is no such item.
    pub async fn record_worklist_callback(
        &self,
        attempt: &CallBackAttempt<'_>,
        max_attempts: u32,
        now: &str,
    ) -> Result<bool, StoreError> {
        on_pool!(self, pool => record_callback(pool, attempt, max_attempts, now))
    }

    /// Sets an item's state by `actor`; `Ok(false)` if there is no such item.
    pub async fn set_worklist_state(
        &self,
        id: i64,
        state: &str,
        actor: &str,
        now: &str,
        note: Option<&str>,
    ) -> Result<bool, StoreError> {
        on_pool!(self, pool => set_state(pool, id, state, actor, now, note))
    }
}
