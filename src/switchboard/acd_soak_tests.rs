//! Randomized soak: thousands of seeded random events, stale and crossing ones included (as a
//! network delivers them), with the ACD's promises checked after every one against a model
//! the test keeps from the actions alone.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::tests::{config, drain, ids, s};
use super::*;

const POOL: [&str; 6] = ["101", "102", "103", "104", "105", "106"];

/// What the switchboard would know, built only from the actions it was given.
struct Model {
    acd: Acd,
    now: Instant,
    /// Operator states as reported by `OperatorChanged`.
    board: BTreeMap<OperatorId, OperatorState>,
    rings: BTreeMap<CallRef, OperatorId>,
    talking: BTreeMap<CallRef, OperatorId>,
    /// Callers who arrived and are neither talking nor gone.
    queued: BTreeSet<CallRef>,
    gone: BTreeSet<CallRef>,
    /// `gone` in the order calls ended; those after `gone_checked` are checked next.
    buried: Vec<CallRef>,
    gone_checked: usize,
    next_call: u64,
    served: usize,
}

impl Model {
    fn new(t0: Instant) -> Model {
        let operators = ids(&POOL[..4]);
        Model {
            acd: Acd::new(config(), &operators),
            now: t0,
            board: BTreeMap::new(),
            rings: BTreeMap::new(),
            talking: BTreeMap::new(),
            queued: BTreeSet::new(),
            gone: BTreeSet::new(),
            buried: Vec::new(),
            gone_checked: 0,
            next_call: 1,
            served: 0,
        }
    }

    fn bury(&mut self, call: CallRef) {
        assert!(self.gone.insert(call), "{call:?} gone twice");
        self.buried.push(call);
    }

    fn board_state(&self, operator: &str) -> OperatorState {
        self.board
            .get(operator)
            .cloned()
            .unwrap_or(OperatorState::Offline)
    }

    /// Take the actions in, checking each against what the switchboard knows.
    fn absorb(&mut self) {
        for action in drain(&mut self.acd) {
            match action {
                AcdAction::Ring { call, operator } => {
                    assert_eq!(
                        self.board_state(&operator),
                        OperatorState::Available,
                        "rang {operator} who was not available"
                    );
                    assert!(self.queued.contains(&call), "rang for {call:?} not waiting");
                    assert!(!self.rings.contains_key(&call), "{call:?} rung twice");
                    self.rings.insert(call, operator);
                }
                AcdAction::CancelRing { call, operator, .. } => {
                    assert_eq!(self.rings.remove(&call), Some(operator), "cancelled what?");
                }
                AcdAction::Announce { call, position, .. } => {
                    assert!(self.queued.contains(&call) && !self.rings.contains_key(&call));
                    assert_eq!(self.acd.position(call), Some(position));
                }
                AcdAction::Overflow { call }
                | AcdAction::NoOperators { call }
                | AcdAction::QueueFull { call } => {
                    assert!(
                        !self.rings.contains_key(&call),
                        "{call:?} ends while ringing"
                    );
                    assert!(!self.talking.contains_key(&call));
                    assert!(self.queued.remove(&call), "{call:?} ended twice or unknown");
                    self.bury(call);
                }
                AcdAction::OperatorChanged { operator, state } => {
                    self.board.insert(operator, state);
                }
            }
        }
    }

    fn check(&mut self) {
        let now = self.now;
        // The board the switchboard keeps agrees with the ACD, operators removed included.
        let known: BTreeMap<OperatorId, OperatorState> = self
            .acd
            .operators()
            .map(|(id, st)| (id.clone(), st.clone()))
            .collect();
        self.board
            .retain(|id, st| known.contains_key(id) || *st == OperatorState::Offline);
        for (id, state) in &known {
            assert_eq!(&self.board_state(id), state, "board of {id}");
        }
        // Nobody in two calls.
        let mut busy = BTreeSet::new();
        for operator in self.rings.values().chain(self.talking.values()) {
            assert!(busy.insert(operator), "{operator} in two calls");
        }
        // Every caller is exactly one of waiting, ringing, talking, gone.
        for call in &self.queued {
            assert!(self.acd.is_waiting(*call), "{call:?} lost");
            assert_eq!(self.acd.talking_operator(*call), None);
            match self.rings.get(call) {
                Some(op) => {
                    assert_eq!(self.acd.ringing_operator(*call), Some(op.as_str()));
                    assert_eq!(known[op], OperatorState::Ringing(*call));
                }
                None => assert_eq!(self.acd.ringing_operator(*call), None),
            }
        }
        for (call, op) in &self.talking {
            assert!(!self.acd.is_waiting(*call));
            assert_eq!(self.acd.talking_operator(*call), Some(op.as_str()));
        }
        // Gone stays gone (checking all of them every time would make the soak slow).
        let from = self.buried.len().saturating_sub(5).min(self.gone_checked);
        for call in &self.buried[from..] {
            assert!(!self.acd.is_waiting(*call) && self.acd.talking_operator(*call).is_none());
        }
        self.gone_checked = self.buried.len();
        assert_eq!(self.acd.waiting().count(), self.queued.len());
        // Nobody waits past max_wait; no free operator is left idle while a caller could
        // have them.
        for (call, queued_at) in self.acd.waiting() {
            assert!(
                queued_at + config().max_wait > now,
                "{call:?} waited too long"
            );
            if self.rings.contains_key(&call) {
                continue;
            }
            let waiter = self.acd.queue.get(call).expect("waiting");
            for (id, state) in &known {
                if *state == OperatorState::Available {
                    assert!(
                        waiter.retry_at(id).is_some_and(|t| t > now),
                        "{id} idle while {call:?} waits"
                    );
                }
            }
        }
    }

