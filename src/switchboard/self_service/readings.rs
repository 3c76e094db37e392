//! The meter-readings dialogue: the account number, then for each of its meters which
//! meter it is, the reading, the reading read back digit by digit, and 1 to confirm or 2
//! to enter it again. A reading below the last one or above the monthly maximum is
//! refused with its reason and asked again; three failures on one question (silence,
//! an unknown account, a refused reading), or 0, send the caller to an operator with the
//! topic set. Each confirmed reading is handed out to be stored.
//!
//! Run loop: [`Readings::start`] gives the first [`Step`]; every answer the call collects
//! goes to [`Readings::handle_collected`], the database's answer to
//! [`Step::LookUpAccount`] to [`Readings::handle_meters`]; each returns the next step and
//! any reading to store.

use std::time::Duration;

use super::{End, Step};
use crate::media::dtmf::collector::{CollectRules, Collected};
use crate::model::meters::{Meter, MeterKind};

/// Failures on one question before the caller goes to an operator.
const MAX_FAILURES: u8 = 3;
/// Longest account number and reading a caller may key.
const MAX_DIGITS: usize = 16;

#[derive(Debug, Clone)]
pub struct ReadingRules {
    /// The most a meter may advance in a month (whole m³).
    pub max_monthly: i64,
    pub first_digit: Duration,
    pub inter_digit: Duration,
    /// The topic set on the call if it goes on to an operator.
    pub topic: String,
}

/// A confirmed reading, to be stored with the call's id, the time and source `phone`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    pub account: String,
    pub meter: String,
    pub value: i64,
    pub previous: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Account,
    LookingUp,
    Reading,
    Confirm(i64),
    Over,
}

pub struct Readings {
    rules: ReadingRules,
    state: State,
    failures: u8,
    account: String,
    meters: Vec<Meter>,
    current: usize,
}

impl Readings {
    pub fn start(rules: ReadingRules) -> (Readings, Step) {
        let r = Readings {
            rules,
            state: State::Account,
            failures: 0,
            account: String::new(),
            meters: Vec::new(),
            current: 0,
        };
        let step = r.ask(vec!["enter_account".into()], MAX_DIGITS);
        (r, step)
    }

    /// The caller's answer to the last [`Step::Ask`].
    pub fn handle_collected(&mut self, answer: Collected) -> (Step, Option<Accepted>) {
        let digits = match answer {
            Collected::Digits(d) if !d.is_empty() => d,
            _ => return (self.fail("no_input"), None),
        };
        if digits == "0" {
            return (self.hand_to_operator(), None);
        }
        match self.state.clone() {
            State::Account => {
                self.account = digits.clone();
                self.state = State::LookingUp;
                (Step::LookUpAccount(digits), None)
            }
            State::Reading => (self.check_reading(&digits), None),
            State::Confirm(value) => match digits.as_str() {
                "1" => self.accept(value),
                "2" => {
                    self.state = State::Reading;
                    (self.ask(vec!["enter_reading".into()], MAX_DIGITS), None)
                }
                _ => (self.fail("no_input"), None),
            },
            // An answer the dialogue did not ask for (a late key): nothing changes.
            State::LookingUp | State::Over => (self.ask(Vec::new(), MAX_DIGITS), None),
        }
    }

    /// The database's answer: the account's meters (empty: unknown account).
    pub fn handle_meters(&mut self, meters: Vec<Meter>) -> Step {
        if self.state != State::LookingUp {
            return self.ask(Vec::new(), MAX_DIGITS);
        }
        if meters.is_empty() {
            self.state = State::Account;
            return self.fail("unknown_account");
        }
        self.meters = meters;
        self.current = 0;
        self.failures = 0;
        self.ask_meter(Vec::new())
    }

    fn check_reading(&mut self, digits: &str) -> Step {
        let Ok(value) = digits.parse::<i64>() else {
            return self.fail("reading_too_high");
        };
        let last = self.meters[self.current].last_reading;
        if value < last {
            return self.fail("reading_too_low");
        }
        if value - last > self.rules.max_monthly {
            return self.fail("reading_too_high");
        }
        self.state = State::Confirm(value);
        let mut prompts = vec!["you_entered".to_owned()];
        prompts.extend(spoken_digits(digits));
        prompts.push("confirm_reading".into());
        self.ask(prompts, 1)
    }

    fn accept(&mut self, value: i64) -> (Step, Option<Accepted>) {
        let meter = &self.meters[self.current];
        let accepted = Accepted {
            account: self.account.clone(),
            meter: meter.meter.clone(),
            value,
            previous: meter.last_reading,
        };
        self.current += 1;
        self.failures = 0;
        let step = if self.current == self.meters.len() {
            self.state = State::Over;
            Step::Finish {
                prompts: vec!["reading_saved".into(), "readings_done".into()],
                end: End::Settled,
            }
        } else {
            self.ask_meter(vec!["reading_saved".into()])
        };
        (step, Some(accepted))
    }

    fn ask_meter(&mut self, mut prompts: Vec<String>) -> Step {
        self.state = State::Reading;
        let meter = &self.meters[self.current];
        prompts.push(
            match meter.kind {
                MeterKind::Cold => "meter_cold",
                MeterKind::Hot => "meter_hot",
            }
            .into(),
        );
        let number: Vec<String> = spoken_digits(&meter.meter).collect();
        if !number.is_empty() {
            prompts.push("meter_number".into());
            prompts.extend(number);
        }
        prompts.push("enter_reading".into());
        self.ask(prompts, MAX_DIGITS)
    }

    /// One more failure on the current question: its reason and the question again, or
    /// the operator after the third.
    fn fail(&mut self, reason: &str) -> Step {
        self.failures += 1;
        tracing::debug!(reason, failures = self.failures, "readings: asked again");
        if self.failures >= MAX_FAILURES {
            return self.hand_to_operator();
        }
        let question = match self.state {
            State::Account | State::LookingUp => "enter_account",
            State::Reading => "enter_reading",
            State::Confirm(_) => "confirm_reading",
            State::Over => return self.hand_to_operator(),
        };
        if self.state == State::LookingUp {
            self.state = State::Account;
        }
        let max = if matches!(self.state, State::Confirm(_)) {
            1
        } else {
            MAX_DIGITS
        };
        self.ask(vec![reason.to_owned(), question.to_owned()], max)
    }

    fn hand_to_operator(&mut self) -> Step {
        self.state = State::Over;
        Step::Finish {
            prompts: vec!["to_operator".into()],
            end: End::Operator {
                topic: Some(self.rules.topic.clone()),
            },
        }
    }

    fn ask(&self, prompts: Vec<String>, max_digits: usize) -> Step {
        Step::Ask {
            prompts,
            rules: CollectRules {
                first_digit: self.rules.first_digit,
                inter_digit: self.rules.inter_digit,
                max_digits,
            },
        }
    }
}

/// The digit prompts that read `text`'s digits one by one (other characters are skipped).
fn spoken_digits(text: &str) -> impl Iterator<Item = String> + '_ {
    text.chars()
        .filter(char::is_ascii_digit)
        .map(|d| format!("digit_{d}"))
}

#[cfg(test)]
#[path = "readings_tests.rs"]
mod tests;
