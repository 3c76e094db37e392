//! Header helpers and the few messages the transaction layer builds on its own:
//! 100 Trying and stateless replies (RFC 3261 §8.2.6), the ACK for a non-2xx final
//! (§17.1.1.3), CANCEL (§9.1), and the response destination rules (§18.2.2, RFC 3581).
//!
//! Every helper tolerates missing or malformed headers: they return `None` or copy what
//! is there, because their input comes from the network. Every message printed here
//! leaves with a Content-Length equal to its body (§18.3: mandatory on stream transports).

use rsipstack::sip::headers::{ContentLength, MaxForwards};
use rsipstack::sip::prelude::*;
use rsipstack::sip::{typed, Header, Headers, Method, Request, Response, StatusCode, Version};

use crate::sip::Peer;

/// RFC 3261 §8.1.1.7: branches from RFC 3261 elements start with this cookie.
pub(crate) const MAGIC_COOKIE: &str = "z9hG4bK";

/// The parts of the top Via the layer needs.
#[derive(Debug, Clone)]
pub(crate) struct TopVia {
    pub branch: Option<String>,
    /// Host and port as the sender wrote them, normalised: host lowercased, default port
    /// of the Via transport filled in, so `a.example` and `A.example:5060` match.
    pub sent_by: String,
    pub port: Option<u16>,
    pub rport: bool,
}

impl TopVia {
    pub(crate) fn of(headers: &Headers) -> Option<TopVia> {
        let via = headers.iter().find_map(|h| match h {
            Header::Via(v) => Some(v),
            _ => None,
        })?;
        let via: typed::Via = via.first_value().ok()?.typed().ok()?;
        let port = via.sent_by().port.as_ref().map(|p| p.value());
        let sent_by = format!(
            "{}:{}",
            via.sent_by().host.to_string().to_ascii_lowercase(),
            port.unwrap_or(via.transport.default_port().value())
        );
        Some(TopVia {
            branch: via.branch().map(|b| b.value().to_string()),
            sent_by,
            port,
            rport: via.rport().is_some(),
        })
    }

    /// A branch from an RFC 3261 element, usable as a transaction id on its own.
    pub(crate) fn rfc3261_branch(&self) -> Option<&str> {
        self.branch
            .as_deref()
            .filter(|b| b.starts_with(MAGIC_COOKIE) && b.len() > MAGIC_COOKIE.len())
    }
}

pub(crate) fn cseq(headers: &Headers) -> Option<(u32, Method)> {
    let cseq = headers.iter().find_map(|h| match h {
        Header::CSeq(c) => Some(c),
        _ => None,
    })?;
    let typed: typed::CSeq = cseq.typed().ok()?;
    Some((typed.seq, typed.method))
}

pub(crate) fn call_id(headers: &Headers) -> Option<&str> {
    headers.iter().find_map(|h| match h {
        Header::CallId(c) => Some(c.value().trim()),
        _ => None,
    })
}

pub(crate) fn from_tag(headers: &Headers) -> Option<String> {
    let from = headers.iter().find_map(|h| match h {
        Header::From(f) => Some(f),
        _ => None,
    })?;
    from.tag().ok().flatten().map(|t| t.value().to_string())
}

pub(crate) fn to_tag(headers: &Headers) -> Option<String> {
    let to = headers.iter().find_map(|h| match h {
        Header::To(t) => Some(t),
        _ => None,
    })?;
    to.tag().ok().flatten().map(|t| t.value().to_string())
}

/// §18.2.2: where a response to a request from `source` goes. Reliable transports reuse
/// the flow; on UDP, RFC 3581 `rport` means "the port you saw", otherwise the sent-by
/// port (5060 if absent) at the source IP (which `received` would name).
pub(crate) fn reply_target(source: Peer, via: &TopVia) -> Peer {
    if source.transport.is_reliable() || via.rport {
        return source;
    }
    let mut addr = source.addr;
    addr.set_port(via.port.unwrap_or(5060));
    Peer {
        transport: source.transport,
        addr,
    }
}

/// §18.2.1 and RFC 3581 §4: record in the top Via where the request really came from,
/// so every response (ours and the TU's, which copy the Via) carries `received`/`rport`.
/// A Via we cannot parse is left as it is; responses then follow the plain rules.
pub(crate) fn stamp_via(request: &mut Request, source: Peer) {
    let Some(Header::Via(via)) = request
        .headers
        .iter_mut()
        .find(|h| matches!(h, Header::Via(_)))
    else {
        return;
    };
    let _ = via.update_first_value(|first| {
        let mut typed: typed::Via = first.typed()?;
        let ip = source.addr.ip();
        let host_is_source = typed.sent_by().host.to_string() == ip.to_string();
        if typed.rport().is_some() {
            typed = typed.with_rport(Some(source.addr.port()));
            typed = typed.with_received(ip.to_string().into());
        } else if !host_is_source {
            typed = typed.with_received(ip.to_string().into());
        }
        Ok(typed.into())
    });
}

