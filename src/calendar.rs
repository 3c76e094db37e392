//! The business calendar: when the hotline takes calls. Sans-IO: the wall-clock instant is
//! always an argument, nothing here reads a clock.
//!
//! Model: a civil date in the configured zone is a *working date* when (its weekday is one
//! of the opening days AND it is not a holiday) OR it is a moved working day. A working
//! date has one open period `[open, close)` in local time, `close` possibly being the end
//! of the day ("24:00"). Local times are turned into instants with RFC 5545 / jiff
//! "compatible" disambiguation: a time in a DST gap moves forward by the gap, a time in a
//! fold takes its first occurrence.
//!
//! Invariants (checked by [`BusinessCalendar::new`]): `open < close`; no date is both a
//! holiday and a moved working day. Periods that touch (a 24-hour day followed by one
//! opening at 00:00) are treated as one open stretch: [`BusinessCalendar::closes_at`]
//! reports when the line really closes, not the midnight in between. Every search is
//! bounded by [`HORIZON_DAYS`], so a calendar that never opens answers `None` quickly.

use std::collections::BTreeSet;
use std::fmt;

use jiff::civil::{Date, Time, Weekday};
use jiff::tz::TimeZone;
use jiff::Timestamp;

/// How far ahead (in days) the calendar looks for an opening or a closing. A year plus a
/// margin: enough for any real holiday run, small enough to stay cheap.
pub const HORIZON_DAYS: usize = 400;

/// A set of weekdays, Monday to Sunday.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct WeekdaySet(u8);

impl WeekdaySet {
    /// No day at all: a calendar that only opens on moved working days.
    pub const EMPTY: WeekdaySet = WeekdaySet(0);
    /// Monday to Friday.
    pub const MON_FRI: WeekdaySet = WeekdaySet(0b0001_1111);
    /// Every day of the week.
    pub const ALL: WeekdaySet = WeekdaySet(0b0111_1111);

    fn bit(day: Weekday) -> u8 {
        1 << day.to_monday_zero_offset()
    }

    /// Adds `day`; returns false if it was already there.
    pub fn insert(&mut self, day: Weekday) -> bool {
        let had = self.contains(day);
        self.0 |= Self::bit(day);
        !had
    }

    /// Whether `day` is in the set.
    pub fn contains(&self, day: Weekday) -> bool {
        self.0 & Self::bit(day) != 0
    }

    /// Whether the set has no day.
    pub fn is_empty(&self) -> bool {
        self.0 == 0
    }

    /// The days in the set, Monday first.
    pub fn iter(&self) -> impl Iterator<Item = Weekday> + '_ {
        (0..7)
            .map(|i| Weekday::from_monday_zero_offset(i).expect("0..7 are weekdays"))
            .filter(|d| self.contains(*d))
    }
}

impl FromIterator<Weekday> for WeekdaySet {
    fn from_iter<I: IntoIterator<Item = Weekday>>(iter: I) -> Self {
        let mut set = WeekdaySet::EMPTY;
        for day in iter {
            set.insert(day);
        }
        set
    }
}

impl fmt::Debug for WeekdaySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

/// When an open period ends on its own date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpeningEnd {
    /// At this local time (exclusive).
    At(Time),
    /// At the end of the day, written "24:00": the next date's midnight (exclusive).
    EndOfDay,
}

impl fmt::Display for OpeningEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpeningEnd::At(t) => write!(f, "{}", t.strftime("%H:%M:%S")),
            OpeningEnd::EndOfDay => f.write_str("24:00:00"),
        }
    }
}

/// Why a calendar cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HoursError {
    /// The line would close before (or when) it opens on the same day.
    #[error("opening time {open} is not before closing time {close}", open = .open.strftime("%H:%M:%S"))]
    OpenNotBeforeClose {
        /// The configured opening time.
        open: Time,
        /// The configured closing time.
        close: OpeningEnd,
    },
    /// A date cannot be closed and open at once.
    #[error("{date} is both a holiday and a moved working day")]
    HolidayAndWorkingDay {
        /// The conflicting date.
        date: Date,
    },
}

/// The hotline's opening hours in one time zone.
#[derive(Clone, Debug)]
pub struct BusinessCalendar {
    zone: TimeZone,
    days: WeekdaySet,
    open: Time,
    close: OpeningEnd,
    holidays: BTreeSet<Date>,
    working_days: BTreeSet<Date>,
}

