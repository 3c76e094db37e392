//! What differs between the register's two databases, in one place, so that every query
//! of the store is written once.
//!
//! The queries are built with sqlx's `QueryBuilder`, generic over a [`Db`]: the builder
//! numbers placeholders the backend's way (`?` on SQLite, `$n` on PostgreSQL), values go
//! in as [`Arg`]s, and the few fragments that are spelled differently come from the
//! backend's [`Dialect`]. Running a built query is the thin adapter each backend has here
//! (the same few lines for both, stamped out by `adapter!`), since sqlx's executor traits
//! cannot be named generically without bounds at every call site.
//!
//! The schemas keep the rest identical on purpose: times are fixed-width text compared in
//! byte order on both (PostgreSQL's text columns use the "C" collation), integers are
//! 64-bit, `notice_completed` is 0 or 1, and SQLite is recent enough for `ON CONFLICT`,
//! `RETURNING`, `FILTER (WHERE ...)` and `NULLS FIRST`.

use std::borrow::Cow;
use std::future::Future;

use sqlx::postgres::Postgres;
use sqlx::sqlite::Sqlite;
use sqlx::{Database, Executor, Pool, QueryBuilder, Row};

use super::{database, StoreError};

/// The SQL spellings and behaviours that differ between the backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// The statement that opens a batch's transaction. SQLite takes its write lock up
    /// front, so a concurrent writer makes the batch wait (busy timeout) at the start
    /// rather than fail half-way through.
    pub(super) fn begin(self) -> &'static str {
        match self {
            Dialect::Sqlite => "BEGIN IMMEDIATE",
            Dialect::Postgres => "BEGIN",
        }
    }

    /// Whether one statement the database refuses spoils the whole transaction.
    /// PostgreSQL aborts the transaction at the first error unless a savepoint catches it;
    /// SQLite rolls back only the refused statement (its default ABORT resolution).
    pub(super) fn refusal_aborts_transaction(self) -> bool {
        self == Dialect::Postgres
    }

    /// Is this the database refusing one statement on its merits (a constraint, a
    /// trigger, a value it cannot store), rather than failing as a whole?
    pub(super) fn is_refusal(self, err: &sqlx::Error) -> bool {
        match self {
            Dialect::Sqlite => super::sqlite::is_refusal(err),
            Dialect::Postgres => super::postgres::is_refusal(err),
        }
    }

    /// The hidden column that keeps the order rows of a table were written in: SQLite's
    /// `rowid`; on PostgreSQL the identity column `seq` the migrations add for this.
    pub(super) fn write_order(self) -> &'static str {
        match self {
            Dialect::Sqlite => "rowid",
            Dialect::Postgres => "seq",
        }
    }

    /// What to run after a bulk load has committed, if anything. PostgreSQL's planner
    /// statistics and visibility map still describe the table before the load (so the
    /// covering `calls_stats` index would visit the table for every row); autovacuum gets
    /// there in its own time, but a load is followed at once by statistics queries.
    pub(super) fn after_bulk_load(self) -> Option<&'static str> {
        match self {
            Dialect::Sqlite => None,
            Dialect::Postgres => Some("VACUUM (ANALYZE) calls"),
        }
    }
}

/// Pushes the position at which `needle` first occurs in the text column `column`, 0 if it
/// does not: a literal match (no wildcards, so digits typed into a search are never read
/// as a pattern).
pub(super) fn push_position<'a, DB: Db>(
    q: &mut QueryBuilder<'a, DB>,
    column: &str,
    needle: &'a str,
) {
    let function = match DB::DIALECT {
        Dialect::Sqlite => "instr",
        Dialect::Postgres => "strpos",
    };
    q.push(format_args!("{function}({column}, "));
    q.arg(needle).push(")");
}

