//! `/metrics` (Prometheus text from the engine's last published snapshot and the console's
//! login guard; behind a bearer token when `[http] metrics_token` is set), `/healthz` (the
//! process answers) and `/readyz` (it can do its job: the line is running, the register
//! answers or its outage spool takes writes, the recordings directory takes files).

use std::fmt::Write;
use std::time::Instant;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::api::error::ApiError;
use super::auth::{bearer, SharedGuard};
use super::WebContext;
use crate::runtime::metrics;

pub async fn healthz() -> &'static str {
    "ok"
}

/// Whether the request may read `/metrics`: no token configured, or the right one. The
/// digests are compared in constant time, so the answer's timing tells nothing.
fn metrics_allowed(token: Option<&str>, headers: &HeaderMap) -> bool {
    let Some(token) = token else {
        return true;
    };
    let presented = bearer(headers).unwrap_or("");
    let (a, b) = (
        Sha256::digest(token.as_bytes()),
        Sha256::digest(presented.as_bytes()),
    );
    bool::from(a.ct_eq(&b))
}

pub async fn prometheus(
    State(ctx): State<WebContext>,
    Extension(guard): Extension<SharedGuard>,
    headers: HeaderMap,
) -> Response {
    if !metrics_allowed(ctx.config.http.metrics_token.as_deref(), &headers) {
        return ApiError::Unauthorized.into_response();
    }
    let mut text = metrics::render(&ctx.metrics.borrow());
    let console = guard
        .lock()
        .expect("the guard's lock is never held across a panic")
        .counts(Instant::now());
    for (name, help, value) in [
        (
            "hotline_console_locked_accounts",
            "Console user names locked after password guessing.",
            console.locked_accounts,
        ),
        (
            "hotline_console_blocked_sources",
            "Addresses blocked from console logins after password guessing.",
            console.blocked_sources,
        ),
    ] {
        let _ = writeln!(
            text,
            "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
        );
    }
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
    // The provider link: failing registration means the provider sends us no calls.
    let provider = ctx.metrics.borrow().provider.clone();
    if let Some(p) = provider.as_ref().filter(|p| p.state == "failing") {
        problems.push(format!(
            "provider: registration failing since {} ({})",
            p.since,
            p.last_error.as_deref().unwrap_or("no answer")
        ));
    }
    if problems.is_empty() {
        let mut body = "ready\n".to_string();
        if let Some(p) = provider {
            body.push_str(&super::provider_status::readyz_line(&p));
        }
        (StatusCode::OK, body).into_response()
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
