//! The distribution rules every input ends in, and the timers: offering free operators to
//! waiting callers (oldest caller first, longest-idle operator first), ending rings,
//! wrap-ups and waits when their time comes, announcements, and the unattended queue.
//!
//! Invariants kept here: a `Ring` is only ever issued to an `Available` operator and marks
//! both sides (the caller's `ringing`, the operator's `Ringing`) at once; every operator
//! state change is reported by exactly one `OperatorChanged`; after `handle_timeout(now)`,
//! `poll_timeout` is later than `now`.

use std::time::Instant;

use super::{Acd, AcdAction, AcdError, OperatorId, OperatorState, PauseReason, RingResult};
use crate::switchboard::operators::Operator;
use crate::switchboard::queue::RingDeadline;
use crate::switchboard::CallRef;

impl Acd {
    // --- time

    /// Fire every deadline at or before `now`: wrap-ups ending, ring timeouts, overflows,
    /// retries, the unattended grace, announcements.
    pub fn handle_timeout(&mut self, now: Instant) {
        let wrapped: Vec<(OperatorId, Instant)> = self
            .roster
            .iter()
            .filter_map(|o| Some((o.id.clone(), o.wrap_until.filter(|t| *t <= now)?)))
            .collect();
        for (id, at) in wrapped {
            // Idle from when the wrap-up ended, even if this call comes late.
            self.update(&id, |op| op.make_available(at));
            self.freed(&id);
        }

        let unanswered: Vec<CallRef> = self
            .queue
            .iter()
            .filter(|w| w.ringing.as_ref().is_some_and(|r| r.until <= now))
            .map(|w| w.call)
            .collect();
        for call in unanswered {
            let retry_at = now + self.config.retry;
            if let Some(operator) = self.cancel_ring(call, RingResult::NoAnswer) {
                if let Some(waiter) = self.queue.get_mut(call) {
                    waiter.tried(&operator, retry_at);
                }
                self.release_ringer(&operator, true);
            }
        }

        let max_wait = self.config.max_wait;
        let overflowed: Vec<CallRef> = self
            .queue
            .iter()
            .filter(|w| w.queued_at + max_wait <= now)
            .map(|w| w.call)
            .collect();
        for call in overflowed {
            if let Some(operator) = self.cancel_ring(call, RingResult::CallerGone) {
                self.release_ringer(&operator, false);
            }
            self.queue.remove(call);
            self.actions.push_back(AcdAction::Overflow { call });
        }

        for waiter in self.queue.iter_mut() {
            waiter.prune_tried(now);
            // The skill wait is over: anyone may take this caller now.
            if waiter.skill_until.is_some_and(|until| until <= now) {
                waiter.skill_until = None;
            }
        }
        self.settle(now);
        self.announce(now);
    }

