//! Via headers: ours on the requests we send (RFC 3261 §8.1.1.7, §18.1.1, RFC 3581 §3
//! `rport`), and at the server transport §18.2.1 (`received`), RFC 3581 §4 (`rport`
//! filled with the source port) and §18.2.2 with RFC 3581 §4 (where responses go).
//!
//! Invariants: [`ViaSpec`] is the only place a Via of ours is built; on received
//! requests only the first value of the first Via header is rewritten, every other Via
//! value is left byte for byte as received.

use std::net::{IpAddr, SocketAddr};

use rand::Rng;
use rsipstack::sip::param::{Branch, Received};
use rsipstack::sip::prelude::*;
use rsipstack::sip::{HostWithPort, Port, Version};

use super::{new_branch, top_via, typed, Header, Host, MessageError, Param, Request, Scheme, Uri};
use crate::sip::{Peer, Transport};

/// Our Via on a request we send (RFC 3261 §18.1.1): where we listen, on which transport,
/// and the branch that names the client transaction (§8.1.1.7). `rport` is always asked
/// for (RFC 3581 §3) so answers find their way back through NAT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViaSpec {
    /// Transport the request is sent on.
    pub transport: Transport,
    /// Our public host: an IP address (IPv6 with or without brackets) or a DNS name.
    pub host: String,
    /// Our port; `None` for the default 5060.
    pub port: Option<u16>,
    /// The branch: a fresh one (see [`new_branch`]) for every new transaction.
    pub branch: String,
}

impl ViaSpec {
    /// Our Via for a request sent from `sent_by` over `transport`, with this branch.
    pub fn new(transport: Transport, sent_by: SocketAddr, branch: impl Into<String>) -> ViaSpec {
        ViaSpec {
            transport,
            host: sent_by.ip().to_string(),
            port: Some(sent_by.port()),
            branch: branch.into(),
        }
    }

    /// [`ViaSpec::new`] with a fresh branch: what every new transaction needs.
    pub fn fresh(transport: Transport, sent_by: SocketAddr, rng: &mut impl Rng) -> ViaSpec {
        ViaSpec::new(transport, sent_by, new_branch(rng))
    }

    /// The typed value, e.g. `SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK...;rport`.
    pub fn to_typed(&self) -> typed::Via {
        let bare = self.host.trim_start_matches('[').trim_end_matches(']');
        let host = match bare.parse::<IpAddr>() {
            Ok(ip) => Host::IpAddr(ip),
            Err(_) => Host::Domain(self.host.clone().into()),
        };
        typed::Via {
            version: Version::V2,
            transport: match self.transport {
                Transport::Udp => rsipstack::sip::Transport::Udp,
                Transport::Tcp => rsipstack::sip::Transport::Tcp,
                Transport::Tls => rsipstack::sip::Transport::Tls,
            },
            uri: Uri {
                scheme: Some(Scheme::Sip),
                host_with_port: HostWithPort {
                    host,
                    port: self.port.map(Port),
                },
                ..Uri::default()
            },
            params: vec![
                Param::Branch(Branch::new(self.branch.clone())),
                Param::Rport(None),
            ],
        }
    }

    /// The header value (see [`ViaSpec::to_typed`]).
    pub fn header_value(&self) -> String {
        self.to_typed().to_string()
    }

    /// The header, ready to be the top Via of a request.
    pub fn header(&self) -> Header {
        self.to_typed().into()
    }
}

/// Records where a request really came from in its top Via: adds `received=<ip>` when
/// the sent-by host is not the source IP or when `rport` is present, and fills an empty
/// `rport` with the source port. Errors only if the top Via cannot be parsed (the
/// request is then left unchanged).
pub fn stamp_via(req: &mut Request, source: SocketAddr) -> Result<(), MessageError> {
    let via = top_via(req)?;
    let sent_by_ip = match &via.sent_by().host {
        Host::IpAddr(ip) => Some(*ip),
        Host::Domain(d) => d.0.parse::<IpAddr>().ok(),
    };
    let rport = via.rport();
    let needs_received = rport.is_some() || sent_by_ip != Some(source.ip());
    let needs_rport = rport == Some(None);
    if !needs_received && !needs_rport {
        return Ok(());
    }
    let mut stamped: typed::Via = via;
    if needs_received {
        stamped = stamped.with_received(Received::new(source.ip().to_string()));
    }
    if needs_rport {
        stamped = stamped.with_rport(Some(source.port()));
    }
    let header = req
        .via_header_mut()
        .map_err(|_| MessageError::MissingHeader("Via"))?;
    let original = header.value().to_string();
    header
        .update_first_value(|_| Ok(stamped.into()))
        .map_err(|_| MessageError::InvalidHeader {
            header: "Via",
            value: original.chars().take(120).collect(),
        })
}

/// Where to send responses for a request that arrived from `source` (RFC 3261 §18.2.2,
/// RFC 3581 §4), judged from the request's (or response's) top Via: over TCP the flow
/// it came on (TCP or TLS); over UDP with `rport` the source address and port; over UDP without
/// `rport` the source IP (= `received`) and the sent-by port, default 5060. A top Via
/// that does not parse falls back to the source. `maddr` is ignored: we never answer
/// over multicast.
pub fn response_target<M: HeadersExt + ?Sized>(msg: &M, source: Peer) -> Peer {
    if source.transport.is_reliable() {
        return source;
    }
    let Ok(via) = top_via(msg) else {
        return source;
    };
    if via.rport().is_some() {
        return source;
    }
    let port = via.sent_by().port.as_ref().map_or(5060, |p| p.0);
    Peer {
        transport: Transport::Udp,
        addr: SocketAddr::new(source.addr.ip(), port),
    }
}