    /// Let time pass to `until`, firing every deadline on the way as the runtime would.
    fn advance(&mut self, until: Instant) {
        while let Some(at) = self.acd.poll_timeout().filter(|t| *t <= until) {
            let at = at.max(self.now);
            self.now = at;
            self.acd.handle_timeout(at);
            self.absorb();
            self.check();
            assert!(
                self.acd.poll_timeout().is_none_or(|t| t > at),
                "a deadline left in the past"
            );
        }
        self.now = until;
    }

    fn pick<T: Clone>(rng: &mut SmallRng, items: impl Iterator<Item = T>) -> Option<T> {
        let items: Vec<T> = items.collect();
        (!items.is_empty()).then(|| items[rng.random_range(0..items.len())].clone())
    }

    fn random_call(&self, rng: &mut SmallRng) -> CallRef {
        CallRef(rng.random_range(1..self.next_call.max(2) + 2))
    }

    fn step(&mut self, rng: &mut SmallRng) {
        let now = self.now;
        let operator = POOL[rng.random_range(0..POOL.len())];
        match rng.random_range(0..100) {
            0..20 => {
                let call = CallRef(self.next_call);
                self.next_call += 1;
                self.queued.insert(call);
                self.acd.handle_caller_arrived(call, now);
            }
            20..26 => {
                if let Some(call) = Self::pick(rng, self.queued.iter().copied()) {
                    self.queued.remove(&call);
                    self.bury(call);
                    self.acd.handle_caller_left(call, now);
                }
            }
            26..44 => {
                if let Some((call, op)) = Self::pick(rng, self.rings.clone().into_iter()) {
                    self.rings.remove(&call);
                    self.queued.remove(&call);
                    self.talking.insert(call, op.clone());
                    assert!(self.acd.handle_ring_answered(call, &op, now));
                    self.served += 1;
                }
            }
            44..48 => {
                let call = self.random_call(rng);
                let live = self.rings.get(&call).is_some_and(|op| op == operator);
                if !live {
                    assert!(!self.acd.handle_ring_answered(call, operator, now));
                }
            }
            48..58 => {
                if let Some((call, op)) = Self::pick(rng, self.rings.clone().into_iter()) {
                    let result = [
                        RingResult::NoAnswer,
                        RingResult::Busy,
                        RingResult::Declined,
                        RingResult::Error,
                        RingResult::CallerGone,
                    ][rng.random_range(0..5)];
                    self.rings.remove(&call);
                    if result == RingResult::CallerGone {
                        self.queued.remove(&call);
                        self.bury(call);
                    }
                    self.acd.handle_ring_failed(call, &op, result, now);
                }
            }
            58..61 => {
                let call = self.random_call(rng);
                if self.rings.get(&call).is_none_or(|op| op != operator) {
                    self.acd
                        .handle_ring_failed(call, operator, RingResult::Error, now);
                }
            }
            61..75 => {
                if let Some(call) = Self::pick(rng, self.talking.keys().copied()) {
                    self.talking.remove(&call);
                    self.bury(call);
                    if rng.random_bool(0.5) {
                        self.acd.handle_call_ended(call, now);
                    } else {
                        self.acd.handle_caller_left(call, now);
                    }
                }
            }
            75..85 => self.acd.handle_operator_online(operator, now),
            85..89 => self.acd.handle_operator_offline(operator, now),
            89..93 => {
                let reason = match rng.random_bool(0.5) {
                    true => PauseReason::Manual("break".into()),
                    false => PauseReason::NoAnswer,
                };
                let _ = self.acd.pause(operator, reason, now);
            }
            93..98 => {
                let _ = self.acd.resume(operator, now);
            }
            _ => {
                let list: Vec<OperatorId> = POOL
                    .iter()
                    .filter(|_| rng.random_bool(0.7))
                    .map(|id| id.to_string())
                    .collect();
                self.acd.set_operators(&list, now);
            }
        }
        self.absorb();
        self.check();
    }
}

fn soak(seed: u64, steps: usize) -> Model {
    let mut rng = SmallRng::seed_from_u64(seed);
    let t0 = Instant::now();
    let mut model = Model::new(t0);
    for _ in 0..steps {
        let pause = Duration::from_millis(rng.random_range(0..6_000));
        model.advance(model.now + pause);
        model.step(&mut rng);
    }
    // Wind down: nobody is left waiting once max_wait (and the grace) has passed, and every
    // conversation can end.
    model.advance(model.now + config().max_wait + s(61));
    assert!(
        model.queued.is_empty(),
        "callers left waiting: {:?}",
        model.queued
    );
    let talking: Vec<CallRef> = model.talking.keys().copied().collect();
    for call in talking {
        model.talking.remove(&call);
        model.bury(call);
        model.acd.handle_call_ended(call, model.now);
        model.absorb();
        model.check();
    }
    model.advance(model.now + s(60));
    assert_eq!(model.acd.poll_timeout(), None, "nothing left to time");
    model
}

#[test]
fn random_events_keep_every_promise() {
    for seed in 0..4 {
        let model = soak(seed, 2_500);
        // The run must exercise the real paths, not just idle operators.
        assert!(
            model.served > 80,
            "seed {seed}: only {} served",
            model.served
        );
        assert!(
            model.gone.len() > 250,
            "seed {seed}: only {} callers",
            model.gone.len()
        );
    }
}
