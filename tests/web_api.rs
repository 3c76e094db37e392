//! The QA HTTP API against a real server on 127.0.0.1: a known register written through
//! `Store::apply`, users added through the store, requests over HTTP.

#[path = "web_api/audio.rs"]
mod audio;
#[path = "web_api/auth.rs"]
mod auth;
#[path = "web_api/cli.rs"]
mod cli;
mod common;
#[path = "web_api/guard.rs"]
mod guard;
#[path = "web_api/harness.rs"]
mod harness;
#[path = "web_api/live.rs"]
mod live;
#[path = "web_api/readings.rs"]
mod readings;
#[path = "web_api/recordings_stats.rs"]
mod recordings_stats;
#[path = "web_api/register.rs"]
mod register;
#[path = "web_api/retention.rs"]
mod retention;
#[path = "web_api/worklist.rs"]
mod worklist;

pub use harness::*;

/// These tests use the server's own SQLite register.
async fn test_database() -> Option<Database> {
    None
}
