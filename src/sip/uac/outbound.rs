//! The parts of an outbound INVITE through the provider that do not depend on the call
//! around it: the request itself (RFC 3261 §8.1.1 and §13.2.1: From and RFC 3325
//! P-Asserted-Identity set to the hotline number, Max-Forwards 70, RFC 4028 session timer
//! offered), the digest retry on 401/407 (§22.2, §22.3: same Call-ID, next CSeq, new
//! branch), and what a final answer means for the worklist ([`OutboundOutcome`]).
//!
//! Only the system places these calls, to numbers it chose itself (call-backs of missed
//! calls): nothing here takes a number from an operator or a caller. A 3xx is never
//! followed (a redirect could send the call anywhere at our cost): it is an outcome.

use rand::Rng;

use super::response::ResponseHead;
use crate::sip::digest::{pick_challenge, AuthHeader, ClientAuth};
use crate::sip::Transport;

/// Challenges answered for one INVITE before giving up (a proxy's 407 then the
/// provider's 401 is the longest honest sequence).
const MAX_CHALLENGES: u8 = 2;

/// What a call-back's INVITE came to, as the worklist records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutboundOutcome {
    /// 2xx: the citizen answered.
    Answered,
    /// 486 Busy Here, 600 Busy Everywhere, 603 Decline (the citizen pressed "reject").
    Busy,
    /// No answer: 408, 480, 487 (our ring timeout cancelled it).
    NoAnswer,
    /// The number does not exist or cannot be reached: 404, 484, 604, 410.
    Unreachable,
    /// Refused: 403, other 4xx, or our credentials refused.
    Rejected,
    /// The provider failed or did not answer at all: 5xx, Timer B.
    ProviderFailed,
    /// 3xx: a redirect, not followed.
    Redirected,
}

impl OutboundOutcome {
    /// The word stored on the worklist item and in the register.
    pub fn as_str(self) -> &'static str {
        match self {
            OutboundOutcome::Answered => "answered",
            OutboundOutcome::Busy => "busy",
            OutboundOutcome::NoAnswer => "no_answer",
            OutboundOutcome::Unreachable => "unreachable",
            OutboundOutcome::Rejected => "rejected",
            OutboundOutcome::ProviderFailed => "provider_failed",
            OutboundOutcome::Redirected => "redirected",
        }
    }

    /// What a final status means (401/407 only once their retries are spent).
    pub fn of_status(status: u16) -> OutboundOutcome {
        match status {
            200..=299 => OutboundOutcome::Answered,
            300..=399 => OutboundOutcome::Redirected,
            486 | 600 | 603 => OutboundOutcome::Busy,
            408 | 480 | 487 => OutboundOutcome::NoAnswer,
            404 | 410 | 484 | 604 => OutboundOutcome::Unreachable,
            500..=599 => OutboundOutcome::ProviderFailed,
            _ => OutboundOutcome::Rejected,
        }
    }

    /// No final answer at all (Timer B).
    pub fn timed_out() -> OutboundOutcome {
        OutboundOutcome::ProviderFailed
    }
}

/// The values of one outbound INVITE.
#[derive(Debug, Clone)]
pub struct OutboundInvite {
    /// The citizen's number (digits, optionally a leading +).
    pub number: String,
    /// The provider's domain (host[:port]) for the Request-URI, From and To.
    pub provider_host: String,
    /// The hotline number we call from (From and P-Asserted-Identity).
    pub hotline_number: String,
    /// Our Contact URI.
    pub contact: String,
    /// Our Via sent-by.
    pub via_sent_by: String,
    pub transport: Transport,
    pub call_id: String,
    pub from_tag: String,
    /// RFC 4028 Session-Expires offered, in seconds.
    pub session_expires: u32,
    pub user_agent: String,
    /// The SDP offer.
    pub sdp: String,
}

impl OutboundInvite {
    /// The Request-URI (and digest `uri`).
    pub fn request_uri(&self) -> String {
        format!("sip:{}@{}", self.number, self.provider_host)
    }

