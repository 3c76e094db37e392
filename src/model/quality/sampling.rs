//! Which calls go on the "to grade" list, sans-IO: the sampling rules applied to answered
//! calls the caller read from the register. Randomness is an input (a seed), so a run is
//! repeatable in tests and two runs on one day pick the same calls.
//!
//! Rules (each off when 0 / false):
//! - `random_per_week`: N random answered calls per operator per week;
//! - `longer_than_ms`: every call whose talk time is longer;
//! - `first_calls`: the first N answered calls of each operator (new operators are heard
//!   first);
//! - `flagged`: every flagged call.
//!
//! A call picked by several rules is listed once, under the first rule in the order above
//! that is more specific: flagged, long, first calls, random. Graders are assigned round
//! robin in pick order.

use std::collections::{BTreeMap, BTreeSet};

use rand::rngs::SmallRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

/// The sampling rules (`[quality]` in the configuration).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SamplingRules {
    pub random_per_week: u32,
    pub longer_than_ms: i64,
    pub first_calls: u32,
    pub flagged: bool,
    /// Console users the picks are assigned to, in turn; empty: unassigned.
    pub graders: Vec<String>,
}

/// An answered call the rules may pick.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub call_id: String,
    pub operator_id: String,
    /// The week it belongs to (any key, e.g. the Monday's date).
    pub week: String,
    pub talk_ms: i64,
    /// Whether it is among its operator's first `first_calls` answered calls.
    pub among_first: bool,
    pub flagged: bool,
}

/// One call to put on the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pick {
    pub call_id: String,
    /// `flagged`, `long_call`, `first_calls` or `random_weekly`.
    pub rule: &'static str,
    pub grader: Option<String>,
}

/// The calls the rules pick among `candidates` (skipping `already`: listed or graded).
pub fn pick(
    rules: &SamplingRules,
    candidates: &[Candidate],
    already: &BTreeSet<String>,
    seed: u64,
) -> Vec<Pick> {
    let mut chosen: Vec<(&str, &'static str)> = Vec::new();
    let mut taken: BTreeSet<&str> = already.iter().map(String::as_str).collect();
    fn take<'c>(
        c: &'c Candidate,
        rule: &'static str,
        chosen: &mut Vec<(&'c str, &'static str)>,
        taken: &mut BTreeSet<&'c str>,
    ) {
        if taken.insert(c.call_id.as_str()) {
            chosen.push((c.call_id.as_str(), rule));
        }
    }
    for c in candidates {
        if rules.flagged && c.flagged {
            take(c, "flagged", &mut chosen, &mut taken);
        }
    }
    for c in candidates {
        if rules.longer_than_ms > 0 && c.talk_ms > rules.longer_than_ms {
            take(c, "long_call", &mut chosen, &mut taken);
        }
    }
    for c in candidates {
        if rules.first_calls > 0 && c.among_first {
            take(c, "first_calls", &mut chosen, &mut taken);
        }
    }
    if rules.random_per_week > 0 {
        let mut groups: BTreeMap<(&str, &str), Vec<&Candidate>> = BTreeMap::new();
        for c in candidates {
            groups
                .entry((c.operator_id.as_str(), c.week.as_str()))
                .or_default()
                .push(c);
        }
        let mut rng = SmallRng::seed_from_u64(seed);
        for ((_, _), mut group) in groups {
            // Calls already picked for this operator and week count towards N.
            let have = group
                .iter()
                .filter(|c| {
                    already.contains(&c.call_id) || chosen.iter().any(|(id, _)| *id == c.call_id)
                })
                .count();
            let want = (rules.random_per_week as usize).saturating_sub(have);
            group.retain(|c| !taken.contains(c.call_id.as_str()));
            group.shuffle(&mut rng);
            for c in group.into_iter().take(want) {
                take(c, "random_weekly", &mut chosen, &mut taken);
            }
        }
    }
    chosen
        .into_iter()
        .enumerate()
        .map(|(n, (call_id, rule))| Pick {
            call_id: call_id.to_owned(),
            rule,
            grader: (!rules.graders.is_empty())
                .then(|| rules.graders[n % rules.graders.len()].clone()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(id: &str, op: &str, week: &str, talk_s: i64) -> Candidate {
        Candidate {
            call_id: id.into(),
            operator_id: op.into(),
            week: week.into(),
            talk_ms: talk_s * 1000,
            among_first: false,
            flagged: false,
        }
    }

    #[test]
    fn each_rule_picks_what_it_says_once_per_call() {
        let mut calls: Vec<Candidate> = (0..10)
            .map(|i| call(&format!("a{i}"), "101", "w1", 60))
            .chain((0..10).map(|i| call(&format!("b{i}"), "102", "w1", 60)))
            .collect();
        calls[3].talk_ms = 20 * 60_000;
        calls[4].flagged = true;
        calls[12].among_first = true;
        let rules = SamplingRules {
            random_per_week: 2,
            longer_than_ms: 10 * 60_000,
            first_calls: 1,
            flagged: true,
            graders: vec!["anna".into(), "boris".into()],
        };
        let picks = pick(&rules, &calls, &BTreeSet::new(), 7);
        let rule_of = |id: &str| picks.iter().find(|p| p.call_id == id).map(|p| p.rule);
        assert_eq!(rule_of("a4"), Some("flagged"));
        assert_eq!(rule_of("a3"), Some("long_call"));
        assert_eq!(rule_of("b2"), Some("first_calls"));
        // 101 has two picks already (flagged, long): its random quota is met.
        let random_101 = picks
            .iter()
            .filter(|p| p.call_id.starts_with('a') && p.rule == "random_weekly")
            .count();
        assert_eq!(random_101, 0);
        // 102 has one (first calls): one random more.
        let random_102 = picks
            .iter()
            .filter(|p| p.call_id.starts_with('b') && p.rule == "random_weekly")
            .count();
        assert_eq!(random_102, 1);
        let ids: BTreeSet<&str> = picks.iter().map(|p| p.call_id.as_str()).collect();
        assert_eq!(ids.len(), picks.len(), "each call once");
        assert_eq!(picks[0].grader.as_deref(), Some("anna"));
        assert_eq!(picks[1].grader.as_deref(), Some("boris"));
        // Same seed, same picks; already listed calls are skipped.
        assert_eq!(pick(&rules, &calls, &BTreeSet::new(), 7), picks);
        let already: BTreeSet<String> = ids.iter().map(|s| s.to_string()).collect();
        assert!(pick(&rules, &calls, &already, 7).is_empty());
    }

    #[test]
    fn rules_that_are_off_pick_nothing() {
        let mut c = call("a", "101", "w1", 3600);
        c.flagged = true;
        c.among_first = true;
        assert!(pick(&SamplingRules::default(), &[c], &BTreeSet::new(), 1).is_empty());
    }
}
