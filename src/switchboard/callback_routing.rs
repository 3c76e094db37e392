//! The switchboard's side of call-backs (`callback/`): starting one for the API, and
//! routing the SIP core's events, media reports and deadlines to it as `with_call` does
//! for calls. The queue holds the operator as talking for the whole call-back.

use crate::model::Now;
use crate::sip::ua::UaEvent;
use crate::sip::Peer;

use super::acd::AcdError;
use super::call::{Ctx, Owner};
use super::callback::{CallBack, CallBackRefused, CallBackRequest, NewCallBack};
use super::{loggable_number, CallRef, Leg, MediaEvent, Switchboard};

impl Switchboard {
    /// Where requests to the provider go first (outbound proxy or registrar), as the
    /// runtime resolved it while registered; `None` when there is no registration to
    /// call through.
    pub fn set_provider_route(&mut self, hop: Option<Peer>) {
        self.provider_hop = hop;
    }

    /// Start a call-back: ring `request.operator`, then call the item's number through
    /// the provider. Returns the outbound call's public id (its register row).
    pub fn start_callback(
        &mut self,
        request: CallBackRequest,
        now: Now,
    ) -> Result<String, CallBackRefused> {
        if self.draining {
            return Err(CallBackRefused::ShuttingDown);
        }
        if self.settings.trunk.provider.is_none() || self.provider_hop.is_none() {
            return Err(CallBackRefused::NoProvider);
        }
        let digits = request.number.strip_prefix('+').unwrap_or(&request.number);
        if digits.is_empty() || digits.len() > 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CallBackRefused::NotANumber);
        }
        if self.ua.registrar().binding(&request.operator).is_none()
            && self.acd.operator_state(&request.operator).is_some()
        {
            return Err(CallBackRefused::NotRegistered(request.operator));
        }
        let call_ref = self.new_ref();
        if let Err(e) = self
            .acd
            .reserve_for_callback(call_ref, &request.operator, now.mono)
        {
            return Err(match e {
                AcdError::UnknownOperator(op) => CallBackRefused::UnknownOperator(op),
                AcdError::NotLoggedIn(op) => CallBackRefused::NotRegistered(op),
                AcdError::NotFree(op) | AcdError::NotPaused(op) => {
                    CallBackRefused::OperatorBusy(op)
                }
            });
        }
        let id = crate::model::new_call_id(now.wall, &mut self.rng);
        let host = self.settings.sip_addr.ip().to_string();
        let sip_call_id = crate::sip::message::new_call_id(&mut self.rng, &host);
        let span = tracing::info_span!(
            "callback",
            call_id = %id,
            item = request.item,
            number = %loggable_number(&request.number, self.settings.show_numbers),
            operator = %request.operator,
        );
        span.in_scope(|| tracing::info!(requested_by = %request.requested_by, "call-back started"));
        let source = self.provider_hop.map(|p| p.to_string()).unwrap_or_default();
        let cb = CallBack::new(
            NewCallBack {
                call_ref,
                id: id.clone(),
                sip_call_id,
                request,
                span,
            },
            now,
        );
        self.callbacks.insert(call_ref, cb);
        self.stats.calls_started += 1;
        self.with_callback(call_ref, now, |c, ctx| c.start(ctx, source));
        self.pump(now);
        Ok(id)
    }

    /// Whether a call-back has this ref (its events go to `with_callback`).
    pub(super) fn is_callback(&self, call: CallRef) -> bool {
        self.callbacks.contains_key(&call)
    }

    /// The SIP core's event for a call-back.
    pub(super) fn on_callback_event(&mut self, event: UaEvent<Owner>, now: Now) {
        match event {
            UaEvent::InDialog {
                owner,
                key,
                request,
            } => {
                self.with_callback(owner.call, now, |c, ctx| {
                    c.in_dialog(ctx, owner.leg, key, request)
                });
            }
            UaEvent::Response {
                owner,
                key,
                response,
            } => {
                self.with_callback(owner.call, now, |c, ctx| c.response(ctx, &key, &response));
            }
            UaEvent::Timeout { owner, key } => {
                self.with_callback(owner.call, now, |c, ctx| c.timeout(ctx, &key));
            }
            UaEvent::Ended { owner, key } => {
                self.with_callback(owner.call, now, |c, ctx| c.transaction_ended(ctx, &key));
            }
            // A call-back answers no INVITE of its own: nothing else is bound to it.
            _ => {}
        }
    }

    /// A media report for a call-back; `false` if `call` is not one.
    pub(super) fn callback_media(&mut self, call: CallRef, event: MediaEvent, now: Now) -> bool {
        if !self.is_callback(call) {
            return false;
        }
        if let MediaEvent::Inactive { leg } = event {
            self.with_callback(call, now, |c, ctx| c.media_inactive(ctx, leg));
        }
        true
    }

    /// A socket for a call-back's leg; `false` if `call` is not one.
    pub(super) fn callback_media_ready(
        &mut self,
        call: CallRef,
        leg: Leg,
        port: Option<u16>,
        now: Now,
    ) -> bool {
        self.with_callback(call, now, |c, ctx| c.media_ready(ctx, leg, port))
            .is_some()
    }

    /// Run `f` on the call-back; free its operator once it is over and forget it once
    /// nothing of it is pending. `None` if there is no such call-back.
    pub(super) fn with_callback<R>(
        &mut self,
        call: CallRef,
        now: Now,
        f: impl FnOnce(&mut CallBack, &mut Ctx<'_>) -> R,
    ) -> Option<R> {
        let mut effects = Vec::new();
        let c = self.callbacks.get_mut(&call)?;
        let span = c.span().clone();
        let result = {
            let _enter = span.enter();
            let mut ctx = Ctx {
                now,
                ua: &mut self.ua,
                settings: &self.settings,
                rng: &mut self.rng,
                actions: &mut self.actions,
                effects: &mut effects,
                counters: &mut self.counters,
                operators_present: true,
                provider_hop: self.provider_hop,
            };
            f(c, &mut ctx)
        };
        self.timers.set(call, c.poll_timeout());
        let (over, finished) = (c.is_over(), c.is_finished());
        if over && self.acd.talking_operator(call).is_some() {
            self.acd.handle_call_ended(call, now.mono);
        }
        if finished {
            self.timers.set(call, None);
            if let Some(c) = self.callbacks.remove(&call) {
                for key in c.dialog_keys() {
                    self.ua.unbind_dialog(&key);
                }
                self.stats.calls_ended += 1;
            }
        }
        Some(result)
    }
}
