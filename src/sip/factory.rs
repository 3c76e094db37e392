//! The request/response factory: every SIP message the hotline originates is built here,
//! from typed values. Call logic says *what* to send (answer 200 with this SDP, BYE this
//! dialog, ring this operator); this module decides how it is spelled: our Contact and
//! Via, `Allow`, `Server`/`User-Agent`, fresh branches and tags.
//!
//! Invariant: values that come from peers (numbers, URIs) reach a header only through
//! parsed URIs or the `uri_user` filter, so no peer can smuggle a header line into what we
//! send; our own constant values never contain CR/LF (checked by `push_header`).

use std::net::{IpAddr, SocketAddr};

use rand::Rng;

use super::dialog::{Dialog, ViaSpec};
use super::inspect::{self, Refusal};
use super::message::{
    self, Body, HasHeaders, MessageError, Method, OutOfDialogRequest, Party, Request, Response,
};
use super::{Peer, Transport};

/// The methods we take (the `Allow` header of our answers and requests).
pub const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, REGISTER";

/// [`ALLOW`] as methods, for requests built from typed values.
const ALLOW_METHODS: [Method; 8] = [
    Method::Invite,
    Method::Ack,
    Method::Cancel,
    Method::Bye,
    Method::Options,
    Method::Info,
    Method::Update,
    Method::Register,
];

/// How long a caller refused during shutdown should wait before calling again.
pub const SHUTDOWN_RETRY_AFTER_S: u32 = 30;

/// How long a caller refused for lack of an RTP port should wait.
pub const NO_MEDIA_RETRY_AFTER_S: u32 = 5;

/// Builds what we send. Cheap to clone; holds only our identity.
#[derive(Debug, Clone)]
pub struct Factory {
    /// Where peers reach our SIP service (public address, listen port).
    addr: SocketAddr,
    /// The `Server` / `User-Agent` value.
    user_agent: String,
    /// Where peers reach our SIP over TLS (public address, `sip.tls_listen` port), if we
    /// listen for it.
    tls_addr: Option<SocketAddr>,
}

/// An INVITE of ours that opens a new dialog (ringing an operator's softphone).
#[derive(Debug, Clone, Copy)]
pub struct NewInvite<'a> {
    /// The Request-URI: the operator's registered Contact.
    pub target: &'a str,
    /// The account called (user part of To), e.g. the operator id.
    pub to_user: &'a str,
    /// The number shown as the caller (From and P-Asserted-Identity); anything that is
    /// not a plain SIP user becomes `anonymous`.
    pub caller: &'a str,
    /// Transport of the flow it goes on (Via, Contact).
    pub transport: Transport,
    /// Our SDP offer.
    pub sdp: &'a str,
    /// The call's topic (chosen in the phone menu): sent as [`TOPIC_HEADER`] and shown
    /// after the caller's number in the display name, `+79115550101 (billing)`.
    pub topic: Option<&'a str>,
}

/// The header that tells an operator's phone (or a CTI script) the call's topic.
pub const TOPIC_HEADER: &str = "X-Hotline-Topic";

impl Factory {
    pub fn new(addr: SocketAddr, user_agent: impl Into<String>) -> Factory {
        Factory {
            addr,
            user_agent: user_agent.into(),
            tls_addr: None,
        }
    }

    /// We also listen for SIP over TLS on `port` of our public address.
    pub fn with_tls_port(mut self, port: u16) -> Factory {
        self.tls_addr = Some(SocketAddr::new(self.addr.ip(), port));
        self
    }

    /// Our address on `transport`: the TLS listener's for TLS (RFC 3261 §26.2: Via and
    /// Contact of a TLS hop name where TLS reaches us), the shared UDP/TCP one otherwise.
    pub fn addr_for(&self, transport: Transport) -> SocketAddr {
        match (transport, self.tls_addr) {
            (Transport::Tls, Some(tls)) => tls,
            _ => self.addr,
        }
    }

    /// Our public SIP address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Our host as it goes into a URI (IPv6 in brackets).
    fn host(&self) -> String {
        match self.addr.ip() {
            IpAddr::V6(ip) => format!("[{ip}]"),
            IpAddr::V4(ip) => ip.to_string(),
        }
    }

