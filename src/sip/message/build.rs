//! Building and printing messages: RFC 3261 §7 (wire form), §8.2.6 (UAS responses:
//! copied Via/From/To/Call-ID/CSeq, To tag, Timestamp on 100), §12.1.1 (Record-Route
//! copied into dialog-creating responses), §9.1 (CANCEL), §17.1.1.3 (ACK for a non-2xx
//! final response), §8.1.1.7 (branch magic cookie), §19.3 (tags), §8.1.1.4 (Call-ID).
//!
//! Invariants: [`to_bytes`] always writes exactly one Content-Length equal to the body
//! length, and never writes a CR or LF inside a header field or reason phrase, whatever
//! the in-memory message holds. Builders only copy header fields verbatim; they never
//! re-serialise a peer's From/To/Via (peers compare some of them byte for byte).

use std::fmt::Write as _;

use rand::distr::Alphanumeric;
use rand::Rng;
use rsipstack::sip::headers::{make_header, untyped};
use rsipstack::sip::prelude::*;
use rsipstack::sip::{HasHeaders, Version};

use super::{
    cseq, Header, Headers, MessageError, Method, NameAddr, Request, Response, SipMessage,
    StatusCode,
};

/// Branches starting with this were made by RFC 3261 implementations (§8.1.1.7).
pub const MAGIC_COOKIE: &str = "z9hG4bK";

/// What [`to_bytes`] and the body functions need from a message; implemented for
/// [`Request`], [`Response`] and [`SipMessage`].
pub trait MessageParts: HeadersExt {
    /// The body, as opaque bytes (RFC 3261 §7.4).
    fn body_bytes(&self) -> &[u8];
    /// The body, for replacing it.
    fn body_vec_mut(&mut self) -> &mut Vec<u8>;
    /// The Request-Line or Status-Line, without CRLF.
    fn wire_start_line(&self) -> String;
}

impl MessageParts for Request {
    fn body_bytes(&self) -> &[u8] {
        &self.body
    }
    fn body_vec_mut(&mut self) -> &mut Vec<u8> {
        &mut self.body
    }
    fn wire_start_line(&self) -> String {
        format!("{} {} SIP/2.0", self.method, self.uri)
    }
}

impl MessageParts for Response {
    fn body_bytes(&self) -> &[u8] {
        &self.body
    }
    fn body_vec_mut(&mut self) -> &mut Vec<u8> {
        &mut self.body
    }
    fn wire_start_line(&self) -> String {
        let reason = self
            .wire_reason
            .as_deref()
            .map(safe_reason)
            .filter(|r| !r.is_empty())
            .unwrap_or_else(|| safe_reason(self.status_code.text()));
        format!("SIP/2.0 {} {}", self.status_code.code(), reason)
    }
}

impl MessageParts for SipMessage {
    fn body_bytes(&self) -> &[u8] {
        match self {
            SipMessage::Request(r) => r.body_bytes(),
            SipMessage::Response(r) => r.body_bytes(),
        }
    }
    fn body_vec_mut(&mut self) -> &mut Vec<u8> {
        match self {
            SipMessage::Request(r) => r.body_vec_mut(),
            SipMessage::Response(r) => r.body_vec_mut(),
        }
    }
    fn wire_start_line(&self) -> String {
        match self {
            SipMessage::Request(r) => r.wire_start_line(),
            SipMessage::Response(r) => r.wire_start_line(),
        }
    }
}

