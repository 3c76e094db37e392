//! The call register on real SQLite files: what only SQLite has (files, WAL, URL forms),
//! plus the shared register cases (the same bodies `tests/store_postgres.rs` runs on
//! PostgreSQL): schema, round trips, batch semantics, crash recovery, and the register
//! writer under load and through a database outage.

#[macro_use]
mod store_cases;

use std::path::Path;

use hotline::store::{Store, StoreError};
use sqlx::{Connection, Executor};
use store_cases::open;
use tempfile::TempDir;

fn url_in(dir: &Path) -> String {
    format!("sqlite://{}?mode=rwc", dir.join("hotline.db").display())
}

struct Sqlite(TempDir);

impl store_cases::Harness for Sqlite {
    async fn new() -> Self {
        Sqlite(tempfile::tempdir().expect("tempdir"))
    }

    fn url(&self) -> String {
        url_in(self.0.path())
    }

    async fn exec(&self, sql: &str) -> Result<u64, sqlx::Error> {
        let mut conn = raw(self.0.path()).await;
        let done = conn.execute(sql).await.map(|r| r.rows_affected());
        conn.close().await.ok();
        done
    }

    const POISON: &'static [&'static str] = &[
        "CREATE TRIGGER refuse_poison BEFORE UPDATE ON calls WHEN NEW.end_reason = 'bad_contact' \
         BEGIN SELECT RAISE(ABORT, 'poisoned'); END",
        "CREATE TRIGGER refuse_poison_ring BEFORE INSERT ON ring_attempts \
         WHEN NEW.operator_id = 'poison' BEGIN SELECT RAISE(ABORT, 'poisoned'); END",
    ];
}

store_cases!(Sqlite);

/// A connection of its own, for what the `Store` API deliberately cannot do.
async fn raw(dir: &Path) -> sqlx::SqliteConnection {
    sqlx::SqliteConnection::connect(&url_in(dir))
        .await
        .expect("raw connection")
}

#[tokio::test]
async fn open_creates_the_file_and_reopening_is_idempotent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let nested = dir.path().join("var/lib/hotline");
    let url = url_in(&nested);

    let store = Store::open(&url, 4).await.expect("first open");
    assert!(nested.join("hotline.db").is_file());
    assert_eq!(store.count_calls().await.expect("count"), 0);
    let report = store.apply(&[open("c1")]).await.expect("apply");
    assert_eq!(report.opened, 1);
    store.close().await;

    let store = Store::open(&url, 4).await.expect("second open");
    assert_eq!(store.count_calls().await.expect("count"), 1);
    store.close().await;

    // Read before another connection touches the file. WAL is recorded in the file:
    // header bytes 18 and 19 (write and read versions) are 2 in WAL mode, 1 otherwise.
    let header = std::fs::read(nested.join("hotline.db")).expect("database file");
    assert_eq!(&header[18..20], &[2, 2], "the register runs in WAL mode");

    let mut conn = raw(&nested).await;
    let migrations: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
        .fetch_one(&mut conn)
        .await
        .expect("migrations table");
    let shipped = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite"))
        .expect("migrations folder")
        .count() as i64;
    assert_eq!(
        migrations, shipped,
        "each migration applied once: re-open must not re-apply them"
    );
}

#[tokio::test]
async fn the_short_url_form_works_too() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("short.db");
    let store = Store::open(&format!("sqlite:{}", path.display()), 1)
        .await
        .expect("open");
    assert!(path.is_file());
    assert_eq!(store.count_calls().await.expect("count"), 0);
}

#[tokio::test]
async fn unsupported_and_empty_urls_are_clear_errors() {
    let err = Store::open("mysql://hotline:s3cret@db/hotline", 1)
        .await
        .expect_err("no mysql backend");
    assert!(matches!(&err, StoreError::UnsupportedUrl { scheme } if scheme == "mysql"));
    assert!(
        !err.to_string().contains("s3cret"),
        "a password must not reach the message"
    );
    let err = Store::open("hotline.db", 1).await.expect_err("no scheme");
    assert!(matches!(err, StoreError::UnsupportedUrl { .. }));
    let err = Store::open("sqlite:", 1).await.expect_err("no file");
    assert!(matches!(err, StoreError::MissingPath));
}

