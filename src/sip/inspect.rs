//! Request inspection by the UAS core, RFC 3261 §8.2 in its order: after method
//! inspection (§8.2.1: unknown methods get 501 from the framer, methods we do not take
//! 405 from the UA core), header inspection (§8.2.2: a Request-URI scheme we do not
//! serve → 416; a `Require` naming an extension we lack → 420 with `Unsupported`), then
//! content processing (§8.2.3: a body type or encoding we cannot read → 415 with
//! `Accept` / `Accept-Encoding`), and the `Accept` of a request whose answer would carry
//! SDP but which accepts none (§20.1, §21.4.7 → 406). For REGISTER, the address of
//! record in To must be a SIP or SIPS URI (§10.3 step 3; RFC 4475 §3.3.4) → 400.
//!
//! Pure: a request in, a refusal (or nothing) out; the UA core turns it into a response
//! through the factory. ACK and CANCEL are never refused here (§8.2.2.3: Require does
//! not apply to them, and neither can be answered with a refusal of its own).

use super::message::{self, Header, Method, Request, Scheme};

/// The option tags we implement (the `Supported` we could list): RFC 4028 session timers.
pub const SUPPORTED: &[&str] = &["timer"];

/// The only body type we read (offers and answers).
pub const ACCEPT: &str = "application/sdp";

/// Why a request is refused before anything else looks at it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The Request-URI scheme is neither sip, sips nor tel: 416 (§8.2.2.1).
    UnsupportedScheme,
    /// `Require` lists these extensions we do not support: 420 with them in
    /// `Unsupported` (§8.2.2.3).
    BadExtension(Vec<String>),
    /// A body we cannot process: 415 with `Accept` and `Accept-Encoding` (§8.2.3).
    UnsupportedMediaType,
    /// Our answer would carry SDP, which the request's `Accept` excludes: 406.
    NotAcceptable,
    /// A REGISTER whose To is not a sip/sips address of record: 400.
    BadAddressOfRecord,
}

impl Refusal {
    /// The status a peer gets.
    pub fn status(&self) -> u16 {
        match self {
            Refusal::UnsupportedScheme => 416,
            Refusal::BadExtension(_) => 420,
            Refusal::UnsupportedMediaType => 415,
            Refusal::NotAcceptable => 406,
            Refusal::BadAddressOfRecord => 400,
        }
    }
}

/// The first reason to refuse `req`, in §8.2's order, or `None`.
pub fn inspect(req: &Request) -> Option<Refusal> {
    if matches!(req.method, Method::Ack | Method::Cancel) {
        return None;
    }
    let scheme_ok = match &req.uri.scheme {
        Some(Scheme::Sip) | Some(Scheme::Sips) => true,
        Some(Scheme::Other(s)) => s.eq_ignore_ascii_case("tel"),
        None => false,
    };
    if !scheme_ok {
        return Some(Refusal::UnsupportedScheme);
    }
    let unsupported: Vec<String> = values(req, &["require"])
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|tag| !tag.is_empty())
        .filter(|tag| !SUPPORTED.iter().any(|s| s.eq_ignore_ascii_case(tag)))
        .map(str::to_string)
        .collect();
    if !unsupported.is_empty() {
        return Some(Refusal::BadExtension(unsupported));
    }
    if req.method == Method::Register {
        let aor_ok = message::to_header(req)
            .is_ok_and(|to| matches!(to.uri.scheme, Some(Scheme::Sip) | Some(Scheme::Sips)));
        if !aor_ok {
            return Some(Refusal::BadAddressOfRecord);
        }
    }
    // Only the requests whose bodies we read: offers and answers.
    let reads_body = matches!(req.method, Method::Invite | Method::Update | Method::PRack);
    if reads_body && !req.body.is_empty() {
        let type_ok = message::content_type(req).is_some_and(|t| t == ACCEPT);
        let encoding_ok = values(req, &["content-encoding", "e"])
            .flat_map(|v| v.split(','))
            .all(|e| e.trim().is_empty() || e.trim().eq_ignore_ascii_case("identity"));
        if !type_ok || !encoding_ok {
            return Some(Refusal::UnsupportedMediaType);
        }
    }
    if matches!(req.method, Method::Invite | Method::Update) && !accepts_sdp(req) {
        return Some(Refusal::NotAcceptable);
    }
    None
}

/// Whether the request's `Accept` lets our answer carry SDP. No `Accept` means
/// `application/sdp` (§20.1); an empty one means nothing is acceptable.
fn accepts_sdp(req: &Request) -> bool {
    let mut accept = values(req, &["accept"]).peekable();
    if accept.peek().is_none() {
        return true;
    }
    accept.flat_map(|v| v.split(',')).any(|range| {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let refused = parts.any(|p| {
            p.split_once('=').is_some_and(|(k, v)| {
                k.trim().eq_ignore_ascii_case("q")
                    && v.trim().parse::<f32>().is_ok_and(|q| q <= 0.0)
            })
        });
        !refused && matches!(media.as_str(), "application/sdp" | "application/*" | "*/*")
    })
}

/// The values of every header field called one of `names` (lower case).
fn values<'a>(req: &'a Request, names: &'a [&str]) -> impl Iterator<Item = &'a str> + 'a {
    req.headers
        .iter()
        .filter(|h: &&Header| names.iter().any(|n| h.name().eq_ignore_ascii_case(n)))
        .map(|h| h.value())
}

#[cfg(test)]
#[path = "inspect_tests.rs"]
mod tests;
