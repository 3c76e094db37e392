//! `GET /api/stats`: per day (in the line's zone) and in total, per operator and per topic.
//!
//! The database does the counting: one grouped query per slice of the period over which
//! the zone's UTC offset is constant (`date(received_at, '+N seconds')` gives the local
//! date in a slice), so a day is exact even in zones with DST, where a day can straddle
//! two slices; the slices' sums and counts are then merged here. Moscow has one offset
//! since 2014, so there it is one query. Only the 90th-percentile wait needs the values
//! themselves: the answered calls' `wait_ms` (one narrow column) are sorted here.
//!
//! Definitions: averages and the p90 of wait are over answered calls (the wait from
//! joining the queue to being connected); the service level is the share of answered
//! calls connected within 20 s of queueing (null with no answered calls); talk is over
//! answered calls; the self-service share is the share of all the day's (or period's) calls
//! that ended `self_service` (null with no calls). Readings are counted by the local day
//! they were handed in, by source (`readings_phone`, `readings_operator`).

use std::collections::BTreeMap;

use axum::extract::{Query, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use serde_json::{json, Value};

use super::error::ApiError;
use super::params::{Params, TOPICS};
use crate::model::format_time;
use crate::store::{DayAggregate, ReadingsDay};
use crate::web::auth::{level, Auth};
use crate::web::WebContext;

/// The longest period one request may cover.
const MAX_DAYS: i64 = 3_660;
/// The default period: this many days up to and including today.
const DEFAULT_DAYS: i64 = 30;

/// Splits `[from, to)` into spans over which `zone` keeps one UTC offset (seconds).
pub fn constant_offset_spans(
    zone: &TimeZone,
    from: Timestamp,
    to: Timestamp,
) -> Vec<(Timestamp, Timestamp, i32)> {
    let mut spans = Vec::new();
    let mut start = from;
    let mut offset = zone.to_offset(from).seconds();
    for t in zone.following(from) {
        if t.timestamp() >= to {
            break;
        }
        let next = t.offset().seconds();
        // Some transitions change only the abbreviation or the DST flag.
        if next != offset {
            spans.push((start, t.timestamp(), offset));
            start = t.timestamp();
            offset = next;
        }
    }
    spans.push((start, to, offset));
    spans
}

/// Adds `b`'s sums and counts into `a`.
fn merge(a: &mut DayAggregate, b: &DayAggregate) {
    a.calls += b.calls;
    a.answered += b.answered;
    a.abandoned += b.abandoned;
    a.after_hours += b.after_hours;
    a.overflow += b.overflow;
    a.no_operators += b.no_operators;
    a.rejected += b.rejected;
    a.self_service += b.self_service;
    a.wait_ms_sum += b.wait_ms_sum;
    a.wait_n += b.wait_n;
    a.within_20s += b.within_20s;
    a.talk_ms_sum += b.talk_ms_sum;
    a.talk_n += b.talk_n;
}

fn average(sum: i64, n: u64) -> Option<i64> {
    (n > 0).then(|| (sum as f64 / n as f64).round() as i64)
}

/// The nearest-rank 90th percentile of `sorted` (ascending).
pub fn p90(sorted: &[i64]) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (sorted.len() * 9).div_ceil(10);
    Some(sorted[rank.max(1) - 1])
}

/// One day's (or the total's) figures as the contract names them.
fn figures(
    a: &DayAggregate,
    waits: &mut [i64],
    readings: &ReadingsDay,
) -> serde_json::Map<String, Value> {
    waits.sort_unstable();
    let v = json!({
        "calls": a.calls,
        "answered": a.answered,
        "abandoned": a.abandoned,
        "after_hours": a.after_hours,
        "overflow": a.overflow,
        "no_operators": a.no_operators,
        "rejected": a.rejected,
        "wait_ms_avg": average(a.wait_ms_sum, a.wait_n),
        "wait_ms_p90": p90(waits),
        "service_level": (a.answered > 0).then(|| a.within_20s as f64 / a.answered as f64),
        "talk_ms_avg": average(a.talk_ms_sum, a.talk_n),
        "self_service": a.self_service,
        "self_service_share": (a.calls > 0).then(|| a.self_service as f64 / a.calls as f64),
        "readings_phone": readings.phone,
        "readings_operator": readings.operator,
    });
    match v {
        Value::Object(map) => map,
        _ => unreachable!("json! of an object literal is an object"),
    }
}

