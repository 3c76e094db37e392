//! Call grading over HTTP against a real server on 127.0.0.1: evaluation forms and their
//! versions, evaluations scored by the server, the operator's own view (only their calls,
//! recordings and evaluations, enforced on every path) with acknowledge and dispute, the
//! grader's answer to a dispute, quality reports with CSV and calibration, call flags.

#[path = "quality_api/cases.rs"]
mod cases;
mod common;
#[path = "web_api/harness.rs"]
mod harness;

pub use harness::*;

/// These tests use the server's own SQLite register.
async fn test_database() -> Option<Database> {
    None
}
