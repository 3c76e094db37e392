//! The aggregates behind the statistics (see `qa.rs`), written once for both backends: the
//! database sums and counts, only per-day (or per-operator, per-topic) figures come back.
//!
//! Invariants:
//! - A period is a range of `received_at` text, compared with the column as it is, so the
//!   `calls_stats` index answers it; only the local-day label of a grouped row is computed.
//! - Sums are cast to a 64-bit integer (PostgreSQL's SUM over BIGINT is NUMERIC) and are 0,
//!   never NULL, for a day without a value; counts are never NULL.

use sqlx::{Pool, QueryBuilder};

use super::dialect::{fetch_all, push_local_day, read_all, Columns, Db, PushArg};
use super::records::{DayAggregate, OperatorAggregate, ReadingsDay};

use super::StoreError;

/// Counts come back as `i64`; they are never negative.
fn count(v: i64) -> u64 {
    v.max(0).unsigned_abs()
}

/// ` FROM calls WHERE received_at >= from AND received_at < to`.
fn push_period<'a, DB: Db>(q: &mut QueryBuilder<'a, DB>, from: &'a str, to: &'a str) {
    q.push(" FROM calls WHERE received_at >= ")
        .arg(from)
        .push(" AND received_at < ")
        .arg(to);
}

pub(super) async fn day_aggregates<DB: Db>(
    pool: &Pool<DB>,
    from: &str,
    to: &str,
    offset_seconds: i32,
) -> Result<Vec<DayAggregate>, StoreError> {
    let mut q = QueryBuilder::new("SELECT ");
    push_local_day(&mut q, "received_at", offset_seconds);
    q.push(
        " AS day, \
         COUNT(*) AS calls, \
         COUNT(*) FILTER (WHERE outcome = 'answered') AS answered, \
         COUNT(*) FILTER (WHERE outcome = 'abandoned') AS abandoned, \
         COUNT(*) FILTER (WHERE outcome = 'after_hours') AS after_hours, \
         COUNT(*) FILTER (WHERE outcome = 'overflow') AS overflow, \
         COUNT(*) FILTER (WHERE outcome = 'no_operators') AS no_operators, \
         COUNT(*) FILTER (WHERE outcome = 'rejected') AS rejected, \
         COUNT(*) FILTER (WHERE outcome = 'self_service') AS self_service, \
         CAST(COALESCE(SUM(wait_ms) FILTER (WHERE outcome = 'answered'), 0) AS BIGINT) AS wait_sum, \
         COUNT(wait_ms) FILTER (WHERE outcome = 'answered') AS wait_n, \
         COUNT(*) FILTER (WHERE outcome = 'answered' AND wait_ms <= 20000) AS within_20s, \
         CAST(COALESCE(SUM(talk_ms) FILTER (WHERE outcome = 'answered'), 0) AS BIGINT) AS talk_sum, \
         COUNT(talk_ms) FILTER (WHERE outcome = 'answered') AS talk_n",
    );
    push_period(&mut q, from, to);
    q.push(" GROUP BY day ORDER BY day");
    let rows = fetch_all(pool, &mut q).await?;
    read_all(&rows, |r| {
        Ok(DayAggregate {
            date: r.opt_text("day")?.unwrap_or_default(),
            calls: count(r.int("calls")?),
            answered: count(r.int("answered")?),
            abandoned: count(r.int("abandoned")?),
            after_hours: count(r.int("after_hours")?),
            overflow: count(r.int("overflow")?),
            no_operators: count(r.int("no_operators")?),
            rejected: count(r.int("rejected")?),
            self_service: count(r.int("self_service")?),
            wait_ms_sum: r.int("wait_sum")?,
            wait_n: count(r.int("wait_n")?),
            within_20s: count(r.int("within_20s")?),
            talk_ms_sum: r.int("talk_sum")?,
            talk_n: count(r.int("talk_n")?),
        })
    })
}