/// Pushes the local day (`YYYY-MM-DD`) of the register time in `column`, in a zone
/// `offset_seconds` ahead of UTC.
///
/// SQLite's `date()` reads the fixed-width text (the `Z` included). PostgreSQL casts it to
/// `timestamp` (without zone), which reads the UTC wall time and ignores the `Z`, so
/// neither the session's `TimeZone` nor its `DateStyle` can move the result.
pub(super) fn push_local_day<DB: Db>(
    q: &mut QueryBuilder<'_, DB>,
    column: &str,
    offset_seconds: i32,
) {
    match DB::DIALECT {
        Dialect::Sqlite => {
            q.push(format_args!("date({column}, "));
            q.arg(sqlite_day_modifier(offset_seconds)).push(")");
        }
        Dialect::Postgres => {
            q.push(format_args!(
                "to_char({column}::timestamp + make_interval(secs => "
            ));
            q.arg(i64::from(offset_seconds)).push("), 'YYYY-MM-DD')");
        }
    }
}

/// Pushes `(v1, v2, ...)`, every value bound.
pub(super) fn push_tuple<'a, DB: Db>(
    q: &mut QueryBuilder<'a, DB>,
    values: impl IntoIterator<Item = Arg<'a>>,
) {
    q.push("(");
    for (n, value) in values.into_iter().enumerate() {
        if n > 0 {
            q.push(", ");
        }
        DB::bind(q, value);
    }
    q.push(")");
}

/// SQLite's `date()` modifier that moves a UTC time into a zone this far ahead of UTC.
fn sqlite_day_modifier(offset_seconds: i32) -> String {
    format!("{offset_seconds:+} seconds")
}

/// One value bound into a query. The register has only text and 64-bit integers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Arg<'a> {
    Text(Option<Cow<'a, str>>),
    Int(Option<i64>),
}

impl<'a> From<&'a str> for Arg<'a> {
    fn from(v: &'a str) -> Self {
        Arg::Text(Some(Cow::Borrowed(v)))
    }
}

impl<'a> From<&'a String> for Arg<'a> {
    fn from(v: &'a String) -> Self {
        Arg::Text(Some(Cow::Borrowed(v)))
    }
}

impl From<String> for Arg<'_> {
    fn from(v: String) -> Self {
        Arg::Text(Some(Cow::Owned(v)))
    }
}

impl<'a> From<Option<&'a str>> for Arg<'a> {
    fn from(v: Option<&'a str>) -> Self {
        Arg::Text(v.map(Cow::Borrowed))
    }
}

impl<'a> From<&'a Option<String>> for Arg<'a> {
    fn from(v: &'a Option<String>) -> Self {
        Arg::Text(v.as_deref().map(Cow::Borrowed))
    }
}

impl From<i64> for Arg<'_> {
    fn from(v: i64) -> Self {
        Arg::Int(Some(v))
    }
}

impl From<Option<i64>> for Arg<'_> {
    fn from(v: Option<i64>) -> Self {
        Arg::Int(v)
    }
}

/// A bound value after a fragment, in one chain: `q.push(" AND x = ").arg(value)`.
pub(super) trait PushArg<'a> {
    fn arg(&mut self, value: impl Into<Arg<'a>>) -> &mut Self;
}

impl<'a, DB: Db> PushArg<'a> for QueryBuilder<'a, DB> {
    fn arg(&mut self, value: impl Into<Arg<'a>>) -> &mut Self {
        DB::bind(self, value.into());
        self
    }
}

/// Reading a row's columns by name, the same way on both backends.
pub(super) trait Columns {
    fn text(&self, column: &str) -> Result<String, sqlx::Error>;
    fn opt_text(&self, column: &str) -> Result<Option<String>, sqlx::Error>;
    fn int(&self, column: &str) -> Result<i64, sqlx::Error>;
    fn opt_int(&self, column: &str) -> Result<Option<i64>, sqlx::Error>;
}

impl<R> Columns for R
where
    R: Row,
    for<'c> &'c str: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    fn text(&self, column: &str) -> Result<String, sqlx::Error> {
        self.try_get(column)
    }
    fn opt_text(&self, column: &str) -> Result<Option<String>, sqlx::Error> {
        self.try_get(column)
    }
    fn int(&self, column: &str) -> Result<i64, sqlx::Error> {
        self.try_get(column)
    }
    fn opt_int(&self, column: &str) -> Result<Option<i64>, sqlx::Error> {
        self.try_get(column)
    }
}

