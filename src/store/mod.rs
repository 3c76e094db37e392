//! The call register's storage: the `calls` table behind one [`Store`] handle.
//!
//! The switchboard describes what happened as [`RegisterWrite`]s; the store only applies
//! them, in order, and never invents values (the one exception is [`Store::mark_interrupted`],
//! which records that the server itself stopped). Reads return [`CallRecord`]s with times as
//! the register's fixed-width RFC 3339 UTC text (see [`format_time`]).
//!
//! Backends: SQLite (`sqlite:` URLs) and PostgreSQL (`postgres://` / `postgresql://`), each
//! a variant of the private `Backend` enum with its own connection set-up and migrations
//! folder (`migrations/sqlite`, `migrations/postgres`: same tables, columns, text time
//! format and meaning). The SQL is written once, over a small dialect that knows what the
//! two spell differently (`dialect.rs`); every public method runs the same query on
//! whichever pool the store has, so callers never see which backend is in use.
//!
//! Modules: `apply.rs` and `batch.rs` write batches; `register.rs` reads the register;
//! `qa.rs` is the QA side's types and methods, over `accounts.rs`, `search.rs` (with
//! `caller_match.rs`, how a search by a caller's digits finds its calls) and `stats.rs`;
//! `sqlite.rs` and `postgres.rs` open the databases.
//!
//! Invariants:
//! - [`Store::apply`] runs a whole batch in one transaction: either every applicable write
//!   of the batch is committed or none is (a database error leaves nothing half-written, so
//!   the caller may retry the same batch).
//! - A write the register cannot apply on its own merits (an `Update` for an unknown call,
//!   an `Open` for an id that already exists, a write the database refuses on a constraint)
//!   is skipped and reported in [`ApplyReport::skipped`]; it never costs the rest of the
//!   batch. `Open` is idempotent for this reason: a retried batch cannot duplicate a row;
//!   so is `Ring` (one attempt per call, operator and start time), and `Update` only fills
//!   in the fields it carries (an `UPDATE` of only those columns; a batch's updates of one
//!   call are merged into one statement where that provably changes nothing, see
//!   `batch.rs`). Applying a batch again (a retry after a commit whose
//!   acknowledgement was lost, a replay of the outage spool) therefore changes nothing.
//! - A database URL may carry a password: no error or log line of this layer quotes it.
//!
//! [`format_time`]: crate::model::format_time

/// Runs the same generic query function on whichever pool the store has:
/// `on_pool!(self, pool => register::call(pool, id))`.
macro_rules! on_pool {
    ($store:expr, $pool:ident => $call:expr) => {
        match &$store.backend {
            $crate::store::Backend::Sqlite($pool) => $call.await,
            $crate::store::Backend::Postgres($pool) => $call.await,
        }
    };
}

mod accounts;
mod apply;
mod audio;
mod batch;
mod caller_match;
mod dialect;
mod postgres;
mod qa;
mod quality;
mod quality_records;
mod records;
mod register;
mod retention;
mod search;
pub mod seed;
mod sqlite;
mod stats;
mod subscribers;
mod worklist;

pub use audio::{AudioFilter, AudioRecord};
pub use quality_records::{
    EvaluationFilter, EvaluationRecord, FlagRecord, FormRecord, NewEvaluation, QueueEntry,
};
pub use records::{
    AuditEntry, CallFilter, DayAggregate, EventRecord, OperatorAggregate, Principal, ReadingsDay,
    RingRecord, Role, TopicFilter, UserRecord,
};
pub use retention::LegalHold;

pub use subscribers::ReadingRecord;
pub use worklist::{
    CallBackAttempt, WorklistDetail, WorklistEntry, WorklistItem, MISSED_OUTCOMES,
    STATES as WORKLIST_STATES,
};

use std::path::PathBuf;

use jiff::Timestamp;

use crate::model::{CallRecord, RegisterWrite};

