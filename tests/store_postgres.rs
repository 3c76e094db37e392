//! The call register on a real PostgreSQL server: the shared register cases (the same
//! bodies `tests/store_sqlite.rs` runs on SQLite), plus what only PostgreSQL has: its
//! URLs, its migrations, its pool, and a password that must stay out of errors.
//!
//! Needs a server: `sudo bash scripts/install-deps.sh`, or `HOTLINE_TEST_PG_URL` pointing
//! at one where the role may create databases. Without one these tests fail, loudly.

mod pg_support;
#[macro_use]
mod store_cases;

use hotline::store::{Store, StoreError};
use pg_support::FreshDb;
use sqlx::{Connection, Executor};

struct Postgres(FreshDb);

impl store_cases::Harness for Postgres {
    async fn new() -> Self {
        Postgres(FreshDb::create().await)
    }

    fn url(&self) -> String {
        self.0.url.clone()
    }

    async fn exec(&self, sql: &str) -> Result<u64, sqlx::Error> {
        let mut conn = self.0.raw().await;
        let done = conn.execute(sql).await.map(|r| r.rows_affected());
        conn.close().await.ok();
        done
    }

    const POISON: &'static [&'static str] = &[
        "CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS \
         $$ BEGIN RAISE EXCEPTION 'poisoned'; END $$",
        "CREATE TRIGGER refuse_poison BEFORE UPDATE ON calls FOR EACH ROW \
         WHEN (NEW.end_reason = 'bad_contact') EXECUTE FUNCTION refuse_poison()",
        "CREATE TRIGGER refuse_poison_ring BEFORE INSERT ON ring_attempts FOR EACH ROW \
         WHEN (NEW.operator_id = 'poison') EXECUTE FUNCTION refuse_poison()",
    ];
}

store_cases!(Postgres);

#[tokio::test]
async fn open_migrates_once_and_reopening_is_idempotent() {
    let db = FreshDb::create().await;
    let store = Store::open(&db.url, 4).await.expect("first open");
    assert_eq!(store.backend_name(), "postgres");
    assert_eq!(store.count_calls().await.expect("count"), 0);
    store
        .apply(&[store_cases::open("c1")])
        .await
        .expect("apply");
    store.close().await;

    let store = Store::open(&db.url.replace("postgres://", "postgresql://"), 4)
        .await
        .expect("second open, other spelling of the scheme");
    assert_eq!(store.count_calls().await.expect("count"), 1);
    store.close().await;

    let mut conn = db.raw().await;
    let migrations: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
        .fetch_one(&mut conn)
        .await
        .expect("migrations table");
    let shipped = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/postgres"))
        .expect("migrations folder")
        .count() as i64;
    assert_eq!(migrations, shipped, "each migration applied once");
    // The same migrations, one for one, as SQLite: the two schemas move together.
    let sqlite = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite"))
        .expect("migrations folder")
        .count() as i64;
    assert_eq!(shipped, sqlite);
}

#[tokio::test]
async fn the_pool_never_grows_past_max_connections() {
    let db = FreshDb::create().await;
    let store = Store::open(&db.url, 2).await.expect("open");
    store
        .apply(&[store_cases::open("c1")])
        .await
        .expect("apply");
    // Many readers at once: they queue for the two connections.
    let mut readers = Vec::new();
    for _ in 0..16 {
        let store = store.clone();
        readers.push(tokio::spawn(async move {
            store.recent_calls(10).await.expect("read").len()
        }));
    }
    for r in readers {
        assert_eq!(r.await.expect("reader"), 1);
    }
    let mut conn = db.raw().await;
    let open: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() \
         AND pid <> pg_backend_pid()",
    )
    .fetch_one(&mut conn)
    .await
    .expect("activity");
    assert!(open <= 2, "{open} connections for a pool of 2");
    store.close().await;
}

#[tokio::test]
async fn a_password_in_the_url_never_reaches_an_error() {
    // Nothing listens on port 1; wrong password; unknown database; unparsable URL.
    let admin = pg_support::admin_url();
    let authority = admin
        .split_once("://")
        .and_then(|(_, rest)| rest.split('/').next())
        .and_then(|a| a.rsplit_once('@'))
        .map(|(_, host)| host.to_owned())
        .expect("test URL has user@host");
    let cases = [
        "postgres://hotline:s3cret-pw@127.0.0.1:1/hotline".to_owned(),
        format!("postgres://hotline:s3cret-pw@{authority}/hotline"),
        "postgres://hotline:s3cret-pw@127.0.0.1:notaport/hotline".to_owned(),
        "postgres://hotline:s3cret-pw@[::1/hotline".to_owned(),
    ];
    for url in cases {
        let err = Store::open(&url, 1).await.expect_err("cannot open");
        assert!(
            matches!(
                err,
                StoreError::Connect { .. } | StoreError::InvalidUrl { .. }
            ),
            "{err:?}"
        );
        let shown = format!("{err} / {err:?} / {:?}", std::error::Error::source(&err));
        assert!(!shown.contains("s3cret-pw"), "{url}: {shown}");
    }
    let err = Store::open("mysql://root:s3cret-pw@db/hotline", 1)
        .await
        .expect_err("unsupported");
    assert!(matches!(&err, StoreError::UnsupportedUrl { scheme } if scheme == "mysql"));
    let err = Store::open("root:s3cret-pw@db", 1)
        .await
        .expect_err("no scheme");
    assert!(!err.to_string().contains("s3cret-pw"), "{err}");
}

/// Searches by a caller's digits (`caller LIKE '%digits%'`) have a trigram index to use:
/// the test role owns its database, so the migration could create `pg_trgm` for it.
#[tokio::test]
async fn searches_by_caller_have_a_trigram_index() {
    let db = FreshDb::create().await;
    let store = Store::open(&db.url, 2).await.expect("open");
    store.close().await;
    let mut conn = db.raw().await;
    let definition: String = sqlx::query_scalar(
        "SELECT indexdef FROM pg_indexes WHERE tablename = 'calls' \
         AND indexname = 'calls_caller_trigrams'",
    )
    .fetch_one(&mut conn)
    .await
    .expect("the trigram index exists");
    assert!(
        definition.contains("USING gin (caller gin_trgm_ops)"),
        "{definition}"
    );
    conn.close().await.ok();
}
