//! The "to grade" list: `GET /api/grading/queue?mine=1&all=1` (open entries, oldest
//! first, with the disputes waiting for the grader's answer) and
//! `POST /api/grading/sample` (`{"from", "to"}` optional; default: the last 7 days) which
//! runs the `[quality]` sampling rules now; [`daily`] runs them once a day over the last
//! 7 days. The picking itself is the model's (`model::quality::sampling`).

use std::collections::{BTreeMap, BTreeSet};

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::Json;
use jiff::{SignedDuration, Timestamp};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use super::error::ApiError;
use super::evaluations::{evaluation_json, operator_name};
use super::params::{json_body, parse_bound, Params};
use crate::model::format_time;
use crate::model::quality::sampling::{pick, Candidate};
use crate::store::{CallFilter, EvaluationFilter};
use crate::web::auth::{level, Auth};
use crate::web::WebContext;

/// Calls a sampling run reads at most.
const MAX_CANDIDATES: u64 = 50_000;
const PAGE: u32 = 500;

/// Runs the sampling rules over calls received in `[from, to)`; how many calls were added.
pub async fn run_sampling(
    ctx: &WebContext,
    from: Timestamp,
    to: Timestamp,
) -> Result<u64, ApiError> {
    let rules = &ctx.config.quality.sampling;
    let zone = ctx.config.hours.calendar.zone();
    let mut calls = Vec::new();
    let mut offset = 0;
    loop {
        let (page, total) = ctx
            .store
            .search_calls(&CallFilter {
                from: Some(format_time(from)),
                to: Some(format_time(to)),
                outcome: Some("answered".into()),
                limit: PAGE,
                offset,
                ..CallFilter::default()
            })
            .await?;
        offset += page.len() as u64;
        let done = page.is_empty() || offset >= total || offset >= MAX_CANDIDATES;
        calls.extend(page);
        if done {
            break;
        }
    }
    let flagged: BTreeSet<String> = ctx
        .store
        .call_flags(None)
        .await?
        .into_iter()
        .map(|f| f.call_id)
        .collect();
    let mut first: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    if rules.first_calls > 0 {
        let operators: BTreeSet<&str> = calls
            .iter()
            .filter_map(|c| c.operator_id.as_deref())
            .collect();
        for op in operators {
            let ids = ctx
                .store
                .first_answered_calls(op, rules.first_calls)
                .await?;
            first.insert(op.to_owned(), ids.into_iter().collect());
        }
    }
    let candidates: Vec<Candidate> = calls
        .iter()
        .filter_map(|c| {
            let op = c.operator_id.clone()?;
            let day = c
                .received_at
                .parse::<Timestamp>()
                .ok()?
                .to_zoned(zone.clone())
                .date();
            let monday = day
                .checked_sub(
                    jiff::Span::new().days(i64::from(day.weekday().to_monday_zero_offset())),
                )
                .unwrap_or(day);
            Some(Candidate {
                call_id: c.id.clone(),
                among_first: first.get(&op).is_some_and(|ids| ids.contains(&c.id)),
                operator_id: op,
                week: monday.to_string(),
                talk_ms: c.talk_ms.unwrap_or(0),
                flagged: flagged.contains(&c.id),
            })
        })
        .collect();
    let mut already: BTreeSet<String> = ctx
        .store
        .grading_queue(None, true)
        .await?
        .into_iter()
        .map(|e| e.call_id)
        .collect();
    already.extend(
        ctx.store
            .evaluations(&EvaluationFilter {
                limit: u32::MAX,
                ..Default::default()
            })
            .await?
            .into_iter()
            .map(|e| e.call_id),
    );
    // The seed is the period: the same period gives the same picks.
    let seed = from.as_second().unsigned_abs() ^ to.as_second().unsigned_abs().rotate_left(17);
    let now = format_time(Timestamp::now());
    let mut added = 0;
    for p in pick(rules, &candidates, &already, seed) {
        if ctx
            .store
            .enqueue_for_grading(&p.call_id, p.rule, p.grader.as_deref(), &now)
            .await?
        {
            added += 1;
        }
    }
    Ok(added)
}

fn last_week(now: Timestamp) -> (Timestamp, Timestamp) {
    let from = now
        .checked_sub(SignedDuration::from_hours(24 * 7))
        .unwrap_or(Timestamp::MIN);
    (from, now)
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct SampleBody {
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    to: Option<String>,
}

pub async fn sample(
    Auth(_): Auth<{ level::QA }>,
    State(ctx): State<WebContext>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let body: SampleBody = if body.is_empty() {
        SampleBody::default()
    } else {
        json_body(&body)?
    };
    let zone = ctx.config.hours.calendar.zone();
    let (mut from, mut to) = last_week(Timestamp::now());
    if let Some(t) = &body.to {
        to = parse_bound("to", t, zone)?;
    }
    if let Some(f) = &body.from {
        from = parse_bound("from", f, zone)?;
    }
    let added = run_sampling(&ctx, from, to).await?;
    Ok(Json(json!({ "added": added })))
}

pub async fn queue(
    Auth(who): Auth<{ level::QA }>,
    State(ctx): State<WebContext>,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Json<Value>, ApiError> {
    let params = Params::new(query);
    let mine = matches!(params.get("mine"), Some("1" | "true"));
    let all = matches!(params.get("all"), Some("1" | "true"));
    let assigned = mine.then_some(who.username.as_str());
    let entries = ctx.store.grading_queue(assigned, all).await?;
    let disputes = ctx
        .store
        .evaluations(&EvaluationFilter {
            status: Some("disputed".into()),
            grader: mine.then(|| who.username.clone()),
            limit: 500,
            ..Default::default()
        })
        .await?;
    Ok(Json(json!({
        "queue": entries.iter().map(|e| json!({
            "call_id": e.call_id,
            "rule": e.rule,
            "assigned_to": e.assigned_to,
            "created_at": e.created_at,
            "done_at": e.done_at,
            "operator_id": e.operator_id,
            "operator_name": operator_name(&ctx, e.operator_id.as_deref()),
            "received_at": e.received_at,
            "talk_ms": e.talk_ms,
        })).collect::<Vec<_>>(),
        "disputes": disputes.iter().map(|e| evaluation_json(&ctx, e)).collect::<Vec<_>>(),
    })))
}

/// Runs the sampling rules once a day (first a minute after start) until `shutdown`.
pub async fn daily(ctx: WebContext, shutdown: CancellationToken) {
    let mut wait = std::time::Duration::from_secs(60);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(wait) => {}
        }
        let (from, to) = last_week(Timestamp::now());
        match run_sampling(&ctx, from, to).await {
            Ok(added) => tracing::info!(added, "sampling rules ran: calls added to grade"),
            Err(e) => tracing::warn!(error = %e, "sampling rules failed; next run in a day"),
        }
        wait = std::time::Duration::from_secs(24 * 3600);
    }
}
