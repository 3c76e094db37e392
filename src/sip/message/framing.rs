//! Framing: bytes from the transports → [`SipMessage`]s. RFC 3261 §7.5 (CRLF before the
//! start line is ignored), §18.3 (Content-Length on datagrams and streams), §8.1.1 and
//! §8.2.2 (what a request must carry), RFC 5626 §3.5.1 (CRLF keep-alives on streams).
//!
//! Run loop: UDP calls [`parse_datagram`] per datagram. TCP feeds each read to
//! [`StreamFramer::push`] and then calls [`StreamFramer::next`] until it yields `None`.
//!
//! Invariants: no input makes these functions panic; a message is never larger than the
//! framer's limit (default [`MAX_MESSAGE_BYTES`]) and a stream's buffer never grows past
//! twice that; a message handed out has passed [`check_mandatory`] and has a Request-URI
//! whose user part is decoded; an `Err` from [`StreamFramer::next`] means the stream
//! can no longer be framed and must be closed (it stays failed).

use std::borrow::Cow;

use super::{cseq, from_header, parse_uri, to_header, top_via, MessageError, Method, SipMessage};

/// Largest message (headers and body) we accept on any transport.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;

const CRLF: &[u8] = b"\r\n";
const CRLFCRLF: &[u8] = b"\r\n\r\n";

/// What one UDP datagram holds.
// Built once per datagram and matched at once; boxing the message would only add an
// allocation per packet.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Datagram {
    /// A request or response.
    Message(SipMessage),
    /// Only CR/LF bytes: a NAT keep-alive, to be ignored.
    KeepAlive,
}

/// What a stream yields next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A complete, checked message.
    Message(SipMessage),
    /// A CRLFCRLF keep-alive ping (RFC 5626 §3.5.1); the runtime answers with one CRLF.
    Ping,
    /// A correctly framed message that does not parse. The stream stays usable; `bytes`
    /// are the message as received so that [`super::bad_request`] can answer it.
    Invalid {
        /// The message bytes as received.
        bytes: Vec<u8>,
        /// Why it was refused.
        error: FrameError,
    },
}

/// Why bytes were not accepted as a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The message (or the one being assembled on a stream) exceeds the size limit.
    #[error("message of {size} bytes exceeds the {limit}-byte limit")]
    TooLarge {
        /// Size of the message, as far as known.
        size: usize,
        /// The limit in force.
        limit: usize,
    },
    /// A datagram has no empty line ending its header section.
    #[error("header section does not end with an empty line")]
    MissingHeaderEnd,
    /// A stream has buffered more than the limit without an end of headers.
    #[error("no end of headers within {limit} bytes")]
    HeadersTooLong {
        /// The limit in force.
        limit: usize,
    },
    /// Two pushes between reads together exceeded twice the limit.
    #[error("stream buffer overflow")]
    BufferOverflow,
    /// Content-Length is not a decimal number.
    #[error("invalid Content-Length {0:?}")]
    InvalidContentLength(String),
    /// Several Content-Length headers disagree.
    #[error("conflicting Content-Length headers")]
    ConflictingContentLength,
    /// Content-Length promises more body than the datagram holds (§18.3: answer 400).
    #[error("Content-Length {declared} exceeds the {available} body bytes received")]
    ContentLengthExceedsDatagram {
        /// The Content-Length value.
        declared: usize,
        /// Bytes after the header section.
        available: usize,
    },
    /// The header section is not UTF-8.
    #[error("header section is not valid UTF-8")]
    NotUtf8,
    /// The first line is neither a Request-Line nor a Status-Line.
    #[error("malformed start line")]
    BadStartLine,
    /// The SIP version is not 2.0.
    #[error("unsupported SIP version {0:?}")]
    UnsupportedVersion(String),
    /// The request method is a token we do not implement.
    #[error("unknown method {0:?}")]
    UnknownMethod(String),
    /// rsipstack refused the message.
    #[error("unparsable message")]
    Unparsable(#[source] rsipstack::sip::Error),
    /// A mandatory header is missing or malformed.
    #[error("bad header: {0}")]
    Header(#[from] MessageError),
}

impl FrameError {
    /// The status a request refused for this reason should get.
    pub fn status(&self) -> u16 {
        match self {
            FrameError::TooLarge { .. } | FrameError::HeadersTooLong { .. } => 513,
            FrameError::UnsupportedVersion(_) => 505,
            FrameError::UnknownMethod(_) => 501,
            _ => 400,
        }
    }

    /// A short reason phrase for that response (never contains CR or LF).
    pub fn reason(&self) -> Cow<'static, str> {
        match self {
            FrameError::ContentLengthExceedsDatagram { .. } => {
                "Content-Length Exceeds Datagram".into()
            }
            FrameError::InvalidContentLength(_) | FrameError::ConflictingContentLength => {
                "Bad Content-Length".into()
            }
            FrameError::Header(MessageError::MissingHeader(name)) => {
                format!("Missing {name}").into()
            }
            FrameError::Header(MessageError::InvalidHeader { header, .. }) => {
                format!("Bad {header}").into()
            }
            FrameError::Header(MessageError::DuplicateHeader(name)) => {
                format!("Duplicate {name}").into()
            }
            FrameError::Header(MessageError::ControlCharacter(_)) => {
                "Control Character in Header".into()
            }
            FrameError::Header(MessageError::CSeqMethodMismatch { .. }) => {
                "CSeq Method Mismatch".into()
            }
            FrameError::Header(MessageError::InvalidUri(_)) => "Bad Request-URI".into(),
            FrameError::TooLarge { .. } | FrameError::HeadersTooLong { .. } => {
                "Message Too Large".into()
            }
            FrameError::UnsupportedVersion(_) => "Version Not Supported".into(),
            FrameError::UnknownMethod(_) => "Not Implemented".into(),
            _ => "Bad Request".into(),
        }
    }
}

