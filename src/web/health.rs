//! `/metrics` (Prometheus text from the engine's last published snapshot), `/healthz` (the
//! process answers) and `/readyz` (it can do its job: the line is running, the register
//! answers, the recordings directory takes files).

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
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response()
}

/// 200 `ready`, or 503 with one line per failed check.
pub async fn readyz(State(ctx): State<WebContext>) -> Response {
    let mut problems = Vec::new();
    let live = tokio::time::timeout(std::time::Duration::from_secs(2), ctx.live.snapshot()).await;
    if !matches!(live, Ok(Ok(_))) {
        problems.push("sip: the line is not running".to_string());
    }
    if let Err(e) = ctx.store.count_calls().await {
        problems.push(format!("database: {e}"));
    }
    let root = ctx.recordings_root.clone();
    let writable = tokio::task::spawn_blocking(move || {
        std::fs::create_dir_all(&root)?;
        let probe = root.join(".readyz");
        std::fs::write(&probe, b"ok")?;
        std::fs::remove_file(&probe)
    })
    .await;
    match writable {
        Ok(Ok(())) => {}
        Ok(Err(e)) => problems.push(format!("recordings: {e}")),
        Err(e) => problems.push(format!("recordings: {e}")),
    }
    if problems.is_empty() {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, problems.join("\n") + "\n").into_response()
    }
}