    /// The next instant `handle_timeout` must be called at.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let wraps = self.roster.iter().filter_map(|o| o.wrap_until);
        let callers = self.queue.iter().flat_map(|w| {
            let retries = self
                .roster
                .iter()
                .filter(|o| w.ringing.is_none() && o.state == OperatorState::Available)
                .filter_map(|o| w.retry_at(&o.id));
            [
                Some(w.queued_at + self.config.max_wait),
                w.next_announce,
                w.ringing.as_ref().map(|r| r.until),
                w.skill_until,
            ]
            .into_iter()
            .flatten()
            .chain(retries)
        });
        wraps.chain(callers).chain(self.unattended_until).min()
    }

    pub fn poll_action(&mut self) -> Option<AcdAction> {
        self.actions.pop_front()
    }

    // --- internals

    pub(super) fn knows(&self, call: CallRef) -> bool {
        self.queue.get(call).is_some() || self.roster.serving(call).is_some()
    }

    pub(super) fn configured(&self, operator: &str) -> Result<&Operator, AcdError> {
        self.roster
            .get(operator)
            .filter(|o| !o.removed)
            .ok_or_else(|| AcdError::UnknownOperator(operator.to_string()))
    }

    /// `operator` rings for `call` right now (the only ring a result may be about).
    pub(super) fn is_ringing(&self, call: CallRef, operator: &str) -> bool {
        self.ringing_operator(call) == Some(operator)
            && self.operator_state(operator) == Some(&OperatorState::Ringing(call))
    }

    /// Change an operator and report the new state if it differs; returns what `f` does.
    pub(super) fn update<R>(&mut self, id: &str, f: impl FnOnce(&mut Operator) -> R) -> R {
        let op = self
            .roster
            .get_mut(id)
            .expect("callers pass a configured id");
        let before = op.state.clone();
        let result = f(op);
        if op.state != before {
            self.actions.push_back(AcdAction::OperatorChanged {
                operator: op.id.clone(),
                state: op.state.clone(),
            });
        }
        result
    }

    /// Stop the ring in progress for `call`, if any: `CancelRing`, and the caller stays
    /// queued without a ring. Where the operator goes next is up to the code calling this.
    pub(super) fn cancel_ring(&mut self, call: CallRef, why: RingResult) -> Option<OperatorId> {
        let ring: RingDeadline = self.queue.get_mut(call)?.ringing.take()?;
        self.actions.push_back(AcdAction::CancelRing {
            call,
            operator: ring.operator.clone(),
            why,
        });
        Some(ring.operator)
    }

    /// The operator's ring is over without a conversation; `counted` when it was theirs to
    /// answer (no answer, phone unreachable).
    pub(super) fn release_ringer(&mut self, id: &str, counted: bool) {
        let Some(op) = self.roster.get(id) else {
            return;
        };
        if op.removed {
            self.drop_operator(id);
            return;
        }
        let max = self.config.max_no_answer;
        self.update(id, |op| {
            if counted {
                op.no_answers = op.no_answers.saturating_add(1);
            }
            if counted && max > 0 && op.no_answers >= max {
                op.pause(PauseReason::NoAnswer);
            } else {
                op.ring_over();
            }
        });
    }

    pub(super) fn drop_operator(&mut self, id: &str) {
        if let Some(op) = self.roster.remove(id) {
            if op.state != OperatorState::Offline {
                self.actions.push_back(AcdAction::OperatorChanged {
                    operator: op.id,
                    state: OperatorState::Offline,
                });
            }
        }
    }

    /// The operator freshly became free: callers they failed before may have them again.
    pub(super) fn freed(&mut self, id: &str) {
        for waiter in self.queue.iter_mut() {
            waiter.forget_tried(id);
        }
    }

    /// After any change: the unattended rule, then offer operators to callers.
    pub(super) fn settle(&mut self, now: Instant) {
        if self.queue.is_empty() || self.roster.anyone_logged_in() {
            self.unattended_until = None;
        } else {
            let until = *self
                .unattended_until
                .get_or_insert(now + self.config.unattended_grace);
            if until <= now {
                self.unattended_until = None;
                let calls: Vec<CallRef> = self.queue.iter().map(|w| w.call).collect();
                for call in calls {
                    // Nobody logged in rings, but a cancelled ring must still be heard of.
                    if let Some(operator) = self.cancel_ring(call, RingResult::CallerGone) {
                        self.release_ringer(&operator, false);
                    }
                    self.queue.remove(call);
                    self.actions.push_back(AcdAction::NoOperators { call });
                }
            }
        }
        self.dispatch(now);
    }

    /// Offer available operators to waiting callers, oldest caller first.
    pub(super) fn dispatch(&mut self, now: Instant) {
        let idle: Vec<CallRef> = self
            .queue
            .iter()
            .filter(|w| w.ringing.is_none())
            .map(|w| w.call)
            .collect();
        for call in idle {
            if !self.roster.any_available() {
                return;
            }
            let waiter = self.queue.get(call).expect("listed just above");
            let topic = waiter.topic.as_deref();
            // Only the skilled may take the caller while its wait lasts and one is on shift.
            let skilled_only = waiter.skill_until.is_some()
                && topic.is_some_and(|topic| self.skill_on_shift(topic));
            let skills = &self.skills;
            let skilled = |id: &str| {
                topic.is_some_and(|topic| {
                    skills.get(id).is_some_and(|t| t.iter().any(|s| s == topic))
                })
            };
            // A free operator with the caller's skill first, then (unless the caller waits
            // for the skill) anyone. An operator this caller cannot have yet is left for
            // the callers behind it.
            let pick = self
                .roster
                .longest_idle(|id| waiter.may_ring(id, now) && skilled(id))
                .or_else(|| {
                    (!skilled_only)
                        .then(|| self.roster.longest_idle(|id| waiter.may_ring(id, now)))
                        .flatten()
                })
                .cloned();
            let Some(id) = pick else {
                continue;
            };
            let until = now + self.config.ring_timeout;
            let waiter = self.queue.get_mut(call).expect("listed just above");
            waiter.ringing = Some(RingDeadline {
                operator: id.clone(),
                until,
            });
            self.actions.push_back(AcdAction::Ring {
                call,
                operator: id.clone(),
            });
            self.update(&id, |op| op.state = OperatorState::Ringing(call));
        }
    }

    /// Someone with this skill is taking calls (logged in, not paused): worth waiting for.
    fn skill_on_shift(&self, topic: &str) -> bool {
        self.roster.iter().any(|o| {
            !o.removed
                && !matches!(o.state, OperatorState::Offline | OperatorState::Paused(_))
                && self
                    .skills
                    .get(&o.id)
                    .is_some_and(|t| t.iter().any(|s| s == topic))
        })
    }

    /// Announce to each caller whose announcement is due (not to one whose phone rings:
    /// they are about to be served; their schedule moves on regardless).
    pub(super) fn announce(&mut self, now: Instant) {
        let every = self.config.announce_every;
        let mut due = Vec::new();
        for (index, waiter) in self.queue.iter_mut().enumerate() {
            let Some(next) = waiter.next_announce.filter(|t| *t <= now) else {
                continue;
            };
            // Missed periods (a late timeout) are skipped, not announced in a burst.
            let missed = now.duration_since(next).as_nanos() / every.as_nanos().max(1);
            let steps = u32::try_from(missed + 1).unwrap_or(u32::MAX);
            waiter.next_announce = Some(next + every.saturating_mul(steps));
            if waiter.ringing.is_none() {
                due.push((waiter.call, index + 1));
            }
        }
        let staffed = self.roster.staffed();
        for (call, position) in due {
            self.actions.push_back(AcdAction::Announce {
                call,
                position,
                eta_minutes: self.handle_times.eta_minutes(position, staffed),
            });
        }
    }
}
