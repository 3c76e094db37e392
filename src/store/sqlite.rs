//! The SQLite backend of the call register: connection set-up, migrations, and how SQLite
//! says it refused one statement. The SQL itself is shared with PostgreSQL (`dialect.rs`).
//!
//! Runtime-checked queries keep the build free of a `DATABASE_URL`; the schema lives in
//! `migrations/sqlite` and is embedded at build time.

use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::Connection;

use super::StoreError;

static MIGRATOR: Migrator = sqlx::migrate!("migrations/sqlite");

/// How long a statement waits for another connection's write lock before failing. Long
/// enough to ride out a QA export or a WAL checkpoint, short enough that the register
/// writer notices a wedged database and starts logging its retries.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// SQLite's primary result code for "another connection holds the lock".
const SQLITE_BUSY: i32 = 5;

/// SQLite's primary result code for every kind of constraint failure (CHECK, NOT NULL,
/// UNIQUE, a trigger's `RAISE(ABORT)`...).
const SQLITE_CONSTRAINT: i32 = 19;

/// Connects a pool to the file named by `url` and applies the embedded migrations. Each
/// connection keeps at most `cache_kib` KiB of the file's pages in memory.
pub(super) async fn open(
    url: &str,
    max_connections: u32,
    cache_kib: u32,
) -> Result<SqlitePool, StoreError> {
    let options =
        SqliteConnectOptions::from_str(url).map_err(|source| StoreError::InvalidUrl { source })?;
    let path = options.get_filename().to_path_buf();
    if path.as_os_str().is_empty() {
        return Err(StoreError::MissingPath);
    }
    if !is_in_memory(url) {
        if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|source| StoreError::CreateDir {
                    path: dir.to_path_buf(),
                    source,
                })?;
        }
    }
    let options = options
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(BUSY_TIMEOUT)
        // Every connection has its own page cache, and it fills with the register as the
        // register grows (SQLite's default is 2,000 KiB a connection): bounded here so that
        // what a long-running server holds stays small. Pages it no longer caches are read
        // back from the kernel's file cache, microseconds each. A negative size is KiB.
        .pragma("cache_size", format!("-{}", cache_kib.max(1)));
    let pool = connect(options, max_connections).await?;
    // `migrate` holds the file's write lock for the whole run, so openers of one new file
    // take turns and each later one finds the work applied: a failure is a real one.
    if let Err(source) = migrate(&pool).await {
        pool.close().await;
        return Err(StoreError::Migrate { source });
    }
    Ok(pool)
}

/// Connects the pool, waiting out another opener of the same file. A connection's set-up
/// turns a new file to WAL, and that takes a lock for which SQLite does not call its busy
/// handler: two processes (or the server and a test) opening one new file at once could
/// see "database is locked" at once, with nothing wrong. Such a refusal is retried, with
/// growing pauses, for as long as a statement would wait for a lock; any other error, or
/// the lock still held after that, fails the open.
async fn connect(
    options: SqliteConnectOptions,
    max_connections: u32,
) -> Result<SqlitePool, StoreError> {
    let started = tokio::time::Instant::now();
    let mut pause = Duration::from_millis(5);
    loop {
        let attempt = SqlitePoolOptions::new()
            .max_connections(max_connections.max(1))
            .connect_with(options.clone())
            .await;
        match attempt {
            Ok(pool) => return Ok(pool),
            Err(source) if is_busy(&source) && started.elapsed() < BUSY_TIMEOUT => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(100));
            }
            Err(source) => return Err(StoreError::Connect { source }),
        }
    }
}

/// Did SQLite refuse because another connection held the lock?
fn is_busy(err: &sqlx::Error) -> bool {
    primary_code(err) == Some(SQLITE_BUSY)
}

/// The pending migrations, on one connection with foreign keys off: a migration that
/// rebuilds a table others refer to (SQLite's way to change a CHECK) must drop the old
/// one, which with foreign keys on would delete or refuse every row referring to it. The
/// switch cannot be made inside a transaction, hence here; the connection gets it back
/// before it returns to the pool.
///
/// The whole run is one `BEGIN IMMEDIATE` transaction (each migration a savepoint in it).
/// SQLite's migrator has no lock of its own: two processes opening one new file at once
/// (the server starting while `hotline user add` runs) would both read "nothing applied"
/// and the loser fail on the winner's tables, and with many openers a few retries were
/// not always enough. Taking the write lock first makes them wait their turn (the busy
/// timeout applies to `BEGIN IMMEDIATE`), and each later one finds everything applied.
async fn migrate(pool: &SqlitePool) -> Result<(), sqlx::migrate::MigrateError> {
    let mut conn = pool.acquire().await?;
    sqlx::query("PRAGMA foreign_keys = OFF")
        .execute(&mut *conn)
        .await?;
    let result = migrate_under_write_lock(&mut conn).await;
    sqlx::query("PRAGMA foreign_keys = ON")
        .execute(&mut *conn)
        .await?;
    result
}

/// Runs the migrator inside one transaction holding the write lock; a failure rolls the
/// whole run back.
async fn migrate_under_write_lock(
    conn: &mut sqlx::SqliteConnection,
) -> Result<(), sqlx::migrate::MigrateError> {
    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
    MIGRATOR.run_direct(&mut *tx).await?;
    tx.commit().await?;
    Ok(())
}

/// `sqlite::memory:` or `mode=memory`: no file, so no directory to create.
fn is_in_memory(url: &str) -> bool {
    let (location, query) = url.split_once('?').unwrap_or((url, ""));
    location.ends_with(":memory:") || query.split('&').any(|pair| pair == "mode=memory")
}

/// Is this the database refusing one statement (rather than failing as a whole)?
pub(super) fn is_refusal(err: &sqlx::Error) -> bool {
    primary_code(err) == Some(SQLITE_CONSTRAINT)
}

/// SQLite's primary result code in a database error: extended codes keep it in their
/// low byte.
fn primary_code(err: &sqlx::Error) -> Option<i32> {
    err.as_database_error()
        .and_then(|db| db.code())
        .and_then(|code| code.parse::<i32>().ok())
        .map(|code| code & 0xff)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_pooled_connection_keeps_the_configured_page_cache() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("register.db").display()
        );
        let pool = open(&url, 3, 300).await.expect("open");
        // Hold all three at once, so the pool has to open each of them.
        let mut held = Vec::new();
        for _ in 0..3 {
            held.push(pool.acquire().await.expect("acquire"));
        }
        for conn in &mut held {
            let pages: i64 = sqlx::query_scalar("PRAGMA cache_size")
                .fetch_one(&mut **conn)
                .await
                .expect("cache_size");
            assert_eq!(pages, -300, "a negative cache_size is KiB");
        }
    }

    #[test]
    fn in_memory_urls_are_recognised() {
        assert!(is_in_memory("sqlite::memory:"));
        assert!(is_in_memory("sqlite://register?mode=memory&cache=shared"));
        assert!(!is_in_memory("sqlite://data/hotline.db?mode=rwc"));
        assert!(!is_in_memory("sqlite:hotline.db"));
    }
}
