//! [`Store::apply`](super::Store::apply) on either backend: a batch of register writes
//! planned into statements (`batch.rs`) and run in one transaction.
//!
//! Invariants:
//! - The whole batch is one transaction: an error that is not one write's refusal rolls
//!   everything back (dropping the transaction does), and the caller may retry the batch.
//! - A write the database refuses is skipped alone and reported with its batch position.
//!   On SQLite a refused statement rolls back only itself. PostgreSQL aborts the whole
//!   transaction on any failed statement, so there a batch is first tried without
//!   protection (refusals are rare, and a savepoint per statement costs a round trip); if a
//!   write is refused, the batch is rolled back and run again with a savepoint around each
//!   statement, and the refused one is rolled back to it.
//! - A merged update the database refuses is run again member by member, so the refusal is
//!   pinned on the write that caused it and the other members still apply.

use sqlx::{Pool, QueryBuilder};

use super::batch::{plan, Columns, Step};
use super::dialect::{push_tuple, Arg, Db, PushArg};
use super::{count_outcome, database, ApplyReport, SkippedWrite, StoreError};
use crate::model::{format_time, Outcome, RegisterWrite};

/// The savepoint each statement runs under when refusals are caught one by one. One name
/// is enough: after a statement succeeds it is released and set again, and `ROLLBACK TO`
/// keeps it in place for the next one.
const SAVEPOINT: &str = "SAVEPOINT register_write";
const NEXT_SAVEPOINT: &str = "RELEASE SAVEPOINT register_write; SAVEPOINT register_write";
const ROLLBACK_WRITE: &str = "ROLLBACK TO SAVEPOINT register_write";

pub(super) async fn apply<DB: Db>(
    pool: &Pool<DB>,
    writes: &[RegisterWrite],
) -> Result<ApplyReport, StoreError> {
    if writes.is_empty() {
        return Ok(ApplyReport::default());
    }
    let steps = plan(writes);
    if !DB::DIALECT.refusal_aborts_transaction() {
        return run(pool, writes, &steps, Guard::Statement)
            .await
            .map(|report| report.expect("a refused statement never ends the batch here"));
    }
    match run(pool, writes, &steps, Guard::None).await? {
        Some(report) => Ok(report),
        None => Ok(run(pool, writes, &steps, Guard::Savepoints)
            .await?
            .expect("a batch under savepoints never gives up on a refusal")),
    }
}

/// How a batch survives one refused statement.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Guard {
    /// It does not: the first refusal abandons the batch (`Ok(None)`).
    None,
    /// The database rolls back the refused statement alone (SQLite).
    Statement,
    /// A savepoint around each statement, rolled back to on a refusal.
    Savepoints,
}

/// What became of one statement.
enum Attempt {
    /// It ran and changed (or inserted) this many rows.
    Rows(u64),
    /// The database refused it; nothing of it remains.
    Refused(sqlx::Error),
}