    /// Our Contact (where peers send in-dialog requests), as a header value.
    /// Over TLS it is `sip:…;transport=tls` (RFC 5630 §3.1.3: `sips:` would promise TLS
    /// on every hop to us, which a call bridged to a plain trunk cannot keep).
    pub fn contact(&self, transport: Transport) -> String {
        format!(
            "<sip:hotline@{}:{};transport={}>",
            self.host(),
            self.addr_for(transport).port(),
            transport.as_str().to_ascii_lowercase()
        )
    }

    /// Our Via for a new client transaction on `transport`, with a fresh branch.
    pub fn via(&self, transport: Transport, rng: &mut impl Rng) -> ViaSpec {
        ViaSpec::fresh(transport, self.addr_for(transport), rng)
    }

    // ---- responses ----

    /// A plain response to `req` (RFC 3261 §8.2.6). `to_tag` for responses outside a
    /// dialog or creating one; `None` inside a dialog (To already has our tag).
    pub fn reply(&self, req: &Request, status: u16, to_tag: Option<&str>) -> Response {
        message::response_to(req, status, to_tag)
    }

    /// A 2xx that carries our session description (answer to an INVITE, re-INVITE or
    /// UPDATE with an offer): Contact, Allow, Server, the SDP.
    pub fn session_answer(
        &self,
        req: &Request,
        to_tag: Option<&str>,
        transport: Transport,
        sdp: &str,
    ) -> Response {
        let mut ok = message::response_to(req, 200, to_tag);
        self.header(&mut ok, "Contact", &self.contact(transport));
        self.header(&mut ok, "Allow", ALLOW);
        self.header(&mut ok, "Server", &self.user_agent);
        message::set_body(&mut ok, "application/sdp", sdp.as_bytes().to_vec());
        ok
    }

    /// 200 to an OPTIONS outside a dialog: what we can do.
    pub fn options(&self, req: &Request, to_tag: &str) -> Response {
        let mut ok = message::response_to(req, 200, Some(to_tag));
        self.header(&mut ok, "Allow", ALLOW);
        self.header(&mut ok, "Accept", "application/sdp");
        self.header(&mut ok, "Accept-Language", "ru, en");
        self.header(&mut ok, "Server", &self.user_agent);
        ok
    }

    /// 405 Method Not Allowed, with `Allow` (RFC 3261 §21.4.6).
    pub fn not_allowed(&self, req: &Request, to_tag: Option<&str>) -> Response {
        let mut resp = message::response_to(req, 405, to_tag);
        self.header(&mut resp, "Allow", ALLOW);
        resp
    }

