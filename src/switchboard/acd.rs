//! Automatic call distribution: which waiting caller rings which operator, and when.
//!
//! Sans-IO. The switchboard reports what happened (`handle_*`: callers arriving and leaving,
//! rings answered or failed, calls ended, operators registering, pausing) and the time
//! (`handle_timeout` at `poll_timeout`), then drains `poll_action` and carries each action out
//! (INVITE/CANCEL towards operators, prompts towards callers). Nothing here reads a clock.
//!
//! Rules, in the order they decide:
//! - callers are offered operators strictly in arrival order; each gets the available
//!   operator idle the longest (since their last wrap-up ended, or since they came online
//!   or resumed), ties broken by configuration order;
//! - only an `Available` operator is rung, and for one caller at a time;
//! - a ring lasts at most `ring_timeout`; a ring that fails leaves the caller in its place
//!   (at the head if it was first) and the next operator is tried. The operator who failed
//!   is not offered the same caller again for `retry` unless they freshly become free
//!   (wrap-up over, online, resumed); meanwhile they may take the next caller;
//! - `max_no_answer` consecutive unanswered (or failed) rings pause the operator
//!   (`PauseReason::NoAnswer`); answering or resuming resets the count;
//! - a caller who chose a topic (the menu) is offered only operators with that skill
//!   until `skill_wait` after arrival, then anyone (a free operator with the skill
//!   still first); at once to anyone when no operator with the skill is taking calls
//!   (logged in and not paused), so nobody waits for a skill nobody on shift has. A
//!   `skill_wait` of zero turns skills off;
//! - a caller arriving while `max_waiting` callers already wait overflows at once
//!   (`QueueFull`): the queue, its timers and announcements stay bounded under a flood;
//! - `max_wait` after arrival the caller overflows; waiting callers hear their position
//!   and an estimate every `announce_every`, from `announce_every` after arrival;
//! - a caller arriving when nobody is logged in (all `Offline`; paused operators count as
//!   logged in) gets `NoOperators`. When the last operator logs off while callers wait,
//!   those callers keep waiting for `unattended_grace` (a phone re-registering after a
//!   network blip keeps the queue) and then get `NoOperators`, rather than listening to
//!   announcements until `max_wait` with nobody there to answer.
//!
//! Invariants: every call the ACD knows is exactly one of waiting (in the queue; possibly
//! with a phone ringing for it) or talking (an operator is `Talking` with it); an operator
//! rings or talks for at most one call, and a queued caller's `ringing` and its operator's
//! `Ringing` state always name each other; after `handle_timeout(now)` no deadline is at or
//! before `now`. Stale reports (a ring the ACD already cancelled, an unknown call or
//! operator) are ignored: they come from races on the network, never from bugs here.
//!
//! The public inputs and reads are here; the rules every input ends in (offering operators,
//! timers, announcements) are in `acd_rules.rs`.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use thiserror::Error;

use crate::config::QueueConfig;

use super::operators::Roster;
pub use super::operators::{OperatorId, OperatorState, PauseReason};
use super::queue::{HandleTimes, Queue, Waiter};
use super::CallRef;

/// The ACD's settings (`[queue]` plus values that have no key yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcdConfig {
    /// How long an operator's phone rings before the caller goes to the next operator.
    pub ring_timeout: Duration,
    /// How long a caller may wait before the call ends as overflow.
    pub max_wait: Duration,
    /// Pause after a call before the operator is offered the next one (may be zero).
    pub wrap_up: Duration,
    /// How often waiting callers hear their position; zero turns announcements off.
    pub announce_every: Duration,
    /// Consecutive unanswered rings that pause an operator; zero never pauses.
    pub max_no_answer: u32,
    /// Talk plus wrap-up time assumed for the wait estimate until calls have been handled.
    pub default_handle_time: Duration,
    /// How soon an operator who failed a caller may be rung for that caller again.
    pub retry: Duration,
    /// How long callers keep waiting after the last operator logged off.
    pub unattended_grace: Duration,
    /// Callers who may wait at once (`limits.max_waiting`); one more gets `QueueFull`.
    pub max_waiting: usize,
    /// How long a caller with a topic waits for an operator with that skill (`[menu]
    /// skill_wait`); zero: skills are not used.
    pub skill_wait: Duration,
}

