//! A fabricated but plausible call register for development and for timing the
//! statistics (`hotline dev seed`): a utility hotline's working days (Monday to Friday,
//! 08:00-18:00 in the line's zone) with morning and afternoon peaks, operators 101-110,
//! a few after-hours calls in the evenings and at weekends, and topics on most answered
//! calls.
//!
//! Pure: the caller passes the period, the zone and the seed; the same arguments give
//! the same rows (ids included), so a timing can be repeated on the same data.
//!
//! Distributions (what a city water utility's hotline sees): about 80 % answered, 11 %
//! abandoned while waiting, 2 % overflow at the 10-minute limit, 1 % nobody logged in,
//! 1.5 % rejected at the door, 0.5 % failed; after-hours about 4 %. Answered waits are
//! exponential (mean 25 s); talk is log-normal (median 2.5 min).

use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::model::new_call_id;
use crate::model::{format_time, CallRecord};

/// What to fabricate.
#[derive(Debug, Clone)]
pub struct SeedPlan {
    /// Rows to write in all.
    pub calls: usize,
    /// Calendar days, ending the day before `until`.
    pub days: u32,
    /// The first day not included (usually today).
    pub until: Date,
    pub zone: TimeZone,
    pub seed: u64,
}

/// Topics with their weights (per mille of tagged calls).
const TOPICS: &[(&str, u32)] = &[
    ("billing", 350),
    ("meter_readings", 250),
    ("debt", 120),
    ("contract", 100),
    ("connection", 80),
    ("referred", 50),
    ("other", 50),
];

/// Relative call volume per opening hour 08..18 (peaks after opening and after lunch).
const HOURLY: [u32; 10] = [9, 14, 13, 11, 8, 10, 12, 10, 8, 5];

