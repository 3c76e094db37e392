//! A new INVITE's arrival: its register row is opened at once, then the door decides
//! (refused with its status, or admitted into a call), and operators' feature codes
//! (`*50`/`*51`) are told apart from calls to the line.

use tracing::Span;

use crate::model::{
    CallDirection, CallUpdate, HangupBy, NewCall as RowOpen, Now, Outcome, RegisterWrite,
};
use crate::sdp;
use crate::sip::factory::SHUTDOWN_RETRY_AFTER_S;
use crate::sip::message::{self, Request};
use crate::sip::transaction::TxKey;
use crate::sip::Peer;

use super::acd::PauseReason;
use super::call::{Call, NewCall};
use super::door::{Admitted, Door, Feature, Knock, Refusal, Service};
use super::session::session_timer_answer;
use super::{loggable_number, Action, Switchboard};
use crate::sip::session_timer::UasAnswer;

impl Switchboard {
    /// A new INVITE (no To tag): open its row, then admit or refuse it.
    pub(super) fn on_new_invite(&mut self, key: TxKey, invite: Request, source: Peer, now: Now) {
        self.stats.invites += 1;
        let dialed = message::request_user(&invite);
        if let Some(feature) = dialed.as_deref().and_then(Feature::from_dialed) {
            return self.on_feature_code(key, invite, source, feature, now);
        }
        let id = crate::model::new_call_id(now.wall, &mut self.rng);
        let caller = message::from_user(&invite).unwrap_or_else(|| "anonymous".to_string());
        let span = tracing::info_span!(
            "call",
            call_id = %id,
            caller = %loggable_number(&caller, self.settings.show_numbers),
            operator = tracing::field::Empty,
        );
        self.actions
            .push_back(Action::Register(RegisterWrite::Open(RowOpen {
                id: id.clone(),
                sip_call_id: message::call_id(&invite).unwrap_or_default().to_string(),
                caller: caller.clone(),
                dialed: dialed.clone().unwrap_or_default(),
                source: source.to_string(),
                received_at: now.wall,
                direction: CallDirection::Inbound,
            })));

        let sdp_body = message::has_sdp_body(&invite).then_some(invite.body.as_slice());
        let knock = Knock {
            source_ip: source.addr.ip(),
            dialed: dialed.as_deref(),
            max_forwards: message::max_forwards(&invite).ok().flatten(),
            sdp: sdp_body,
            session_timer: session_timer_answer(&invite, &self.settings.session_timer),
            now: now.wall,
        };
        let door = Door {
            trunk: &self.settings.trunk,
            calendar: &self.settings.calendar,
            codecs: &self.settings.codecs,
            draining: self.draining,
            full: self.calls.len() >= self.settings.limits.max_calls as usize,
            provider_sources: &self.provider_sources,
        };
        match door.decide(&knock) {
            Err(refusal) => self.refuse(&id, &span, &key, &invite, refusal, now),
            Ok(admitted) => {
                let entry = Entry {
                    id,
                    span,
                    caller,
                    registered: true,
                };
                self.admit(entry, key, invite, source, admitted, now)
            }
        }
    }

