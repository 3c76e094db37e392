//! Operators' presence: who is logged in, who is free, and since when.
//!
//! One `Operator` per configured id, in configuration order (the order breaks ties between
//! operators who became idle at the same instant, so that runs repeat exactly). The
//! registrar's view (`registered`) and the ACD's view (`OperatorState`) are kept apart because
//! they change at different moments: a registration that expires during a conversation does
//! not end the conversation, it only means the operator goes `Offline` instead of `WrapUp`
//! when the call ends.
//!
//! ```text
//!  Offline ──online──► Available ──ring──► Ringing ──answered──► Talking ──ended──► WrapUp
//!     ▲                 ▲  ▲  │ ▲             │                      │                │
//!     │                 │  │  │ └─failed/cancelled (NoAnswer ×N → Paused(NoAnswer))  │
//!     │                 │  │  └──pause──► Paused ◄── pause (Talking: after the call)  │
//!     │                 │  └────────────resume─┘                                      │
//!     └─offline (any)   └──────────────────────── wrap_up elapsed ────────────────────┘
//! ```
//!
//! Invariants: an operator is `Ringing` or `Talking` for at most one call; `idle_since` is
//! the instant the operator last became free for a new call (wrap-up ended, came online,
//! resumed) and orders the longest-idle choice; this module only records state: the rules
//! about when to move between states live in `acd.rs`.

use std::time::Instant;

use super::CallRef;

/// An operator's configured id (the SIP user name they register with), e.g. `"101"`.
pub type OperatorId = String;

/// Where an operator is, as the live board and the register see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OperatorState {
    /// Not registered: never rung.
    Offline,
    /// Registered and free: may be rung.
    Available,
    /// Their phone is ringing for this caller.
    Ringing(CallRef),
    /// In conversation with this caller.
    Talking(CallRef),
    /// The call just ended; a short pause before the next one.
    WrapUp,
    /// Logged in but not taking calls.
    Paused(PauseReason),
}

impl OperatorState {
    /// Logged in and taking calls now or soon: counts towards the waiting time estimate.
    pub fn is_staffed(&self) -> bool {
        !matches!(self, OperatorState::Offline | OperatorState::Paused(_))
    }

    /// The call this operator is ringing for or talking to.
    pub fn call(&self) -> Option<CallRef> {
        match self {
            OperatorState::Ringing(call) | OperatorState::Talking(call) => Some(*call),
            _ => None,
        }
    }
}

/// Why an operator is paused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PauseReason {
    /// Asked for, from the console or with `*50` on the phone; free text for the board.
    Manual(String),
    /// Paused by the ACD after too many consecutive unanswered rings.
    NoAnswer,
}

/// One operator's presence.
#[derive(Debug, Clone)]
pub(crate) struct Operator {
    pub id: OperatorId,
    pub state: OperatorState,
    /// Registered with the registrar right now.
    pub registered: bool,
    /// When they last became free for a new call; `Some` while `Available`.
    pub idle_since: Option<Instant>,
    /// End of the wrap-up; `Some` exactly while `WrapUp`.
    pub wrap_until: Option<Instant>,
    /// Start of the conversation; `Some` exactly while `Talking`.
    pub talk_since: Option<Instant>,
    /// Consecutive rings that went unanswered (or failed); reset by answering or resuming.
    pub no_answers: u32,
    /// A pause asked for during a conversation, taken when it ends.
    pub pending_pause: Option<PauseReason>,
    /// No longer in the configuration; kept only until the conversation in progress ends.
    pub removed: bool,
}

impl Operator {
    pub fn new(id: OperatorId) -> Operator {
        Operator {
            id,
            state: OperatorState::Offline,
            registered: false,
            idle_since: None,
            wrap_until: None,
            talk_since: None,
            no_answers: 0,
            pending_pause: None,
            removed: false,
        }
    }

    /// Free for a new call from `since` (the longest-idle order starts over).
    pub fn make_available(&mut self, since: Instant) {
        self.state = OperatorState::Available;
        self.idle_since = Some(since);
        self.wrap_until = None;
        self.talk_since = None;
    }

    /// Back to `Available` after a ring that did not connect: the operator did not get a
    /// call, so their place in the longest-idle order is unchanged.
    pub fn ring_over(&mut self) {
        debug_assert!(
            self.idle_since.is_some(),
            "only an available operator is rung"
        );
        self.state = OperatorState::Available;
    }

    pub fn go_offline(&mut self) {
        self.state = OperatorState::Offline;
        self.idle_since = None;
        self.wrap_until = None;
        self.talk_since = None;
        self.pending_pause = None;
    }

    pub fn pause(&mut self, reason: PauseReason) {
        self.state = OperatorState::Paused(reason);
        self.idle_since = None;
        self.wrap_until = None;
        self.talk_since = None;
        self.pending_pause = None;
    }
}

/// All operators, in configuration order.
#[derive(Debug, Clone, Default)]
pub(crate) struct Roster {
    operators: Vec<Operator>,
}

