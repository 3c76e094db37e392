//! The switchboard's routing: every event of the SIP core and every decision of the queue
//! goes to the one call it is about (through `with_call`), and what a call reports goes
//! to the queue.

use crate::model::{EndReason, Now, Outcome, RingResult};
use crate::sip::registrar::BindingEvent;
use crate::sip::ua::UaEvent;

use super::acd::{AcdAction, OperatorState};
use super::call::{Effect, Owner};
use super::{Action, CallRef, PromptKind, Switchboard};

impl Switchboard {
    /// Drain the SIP core's events and the queue's decisions until both are quiet.
    pub(super) fn pump(&mut self, now: Now) {
        loop {
            if let Some(event) = self.ua.poll_event() {
                self.on_ua_event(event, now);
            } else if let Some(action) = self.acd.poll_action() {
                self.on_acd_action(action, now);
            } else {
                break;
            }
        }
    }

    pub(super) fn on_ua_event(&mut self, event: UaEvent<Owner>, now: Now) {
        if owner_of(&event).is_some_and(|o| self.is_callback(o.call)) {
            return self.on_callback_event(event, now);
        }
        match event {
            UaEvent::Transmit { peer, data } => {
                self.actions.push_back(Action::Transmit { peer, data })
            }
            UaEvent::NewInvite {
                key,
                request,
                source,
            } => self.on_new_invite(key, request, source, now),
            UaEvent::InDialog {
                owner,
                key,
                request,
            } => {
                let routed = self.with_call(owner.call, now, |c, ctx| {
                    c.in_dialog(ctx, owner.leg, key.clone(), request.clone())
                });
                if routed.is_none() {
                    let resp = self.ua.factory().reply(&request, 481, None);
                    self.ua.respond(&key, resp, now.mono);
                }
            }
            UaEvent::Acked { owner } => {
                self.with_call(owner.call, now, |c, _| c.acked());
            }
            UaEvent::Cancelled { owner, .. } => {
                self.with_call(owner.call, now, |c, ctx| c.cancelled(ctx));
            }
            UaEvent::AckTimeout { owner } => {
                self.with_call(owner.call, now, |c, ctx| c.ack_timeout(ctx));
            }
            UaEvent::Response {
                owner,
                key,
                response,
            } => {
                self.with_call(owner.call, now, |c, ctx| c.response(ctx, &key, &response));
            }
            UaEvent::Timeout { owner, key } => {
                self.with_call(owner.call, now, |c, ctx| c.timeout(ctx, &key));
            }
            UaEvent::Ended { owner, key } => {
                self.with_call(owner.call, now, |c, ctx| {
                    c.transaction_ended(ctx, owner.leg, &key)
                });
            }
            UaEvent::Binding(event) => self.on_binding(event, now),
        }
    }

    fn on_acd_action(&mut self, action: AcdAction, now: Now) {
        match action {
            AcdAction::Ring { call, operator } => {
                let rung = self.with_call(call, now, |c, ctx| c.ring(ctx, operator.clone()));
                if rung != Some(Ok(())) {
                    self.acd
                        .handle_ring_failed(call, &operator, RingResult::Error, now.mono);
                }
            }
            AcdAction::CancelRing { call, why, .. } => {
                self.with_call(call, now, |c, ctx| c.cancel_ring(ctx, why));
            }
            AcdAction::Announce {
                call,
                position,
                eta_minutes,
            } => {
                let mut prompts = vec![PromptKind::Position(position)];
                prompts.extend(eta_minutes.map(PromptKind::WaitMinutes));
                self.with_call(call, now, |c, ctx| c.announce(ctx, prompts));
            }
            AcdAction::Overflow { call } => {
                self.with_call(call, now, |c, ctx| {
                    c.farewell(
                        ctx,
                        PromptKind::Overflow,
                        Outcome::Overflow,
                        EndReason::MaxWait,
                    )
                });
            }
            AcdAction::QueueFull { call } => {
                self.counters.count_limit("max_waiting");
                self.with_call(call, now, |c, ctx| {
                    c.farewell(
                        ctx,
                        PromptKind::Overflow,
                        Outcome::Overflow,
                        EndReason::QueueFull,
                    )
                });
            }
            AcdAction::NoOperators { call } => {
                self.with_call(call, now, |c, ctx| {
                    c.farewell(
                        ctx,
                        PromptKind::NoOperators,
                        Outcome::NoOperators,
                        EndReason::NoOperators,
                    )
                });
            }
            AcdAction::OperatorChanged { operator, state } => {
                tracing::info!(%operator, ?state, "operator state");
            }
        }
    }

    /// What a call reported, for the queue.
    pub(super) fn on_effect(&mut self, call: CallRef, effect: Effect, now: Now) {
        let at = now.mono;
        match effect {
            Effect::Queued => {
                let topic = self
                    .calls
                    .get(&call)
                    .and_then(|c| c.topic().map(str::to_owned));
                self.acd
                    .handle_caller_arrived_for(call, topic.as_deref(), at)
            }
            Effect::LeftQueue => self.acd.handle_caller_left(call, at),
            Effect::ConversationEnded => self.acd.handle_call_ended(call, at),
            Effect::RingFailed { operator, result } => {
                self.acd.handle_ring_failed(call, &operator, result, at)
            }
            Effect::RingAnswered { operator } => {
                if !self.acd.handle_ring_answered(call, &operator, at) {
                    self.with_call(call, now, |c, ctx| c.answer_not_expected(ctx));
                }
            }
        }
    }

    /// An operator's registration changed.
    fn on_binding(&mut self, event: BindingEvent, now: Now) {
        tracing::info!(?event, "operator registration");
        match event {
            BindingEvent::Online { operator } => {
                self.acd.handle_operator_online(&operator, now.mono)
            }
            BindingEvent::Offline { operator, .. } => {
                self.acd.handle_operator_offline(&operator, now.mono)
            }
            // The softphone came back from somewhere else (restarted, new address): a ring
            // in flight goes to a device that is gone. Call it off; the caller keeps its
            // place and the operator is rung again, on the new binding, after the queue's
            // retry interval (reported as busy: not the operator's fault, so it does not
            // count towards an automatic pause).
            BindingEvent::Moved { operator } => {
                if let Some(OperatorState::Ringing(call)) =
                    self.acd.operator_state(&operator).cloned()
                {
                    self.with_call(call, now, |c, ctx| c.cancel_ring(ctx, RingResult::Error));
                    self.acd
                        .handle_ring_failed(call, &operator, RingResult::Busy, now.mono);
                }
            }
        }
    }
}

/// The call (or call-back) an event of the SIP core belongs to, if any.
fn owner_of(event: &UaEvent<Owner>) -> Option<Owner> {
    match event {
        UaEvent::InDialog { owner, .. }
        | UaEvent::Acked { owner }
        | UaEvent::Cancelled { owner, .. }
        | UaEvent::AckTimeout { owner }
        | UaEvent::Response { owner, .. }
        | UaEvent::Timeout { owner, .. }
        | UaEvent::Ended { owner, .. } => Some(*owner),
        UaEvent::Transmit { .. } | UaEvent::NewInvite { .. } | UaEvent::Binding(_) => None,
    }
}