    /// `*50` / `*51` from an operator's softphone: digest-authenticated, then confirmed
    /// with a short message. Not a call to the line: no register row.
    fn on_feature_code(
        &mut self,
        key: TxKey,
        invite: Request,
        source: Peer,
        feature: Feature,
        now: Now,
    ) {
        let operator = match self.ua.authenticate(&invite, source, now.mono) {
            Ok(op) => op,
            Err(challenge) => return self.ua.respond(&key, challenge, now.mono),
        };
        let done = match feature {
            Feature::Pause => {
                self.acd
                    .pause(&operator, PauseReason::Manual("*50".to_string()), now.mono)
            }
            Feature::Resume => self.acd.resume(&operator, now.mono),
        };
        tracing::info!(operator = %operator, ?feature, ok = done.is_ok(), "operator feature code");
        let offer = message::has_sdp_body(&invite)
            .then(|| sdp::parse(&invite.body).ok())
            .flatten();
        let negotiated = offer
            .as_ref()
            .and_then(|o| sdp::negotiate(o, &self.settings.codecs).ok());
        match (offer, negotiated, done) {
            (Some(offer), Some(negotiated), Ok(())) => {
                let entry = Entry {
                    id: format!("feature-{operator}"),
                    span: tracing::info_span!("feature", operator = %operator),
                    caller: operator.clone(),
                    registered: false,
                };
                let admitted = Admitted {
                    service: Service::Feature(feature),
                    offer,
                    negotiated,
                    session_timer: UasAnswer::NoTimer,
                };
                self.admit(entry, key, invite, source, admitted, now);
            }
            (_, _, result) => {
                // No usable media: answer the outcome in the status line alone.
                let status = if result.is_ok() { 480 } else { 403 };
                let tag = message::new_tag(&mut self.rng);
                let resp = self.ua.factory().reply(&invite, status, Some(&tag));
                self.ua.respond(&key, resp, now.mono);
            }
        }
    }

    fn refuse(
        &mut self,
        id: &str,
        span: &Span,
        key: &TxKey,
        invite: &Request,
        why: Refusal,
        now: Now,
    ) {
        let _enter = span.enter();
        tracing::info!(
            status = why.status(),
            reason = why.reason().as_str(),
            "call refused"
        );
        let tag = message::new_tag(&mut self.rng);
        let factory = self.ua.factory();
        let resp = match why {
            Refusal::ShuttingDown => {
                factory.retry_after(invite, why.status(), &tag, SHUTDOWN_RETRY_AFTER_S)
            }
            Refusal::TooManyCalls => {
                self.counters.count_limit("max_calls");
                let seconds = self.settings.limits.retry_after.as_secs().max(1);
                let seconds = u32::try_from(seconds).unwrap_or(u32::MAX);
                factory.retry_after(invite, why.status(), &tag, seconds)
            }
            // RFC 3261 §21.4.26: say what we can do instead.
            Refusal::BadOffer(_) => factory.media_refused(invite, why.status(), Some(&tag)),
            // RFC 4028 §6: say the shortest interval we take.
            Refusal::SessionTooSmall(min_se) => {
                let mut resp = factory.reply(invite, why.status(), Some(&tag));
                UasAnswer::TooSmall { min_se }.push_headers(&mut resp);
                resp
            }
            _ => factory.reply(invite, why.status(), Some(&tag)),
        };
        self.ua.respond(key, resp, now.mono);
        self.actions
            .push_back(Action::Register(RegisterWrite::Update {
                id: id.to_string(),
                update: CallUpdate {
                    ended_at: Some(now.wall),
                    outcome: Some(Outcome::Rejected),
                    hangup_by: Some(HangupBy::System),
                    final_status: Some(why.status()),
                    end_reason: Some(why.reason()),
                    ..CallUpdate::default()
                },
            }));
    }

    fn admit(
        &mut self,
        entry: Entry,
        key: TxKey,
        invite: Request,
        source: Peer,
        a: Admitted,
        now: Now,
    ) {
        let call_ref = self.new_ref();
        {
            let _enter = entry.span.enter();
            tracing::info!(service = ?a.service, codec = a.negotiated.codec.name(), "call admitted");
        }
        let local_tag = message::new_tag(&mut self.rng);
        let new = NewCall {
            call_ref,
            id: entry.id,
            span: entry.span,
            service: a.service,
            caller_number: entry.caller,
            registered: entry.registered,
            invite,
            invite_key: key,
            source,
            local_tag,
            offer: a.offer,
            agreed: a.negotiated,
            session_timer: a.session_timer,
        };
        self.calls
            .insert(call_ref, Box::new(Call::new(new, now.wall)));
        self.with_call(call_ref, now, |c, ctx| c.start(ctx));
        self.stats.calls_started += 1;
    }
}

/// Who a new call is, before it exists.
struct Entry {
    id: String,
    span: Span,
    caller: String,
    registered: bool,
}