impl Roster {
    pub fn new(ids: &[OperatorId]) -> Roster {
        let mut roster = Roster::default();
        for id in ids {
            if roster.get(id).is_none() {
                roster.operators.push(Operator::new(id.clone()));
            }
        }
        roster
    }

    pub fn get(&self, id: &str) -> Option<&Operator> {
        self.operators.iter().find(|o| o.id == id)
    }

    pub fn get_mut(&mut self, id: &str) -> Option<&mut Operator> {
        self.operators.iter_mut().find(|o| o.id == id)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Operator> {
        self.operators.iter()
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut Operator> {
        self.operators.iter_mut()
    }

    /// The operator ringing for or talking to `call`.
    pub fn serving(&self, call: CallRef) -> Option<&Operator> {
        self.operators.iter().find(|o| o.state.call() == Some(call))
    }

    /// Anyone registered (paused operators count: they are at their desks).
    pub fn anyone_logged_in(&self) -> bool {
        self.operators.iter().any(|o| o.registered && !o.removed)
    }

    /// Operators taking calls now or soon (the ETA divides by this).
    pub fn staffed(&self) -> usize {
        self.operators
            .iter()
            .filter(|o| !o.removed && o.state.is_staffed())
            .count()
    }

    pub fn any_available(&self) -> bool {
        self.operators
            .iter()
            .any(|o| o.state == OperatorState::Available)
    }

    /// The available operator idle the longest among those `eligible` accepts; ties go to
    /// the one listed first in the configuration.
    pub fn longest_idle(&self, mut eligible: impl FnMut(&str) -> bool) -> Option<&OperatorId> {
        self.operators
            .iter()
            .filter(|o| o.state == OperatorState::Available && eligible(&o.id))
            // `min_by_key` keeps the first of equal keys: configuration order breaks ties.
            .min_by_key(|o| o.idle_since)
            .map(|o| &o.id)
    }

    /// Drop an operator entirely (removed from the configuration).
    pub fn remove(&mut self, id: &str) -> Option<Operator> {
        let index = self.operators.iter().position(|o| o.id == id)?;
        Some(self.operators.remove(index))
    }

    /// Adopt a new configuration's list: keep the state of operators that stay, add new ones
    /// `Offline`, and order by the new list (leaving operators still flagged `removed` last).
    pub fn reorder(&mut self, ids: &[OperatorId]) {
        let mut old = std::mem::take(&mut self.operators);
        for id in ids {
            if self.get(id).is_some() {
                continue; // a duplicate id in the list
            }
            let operator = match old.iter().position(|o| &o.id == id) {
                Some(index) => old.remove(index),
                None => Operator::new(id.clone()),
            };
            self.operators.push(operator);
        }
        self.operators.extend(old);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn ids(list: &[&str]) -> Vec<OperatorId> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn longest_idle_prefers_the_earliest_idle_then_configuration_order() {
        let t0 = Instant::now();
        let mut roster = Roster::new(&ids(&["101", "102", "103"]));
        assert_eq!(
            roster.longest_idle(|_| true),
            None,
            "nobody is available yet"
        );
        for id in ["101", "102", "103"] {
            roster.get_mut(id).unwrap().make_available(t0);
        }
        assert_eq!(roster.longest_idle(|_| true).unwrap(), "101");
        roster
            .get_mut("101")
            .unwrap()
            .make_available(t0 + Duration::from_secs(5));
        assert_eq!(roster.longest_idle(|_| true).unwrap(), "102");
        assert_eq!(roster.longest_idle(|id| id != "102").unwrap(), "103");
        roster.get_mut("103").unwrap().state = OperatorState::WrapUp;
        assert_eq!(roster.longest_idle(|id| id != "102").unwrap(), "101");
    }

    #[test]
    fn duplicates_are_ignored_and_reorder_keeps_state() {
        let t0 = Instant::now();
        let mut roster = Roster::new(&ids(&["101", "102", "101"]));
        assert_eq!(roster.iter().count(), 2);
        roster.get_mut("102").unwrap().make_available(t0);
        roster.reorder(&ids(&["103", "102"]));
        let order: Vec<&str> = roster.iter().map(|o| o.id.as_str()).collect();
        assert_eq!(order, ["103", "102", "101"]);
        assert_eq!(roster.get("102").unwrap().state, OperatorState::Available);
        assert_eq!(roster.get("103").unwrap().state, OperatorState::Offline);
    }

    #[test]
    fn paused_operators_are_logged_in_but_not_staffed() {
        let mut roster = Roster::new(&ids(&["101"]));
        assert!(!roster.anyone_logged_in());
        let op = roster.get_mut("101").unwrap();
        op.registered = true;
        op.pause(PauseReason::Manual("lunch".into()));
        assert!(roster.anyone_logged_in());
        assert_eq!(roster.staffed(), 0);
    }
}