/// Parses one UDP datagram (RFC 3261 §18.3): without Content-Length the body is the rest
/// of the datagram; bytes beyond Content-Length are discarded; a Content-Length larger
/// than what arrived is an error.
pub fn parse_datagram(buf: &[u8]) -> Result<Datagram, FrameError> {
    if buf.len() > MAX_MESSAGE_BYTES {
        return Err(FrameError::TooLarge {
            size: buf.len(),
            limit: MAX_MESSAGE_BYTES,
        });
    }
    let Some(start) = buf.iter().position(|&b| b != b'\r' && b != b'\n') else {
        return Ok(Datagram::KeepAlive);
    };
    let data = &buf[start..];
    let head_len = find(data, CRLFCRLF).ok_or(FrameError::MissingHeaderEnd)? + CRLFCRLF.len();
    let (head, rest) = data.split_at(head_len);
    let head = std::str::from_utf8(head).map_err(|_| FrameError::NotUtf8)?;
    let body = match content_length(head)? {
        None => rest,
        Some(declared) if declared > rest.len() => {
            return Err(FrameError::ContentLengthExceedsDatagram {
                declared,
                available: rest.len(),
            })
        }
        Some(declared) => &rest[..declared],
    };
    parse_parts(head, body).map(Datagram::Message)
}

/// Frames SIP messages out of a TCP byte stream (RFC 3261 §18.3: Content-Length delimits
/// the body; absent means 0).
#[derive(Debug)]
pub struct StreamFramer {
    buf: Vec<u8>,
    limit: usize,
    failed: Option<FrameError>,
    /// The answer owed to the message that broke the framing, until taken.
    owed: Option<Vec<u8>>,
}

impl Default for StreamFramer {
    fn default() -> Self {
        Self::new()
    }
}

impl StreamFramer {
    /// A framer with the default [`MAX_MESSAGE_BYTES`] limit.
    pub fn new() -> Self {
        Self::with_limit(MAX_MESSAGE_BYTES)
    }

    /// A framer refusing messages larger than `limit` bytes.
    pub fn with_limit(limit: usize) -> Self {
        StreamFramer {
            buf: Vec::new(),
            limit,
            failed: None,
            owed: None,
        }
    }

    /// Bytes waiting for the rest of their message.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Appends bytes read from the stream.
    pub fn push(&mut self, data: &[u8]) {
        if self.failed.is_some() {
            return;
        }
        if self.buf.len() + data.len() > self.limit.saturating_mul(2) {
            self.failed = Some(FrameError::BufferOverflow);
            self.buf = Vec::new();
            return;
        }
        self.buf.extend_from_slice(data);
    }

    /// The next complete frame, `Ok(None)` if more bytes are needed, or `Err` when the
    /// stream cannot be framed any more (the runtime closes the connection).
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Option<Frame>, FrameError> {
        if let Some(error) = &self.failed {
            return Err(error.clone());
        }
        // RFC 5626 §3.5.1: CRLFCRLF is a ping; a lone CRLF is a pong or the stray CRLF
        // before a start line that §7.5 says to ignore.
        while self.buf.starts_with(CRLF) {
            if self.buf.starts_with(CRLFCRLF) {
                self.buf.drain(..CRLFCRLF.len());
                return Ok(Some(Frame::Ping));
            }
            if self.buf.len() < CRLFCRLF.len() && CRLFCRLF.starts_with(&self.buf) {
                return Ok(None);
            }
            self.buf.drain(..CRLF.len());
        }
        let Some(end) = find(&self.buf, CRLFCRLF) else {
            if self.buf.len() > self.limit {
                return self.fail(FrameError::HeadersTooLong { limit: self.limit });
            }
            return Ok(None);
        };
        let head_len = end + CRLFCRLF.len();
        let body_len = match content_length(&String::from_utf8_lossy(&self.buf[..head_len])) {
            Ok(len) => len.unwrap_or(0),
            Err(error) => {
                // RFC 4475 §3.1.2.3, §3.3.9: the stream is lost, but the request whose
                // Content-Length lost it still gets its 400 before the connection closes.
                self.owed =
                    super::error_response(&self.buf[..head_len], error.status(), &error.reason());
                return self.fail(error);
            }
        };
        let total = head_len.saturating_add(body_len);
        if total > self.limit {
            return self.fail(FrameError::TooLarge {
                size: total,
                limit: self.limit,
            });
        }
        if self.buf.len() < total {
            return Ok(None);
        }
        let bytes: Vec<u8> = self.buf.drain(..total).collect();
        let parsed = std::str::from_utf8(&bytes[..head_len])
            .map_err(|_| FrameError::NotUtf8)
            .and_then(|head| parse_parts(head, &bytes[head_len..]));
        Ok(Some(match parsed {
            Ok(msg) => Frame::Message(msg),
            Err(error) => Frame::Invalid { bytes, error },
        }))
    }

