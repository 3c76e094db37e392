//! Counters of what the switchboard has done since start, for `/metrics`. Plain integers in
//! ordered maps (a handful of keys each); read through `Switchboard::counters`.

use std::collections::BTreeMap;

use crate::model::{Outcome, RingResult};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    /// Calls ended, by register outcome.
    pub calls_by_outcome: BTreeMap<&'static str, u64>,
    /// Ring attempts, by result (`answered`, `no_answer`, `busy`…).
    pub rings_by_result: BTreeMap<String, u64>,
    /// SIP requests received, by method.
    pub requests_in: BTreeMap<String, u64>,
    /// SIP responses received (to our requests), by status code.
    pub responses_in: BTreeMap<u16, u64>,
    /// SIP responses we sent, by status code.
    pub responses_out: BTreeMap<u16, u64>,
    /// Requests and callers turned away by a limit, by limit: `max_calls`, `max_waiting`,
    /// and the per-source rates (`invite_rate`, `trunk_invite_rate`, `register_rate`,
    /// `options_rate`).
    pub limited: BTreeMap<&'static str, u64>,
    /// How callers left the topic menu: by the topic chosen, `operator` (0 pressed), or
    /// `no_choice` (silence or wrong keys to every question).
    pub menu_results: BTreeMap<String, u64>,
}

impl Counters {
    pub(super) fn count_outcome(&mut self, outcome: Outcome) {
        *self.calls_by_outcome.entry(outcome.as_str()).or_insert(0) += 1;
    }

    pub(super) fn count_limit(&mut self, limit: &'static str) {
        *self.limited.entry(limit).or_insert(0) += 1;
    }

    pub(super) fn count_menu_result(&mut self, result: &str) {
        match self.menu_results.get_mut(result) {
            Some(n) => *n += 1,
            None => {
                self.menu_results.insert(result.to_owned(), 1);
            }
        }
    }

    pub(super) fn count_ring(&mut self, result: RingResult) {
        *self
            .rings_by_result
            .entry(result.as_str().to_string())
            .or_insert(0) += 1;
    }
}