fn pick<'a>(rng: &mut SmallRng, weighted: &'a [(&'a str, u32)]) -> &'a str {
    let total: u32 = weighted.iter().map(|(_, w)| w).sum();
    let mut x = rng.random_range(0..total);
    for (v, w) in weighted {
        if x < *w {
            return v;
        }
        x -= w;
    }
    weighted[weighted.len() - 1].0
}

/// A standard normal deviate (Box-Muller).
fn normal(rng: &mut SmallRng) -> f64 {
    let u1: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

fn exponential(rng: &mut SmallRng, mean: f64) -> f64 {
    -mean * (1.0 - rng.random::<f64>()).ln()
}

fn plus_ms(t: Timestamp, ms: i64) -> Timestamp {
    t.checked_add(ms.milliseconds()).unwrap_or(t)
}

fn local(date: Date, seconds_of_day: i64, zone: &TimeZone) -> Option<Timestamp> {
    let midnight = date.to_datetime(Time::midnight());
    let at = midnight.checked_add(seconds_of_day.seconds()).ok()?;
    at.to_zoned(zone.clone()).ok().map(|z| z.timestamp())
}

/// The fabricated rows, oldest first.
pub fn fabricate(plan: &SeedPlan) -> Vec<CallRecord> {
    let mut rng = SmallRng::seed_from_u64(plan.seed);
    let dates: Vec<Date> = (1..=i64::from(plan.days))
        .rev()
        .filter_map(|back| plan.until.checked_sub(back.days()).ok())
        .collect();
    let working: Vec<Date> = dates
        .iter()
        .copied()
        .filter(|d| d.weekday().to_monday_one_offset() <= 5)
        .collect();
    if working.is_empty() || plan.calls == 0 {
        return Vec::new();
    }
    let after_hours = plan.calls / 25;
    let in_hours = plan.calls - after_hours;
    let hour_total: u32 = HOURLY.iter().sum();
    let mut rows = Vec::with_capacity(plan.calls);
    for i in 0..in_hours {
        // Spread evenly over the working days, so each has its ~650.
        let date = working[i * working.len() / in_hours];
        let mut x = rng.random_range(0..hour_total);
        let mut hour = 0;
        while x >= HOURLY[hour] {
            x -= HOURLY[hour];
            hour += 1;
        }
        let second = (8 + hour as i64) * 3600 + rng.random_range(0..3600);
        if let Some(at) = local(date, second, &plan.zone) {
            rows.push(in_hours_call(&mut rng, at));
        }
    }
    for _ in 0..after_hours {
        let date = dates[rng.random_range(0..dates.len())];
        let weekend = date.weekday().to_monday_one_offset() > 5;
        let second = if weekend {
            rng.random_range(0..86_400)
        } else if rng.random_bool(0.5) {
            rng.random_range(18 * 3600..24 * 3600)
        } else {
            rng.random_range(6 * 3600..8 * 3600)
        };
        if let Some(at) = local(date, second, &plan.zone) {
            rows.push(after_hours_call(&mut rng, at));
        }
    }
    rows.sort_by(|a, b| a.received_at.cmp(&b.received_at));
    rows
}

fn base(rng: &mut SmallRng, at: Timestamp) -> CallRecord {
    let id = new_call_id(at, rng);
    // A tenth of the callers call again: draw them from a small pool.
    let caller = if rng.random_bool(0.1) {
        format!("7911{:07}", rng.random_range(0..500))
    } else {
        format!("79{:09}", rng.random_range(0..1_000_000_000u64))
    };
    CallRecord {
        sip_call_id: format!("{:016x}@trunk", rng.random::<u64>()),
        id,
        caller,
        dialed: "792112".into(),
        source: "udp:192.0.2.1:5060".into(),
        received_at: format_time(at),
        answered_at: None,
        queued_at: None,
        connected_at: None,
        ended_at: None,
        operator_id: None,
        wait_ms: None,
        talk_ms: None,
        outcome: String::new(),
        hangup_by: None,
        final_status: None,
        end_reason: None,
        recording_path: None,
        recording_ms: None,
        recording_bytes: None,
        recording_sha256: None,
        recording_error: None,
        notice_played_at: None,
        notice_completed: None,
        topic: None,
        direction: "inbound".into(),
    }
}

fn after_hours_call(rng: &mut SmallRng, at: Timestamp) -> CallRecord {
    let mut c = base(rng, at);
    let answered = plus_ms(at, 150);
    c.answered_at = Some(format_time(answered));
    c.ended_at = Some(format_time(plus_ms(
        answered,
        rng.random_range(4_000..16_000),
    )));
    c.outcome = "after_hours".into();
    c.hangup_by = Some(
        if rng.random_bool(0.6) {
            "system"
        } else {
            "caller"
        }
        .into(),
    );
    c.final_status = Some(200);
    c.end_reason = Some("prompt_done".into());
    c
}

fn in_hours_call(rng: &mut SmallRng, at: Timestamp) -> CallRecord {
    let mut c = base(rng, at);
    let roll: f64 = rng.random();
    if roll < 0.015 {
        c.outcome = "rejected".into();
        c.final_status = Some(if rng.random_bool(0.5) { 404 } else { 488 });
        c.ended_at = Some(format_time(at));
        c.hangup_by = Some("system".into());
        return c;
    }
    let answered = plus_ms(at, 120);
    let notice = plus_ms(answered, 40);
    let queued = plus_ms(notice, 6_000);
    c.answered_at = Some(format_time(answered));
    c.notice_played_at = Some(format_time(notice));
    c.notice_completed = Some(true);
    c.final_status = Some(200);
    if roll < 0.025 {
        c.outcome = "no_operators".into();
        c.ended_at = Some(format_time(plus_ms(queued, 8_000)));
        c.hangup_by = Some("system".into());
        c.end_reason = Some("prompt_done".into());
        return c;
    }
    if roll < 0.030 {
        c.outcome = "failed".into();
        c.ended_at = Some(format_time(plus_ms(answered, 32_000)));
        c.hangup_by = Some("system".into());
        c.end_reason = Some("ack_timeout".into());
        return c;
    }
    c.queued_at = Some(format_time(queued));
    if roll < 0.050 {
        c.outcome = "overflow".into();
        c.wait_ms = Some(600_000);
        c.ended_at = Some(format_time(plus_ms(queued, 600_000)));
        c.hangup_by = Some("system".into());
        c.end_reason = Some("max_wait".into());
        return c;
    }
    if roll < 0.160 {
        let wait = rng.random_range(3_000..180_000);
        c.outcome = "abandoned".into();
        c.wait_ms = Some(wait);
        c.ended_at = Some(format_time(plus_ms(queued, wait)));
        c.hangup_by = Some("caller".into());
        c.end_reason = Some("caller_cancel".into());
        return c;
    }
    let wait = exponential(rng, 25_000.0).min(590_000.0) as i64;
    let talk = (150_000.0 * (0.6 * normal(rng)).exp()).clamp(8_000.0, 3_600_000.0) as i64;
    let connected = plus_ms(queued, wait);
    let ended = plus_ms(connected, talk);
    let operator = 101 + rng.random_range(0..10);
    c.outcome = "answered".into();
    c.operator_id = Some(operator.to_string());
    c.wait_ms = Some(wait);
    c.talk_ms = Some(talk);
    c.connected_at = Some(format_time(connected));
    c.ended_at = Some(format_time(ended));
    let by_caller = rng.random_bool(0.6);
    c.hangup_by = Some(if by_caller { "caller" } else { "operator" }.into());
    c.end_reason = Some(
        if by_caller {
            "caller_bye"
        } else {
            "operator_bye"
        }
        .into(),
    );
    let day = connected.strftime("%Y/%m/%d");
    c.recording_path = Some(format!("{day}/{}.wav", c.id));
    c.recording_ms = Some(talk);
    // Stereo 16-bit 8 kHz: 32 bytes a millisecond, after a 44-byte header.
    c.recording_bytes = Some(44 + talk * 32);
    c.recording_sha256 = Some(format!(
        "{:016x}{:016x}{:016x}{:016x}",
        rng.random::<u64>(),
        rng.random::<u64>(),
        rng.random::<u64>(),
        rng.random::<u64>()
    ));
    if rng.random_bool(0.7) {
        c.topic = Some(pick(rng, TOPICS).to_owned());
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(calls: usize, seed: u64) -> SeedPlan {
        SeedPlan {
            calls,
            days: 28,
            until: "2026-12-01".parse().unwrap(),
            zone: TimeZone::get("Europe/Moscow").unwrap(),
            seed,
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_register() {
        let a = fabricate(&plan(500, 7));
        assert_eq!(a, fabricate(&plan(500, 7)));
        assert_ne!(a, fabricate(&plan(500, 8)));
        assert_eq!(a.len(), 500);
    }

    #[test]
    fn in_hours_calls_fall_on_working_days_in_opening_hours() {
        let zone = TimeZone::get("Europe/Moscow").unwrap();
        let rows = fabricate(&plan(5_000, 1));
        for r in rows.iter().filter(|r| r.outcome != "after_hours") {
            let t: Timestamp = r.received_at.parse().unwrap();
            let z = t.to_zoned(zone.clone());
            assert!(z.weekday().to_monday_one_offset() <= 5, "{}", r.received_at);
            assert!((8..18).contains(&z.hour()), "{}", r.received_at);
            assert!(z.date() < "2026-12-01".parse().unwrap());
            assert!(z.date() >= "2026-11-03".parse().unwrap());
        }
    }

    #[test]
    fn outcomes_and_figures_look_like_a_call_centre() {
        let rows = fabricate(&plan(20_000, 3));
        let share = |o: &str| rows.iter().filter(|r| r.outcome == o).count() as f64 / 20_000.0;
        assert!(
            (0.75..0.85).contains(&share("answered")),
            "{}",
            share("answered")
        );
        assert!((0.08..0.14).contains(&share("abandoned")));
        assert!((0.02..0.06).contains(&share("after_hours")));
        let answered: Vec<&CallRecord> = rows.iter().filter(|r| r.outcome == "answered").collect();
        let mean_wait =
            answered.iter().map(|r| r.wait_ms.unwrap()).sum::<i64>() / answered.len() as i64;
        assert!((20_000..30_000).contains(&mean_wait), "{mean_wait}");
        assert!(answered.iter().all(|r| {
            let op: u32 = r.operator_id.as_ref().unwrap().parse().unwrap();
            (101..=110).contains(&op) && r.recording_path.is_some()
        }));
        let ids: std::collections::HashSet<&str> = rows.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids.len(), rows.len(), "ids are unique");
    }
}
