//! `/metrics` (Prometheus text from the engine's last published snapshot), `/healthz` (the
//! process answers) and `/readyz` (it can do its job: the line is running, the register
//! answers or its outage spool takes writes, the recordings directory takes files).

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

use super::WebContext;
use crate::runtime::metrics;

pub async fn healthz() -> &'static str {
    "ok"
}

pub async fn prometheus(State(ctx): State<WebContext>) -> Response {
    let text = metrics::render(&ctx.metrics.borrow());
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

/// 200 `ready`, or 503 with one line per failed check.
pub async fn readyz(State(ctx): State<WebContext>) -> Response {
    let mut problems = Vec::new();
    let live = tokio::time::timeout(std::time::Duration::from_secs(2), ctx.live.snapshot()).await;
    if !matches!(live, Ok(Ok(_))) {
        problems.push("sip: the line is not running".to_string());
    }
    // The register takes writes if the database answers, or else if the spool that keeps
    // them during an outage can be written.
    if let Err(db) = ctx.store.count_calls().await {
        let spool_dir = ctx
            .config
            .database
            .spool
            .parent()
            .map(|p| p.to_path_buf())
            .unwrap_or_default();
        if let Err(spool) = writable(spool_dir).await {
            problems.push(format!("database: {db}; spool: {spool}"));
        }
    }
    if let Err(e) = writable(ctx.recordings_root.clone()).await {
        problems.push(format!("recordings: {e}"));
    }
    if problems.is_empty() {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, problems.join("\n") + "\n").into_response()
    }
}

/// Whether a file can be created in `dir` (created if missing), checked off the runtime.
async fn writable(dir: std::path::PathBuf) -> Result<(), String> {
    tokio::task::spawn_blocking(move || {
        std::fs::create_dir_all(&dir)?;
        let probe = dir.join(".readyz");
        std::fs::write(&probe, b"ok")?;
        std::fs::remove_file(&probe)
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e| e.to_string())
}
