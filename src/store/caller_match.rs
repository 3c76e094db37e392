//! How a search finds the calls whose caller's number holds some digits: the condition
//! `search.rs` appends for [`CallFilter::caller`](super::records::CallFilter).
//!
//! Why not one condition for all: a full number or a rare run of digits is in a handful
//! of a year's calls, and only an index of the numbers' three-digit pieces finds those
//! without reading every row of the period (migration `0014_caller_trigrams`). A common
//! run (the operator code every mobile shares) is in most calls; there the register is
//! better walked newest first, a page fills at once, and a detour through the index would
//! fetch every matching call before sorting them.
//! - PostgreSQL weighs the two itself from its statistics, given a `LIKE` it can match
//!   against the `pg_trgm` index.
//! - SQLite's planner cannot tell a rare run from a common one, so the search first asks
//!   the trigram table for up to [`PROBE_LIMIT`] calls, and takes the index only if it
//!   found fewer.
//!
//! Invariants:
//! - Every path returns exactly the calls whose `caller` contains the digits: the index
//!   only narrows, and the same `instr` as the scan decides.
//! - The digits reach SQL only as bound values, and only runs of ASCII digits (which
//!   carry no `LIKE` wildcards) take the `LIKE` paths.

use sqlx::{Pool, QueryBuilder};

use super::dialect::{count, push_position, Db, Dialect, PushArg};
use super::StoreError;

/// The trigram index holds three-character pieces: a shorter run cannot use it.
const MIN_DIGITS: usize = 3;

/// On SQLite, the trigram table's candidates from which on the digits count as common.
/// Measured on a year's register (150,000 calls), for the count and the first page: with
/// 2,208 calls holding the digits the index took 33 ms against 89 ms for the walk; with
/// 14,211 it took 147 ms against 78 ms. 2,000 keeps to the safe side of where they cross.
pub(super) const PROBE_LIMIT: i64 = 2_000;

/// The condition a search appends for a caller's digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CallerMatch<'a> {
    /// The digits anywhere in the number, row by row (`instr` / `strpos`).
    Scan(&'a str),
    /// PostgreSQL: `caller LIKE '%digits%'`, which its trigram index answers.
    Like(&'a str),
    /// SQLite: calls from the trigram table, checked with the same `instr` as a scan.
    Trigrams(&'a str),
}

/// The `LIKE` pattern of a run of digits anywhere in the number.
fn anywhere(digits: &str) -> String {
    format!("%{digits}%")
}

impl<'a> CallerMatch<'a> {
    /// Chooses the condition for `digits` (on SQLite, after asking the trigram table how
    /// common they are).
    pub(super) async fn choose<DB: Db>(
        pool: &Pool<DB>,
        digits: &'a str,
    ) -> Result<CallerMatch<'a>, StoreError> {
        if digits.len() < MIN_DIGITS || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Ok(CallerMatch::Scan(digits));
        }
        Ok(match DB::DIALECT {
            Dialect::Postgres => CallerMatch::Like(digits),
            Dialect::Sqlite => {
                let mut q = QueryBuilder::new(
                    "SELECT COUNT(*) AS n FROM (SELECT 1 FROM calls_caller_trigrams \
                     WHERE caller LIKE ",
                );
                q.arg(anywhere(digits))
                    .push(" LIMIT ")
                    .arg(PROBE_LIMIT)
                    .push(")");
                let candidates = count(pool, &mut q).await?;
                if candidates < PROBE_LIMIT.unsigned_abs() {
                    CallerMatch::Trigrams(digits)
                } else {
                    CallerMatch::Scan(digits)
                }
            }
        })
    }

    /// Appends ` AND <condition>` to a search of `calls`.
    pub(super) fn push<DB: Db>(self, q: &mut QueryBuilder<'a, DB>) {
        match self {
            CallerMatch::Scan(digits) => {
                q.push(" AND ");
                push_position(q, "caller", digits);
                q.push(" > 0");
            }
            CallerMatch::Like(digits) => {
                q.push(" AND caller LIKE ").arg(anywhere(digits));
            }
            CallerMatch::Trigrams(digits) => {
                q.push(" AND id IN (SELECT call_id FROM calls_caller_trigrams WHERE caller LIKE ")
                    .arg(anywhere(digits))
                    .push(") AND ");
                push_position(q, "caller", digits);
                q.push(" > 0");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::{Postgres, Sqlite};

    /// On SQLite, how common the digits are in the trigram table decides the path.
    #[tokio::test]
    async fn sqlite_takes_the_index_only_for_rare_digits() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("r.db").display());
        let pool = super::super::sqlite::open(&url, 1, 512)
            .await
            .expect("open");
        // The probe reads the trigram table only: fill it directly.
        sqlx::query(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) \
             INSERT INTO calls_caller_trigrams (caller, call_id) \
             SELECT '78112000001', 'c' || i FROM n",
        )
        .bind(PROBE_LIMIT)
        .execute(&pool)
        .await
        .expect("frequent number");
        sqlx::query(
            "INSERT INTO calls_caller_trigrams (caller, call_id) VALUES ('79215544330', 'r')",
        )
        .execute(&pool)
        .await
        .expect("rare number");

        let path = |digits: &'static str| {
            let pool = pool.clone();
            async move { CallerMatch::choose(&pool, digits).await.expect("choose") }
        };
        assert_eq!(path("5544").await, CallerMatch::Trigrams("5544"));
        assert_eq!(
            path("2000001").await,
            CallerMatch::Scan("2000001"),
            "in {PROBE_LIMIT} numbers: common"
        );
        assert_eq!(
            path("12").await,
            CallerMatch::Scan("12"),
            "shorter than a piece"
        );
        assert_eq!(
            path("55-44").await,
            CallerMatch::Scan("55-44"),
            "not digits"
        );
        assert_eq!(
            path("99999").await,
            CallerMatch::Trigrams("99999"),
            "in no number: the index says so at once"
        );
    }

    #[test]
    fn each_path_appends_its_condition_with_bound_values() {
        let mut q = QueryBuilder::<Sqlite>::new("SELECT 1 FROM calls WHERE 1 = 1");
        CallerMatch::Scan("79").push(&mut q);
        assert_eq!(
            q.sql(),
            "SELECT 1 FROM calls WHERE 1 = 1 AND instr(caller, ?) > 0"
        );

        let mut q = QueryBuilder::<Sqlite>::new("SELECT 1 FROM calls WHERE 1 = 1");
        CallerMatch::Trigrams("7911").push(&mut q);
        assert_eq!(
            q.sql(),
            "SELECT 1 FROM calls WHERE 1 = 1 AND id IN (SELECT call_id FROM \
             calls_caller_trigrams WHERE caller LIKE ?) AND instr(caller, ?) > 0"
        );

        let mut q = QueryBuilder::<Postgres>::new("SELECT 1 FROM calls WHERE 1 = 1");
        CallerMatch::Like("7911").push(&mut q);
        assert_eq!(
            q.sql(),
            "SELECT 1 FROM calls WHERE 1 = 1 AND caller LIKE $1"
        );
    }
}