    /// The INVITE's wire form with this CSeq and branch, and credentials if any.
    /// `None` if the number is not a phone number (nothing else is ever dialled).
    pub fn build(&self, cseq: u32, branch: &str, auth: Option<(&str, String)>) -> Option<String> {
        let digits = self.number.strip_prefix('+').unwrap_or(&self.number);
        if digits.is_empty() || digits.len() > 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let uri = self.request_uri();
        let from = format!("sip:{}@{}", self.hotline_number, self.provider_host);
        let mut text = format!(
            "INVITE {uri} SIP/2.0\r\n\
             Via: SIP/2.0/{transport} {sent_by};branch={branch};rport\r\n\
             Max-Forwards: 70\r\n\
             From: <{from}>;tag={tag}\r\n\
             To: <{uri}>\r\n\
             Call-ID: {call_id}\r\n\
             CSeq: {cseq} INVITE\r\n\
             Contact: <{contact}>\r\n\
             P-Asserted-Identity: <{from}>\r\n\
             Supported: timer\r\n\
             Session-Expires: {se};refresher=uac\r\n\
             Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE\r\n\
             User-Agent: {ua}\r\n",
            transport = self.transport.as_str(),
            sent_by = clean(&self.via_sent_by),
            tag = clean(&self.from_tag),
            call_id = clean(&self.call_id),
            contact = clean(&self.contact),
            se = self.session_expires.max(90),
            ua = clean(&self.user_agent),
            from = clean(&from),
            uri = clean(&uri),
        );
        if let Some((name, value)) = auth {
            text.push_str(&format!("{name}: {}\r\n", clean(&value)));
        }
        text.push_str(&format!(
            "Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{}",
            self.sdp.len(),
            self.sdp
        ));
        Some(text)
    }
}

/// The digest side of one outbound INVITE: answers 401/407 a bounded number of times.
#[derive(Debug)]
pub struct InviteAuth {
    auth: ClientAuth,
    challenges: u8,
}

impl InviteAuth {
    pub fn new(username: &str, password: &str) -> InviteAuth {
        InviteAuth {
            auth: ClientAuth::new(username, password),
            challenges: 0,
        }
    }

    /// A final 401/407: `Ok(())` if the INVITE should be sent again with credentials
    /// (next CSeq, new branch), or the outcome when it should not.
    pub fn on_challenge(&mut self, response: &[u8]) -> Result<(), OutboundOutcome> {
        let Some(head) = ResponseHead::parse(response) else {
            return Err(OutboundOutcome::Rejected);
        };
        let header = match head.status {
            401 => AuthHeader::Www,
            407 => AuthHeader::Proxy,
            status => return Err(OutboundOutcome::of_status(status)),
        };
        if self.challenges >= MAX_CHALLENGES {
            return Err(OutboundOutcome::Rejected);
        }
        let challenge = pick_challenge(head.values(header.challenge_name()))
            .map_err(|_| OutboundOutcome::Rejected)?;
        if !self.auth.take_challenge(header, challenge) {
            return Err(OutboundOutcome::Rejected);
        }
        self.challenges += 1;
        Ok(())
    }

    /// The credentials for the next INVITE (or ACK/CANCEL of it), if challenged.
    pub fn authorization(
        &mut self,
        uri: &str,
        rng: &mut impl Rng,
    ) -> Option<(&'static str, String)> {
        self.auth.authorize("INVITE", uri, rng)
    }
}