/// The period asked for, or the last [`DEFAULT_DAYS`] days up to the end of today.
pub(super) fn period(params: &Params, zone: &TimeZone) -> Result<(Timestamp, Timestamp), ApiError> {
    let to = match params.instant("to", zone)? {
        Some(t) => t,
        None => {
            let today = Timestamp::now().to_zoned(zone.clone()).date();
            let tomorrow = today
                .checked_add(1.day())
                .map_err(|_| ApiError::bad("to", "date out of range"))?;
            start_of(tomorrow, zone, "to")?
        }
    };
    let from = match params.instant("from", zone)? {
        Some(t) => t,
        None => {
            let last = local_date(to, zone, true);
            let first = last
                .checked_sub((DEFAULT_DAYS - 1).days())
                .map_err(|_| ApiError::bad("from", "date out of range"))?;
            start_of(first, zone, "from")?
        }
    };
    if from >= to {
        return Err(ApiError::bad("to", "must be after `from`"));
    }
    if to.duration_since(from).as_secs() > MAX_DAYS * 86_400 {
        return Err(ApiError::bad(
            "to",
            format!("period longer than {MAX_DAYS} days"),
        ));
    }
    Ok((from, to))
}

fn start_of(date: Date, zone: &TimeZone, param: &'static str) -> Result<Timestamp, ApiError> {
    date.to_zoned(zone.clone())
        .map(|z| z.timestamp())
        .map_err(|_| ApiError::bad(param, "date out of range"))
}

/// The local date of `t`, or with `exclusive` of the instant just before it.
fn local_date(t: Timestamp, zone: &TimeZone, exclusive: bool) -> Date {
    let t = if exclusive {
        t.checked_sub(1.nanosecond()).unwrap_or(t)
    } else {
        t
    };
    t.to_zoned(zone.clone()).date()
}

/// What one local day (or the whole period) gathers from the store's queries.
#[derive(Default)]
struct Day {
    calls: DayAggregate,
    /// The answered calls' waits, for the percentile.
    waits: Vec<i64>,
    readings: ReadingsDay,
}

