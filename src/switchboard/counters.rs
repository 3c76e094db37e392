//! Counters of what the switchboard has done since start, for `/metrics`. Plain integers in
//! ordered maps (a handful of keys each); read through `Switchboard::counters`.

use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    /// Calls ended, by register outcome.
    pub calls_by_outcome: BTreeMap<&'static str, u64>,
    /// Ring attempts, by result (`answered`, `cancelled`, `busy`…).
    pub rings_by_result: BTreeMap<String, u64>,
    /// SIP requests received, by method.
    pub requests_in: BTreeMap<String, u64>,
    /// SIP responses received (to our requests), by status code.
    pub responses_in: BTreeMap<u16, u64>,
    /// SIP responses we sent, by status code.
    pub responses_out: BTreeMap<u16, u64>,
}

impl Counters {
    pub(super) fn bump<K: Ord>(map: &mut BTreeMap<K, u64>, key: K) {
        *map.entry(key).or_insert(0) += 1;
    }
}
