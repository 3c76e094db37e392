//! SIP messages: the one place the rest of `hotline` meets the SIP message model
//! (RFC 3261 §7 message structure, §8.1.1 mandatory header fields, §20 header fields).
//!
//! The model itself is rsipstack's (`rsipstack::sip`, the maintained `rsip`); it is
//! re-exported here and everything else in the crate should go through this module:
//! - [`framing`]: bytes → messages (UDP datagrams §18.3, TCP streams §18.3/RFC 5626
//!   keep-alives) and error answers for what cannot be parsed ([`bad_request`]);
//! - [`build`]: messages → bytes ([`to_bytes`]) and builders for responses, CANCEL,
//!   ACK, branches, tags and Call-IDs;
//! - [`via`]: our own Via ([`ViaSpec`]), RFC 3581 / §18.2.1 Via stamping and §18.2.2
//!   response routing;
//! - [`request`]: requests outside a dialog (the INVITE that rings an operator) built
//!   from typed values ([`OutOfDialogRequest`]);
//! - [`uri`]: URI and name-addr parsing with a decoded user part;
//! - this file: accessors for the fields the transaction, dialog and call layers read.
//!
//! Invariants: nothing here panics on network input, reads a clock or does IO. Messages
//! produced by the framers have passed [`check_mandatory`], so their From/To/Call-ID/CSeq
//! and top Via can be read without surprises, and their Request-URI user part is decoded.

mod build;
mod framing;
mod reject;
mod request;
mod strict;
mod uri;
mod via;

#[cfg(test)]
mod tests;

pub use build::{
    ack_for_non2xx, cancel_for, new_branch, new_call_id, new_tag, push_header, response_to,
    set_body, set_reason, status_code, to_bytes, with_body, MessageParts, MAGIC_COOKIE,
};
pub(crate) use framing::header_fields;
pub use framing::{
    check_mandatory, parse_datagram, Datagram, Frame, FrameError, StreamFramer, MAX_MESSAGE_BYTES,
};
pub use reject::{bad_request, error_response, error_response_with};
pub use request::{local_uri, Body, OutOfDialogRequest, Party};
pub use uri::{parse_uri, split_unquoted, uri_number, NameAddr, SpelledNameAddr};
pub use via::{response_target, stamp_via, ViaSpec};

pub use rsipstack::sip::headers::Header;
pub use rsipstack::sip::typed;
pub use rsipstack::sip::{
    HasHeaders, Headers, HeadersExt, Host, HostWithPort, Method, Param, Request, Response, Scheme,
    SipMessage, StatusCode, Uri,
};

