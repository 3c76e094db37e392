//! `GET /api/subscribers/{account}`: an account's meters as billing exported them, so the
//! console's reading form offers the meters the caller can read out (and their last
//! reading, below which a new one is refused).

use axum::extract::{Path, State};
use axum::Json;
use serde_json::{json, Value};

use super::error::ApiError;
use crate::web::auth::{level, Auth};
use crate::web::WebContext;

/// Longer than any account billing exports (16 digits): not worth a query.
const MAX_ACCOUNT_LEN: usize = 64;

pub async fn one(
    Auth(_): Auth<{ level::OPERATOR }>,
    State(ctx): State<WebContext>,
    Path(account): Path<String>,
) -> Result<Json<Value>, ApiError> {
    if account.is_empty() || account.len() > MAX_ACCOUNT_LEN {
        return Err(ApiError::NotFound("account"));
    }
    let meters = ctx.store.meters_of(&account).await?;
    // Every imported account has at least one meter: none means no such account.
    if meters.is_empty() {
        return Err(ApiError::NotFound("account"));
    }
    let meters: Vec<Value> = meters
        .iter()
        .map(|m| json!({ "meter": m.meter, "kind": m.kind.as_str(), "last_reading": m.last_reading }))
        .collect();
    Ok(Json(json!({ "account": account, "meters": meters })))
}
