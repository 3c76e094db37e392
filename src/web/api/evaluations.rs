//! Grading calls: `POST /api/calls/{id}/evaluations` (a grader fills a form → `{"id",
//! "score"}`), `GET /api/evaluations?operator=&from=&to=&status=&grader=&call=`,
//! `GET /api/evaluations/{id}`, the operator's answer `POST /api/evaluations/{id}/response`
//! (`{"status": "acknowledged"|"disputed", "comment"}`) and the grader's answer to a
//! dispute `POST /api/evaluations/{id}/resolution` (`{"reply"}`).
//!
//! The score is computed here by the model's scoring function, never taken from the
//! client. Operators see only the evaluations of their own calls (`scope.rs`).

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::calls::find;
use super::error::ApiError;
use super::forms::{find_form, form_id};
use super::params::{json_body, Params};
use super::scope::{may_see, own_operator, visible};
use crate::model::quality::{score, Answers, FormDefinition};
use crate::model::{format_time, is_call_id};
use crate::store::{EvaluationFilter, EvaluationRecord, NewEvaluation, Role};
use crate::web::auth::{level, Auth};
use crate::web::WebContext;

/// Comments per evaluation and characters per comment, so a grading stays readable.
const MAX_COMMENTS: usize = 100;
const MAX_TEXT: usize = 2000;

/// One comment: general (`at_ms` absent) or tied to a moment of the recording.
#[derive(Debug, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
struct Comment {
    #[serde(default)]
    at_ms: Option<i64>,
    text: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewBody {
    form: i64,
    answers: Answers,
    #[serde(default)]
    comments: Vec<Comment>,
}

/// The operator's display name from the configuration.
pub fn operator_name(ctx: &WebContext, id: Option<&str>) -> Option<String> {
    let id = id?;
    ctx.config
        .operators
        .iter()
        .find(|o| o.id == id)
        .map(|o| o.name.clone())
}

/// An evaluation as the API shows it.
pub fn evaluation_json(ctx: &WebContext, e: &EvaluationRecord) -> Value {
    let parse = |text: &str| serde_json::from_str::<Value>(text).unwrap_or(Value::Null);
    json!({
        "id": e.id,
        "call_id": e.call_id,
        "form": e.form_id,
        "grader": e.grader,
        "operator_id": e.operator_id,
        "operator_name": operator_name(ctx, e.operator_id.as_deref()),
        "created_at": e.created_at,
        "score": e.score_x10 as f64 / 10.0,
        "answers": parse(&e.answers),
        "comments": parse(&e.comments),
        "status": e.status,
        "operator_comment": e.operator_comment,
        "grader_reply": e.grader_reply,
        "updated_at": e.updated_at,
    })
}

fn check_text(param: &'static str, text: &str) -> Result<(), ApiError> {
    if text.trim().is_empty() || text.chars().count() > MAX_TEXT {
        return Err(ApiError::bad(
            param,
            format!("expected 1 to {MAX_TEXT} characters"),
        ));
    }
    Ok(())
}

pub async fn create(
    Auth(who): Auth<{ level::QA }>,
    State(ctx): State<WebContext>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let call = find(&ctx, &id).await?;
    let body: NewBody = json_body(&body)?;
    let form = find_form(&ctx, body.form).await?;
    let definition: FormDefinition = serde_json::from_str(&form.definition)
        .map_err(|_| ApiError::BadBody("the form's stored definition is unreadable".into()))?;
    let score = score(&definition, &body.answers).map_err(|e| ApiError::BadBody(e.to_string()))?;
    if body.comments.len() > MAX_COMMENTS {
        return Err(ApiError::bad("comments", format!("at most {MAX_COMMENTS}")));
    }
    for c in &body.comments {
        check_text("comments", &c.text)?;
        let limit = call.recording_ms.unwrap_or(i64::MAX);
        if c.at_ms.is_some_and(|at| at < 0 || at > limit) {
            return Err(ApiError::bad(
                "comments",
                "at_ms must be a moment of the recording",
            ));
        }
    }
    let now = format_time(jiff::Timestamp::now());
    let id = ctx
        .store
        .add_evaluation(&NewEvaluation {
            call_id: call.id.clone(),
            form_id: form.id,
            grader: who.username,
            operator_id: call.operator_id.clone(),
            created_at: now,
            score_x10: (score * 10.0).round() as i64,
            answers: serde_json::to_string(&body.answers).expect("answers serialize"),
            comments: serde_json::to_string(&body.comments).expect("comments serialize"),
        })
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "id": id, "score": score })),
    )
        .into_response())
}