impl AcdConfig {
    pub const DEFAULT_HANDLE_TIME: Duration = Duration::from_secs(180);
    /// Long enough not to hammer a phone that answers 486 at once, short enough that a
    /// lone operator who declined by mistake gets the caller back quickly.
    pub const DEFAULT_RETRY: Duration = Duration::from_secs(5);
    /// Covers a phone re-registering after a network blip or a restart.
    pub const DEFAULT_UNATTENDED_GRACE: Duration = Duration::from_secs(60);

    pub fn from_queue(queue: &QueueConfig) -> AcdConfig {
        AcdConfig {
            ring_timeout: queue.ring_timeout,
            max_wait: queue.max_wait,
            wrap_up: queue.wrap_up,
            announce_every: queue.announce_every,
            max_no_answer: queue.max_no_answer,
            default_handle_time: Self::DEFAULT_HANDLE_TIME,
            retry: Self::DEFAULT_RETRY,
            unattended_grace: Self::DEFAULT_UNATTENDED_GRACE,
            max_waiting: usize::MAX,
            skill_wait: Duration::ZERO,
        }
    }
}

/// How a ring ended without the operator answering: the register's ring results.
/// `Error` and `NoAnswer` count towards an automatic pause; `CallerGone` takes the caller
/// out of the queue.
pub use crate::model::RingResult;

/// What the switchboard must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AcdAction {
    /// Ring this operator for this caller (INVITE to the operator's binding).
    Ring { call: CallRef, operator: OperatorId },
    /// Stop ringing (CANCEL): ring timeout, caller gone, operator paused or gone. Report
    /// nothing more about this ring, except an answer that crossed the CANCEL (see
    /// `Acd::handle_ring_answered`). `why` is the ring's result for the register.
    CancelRing {
        call: CallRef,
        operator: OperatorId,
        why: RingResult,
    },
    /// Tell the caller their place (1-based) and the estimated wait, rounded up to minutes;
    /// `None` when no operator is taking calls.
    Announce {
        call: CallRef,
        position: usize,
        eta_minutes: Option<u32>,
    },
    /// `max_wait` reached: play the overflow message and hang up (outcome `overflow`).
    Overflow { call: CallRef },
    /// Nobody logged in: play the no-operators message and hang up (outcome
    /// `no_operators`).
    NoOperators { call: CallRef },
    /// `max_waiting` callers already wait: play the overflow message and hang up
    /// (outcome `overflow`, end reason `queue_full`).
    QueueFull { call: CallRef },
    /// An operator's state changed (live board, register, logs). An operator removed from
    /// the configuration is last reported `Offline`.
    OperatorChanged {
        operator: OperatorId,
        state: OperatorState,
    },
}

/// Why a console or phone request about an operator was refused.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum AcdError {
    /// No operator with this id in the configuration.
    #[error("no operator {0:?} in the configuration")]
    UnknownOperator(String),
    /// The operator is not registered, so there is nothing to pause or resume.
    #[error("operator {0} is not logged in")]
    NotLoggedIn(String),
    /// A call-back for an operator who is ringing, talking, wrapping up or paused.
    #[error("operator {0} is not free")]
    NotFree(String),
    /// `resume` for an operator who is not paused (nor about to be).
    #[error("operator {0} is not paused")]
    NotPaused(String),
}

/// The queue and the operators of one hotline.
#[derive(Debug, Clone)]
pub struct Acd {
    config: AcdConfig,
    roster: Roster,
    queue: Queue,
    handle_times: HandleTimes,
    /// Each operator's skills (topics); operators without any are absent.
    pub(super) skills: HashMap<OperatorId, Vec<String>>,
    /// Set while nobody is logged in but callers wait: when they get `NoOperators`.
    unattended_until: Option<Instant>,
    actions: VecDeque<AcdAction>,
}

impl Acd {
    const LONGEST: Duration = Duration::from_secs(366 * 24 * 3600);

    /// All `operators` start `Offline` until the switchboard reports them registered.
    pub fn new(config: AcdConfig, operators: &[OperatorId]) -> Acd {
        // Deadlines are `Instant + Duration`, which panics on overflow: no setting needs
        // more than a year, and this keeps any value read from a file harmless.
        let cap = |d: Duration| d.min(Self::LONGEST);
        let config = AcdConfig {
            ring_timeout: cap(config.ring_timeout),
            max_wait: cap(config.max_wait),
            wrap_up: cap(config.wrap_up),
            announce_every: cap(config.announce_every),
            default_handle_time: cap(config.default_handle_time),
            retry: cap(config.retry),
            unattended_grace: cap(config.unattended_grace),
            skill_wait: cap(config.skill_wait),
            ..config
        };
        Acd {
            handle_times: HandleTimes::new(config.default_handle_time),
            config,
            roster: Roster::new(operators),
            queue: Queue::default(),
            skills: HashMap::new(),
            unattended_until: None,
            actions: VecDeque::new(),
        }
    }