/// Sets Content-Length to the body size, in place if present (keeps header order).
pub(crate) fn fix_content_length(headers: &mut Headers, body_len: usize) {
    let len = u32::try_from(body_len).unwrap_or(u32::MAX);
    let wanted = ContentLength::from(len);
    if let Some(h) = headers
        .iter_mut()
        .find(|h| matches!(h, Header::ContentLength(_)))
    {
        *h = Header::ContentLength(wanted);
        return;
    }
    headers.push(Header::ContentLength(wanted));
}

pub(crate) fn request_bytes(mut request: Request) -> Vec<u8> {
    fix_content_length(&mut request.headers, request.body.len());
    request.to_bytes()
}

pub(crate) fn response_bytes(mut response: Response) -> Vec<u8> {
    fix_content_length(&mut response.headers, response.body.len());
    response.to_bytes()
}

/// FNV-1a: a stable, deterministic tag from the branch, so retransmitted requests get
/// byte-identical stateless answers and tests see fixed values.
fn stable_tag(seed: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in seed.bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

/// §8.2.6: a response built by the layer itself (100 Trying, 200/481 to CANCEL, 400).
/// Copies every Via, From, To, Call-ID and CSeq; adds a To tag to anything but 100 when
/// the request had none (§8.2.6.2).
pub(crate) fn response_to(request: &Request, status: StatusCode) -> Response {
    let mut headers = Headers::default();
    for h in request.headers.iter() {
        match h {
            Header::Via(_) | Header::From(_) | Header::CallId(_) | Header::CSeq(_) => {
                headers.push(h.clone())
            }
            Header::To(to) => {
                let needs_tag = status.code() > 100 && matches!(to.tag(), Ok(None));
                if needs_tag {
                    let seed = TopVia::of(&request.headers)
                        .and_then(|v| v.branch)
                        .unwrap_or_else(|| call_id(&request.headers).unwrap_or("").to_string());
                    headers.push(Header::To(to.with_tag(stable_tag(&seed).into())));
                } else {
                    headers.push(h.clone());
                }
            }
            _ => {}
        }
    }
    headers.push(Header::ContentLength(ContentLength::from(0)));
    Response {
        status_code: status,
        wire_reason: None,
        version: Version::V2,
        headers,
        body: Vec::new(),
    }
}

/// Headers of a request the layer derives from a client INVITE (ACK, CANCEL): the
/// INVITE's Request-URI, top Via only, From, Call-ID, the given To and CSeq, and the
/// INVITE's Route set (§17.1.1.3, §9.1).
fn derived_request(invite: &Request, method: Method, to: Option<Header>) -> Request {
    let mut headers = Headers::default();
    if let Some(Header::Via(via)) = invite.headers.iter().find(|h| matches!(h, Header::Via(_))) {
        let top = via.first_value().unwrap_or_else(|_| via.clone());
        headers.push(Header::Via(top));
    }
    let seq = cseq(&invite.headers).map(|(n, _)| n).unwrap_or(0);
    for h in invite.headers.iter() {
        match h {
            Header::From(_) | Header::CallId(_) | Header::Route(_) => headers.push(h.clone()),
            Header::To(_) if to.is_none() => headers.push(h.clone()),
            _ => {}
        }
    }
    if let Some(to) = to {
        headers.push(to);
    }
    headers.push(typed::CSeq { seq, method }.into());
    headers.push(Header::MaxForwards(MaxForwards::from(70)));
    headers.push(Header::ContentLength(ContentLength::from(0)));
    Request {
        method,
        uri: invite.uri.clone(),
        version: Version::V2,
        headers,
        body: Vec::new(),
    }
}

/// §17.1.1.3: the ACK for a 300-699 final, part of the INVITE transaction (same branch);
/// its To is the response's To, which carries the UAS's tag.
pub(crate) fn ack_for(invite: &Request, response: &Response) -> Request {
    let to = response
        .headers
        .iter()
        .find(|h| matches!(h, Header::To(_)))
        .cloned();
    derived_request(invite, Method::Ack, to)
}

/// §9.1: CANCEL mirrors the INVITE's Request-URI, Call-ID, From, To, CSeq number, top Via
/// (same branch) and Route.
pub(crate) fn cancel_for(invite: &Request) -> Request {
    derived_request(invite, Method::Cancel, None)
}

/// Call-ID for keys built from RFC 2543 requests; the empty id still yields a key.
pub(crate) fn call_id_or_empty(headers: &Headers) -> String {
    call_id(headers).unwrap_or("").to_string()
}
