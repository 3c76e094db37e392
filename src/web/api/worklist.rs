//! `GET /api/worklist`, `GET /api/worklist/{id}`, `PATCH /api/worklist/{id}` and
//! `POST /api/worklist/{id}/callback`: the missed-calls worklist as the console works it.
//!
//! Every read first gathers the missed calls the register holds that are not on the list
//! yet (`Store::sync_worklist`); syncs run one at a time (a process-wide lock), so two
//! readers never create the same item. "Today" for `calls_today` is the business
//! calendar's day (`hours.timezone`).

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};
use tokio::sync::Mutex;

use super::error::ApiError;
use super::params::{json_body, Params, Remote};
use crate::model::callback::{CallBackRefused, CallBackRequest};
use crate::model::format_time;
use crate::store::{AuditEntry, WorklistDetail, WorklistItem, WORKLIST_STATES};
use crate::web::auth::{level, Auth};
use crate::web::WebContext;

/// One sync at a time.
static SYNC: Mutex<()> = Mutex::const_new(());

/// The most items one list returns.
const MAX_ITEMS: u32 = 500;

fn item_json(i: &WorklistItem) -> Value {
    json!({
        "id": i.id,
        "number": i.number,
        "state": i.state,
        "first_at": i.first_at,
        "last_at": i.last_at,
        "waited_ms": i.longest_wait_ms,
        "missed_calls": i.missed_calls,
        "calls_today": i.calls_today,
        "worked_by": i.worked_by,
        "updated_at": i.updated_at,
    })
}

fn detail_json(d: &WorklistDetail) -> Value {
    let mut body = item_json(&d.item);
    body["calls"] = d
        .calls
        .iter()
        .map(|(id, role)| json!({ "call_id": id, "role": role }))
        .collect();
    body["history"] = d
        .history
        .iter()
        .map(|e| {
            json!({ "at": e.at, "actor": e.actor, "action": e.action, "state": e.state, "detail": e.detail })
        })
        .collect();
    body
}

/// The start of today in the line's zone, as register text.
fn today_from(ctx: &WebContext, now: jiff::Timestamp) -> String {
    let zone = ctx.config.hours.calendar.zone();
    let start = now
        .to_zoned(zone.clone())
        .start_of_day()
        .map(|z| z.timestamp())
        .unwrap_or(now);
    format_time(start)
}

async fn sync(ctx: &WebContext, now: jiff::Timestamp) -> Result<(), ApiError> {
    let _one = SYNC.lock().await;
    ctx.store.sync_worklist(&format_time(now)).await?;
    Ok(())
}

fn parse_id(id: &str) -> Result<i64, ApiError> {
    id.parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or(ApiError::NotFound("worklist item"))
}