    // --- callers

    /// Is anyone logged in (paused operators count)? A caller asked for a topic while
    /// nobody is would only hear the "no operators" message after the menu.
    pub fn anyone_logged_in(&self) -> bool {
        self.roster.anyone_logged_in()
    }

    /// A caller wants an operator: queue it last, or `NoOperators` if nobody is logged in.
    pub fn handle_caller_arrived(&mut self, call: CallRef, now: Instant) {
        self.handle_caller_arrived_for(call, None, now);
    }

    /// [`Acd::handle_caller_arrived`] for a caller who chose `topic`: operators with that
    /// skill first, for up to `skill_wait`.
    pub fn handle_caller_arrived_for(&mut self, call: CallRef, topic: Option<&str>, now: Instant) {
        if self.knows(call) {
            tracing::debug!(?call, "caller already queued or talking");
            return;
        }
        if !self.roster.anyone_logged_in() {
            self.actions.push_back(AcdAction::NoOperators { call });
            return;
        }
        if self.queue.len() >= self.config.max_waiting {
            self.actions.push_back(AcdAction::QueueFull { call });
            return;
        }
        let mut waiter = Waiter::new(call, now, self.config.announce_every);
        if let Some(topic) = topic.filter(|_| !self.config.skill_wait.is_zero()) {
            waiter.topic = Some(topic.to_owned());
            waiter.skill_until = Some(now + self.config.skill_wait);
        }
        self.queue.push(waiter);
        self.settle(now);
    }

    /// The caller is gone (hung up, or the call failed). While waiting: leaves the queue,
    /// a ringing phone is cancelled. While talking: the same as `handle_call_ended`.
    pub fn handle_caller_left(&mut self, call: CallRef, now: Instant) {
        if self.queue.get(call).is_some() {
            if let Some(operator) = self.cancel_ring(call, RingResult::CallerGone) {
                self.release_ringer(&operator, false);
            }
            self.queue.remove(call);
            self.settle(now);
        } else if self.talking_operator(call).is_some() {
            self.handle_call_ended(call, now);
        }
    }

    // --- rings

    /// The operator answered. Returns `false` when this ring is no longer wanted (it was
    /// cancelled and the answer crossed the CANCEL, or the caller is gone): the switchboard
    /// then hangs up the operator's leg and the caller stays where the ACD has it.
    pub fn handle_ring_answered(&mut self, call: CallRef, operator: &str, now: Instant) -> bool {
        if !self.is_ringing(call, operator) {
            tracing::debug!(?call, operator, "answer for a ring no longer wanted");
            return false;
        }
        self.queue.remove(call);
        self.update(operator, |op| {
            op.state = OperatorState::Talking(call);
            op.talk_since = Some(now);
            op.no_answers = 0;
        });
        self.settle(now);
        true
    }

    /// A ring ended without an answer (final response, transaction timeout). Ignored for
    /// rings the ACD cancelled itself.
    pub fn handle_ring_failed(
        &mut self,
        call: CallRef,
        operator: &str,
        result: RingResult,
        now: Instant,
    ) {
        if !self.is_ringing(call, operator) {
            tracing::debug!(
                ?call,
                operator,
                ?result,
                "result for a ring no longer wanted"
            );
            return;
        }
        if result == RingResult::CallerGone {
            self.queue.remove(call);
            self.release_ringer(operator, false);
        } else {
            let retry_at = now + self.config.retry;
            let waiter = self.queue.get_mut(call).expect("is_ringing found it");
            waiter.ringing = None;
            waiter.tried(operator, retry_at);
            // Busy and Declined are someone's decision; silence or an unreachable phone
            // is what auto-pause protects callers from.
            let counted = matches!(result, RingResult::NoAnswer | RingResult::Error);
            self.release_ringer(operator, counted);
        }
        self.settle(now);
    }

