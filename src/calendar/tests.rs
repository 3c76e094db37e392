//! Tests of the business calendar at its edges: opening and closing instants, holidays,
//! moved working days, a 24-hour day, an empty week, and zones with and without DST.

use super::*;
use jiff::civil::{date, time};

fn ts(s: &str) -> Timestamp {
    s.parse().expect("test timestamps are valid")
}

fn dates(list: &[&str]) -> BTreeSet<Date> {
    list.iter()
        .map(|s| s.parse().expect("test dates are valid"))
        .collect()
}

fn calendar(
    zone: &str,
    days: WeekdaySet,
    open: Time,
    close: OpeningEnd,
    holidays: &[&str],
    working: &[&str],
) -> BusinessCalendar {
    let zone = TimeZone::get(zone).expect("zone is in the bundled database");
    BusinessCalendar::new(zone, days, open, close, dates(holidays), dates(working))
        .expect("test calendars are valid")
}

/// Pskov hours: Monday to Friday, 08:00-18:00 Moscow time (UTC+3, no DST).
fn pskov(holidays: &[&str], working: &[&str]) -> BusinessCalendar {
    let close = OpeningEnd::At(time(18, 0, 0, 0));
    calendar(
        "Europe/Moscow",
        WeekdaySet::MON_FRI,
        time(8, 0, 0, 0),
        close,
        holidays,
        working,
    )
}

#[test]
fn opening_edges_in_moscow() {
    let cal = pskov(&[], &[]);
    // 2027-03-03 is a Wednesday. 08:00 MSK = 05:00Z, 18:00 MSK = 15:00Z.
    assert!(
        !cal.is_open(ts("2027-03-03T04:59:59Z")),
        "07:59:59 is closed"
    );
    assert!(cal.is_open(ts("2027-03-03T05:00:00Z")), "08:00:00 is open");
    assert!(cal.is_open(ts("2027-03-03T14:59:59Z")), "17:59:59 is open");
    assert!(
        cal.is_open(ts("2027-03-03T14:59:59.999Z")),
        "17:59:59.999 is open"
    );
    assert!(
        !cal.is_open(ts("2027-03-03T15:00:00Z")),
        "18:00:00 is closed"
    );
    // The same instants written in local time.
    assert!(!cal.is_open(ts("2027-03-03T07:59:59+03:00")));
    assert!(cal.is_open(ts("2027-03-03T08:00:00+03:00")));
    assert!(cal.is_open(ts("2027-03-03T17:59:59+03:00")));
    assert!(!cal.is_open(ts("2027-03-03T18:00:00+03:00")));
}

#[test]
fn closes_at_reports_the_end_of_today() {
    let cal = pskov(&[], &[]);
    assert_eq!(
        cal.closes_at(ts("2027-03-03T10:00:00+03:00")),
        Some(ts("2027-03-03T15:00:00Z"))
    );
    assert_eq!(cal.closes_at(ts("2027-03-03T18:00:00+03:00")), None);
    assert_eq!(cal.closes_at(ts("2027-03-03T07:00:00+03:00")), None);
}

#[test]
fn weekends_and_holidays_are_closed_all_day() {
    // 2027-02-23 (Tuesday) is a holiday; 2027-03-07 is a Sunday.
    let cal = pskov(&["2027-02-23"], &[]);
    for t in ["00:00:00", "08:00:00", "12:00:00", "17:59:59"] {
        assert!(
            !cal.is_open(ts(&format!("2027-02-23T{t}+03:00"))),
            "holiday at {t}"
        );
        assert!(
            !cal.is_open(ts(&format!("2027-03-07T{t}+03:00"))),
            "Sunday at {t}"
        );
    }
    assert!(
        cal.is_open(ts("2027-02-24T12:00:00+03:00")),
        "the day after the holiday"
    );
    assert!(!cal.is_working_date(date(2027, 2, 23)));
    assert!(cal.is_working_date(date(2027, 2, 24)));
}

#[test]
fn moved_working_saturday_is_open() {
    // 2027-03-06 is a Saturday made a working day.
    let cal = pskov(&[], &["2027-03-06"]);
    assert!(cal.is_open(ts("2027-03-06T08:00:00+03:00")));
    assert!(!cal.is_open(ts("2027-03-06T18:00:00+03:00")));
    assert!(
        !cal.is_open(ts("2027-03-13T12:00:00+03:00")),
        "the next Saturday is not"
    );
    assert_eq!(
        cal.next_opening(ts("2027-03-05T18:00:00+03:00")),
        Some(ts("2027-03-06T08:00:00+03:00"))
    );
}

