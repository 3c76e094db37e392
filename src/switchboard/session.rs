//! One leg's offer/answer state (RFC 3264): what we said (our session and the last
//! description we sent), what the peer offered, and what was agreed. Every later offer on
//! the leg (re-INVITE or UPDATE, §8) is answered against it here, for either leg.
//!
//! Rules kept: the agreed codec stays if the new offer still has it (no needless switch
//! mid-conversation); an offer with nothing usable is refused and the session stays as it
//! was (§8: "the old session remains in effect"); our `o=` version goes up only when our
//! description changes (§8), so a session refresh is answered with the same version.

use crate::media::Codec;
use crate::sdp::{self, LocalSession, Negotiated, RemoteSession, SdpError};
use crate::sip::message::Request;
use crate::sip::session_timer::{self, SessionTimerPolicy, SessionTimerRequest, UasAnswer};

/// A leg's agreed session.
#[derive(Debug, Clone)]
pub(super) struct MediaSession {
    local: LocalSession,
    remote: RemoteSession,
    agreed: Negotiated,
    /// The last description we sent (an answer, or our offer on the operator leg).
    sent: String,
}

/// What a new offer changed, for the media path and the call's timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Renegotiated {
    /// The answer to send.
    pub answer: String,
    /// The peer's media moved to another address or port.
    pub moved: bool,
    /// The hold state changed (see [`MediaSession::peer_holds`]).
    pub hold_changed: bool,
    /// Where or how the stream flows changed (address, codec, payload types).
    pub stream_changed: bool,
    /// The direction changed (hold, resume, or between `sendonly` and `inactive`).
    pub direction_changed: bool,
}

impl Renegotiated {
    /// Anything the media path must follow changed.
    pub fn media_changed(&self) -> bool {
        self.stream_changed || self.direction_changed
    }
}

impl MediaSession {
    /// We answered `remote` (the peer's offer) as agreed, or the peer answered our offer.
    pub fn new(
        local: LocalSession,
        remote: RemoteSession,
        agreed: Negotiated,
        sent: String,
    ) -> Self {
        MediaSession {
            local,
            remote,
            agreed,
            sent,
        }
    }

    pub fn agreed(&self) -> &Negotiated {
        &self.agreed
    }

    /// The last description we sent.
    pub fn sent(&self) -> &str {
        &self.sent
    }

    /// Whether the peer has put us on hold: it will not take our media (it offered
    /// `sendonly` or `inactive`, so we answered `recvonly` or `inactive`).
    pub fn peer_holds(&self) -> bool {
        !self.agreed.direction.sends()
    }

    /// Whether we may send to the peer.
    pub fn we_send(&self) -> bool {
        self.agreed.direction.sends()
    }

    /// Whether the peer is expected to send to us.
    pub fn peer_sends(&self) -> bool {
        self.agreed.direction.receives()
    }

    /// Answer a new offer on this leg (RFC 3264 §8). On error nothing changes.
    pub fn renegotiate(
        &mut self,
        offer: &[u8],
        codecs: &[Codec],
    ) -> Result<Renegotiated, SdpError> {
        let remote = sdp::parse(offer)?;
        let agreed = negotiate_keeping(&remote, codecs, self.agreed.codec)?;
        let mut local = self.local.clone();
        let mut answer = sdp::answer(&local, &remote, &agreed);
        if answer != self.sent {
            local.version += 1;
            answer = sdp::answer(&local, &remote, &agreed);
        }
        let before = &self.agreed;
        let changed = Renegotiated {
            answer: answer.clone(),
            moved: agreed.remote != before.remote,
            hold_changed: agreed.direction.sends() != before.direction.sends(),
            stream_changed: agreed.remote != before.remote
                || agreed.codec != before.codec
                || agreed.payload_type != before.payload_type
                || agreed.telephone_event != before.telephone_event,
            direction_changed: agreed.direction != before.direction,
        };
        self.local = local;
        self.remote = remote;
        self.agreed = agreed;
        self.sent = answer;
        Ok(changed)
    }
}

/// As [`sdp::negotiate`], but keeping `current` when the offer still lists it.
fn negotiate_keeping(
    remote: &RemoteSession,
    codecs: &[Codec],
    current: Codec,
) -> Result<Negotiated, SdpError> {
    sdp::negotiate(remote, &[current]).or_else(|_| sdp::negotiate(remote, codecs))
}

/// Our answer to an INVITE's or UPDATE's session timer (RFC 4028 §9), except that we never
/// take the refresher's part: where the rules would make us refresh (a peer that does not
/// support timers, or asks us to), the 2xx carries no Session-Expires, which is how a UAS
/// without the extension answers, and the peer's side keeps the session alive.
pub(super) fn session_timer_answer(req: &Request, policy: &SessionTimerPolicy) -> UasAnswer {
    match session_timer::answer_request(&SessionTimerRequest::of(req), policy) {
        UasAnswer::Timer { timer, .. } if timer.we_refresh => UasAnswer::NoTimer,
        answer => answer,
    }
}