/// A register backend: its dialect, and how a built query is bound and run on one of its
/// connections.
pub(super) trait Db: Database<Row: Columns> {
    const DIALECT: Dialect;

    fn bind<'a>(q: &mut QueryBuilder<'a, Self>, arg: Arg<'a>);

    /// Every row the query returns; `persistent`: the statement stays prepared on the
    /// connection for the next run (see [`fetch_all_fresh`] for when it should not).
    fn fetch_all<'e>(
        conn: &'e mut Self::Connection,
        q: &'e mut QueryBuilder<'_, Self>,
        persistent: bool,
    ) -> impl Future<Output = Result<Vec<Self::Row>, sqlx::Error>> + Send + 'e;

    /// The first row the query returns, if any.
    fn fetch_optional<'e>(
        conn: &'e mut Self::Connection,
        q: &'e mut QueryBuilder<'_, Self>,
    ) -> impl Future<Output = Result<Option<Self::Row>, sqlx::Error>> + Send + 'e;

    /// Runs the statement; the number of rows it changed.
    fn execute<'e>(
        conn: &'e mut Self::Connection,
        q: &'e mut QueryBuilder<'_, Self>,
    ) -> impl Future<Output = Result<u64, sqlx::Error>> + Send + 'e;

    /// Runs fixed SQL without parameters (transaction control, maintenance).
    fn execute_plain<'e>(
        conn: &'e mut Self::Connection,
        sql: &'static str,
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send + 'e;
}

macro_rules! adapter {
    ($db:ty, $dialect:expr) => {
        impl Db for $db {
            const DIALECT: Dialect = $dialect;

            fn bind<'a>(q: &mut QueryBuilder<'a, Self>, arg: Arg<'a>) {
                match arg {
                    Arg::Text(v) => q.push_bind(v),
                    Arg::Int(v) => q.push_bind(v),
                };
            }

            fn fetch_all<'e>(
                conn: &'e mut Self::Connection,
                q: &'e mut QueryBuilder<'_, Self>,
                persistent: bool,
            ) -> impl Future<Output = Result<Vec<Self::Row>, sqlx::Error>> + Send + 'e {
                q.build().persistent(persistent).fetch_all(conn)
            }

            fn fetch_optional<'e>(
                conn: &'e mut Self::Connection,
                q: &'e mut QueryBuilder<'_, Self>,
            ) -> impl Future<Output = Result<Option<Self::Row>, sqlx::Error>> + Send + 'e {
                q.build().fetch_optional(conn)
            }

            fn execute<'e>(
                conn: &'e mut Self::Connection,
                q: &'e mut QueryBuilder<'_, Self>,
            ) -> impl Future<Output = Result<u64, sqlx::Error>> + Send + 'e {
                async move { Ok(q.build().execute(conn).await?.rows_affected()) }
            }

            fn execute_plain<'e>(
                conn: &'e mut Self::Connection,
                sql: &'static str,
            ) -> impl Future<Output = Result<(), sqlx::Error>> + Send + 'e {
                async move { conn.execute(sql).await.map(drop) }
            }
        }
    };
}

adapter!(Sqlite, Dialect::Sqlite);
adapter!(Postgres, Dialect::Postgres);

// What every query of the store does with its rows: run on a connection of the pool,
// errors as the store's own.

/// Every row the query returns, on a connection of the pool.
pub(super) async fn fetch_all<DB: Db>(
    pool: &Pool<DB>,
    q: &mut QueryBuilder<'_, DB>,
) -> Result<Vec<DB::Row>, StoreError> {
    fetch_rows(pool, q, true).await
}