    /// The answer to send before closing a stream that failed (see [`StreamFramer::next`]),
    /// once: a 400 to a request whose Content-Length cannot be used, when it can be
    /// addressed; `None` for every other failure.
    pub fn failure_answer(&mut self) -> Option<Vec<u8>> {
        self.owed.take()
    }

    fn fail(&mut self, error: FrameError) -> Result<Option<Frame>, FrameError> {
        self.failed = Some(error.clone());
        self.buf = Vec::new();
        Err(error)
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Header fields of a header section (start line excluded), continuation lines unfolded
/// (RFC 3261 §7.3.1), names trimmed (so `Via :` works), values trimmed.
pub(crate) fn header_fields(head: &str) -> Vec<(&str, String)> {
    let mut fields: Vec<(&str, String)> = Vec::new();
    for line in head.split('\n').skip(1) {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = fields.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
            continue;
        }
        if let Some((name, value)) = line.split_once(':') {
            fields.push((name.trim(), value.trim().to_string()));
        }
    }
    fields
}

/// Content-Length (or compact `l`) from a header section; `None` when absent.
fn content_length(head: &str) -> Result<Option<usize>, FrameError> {
    let mut found: Option<usize> = None;
    for (name, value) in header_fields(head) {
        if !(name.eq_ignore_ascii_case("content-length") || name.eq_ignore_ascii_case("l")) {
            continue;
        }
        let len = value
            .parse::<usize>()
            .ok()
            .filter(|_| !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| FrameError::InvalidContentLength(value.chars().take(20).collect()))?;
        if found.is_some_and(|f| f != len) {
            return Err(FrameError::ConflictingContentLength);
        }
        found = Some(len);
    }
    Ok(found)
}

/// Checks the start line ourselves (for precise errors), lets rsipstack parse the header
/// section, then attaches the body and our decoded Request-URI.
fn parse_parts(head: &str, body: &[u8]) -> Result<SipMessage, FrameError> {
    let start_line = head.split("\r\n").next().unwrap_or("");
    let mut parts = start_line.split(' ');
    let first = parts.next().unwrap_or("");
    let request_uri = if first.starts_with("SIP/") {
        if !first.eq_ignore_ascii_case("SIP/2.0") {
            return Err(FrameError::UnsupportedVersion(
                first.chars().take(20).collect(),
            ));
        }
        None
    } else {
        let (uri, version) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let token = |c: char| c.is_ascii_alphanumeric() || "-.!%*_+`'~".contains(c);
        if first.is_empty() || !first.chars().all(token) || uri.is_empty() || parts.next().is_some()
        {
            return Err(FrameError::BadStartLine);
        }
        if !version.eq_ignore_ascii_case("SIP/2.0") {
            return Err(if version.starts_with("SIP/") {
                FrameError::UnsupportedVersion(version.chars().take(20).collect())
            } else {
                FrameError::BadStartLine
            });
        }
        if first.parse::<Method>().is_err() {
            return Err(FrameError::UnknownMethod(first.chars().take(20).collect()));
        }
        super::strict::check_request(head, uri)?;
        Some(parse_uri(uri)?)
    };
    let mut msg = SipMessage::try_from(head.as_bytes()).map_err(FrameError::Unparsable)?;
    match &mut msg {
        SipMessage::Request(req) => {
            req.body = body.to_vec();
            if let Some(uri) = request_uri {
                req.uri = uri;
            }
        }
        SipMessage::Response(resp) => resp.body = body.to_vec(),
    }
    check_mandatory(&msg)?;
    Ok(msg)
}

/// The header fields every message must carry in a usable form (RFC 3261 §8.1.1,
/// §8.2.2): Via (top value parsable), From, To, Call-ID, CSeq, and for requests a CSeq
/// method equal to the request method and a numeric Max-Forwards when present.
pub fn check_mandatory(msg: &SipMessage) -> Result<(), MessageError> {
    top_via(msg)?;
    from_header(msg)?;
    to_header(msg)?;
    super::call_id(msg)?;
    let (_, cseq_method) = cseq(msg)?;
    if let SipMessage::Request(req) = msg {
        if req.method != cseq_method {
            return Err(MessageError::CSeqMethodMismatch {
                request: req.method,
                cseq: cseq_method,
            });
        }
        super::max_forwards(req)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
