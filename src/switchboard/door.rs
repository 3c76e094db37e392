//! The door: what a new INVITE gets before any call exists.
//!
//! A pure decision over the facts of one INVITE, in a fixed order so that the answer a
//! caller gets is predictable: shutting down (503) → source not on the trunk (403) →
//! number not ours (404) → `limits.max_calls` calls in progress (503) → loop (483) → session timer too short (422) → unusable SDP
//! (400/488) → served (after hours or in hours). Every INVITE still gets its register
//! row; this only decides what it says.

use std::net::IpAddr;

use jiff::Timestamp;

use crate::calendar::BusinessCalendar;
use crate::config::TrunkConfig;
use crate::media::Codec;
use crate::model::EndReason;
use crate::sdp::{self, Negotiated, RemoteSession, SdpError};
use crate::sip::session_timer::{MinSe, UasAnswer};

/// What the caller is served once admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// Closed: play the after-hours message, then hang up.
    AfterHours,
    /// Open: play the greeting, then queue for an operator.
    InHours,
    /// An operator's feature code (*50 pause, *51 resume): confirm and hang up. Not a
    /// call to the line, so no register row.
    Feature(Feature),
}

/// Operator feature codes dialled from a registered softphone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feature {
    /// `*50`: take a break (no calls offered).
    Pause,
    /// `*51`: back to work.
    Resume,
}

impl Feature {
    pub fn from_dialed(dialed: &str) -> Option<Feature> {
        match dialed {
            "*50" => Some(Feature::Pause),
            "*51" => Some(Feature::Resume),
            _ => None,
        }
    }
}

/// Why an INVITE was turned away, with the SIP status the caller gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Draining for shutdown: 503 with Retry-After.
    ShuttingDown,
    /// `limits.max_calls` calls are in progress: 503 with Retry-After.
    TooManyCalls,
    /// Source address not in `trunk.allow`: 403.
    SourceNotAllowed,
    /// Request-URI user is not one of `trunk.numbers`: 404.
    NotOurNumber,
    /// Max-Forwards reached zero: 483.
    TooManyHops,
    /// No SDP offer we can read: 400 (malformed) or 488 (absent / nothing usable).
    BadOffer(OfferProblem),
    /// A session timer shorter than our minimum: 422 with our Min-SE (RFC 4028 §6).
    SessionTooSmall(MinSe),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OfferProblem {
    Malformed,
    NoAudio,
    NoCommonCodec,
    Missing,
    /// Readable but not one we take: multicast or unspecified address, beyond our
    /// bounds on size, m-lines or attributes.
    Unacceptable,
}

impl Refusal {
    pub fn status(self) -> u16 {
        match self {
            Refusal::ShuttingDown | Refusal::TooManyCalls => 503,
            Refusal::SourceNotAllowed => 403,
            Refusal::NotOurNumber => 404,
            Refusal::TooManyHops => 483,
            Refusal::BadOffer(OfferProblem::Malformed) => 400,
            Refusal::BadOffer(_) => 488,
            Refusal::SessionTooSmall(_) => 422,
        }
    }

    /// The register's `end_reason` for it.
    pub fn reason(self) -> EndReason {
        match self {
            Refusal::ShuttingDown => EndReason::ShuttingDown,
            Refusal::TooManyCalls => EndReason::TooManyCalls,
            Refusal::SourceNotAllowed => EndReason::SourceNotAllowed,
            Refusal::NotOurNumber => EndReason::NotOurNumber,
            Refusal::TooManyHops => EndReason::TooManyHops,
            Refusal::BadOffer(OfferProblem::Malformed) => EndReason::SdpMalformed,
            Refusal::BadOffer(OfferProblem::NoAudio) => EndReason::SdpNoAudio,
            Refusal::BadOffer(OfferProblem::NoCommonCodec) => EndReason::NoCommonCodec,
            Refusal::BadOffer(OfferProblem::Missing) => EndReason::SdpMissing,
            Refusal::BadOffer(OfferProblem::Unacceptable) => EndReason::SdpUnacceptable,
            Refusal::SessionTooSmall(_) => EndReason::SessionTooSmall,
        }
    }
}