/// Every row the query returns, from a plan made for these values. The statement is not
/// kept prepared on the connection: after five runs of a kept statement PostgreSQL may
/// settle on one generic plan made without the values, and for a search that plan cannot
/// know whether `caller LIKE '%digits%'` is a full number (an index lookup) or a prefix
/// every number shares (a walk of the period). Measured: a year's search for one number
/// went from 3 ms to 60 ms a few requests in, and stayed there. Planning each time costs
/// about a millisecond.
pub(super) async fn fetch_all_fresh<DB: Db>(
    pool: &Pool<DB>,
    q: &mut QueryBuilder<'_, DB>,
) -> Result<Vec<DB::Row>, StoreError> {
    fetch_rows(pool, q, false).await
}

async fn fetch_rows<DB: Db>(
    pool: &Pool<DB>,
    q: &mut QueryBuilder<'_, DB>,
    persistent: bool,
) -> Result<Vec<DB::Row>, StoreError> {
    let mut conn = pool.acquire().await.map_err(database)?;
    DB::fetch_all(&mut conn, q, persistent)
        .await
        .map_err(database)
}

/// The first row the query returns, if any.
pub(super) async fn fetch_optional<DB: Db>(
    pool: &Pool<DB>,
    q: &mut QueryBuilder<'_, DB>,
) -> Result<Option<DB::Row>, StoreError> {
    let mut conn = pool.acquire().await.map_err(database)?;
    DB::fetch_optional(&mut conn, q).await.map_err(database)
}

/// Runs a statement; the rows it changed.
pub(super) async fn execute<DB: Db>(
    pool: &Pool<DB>,
    q: &mut QueryBuilder<'_, DB>,
) -> Result<u64, StoreError> {
    let mut conn = pool.acquire().await.map_err(database)?;
    DB::execute(&mut conn, q).await.map_err(database)
}

/// Each row read with `read`.
pub(super) fn read_all<R, T>(
    rows: &[R],
    read: impl Fn(&R) -> Result<T, sqlx::Error>,
) -> Result<Vec<T>, StoreError> {
    rows.iter()
        .map(read)
        .collect::<Result<_, _>>()
        .map_err(database)
}

/// The single count a `SELECT COUNT(*) AS n` returns. Counts are never negative.
pub(super) async fn count<DB: Db>(
    pool: &Pool<DB>,
    q: &mut QueryBuilder<'_, DB>,
) -> Result<u64, StoreError> {
    the_count(&fetch_all(pool, q).await?)
}

/// [`count`] from a plan made for these values (see [`fetch_all_fresh`]).
pub(super) async fn count_fresh<DB: Db>(
    pool: &Pool<DB>,
    q: &mut QueryBuilder<'_, DB>,
) -> Result<u64, StoreError> {
    the_count(&fetch_all_fresh(pool, q).await?)
}

/// The `n` of a count's one row (0 if there is none).
fn the_count<R: Columns>(rows: &[R]) -> Result<u64, StoreError> {
    let n = read_all(rows, |r| r.int("n"))?;
    Ok(n.first().copied().unwrap_or(0).max(0).unsigned_abs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_become_sqlite_modifiers() {
        assert_eq!(sqlite_day_modifier(10_800), "+10800 seconds");
        assert_eq!(sqlite_day_modifier(-18_000), "-18000 seconds");
        assert_eq!(sqlite_day_modifier(0), "+0 seconds");
    }

    #[test]
    fn fragments_take_each_backend_s_placeholders() {
        let mut q = QueryBuilder::<Sqlite>::new("SELECT ");
        push_local_day(&mut q, "received_at", -18_000);
        q.push(" WHERE ");
        push_position(&mut q, "caller", "12");
        assert_eq!(
            q.sql(),
            "SELECT date(received_at, ?) WHERE instr(caller, ?)"
        );

        let mut q = QueryBuilder::<Postgres>::new("SELECT ");
        push_local_day(&mut q, "received_at", 10_800);
        q.push(" WHERE ");
        push_position(&mut q, "caller", "12");
        assert_eq!(
            q.sql(),
            "SELECT to_char(received_at::timestamp + make_interval(secs => $1), 'YYYY-MM-DD') \
             WHERE strpos(caller, $2)"
        );
    }
}
