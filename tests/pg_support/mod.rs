//! PostgreSQL for tests: a fresh database per test on the server named by
//! `HOTLINE_TEST_PG_URL` (default `postgres://hotline:hotline@127.0.0.1:5432/hotline`, what
//! `scripts/install-deps.sh` sets up), dropped again when the test ends, even by a panic.
//!
//! A server that cannot be reached fails the test with a message saying how to get one:
//! a register backend that is never tested must not look green.
#![allow(dead_code)]

use sqlx::{Connection, Executor, PgConnection};

pub const DEFAULT_URL: &str = "postgres://hotline:hotline@127.0.0.1:5432/hotline";

/// The server (and a database on it that the test role may connect to).
pub fn admin_url() -> String {
    std::env::var("HOTLINE_TEST_PG_URL").unwrap_or_else(|_| DEFAULT_URL.to_owned())
}

/// `url` with its database name replaced by `name` (query parameters kept).
pub fn with_database(url: &str, name: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a postgres:// URL");
    let (rest, query) = match rest.split_once('?') {
        Some((rest, query)) => (rest, Some(query)),
        None => (rest, None),
    };
    let authority = rest.split('/').next().unwrap_or(rest);
    match query {
        Some(query) => format!("{scheme}://{authority}/{name}?{query}"),
        None => format!("{scheme}://{authority}/{name}"),
    }
}

/// Connects to the test server, or fails the test saying how to install one.
pub async fn admin() -> PgConnection {
    let url = admin_url();
    PgConnection::connect(&url).await.unwrap_or_else(|e| {
        panic!(
            "PostgreSQL is not reachable at HOTLINE_TEST_PG_URL (default {DEFAULT_URL}): {e}. \
             Run `sudo bash scripts/install-deps.sh` to install and start it and create the \
             `hotline` role, or point HOTLINE_TEST_PG_URL at a server where the role may \
             CREATE DATABASE."
        )
    })
}

/// A database of its own for one test, dropped with this value.
pub struct FreshDb {
    pub name: String,
    pub url: String,
}

impl FreshDb {
    pub async fn create() -> FreshDb {
        let name = format!("t_{:016x}", rand::random::<u64>());
        let mut admin = admin().await;
        admin
            .execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .unwrap_or_else(|e| panic!("CREATE DATABASE {name} (the role needs CREATEDB): {e}"));
        admin.close().await.ok();
        FreshDb {
            url: with_database(&admin_url(), &name),
            name,
        }
    }

    /// A plain connection to this database, for what the `Store` API deliberately cannot do.
    pub async fn raw(&self) -> PgConnection {
        PgConnection::connect(&self.url)
            .await
            .expect("raw connection")
    }
}

impl Drop for FreshDb {
    fn drop(&mut self) {
        // Drop runs inside the test's runtime, which cannot be blocked on: a thread with a
        // runtime of its own does the async work.
        let name = self.name.clone();
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                let mut admin = PgConnection::connect(&admin_url()).await?;
                admin
                    .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                    .await?;
                admin.close().await
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop test database {}", self.name);
        }
    }
}

#[test]
fn database_names_are_replaced_and_parameters_kept() {
    assert_eq!(
        with_database("postgres://u:p@h:5432/hotline?sslmode=disable", "t_1"),
        "postgres://u:p@h:5432/t_1?sslmode=disable"
    );
    assert_eq!(with_database("postgres://h", "t_2"), "postgres://h/t_2");
}