pub(super) async fn answered_waits<DB: Db>(
    pool: &Pool<DB>,
    from: &str,
    to: &str,
    offset_seconds: i32,
) -> Result<Vec<(String, i64)>, StoreError> {
    let mut q = QueryBuilder::new("SELECT ");
    push_local_day(&mut q, "received_at", offset_seconds);
    q.push(" AS day, wait_ms");
    push_period(&mut q, from, to);
    q.push(" AND outcome = 'answered' AND wait_ms IS NOT NULL");
    let rows = fetch_all(pool, &mut q).await?;
    read_all(&rows, |r| {
        Ok((r.opt_text("day")?.unwrap_or_default(), r.int("wait_ms")?))
    })
}

pub(super) async fn operator_aggregates<DB: Db>(
    pool: &Pool<DB>,
    from: &str,
    to: &str,
) -> Result<Vec<OperatorAggregate>, StoreError> {
    let mut q = QueryBuilder::new(
        "SELECT operator_id, COUNT(*) AS answered, \
         CAST(COALESCE(SUM(talk_ms), 0) AS BIGINT) AS talk_total, COUNT(talk_ms) AS talk_n",
    );
    push_period(&mut q, from, to);
    q.push(
        " AND outcome = 'answered' AND operator_id IS NOT NULL \
         GROUP BY operator_id ORDER BY operator_id",
    );
    let rows = fetch_all(pool, &mut q).await?;
    read_all(&rows, |r| {
        Ok(OperatorAggregate {
            operator_id: r.text("operator_id")?,
            answered: count(r.int("answered")?),
            talk_ms_total: r.int("talk_total")?,
            talk_n: count(r.int("talk_n")?),
        })
    })
}

pub(super) async fn topic_counts<DB: Db>(
    pool: &Pool<DB>,
    from: &str,
    to: &str,
) -> Result<Vec<(Option<String>, u64)>, StoreError> {
    let mut q = QueryBuilder::new("SELECT topic, COUNT(*) AS calls");
    push_period(&mut q, from, to);
    // NULLS FIRST spelled out: PostgreSQL sorts NULLs last in ascending order by default.
    q.push(" GROUP BY topic ORDER BY calls DESC, topic NULLS FIRST");
    let rows = fetch_all(pool, &mut q).await?;
    read_all(&rows, |r| {
        Ok((r.opt_text("topic")?, count(r.int("calls")?)))
    })
}

/// Readings handed in per local day, by source. Like the calls, a plain range of `at` text
/// (the `readings_at` index answers it); only the day label is computed.
pub(super) async fn readings_days<DB: Db>(
    pool: &Pool<DB>,
    from: &str,
    to: &str,
    offset_seconds: i32,
) -> Result<Vec<ReadingsDay>, StoreError> {
    let mut q = QueryBuilder::new("SELECT ");
    push_local_day(&mut q, "at", offset_seconds);
    q.push(
        " AS day, \
         COUNT(*) FILTER (WHERE source = 'phone') AS phone, \
         COUNT(*) FILTER (WHERE source = 'operator') AS operator \
         FROM readings WHERE at >= ",
    )
    .arg(from)
    .push(" AND at < ")
    .arg(to)
    .push(" GROUP BY day ORDER BY day");
    let rows = fetch_all(pool, &mut q).await?;
    read_all(&rows, |r| {
        Ok(ReadingsDay {
            date: r.opt_text("day")?.unwrap_or_default(),
            phone: count(r.int("phone")?),
            operator: count(r.int("operator")?),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::Postgres;

    #[test]
    fn the_day_query_keeps_the_period_a_plain_range() {
        let mut q = QueryBuilder::<Postgres>::new("SELECT ");
        push_local_day(&mut q, "received_at", 10_800);
        push_period(&mut q, "a", "b");
        // The range stays a plain comparison of the column, which the index answers.
        assert!(
            q.sql()
                .ends_with("FROM calls WHERE received_at >= $2 AND received_at < $3"),
            "{}",
            q.sql()
        );
    }
}