/// Why a field could not be read from (or written into) a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    /// A header the operation needs is absent.
    #[error("missing {0} header")]
    MissingHeader(&'static str),
    /// A header is present but its value does not parse.
    #[error("invalid {header} header: {value:?}")]
    InvalidHeader {
        /// The header's canonical name.
        header: &'static str,
        /// The offending value (truncated for logs).
        value: String,
    },
    /// A header field that may appear once appears more than once (RFC 3261 §7.3.1).
    #[error("more than one {0} header")]
    DuplicateHeader(&'static str),
    /// A received header value holds a control character outside a quoted-pair
    /// (RFC 3261 §25.1); the header's name, truncated.
    #[error("control character in header {0:?}")]
    ControlCharacter(String),
    /// The top Via has no `branch` parameter (a pre-RFC 3261 peer).
    #[error("top Via has no branch parameter")]
    MissingBranch,
    /// A URI does not parse (the text, truncated).
    #[error("invalid URI {0:?}")]
    InvalidUri(String),
    /// A name-addr value (From, To, Contact, Route...) does not parse.
    #[error("invalid name-addr {0:?}")]
    InvalidNameAddr(String),
    /// The CSeq method differs from the request method (RFC 3261 §8.1.1.5).
    #[error("CSeq method {cseq} does not match request method {request}")]
    CSeqMethodMismatch {
        /// Method in the request line.
        request: Method,
        /// Method in the CSeq header.
        cseq: Method,
    },
    /// A header name or value given to a builder would break the message (CR, LF, NUL,
    /// or a name that is not a token).
    #[error("header {0:?} is not printable as a SIP header field")]
    UnsafeHeader(String),
}

fn invalid(header: &'static str, value: &str) -> MessageError {
    MessageError::InvalidHeader {
        header,
        value: value.chars().take(120).collect(),
    }
}

/// The Call-ID value (RFC 3261 §20.8), trimmed.
pub fn call_id<M: HeadersExt + ?Sized>(msg: &M) -> Result<&str, MessageError> {
    let value = msg
        .call_id_header()
        .map_err(|_| MessageError::MissingHeader("Call-ID"))?
        .value()
        .trim();
    if value.is_empty() || value.contains(char::is_whitespace) {
        return Err(invalid("Call-ID", value));
    }
    Ok(value)
}

/// CSeq number and method (RFC 3261 §20.16).
pub fn cseq<M: HeadersExt + ?Sized>(msg: &M) -> Result<(u32, Method), MessageError> {
    let header = msg
        .cseq_header()
        .map_err(|_| MessageError::MissingHeader("CSeq"))?;
    let parsed = typed::CSeq::parse(header.value()).map_err(|_| invalid("CSeq", header.value()))?;
    Ok((parsed.seq, parsed.method))
}

/// The From header as a name-addr.
pub fn from_header<M: HeadersExt + ?Sized>(msg: &M) -> Result<NameAddr, MessageError> {
    let header = msg
        .from_header()
        .map_err(|_| MessageError::MissingHeader("From"))?;
    NameAddr::parse(header.value()).map_err(|_| invalid("From", header.value()))
}

/// The To header as a name-addr.
pub fn to_header<M: HeadersExt + ?Sized>(msg: &M) -> Result<NameAddr, MessageError> {
    let header = msg
        .to_header()
        .map_err(|_| MessageError::MissingHeader("To"))?;
    NameAddr::parse(header.value()).map_err(|_| invalid("To", header.value()))
}

/// The From tag; `Ok(None)` when From has none.
pub fn from_tag<M: HeadersExt + ?Sized>(msg: &M) -> Result<Option<String>, MessageError> {
    Ok(from_header(msg)?.tag().map(str::to_string))
}

/// The To tag; `Ok(None)` when To has none (an out-of-dialog request).
pub fn to_tag<M: HeadersExt + ?Sized>(msg: &M) -> Result<Option<String>, MessageError> {
    Ok(to_header(msg)?.tag().map(str::to_string))
}

/// The topmost Via value (first value of the first Via header), parsed.
pub fn top_via<M: HeadersExt + ?Sized>(msg: &M) -> Result<typed::Via, MessageError> {
    let header = msg
        .via_header()
        .map_err(|_| MessageError::MissingHeader("Via"))?;
    header
        .first_value()
        .and_then(|v| typed::Via::parse(v.value()))
        .map_err(|_| invalid("Via", header.value()))
}

/// The top Via `branch`: the transaction key (RFC 3261 §17.2.3).
pub fn top_via_branch<M: HeadersExt + ?Sized>(msg: &M) -> Result<String, MessageError> {
    let via = top_via(msg)?;
    match via.branch() {
        Some(branch) if !branch.value().is_empty() => Ok(branch.value().to_string()),
        _ => Err(MessageError::MissingBranch),
    }
}

/// The top Via sent-by: host (an IPv6 address without brackets) and port if given.
pub fn top_via_sent_by<M: HeadersExt + ?Sized>(
    msg: &M,
) -> Result<(String, Option<u16>), MessageError> {
    let via = top_via(msg)?;
    let sent_by = via.sent_by();
    let host = match &sent_by.host {
        Host::IpAddr(ip) => ip.to_string(),
        Host::Domain(d) => d.0.clone(),
    };
    Ok((host, sent_by.port.as_ref().map(|p| p.0)))
}

/// The dialled number: the user of a `sip:`/`sips:` Request-URI or the number of a
/// `tel:` one (`tel:+78112792112` → `+78112792112`), visual separators removed.
pub fn request_user(req: &Request) -> Option<String> {
    uri_number(&req.uri)
}

/// The caller's number from From, or from P-Asserted-Identity (RFC 3325) when From
/// carries no usable user (absent, or `anonymous` as RFC 3323 privacy asks for).
pub fn from_user(req: &Request) -> Option<String> {
    let from = from_header(req)
        .ok()
        .and_then(|na| uri_number(&na.uri))
        .filter(|user| !user.eq_ignore_ascii_case("anonymous"));
    from.or_else(|| {
        let pai = req.p_asserted_identity_header()?;
        split_unquoted(pai.value(), ',')
            .into_iter()
            .filter_map(|v| NameAddr::parse(v).ok())
            .find_map(|na| uri_number(&na.uri))
    })
}

/// The media type of Content-Type (or `c`), lower-cased, without parameters.
pub fn content_type<M: HasHeaders + ?Sized>(msg: &M) -> Option<String> {
    msg.headers().iter().find_map(|h| match h {
        Header::ContentType(ct) => {
            let media = ct.value().split(';').next().unwrap_or("").trim();
            Some(media.to_ascii_lowercase())
        }
        _ => None,
    })
}

/// Whether the message carries an SDP offer/answer: `application/sdp` and a body.
pub fn has_sdp_body<M: MessageParts + ?Sized>(msg: &M) -> bool {
    !msg.body_bytes().is_empty() && content_type(msg).as_deref() == Some("application/sdp")
}

/// The URI of the first Contact (`None` when absent, `*`, or unparsable).
pub fn contact_uri<M: HeadersExt + ?Sized>(msg: &M) -> Option<Uri> {
    let first = msg.contact_headers().into_iter().next()?;
    let value = split_unquoted(first.value(), ',').into_iter().next()?;
    NameAddr::parse(value).ok().map(|na| na.uri)
}

/// Max-Forwards (RFC 3261 §20.22); `Ok(None)` when absent.
pub fn max_forwards<M: HeadersExt + ?Sized>(msg: &M) -> Result<Option<u32>, MessageError> {
    match msg.max_forwards_header() {
        Err(_) => Ok(None),
        Ok(h) => h
            .value()
            .trim()
            .parse::<u32>()
            .map(Some)
            .map_err(|_| invalid("Max-Forwards", h.value())),
    }
}

/// All Record-Route entries in message order, each as a name-addr (URI with its `lr`).
pub fn record_route<M: HeadersExt + ?Sized>(msg: &M) -> Result<Vec<NameAddr>, MessageError> {
    let mut routes = Vec::new();
    for header in msg.record_route_headers() {
        for value in split_unquoted(header.value(), ',') {
            routes.push(NameAddr::parse(value).map_err(|_| invalid("Record-Route", value))?);
        }
    }
    Ok(routes)
}
