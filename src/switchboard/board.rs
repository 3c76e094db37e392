//! The live board's view of the switchboard, and the supervisor's pause/resume: reads of
//! the ACD and the registrar turned into `live` values, commands turned into ACD inputs.

use crate::model::{format_time, CallBackLive, LiveSnapshot, Now, OperatorLive, WaitingLive};

use super::acd::{AcdError, OperatorState, PauseReason};
use super::{loggable_number, Switchboard};

impl Switchboard {
    /// The line as it is now.
    pub fn snapshot(&self, now: Now) -> LiveSnapshot {
        let public_id = |call| {
            let id = self.calls.get(&call).map(|c| c.public_id());
            id.or_else(|| self.callbacks.get(&call).map(|c| c.public_id()))
                .map(str::to_string)
        };
        let operators = self
            .settings
            .operators
            .iter()
            .map(|op| {
                let state = self
                    .acd
                    .operator_state(&op.id)
                    .cloned()
                    .unwrap_or(OperatorState::Offline);
                let (name, pause_reason, call_id) = match &state {
                    OperatorState::Offline => ("offline", None, None),
                    OperatorState::Available => ("available", None, None),
                    OperatorState::Ringing(c) => ("ringing", None, public_id(*c)),
                    OperatorState::Talking(c) => ("talking", None, public_id(*c)),
                    OperatorState::WrapUp => ("wrap_up", None, None),
                    OperatorState::Paused(PauseReason::NoAnswer) => {
                        ("paused", Some("no_answer".to_string()), None)
                    }
                    OperatorState::Paused(PauseReason::Manual(r)) => {
                        ("paused", Some(r.clone()), None)
                    }
                };
                OperatorLive {
                    id: op.id.clone(),
                    name: op.name.clone(),
                    state: name.to_string(),
                    pause_reason,
                    call_id,
                    registered: self.ua.registrar().binding(&op.id).is_some(),
                    skills: op.skills.clone(),
                }
            })
            .collect();
        let waiting: Vec<WaitingLive> = self
            .acd
            .waiting()
            .enumerate()
            .filter_map(|(i, (call, since))| {
                let c = self.calls.get(&call)?;
                Some(WaitingLive {
                    call_id: c.public_id().to_string(),
                    caller: loggable_number(c.caller_number(), self.settings.show_numbers),
                    position: i + 1,
                    waited_ms: now.mono.saturating_duration_since(since).as_millis() as u64,
                    ringing: self.acd.ringing_operator(call).map(str::to_string),
                    topic: c.topic().map(str::to_string),
                })
            })
            .collect();
        let mut callbacks: Vec<_> = self
            .callbacks
            .iter()
            .filter_map(|(call, c)| Some((*call, c.live(now, self.settings.show_numbers)?)))
            .collect();
        // Call refs are handed out in order: the oldest call-back first.
        callbacks.sort_by_key(|(call, _)| *call);
        let callbacks: Vec<CallBackLive> = callbacks.into_iter().map(|(_, c)| c).collect();
        LiveSnapshot {
            at: format_time(now.wall),
            operators,
            longest_wait_ms: waiting.iter().map(|w| w.waited_ms).max().unwrap_or(0),
            waiting,
            active_calls: self.calls.len() + callbacks.len(),
            callbacks,
            provider: None,
        }
    }

    /// A supervisor pauses an operator from the console.
    pub fn pause_operator(
        &mut self,
        operator: &str,
        reason: &str,
        now: Now,
    ) -> Result<(), AcdError> {
        let r = self
            .acd
            .pause(operator, PauseReason::Manual(reason.to_string()), now.mono);
        self.pump(now);
        r
    }

    /// A supervisor resumes an operator from the console.
    pub fn resume_operator(&mut self, operator: &str, now: Now) -> Result<(), AcdError> {
        let r = self.acd.resume(operator, now.mono);
        self.pump(now);
        r
    }
}
