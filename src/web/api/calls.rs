//! `GET /api/calls`, `GET /api/calls/{id}`, `PUT /api/calls/{id}/topic`: the register as
//! QA searches and annotates it (one call's course is put together in `timeline.rs`).
//!
//! Invariant: a path id is used only after `is_call_id` accepts it, so nothing that looks
//! like a path ever reaches the store or the file system.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use super::error::ApiError;
use super::params::{is_topic, json_body, Params, Remote};
use super::timeline;
use crate::model::is_call_id;
use crate::model::{format_time, CallDirection, CallRecord, Outcome};
use crate::store::{AuditEntry, CallFilter, TopicFilter};
use crate::web::auth::{level, Auth};
use crate::web::WebContext;

/// A call as the API shows it: every register column, and where its recording is.
pub fn call_json(c: &CallRecord) -> Value {
    json!({
        "id": c.id,
        "sip_call_id": c.sip_call_id,
        "caller": c.caller,
        "dialed": c.dialed,
        "source": c.source,
        "received_at": c.received_at,
        "answered_at": c.answered_at,
        "queued_at": c.queued_at,
        "connected_at": c.connected_at,
        "ended_at": c.ended_at,
        "operator_id": c.operator_id,
        "wait_ms": c.wait_ms,
        "talk_ms": c.talk_ms,
        "outcome": c.outcome,
        "hangup_by": c.hangup_by,
        "final_status": c.final_status,
        "end_reason": c.end_reason,
        "recording_path": c.recording_path,
        "recording_ms": c.recording_ms,
        "recording_bytes": c.recording_bytes,
        "recording_sha256": c.recording_sha256,
        "recording_error": c.recording_error,
        "notice_played_at": c.notice_played_at,
        "notice_completed": c.notice_completed,
        "topic": c.topic,
        "direction": c.direction,
        "recording_url": c.recording_path.as_ref().map(|_| format!("/api/calls/{}/recording", c.id)),
    })
}

/// The search the query string asks for.
fn filter(params: &Params, ctx: &WebContext) -> Result<CallFilter, ApiError> {
    let zone = ctx.config.hours.calendar.zone();
    let (limit, offset) = params.page()?;
    let caller = params.get("caller").map(str::to_owned);
    if let Some(c) = &caller {
        if c.len() > 32 || !c.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ApiError::bad("caller", "expected up to 32 digits"));
        }
    }
    let operator = params.get("operator").map(str::to_owned);
    if operator.as_ref().is_some_and(|o| o.len() > 64) {
        return Err(ApiError::bad("operator", "too long"));
    }
    let outcome = params.get("outcome").map(str::to_owned);
    if outcome
        .as_deref()
        .is_some_and(|o| Outcome::parse(o).is_none())
    {
        return Err(ApiError::bad("outcome", "unknown outcome"));
    }
    let direction = params.get("direction").map(str::to_owned);
    if direction
        .as_deref()
        .is_some_and(|d| CallDirection::parse(d).is_none())
    {
        return Err(ApiError::bad("direction", "expected inbound or outbound"));
    }
    let topic = match params.get("topic") {
        None => None,
        Some("none") => Some(TopicFilter::Unset),
        Some(t) if is_topic(t) => Some(TopicFilter::Is(t.to_owned())),
        Some(_) => return Err(ApiError::bad("topic", "unknown topic")),
    };
    let min_talk_ms = params
        .get("min_duration_ms")
        .map(|v| {
            v.parse::<i64>()
                .ok()
                .filter(|n| *n >= 0)
                .ok_or_else(|| ApiError::bad("min_duration_ms", "expected a non-negative integer"))
        })
        .transpose()?;
    Ok(CallFilter {
        from: params.instant("from", zone)?.map(format_time),
        to: params.instant("to", zone)?.map(format_time),
        caller,
        operator,
        outcome,
        direction,
        topic,
        min_talk_ms,
        audio: super::audio::audio_filter(params)?,
        limit,
        offset,
    })
}