/// The facts of one INVITE the door looks at.
pub struct Knock<'a> {
    pub source_ip: IpAddr,
    pub dialed: Option<&'a str>,
    pub max_forwards: Option<u32>,
    /// The SDP body, if the INVITE carries one.
    pub sdp: Option<&'a [u8]>,
    /// Our answer to its session timer (RFC 4028).
    pub session_timer: UasAnswer,
    pub now: Timestamp,
}

/// An admitted call: what it is served and the media it agreed on.
#[derive(Debug, Clone)]
pub struct Admitted {
    pub service: Service,
    pub offer: RemoteSession,
    pub negotiated: Negotiated,
    /// The session timer our 200 OK will carry.
    pub session_timer: UasAnswer,
}

pub struct Door<'a> {
    pub trunk: &'a TrunkConfig,
    pub calendar: &'a BusinessCalendar,
    pub codecs: &'a [Codec],
    pub draining: bool,
    /// `limits.max_calls` calls are in progress.
    pub full: bool,
    /// The registered provider's addresses (registrar, outbound proxy), resolved by the
    /// runtime: calls from them are let in by the registration, not by `trunk.allow`.
    pub provider_sources: &'a [IpAddr],
}

impl Door<'_> {
    pub fn decide(&self, knock: &Knock<'_>) -> Result<Admitted, Refusal> {
        if self.draining {
            return Err(Refusal::ShuttingDown);
        }
        let from_provider = self.provider_sources.contains(&knock.source_ip);
        if !from_provider && !self.trunk.allows(knock.source_ip) {
            return Err(Refusal::SourceNotAllowed);
        }
        match knock.dialed {
            Some(number) if self.trunk.answers_number(number) => {}
            // The provider sends calls to the Contact we registered: its user part.
            Some(user) if from_provider && self.trunk.is_registered_user(user) => {}
            _ => return Err(Refusal::NotOurNumber),
        }
        // After the cheap refusals, so that strangers still hear 403/404 and a trunk
        // that is told to wait knows the number was right.
        if self.full {
            return Err(Refusal::TooManyCalls);
        }
        if knock.max_forwards == Some(0) {
            return Err(Refusal::TooManyHops);
        }
        if let UasAnswer::TooSmall { min_se } = knock.session_timer {
            return Err(Refusal::SessionTooSmall(min_se));
        }
        // Delayed offer (no SDP in the INVITE) is legal SIP, but trunks in practice always
        // offer; refusing it cleanly with 488 beats a half-supported path.
        let body = knock.sdp.ok_or(Refusal::BadOffer(OfferProblem::Missing))?;
        let offer = sdp::parse(body).map_err(|e| Refusal::BadOffer(offer_problem(&e)))?;
        let negotiated = sdp::negotiate_initial(&offer, self.codecs)
            .map_err(|e| Refusal::BadOffer(offer_problem(&e)))?;
        let service = if self.calendar.is_open(knock.now) {
            Service::InHours
        } else {
            Service::AfterHours
        };
        Ok(Admitted {
            service,
            offer,
            negotiated,
            session_timer: knock.session_timer,
        })
    }
}

fn offer_problem(e: &SdpError) -> OfferProblem {
    match e {
        SdpError::NoAudio => OfferProblem::NoAudio,
        SdpError::NoCommonCodec => OfferProblem::NoCommonCodec,
        SdpError::MulticastAddress(_)
        | SdpError::UnspecifiedAddress
        | SdpError::TooLarge { .. }
        | SdpError::TooManyMedia { .. }
        | SdpError::TooManyAttributes { .. } => OfferProblem::Unacceptable,
        _ => OfferProblem::Malformed,
    }
}
