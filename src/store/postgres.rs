//! The PostgreSQL backend of the call register: connection set-up, migrations, and how
//! PostgreSQL says it refused one statement. The SQL itself is shared with SQLite
//! (`dialect.rs`): same schema and meaning (`migrations/postgres` mirrors
//! `migrations/sqlite`; times are the same fixed-width TEXT), so every [`super::Store`]
//! method answers identically on both.
//!
//! Invariant: the URL (which may carry a password) is parsed here and never formatted into
//! an error or a log line; errors carry only what the driver or server said.

use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use super::StoreError;

static MIGRATOR: Migrator = sqlx::migrate!("migrations/postgres");

/// How long taking a connection from the pool may take, connecting included. Short, so a
/// database that is down fails a batch within seconds and the register writer turns to its
/// spool instead of holding the engine's writes in memory.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// Connects a pool to the database named by `url` and applies the embedded migrations.
pub(super) async fn open(url: &str, max_connections: u32) -> Result<PgPool, StoreError> {
    let options =
        PgConnectOptions::from_str(url).map_err(|source| StoreError::InvalidUrl { source })?;
    let pool = PgPoolOptions::new()
        .max_connections(max_connections.max(1))
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_with(options)
        .await
        .map_err(|source| StoreError::Connect { source })?;
    if let Err(source) = MIGRATOR.run(&pool).await {
        pool.close().await;
        return Err(StoreError::Migrate { source });
    }
    Ok(pool)
}

/// Is this the database refusing one statement on its merits (rather than failing as a
/// whole)? SQLSTATE class 23 (integrity constraint: CHECK, UNIQUE, foreign key, NOT NULL),
/// class 22 (data exception: a value PostgreSQL cannot store, such as a NUL byte in text)
/// and P0001 (an exception raised by a trigger).
pub(super) fn is_refusal(err: &sqlx::Error) -> bool {
    err.as_database_error()
        .and_then(|db| db.code())
        .is_some_and(|code| code.starts_with("23") || code.starts_with("22") || code == "P0001")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_bad_url_error_does_not_quote_the_password() {
        let err = open("postgres://hotline:s3cret@db:notaport/hotline", 1)
            .await
            .expect_err("bad port");
        assert!(matches!(err, StoreError::InvalidUrl { .. }));
        assert!(!format!("{err} {err:?}").contains("s3cret"), "{err:?}");
    }
}
