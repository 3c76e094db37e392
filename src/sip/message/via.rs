//! Via handling at the server transport: RFC 3261 §18.2.1 (`received`), RFC 3581 §4
//! (`rport` filled with the source port) and §18.2.2 with RFC 3581 §4 (where responses
//! go).
//!
//! Invariant: only the first value of the first Via header is rewritten; every other
//! Via value is left byte for byte as received.

use std::net::{IpAddr, SocketAddr};

use rsipstack::sip::param::Received;
use rsipstack::sip::prelude::*;

use super::{top_via, typed, Host, MessageError, Request};
use crate::sip::{Peer, Transport};

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
/// it came on; over UDP with `rport` the source address and port; over UDP without
/// `rport` the source IP (= `received`) and the sent-by port, default 5060. A top Via
/// that does not parse falls back to the source. `maddr` is ignored: we never answer
/// over multicast.
pub fn response_target<M: HeadersExt + ?Sized>(msg: &M, source: Peer) -> Peer {
    if source.transport == Transport::Tcp {
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
