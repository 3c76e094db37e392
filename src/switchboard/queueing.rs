//! Glue between a call and the ACD: entering and leaving the queue, and carrying out what
//! the ACD decides (rings, announcements, overflow, no operators) for the caller's leg.

use crate::model::EndReason;
use crate::model::Now;
use crate::config::QueueConfig;

use super::acd::{AcdAction, AcdConfig};
use super::calls::{Phase, Playing};
use crate::model::{CallUpdate, Outcome, RegisterWrite};
use super::{Action, CallRef, PromptKind, Switchboard};

pub(super) fn acd_config(q: &QueueConfig) -> AcdConfig {
    AcdConfig::from_queue(q)
}

impl Switchboard {
    /// The greeting is over: the caller joins the queue and hears hold music.
    pub(super) fn enqueue(&mut self, call: CallRef, now: Now) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        c.phase = Phase::Queued;
        c.queued_at = Some(now.wall);
        let id = c.id.clone();
        {
            let _enter = c.span.enter();
            tracing::info!("queued");
        }
        self.actions
            .push_back(Action::Register(RegisterWrite::Update {
                id,
                update: CallUpdate {
                    queued_at: Some(now.wall),
                    ..CallUpdate::default()
                },
            }));
        self.play_hold(call);
        self.acd.handle_caller_arrived(call, now.mono);
    }

    /// The call is ending: take it out of the ACD (a waiting caller leaves the queue, a
    /// connected one frees its operator into wrap-up). Idempotent.
    pub(super) fn leave_queue(&mut self, call: CallRef, now: Now) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        match c.phase {
            Phase::Queued => self.acd.handle_caller_left(call, now.mono),
            Phase::Connected => self.acd.handle_call_ended(call, now.mono),
            _ => {}
        }
        if let Some(c) = self.calls.get_mut(&call) {
            c.phase = Phase::HangingUp;
        }
    }

    pub(super) fn on_acd_action(&mut self, action: AcdAction, now: Now) {
        match action {
            AcdAction::Ring { call, operator } => self.start_ring(call, operator, now),
            AcdAction::CancelRing { call, .. } => self.cancel_ring(call, now),
            AcdAction::Announce {
                call,
                position,
                eta_minutes,
            } => {
                let mut prompts = vec![PromptKind::Position(position)];
                prompts.extend(eta_minutes.map(PromptKind::WaitMinutes));
                self.play(call, prompts, false, Playing::Announcement);
            }
            AcdAction::Overflow { call } => {
                self.farewell(call, PromptKind::Overflow, Outcome::Overflow, EndReason::MaxWait)
            }
            AcdAction::NoOperators { call } => self.farewell(
                call,
                PromptKind::NoOperators,
                Outcome::NoOperators,
                EndReason::NoOperators,
            ),
            AcdAction::OperatorChanged { operator, state } => {
                tracing::info!(%operator, ?state, "operator state");
            }
        }
    }

    /// The ACD let the caller go: a last message, then we hang up.
    fn farewell(
        &mut self,
        call: CallRef,
        prompt: PromptKind,
        outcome: Outcome,
        reason: EndReason,
    ) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        // Out of the queue already (the ACD removed it): not `Queued` any more.
        c.phase = Phase::Answered;
        self.play(
            call,
            vec![prompt],
            false,
            Playing::Farewell(outcome, reason),
        );
    }
}