/// Errors of the storage layer.
#[derive(thiserror::Error, Debug)]
pub enum StoreError {
    /// The database URL names a backend this build does not have. Only the scheme is kept,
    /// so a password in the URL never reaches a log line.
    #[error(
        "unsupported database URL scheme `{scheme}` (expected `sqlite:`, `postgres:` or `postgresql:`)"
    )]
    UnsupportedUrl {
        /// The part of the URL before the first `:`.
        scheme: String,
    },
    /// The URL has the right scheme but its backend could not make sense of the rest.
    #[error("invalid database URL: {source}")]
    InvalidUrl {
        #[source]
        source: sqlx::Error,
    },
    /// A SQLite URL without a file name (`sqlite:`), which SQLite would quietly turn into
    /// a temporary database that disappears on close.
    #[error("database URL has no file name (use `sqlite://hotline.db?mode=rwc`)")]
    MissingPath,
    /// The directory that should hold the database file could not be created.
    #[error("cannot create database directory {}: {source}", path.display())]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Opening the database (or setting its pragmas) failed: on PostgreSQL, the server
    /// could not be reached or refused the login.
    #[error("cannot open database: {source}")]
    Connect {
        #[source]
        source: sqlx::Error,
    },
    /// The embedded schema migrations could not be applied (including: the database was
    /// migrated by a newer build, or an applied migration was edited).
    #[error("cannot migrate database schema: {source}")]
    Migrate {
        #[source]
        source: sqlx::migrate::MigrateError,
    },
    /// An `Update` named a call the register has no row for.
    #[error("no call `{id}` in the register")]
    UnknownCall { id: String },
    /// An `Open` named an id that is already in the register; the existing row is kept.
    #[error("call `{id}` is already in the register")]
    DuplicateCall { id: String },
    /// A `Ring` for an attempt already in the register (same call, operator and start
    /// time: the batch was applied before); the existing row is kept.
    #[error("this ring attempt of call `{id}` is already in the register")]
    DuplicateRing { id: String },
    /// This timeline event of the call is already in the register (same instant and kind:
    /// the batch was applied before); the existing row is kept.
    #[error("this timeline event of call `{id}` is already in the register")]
    DuplicateEvent { id: String },
    /// The database refused one write on a constraint (a CHECK, a trigger...); the rest of
    /// its batch was applied.
    #[error("the register refused a write for call `{id}`: {source}")]
    Refused {
        id: String,
        #[source]
        source: sqlx::Error,
    },
    /// The database did not answer within the caller's deadline (a network that drops
    /// packets never fails on its own). Whether the batch committed is unknown; applying it
    /// again is safe (see the module invariants).
    #[error("the database did not answer in time")]
    Timeout,
    /// A statement or transaction failed as a whole (the database is busy, full, gone, or
    /// returned something unreadable). Nothing of the batch was committed; retrying the
    /// same batch is safe.
    #[error("database error: {source}")]
    Database {
        #[source]
        source: sqlx::Error,
    },
}

/// What one [`Store::apply`] did.
#[derive(Debug, Default)]
pub struct ApplyReport {
    /// Rows inserted by `Open` writes.
    pub opened: u64,
    /// `Update` writes applied (each write of a merged statement counts) and rows inserted
    /// by `Ring` and `Event` writes.
    pub updated: u64,
    /// Writes that were not applied, in batch order; everything else was committed.
    pub skipped: Vec<SkippedWrite>,
}

impl ApplyReport {
    /// Writes committed (opened + updated).
    pub fn applied(&self) -> u64 {
        self.opened + self.updated
    }
}

/// One write of a batch that was skipped, and why.
#[derive(Debug)]
pub struct SkippedWrite {
    /// Its position in the batch given to [`Store::apply`].
    pub index: usize,
    /// [`StoreError::UnknownCall`], [`StoreError::DuplicateCall`],
    /// [`StoreError::DuplicateRing`], [`StoreError::DuplicateEvent`] or
    /// [`StoreError::Refused`].
    pub error: StoreError,
}