    /// The conversation is over: the operator wraps up, then takes the next caller. For a
    /// caller still queued this is the same as `handle_caller_left`.
    pub fn handle_call_ended(&mut self, call: CallRef, now: Instant) {
        let Some(id) = self.talking_operator(call).map(str::to_string) else {
            if self.queue.get(call).is_some() {
                self.handle_caller_left(call, now);
            }
            return;
        };
        let wrap_up = self.config.wrap_up;
        let op = self.roster.get_mut(&id).expect("talking_operator found it");
        let talk = now.saturating_duration_since(op.talk_since.unwrap_or(now));
        self.handle_times.record(talk + wrap_up);
        if op.removed {
            self.drop_operator(&id);
        } else {
            let freed = self.update(&id, |op| {
                if !op.registered {
                    op.go_offline();
                } else if let Some(reason) = op.pending_pause.take() {
                    op.pause(reason);
                } else if wrap_up.is_zero() {
                    op.make_available(now);
                } else {
                    op.state = OperatorState::WrapUp;
                    op.talk_since = None;
                    op.wrap_until = Some(now + wrap_up);
                }
                op.state == OperatorState::Available
            });
            if freed {
                self.freed(&id);
            }
        }
        self.settle(now);
    }

    /// A call-back takes this operator (`call`): only a registered operator who is free
    /// now, so that a queued caller is never passed over for a call the system places.
    /// They count as talking from here; `handle_call_ended(call)` frees them again.
    pub fn reserve_for_callback(
        &mut self,
        call: CallRef,
        operator: &str,
        now: Instant,
    ) -> Result<(), AcdError> {
        match self.operator_state(operator) {
            None => return Err(AcdError::UnknownOperator(operator.to_string())),
            Some(OperatorState::Offline) => {
                return Err(AcdError::NotLoggedIn(operator.to_string()))
            }
            Some(OperatorState::Available) => {}
            Some(_) => return Err(AcdError::NotFree(operator.to_string())),
        }
        self.update(operator, |op| {
            op.state = OperatorState::Talking(call);
            op.talk_since = Some(now);
        });
        self.settle(now);
        Ok(())
    }

    // --- presence

    /// The operator registered (or refreshed their registration: then nothing changes).
    pub fn handle_operator_online(&mut self, operator: &str, now: Instant) {
        let Some(op) = self.roster.get_mut(operator) else {
            tracing::debug!(operator, "registration of an operator not configured");
            return;
        };
        op.registered = true;
        if op.state == OperatorState::Offline {
            self.update(operator, |op| {
                op.make_available(now);
                op.no_answers = 0;
            });
            self.freed(operator);
        }
        self.settle(now);
    }

    /// The operator unregistered or their registration expired. A ringing phone is
    /// cancelled and the caller tries the next operator; a conversation goes on, and the
    /// operator goes `Offline` when it ends.
    pub fn handle_operator_offline(&mut self, operator: &str, now: Instant) {
        let Some(op) = self.roster.get_mut(operator) else {
            return;
        };
        op.registered = false;
        match op.state.clone() {
            OperatorState::Offline | OperatorState::Talking(_) => {}
            OperatorState::Ringing(call) => {
                self.cancel_ring(call, RingResult::NoAnswer);
                self.update(operator, |op| op.go_offline());
            }
            _ => {
                self.update(operator, |op| op.go_offline());
            }
        }
        self.settle(now);
    }

    /// Pause an operator (console or `*50`). A ringing phone is cancelled; during a
    /// conversation the pause starts when it ends. Pausing again changes the reason.
    pub fn pause(
        &mut self,
        operator: &str,
        reason: PauseReason,
        now: Instant,
    ) -> Result<(), AcdError> {
        let op = self.configured(operator)?;
        if !op.registered || op.state == OperatorState::Offline {
            return Err(AcdError::NotLoggedIn(operator.to_string()));
        }
        match op.state.clone() {
            OperatorState::Talking(_) => {
                let op = self
                    .roster
                    .get_mut(operator)
                    .expect("configured just above");
                op.pending_pause = Some(reason);
                return Ok(());
            }
            OperatorState::Ringing(call) => {
                self.cancel_ring(call, RingResult::NoAnswer);
            }
            _ => {}
        }
        self.update(operator, |op| op.pause(reason));
        self.settle(now);
        Ok(())
    }

