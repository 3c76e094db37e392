//! Subscribers, their meters and the readings handed in (schema in
//! `migrations/*/0009_subscribers_and_readings.sql`), written once for both backends.
//!
//! Invariants:
//! - An import replaces every subscriber and meter in one transaction: a failed import
//!   leaves the previous export whole.
//! - Readings are only appended; an import never touches them.

use sqlx::{Pool, QueryBuilder};

use super::dialect::{fetch_all, push_tuple, read_all, Columns, Db, PushArg};
use super::{database, Store, StoreError};
use crate::model::meters::{Meter, MeterKind};

/// Rows per INSERT statement (4 or 5 bound values each: well under either backend's limit).
const ROWS_PER_INSERT: usize = 500;

/// A reading as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadingRecord {
    pub account: String,
    pub meter: String,
    pub value: i64,
    pub previous: i64,
    pub call_id: Option<String>,
    pub at: String,
    /// `phone` or `operator`.
    pub source: String,
}

impl Store {
    /// Replaces the subscribers and meters with `meters` (in their order). Returns the
    /// number of accounts imported.
    pub async fn import_meters(&self, meters: &[Meter]) -> Result<usize, StoreError> {
        on_pool!(self, pool => import(pool, meters))
    }

    /// The meters of `account`, in the export's order; empty if the account is unknown.
    pub async fn meters_of(&self, account: &str) -> Result<Vec<Meter>, StoreError> {
        on_pool!(self, pool => meters_of(pool, account))
    }

    /// Appends one reading.
    pub async fn add_reading(&self, reading: &ReadingRecord) -> Result<(), StoreError> {
        on_pool!(self, pool => add_reading(pool, reading))
    }

    /// Readings of `account` (all accounts if `None`) with `from <= at < to`, oldest first.
    pub async fn readings(
        &self,
        account: Option<&str>,
        from: &str,
        to: &str,
    ) -> Result<Vec<ReadingRecord>, StoreError> {
        on_pool!(self, pool => readings(pool, account, from, to, None))
    }

    /// The newest `limit` of [`Store::readings`], newest first (a page to show, where the
    /// whole period could be a city's month).
    pub async fn latest_readings(
        &self,
        account: Option<&str>,
        from: &str,
        to: &str,
        limit: u32,
    ) -> Result<Vec<ReadingRecord>, StoreError> {
        on_pool!(self, pool => readings(pool, account, from, to, Some(limit)))
    }

    /// The readings handed in during call `call_id`, oldest first.
    pub async fn call_readings(&self, call_id: &str) -> Result<Vec<ReadingRecord>, StoreError> {
        on_pool!(self, pool => call_readings(pool, call_id))
    }
}

const READING_COLUMNS: &str =
    "SELECT account, meter, value, previous, call_id, at, source FROM readings WHERE ";

fn reading(row: &impl Columns) -> Result<ReadingRecord, sqlx::Error> {
    Ok(ReadingRecord {
        account: row.text("account")?,
        meter: row.text("meter")?,
        value: row.int("value")?,
        previous: row.int("previous")?,
        call_id: row.opt_text("call_id")?,
        at: row.text("at")?,
        source: row.text("source")?,
    })
}

async fn import<DB: Db>(pool: &Pool<DB>, meters: &[Meter]) -> Result<usize, StoreError> {
    let mut tx = pool
        .begin_with(DB::DIALECT.begin())
        .await
        .map_err(database)?;
    for sql in ["DELETE FROM meters", "DELETE FROM subscribers"] {
        DB::execute_plain(&mut *tx, sql).await.map_err(database)?;
    }
    let mut accounts: Vec<&str> = Vec::new();
    let mut known = std::collections::HashSet::new();
    for m in meters {
        if known.insert(m.account.as_str()) {
            accounts.push(&m.account);
        }
    }
    for chunk in accounts.chunks(ROWS_PER_INSERT) {
        let mut q = QueryBuilder::new("INSERT INTO subscribers (account) VALUES ");
        for (i, a) in chunk.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            push_tuple(&mut q, [(*a).into()]);
        }
        DB::execute(&mut *tx, &mut q).await.map_err(database)?;
    }
    for (c, chunk) in meters.chunks(ROWS_PER_INSERT).enumerate() {
        let mut q = QueryBuilder::new(
            "INSERT INTO meters (account, meter, kind, last_reading, position) VALUES ",
        );
        for (i, m) in chunk.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            let position = (c * ROWS_PER_INSERT + i) as i64;
            push_tuple(
                &mut q,
                [
                    m.account.as_str().into(),
                    m.meter.as_str().into(),
                    m.kind.as_str().into(),
                    m.last_reading.into(),
                    position.into(),
                ],
            );
        }
        DB::execute(&mut *tx, &mut q).await.map_err(database)?;
    }
    tx.commit().await.map_err(database)?;
    Ok(accounts.len())
}