/// The call register. Cheap to clone: clones share one connection pool.
#[derive(Debug, Clone)]
pub struct Store {
    backend: Backend,
}

/// The page cache each SQLite connection keeps, in KiB, unless the configuration says
/// otherwise (`database.sqlite_cache_kib`). SQLite's own default is 2,000 KiB; the
/// register's writes touch few pages and its searches read the rest from the kernel's
/// file cache, so a smaller bound costs little and keeps a long-running server's memory
/// flat.
pub const DEFAULT_SQLITE_CACHE_KIB: u32 = 512;

#[derive(Debug, Clone)]
enum Backend {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

impl Store {
    /// Opens the register named by `url` and brings its schema up to date.
    ///
    /// `sqlite://path?mode=rwc` or `sqlite:path` (or `sqlite::memory:` for tests): the file
    /// and its parent directories are created if missing (`mode=rwc` is implied, since the
    /// register must be writable); WAL journal, so readers never block the writer;
    /// `synchronous=NORMAL` (a power cut may lose the last commits, never corrupt the
    /// file); foreign keys on; a busy timeout, so a concurrent writer makes us wait rather
    /// than fail. Re-opening an up-to-date database changes nothing.
    ///
    /// `postgres://user:password@host:port/database` (or `postgresql://`, with any of
    /// libpq's URL parameters such as `sslmode`): the database must exist; the schema is
    /// created or brought up to date in it. Taking a connection gives up after a few
    /// seconds, so an unreachable server fails a call quickly rather than stalling it.
    ///
    /// `max_connections` bounds the pool (at least 1). SQLite has one writer at a time
    /// whatever the pool size; more connections only let reads run alongside it.
    ///
    /// Each SQLite connection caches at most [`DEFAULT_SQLITE_CACHE_KIB`] of the file;
    /// [`Store::open_with_cache`] sets another bound.
    pub async fn open(url: &str, max_connections: u32) -> Result<Store, StoreError> {
        Self::open_with_cache(url, max_connections, DEFAULT_SQLITE_CACHE_KIB).await
    }

    /// [`Store::open`], with each SQLite connection caching at most `sqlite_cache_kib` KiB
    /// of the file's pages (at least 1). PostgreSQL caches on its server
    /// (`shared_buffers`), so there the bound does not apply.
    pub async fn open_with_cache(
        url: &str,
        max_connections: u32,
        sqlite_cache_kib: u32,
    ) -> Result<Store, StoreError> {
        let scheme = url.split_once(':').map_or("", |(scheme, _)| scheme);
        let backend = if scheme.eq_ignore_ascii_case("sqlite") {
            Backend::Sqlite(sqlite::open(url, max_connections, sqlite_cache_kib).await?)
        } else if scheme.eq_ignore_ascii_case("postgres")
            || scheme.eq_ignore_ascii_case("postgresql")
        {
            Backend::Postgres(postgres::open(url, max_connections).await?)
        } else {
            return Err(StoreError::UnsupportedUrl {
                // Cut at anything that is not a scheme character, so a URL without a
                // colon (`hotline.db`, or worse `user:pass@host`) is not echoed whole.
                scheme: scheme
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
                    .take(32)
                    .collect(),
            });
        };
        Ok(Store { backend })
    }

