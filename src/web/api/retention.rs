//! `PUT /api/calls/{id}/legal-hold` (`{"reason": "…"}`) and `DELETE` of it: an admin puts
//! a call under legal hold, which exempts its recording from the retention purge, or lifts
//! it. Both are audited (`legal_hold_set`, `legal_hold_cleared`). And what the call page
//! shows about retention: the hold and a purged recording.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{json, Value};

use super::error::ApiError;
use super::params::{json_body, Remote};
use crate::model::{format_time, is_call_id, CallRecord};
use crate::store::{AuditEntry, LegalHold};
use crate::web::auth::{level, Auth};
use crate::web::WebContext;

/// Longest reason kept.
const MAX_REASON: usize = 500;

/// Adds `recording_purged_at` and `legal_hold` to a call's JSON; a purged recording has
/// no `recording_url`.
pub async fn add_retention(
    ctx: &WebContext,
    call: &CallRecord,
    body: &mut Value,
) -> Result<(), ApiError> {
    let purged = ctx.store.recording_purged_at(&call.id).await?;
    if purged.is_some() {
        body["recording_url"] = Value::Null;
    }
    body["recording_purged_at"] = json!(purged);
    body["legal_hold"] = match ctx.store.legal_hold(&call.id).await? {
        Some(h) => json!({ "reason": h.reason, "set_by": h.set_by, "set_at": h.set_at }),
        None => Value::Null,
    };
    Ok(())
}

pub async fn set(
    Auth(who): Auth<{ level::ADMIN }>,
    State(ctx): State<WebContext>,
    remote: Remote,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    if !is_call_id(&id) {
        return Err(ApiError::NotFound("call"));
    }
    let body: Value = json_body(&body)?;
    let reason = match body.get("reason") {
        Some(Value::String(r)) if !r.trim().is_empty() && r.len() <= MAX_REASON => r.trim(),
        _ => {
            return Err(ApiError::bad(
                "reason",
                format!("expected a non-empty text of at most {MAX_REASON} bytes"),
            ))
        }
    };
    let at = format_time(jiff::Timestamp::now());
    let hold = LegalHold {
        call_id: id.clone(),
        reason: reason.to_owned(),
        set_by: who.username.clone(),
        set_at: at.clone(),
    };
    if !ctx.store.set_legal_hold(&hold).await? {
        return Err(ApiError::NotFound("call"));
    }
    ctx.store
        .audit(&AuditEntry {
            at,
            username: Some(who.username),
            action: "legal_hold_set".into(),
            call_id: Some(id),
            remote: remote.text(),
            detail: Some(reason.to_owned()),
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn clear(
    Auth(who): Auth<{ level::ADMIN }>,
    State(ctx): State<WebContext>,
    remote: Remote,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    if !is_call_id(&id) || !ctx.store.clear_legal_hold(&id).await? {
        return Err(ApiError::NotFound("legal hold"));
    }
    ctx.store
        .audit(&AuditEntry {
            at: format_time(jiff::Timestamp::now()),
            username: Some(who.username),
            action: "legal_hold_cleared".into(),
            call_id: Some(id),
            remote: remote.text(),
            detail: None,
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