/// The whole answer, as JSON.
pub async fn compute(ctx: &WebContext, from: Timestamp, to: Timestamp) -> Result<Value, ApiError> {
    let zone = ctx.config.hours.calendar.zone();
    let (from_text, to_text) = (format_time(from), format_time(to));

    // Every local date of the period, so quiet days show as zeros.
    let mut days: BTreeMap<String, Day> = BTreeMap::new();
    let (first, last) = (local_date(from, zone, false), local_date(to, zone, true));
    for date in first.series(1.day()).take_while(|d| *d <= last) {
        let date = date.to_string();
        let agg = DayAggregate {
            date: date.clone(),
            ..DayAggregate::default()
        };
        days.insert(
            date,
            Day {
                calls: agg,
                ..Day::default()
            },
        );
    }
    for (a, b, offset) in constant_offset_spans(zone, from, to) {
        let (a, b) = (format_time(a), format_time(b));
        for slice in ctx.store.day_aggregates(&a, &b, offset).await? {
            let entry = days.entry(slice.date.clone()).or_default();
            merge(&mut entry.calls, &slice);
        }
        for (date, wait) in ctx.store.answered_waits(&a, &b, offset).await? {
            days.entry(date).or_default().waits.push(wait);
        }
        for slice in ctx.store.readings_days(&a, &b, offset).await? {
            let entry = &mut days.entry(slice.date.clone()).or_default().readings;
            entry.phone += slice.phone;
            entry.operator += slice.operator;
        }
    }

    let mut total = Day::default();
    let mut day_rows = Vec::with_capacity(days.len());
    for (date, mut day) in days {
        merge(&mut total.calls, &day.calls);
        total.waits.extend_from_slice(&day.waits);
        total.readings.phone += day.readings.phone;
        total.readings.operator += day.readings.operator;
        let mut row = serde_json::Map::new();
        row.insert("date".into(), Value::String(date));
        row.extend(figures(&day.calls, &mut day.waits, &day.readings));
        day_rows.push(Value::Object(row));
    }

    let operators: Vec<Value> = ctx
        .store
        .operator_aggregates(&from_text, &to_text)
        .await?
        .into_iter()
        .map(|o| {
            let name = ctx
                .config
                .operators
                .iter()
                .find(|c| c.id == o.operator_id)
                .map(|c| c.name.clone());
            json!({
                "operator_id": o.operator_id,
                "name": name,
                "answered": o.answered,
                "talk_ms_avg": average(o.talk_ms_total, o.talk_n),
                "talk_ms_total": o.talk_ms_total,
            })
        })
        .collect();
    let topics: Vec<Value> = ctx
        .store
        .topic_counts(&from_text, &to_text)
        .await?
        .into_iter()
        .map(|(topic, calls)| {
            let label = topic
                .as_deref()
                .and_then(|t| TOPICS.iter().find(|(name, _)| *name == t))
                .map(|(_, label)| *label);
            json!({ "topic": topic, "label": label, "calls": calls })
        })
        .collect();

    Ok(json!({
        "from": from_text,
        "to": to_text,
        "zone": zone.iana_name().unwrap_or("UTC"),
        "days": day_rows,
        "total": figures(&total.calls, &mut total.waits, &total.readings),
        "operators": operators,
        "topics": topics,
    }))
}

/// The CSV columns after `date`, in order (columns added later go last, so a consumer
/// reading by position keeps working).
const CSV_COLUMNS: [&str; 15] = [
    "calls",
    "answered",
    "abandoned",
    "after_hours",
    "overflow",
    "no_operators",
    "rejected",
    "wait_ms_avg",
    "wait_ms_p90",
    "service_level",
    "talk_ms_avg",
    "self_service",
    "self_service_share",
    "readings_phone",
    "readings_operator",
];

/// The per-day table as CSV (RFC 4180 line ends), the total last.
pub fn csv(stats: &Value) -> String {
    let columns = &CSV_COLUMNS;
    let mut out = String::from("date");
    for c in columns {
        out.push(',');
        out.push_str(c);
    }
    out.push_str("\r\n");
    let cell = |v: &Value| match v {
        Value::Null => String::new(),
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() => format!("{f:.4}"),
            _ => n.to_string(),
        },
        other => other.as_str().unwrap_or_default().to_owned(),
    };
    let mut line = |label: &str, row: &Value| {
        out.push_str(label);
        for c in columns {
            out.push(',');
            out.push_str(&cell(&row[*c]));
        }
        out.push_str("\r\n");
    };
    for day in stats["days"].as_array().into_iter().flatten() {
        line(day["date"].as_str().unwrap_or_default(), day);
    }
    line("total", &stats["total"]);
    out
}