    /// Which backend this is, as the URL scheme names it (`sqlite` or `postgres`).
    pub fn backend_name(&self) -> &'static str {
        match &self.backend {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    /// Applies `writes` in order inside one transaction (see the module invariants for
    /// what is skipped rather than failed). `Err` means nothing was committed.
    pub async fn apply(&self, writes: &[RegisterWrite]) -> Result<ApplyReport, StoreError> {
        on_pool!(self, pool => apply::apply(pool, writes))
    }

    /// The row with this id, if any.
    pub async fn call(&self, id: &str) -> Result<Option<CallRecord>, StoreError> {
        on_pool!(self, pool => register::call(pool, id))
    }

    /// Every row for one SIP Call-ID, oldest first (a trunk may reuse a Call-ID for a
    /// re-attempt, so there can be more than one).
    pub async fn calls_by_sip_call_id(
        &self,
        sip_call_id: &str,
    ) -> Result<Vec<CallRecord>, StoreError> {
        on_pool!(self, pool => register::calls_by_sip_call_id(pool, sip_call_id))
    }

    /// The operators rung for a call, in order: (operator id, result).
    pub async fn ring_attempts(&self, call_id: &str) -> Result<Vec<(String, String)>, StoreError> {
        let rings = self.rings(call_id).await?;
        Ok(rings
            .into_iter()
            .map(|r| (r.operator_id, r.result))
            .collect())
    }

    /// The `limit` most recently received calls, newest first.
    pub async fn recent_calls(&self, limit: u32) -> Result<Vec<CallRecord>, StoreError> {
        on_pool!(self, pool => register::recent_calls(pool, limit))
    }

    /// Every call that should have a recording or names one, oldest first: answered
    /// (`outcome = answered`), connected to an operator (so also interrupted calls that
    /// were talking), or with a `recording_path` or `recording_error`; except recordings
    /// destroyed under the retention rules (`recording_purged_at`). What
    /// `recordings verify` checks the recordings tree against.
    pub async fn calls_with_recordings(&self) -> Result<Vec<CallRecord>, StoreError> {
        on_pool!(self, pool => register::calls_with_recordings(pool))
    }

    /// How many rows the register holds.
    pub async fn count_calls(&self) -> Result<u64, StoreError> {
        on_pool!(self, pool => register::count_calls(pool))
    }

    /// Closes calls a previous run left `in_progress` (it stopped or crashed during them):
    /// they become `interrupted`, with `ended_at = now`, `end_reason = "server_restart"` and
    /// `hangup_by = system`, except where the row already records one of these (what was
    /// written while the call ran is a fact; the restart only fills the gaps). Returns how
    /// many rows changed. Call it once at start-up, before the engine opens new rows.
    pub async fn mark_interrupted(&self, now: Timestamp) -> Result<u64, StoreError> {
        on_pool!(self, pool => register::mark_interrupted(pool, now))
    }

    /// Waits for in-flight queries and closes every connection (on SQLite this also
    /// checkpoints the WAL into the main file).
    pub async fn close(&self) {
        match &self.backend {
            Backend::Sqlite(pool) => pool.close().await,
            Backend::Postgres(pool) => pool.close().await,
        }
    }
}

fn database(source: sqlx::Error) -> StoreError {
    StoreError::Database { source }
}

/// Counts one write that the database ran without error into `report`, or says why it
/// changed nothing. `Open`, `Ring` and `Event` run as `INSERT … ON CONFLICT DO NOTHING`
/// and `Update` by primary key, so "not one row" means: already there (`Open`, `Ring`,
/// `Event`) or no such call (`Update`; a `Ring` or `Event` for an unknown call is refused
/// by the foreign key instead).
fn count_outcome(write: &RegisterWrite, rows: u64, report: &mut ApplyReport) -> Option<StoreError> {
    if rows == 1 {
        match write {
            RegisterWrite::Open(_) => report.opened += 1,
            RegisterWrite::Update { .. } | RegisterWrite::Ring(_) | RegisterWrite::Event(_) => {
                report.updated += 1
            }
        }
        return None;
    }
    Some(match write {
        RegisterWrite::Open(call) => StoreError::DuplicateCall {
            id: call.id.clone(),
        },
        RegisterWrite::Update { id, .. } => StoreError::UnknownCall { id: id.clone() },
        RegisterWrite::Ring(ring) => StoreError::DuplicateRing {
            id: ring.call_id.clone(),
        },
        RegisterWrite::Event(event) => StoreError::DuplicateEvent {
            id: event.call_id.clone(),
        },
    })
}
