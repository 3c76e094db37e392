//! Call grading over HTTP on PostgreSQL: the scenarios of `tests/quality_api.rs` (the
//! same module, `tests/quality_api/cases.rs`) against a server whose register is a fresh
//! PostgreSQL database.
//!
//! Needs a server: `sudo bash scripts/install-deps.sh`, or `HOTLINE_TEST_PG_URL` pointing
//! at one where the role may create databases.

#[path = "quality_api/cases.rs"]
mod cases;
mod common;
#[path = "web_api/harness.rs"]
mod harness;
mod pg_support;

pub use harness::*;
use pg_support::FreshDb;

/// Each test gets a fresh PostgreSQL database for its server's register.
async fn test_database() -> Option<Database> {
    let db = FreshDb::create().await;
    Some(Database {
        url: db.url.clone(),
        keep: Box::new(db),
    })
}