    /// Take calls again: `Available`, idle from `now`, no-answer count cleared. During a
    /// conversation this withdraws a pause asked for.
    pub fn resume(&mut self, operator: &str, now: Instant) -> Result<(), AcdError> {
        let op = self.configured(operator)?;
        match (&op.state, op.pending_pause.is_some()) {
            (OperatorState::Paused(_), _) => {}
            (OperatorState::Talking(_), true) => {
                let op = self
                    .roster
                    .get_mut(operator)
                    .expect("configured just above");
                op.pending_pause = None;
                return Ok(());
            }
            (OperatorState::Offline, _) => return Err(AcdError::NotLoggedIn(operator.to_string())),
            _ => return Err(AcdError::NotPaused(operator.to_string())),
        }
        self.update(operator, |op| {
            op.make_available(now);
            op.no_answers = 0;
        });
        self.freed(operator);
        self.settle(now);
        Ok(())
    }

    /// The operators' skills (a new configuration); callers waiting are offered again.
    pub fn set_skills(&mut self, skills: HashMap<OperatorId, Vec<String>>, now: Instant) {
        self.skills = skills;
        self.skills.retain(|_, topics| !topics.is_empty());
        self.settle(now);
    }

    /// `[menu] skill_wait` from a new configuration, for callers who arrive from now on.
    pub fn set_skill_wait(&mut self, skill_wait: Duration) {
        self.config.skill_wait = skill_wait.min(Self::LONGEST);
    }

    /// A new configuration's operator list. Operators no longer listed leave at once (a
    /// ringing phone is cancelled) unless in a conversation, which they finish first; new
    /// ones start `Offline` until reported registered.
    pub fn set_operators(&mut self, ids: &[OperatorId], now: Instant) {
        let gone: Vec<OperatorId> = self
            .roster
            .iter()
            .filter(|o| !ids.contains(&o.id))
            .map(|o| o.id.clone())
            .collect();
        for id in gone {
            let op = self.roster.get_mut(&id).expect("listed just above");
            match op.state.clone() {
                OperatorState::Talking(_) => {
                    op.removed = true;
                    op.pending_pause = None;
                }
                OperatorState::Ringing(call) => {
                    self.cancel_ring(call, RingResult::Error);
                    self.drop_operator(&id);
                }
                _ => self.drop_operator(&id),
            }
        }
        for op in self.roster.iter_mut() {
            op.removed = op.removed && !ids.contains(&op.id);
        }
        self.roster.reorder(ids);
        self.settle(now);
    }

    // --- reads

    pub fn operator_state(&self, operator: &str) -> Option<&OperatorState> {
        self.roster.get(operator).map(|o| &o.state)
    }

    /// Every operator in configuration order (then any finishing a call after removal).
    pub fn operators(&self) -> impl Iterator<Item = (&OperatorId, &OperatorState)> {
        self.roster.iter().map(|o| (&o.id, &o.state))
    }

    /// Queued callers in arrival order, with when they arrived (ringing ones included).
    pub fn waiting(&self) -> impl Iterator<Item = (CallRef, Instant)> + '_ {
        self.queue.iter().map(|w| (w.call, w.queued_at))
    }

    /// 1-based place of a queued caller.
    pub fn position(&self, call: CallRef) -> Option<usize> {
        self.queue.position(call)
    }

    /// In the queue: not yet connected to an operator (a phone may be ringing for it).
    pub fn is_waiting(&self, call: CallRef) -> bool {
        self.queue.get(call).is_some()
    }

    /// The operator whose phone rings for this caller.
    pub fn ringing_operator(&self, call: CallRef) -> Option<&str> {
        let ring = self.queue.get(call)?.ringing.as_ref()?;
        Some(ring.operator.as_str())
    }

    /// The operator in conversation with this caller.
    pub fn talking_operator(&self, call: CallRef) -> Option<&str> {
        self.roster
            .serving(call)
            .filter(|o| o.state == OperatorState::Talking(call))
            .map(|o| o.id.as_str())
    }

    /// Consecutive unanswered rings of an operator.
    pub fn no_answer_count(&self, operator: &str) -> Option<u32> {
        self.roster.get(operator).map(|o| o.no_answers)
    }

    /// The talk-plus-wrap-up time the wait estimate uses now.
    pub fn average_handle_time(&self) -> Duration {
        self.handle_times.average()
    }
}

#[path = "acd_rules.rs"]
mod rules;

#[cfg(test)]
#[path = "acd_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "acd_presence_tests.rs"]
mod presence_tests;

#[cfg(test)]
#[path = "acd_soak_tests.rs"]
mod soak_tests;

#[cfg(test)]
#[path = "acd_skills_tests.rs"]
mod skills_tests;
