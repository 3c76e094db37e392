//! Requests outside a dialog, built from typed values: RFC 3261 §8.1.1 (the header fields
//! every request carries: Request-URI, To, From with a tag, Call-ID, CSeq, Max-Forwards
//! 70, Via) and §8.1.1.8 (Contact), with RFC 3325 P-Asserted-Identity, §20.5 Allow,
//! §20.41 User-Agent and a body (SDP for an INVITE's offer).
//!
//! The call logic says *what* to send; this file spells it. Invariant: whatever the
//! values, [`OutOfDialogRequest::build`] returns a request whose wire form parses back
//! to the same values, or an error; never a malformed message. User parts are
//! percent-encoded by the URI printer, display names are quoted with `"` and `\`
//! escaped and control characters dropped, and every other value is checked before it
//! is printed.

use std::net::SocketAddr;

use rsipstack::sip::headers::untyped;
use rsipstack::sip::param::{OtherParam, OtherParamValue, Tag};
use rsipstack::sip::{Auth, HostWithPort, Version};

use super::{
    parse_uri, typed, Header, Headers, MessageError, Method, Param, Request, Scheme, Uri, ViaSpec,
};
use crate::sip::Transport;

#[cfg(test)]
mod tests;

/// RFC 3261 §8.1.1.6: a UAC SHOULD start Max-Forwards at 70.
const MAX_FORWARDS: &str = "70";

/// A From, To or P-Asserted-Identity party: an optional display name and a URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Party {
    /// Shown by phones; any text (quoted and escaped when printed).
    pub display_name: Option<String>,
    /// The address.
    pub uri: Uri,
}

impl Party {
    /// A party with no display name.
    pub fn new(uri: Uri) -> Party {
        Party {
            display_name: None,
            uri,
        }
    }

    /// The same party with a display name.
    pub fn named(mut self, display_name: impl Into<String>) -> Party {
        self.display_name = Some(display_name.into());
        self
    }

    /// The display name as a quoted-string body (RFC 3261 §25.1): `"` and `\` escaped,
    /// control characters (CR and LF among them) dropped; `None` if nothing is left.
    fn quoted_display_name(&self) -> Option<String> {
        let name = self.display_name.as_deref()?;
        let mut out = String::with_capacity(name.len());
        for c in name.chars().filter(|c| !c.is_control()) {
            if c == '"' || c == '\\' {
                out.push('\\');
            }
            out.push(c);
        }
        let trimmed = out.trim();
        (!trimmed.is_empty()).then(|| trimmed.to_string())
    }

    /// `"Name" <uri>`, or `<uri>`, for headers without a typed form here.
    fn name_addr(&self) -> String {
        match self.quoted_display_name() {
            Some(name) => format!("\"{name}\" <{}>", self.uri),
            None => format!("<{}>", self.uri),
        }
    }
}

/// A message body and its media type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Body {
    /// `type/subtype` (parameters allowed), e.g. `application/sdp`.
    pub content_type: String,
    /// The bytes, sent as they are.
    pub bytes: Vec<u8>,
}

impl Body {
    /// An SDP offer or answer (RFC 3264).
    pub fn sdp(bytes: impl Into<Vec<u8>>) -> Body {
        Body {
            content_type: "application/sdp".to_string(),
            bytes: bytes.into(),
        }
    }
}

/// A request that starts a transaction outside any dialog, e.g. the INVITE that rings an
/// operator. Every header is a typed value; [`OutOfDialogRequest::build`] spells them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutOfDialogRequest {
    /// INVITE, OPTIONS...
    pub method: Method,
    /// Where the request goes (§8.1.1.1): for an INVITE to a registered phone, its
    /// Contact.
    pub request_uri: Uri,
    /// Our Via, with a fresh branch.
    pub via: ViaSpec,
    /// Who calls (§8.1.1.3).
    pub from: Party,
    /// Our From tag: a fresh one (`message::new_tag`).
    pub from_tag: String,
    /// Who is called (§8.1.1.2); no tag outside a dialog.
    pub to: Party,
    /// A fresh Call-ID (`message::new_call_id`).
    pub call_id: String,
    /// The CSeq number (§8.1.1.5); the method is `method`.
    pub cseq: u32,
    /// Where the peer reaches us within the dialog (§8.1.1.8); required on INVITE.
    pub contact: Option<Uri>,
    /// The caller's identity asserted to a trusted peer (RFC 3325 §9.1).
    pub asserted_identity: Option<Party>,
    /// The methods we accept (§20.5); no header when empty.
    pub allow: Vec<Method>,
    /// Our product name (§20.41); no header when `None`.
    pub user_agent: Option<String>,
    /// Headers of our own (name, value), e.g. `X-Hotline-Topic`, printed after the
    /// standard ones; a value with control characters is refused.
    pub extension: Vec<(&'static str, String)>,
    /// The body, if any.
    pub body: Option<Body>,
}