    /// A refusal from request inspection (RFC 3261 §8.2), with the header that tells the
    /// peer what we can do instead: `Unsupported` on a 420 (§8.2.2.3), `Accept` and
    /// `Accept-Encoding` on a 415 (§8.2.3), `Accept` on a 406.
    pub fn inspection_refusal(
        &self,
        req: &Request,
        refusal: &Refusal,
        to_tag: Option<&str>,
    ) -> Response {
        let mut resp = message::response_to(req, refusal.status(), to_tag);
        match refusal {
            Refusal::BadExtension(tags) => {
                // Peer tokens, but only tokens reach here: anything else is dropped.
                let token = |t: &&String| {
                    t.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-.!%*_+`'~".contains(c))
                };
                let list: Vec<&str> = tags.iter().filter(token).map(String::as_str).collect();
                if !list.is_empty() {
                    self.header(&mut resp, "Unsupported", &list.join(", "));
                }
            }
            Refusal::UnsupportedMediaType => {
                self.header(&mut resp, "Accept", inspect::ACCEPT);
                self.header(&mut resp, "Accept-Encoding", "identity");
            }
            Refusal::NotAcceptable => self.header(&mut resp, "Accept", inspect::ACCEPT),
            Refusal::UnsupportedScheme | Refusal::BadAddressOfRecord => {}
        }
        resp
    }

    /// A refusal that says when to try again (503 with `Retry-After`, §20.33).
    pub fn retry_after(&self, req: &Request, status: u16, to_tag: &str, seconds: u32) -> Response {
        let mut resp = message::response_to(req, status, Some(to_tag));
        self.header(&mut resp, "Retry-After", &seconds.to_string());
        resp
    }

    /// 488 for an offer we cannot take, saying why (§21.4.26 with a 304 Warning).
    pub fn media_refused(&self, req: &Request, status: u16, to_tag: Option<&str>) -> Response {
        let mut resp = message::response_to(req, status, to_tag);
        self.header(
            &mut resp,
            "Warning",
            "304 hotline \"Media type not available\"",
        );
        resp
    }

    /// Adds a header whose value we made ourselves.
    pub fn header<M: HasHeaders + ?Sized>(&self, msg: &mut M, name: &str, value: &str) {
        message::push_header(msg, name, value).expect("our own header values are single-line");
    }

    // ---- requests ----

    /// An INVITE that opens a new dialog (RFC 3261 §8.1.1): new Call-ID and From tag,
    /// CSeq 1, our Contact, the caller's number shown in From and P-Asserted-Identity.
    pub fn invite(&self, new: &NewInvite<'_>, rng: &mut impl Rng) -> Result<Request, MessageError> {
        let caller = uri_user(new.caller);
        let us = |user: &str| message::local_uri(Some(user), self.addr, None);
        let identity = Party::new(us(caller)).named(caller);
        let shown = match new.topic {
            Some(topic) => Party::new(us(caller)).named(format!("{caller} ({topic})")),
            None => identity.clone(),
        };
        OutOfDialogRequest {
            method: Method::Invite,
            request_uri: message::parse_uri(new.target)?,
            via: self.via(new.transport, rng),
            from: shown.clone(),
            from_tag: message::new_tag(rng),
            to: Party::new(us(new.to_user)),
            call_id: message::new_call_id(rng, &self.addr.ip().to_string()),
            cseq: 1,
            contact: Some(message::local_uri(
                Some("hotline"),
                self.addr_for(new.transport),
                Some(new.transport),
            )),
            asserted_identity: Some(identity),
            allow: ALLOW_METHODS.to_vec(),
            user_agent: Some(self.user_agent.clone()),
            extension: new
                .topic
                .map(|t| vec![(TOPIC_HEADER, t.to_owned())])
                .unwrap_or_default(),
            body: Some(Body::sdp(new.sdp.as_bytes())),
        }
        .build()
    }

    /// A new request inside `dialog` (BYE, re-INVITE, UPDATE…; RFC 3261 §12.2.1.1) with a
    /// fresh branch, and where it goes first.
    pub fn in_dialog(
        &self,
        dialog: &mut Dialog,
        method: Method,
        rng: &mut impl Rng,
    ) -> (Request, Peer) {
        let transport = dialog.peer.transport;
        let via = self.via(transport, rng);
        let request = dialog.new_request(method, &via, None);
        (request, next_hop(dialog))
    }

    /// The ACK for a 2xx to our INVITE with CSeq `invite_cseq` (§13.2.2.4), and where it
    /// goes.
    pub fn ack(&self, dialog: &Dialog, invite_cseq: u32, rng: &mut impl Rng) -> (Request, Peer) {
        let via = self.via(dialog.peer.transport, rng);
        (dialog.ack_for_2xx(invite_cseq, &via), next_hop(dialog))
    }
}

/// Where requests of `dialog` go first: its next hop when that is an IP literal, else the
/// flow the dialog was made on.
pub fn next_hop(dialog: &Dialog) -> Peer {
    Peer {
        transport: dialog.peer.transport,
        addr: dialog.next_hop().unwrap_or(dialog.peer.addr),
    }
}

/// The caller's number as shown to the operator: a phone number or SIP user as given,
/// anything else (a name, junk) as `anonymous`, which is what RFC 3323 privacy looks like
/// to a phone anyway.
fn uri_user(number: &str) -> &str {
    let ok = !number.is_empty()
        && number
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+*#.-_".contains(c));
    if ok {
        number
    } else {
        "anonymous"
    }
}

#[cfg(test)]
mod tests {
    use rand::rngs::SmallRng;
    use rand::SeedableRng;

    use super::*;
    use crate::sip::message::SipMessage;

    fn factory() -> Factory {
        Factory::new("192.0.2.10:5060".parse().unwrap(), "hotline/test")
    }

    #[test]
    fn over_tls_contact_and_via_name_the_tls_port() {
        let f = factory().with_tls_port(5061);
        assert_eq!(
            f.contact(Transport::Tls),
            "<sip:hotline@192.0.2.10:5061;transport=tls>"
        );
        assert_eq!(
            f.contact(Transport::Udp),
            "<sip:hotline@192.0.2.10:5060;transport=udp>"
        );
        let mut rng = SmallRng::seed_from_u64(1);
        let via = f.via(Transport::Tls, &mut rng).header_value();
        assert!(
            via.starts_with("SIP/2.0/TLS 192.0.2.10:5061;branch=z9hG4bK"),
            "{via}"
        );
    }

    #[test]
    fn our_contact_and_via_name_the_public_address_and_transport() {
        let f = factory();
        assert_eq!(
            f.contact(Transport::Tcp),
            "<sip:hotline@192.0.2.10:5060;transport=tcp>"
        );
        let mut rng = SmallRng::seed_from_u64(1);
        let via = f.via(Transport::Udp, &mut rng).header_value();
        assert!(
            via.starts_with("SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK"),
            "{via}"
        );
        assert!(via.ends_with(";rport"), "{via}");
        let v6 = Factory::new("[2001:db8::1]:5070".parse().unwrap(), "x");
        assert_eq!(
            v6.contact(Transport::Udp),
            "<sip:hotline@[2001:db8::1]:5070;transport=udp>"
        );
    }

    #[test]
    fn an_invite_shows_the_caller_and_never_a_smuggled_header() {
        let f = factory();
        let mut rng = SmallRng::seed_from_u64(2);
        let sdp = "v=0\r\n";
        let new = NewInvite {
            target: "sip:101@192.0.2.7:5081;transport=udp",
            to_user: "101",
            caller: "+79115550101",
            transport: Transport::Udp,
            sdp,
            topic: None,
        };
        let inv = f.invite(&new, &mut rng).unwrap();
        let text = inv.to_string();
        // URI parameter values compare case-insensitively (RFC 3261 §19.1.4).
        assert!(
            text.to_ascii_lowercase()
                .starts_with("invite sip:101@192.0.2.7:5081;transport=udp sip/2.0"),
            "{text}"
        );
        assert!(text.contains("From: \"+79115550101\" <sip:+79115550101@192.0.2.10:5060>;tag="));
        assert!(text
            .contains("P-Asserted-Identity: \"+79115550101\" <sip:+79115550101@192.0.2.10:5060>"));
        assert!(text.contains("CSeq: 1 INVITE"));
        assert_eq!(inv.body, sdp.as_bytes());
        let evil = NewInvite {
            caller: "1\r\nX-Evil: 1",
            ..new
        };
        let inv = f.invite(&evil, &mut rng).unwrap();
        let text = inv.to_string();
        assert!(!text.contains("X-Evil"), "{text}");
        assert!(
            text.contains("From: \"anonymous\" <sip:anonymous@"),
            "{text}"
        );
        assert!(!text.contains(TOPIC_HEADER), "{text}");
    }

    #[test]
    fn an_invite_for_a_call_with_a_topic_shows_it() {
        let f = factory();
        let mut rng = SmallRng::seed_from_u64(3);
        let new = NewInvite {
            target: "sip:101@192.0.2.7:5081",
            to_user: "101",
            caller: "+79115550101",
            transport: Transport::Udp,
            sdp: "v=0\r\n",
            topic: Some("billing"),
        };
        let text = f.invite(&new, &mut rng).unwrap().to_string();
        assert!(text.contains("X-Hotline-Topic: billing\r\n"), "{text}");
        assert!(
            text.contains("From: \"+79115550101 (billing)\" <sip:+79115550101@"),
            "{text}"
        );
        assert!(
            text.contains("P-Asserted-Identity: \"+79115550101\" <sip:+79115550101@"),
            "{text}"
        );
    }

    #[test]
    fn a_session_answer_carries_contact_allow_server_and_the_sdp() {
        let f = factory();
        let req = match SipMessage::try_from(
            "INVITE sip:792112@192.0.2.10 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1\r\n\
             From: <sip:1@192.0.2.1>;tag=a\r\nTo: <sip:792112@192.0.2.10>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n\
             Content-Length: 0\r\n\r\n",
        ) {
            Ok(SipMessage::Request(r)) => r,
            other => panic!("{other:?}"),
        };
        let ok = f.session_answer(&req, Some("us"), Transport::Udp, "v=0\r\n");
        let text = ok.to_string();
        assert!(text.starts_with("SIP/2.0 200 OK"), "{text}");
        assert!(text.contains(";tag=us"), "{text}");
        assert!(text.contains("Contact: <sip:hotline@192.0.2.10:5060;transport=udp>"));
        assert!(text.contains(&format!("Allow: {ALLOW}")));
        assert!(text.contains("Server: hotline/test"));
        assert!(text.contains("Content-Type: application/sdp"));
        let busy = f.retry_after(&req, 503, "us", 30);
        assert!(busy.to_string().contains("Retry-After: 30"));
        assert!(f
            .not_allowed(&req, None)
            .to_string()
            .contains("Allow: INVITE"));
    }
}
