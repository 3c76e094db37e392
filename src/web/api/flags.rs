//! `POST /api/calls/{id}/flags` (`{"flag": "manual", "detail": "..."}`: a QA person flags
//! a call by hand) and `GET /api/calls/{id}/flags`. Flags feed the sampling rule "every
//! flagged call"; automatic kinds are written through the same store function.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::calls::find;
use super::error::ApiError;
use super::params::json_body;
use crate::model::format_time;
use crate::store::FlagRecord;
use crate::web::auth::{level, Auth};
use crate::web::WebContext;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewFlag {
    #[serde(default = "manual")]
    flag: String,
    #[serde(default)]
    detail: Option<String>,
}

fn manual() -> String {
    "manual".into()
}

fn flag_json(f: &FlagRecord) -> Value {
    json!({"call_id": f.call_id, "flag": f.flag, "detail": f.detail, "created_at": f.created_at})
}

pub async fn create(
    Auth(_): Auth<{ level::QA }>,
    State(ctx): State<WebContext>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let call = find(&ctx, &id).await?;
    let new: NewFlag = json_body(&body)?;
    // By hand only `manual`: the automatic kinds are the audio metrics' to set.
    if new.flag != "manual" {
        return Err(ApiError::bad("flag", "only `manual` flags are set by hand"));
    }
    if new.detail.as_ref().is_some_and(|d| d.chars().count() > 500) {
        return Err(ApiError::bad("detail", "at most 500 characters"));
    }
    let flag = FlagRecord {
        call_id: call.id,
        flag: new.flag,
        detail: new.detail,
        created_at: format_time(jiff::Timestamp::now()),
    };
    let added = ctx.store.add_call_flag(&flag).await?;
    let status = if added {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(flag_json(&flag))).into_response())
}

pub async fn list(
    Auth(_): Auth<{ level::QA }>,
    State(ctx): State<WebContext>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let call = find(&ctx, &id).await?;
    let flags = ctx.store.call_flags(Some(&call.id)).await?;
    Ok(Json(
        json!({ "flags": flags.iter().map(flag_json).collect::<Vec<_>>() }),
    ))
}