pub async fn list(
    Auth(who): Auth<{ level::OPERATOR }>,
    State(ctx): State<WebContext>,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Json<Value>, ApiError> {
    let mut filter = filter(&Params::new(query), &ctx)?;
    // An operator's search is of their own calls, whatever it asks for.
    if let Some(own) = super::scope::own_operator(&who)? {
        filter.operator = Some(own.to_owned());
    }
    let (calls, total) = ctx.store.search_calls(&filter).await?;
    let calls: Vec<Value> = calls
        .iter()
        .map(|c| with_operator_name(call_json(c), &ctx))
        .collect();
    Ok(Json(json!({
        "calls": calls,
        "total": total,
    })))
}

/// Adds `operator_name`: the name `[[operators]]` gives the call's operator (null when the
/// operator has none, or is no longer configured), so people read names, not extensions.
fn with_operator_name(mut body: Value, ctx: &WebContext) -> Value {
    let name = body["operator_id"].as_str().and_then(|id| {
        ctx.config
            .operators
            .iter()
            .find(|o| o.id == id && !o.name.is_empty())
            .map(|o| o.name.clone())
    });
    body["operator_name"] = json!(name);
    body
}

/// The row for a path id, or 404 (also for ids that are not ids at all).
pub async fn find(ctx: &WebContext, id: &str) -> Result<CallRecord, ApiError> {
    if !is_call_id(id) {
        return Err(ApiError::NotFound("call"));
    }
    ctx.store.call(id).await?.ok_or(ApiError::NotFound("call"))
}

pub async fn one(
    Auth(who): Auth<{ level::OPERATOR }>,
    State(ctx): State<WebContext>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let call = super::scope::visible(&who, find(&ctx, &id).await?)?;
    let rings = ctx.store.rings(&call.id).await?;
    let events = ctx.store.call_events(&call.id).await?;
    let mut body = with_operator_name(call_json(&call), &ctx);
    body["rings"] = rings
        .iter()
        .map(|r| {
            json!({
                "operator_id": r.operator_id,
                "started_at": r.started_at,
                "ended_at": r.ended_at,
                "result": r.result,
            })
        })
        .collect();
    body["events"] = Value::Array(timeline::events_json(&events));
    body["holds"] = Value::Array(timeline::holds(&events, call.ended_at.as_deref()));
    body["timeline"] = Value::Array(timeline::timeline(&call, &events));
    body["audio"] = super::audio::audio_json(ctx.store.audio(&call.id).await?.as_ref());
    body["readings"] = ctx
        .store
        .call_readings(&call.id)
        .await?
        .iter()
        .map(super::readings::as_json)
        .collect();
    super::retention::add_retention(&ctx, &call, &mut body).await?;
    Ok(Json(body))
}

pub async fn set_topic(
    Auth(who): Auth<{ level::QA }>,
    State(ctx): State<WebContext>,
    remote: Remote,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    if !is_call_id(&id) {
        return Err(ApiError::NotFound("call"));
    }
    let body: Value = json_body(&body)?;
    let topic = match body.get("topic") {
        Some(Value::Null) => None,
        Some(Value::String(t)) if is_topic(t) => Some(t.as_str()),
        Some(_) => return Err(ApiError::bad("topic", "unknown topic")),
        None => return Err(ApiError::bad("topic", "missing (use null to clear)")),
    };
    if !ctx.store.set_topic(&id, topic).await? {
        return Err(ApiError::NotFound("call"));
    }
    ctx.store
        .audit(&AuditEntry {
            at: format_time(jiff::Timestamp::now()),
            username: Some(who.username),
            action: "topic_set".into(),
            call_id: Some(id),
            remote: remote.text(),
            detail: Some(topic.unwrap_or("none").to_owned()),
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> CallRecord {
        CallRecord {
            id: "20261124T152147Z-K7Q3M9XA".into(),
            sip_call_id: "abc@trunk".into(),
            caller: "79110000001".into(),
            dialed: "792112".into(),
            source: "udp:127.0.0.1:5060".into(),
            received_at: "2026-11-24T15:21:47.000Z".into(),
            answered_at: Some("2026-11-24T15:21:47.100Z".into()),
            queued_at: Some("2026-11-24T15:21:55.000Z".into()),
            connected_at: Some("2026-11-24T15:22:05.000Z".into()),
            ended_at: Some("2026-11-24T15:25:05.000Z".into()),
            operator_id: Some("101".into()),
            wait_ms: Some(10_000),
            talk_ms: Some(180_000),
            outcome: "answered".into(),
            hangup_by: Some("caller".into()),
            final_status: Some(200),
            end_reason: Some("caller_bye".into()),
            recording_path: Some("2026/11/24/20261124T152147Z-K7Q3M9XA.wav".into()),
            recording_ms: Some(180_000),
            recording_bytes: Some(5_760_044),
            recording_sha256: Some("00".repeat(32)),
            recording_error: None,
            notice_played_at: Some("2026-11-24T15:21:48.000Z".into()),
            notice_completed: Some(true),
            topic: None,
            direction: "outbound".into(),
        }
    }

    #[test]
    fn every_register_column_is_shown_with_the_recording_url() {
        let v = call_json(&record());
        assert_eq!(v.as_object().unwrap().len(), 27);
        assert_eq!(v["direction"], "outbound");
        assert_eq!(
            v["recording_url"],
            "/api/calls/20261124T152147Z-K7Q3M9XA/recording"
        );
        let mut c = record();
        c.recording_path = None;
        assert_eq!(call_json(&c)["recording_url"], Value::Null);
    }
}
