//! A new INVITE's arrival: its register row is opened at once, then the door decides
//! (refused with its status, or admitted into a call), and operators' feature codes
//! (`*50`/`*51`) are told apart from calls to the line.

use jiff::Timestamp;
use tracing::Span;

use crate::model::Now;
use crate::sdp;
use crate::sip::message::{self, Request};
use crate::sip::transaction::TxKey;
use crate::sip::Peer;

use super::calls::{header, Call, Phase, Playing};
use super::door::{Admitted, Door, Feature, Knock, Refusal, Service};
use crate::model::{CallUpdate, HangupBy, NewCall, Outcome, RegisterWrite};
use super::{loggable_number, Action, Leg, Switchboard};

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
        let sip_call_id = message::call_id(&invite).unwrap_or_default().to_string();
        let span = tracing::info_span!(
            "call",
            call_id = %id,
            caller = %loggable_number(&caller, self.settings.show_numbers),
            operator = tracing::field::Empty,
        );
        self.actions
            .push_back(Action::Register(RegisterWrite::Open(NewCall {
                id: id.clone(),
                sip_call_id,
                caller,
                dialed: dialed.clone().unwrap_or_default(),
                source: source.to_string(),
                received_at: now.wall,
            })));

        let sdp_body = message::has_sdp_body(&invite).then_some(invite.body.as_slice());
        let knock = Knock {
            source_ip: source.addr.ip(),
            dialed: dialed.as_deref(),
            max_forwards: message::max_forwards(&invite).ok().flatten(),
            sdp: sdp_body,
            now: now.wall,
        };
        let door = Door {
            trunk: &self.settings.trunk,
            calendar: &self.settings.calendar,
            codecs: &self.settings.codecs,
            draining: self.draining,
        };
        match door.decide(&knock) {
            Err(refusal) => self.refuse(&id, &span, &key, &invite, refusal, now),
            Ok(admitted) => self.admit(now.wall, id, span, key, invite, source, admitted, true),
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
        let operator = match self.registrar.authenticate(&invite, source, now.mono) {
            Ok(op) => op,
            Err(challenge) => return self.respond(&key, challenge, now),
        };
        let done = match feature {
            Feature::Pause => self.acd.pause(
                &operator,
                super::acd::PauseReason::Manual("*50".to_string()),
                now.mono,
            ),
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
                let span = tracing::info_span!("feature", operator = %operator);
                let admitted = Admitted {
                    service: Service::Feature(feature),
                    offer,
                    negotiated,
                };
                self.admit(
                    now.wall,
                    format!("feature-{operator}"),
                    span,
                    key,
                    invite,
                    source,
                    admitted,
                    false,
                );
            }
            (_, _, result) => {
                // No usable media: answer the outcome in the status line alone.
                let status = if result.is_ok() { 480 } else { 403 };
                let tag = message::new_tag(&mut self.rng);
                let resp = message::response_to(&invite, status, Some(&tag));
                self.respond(&key, resp, now);
            }
        }
        self.pump(now);
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
        tracing::info!(status = why.status(), reason = why.reason().as_str(), "call refused");
        let tag = message::new_tag(&mut self.rng);
        let mut resp = message::response_to(invite, why.status(), Some(&tag));
        if why == Refusal::ShuttingDown {
            header(
                &mut resp,
                "Retry-After",
                &Self::RETRY_AFTER.as_secs().to_string(),
            );
        }
        if matches!(why, Refusal::BadOffer(_)) {
            // RFC 3261 §21.4.26: say what we can do instead.
            header(
                &mut resp,
                "Warning",
                "304 hotline \"Media type not available\"",
            );
        }
        self.respond(key, resp, now);
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

    #[allow(clippy::too_many_arguments)]
    fn admit(
        &mut self,
        received_at: Timestamp,
        id: String,
        span: Span,
        key: TxKey,
        invite: Request,
        source: Peer,
        a: Admitted,
        registered: bool,
    ) {
        let call = self.new_ref();
        {
            let _enter = span.enter();
            tracing::info!(service = ?a.service, codec = a.negotiated.codec.name(), "call admitted");
        }
        let local_tag = message::new_tag(&mut self.rng);
        self.by_invite.insert(key.clone(), call);
        self.calls.insert(
            call,
            Call {
                id,
                span,
                service: a.service,
                phase: Phase::OpeningMedia,
                invite_key: key,
                invite,
                source,
                local_tag,
                offer: a.offer,
                negotiated: a.negotiated,
                dialog: None,
                media_open: false,
                local_sdp: None,
                registered,
                row_closed: false,
                playing: Playing::Nothing,
                tag: 0,
                queued_at: None,
                connected_at: None,
                ring: None,
                operator: None,
                pending_byes: 0,
                notice_completed: None,
                recording: false,
                received_at,
            },
        );
        self.stats.calls_started += 1;
        self.actions.push_back(Action::OpenMedia {
            call,
            leg: Leg::Caller,
        });
    }
}
