//! Collecting a caller's keys into one answer (a menu choice, an account number, a
//! reading), sans-IO: keys and the time in, an answer out, [`DigitCollector::poll_timeout`]
//! for the next deadline.
//!
//! Rules: the first key must come within `first_digit` of the start, each next one within
//! `inter_digit` of the last; `#` ends the answer, `*` clears it and starts over (the
//! first-digit timer again); reaching `max_digits` ends it at once. An inter-digit timeout
//! with some digits is an answer; a first-digit timeout is [`Collected::NoInput`].

use std::time::{Duration, Instant};

/// How one answer is collected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CollectRules {
    pub first_digit: Duration,
    pub inter_digit: Duration,
    /// The answer ends by itself at this many digits (1 for a menu choice).
    pub max_digits: usize,
}

/// What came of the collection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Collected {
    /// Digits (0–9, A–D), without the `#`. Empty if the caller pressed only `#`.
    Digits(String),
    /// Nothing was keyed before the first-digit timeout.
    NoInput,
}

#[derive(Debug)]
pub struct DigitCollector {
    rules: CollectRules,
    digits: String,
    deadline: Option<Instant>,
}

impl DigitCollector {
    /// Starts collecting at `now`.
    pub fn start(rules: CollectRules, now: Instant) -> DigitCollector {
        DigitCollector {
            rules,
            digits: String::with_capacity(rules.max_digits),
            deadline: Some(now + rules.first_digit),
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) must be called; `None` once finished.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }

    /// The digits so far (for the timeline).
    pub fn digits(&self) -> &str {
        &self.digits
    }

    /// A key pressed at `now`. The answer, if this key completes it.
    pub fn handle_key(&mut self, key: char, now: Instant) -> Option<Collected> {
        self.deadline?;
        match key {
            '#' => self.finish(),
            '*' => {
                self.digits.clear();
                self.deadline = Some(now + self.rules.first_digit);
                None
            }
            _ => {
                self.digits.push(key);
                if self.digits.len() >= self.rules.max_digits {
                    return self.finish();
                }
                self.deadline = Some(now + self.rules.inter_digit);
                None
            }
        }
    }

    /// The deadline passed (called at or after [`poll_timeout`](Self::poll_timeout)).
    pub fn handle_timeout(&mut self, now: Instant) -> Option<Collected> {
        match self.deadline {
            Some(at) if now >= at => {
                if self.digits.is_empty() {
                    self.deadline = None;
                    Some(Collected::NoInput)
                } else {
                    self.finish()
                }
            }
            _ => None,
        }
    }

    fn finish(&mut self) -> Option<Collected> {
        self.deadline = None;
        Some(Collected::Digits(std::mem::take(&mut self.digits)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULES: CollectRules = CollectRules {
        first_digit: Duration::from_secs(5),
        inter_digit: Duration::from_secs(3),
        max_digits: 10,
    };

    fn ms(t0: Instant, ms: u64) -> Instant {
        t0 + Duration::from_millis(ms)
    }

    #[test]
    fn hash_ends_the_answer() {
        let t0 = Instant::now();
        let mut c = DigitCollector::start(RULES, t0);
        assert_eq!(c.handle_key('4', ms(t0, 1000)), None);
        assert_eq!(c.handle_key('2', ms(t0, 2000)), None);
        assert_eq!(
            c.handle_key('#', ms(t0, 2500)),
            Some(Collected::Digits("42".into()))
        );
        assert_eq!(c.poll_timeout(), None);
        assert_eq!(c.handle_key('7', ms(t0, 2600)), None, "finished");
    }

    #[test]
    fn silence_at_the_start_is_no_input() {
        let t0 = Instant::now();
        let mut c = DigitCollector::start(RULES, t0);
        assert_eq!(c.poll_timeout(), Some(ms(t0, 5000)));
        assert_eq!(c.handle_timeout(ms(t0, 4999)), None);
        assert_eq!(c.handle_timeout(ms(t0, 5000)), Some(Collected::NoInput));
        assert_eq!(c.handle_timeout(ms(t0, 9000)), None);
    }

    #[test]
    fn a_pause_after_some_digits_ends_the_answer() {
        let t0 = Instant::now();
        let mut c = DigitCollector::start(RULES, t0);
        c.handle_key('1', ms(t0, 4000));
        assert_eq!(
            c.poll_timeout(),
            Some(ms(t0, 7000)),
            "inter-digit from now on"
        );
        assert_eq!(
            c.handle_timeout(ms(t0, 7000)),
            Some(Collected::Digits("1".into()))
        );
    }

    #[test]
    fn star_starts_over() {
        let t0 = Instant::now();
        let mut c = DigitCollector::start(RULES, t0);
        c.handle_key('9', ms(t0, 500));
        assert_eq!(c.handle_key('*', ms(t0, 1000)), None);
        assert_eq!(c.digits(), "");
        assert_eq!(c.poll_timeout(), Some(ms(t0, 6000)), "first-digit again");
        c.handle_key('3', ms(t0, 1500));
        assert_eq!(
            c.handle_key('#', ms(t0, 1600)),
            Some(Collected::Digits("3".into()))
        );
    }

    #[test]
    fn a_menu_choice_ends_at_one_key() {
        let t0 = Instant::now();
        let rules = CollectRules {
            max_digits: 1,
            ..RULES
        };
        let mut c = DigitCollector::start(rules, t0);
        assert_eq!(
            c.handle_key('1', ms(t0, 800)),
            Some(Collected::Digits("1".into()))
        );
    }
}
