//! `GET/POST /api/forms`, `GET/PUT /api/forms/{id}`: evaluation forms. Their validation
//! is the model's (`model::quality`); editing a form already used by evaluations makes a
//! new version (the store decides), so the answer of a `PUT` names the id that holds it.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::ApiError;
use super::params::json_body;
use crate::model::format_time;
use crate::model::quality::{validate_form, FormDefinition};
use crate::store::FormRecord;
use crate::web::auth::{level, Auth};
use crate::web::WebContext;

/// A form as the API shows it: its id, family, version, name and groups.
pub fn form_json(f: &FormRecord) -> Value {
    let definition: Value = serde_json::from_str(&f.definition).unwrap_or(Value::Null);
    json!({
        "id": f.id,
        "family": f.family,
        "version": f.version,
        "name": f.name,
        "groups": definition.get("groups").cloned().unwrap_or(Value::Array(vec![])),
        "created_at": f.created_at,
        "created_by": f.created_by,
    })
}

/// The body of `POST /api/forms` and `PUT /api/forms/{id}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FormBody {
    name: String,
    #[serde(flatten)]
    definition: FormDefinition,
}

fn read_form(body: &Bytes) -> Result<(String, String), ApiError> {
    let form: FormBody = json_body(body)?;
    validate_form(&form.name, &form.definition).map_err(|e| ApiError::BadBody(e.to_string()))?;
    let definition = serde_json::to_string(&form.definition).expect("a form definition serializes");
    Ok((form.name.trim().to_owned(), definition))
}

/// A form id from the path, or 404 for anything that is not one.
pub fn form_id(id: &str) -> Result<i64, ApiError> {
    id.parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or(ApiError::NotFound("form"))
}

/// The form version with this id (for graders: any version, so past evaluations read).
pub async fn find_form(ctx: &WebContext, id: i64) -> Result<FormRecord, ApiError> {
    ctx.store.form(id).await?.ok_or(ApiError::NotFound("form"))
}

pub async fn list(
    Auth(_): Auth<{ level::QA }>,
    State(ctx): State<WebContext>,
) -> Result<Json<Value>, ApiError> {
    let forms = ctx.store.forms().await?;
    Ok(Json(
        json!({ "forms": forms.iter().map(form_json).collect::<Vec<_>>() }),
    ))
}

pub async fn create(
    Auth(who): Auth<{ level::QA }>,
    State(ctx): State<WebContext>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let (name, definition) = read_form(&body)?;
    let now = format_time(jiff::Timestamp::now());
    let id = ctx
        .store
        .add_form(&name, &definition, &now, &who.username)
        .await?;
    let form = find_form(&ctx, id).await?;
    Ok((StatusCode::CREATED, Json(form_json(&form))).into_response())
}

/// Any operator may read a form (to understand the evaluation they got).
pub async fn one(
    Auth(_): Auth<{ level::OPERATOR }>,
    State(ctx): State<WebContext>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let form = find_form(&ctx, form_id(&id)?).await?;
    Ok(Json(form_json(&form)))
}

pub async fn update(
    Auth(who): Auth<{ level::QA }>,
    State(ctx): State<WebContext>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let id = form_id(&id)?;
    let (name, definition) = read_form(&body)?;
    let now = format_time(jiff::Timestamp::now());
    let new = ctx
        .store
        .update_form(id, &name, &definition, &now, &who.username)
        .await?
        .ok_or(ApiError::NotFound("form"))?;
    let form = find_form(&ctx, new).await?;
    Ok(Json(form_json(&form)))
}