impl BusinessCalendar {
    /// Builds a calendar; see the module comment for what makes a working date.
    pub fn new(
        zone: TimeZone,
        days: WeekdaySet,
        open: Time,
        close: OpeningEnd,
        holidays: BTreeSet<Date>,
        working_days: BTreeSet<Date>,
    ) -> Result<Self, HoursError> {
        if let OpeningEnd::At(close_time) = close {
            if open >= close_time {
                return Err(HoursError::OpenNotBeforeClose { open, close });
            }
        }
        if let Some(date) = holidays.intersection(&working_days).next() {
            return Err(HoursError::HolidayAndWorkingDay { date: *date });
        }
        Ok(BusinessCalendar {
            zone,
            days,
            open,
            close,
            holidays,
            working_days,
        })
    }

    /// The zone the opening hours are written in.
    pub fn zone(&self) -> &TimeZone {
        &self.zone
    }

    /// The weekdays the line normally opens.
    pub fn days(&self) -> WeekdaySet {
        self.days
    }

    /// Local opening time on a working date.
    pub fn open(&self) -> Time {
        self.open
    }

    /// Local closing time on a working date.
    pub fn close(&self) -> OpeningEnd {
        self.close
    }

    /// Dates closed although their weekday is an opening day.
    pub fn holidays(&self) -> &BTreeSet<Date> {
        &self.holidays
    }

    /// Dates open although their weekday is not an opening day.
    pub fn working_days(&self) -> &BTreeSet<Date> {
        &self.working_days
    }

    /// Whether the line opens at all on this local date.
    pub fn is_working_date(&self, date: Date) -> bool {
        self.working_days.contains(&date)
            || (self.days.contains(date.weekday()) && !self.holidays.contains(&date))
    }

    /// Is the line open at this instant? Periods are `[open, close)`: with 08:00-18:00,
    /// 08:00:00 and 17:59:59.999 are open, 18:00:00 is closed.
    pub fn is_open(&self, at: Timestamp) -> bool {
        self.period_containing(at).is_some()
    }

    /// When the current open stretch ends (touching periods joined), or `None` if the line
    /// is closed at `at`.
    pub fn closes_at(&self, at: Timestamp) -> Option<Timestamp> {
        let (_, mut end) = self.period_containing(at)?;
        // A 24-hour day followed by a day opening at midnight is one stretch: keep going
        // while a period starts exactly where the previous one ended.
        for _ in 0..HORIZON_DAYS {
            match self.period_containing(end) {
                Some((_, next_end)) if next_end > end => end = next_end,
                _ => return Some(end),
            }
        }
        // Open for the whole horizon: the end lies beyond what we look at; report the
        // horizon's edge rather than claiming the line never closes.
        Some(end)
    }

    /// The next instant the line opens. If closed at `at`, the first opening after `at`;
    /// if open, the first opening after the current stretch closes. `None` if there is no
    /// opening within [`HORIZON_DAYS`] (for instance no opening days at all).
    pub fn next_opening(&self, at: Timestamp) -> Option<Timestamp> {
        let from = match self.closes_at(at) {
            Some(end) => end,
            None => at,
        };
        // The day before too: with "compatible" resolution a period can start on the
        // previous local date's clock and still lie after `from`.
        let mut date = self.local_date(from).yesterday().ok()?;
        for _ in 0..HORIZON_DAYS + 2 {
            if let Some((start, _)) = self.period(date) {
                if start >= from {
                    return Some(start);
                }
            }
            date = date.tomorrow().ok()?;
        }
        None
    }

    fn local_date(&self, at: Timestamp) -> Date {
        self.zone.to_datetime(at).date()
    }

    /// The open period of a date as instants, or `None` if the date is not a working date
    /// or its period is empty (possible only when a DST gap swallows it).
    fn period(&self, date: Date) -> Option<(Timestamp, Timestamp)> {
        if !self.is_working_date(date) {
            return None;
        }
        let start = self.zone.to_timestamp(date.to_datetime(self.open)).ok()?;
        let end = match self.close {
            OpeningEnd::At(t) => self.zone.to_timestamp(date.to_datetime(t)).ok()?,
            OpeningEnd::EndOfDay => {
                let next = date.tomorrow().ok()?;
                self.zone
                    .to_timestamp(next.to_datetime(Time::midnight()))
                    .ok()?
            }
        };
        (start < end).then_some((start, end))
    }

    fn period_containing(&self, at: Timestamp) -> Option<(Timestamp, Timestamp)> {
        let today = self.local_date(at);
        // Neighbouring dates as well: DST resolution can move a period's edge across a
        // local midnight, and "24:00" ends on the next date.
        [today.yesterday().ok(), Some(today), today.tomorrow().ok()]
            .into_iter()
            .flatten()
            .filter_map(|d| self.period(d))
            .find(|(start, end)| *start <= at && at < *end)
    }
}

#[cfg(test)]
mod tests;
