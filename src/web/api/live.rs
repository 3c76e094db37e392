//! The supervisor's live board: operators, the queue, a server-sent event stream of
//! snapshots, and pause/resume. Everything goes through `LiveHandle` to the engine,
//! which owns the switchboard; nothing here holds live state of its own.
//!
//! Invariant: the event stream ends when the server shuts down or the engine stops, so a
//! browser holding `/api/live` open never delays a graceful stop.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::{Extension, Json};
use futures_util::Stream;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::time::{interval, Interval, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use super::error::ApiError;
use super::params::{json_body, Remote};
use crate::model::format_time;
use crate::model::{LiveSnapshot, OperatorLive};
use crate::runtime::live::{LiveError, LiveHandle};
use crate::store::AuditEntry;
use crate::web::auth::{level, Auth};
use crate::web::WebContext;

/// How often the stream looks for a change.
const POLL: Duration = Duration::from_secs(1);
/// The longest pause reason we pass on.
const MAX_REASON: usize = 200;

/// The server's stop signal, handed to long-lived responses.
#[derive(Clone)]
pub struct Shutdown(pub CancellationToken);

impl From<LiveError> for ApiError {
    fn from(e: LiveError) -> ApiError {
        match e {
            LiveError::Unavailable => ApiError::Unavailable,
            LiveError::UnknownOperator(_) => ApiError::NotFound("operator"),
            LiveError::Refused(why) => ApiError::Refused(why),
        }
    }
}

pub async fn operators(
    Auth(_): Auth<{ level::SUPERVISOR }>,
    State(ctx): State<WebContext>,
) -> Result<Json<Vec<OperatorLive>>, ApiError> {
    Ok(Json(ctx.live.snapshot().await?.operators))
}

pub async fn queue(
    Auth(_): Auth<{ level::SUPERVISOR }>,
    State(ctx): State<WebContext>,
) -> Result<Json<Value>, ApiError> {
    let s = ctx.live.snapshot().await?;
    Ok(Json(json!({
        "waiting": s.waiting,
        "longest_wait_ms": s.longest_wait_ms,
        "active_calls": s.active_calls,
    })))
}

struct Feed {
    live: LiveHandle,
    stop: CancellationToken,
    tick: Interval,
    /// The last snapshot sent, without its `at` (which changes every time).
    last: Option<LiveSnapshot>,
}

impl Feed {
    /// The next changed snapshot, or `None` when the stream should end.
    async fn next(&mut self) -> Option<LiveSnapshot> {
        loop {
            tokio::select! {
                _ = self.stop.cancelled() => return None,
                _ = self.tick.tick() => {}
            }
            let snap = tokio::select! {
                _ = self.stop.cancelled() => return None,
                s = self.live.snapshot() => s.ok()?,
            };
            let key = LiveSnapshot {
                at: String::new(),
                ..snap.clone()
            };
            if self.last.as_ref() != Some(&key) {
                self.last = Some(key);
                return Some(snap);
            }
        }
    }
}

pub async fn stream(
    Auth(_): Auth<{ level::SUPERVISOR }>,
    State(ctx): State<WebContext>,
    Extension(Shutdown(stop)): Extension<Shutdown>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    // Fail with a status while we still can: once the stream starts it is 200.
    ctx.live.snapshot().await?;
    let mut tick = interval(POLL);
    tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let feed = Feed {
        live: ctx.live.clone(),
        stop,
        tick,
        last: None,
    };
    let events = futures_util::stream::unfold(feed, |mut feed| async move {
        let snap = feed.next().await?;
        let event = Event::default().event("snapshot").json_data(&snap).ok()?;
        Some((Ok(event), feed))
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}

#[derive(Deserialize)]
struct PauseBody {
    reason: Option<String>,
}

pub async fn pause(
    Auth(who): Auth<{ level::SUPERVISOR }>,
    State(ctx): State<WebContext>,
    remote: Remote,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let id = id.as_str();
    let reason = if body.is_empty() {
        None
    } else {
        json_body::<PauseBody>(&body)?.reason
    };
    let reason = reason
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| "supervisor".to_owned());
    if reason.chars().count() > MAX_REASON || reason.chars().any(char::is_control) {
        return Err(ApiError::bad("reason", "up to 200 printable characters"));
    }
    ctx.live.pause(id, &reason).await?;
    audit_command(
        &ctx,
        who.username,
        remote,
        "operator_pause",
        id,
        Some(reason),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn resume(
    Auth(who): Auth<{ level::SUPERVISOR }>,
    State(ctx): State<WebContext>,
    remote: Remote,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = id.as_str();
    ctx.live.resume(id).await?;
    audit_command(&ctx, who.username, remote, "operator_resume", id, None).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn audit_command(
    ctx: &WebContext,
    username: String,
    remote: Remote,
    action: &str,
    operator: &str,
    reason: Option<String>,
) -> Result<(), ApiError> {
    let detail = match reason {
        Some(r) => format!("operator={operator} reason={r}"),
        None => format!("operator={operator}"),
    };
    ctx.store
        .audit(&AuditEntry {
            at: format_time(jiff::Timestamp::now()),
            username: Some(username),
            action: action.into(),
            call_id: None,
            remote: remote.text(),
            detail: Some(detail),
        })
        .await?;
    Ok(())
}