impl OutOfDialogRequest {
    /// The request, headers in the order of §8.1.1 (Via, Max-Forwards, From, To, Call-ID,
    /// CSeq, Contact) then the others. Refuses values that cannot be printed safely: a
    /// URI with characters no URI may hold, a tag that is not a token, a Call-ID or
    /// media type that is not a word, a User-Agent with control characters, and an
    /// INVITE without Contact.
    pub fn build(&self) -> Result<Request, MessageError> {
        check_uri(&self.request_uri)?;
        check_uri(&self.from.uri)?;
        check_uri(&self.to.uri)?;
        if !is_token(&self.from_tag) {
            return Err(invalid("From", &self.from_tag));
        }
        if !is_word(&self.call_id) {
            return Err(invalid("Call-ID", &self.call_id));
        }
        let mut headers = Headers::default();
        headers.push(self.via.header());
        headers.push(Header::MaxForwards(untyped::MaxForwards::new(MAX_FORWARDS)));
        headers.push(
            typed::From {
                display_name: self.from.quoted_display_name(),
                uri: self.from.uri.clone(),
                params: vec![Param::Tag(Tag::new(self.from_tag.clone()))],
            }
            .into(),
        );
        headers.push(
            typed::To {
                display_name: self.to.quoted_display_name(),
                uri: self.to.uri.clone(),
                params: Vec::new(),
            }
            .into(),
        );
        headers.push(Header::CallId(untyped::CallId::new(self.call_id.clone())));
        headers.push(
            typed::CSeq {
                seq: self.cseq,
                method: self.method,
            }
            .into(),
        );
        match &self.contact {
            Some(contact) => {
                check_uri(contact)?;
                headers.push(typed::Contact::from(contact.clone()).into());
            }
            None if self.method == Method::Invite => {
                return Err(MessageError::MissingHeader("Contact"));
            }
            None => {}
        }
        if let Some(identity) = &self.asserted_identity {
            check_uri(&identity.uri)?;
            headers.push(Header::PAssertedIdentity(untyped::PAssertedIdentity::new(
                identity.name_addr(),
            )));
        }
        if !self.allow.is_empty() {
            headers.push(
                typed::Allow {
                    methods: self.allow.clone(),
                }
                .into(),
            );
        }
        if let Some(user_agent) = &self.user_agent {
            let user_agent = user_agent.trim();
            if user_agent.is_empty() || user_agent.chars().any(char::is_control) {
                return Err(invalid("User-Agent", user_agent));
            }
            headers.push(Header::UserAgent(untyped::UserAgent::new(user_agent)));
        }
        for (name, value) in &self.extension {
            let value = value.trim();
            if !is_token(name) || value.is_empty() || value.chars().any(char::is_control) {
                return Err(invalid(name, value));
            }
            headers.push(Header::Other((*name).to_owned(), value.to_owned()));
        }
        let body = match &self.body {
            Some(body) => {
                let media = body.content_type.split(';').next().unwrap_or("").trim();
                let well_formed = media
                    .split_once('/')
                    .is_some_and(|(t, s)| is_token(t) && is_token(s));
                if !well_formed || body.content_type.chars().any(char::is_control) {
                    return Err(invalid("Content-Type", &body.content_type));
                }
                headers.push(Header::ContentType(untyped::ContentType::new(
                    body.content_type.trim(),
                )));
                body.bytes.clone()
            }
            None => Vec::new(),
        };
        headers.push(Header::ContentLength(untyped::ContentLength::new(
            body.len().to_string(),
        )));
        Ok(Request {
            method: self.method,
            uri: self.request_uri.clone(),
            version: Version::V2,
            headers,
            body,
        })
    }
}

/// A `sip:` URI for one of our addresses: `sip:user@ip:port;transport=udp`, the form our
/// Contact takes (the transport in lower case, as RFC 3261's examples and most phones
/// write it). `user` may hold any text: it is percent-encoded when printed.
pub fn local_uri(user: Option<&str>, addr: SocketAddr, transport: Option<Transport>) -> Uri {
    let params = transport
        .map(|t| {
            Param::Other(
                OtherParam::new("transport"),
                Some(OtherParamValue::new(t.as_str().to_ascii_lowercase())),
            )
        })
        .into_iter()
        .collect();
    Uri {
        scheme: Some(Scheme::Sip),
        auth: user.map(|user| Auth {
            user: user.to_string(),
            password: None,
        }),
        host_with_port: HostWithPort::from(addr),
        params,
        headers: Vec::new(),
    }
}

fn invalid(header: &'static str, value: &str) -> MessageError {
    MessageError::InvalidHeader {
        header,
        value: value.chars().take(120).collect(),
    }
}

/// RFC 3261 §25.1 `token`.
fn is_token(text: &str) -> bool {
    !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-.!%*_+`'~".contains(c))
}

/// RFC 3261 §25.1 `word` (what a Call-ID is made of), without the characters that would
/// need care in other headers (`<`, `>`, `"`, `\`).
fn is_word(text: &str) -> bool {
    !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-.!%*_+`'~():/[]?{}@".contains(c))
}

/// Whether a URI prints as a URI that reads back the same: only characters RFC 3261 §25.1
/// allows in one (the printer percent-encodes the user part, but not hosts, parameters
/// or headers, so a space, `<`, `>`, `"` or control character there is refused), and the
/// same user and host when parsed again (a `?` in a user part is legal but splits it for
/// many parsers, ours among them).
fn check_uri(uri: &Uri) -> Result<(), MessageError> {
    let text = uri.to_string();
    let refuse = || MessageError::InvalidUri(text.chars().take(80).collect());
    let allowed = |c: char| c.is_ascii_alphanumeric() || "-_.!~*'()%;:@&=+$,/?[]#".contains(c);
    if uri.scheme.is_none() || !text.chars().all(allowed) {
        return Err(refuse());
    }
    let again = parse_uri(&text).map_err(|_| refuse())?;
    let same = again.user() == uri.user()
        && again.host_with_port.to_string() == uri.host_with_port.to_string();
    if !same {
        return Err(refuse());
    }
    Ok(())
}