pub async fn list(
    Auth(_): Auth<{ level::QA }>,
    State(ctx): State<WebContext>,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Json<Value>, ApiError> {
    let params = Params::new(query);
    let state = params.get("state");
    if let Some(s) = state {
        if !WORKLIST_STATES.contains(&s) {
            return Err(ApiError::bad(
                "state",
                "one of new, in_progress, called_back, unreachable, closed",
            ));
        }
    }
    let now = jiff::Timestamp::now();
    sync(&ctx, now).await?;
    let items = ctx
        .store
        .worklist(state, &today_from(&ctx, now), MAX_ITEMS)
        .await?;
    Ok(Json(
        json!({ "items": items.iter().map(item_json).collect::<Vec<_>>() }),
    ))
}

pub async fn one(
    Auth(_): Auth<{ level::QA }>,
    State(ctx): State<WebContext>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = parse_id(&id)?;
    let now = jiff::Timestamp::now();
    sync(&ctx, now).await?;
    let detail = ctx
        .store
        .worklist_item(id, &today_from(&ctx, now))
        .await?
        .ok_or(ApiError::NotFound("worklist item"))?;
    Ok(Json(detail_json(&detail)))
}

/// `{"state": "closed", "note": "…"}`: the item's new state, worked by the caller.
pub async fn update(
    Auth(who): Auth<{ level::QA }>,
    State(ctx): State<WebContext>,
    remote: Remote,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let id = parse_id(&id)?;
    let body: Value = json_body(&body)?;
    let state = match body.get("state") {
        Some(Value::String(s)) if WORKLIST_STATES.contains(&s.as_str()) => s.clone(),
        _ => {
            return Err(ApiError::bad(
                "state",
                "one of new, in_progress, called_back, unreachable, closed",
            ))
        }
    };
    let note = match body.get("note") {
        None | Some(Value::Null) => None,
        Some(Value::String(n)) if n.chars().count() <= 500 => Some(n.clone()),
        Some(_) => return Err(ApiError::bad("note", "text of at most 500 characters")),
    };
    let now = jiff::Timestamp::now();
    let at = format_time(now);
    if !ctx
        .store
        .set_worklist_state(id, &state, &who.username, &at, note.as_deref())
        .await?
    {
        return Err(ApiError::NotFound("worklist item"));
    }
    ctx.store
        .audit(&AuditEntry {
            at: at.clone(),
            username: Some(who.username),
            action: "worklist_state".into(),
            call_id: None,
            remote: remote.text(),
            detail: Some(format!("item {id}: {state}")),
        })
        .await?;
    let detail = ctx
        .store
        .worklist_item(id, &today_from(&ctx, now))
        .await?
        .ok_or(ApiError::NotFound("worklist item"))?;
    Ok(Json(detail_json(&detail)))
}

/// The most recent missed calls of an item read for a topic.
const TOPIC_LOOKUPS: usize = 5;

/// The topic of the item's latest missed call that has one (the live board shows it with
/// the call-back), looking at its last few missed calls only.
async fn missed_topic(
    ctx: &WebContext,
    calls: &[(String, String)],
) -> Result<Option<String>, ApiError> {
    let missed = calls.iter().rev().filter(|(_, role)| role == "missed");
    for (call_id, _) in missed.take(TOPIC_LOOKUPS) {
        if let Some(topic) = ctx.store.call(call_id).await?.and_then(|c| c.topic) {
            return Ok(Some(topic));
        }
    }
    Ok(None)
}

/// `{"operator": "101"}`: ring that operator, then call the item's own number back
/// through the provider (no other number can be given: the trunk is nobody's way out).
/// 202 with the outbound call's id; 409 when the operator is not registered or not free
/// or the item is settled; 503 when there is no provider registered to call through.
pub async fn callback(
    Auth(who): Auth<{ level::QA }>,
    State(ctx): State<WebContext>,
    remote: Remote,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let id = parse_id(&id)?;
    let body: Value = json_body(&body)?;
    let operator = match body.get("operator") {
        Some(Value::String(o)) => o.clone(),
        _ => return Err(ApiError::bad("operator", "the operator's id, e.g. \"101\"")),
    };
    if !ctx.config.operators.iter().any(|o| o.id == operator) {
        return Err(ApiError::NotFound("operator"));
    }
    let now = jiff::Timestamp::now();
    let item = ctx
        .store
        .worklist_item(id, &today_from(&ctx, now))
        .await?
        .ok_or(ApiError::NotFound("worklist item"))?;
    if item.item.state == "closed" || item.item.state == "called_back" {
        return Err(ApiError::Refused(format!(
            "item {id} is {}; set it back to new to call again",
            item.item.state
        )));
    }
    if ctx.config.trunk.provider.is_none() {
        return Err(ApiError::NoProvider(
            "no provider is configured ([trunk.provider]): nothing to call back through".into(),
        ));
    }
    let request = CallBackRequest {
        item: id,
        number: item.item.number.clone(),
        operator: operator.clone(),
        requested_by: who.username.clone(),
        topic: missed_topic(&ctx, &item.calls).await?,
    };
    let call_id = match ctx.live.call_back(request).await {
        Err(_) => return Err(ApiError::Unavailable),
        Ok(Err(CallBackRefused::NoProvider)) => {
            return Err(ApiError::NoProvider(
                "not registered with the provider: call-backs wait until it is".into(),
            ))
        }
        Ok(Err(CallBackRefused::ShuttingDown)) => return Err(ApiError::Unavailable),
        Ok(Err(CallBackRefused::UnknownOperator(_))) => return Err(ApiError::NotFound("operator")),
        Ok(Err(refused)) => return Err(ApiError::Refused(refused.to_string())),
        Ok(Ok(call_id)) => call_id,
    };
    ctx.store
        .audit(&AuditEntry {
            at: format_time(now),
            username: Some(who.username),
            action: "worklist_callback".into(),
            call_id: Some(call_id.clone()),
            remote: remote.text(),
            detail: Some(format!("item {id} through operator {operator}")),
        })
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "call_id": call_id, "item": id, "operator": operator })),
    ))
}
