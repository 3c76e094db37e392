//! `GET /api/reports/quality?from=&to=&operator=&format=json|csv` (average score per
//! operator, per form group and per question, the weekly trend, evaluations and calls
//! graded) and `GET /api/reports/quality/calibration?from=&to=` (calls graded by several
//! graders and their spread: min, max, standard deviation). The figures are the model's
//! (`model::quality::summarize`, `calibration`); the period is when calls were graded,
//! `to` exclusive, dates in the line's zone (default: the last 28 days).

use std::collections::BTreeMap;

use axum::extract::{Query, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use jiff::ToSpan;
use serde_json::{json, Value};

use super::error::ApiError;
use super::evaluations::operator_name;
use super::params::Params;
use crate::model::format_time;
use crate::model::quality::{calibration, summarize, Answers, FormDefinition, Graded, SummaryRow};
use crate::store::{EvaluationFilter, EvaluationRecord};
use crate::web::auth::{level, Auth};
use crate::web::WebContext;

/// Evaluations a report reads at most.
const MAX_EVALUATIONS: u32 = 100_000;

struct Loaded {
    evaluations: Vec<EvaluationRecord>,
    forms: BTreeMap<i64, FormDefinition>,
    answers: Vec<Answers>,
    weeks: Vec<String>,
}

async fn load(ctx: &WebContext, params: &Params) -> Result<Loaded, ApiError> {
    let zone = ctx.config.hours.calendar.zone();
    let to = params
        .instant("to", zone)?
        .unwrap_or_else(jiff::Timestamp::now);
    let from = match params.instant("from", zone)? {
        Some(f) => f,
        None => to
            .checked_sub(jiff::SignedDuration::from_hours(24 * 28))
            .map_err(|_| ApiError::bad("from", "out of range"))?,
    };
    let evaluations = ctx
        .store
        .evaluations(&EvaluationFilter {
            operator: params.get("operator").map(str::to_owned),
            from: Some(format_time(from)),
            to: Some(format_time(to)),
            limit: MAX_EVALUATIONS,
            ..Default::default()
        })
        .await?;
    let mut forms = BTreeMap::new();
    let mut answers = Vec::with_capacity(evaluations.len());
    let mut weeks = Vec::with_capacity(evaluations.len());
    for e in &evaluations {
        if let std::collections::btree_map::Entry::Vacant(slot) = forms.entry(e.form_id) {
            let form = super::forms::find_form(ctx, e.form_id).await?;
            slot.insert(
                serde_json::from_str(&form.definition).unwrap_or(FormDefinition { groups: vec![] }),
            );
        }
        answers.push(serde_json::from_str(&e.answers).unwrap_or_default());
        // The week is the Monday of the grading day, in the line's zone.
        let day = e
            .created_at
            .parse::<jiff::Timestamp>()
            .map(|t| t.to_zoned(zone.clone()).date())
            .unwrap_or_default();
        let monday = day
            .checked_sub(i64::from(day.weekday().to_monday_zero_offset()).days())
            .unwrap_or(day);
        weeks.push(monday.to_string());
    }
    Ok(Loaded {
        evaluations,
        forms,
        answers,
        weeks,
    })
}

fn graded(l: &Loaded) -> Vec<Graded<'_>> {
    l.evaluations
        .iter()
        .zip(&l.answers)
        .zip(&l.weeks)
        .map(|((e, answers), week)| Graded {
            call_id: &e.call_id,
            operator_id: e.operator_id.as_deref(),
            grader: &e.grader,
            week: week.clone(),
            score: e.score_x10 as f64 / 10.0,
            form: &l.forms[&e.form_id],
            answers,
        })
        .collect()
}

fn rows_json(rows: &[SummaryRow]) -> Vec<Value> {
    rows.iter()
        .map(|r| json!({"key": r.key, "label": r.label, "evaluations": r.evaluations, "average": r.average}))
        .collect()
}

fn csv_cell(text: &str) -> String {
    // Quoted, so commas and quotes in a question's text stay in their cell; a leading
    // formula character is defused for spreadsheets.
    let text = if text.starts_with(['=', '+', '-', '@']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    format!("\"{}\"", text.replace('"', "\"\""))
}

pub async fn get(
    Auth(_): Auth<{ level::QA }>,
    State(ctx): State<WebContext>,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let params = Params::new(query);
    let as_csv = match params.get("format") {
        None | Some("json") => false,
        Some("csv") => true,
        Some(_) => return Err(ApiError::bad("format", "expected json or csv")),
    };
    let loaded = load(&ctx, &params).await?;
    let s = summarize(&graded(&loaded));
    let mut by_operator = rows_json(&s.by_operator);
    for row in &mut by_operator {
        row["name"] = json!(operator_name(&ctx, row["key"].as_str()));
    }
    if !as_csv {
        return Ok(Json(json!({
            "evaluations": s.evaluations,
            "calls_graded": s.calls_graded,
            "average": s.average,
            "by_operator": by_operator,
            "by_group": rows_json(&s.by_group),
            "by_question": rows_json(&s.by_question),
            "by_week": rows_json(&s.by_week),
        }))
        .into_response());
    }
    let mut out = String::from("section,key,label,evaluations,average\r\n");
    let sections = [
        ("operator", &s.by_operator),
        ("group", &s.by_group),
        ("question", &s.by_question),
        ("week", &s.by_week),
    ];
    for (section, rows) in sections {
        for r in rows.iter() {
            let label = if section == "operator" {
                operator_name(&ctx, Some(&r.key)).unwrap_or_default()
            } else {
                r.label.clone()
            };
            out.push_str(&format!(
                "{section},{},{},{},{}\r\n",
                csv_cell(&r.key),
                csv_cell(&label),
                r.evaluations,
                r.average
            ));
        }
    }
    out.push_str(&format!(
        "total,,,{},{}\r\n",
        s.evaluations,
        s.average.map(|a| a.to_string()).unwrap_or_default()
    ));
    let mut response = out.into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"quality.csv\""),
    );
    Ok(response)
}

pub async fn calibration_report(
    Auth(_): Auth<{ level::QA }>,
    State(ctx): State<WebContext>,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Json<Value>, ApiError> {
    let params = Params::new(query);
    let loaded = load(&ctx, &params).await?;
    // Oldest first, so a grader's later grading of a call is the one that counts.
    let mut g = graded(&loaded);
    g.reverse();
    let calls: Vec<Value> = calibration(&g)
        .into_iter()
        .map(|s| json!({"call_id": s.call_id, "graders": s.graders, "min": s.min, "max": s.max, "std_dev": s.std_dev}))
        .collect();
    Ok(Json(json!({ "calls": calls })))
}