/// The wire form, with a Content-Length that matches the body whatever the headers said.
pub fn to_bytes<M: MessageParts + ?Sized>(msg: &M) -> Vec<u8> {
    let mut head = msg.wire_start_line().replace(['\r', '\n'], " ");
    head.push_str("\r\n");
    for header in msg.headers().iter() {
        if matches!(header, Header::ContentLength(_)) {
            continue;
        }
        let line = header.to_string();
        if line.contains(['\r', '\n']) {
            head.push_str(&line.replace(['\r', '\n'], " "));
        } else {
            head.push_str(&line);
        }
        head.push_str("\r\n");
    }
    let body = msg.body_bytes();
    let _ = write!(head, "Content-Length: {}\r\n\r\n", body.len());
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// A reason phrase that cannot break the Status-Line: control characters dropped,
/// whitespace collapsed, at most 120 characters.
pub(crate) fn safe_reason(text: &str) -> String {
    let cleaned: String = text
        .chars()
        .map(|c| if c.is_whitespace() { ' ' } else { c })
        .filter(|c| !c.is_control())
        .take(120)
        .collect();
    cleaned.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The status for a code: rsipstack's named variant, or a class phrase for codes it
/// does not know (RFC 3261 §21: unknown codes are treated as x00 of their class).
pub fn status_code(code: u16) -> StatusCode {
    match StatusCode::from(code) {
        StatusCode::Other(code, _) => {
            let phrase = match code / 100 {
                1 => "Provisional",
                2 => "Success",
                3 => "Redirection",
                4 => "Request Failure",
                5 => "Server Failure",
                _ => "Global Failure",
            };
            StatusCode::Other(code, phrase.to_string())
        }
        known => known,
    }
}

/// A response to `req` (RFC 3261 §8.2.6): every Via in order, From, To (with `to_tag`
/// added when To has no tag yet), Call-ID and CSeq copied verbatim, Record-Route copied
/// for dialog-creating responses to INVITE (§12.1.1), Timestamp echoed on 100
/// (§8.2.6.1), standard reason phrase, no body.
pub fn response_to(req: &Request, status: u16, to_tag: Option<&str>) -> Response {
    let copy_record_route = req.method == Method::Invite && (101..300).contains(&status);
    let mut headers = Headers::default();
    let (mut from, mut to, mut call_id, mut cseq) = (false, false, false, false);
    for header in req.headers.iter() {
        let copy = match header {
            Header::Via(_) => true,
            Header::From(_) => !std::mem::replace(&mut from, true),
            Header::CallId(_) => !std::mem::replace(&mut call_id, true),
            Header::CSeq(_) => !std::mem::replace(&mut cseq, true),
            Header::RecordRoute(_) => copy_record_route,
            Header::Timestamp(_) => status == 100,
            Header::To(value) if !to => {
                to = true;
                headers.push(Header::To(with_to_tag(value, to_tag)));
                false
            }
            _ => false,
        };
        if copy {
            headers.push(header.clone());
        }
    }
    headers.push(Header::ContentLength(untyped::ContentLength::new("0")));
    Response {
        status_code: status_code(status),
        wire_reason: None,
        version: Version::V2,
        headers,
        body: Vec::new(),
    }
}

/// To with `;tag=` appended (verbatim otherwise) unless it already has a tag.
fn with_to_tag(to: &untyped::To, tag: Option<&str>) -> untyped::To {
    let Some(tag) = tag.filter(|t| !t.is_empty()) else {
        return to.clone();
    };
    let has_tag = NameAddr::parse(to.value()).is_ok_and(|na| na.tag().is_some());
    if has_tag {
        to.clone()
    } else {
        untyped::To::new(format!("{};tag={}", to.value().trim(), tag))
    }
}

/// Uses `reason` instead of the standard phrase on the Status-Line (made safe first).
pub fn set_reason(resp: &mut Response, reason: &str) {
    let reason = safe_reason(reason);
    resp.wire_reason = (!reason.is_empty()).then_some(reason);
}

/// Replaces the body and its Content-Type (and keeps Content-Length in step).
pub fn set_body<M: MessageParts + ?Sized>(msg: &mut M, content_type: &str, body: Vec<u8>) {
    let headers = msg.headers_mut();
    headers.retain(|h| !matches!(h, Header::ContentType(_) | Header::ContentLength(_)));
    if !body.is_empty() {
        let ct: String = content_type.chars().filter(|c| !c.is_control()).collect();
        headers.push(Header::ContentType(untyped::ContentType::new(ct)));
    }
    headers.push(Header::ContentLength(untyped::ContentLength::new(
        body.len().to_string(),
    )));
    *msg.body_vec_mut() = body;
}

/// [`set_body`] for builder chains.
pub fn with_body<M: MessageParts>(mut msg: M, content_type: &str, body: Vec<u8>) -> M {
    set_body(&mut msg, content_type, body);
    msg
}

/// Appends a header field; refuses names that are not tokens and values with CR, LF
/// or NUL, so nothing a caller passes can inject header lines.
pub fn push_header<M: HasHeaders + ?Sized>(
    msg: &mut M,
    name: &str,
    value: &str,
) -> Result<(), MessageError> {
    let name_ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-.!%*_+`'~".contains(c));
    if !name_ok || value.contains(['\r', '\n', '\0']) {
        return Err(MessageError::UnsafeHeader(name.chars().take(60).collect()));
    }
    msg.headers_mut()
        .push(make_header(name, value.trim().to_string()));
    Ok(())
}

fn random_token(rng: &mut impl Rng, len: usize) -> String {
    (0..len)
        .map(|_| char::from(rng.sample(Alphanumeric)))
        .collect()
}

/// A fresh Via branch: the magic cookie plus 16 random alphanumerics (~95 bits).
pub fn new_branch(rng: &mut impl Rng) -> String {
    format!("{MAGIC_COOKIE}{}", random_token(rng, 16))
}

/// A fresh From/To tag (RFC 3261 §19.3 asks for at least 32 random bits; this has ~71).
pub fn new_tag(rng: &mut impl Rng) -> String {
    random_token(rng, 12)
}

/// A fresh Call-ID, `random@host` (the host part only if `host` is usable).
pub fn new_call_id(rng: &mut impl Rng, host: &str) -> String {
    let host: String = host
        .chars()
        .filter(|c| c.is_ascii_graphic() && *c != '@')
        .collect();
    let token = random_token(rng, 24);
    if host.is_empty() {
        token
    } else {
        format!("{token}@{host}")
    }
}

fn first_header(
    req: &Request,
    name: &'static str,
    pick: fn(&Header) -> bool,
) -> Result<Header, MessageError> {
    req.headers
        .iter()
        .find(|h| pick(h))
        .cloned()
        .ok_or(MessageError::MissingHeader(name))
}

/// The headers CANCEL and non-2xx ACK share: the INVITE's top Via only, its Routes,
/// Max-Forwards, From and Call-ID verbatim (To and CSeq are the caller's).
fn cancel_or_ack(invite: &Request, method: Method, to: Header) -> Result<Request, MessageError> {
    let via = invite
        .via_header()
        .map_err(|_| MessageError::MissingHeader("Via"))?;
    let top_via = via.first_value().map_err(|_| MessageError::InvalidHeader {
        header: "Via",
        value: via.value().chars().take(120).collect(),
    })?;
    let (seq, _) = cseq(invite)?;
    let mut headers = Headers::default();
    headers.push(Header::Via(top_via));
    for route in invite
        .headers
        .iter()
        .filter(|h| matches!(h, Header::Route(_)))
    {
        headers.push(route.clone());
    }
    headers.push(Header::MaxForwards(untyped::MaxForwards::new("70")));
    headers.push(first_header(invite, "From", |h| {
        matches!(h, Header::From(_))
    })?);
    headers.push(to);
    headers.push(first_header(invite, "Call-ID", |h| {
        matches!(h, Header::CallId(_))
    })?);
    headers.push(Header::CSeq(untyped::CSeq::new(format!("{seq} {method}"))));
    headers.push(Header::ContentLength(untyped::ContentLength::new("0")));
    Ok(Request {
        method,
        uri: invite.uri.clone(),
        version: Version::V2,
        headers,
        body: Vec::new(),
    })
}

/// CANCEL for a pending INVITE (RFC 3261 §9.1): same Request-URI, Call-ID, From, To and
/// CSeq number, a single Via equal to the INVITE's top Via, the INVITE's Route headers.
pub fn cancel_for(invite: &Request) -> Result<Request, MessageError> {
    let to = first_header(invite, "To", |h| matches!(h, Header::To(_)))?;
    cancel_or_ack(invite, Method::Cancel, to)
}

/// ACK for a non-2xx final response (RFC 3261 §17.1.1.3): as the INVITE, but To from the
/// response (with its tag) and the INVITE's top Via, so the same branch.
pub fn ack_for_non2xx(invite: &Request, resp: &Response) -> Result<Request, MessageError> {
    let to = resp
        .headers
        .iter()
        .find(|h| matches!(h, Header::To(_)))
        .cloned()
        .ok_or(MessageError::MissingHeader("To"))?;
    cancel_or_ack(invite, Method::Ack, to)
}