#[tokio::test]
async fn strict_tables_keep_text_out_of_integer_columns() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&url_in(dir.path()), 1).await.expect("open");
    store.apply(&[open("c1")]).await.expect("apply");
    let mut conn = raw(dir.path()).await;
    // SQLite without STRICT would store the text; PostgreSQL's types refuse it anyway.
    let err = sqlx::query("UPDATE calls SET talk_ms = 'long' WHERE id = 'c1'")
        .execute(&mut conn)
        .await
        .expect_err("STRICT");
    assert!(err.as_database_error().is_some());
}

/// Migration 0007 rebuilds `users` (its role CHECK takes `operator`) together with the
/// tables that reference it: users, their sessions and API tokens made before it survive.
#[tokio::test]
async fn the_quality_migration_keeps_users_sessions_and_tokens() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = url_in(dir.path());
    let mut old = sqlx::migrate::Migrator::new(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite"),
    )
    .await
    .expect("migrations readable");
    old.migrations = old
        .migrations
        .iter()
        .filter(|m| m.version < 7)
        .cloned()
        .collect::<Vec<_>>()
        .into();
    let mut conn = sqlx::SqliteConnection::connect(&url)
        .await
        .expect("connect");
    old.run(&mut conn).await.expect("migrations 1-6");
    for sql in [
        "INSERT INTO users VALUES ('anna', 'phc', 'qa', '2026-11-24T10:00:00.000Z')",
        "INSERT INTO sessions VALUES ('s1', 'anna', '2026-11-24T10:00:00.000Z', '2026-11-24T10:00:00.000Z')",
        "INSERT INTO api_tokens VALUES ('t1', 'script', 'anna', '2026-11-24T10:00:00.000Z')",
    ] {
        conn.execute(sql).await.expect(sql);
    }
    conn.close().await.ok();

    let store = Store::open(&url, 1).await.expect("migrates to 0007");
    let who = store
        .token_principal("t1")
        .await
        .unwrap()
        .expect("token kept");
    assert_eq!((who.username.as_str(), who.operator_id), ("anna", None));
    let session = store
        .touch_session("s1", "2026-11-24T10:01:00.000Z", "2026-11-24T00:00:00.000Z")
        .await
        .unwrap();
    assert_eq!(
        session.map(|p| p.username).as_deref(),
        Some("anna"),
        "session kept"
    );
    // The foreign keys still hold: a session for nobody is refused.
    let refused = store
        .create_session(
            "s2",
            "nobody",
            "2026-11-24T10:02:00.000Z",
            "2026-11-24T00:00:00.000Z",
        )
        .await;
    assert!(refused.is_err());
}

/// The server, a `hotline user add` and the test harness may all open one new file at the
/// same moment. Turning a fresh file to WAL takes a lock that SQLite does not wait for
/// (its busy handler is not called there), so an opener could fail with "database is
/// locked" although nothing was wrong. Then all of them find the same migrations pending;
/// without the write lock held for the whole run, the losers failed on the winner's rows
/// ("UNIQUE constraint failed: _sqlx_migrations.version") more often than a few retries
/// could absorb. Every opener must get a working register.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn openers_racing_on_one_new_file_all_get_the_register() {
    for round in 0..12 {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = url_in(dir.path());
        let openers: Vec<_> = (0..8)
            .map(|_| {
                let url = url.clone();
                tokio::spawn(async move { Store::open(&url, 2).await })
            })
            .collect();
        for opener in openers {
            let store = opener
                .await
                .expect("opener task")
                .unwrap_or_else(|e| panic!("round {round}: open failed: {e:?}"));
            assert_eq!(store.count_calls().await.expect("count"), 0);
            store.close().await;
        }
    }
}