fn meter(row: &impl Columns) -> Result<Meter, sqlx::Error> {
    let kind = row.text("kind")?;
    Ok(Meter {
        account: row.text("account")?,
        meter: row.text("meter")?,
        // The CHECK constraint keeps the column to the two names.
        kind: MeterKind::parse(&kind).ok_or_else(|| sqlx::Error::ColumnDecode {
            index: "kind".to_owned(),
            source: format!("unknown meter kind `{kind}`").into(),
        })?,
        last_reading: row.int("last_reading")?,
    })
}

/// The account's meters in the export's order. A meter's last reading is the greater of
/// billing's figure and the highest reading handed in since: a reading given this month
/// (by phone or to an operator) is the floor for the next one even before billing's next
/// export carries it, so the same figure cannot be refused or "go backwards" in between.
async fn meters_of<DB: Db>(pool: &Pool<DB>, account: &str) -> Result<Vec<Meter>, StoreError> {
    let mut q = QueryBuilder::new(
        "SELECT m.account, m.meter, m.kind, \
         CASE WHEN r.highest IS NOT NULL AND r.highest > m.last_reading \
         THEN r.highest ELSE m.last_reading END AS last_reading \
         FROM meters m LEFT JOIN (SELECT meter, MAX(value) AS highest FROM readings \
         WHERE account = ",
    );
    q.arg(account)
        .push(" GROUP BY meter) r ON r.meter = m.meter WHERE m.account = ")
        .arg(account)
        .push(" ORDER BY m.position");
    read_all(&fetch_all(pool, &mut q).await?, meter)
}

async fn add_reading<DB: Db>(pool: &Pool<DB>, r: &ReadingRecord) -> Result<(), StoreError> {
    let mut q = QueryBuilder::new(
        "INSERT INTO readings (account, meter, value, previous, call_id, at, source) VALUES ",
    );
    push_tuple(
        &mut q,
        [
            r.account.as_str().into(),
            r.meter.as_str().into(),
            r.value.into(),
            r.previous.into(),
            (&r.call_id).into(),
            r.at.as_str().into(),
            r.source.as_str().into(),
        ],
    );
    super::dialect::execute(pool, &mut q).await.map(drop)
}

async fn readings<DB: Db>(
    pool: &Pool<DB>,
    account: Option<&str>,
    from: &str,
    to: &str,
    newest: Option<u32>,
) -> Result<Vec<ReadingRecord>, StoreError> {
    let mut q = QueryBuilder::new(READING_COLUMNS);
    q.push("at >= ").arg(from).push(" AND at < ").arg(to);
    if let Some(a) = account {
        q.push(" AND account = ").arg(a);
    }
    match newest {
        None => {
            q.push(" ORDER BY at, id");
        }
        Some(limit) => {
            q.push(" ORDER BY at DESC, id DESC LIMIT ")
                .arg(i64::from(limit));
        }
    }
    read_all(&fetch_all(pool, &mut q).await?, reading)
}

async fn call_readings<DB: Db>(
    pool: &Pool<DB>,
    call_id: &str,
) -> Result<Vec<ReadingRecord>, StoreError> {
    let mut q = QueryBuilder::new(READING_COLUMNS);
    q.push("call_id = ").arg(call_id).push(" ORDER BY at, id");
    read_all(&fetch_all(pool, &mut q).await?, reading)
}
