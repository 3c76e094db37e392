//! Meter readings for the utility: `GET /api/readings?from=&to=&account=&format=csv` (the
//! export for the billing system; JSON by default) and `POST /api/readings` (an operator
//! enters a reading given during a call: source `operator`).
//!
//! Who may: an `operator` enters readings (tied to one of their own calls, or to none) and
//! looks them up one account at a time, for the caller on the line; the list of every
//! account, which is the billing export, is for `qa` and above. Every reading entered is
//! audited (`reading_add`).

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::error::ApiError;
use super::params::{json_body, Params, Remote};
use super::stats::period;
use crate::model::{format_time, is_call_id};
use crate::store::{AuditEntry, ReadingRecord};
use crate::web::auth::{level, Auth};
use crate::web::WebContext;

const CSV_HEADER: &str = "account;meter;value;previous;at;source;call_id\r\n";
/// The most readings one `limit` may ask for (0, or none: all of the period).
const MAX_LIMIT: u64 = 5_000;

pub async fn list(
    Auth(who): Auth<{ level::OPERATOR }>,
    State(ctx): State<WebContext>,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let params = Params::new(query);
    if super::scope::own_operator(&who)?.is_some() && params.get("account").is_none() {
        return Err(ApiError::Forbidden);
    }
    let zone = ctx.config.hours.calendar.zone();
    let (from, to) = period(&params, zone)?;
    let as_csv = match params.get("format") {
        None | Some("json") => false,
        Some("csv") => true,
        Some(_) => return Err(ApiError::bad("format", "expected json or csv")),
    };
    let (account, from, to) = (params.get("account"), format_time(from), format_time(to));
    // `limit`: only the newest so many (one more is fetched to tell whether there are more).
    let limit = params.uint("limit", 0, MAX_LIMIT)?;
    let (rows, more) = if limit == 0 {
        (ctx.store.readings(account, &from, &to).await?, false)
    } else {
        let wanted = u32::try_from(limit).expect("limit <= MAX_LIMIT");
        let mut rows = ctx
            .store
            .latest_readings(account, &from, &to, wanted + 1)
            .await?;
        let more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        rows.reverse();
        (rows, more)
    };
    if !as_csv {
        let items: Vec<Value> = rows.iter().map(as_json).collect();
        return Ok(Json(json!({ "readings": items, "more": more })).into_response());
    }
    let mut out = String::from(CSV_HEADER);
    for r in &rows {
        out.push_str(&format!(
            "{};{};{};{};{};{};{}\r\n",
            r.account,
            r.meter,
            r.value,
            r.previous,
            r.at,
            r.source,
            r.call_id.as_deref().unwrap_or("")
        ));
    }
    let mut response = out.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    Ok(response)
}

/// A reading as the API shows it (here and on a call's page).
pub fn as_json(r: &ReadingRecord) -> Value {
    json!({
        "account": r.account, "meter": r.meter, "value": r.value, "previous": r.previous,
        "at": r.at, "source": r.source, "call_id": r.call_id,
    })
}

/// `{"account", "meter", "value", "call_id"?}`: the meter must be one of the account's;
/// a value below its last reading is refused; the call, if named, must be one the user
/// may see (404 otherwise, as for the call itself).
pub async fn add(
    Auth(who): Auth<{ level::OPERATOR }>,
    State(ctx): State<WebContext>,
    remote: Remote,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let body: Value = json_body(&body)?;
    let text = |key: &'static str| {
        body.get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| ApiError::bad(key, "missing"))
    };
    let account = text("account")?;
    let meter_id = text("meter")?;
    let value = body
        .get("value")
        .and_then(Value::as_i64)
        .filter(|v| *v >= 0)
        .ok_or_else(|| ApiError::bad("value", "expected a whole number, 0 or more"))?;
    let call_id = match body.get("call_id") {
        None | Some(Value::Null) => None,
        Some(Value::String(id)) if is_call_id(id) => Some(id.clone()),
        Some(_) => return Err(ApiError::bad("call_id", "not a call id")),
    };
    if let Some(id) = &call_id {
        super::scope::visible(&who, super::calls::find(&ctx, id).await?)?;
    }
    let meters = ctx.store.meters_of(account).await?;
    let meter = meters
        .iter()
        .find(|m| m.meter == meter_id)
        .ok_or(ApiError::NotFound("meter"))?;
    if value < meter.last_reading {
        return Err(ApiError::bad(
            "value",
            format!("below the last reading {}", meter.last_reading),
        ));
    }
    let record = ReadingRecord {
        account: account.to_owned(),
        meter: meter_id.to_owned(),
        value,
        previous: meter.last_reading,
        call_id,
        at: format_time(jiff::Timestamp::now()),
        source: "operator".into(),
    };
    ctx.store.add_reading(&record).await?;
    ctx.store
        .audit(&AuditEntry {
            at: record.at.clone(),
            username: Some(who.username),
            action: "reading_add".into(),
            call_id: record.call_id.clone(),
            remote: remote.text(),
            detail: Some(format!(
                "account {} meter {} value {}",
                record.account, record.meter, record.value
            )),
        })
        .await?;
    Ok((StatusCode::CREATED, Json(as_json(&record))))
}
