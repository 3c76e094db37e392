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
use pg_support::{FreshDb, PrivateCluster};
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

/// A role that may not create extensions (it neither owns the database nor may create in
/// it, as on many hosted servers) still gets a working register: the migration goes on
/// without `pg_trgm`, and searches by caller find the same calls by reading the rows.
/// On a server of the test's own, where the test may create that role.
#[tokio::test]
async fn without_pg_trgm_searches_by_caller_still_find_the_calls() {
    let cluster = PrivateCluster::start();
    let mut admin = sqlx::PgConnection::connect(&cluster.url)
        .await
        .expect("connect as the cluster's superuser");
    for sql in [
        "CREATE ROLE clerk LOGIN",
        "CREATE DATABASE register OWNER hotline",
    ] {
        admin.execute(sql).await.expect(sql);
    }
    admin.close().await.ok();
    let owner_url = pg_support::with_database(&cluster.url, "register");
    let mut owner = sqlx::PgConnection::connect(&owner_url)
        .await
        .expect("owner");
    owner
        .execute("GRANT CREATE ON SCHEMA public TO clerk")
        .await
        .expect("grant");

    let clerk_url = owner_url.replacen("hotline@", "clerk@", 1);
    let store = Store::open(&clerk_url, 2)
        .await
        .expect("the register opens without pg_trgm");
    for (id, caller) in [
        ("20261130T120000Z-NOTRGM01", "+78112554433"),
        ("20261130T120500Z-NOTRGM02", "+79111234567"),
    ] {
        let mut call = store_cases::new_call(id, "2026-11-30T12:00:00Z");
        call.caller = caller.to_owned();
        store
            .apply(&[hotline::model::RegisterWrite::Open(call)])
            .await
            .expect("apply");
    }
    let (calls, total) = store
        .search_calls(&hotline::store::CallFilter {
            caller: Some("8112554".to_owned()),
            limit: 50,
            ..Default::default()
        })
        .await
        .expect("search");
    store.close().await;
    assert_eq!(total, 1);
    assert_eq!(
        calls.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
        ["20261130T120000Z-NOTRGM01"]
    );

    let extension: Option<String> =
        sqlx::query_scalar("SELECT extname::text FROM pg_extension WHERE extname = 'pg_trgm'")
            .fetch_optional(&mut owner)
            .await
            .expect("extensions");
    assert_eq!(extension, None, "the clerk could not create pg_trgm");
    let index: Option<String> = sqlx::query_scalar(
        "SELECT indexname::text FROM pg_indexes WHERE indexname = 'calls_caller_trigrams'",
    )
    .fetch_optional(&mut owner)
    .await
    .expect("indexes");
    assert_eq!(index, None);
    owner.close().await.ok();
}
