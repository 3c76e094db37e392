//! One leg's offer/answer state (RFC 3264): what we said (our session and the last
//! description we sent), what the peer offered, and what was agreed. Every later offer on
//! the leg (re-INVITE or UPDATE, §8) is answered against it here, for either leg.
//!
//! Rules kept: the agreed codec stays if the new offer still has it (no needless switch
//! mid-conversation); an offer with nothing usable is refused and the session stays as it
//! was (§8: "the old session remains in effect"); our `o=` version goes up only when our
//! description changes (§8), so a session refresh is answered with the same version.

use crate::media::srtp::keys::CryptoAttr;
use crate::media::srtp::SrtpKeys;
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
    /// The leg's SRTP keys when it is secured (RTP/SAVP): later offers must stay secure,
    /// and are answered with the same key of ours.
    srtp: Option<SrtpKeys>,
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
            srtp: None,
        }
    }

    /// The leg is secured with these keys.
    pub fn with_srtp(mut self, keys: Option<SrtpKeys>) -> Self {
        self.srtp = keys;
        self
    }

    /// The leg's SRTP keys, if it is secured.
    pub fn srtp(&self) -> Option<SrtpKeys> {
        self.srtp
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
        // A secured leg stays secured: a new offer must carry a usable key (the peer may
        // rekey); we answer with the key we already send with.
        let (remote, srtp, tag) = match self.srtp {
            None => (sdp::parse(offer)?, None, 0),
            Some(keys) => match sdp::remote_security(offer)? {
                sdp::RemoteSecurity::Srtp(theirs) => {
                    let keys = SrtpKeys {
                        send: keys.send,
                        receive: theirs.key,
                    };
                    (sdp::parse_secure(offer)?, Some(keys), theirs.tag)
                }
                _ => return Err(SdpError::NoAudio),
            },
        };
        let agreed = negotiate_keeping(&remote, codecs, self.agreed.codec)?;
        let print = |local: &LocalSession| {
            let plain = sdp::answer(local, &remote, &agreed);
            match srtp {
                Some(keys) => sdp::secure(
                    &plain,
                    &CryptoAttr {
                        tag,
                        key: keys.send,
                    },
                ),
                None => plain,
            }
        };
        let mut local = self.local.clone();
        let mut answer = print(&local);
        if answer != self.sent {
            local.version += 1;
            answer = print(&local);
        }
        let before = &self.agreed;
        let changed = Renegotiated {
            answer: answer.clone(),
            moved: agreed.remote != before.remote,
            hold_changed: agreed.direction.sends() != before.direction.sends(),
            stream_changed: agreed.remote != before.remote
                || srtp != self.srtp
                || agreed.codec != before.codec
                || agreed.payload_type != before.payload_type
                || agreed.telephone_event != before.telephone_event,
            direction_changed: agreed.direction != before.direction,
        };
        self.local = local;
        self.remote = remote;
        self.agreed = agreed;
        self.srtp = srtp;
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

#[cfg(test)]
mod srtp_tests {
    use std::net::{IpAddr, Ipv4Addr};

    use super::*;
    use crate::media::srtp::keys::SrtpMasterKey;

    fn local(port: u16) -> LocalSession {
        LocalSession {
            username: "hotline".into(),
            session_id: 1,
            version: 1,
            addr: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port,
        }
    }

    fn key(byte: u8) -> SrtpMasterKey {
        SrtpMasterKey {
            key: [byte; 16],
            salt: [byte; 14],
        }
    }

    /// The operator's secure offer (its key `theirs`), from its port.
    fn phone_offer(theirs: SrtpMasterKey, direction: &str) -> String {
        let plain = sdp::offer(&local(20_000), &[Codec::Pcmu], 101)
            .replace("a=sendrecv", &format!("a={direction}"));
        sdp::secure(
            &plain,
            &CryptoAttr {
                tag: 1,
                key: theirs,
            },
        )
    }

    fn secured() -> MediaSession {
        let answer = phone_offer(key(2), "sendrecv");
        let remote = sdp::parse_secure(answer.as_bytes()).unwrap();
        let agreed = sdp::negotiate(&remote, &[Codec::Pcmu]).unwrap();
        let keys = SrtpKeys {
            send: key(1),
            receive: key(2),
        };
        MediaSession::new(local(40_000), remote, agreed, String::new()).with_srtp(Some(keys))
    }

    #[test]
    fn a_secured_leg_answers_a_secure_reoffer_with_its_key_and_takes_a_new_one() {
        let mut session = secured();
        let changed = session
            .renegotiate(phone_offer(key(3), "sendonly").as_bytes(), &[Codec::Pcmu])
            .unwrap();
        assert!(changed.answer.contains(" RTP/SAVP "), "{}", changed.answer);
        let ours = CryptoAttr {
            tag: 1,
            key: key(1),
        }
        .to_value();
        assert!(
            changed.answer.contains(&format!("a=crypto:{ours}")),
            "{}",
            changed.answer
        );
        assert!(changed.answer.contains("a=recvonly"), "{}", changed.answer);
        assert_eq!(session.srtp().unwrap().receive, key(3), "the phone rekeyed");
        assert!(changed.stream_changed);
    }

    #[test]
    fn a_secured_leg_refuses_a_plain_reoffer() {
        let mut session = secured();
        let plain = sdp::offer(&local(20_000), &[Codec::Pcmu], 101);
        assert!(session
            .renegotiate(plain.as_bytes(), &[Codec::Pcmu])
            .is_err());
        assert_eq!(session.srtp().unwrap().receive, key(2), "nothing changed");
    }
}