async fn run<DB: Db>(
    pool: &Pool<DB>,
    writes: &[RegisterWrite],
    steps: &[Step<'_>],
    guard: Guard,
) -> Result<Option<ApplyReport>, StoreError> {
    let mut report = ApplyReport::default();
    let mut tx = pool
        .begin_with(DB::DIALECT.begin())
        .await
        .map_err(database)?;
    if guard == Guard::Savepoints {
        DB::execute_plain(&mut *tx, SAVEPOINT)
            .await
            .map_err(database)?;
    }
    for step in steps {
        match step {
            Step::Insert(index) => {
                let write = &writes[*index];
                let Some(attempt) = statement(&mut *tx, guard, &mut insert::<DB>(write)).await?
                else {
                    return Ok(None);
                };
                settle(&mut report, *index, write, attempt);
            }
            Step::Update(group) => {
                let mut q = update::<DB>(group.id, &group.set);
                let Some(attempt) = statement(&mut *tx, guard, &mut q).await? else {
                    return Ok(None);
                };
                match attempt {
                    Attempt::Refused(_) if group.members.len() > 1 => {
                        // Which member? Each alone: the refused one is skipped, the rest
                        // apply, as they would have one by one.
                        for (index, columns) in &group.members {
                            let mut q = update::<DB>(group.id, columns);
                            let Some(attempt) = statement(&mut *tx, guard, &mut q).await? else {
                                return Ok(None);
                            };
                            settle(&mut report, *index, &writes[*index], attempt);
                        }
                    }
                    Attempt::Refused(source) => {
                        let index = group.members[0].0;
                        settle(&mut report, index, &writes[index], Attempt::Refused(source));
                    }
                    Attempt::Rows(rows) => {
                        for (index, _) in &group.members {
                            settle(&mut report, *index, &writes[*index], Attempt::Rows(rows));
                        }
                    }
                }
            }
        }
    }
    tx.commit().await.map_err(database)?;
    // Merged updates run where their group closed, after writes that came later.
    report.skipped.sort_by_key(|skipped| skipped.index);
    Ok(Some(report))
}

/// Runs one statement under `guard`: `Ok(None)` when a refusal abandons the batch.
async fn statement<DB: Db>(
    conn: &mut DB::Connection,
    guard: Guard,
    q: &mut QueryBuilder<'_, DB>,
) -> Result<Option<Attempt>, StoreError> {
    match DB::execute(conn, q).await {
        Ok(rows) => {
            if guard == Guard::Savepoints {
                DB::execute_plain(conn, NEXT_SAVEPOINT)
                    .await
                    .map_err(database)?;
            }
            Ok(Some(Attempt::Rows(rows)))
        }
        Err(source) if DB::DIALECT.is_refusal(&source) => match guard {
            Guard::None => Ok(None),
            Guard::Statement => Ok(Some(Attempt::Refused(source))),
            Guard::Savepoints => {
                DB::execute_plain(conn, ROLLBACK_WRITE)
                    .await
                    .map_err(database)?;
                Ok(Some(Attempt::Refused(source)))
            }
        },
        Err(source) => Err(database(source)),
    }
}

/// Counts one write's statement into `report`, or records why it was skipped.
fn settle(report: &mut ApplyReport, index: usize, write: &RegisterWrite, attempt: Attempt) {
    let error = match attempt {
        Attempt::Rows(rows) => match count_outcome(write, rows, report) {
            Some(error) => error,
            None => return,
        },
        Attempt::Refused(source) => StoreError::Refused {
            id: call_id(write).to_owned(),
            source,
        },
    };
    report.skipped.push(SkippedWrite { index, error });
}

fn call_id(write: &RegisterWrite) -> &str {
    match write {
        RegisterWrite::Open(call) => &call.id,
        RegisterWrite::Update { id, .. } => id,
        RegisterWrite::Ring(ring) => &ring.call_id,
        RegisterWrite::Event(event) => &event.call_id,
    }
}

/// The `INSERT` of an `Open`, a `Ring` or an `Event`. Each does nothing on its table's
/// idempotency key, so a replayed batch cannot duplicate a row.
fn insert<DB: Db>(write: &RegisterWrite) -> QueryBuilder<'_, DB> {
    let (head, values, key): (&str, Vec<Arg<'_>>, &str) = match write {
        RegisterWrite::Open(call) => (
            "calls (id, sip_call_id, caller, dialed, source, received_at, outcome, direction)",
            vec![
                (&call.id).into(),
                (&call.sip_call_id).into(),
                (&call.caller).into(),
                (&call.dialed).into(),
                (&call.source).into(),
                format_time(call.received_at).into(),
                Outcome::InProgress.as_str().into(),
                call.direction.as_str().into(),
            ],
            "id",
        ),
        RegisterWrite::Ring(ring) => (
            "ring_attempts (call_id, operator_id, started_at, ended_at, result)",
            vec![
                (&ring.call_id).into(),
                (&ring.operator_id).into(),
                format_time(ring.started_at).into(),
                format_time(ring.ended_at).into(),
                ring.result.as_str().into(),
            ],
            "call_id, operator_id, started_at",
        ),
        RegisterWrite::Event(event) => (
            "call_events (call_id, at, kind, detail)",
            vec![
                (&event.call_id).into(),
                format_time(event.at).into(),
                event.kind.as_str().into(),
                (&event.detail).into(),
            ],
            "call_id, at, kind",
        ),
        RegisterWrite::Update { id, update } => {
            return self::update(id, &super::batch::columns(update));
        }
    };
    let mut q = QueryBuilder::new(format!("INSERT INTO {head} VALUES "));
    push_tuple(&mut q, values);
    q.push(format_args!(" ON CONFLICT ({key}) DO NOTHING"));
    q
}

/// `UPDATE calls` of the columns given, for one call. An update that carries nothing sets
/// nothing but still tells whether the call exists, as it always has.
fn update<'w, DB: Db>(id: &'w str, set: &Columns<'w>) -> QueryBuilder<'w, DB> {
    let mut q = QueryBuilder::new("UPDATE calls SET ");
    if set.is_empty() {
        q.push("outcome = outcome");
    }
    for (n, (column, value)) in set.iter().enumerate() {
        if n > 0 {
            q.push(", ");
        }
        q.push(column).push(" = ").arg(value.clone());
    }
    q.push(" WHERE id = ").arg(id);
    q
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::CallUpdate;
    use sqlx::{Postgres, Sqlite};

    #[test]
    fn an_update_sets_only_what_it_carries() {
        let update = CallUpdate {
            wait_ms: Some(5),
            outcome: Some(Outcome::Answered),
            ..CallUpdate::default()
        };
        let set = super::super::batch::columns(&update);
        let q = self::update::<Postgres>("c1", &set);
        assert_eq!(
            q.sql(),
            "UPDATE calls SET wait_ms = $1, outcome = $2 WHERE id = $3"
        );
        let q = self::update::<Sqlite>("c1", &Vec::new());
        assert_eq!(q.sql(), "UPDATE calls SET outcome = outcome WHERE id = ?");
    }

    #[test]
    fn inserts_do_nothing_on_their_key() {
        let ring = RegisterWrite::Ring(crate::model::RingAttempt {
            call_id: "c1".into(),
            operator_id: "101".into(),
            started_at: "2026-11-24T15:00:00Z".parse().expect("time"),
            ended_at: "2026-11-24T15:00:03Z".parse().expect("time"),
            result: crate::model::RingResult::Busy,
        });
        assert_eq!(
            insert::<Postgres>(&ring).sql(),
            "INSERT INTO ring_attempts (call_id, operator_id, started_at, ended_at, result) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (call_id, operator_id, started_at) DO NOTHING"
        );
    }
}