fn clean(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::digest::{challenge, ha1, parse_authorization, verify, Algorithm};
    use crate::sip::message::{parse_datagram, Datagram, SipMessage};
    use rand::rngs::SmallRng;
    use rand::SeedableRng;

    fn invite() -> OutboundInvite {
        OutboundInvite {
            number: "+79111234567".into(),
            provider_host: "sip.provider.example".into(),
            hotline_number: "78112792112".into(),
            contact: "sip:78112792112@192.0.2.10:5060".into(),
            via_sent_by: "192.0.2.10:5060".into(),
            transport: Transport::Udp,
            call_id: "cb-1@192.0.2.10".into(),
            from_tag: "t1".into(),
            session_expires: 1800,
            user_agent: "hotline".into(),
            sdp: "v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\nm=audio 20000 RTP/AVP 0\r\n".into(),
        }
    }

    fn header<'a>(text: &'a str, name: &str) -> Option<&'a str> {
        text.split("\r\n")
            .find_map(|l| l.strip_prefix(&format!("{name}: ")))
    }

    #[test]
    fn the_invite_parses_and_carries_the_hotline_identity() {
        let text = invite().build(1, "z9hG4bKa", None).unwrap();
        let Ok(Datagram::Message(SipMessage::Request(req))) = parse_datagram(text.as_bytes())
        else {
            panic!("not a request: {text}");
        };
        assert_eq!(req.uri.to_string(), "sip:+79111234567@sip.provider.example");
        assert_eq!(
            header(&text, "P-Asserted-Identity"),
            Some("<sip:78112792112@sip.provider.example>")
        );
        assert!(header(&text, "From")
            .unwrap()
            .starts_with("<sip:78112792112@sip.provider.example>;tag="));
        assert_eq!(header(&text, "Max-Forwards"), Some("70"));
        assert_eq!(header(&text, "Session-Expires"), Some("1800;refresher=uac"));
        assert_eq!(req.body, invite().sdp.as_bytes());
    }

    #[test]
    fn only_phone_numbers_are_dialled() {
        for bad in [
            "",
            "+",
            "79111234567@evil.example",
            "101;user=phone",
            "*50",
            "1234567890123456789012",
        ] {
            let mut i = invite();
            i.number = bad.into();
            assert!(i.build(1, "z9hG4bKa", None).is_none(), "{bad}");
        }
    }

    #[test]
    fn a_challenge_is_answered_then_a_second_refusal_is_final() {
        let resp = |status: &str, name: &str, nonce: &str| {
            format!(
                "SIP/2.0 {status}\r\nVia: SIP/2.0/UDP x;branch=z9hG4bKa\r\nCall-ID: cb-1\r\nCSeq: 1 INVITE\r\n{name}: {}\r\n\r\n",
                challenge("provider", nonce, "o", Algorithm::Md5, false)
            )
        };
        let mut auth = InviteAuth::new("78112792112", "secret");
        let mut rng = SmallRng::seed_from_u64(1);
        assert_eq!(auth.authorization("sip:x", &mut rng), None);
        auth.on_challenge(
            resp(
                "407 Proxy Authentication Required",
                "Proxy-Authenticate",
                "n1",
            )
            .as_bytes(),
        )
        .unwrap();
        let uri = invite().request_uri();
        let (name, value) = auth.authorization(&uri, &mut rng).unwrap();
        assert_eq!(name, "Proxy-Authorization");
        let creds = parse_authorization(&value).unwrap();
        assert!(verify(
            &ha1(Algorithm::Md5, "78112792112", "provider", "secret"),
            "INVITE",
            &creds
        ));
        let text = invite().build(2, "z9hG4bKb", Some((name, value))).unwrap();
        assert!(
            text.contains("CSeq: 2 INVITE\r\n") && text.contains("Proxy-Authorization: Digest ")
        );
        // The same nonce refused again: the password is wrong.
        assert_eq!(
            auth.on_challenge(
                resp(
                    "407 Proxy Authentication Required",
                    "Proxy-Authenticate",
                    "n1"
                )
                .as_bytes()
            ),
            Err(OutboundOutcome::Rejected)
        );
    }

    #[test]
    fn final_answers_map_to_clear_outcomes() {
        use OutboundOutcome::*;
        for (status, outcome) in [
            (200, Answered),
            (302, Redirected),
            (486, Busy),
            (600, Busy),
            (408, NoAnswer),
            (480, NoAnswer),
            (487, NoAnswer),
            (404, Unreachable),
            (484, Unreachable),
            (604, Unreachable),
            (403, Rejected),
            (603, Busy),
            (488, Rejected),
            (500, ProviderFailed),
            (503, ProviderFailed),
        ] {
            assert_eq!(OutboundOutcome::of_status(status), outcome, "{status}");
        }
        assert_eq!(OutboundOutcome::timed_out().as_str(), "provider_failed");
    }
}