#[test]
fn next_opening_from_friday_evening_is_monday_morning() {
    let cal = pskov(&[], &[]);
    // Friday 2027-03-05 18:00 MSK -> Monday 2027-03-08 08:00 MSK (05:00Z).
    assert_eq!(
        cal.next_opening(ts("2027-03-05T15:00:00Z")),
        Some(ts("2027-03-08T05:00:00Z"))
    );
    // At the very opening instant the line is open; the next opening is the next day's.
    assert_eq!(
        cal.next_opening(ts("2027-03-08T08:00:00+03:00")),
        Some(ts("2027-03-09T08:00:00+03:00"))
    );
    // Early in the morning: today's opening.
    assert_eq!(
        cal.next_opening(ts("2027-03-09T03:00:00+03:00")),
        Some(ts("2027-03-09T08:00:00+03:00"))
    );
}

#[test]
fn next_opening_skips_a_holiday_run() {
    let holidays = [
        "2027-01-01",
        "2027-01-02",
        "2027-01-03",
        "2027-01-04",
        "2027-01-05",
        "2027-01-06",
        "2027-01-07",
        "2027-01-08",
    ];
    let cal = pskov(&holidays, &[]);
    assert_eq!(
        cal.next_opening(ts("2026-12-31T18:00:00+03:00")),
        Some(ts("2027-01-11T08:00:00+03:00"))
    );
    assert_eq!(
        cal.next_opening(ts("2027-01-05T12:00:00+03:00")),
        Some(ts("2027-01-11T05:00:00Z"))
    );
}

#[test]
fn round_the_clock_days_form_one_stretch() {
    let cal = calendar(
        "Europe/Moscow",
        WeekdaySet::MON_FRI,
        Time::midnight(),
        OpeningEnd::EndOfDay,
        &[],
        &[],
    );
    assert!(
        cal.is_open(ts("2027-03-01T00:00:00+03:00")),
        "Monday midnight"
    );
    assert!(cal.is_open(ts("2027-03-03T23:59:59.999+03:00")));
    assert!(cal.is_open(ts("2027-03-05T23:59:59+03:00")), "Friday late");
    assert!(
        !cal.is_open(ts("2027-03-06T00:00:00+03:00")),
        "Saturday midnight"
    );
    // Monday to Friday is one open stretch: it closes on Saturday at midnight.
    assert_eq!(
        cal.closes_at(ts("2027-03-02T12:00:00+03:00")),
        Some(ts("2027-03-06T00:00:00+03:00"))
    );
    assert_eq!(
        cal.next_opening(ts("2027-03-02T12:00:00+03:00")),
        Some(ts("2027-03-08T00:00:00+03:00"))
    );
}

#[test]
fn no_days_means_never_open() {
    let close = OpeningEnd::At(time(18, 0, 0, 0));
    let cal = calendar(
        "Europe/Moscow",
        WeekdaySet::EMPTY,
        time(8, 0, 0, 0),
        close,
        &[],
        &[],
    );
    assert!(!cal.is_open(ts("2027-03-03T12:00:00+03:00")));
    assert_eq!(cal.next_opening(ts("2027-03-03T12:00:00+03:00")), None);
    assert_eq!(cal.closes_at(ts("2027-03-03T12:00:00+03:00")), None);
}

#[test]
fn berlin_around_the_spring_dst_change() {
    // 2027-03-28 (Sunday): clocks go from 02:00 CET to 03:00 CEST.
    let close = OpeningEnd::At(time(18, 0, 0, 0));
    let cal = calendar(
        "Europe/Berlin",
        WeekdaySet::ALL,
        time(8, 0, 0, 0),
        close,
        &[],
        &[],
    );
    // Saturday opens at 08:00 CET (07:00Z), Sunday at 08:00 CEST (06:00Z).
    assert!(cal.is_open(ts("2027-03-27T07:00:00Z")));
    assert!(!cal.is_open(ts("2027-03-28T05:59:59Z")));
    assert!(cal.is_open(ts("2027-03-28T06:00:00Z")));
    assert_eq!(
        cal.next_opening(ts("2027-03-27T20:00:00Z")),
        Some(ts("2027-03-28T06:00:00Z"))
    );
    assert_eq!(
        cal.closes_at(ts("2027-03-28T10:00:00Z")),
        Some(ts("2027-03-28T16:00:00Z"))
    );
}

#[test]
fn berlin_opening_in_the_dst_gap_uses_compatible_resolution() {
    // Opening at 02:30 does not exist on 2027-03-28; "compatible" moves it forward by the
    // gap to 03:30 CEST (01:30Z).
    let close = OpeningEnd::At(time(12, 0, 0, 0));
    let cal = calendar(
        "Europe/Berlin",
        WeekdaySet::ALL,
        time(2, 30, 0, 0),
        close,
        &[],
        &[],
    );
    assert!(!cal.is_open(ts("2027-03-28T01:29:59Z")));
    assert!(cal.is_open(ts("2027-03-28T01:30:00Z")));
    assert_eq!(
        cal.next_opening(ts("2027-03-27T12:00:00Z")),
        Some(ts("2027-03-28T01:30:00Z"))
    );
}