pub async fn list(
    Auth(who): Auth<{ level::OPERATOR }>,
    State(ctx): State<WebContext>,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Json<Value>, ApiError> {
    let params = Params::new(query);
    let zone = ctx.config.hours.calendar.zone();
    let (limit, _) = params.page()?;
    let status = params.get("status").map(str::to_owned);
    if status
        .as_deref()
        .is_some_and(|s| !matches!(s, "graded" | "acknowledged" | "disputed" | "resolved"))
    {
        return Err(ApiError::bad(
            "status",
            "graded, acknowledged, disputed or resolved",
        ));
    }
    let call_id = params.get("call").map(str::to_owned);
    if call_id.as_deref().is_some_and(|c| !is_call_id(c)) {
        return Err(ApiError::bad("call", "not a call id"));
    }
    // An operator's list is theirs whatever they ask for.
    let operator = match own_operator(&who)? {
        Some(own) => Some(own.to_owned()),
        None => params.get("operator").map(str::to_owned),
    };
    let filter = EvaluationFilter {
        operator,
        from: params.instant("from", zone)?.map(format_time),
        to: params.instant("to", zone)?.map(format_time),
        grader: params.get("grader").map(str::to_owned),
        status,
        call_id,
        limit,
    };
    let found = ctx.store.evaluations(&filter).await?;
    Ok(Json(json!({
        "evaluations": found.iter().map(|e| evaluation_json(&ctx, e)).collect::<Vec<_>>(),
    })))
}

/// The evaluation with this path id, if the principal may see it.
async fn find_visible(
    ctx: &WebContext,
    who: &crate::store::Principal,
    id: &str,
) -> Result<EvaluationRecord, ApiError> {
    let id = form_id(id).map_err(|_| ApiError::NotFound("evaluation"))?;
    let e = ctx
        .store
        .evaluation(id)
        .await?
        .ok_or(ApiError::NotFound("evaluation"))?;
    if !may_see(who, e.operator_id.as_deref())? {
        return Err(ApiError::NotFound("evaluation"));
    }
    Ok(e)
}

/// One evaluation with its form (the version it was graded on) and the call.
pub async fn one(
    Auth(who): Auth<{ level::OPERATOR }>,
    State(ctx): State<WebContext>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let e = find_visible(&ctx, &who, &id).await?;
    let mut body = evaluation_json(&ctx, &e);
    let form = find_form(&ctx, e.form_id).await?;
    body["form_detail"] = super::forms::form_json(&form);
    let call = visible(&who, find(&ctx, &e.call_id).await?)?;
    body["call"] = super::calls::call_json(&call);
    Ok(Json(body))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OperatorAnswer {
    status: String,
    #[serde(default)]
    comment: String,
}

/// The operator acknowledges or disputes their evaluation (once).
pub async fn respond(
    Auth(who): Auth<{ level::OPERATOR }>,
    State(ctx): State<WebContext>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    if who.role != Role::Operator {
        return Err(ApiError::Forbidden);
    }
    let e = find_visible(&ctx, &who, &id).await?;
    let answer: OperatorAnswer = json_body(&body)?;
    match answer.status.as_str() {
        "acknowledged" => {}
        "disputed" => check_text("comment", &answer.comment)?,
        _ => return Err(ApiError::bad("status", "acknowledged or disputed")),
    }
    if answer.comment.chars().count() > MAX_TEXT {
        return Err(ApiError::bad("comment", "too long"));
    }
    let now = format_time(jiff::Timestamp::now());
    if !ctx
        .store
        .respond_to_evaluation(e.id, &answer.status, &answer.comment, &now)
        .await?
    {
        return Err(ApiError::Refused(format!(
            "evaluation {} is {}, not waiting for your answer",
            e.id, e.status
        )));
    }
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Resolution {
    reply: String,
}

/// The grader's answer to a dispute (a regrade is a new evaluation of the call, then this).
pub async fn resolve(
    Auth(who): Auth<{ level::QA }>,
    State(ctx): State<WebContext>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let e = find_visible(&ctx, &who, &id).await?;
    let answer: Resolution = json_body(&body)?;
    check_text("reply", &answer.reply)?;
    let now = format_time(jiff::Timestamp::now());
    if !ctx.store.resolve_dispute(e.id, &answer.reply, &now).await? {
        return Err(ApiError::Refused(format!(
            "evaluation {} is {}, not disputed",
            e.id, e.status
        )));
    }
    Ok(StatusCode::NO_CONTENT)
}