pub async fn get(
    Auth(_): Auth<{ level::QA }>,
    State(ctx): State<WebContext>,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let params = Params::new(query);
    let zone = ctx.config.hours.calendar.zone();
    let (from, to) = period(&params, zone)?;
    let as_csv = match params.get("format") {
        None | Some("json") => false,
        Some("csv") => true,
        Some(_) => return Err(ApiError::bad("format", "expected json or csv")),
    };
    let stats = compute(&ctx, from, to).await?;
    if !as_csv {
        return Ok(Json(stats).into_response());
    }
    let mut response = csv(&stats).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    let name = format!(
        "attachment; filename=\"stats-{}-{}.csv\"",
        local_date(from, zone, false),
        local_date(to, zone, true)
    );
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&name).expect("dates are header-safe"),
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn moscow_is_one_span() {
        let msk = TimeZone::get("Europe/Moscow").unwrap();
        let spans =
            constant_offset_spans(&msk, ts("2026-01-01T00:00:00Z"), ts("2027-01-01T00:00:00Z"));
        assert_eq!(spans.len(), 1);
        assert_eq!(spans[0].2, 3 * 3600);
    }

    #[test]
    fn dst_zones_split_at_each_change() {
        let berlin = TimeZone::get("Europe/Berlin").unwrap();
        let spans = constant_offset_spans(
            &berlin,
            ts("2026-01-01T00:00:00Z"),
            ts("2027-01-01T00:00:00Z"),
        );
        let offsets: Vec<i32> = spans.iter().map(|s| s.2).collect();
        assert_eq!(offsets, [3600, 7200, 3600]);
        assert_eq!(spans[1].0, ts("2026-03-29T01:00:00Z"));
        assert_eq!(spans[1].1, ts("2026-10-25T01:00:00Z"));
    }

    #[test]
    fn p90_is_nearest_rank() {
        assert_eq!(p90(&[]), None);
        assert_eq!(p90(&[7]), Some(7));
        let ten: Vec<i64> = (1..=10).collect();
        assert_eq!(p90(&ten), Some(9));
        let eleven: Vec<i64> = (1..=11).collect();
        assert_eq!(p90(&eleven), Some(10));
    }

    #[test]
    fn figures_derive_averages_and_service_level() {
        let a = DayAggregate {
            calls: 4,
            answered: 3,
            wait_ms_sum: 60_000,
            wait_n: 3,
            within_20s: 2,
            talk_ms_sum: 300_000,
            talk_n: 3,
            ..DayAggregate::default()
        };
        let readings = ReadingsDay {
            phone: 2,
            operator: 1,
            ..ReadingsDay::default()
        };
        let f = figures(&a, &mut [30_000, 10_000, 20_000], &readings);
        assert_eq!(f["wait_ms_avg"], 20_000);
        assert_eq!(f["wait_ms_p90"], 30_000);
        assert_eq!(f["talk_ms_avg"], 100_000);
        assert!((f["service_level"].as_f64().unwrap() - 2.0 / 3.0).abs() < 1e-9);
        assert_eq!(f["self_service"], 0);
        assert_eq!(f["self_service_share"], 0.0);
        assert_eq!(f["readings_phone"], 2);
        assert_eq!(f["readings_operator"], 1);
        let none = figures(&DayAggregate::default(), &mut [], &ReadingsDay::default());
        assert_eq!(none["service_level"], Value::Null);
        assert_eq!(none["self_service_share"], Value::Null);
        assert_eq!(none["wait_ms_avg"], Value::Null);
    }

    #[test]
    fn csv_has_a_header_days_and_a_total() {
        let v = json!({
            "days": [{"date": "2026-11-24", "calls": 2, "answered": 1, "abandoned": 1,
                      "after_hours": 0, "overflow": 0, "no_operators": 0, "rejected": 0,
                      "wait_ms_avg": 5000, "wait_ms_p90": 5000, "service_level": 1.0,
                      "talk_ms_avg": 60000, "self_service": 1, "self_service_share": 0.5,
                      "readings_phone": 3, "readings_operator": 1}],
            "total": {"calls": 2, "answered": 1, "abandoned": 1, "after_hours": 0,
                      "overflow": 0, "no_operators": 0, "rejected": 0, "wait_ms_avg": null,
                      "wait_ms_p90": null, "service_level": null, "talk_ms_avg": null,
                      "self_service": 0, "self_service_share": null,
                      "readings_phone": 0, "readings_operator": 0},
        });
        let text = csv(&v);
        let lines: Vec<&str> = text.split("\r\n").collect();
        assert!(lines[0].starts_with("date,calls,answered,abandoned"));
        assert!(lines[0].ends_with(
            ",talk_ms_avg,self_service,self_service_share,readings_phone,readings_operator"
        ));
        assert_eq!(
            lines[1],
            "2026-11-24,2,1,1,0,0,0,0,5000,5000,1.0000,60000,1,0.5000,3,1"
        );
        assert_eq!(lines[2], "total,2,1,1,0,0,0,0,,,,,0,,0,0");
    }
}