#[test]
fn berlin_closing_in_the_autumn_fold_takes_the_first_occurrence() {
    // 2027-10-31: 03:00 CEST goes back to 02:00 CET, so 02:30 happens twice. Closing at
    // 02:30 means the first time (00:30Z).
    let close = OpeningEnd::At(time(2, 30, 0, 0));
    let cal = calendar(
        "Europe/Berlin",
        WeekdaySet::ALL,
        Time::midnight(),
        close,
        &[],
        &[],
    );
    assert!(cal.is_open(ts("2027-10-31T00:29:59Z")));
    assert!(!cal.is_open(ts("2027-10-31T00:30:00Z")));
    assert!(
        !cal.is_open(ts("2027-10-31T01:30:00Z")),
        "the second 02:30 is after closing"
    );
}

#[test]
fn new_york_and_kamchatka() {
    let close = OpeningEnd::At(time(17, 0, 0, 0));
    let ny = calendar(
        "America/New_York",
        WeekdaySet::MON_FRI,
        time(9, 0, 0, 0),
        close,
        &[],
        &[],
    );
    // 2027-01-04 (Monday, EST = UTC-5) and 2027-07-05 (Monday, EDT = UTC-4).
    assert!(!ny.is_open(ts("2027-01-04T13:59:59Z")));
    assert!(ny.is_open(ts("2027-01-04T14:00:00Z")));
    assert!(ny.is_open(ts("2027-07-05T13:00:00Z")));
    assert!(!ny.is_open(ts("2027-07-05T21:00:00Z")));
    assert_eq!(
        ny.next_opening(ts("2027-07-02T21:00:00Z")),
        Some(ts("2027-07-05T13:00:00Z"))
    );

    // Kamchatka is UTC+12: Monday 08:00 local is Sunday 20:00Z.
    let close = OpeningEnd::At(time(18, 0, 0, 0));
    let kam = calendar(
        "Asia/Kamchatka",
        WeekdaySet::MON_FRI,
        time(8, 0, 0, 0),
        close,
        &[],
        &[],
    );
    assert!(
        kam.is_open(ts("2027-03-07T20:00:00Z")),
        "Monday morning local, Sunday in UTC"
    );
    assert!(!kam.is_open(ts("2027-03-07T19:59:59Z")));
    assert_eq!(
        kam.next_opening(ts("2027-03-05T06:00:00Z")),
        Some(ts("2027-03-07T20:00:00Z"))
    );
}

#[test]
fn invalid_calendars_are_refused() {
    let zone = TimeZone::get("Europe/Moscow").expect("bundled");
    let err = BusinessCalendar::new(
        zone.clone(),
        WeekdaySet::MON_FRI,
        time(18, 0, 0, 0),
        OpeningEnd::At(time(8, 0, 0, 0)),
        BTreeSet::new(),
        BTreeSet::new(),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "opening time 18:00:00 is not before closing time 08:00:00"
    );

    let equal = BusinessCalendar::new(
        zone.clone(),
        WeekdaySet::MON_FRI,
        time(8, 0, 0, 0),
        OpeningEnd::At(time(8, 0, 0, 0)),
        BTreeSet::new(),
        BTreeSet::new(),
    );
    assert!(matches!(equal, Err(HoursError::OpenNotBeforeClose { .. })));

    let err = BusinessCalendar::new(
        zone,
        WeekdaySet::MON_FRI,
        time(8, 0, 0, 0),
        OpeningEnd::EndOfDay,
        dates(&["2027-01-09"]),
        dates(&["2027-01-09"]),
    )
    .unwrap_err();
    assert_eq!(
        err,
        HoursError::HolidayAndWorkingDay {
            date: date(2027, 1, 9)
        }
    );
}

#[test]
fn weekday_set_basics() {
    let mut set = WeekdaySet::EMPTY;
    assert!(set.is_empty());
    assert!(set.insert(Weekday::Saturday));
    assert!(!set.insert(Weekday::Saturday));
    assert!(set.contains(Weekday::Saturday));
    assert!(!set.contains(Weekday::Sunday));
    let week: WeekdaySet = [Weekday::Monday, Weekday::Friday].into_iter().collect();
    assert_eq!(
        week.iter().collect::<Vec<_>>(),
        vec![Weekday::Monday, Weekday::Friday]
    );
    assert_eq!(WeekdaySet::MON_FRI.iter().count(), 5);
    assert!(!WeekdaySet::MON_FRI.contains(Weekday::Sunday));
}
