//! Known SIP scanners: tools that sweep the Internet for SIP servers and then guess
//! extensions and passwords (SIPVicious `friendly-scanner`, `sipcli`, `iWar`...). They
//! name themselves in User-Agent or in the From display name. A public number sees them
//! all day; answering only confirms that a SIP server lives here, so their requests are
//! dropped without a word and counted.
//!
//! Pure: header values in, a verdict out. A real caller is not matched by accident: the
//! names are specific to these tools and must be whole words (`sipcli/v1.8` is a
//! scanner, `MySipClient` is not), compared case-insensitively.

use super::message::{self, Header, HeadersExt, Request};

/// Names these tools put in User-Agent or From (lower case).
const SCANNERS: &[&str] = &[
    "friendly-scanner",
    "sipvicious",
    "sipcli",
    "sip-scan",
    "sipscan",
    "vaxsipuseragent",
    "iwar",
    "sundayddr",
    "pplsip",
    "siparmyknife",
    "smap",
];

/// Whether a User-Agent or From value names a known scanner: one of its words (split at
/// whitespace and `/ ( ) ; , " < >`) is a scanner's name, alone or followed by something
/// that is not a letter (`sipvicious0.3`, `sipcli-1`).
pub fn names_scanner(value: &str) -> bool {
    let lower = value.to_ascii_lowercase();
    lower
        .split(|c: char| c.is_whitespace() || "/();,\"<>".contains(c))
        .any(|word| {
            SCANNERS.iter().any(|name| {
                word.strip_prefix(name)
                    .is_some_and(|rest| !rest.starts_with(|c: char| c.is_ascii_alphabetic()))
            })
        })
}

/// Whether a parsed request comes from a known scanner: its User-Agent, or the display
/// name (anything before the URI) of its From.
pub fn is_scanner(req: &Request) -> bool {
    let user_agent = req.headers.iter().any(|h| match h {
        Header::UserAgent(ua) => names_scanner(ua.value()),
        _ => false,
    });
    user_agent
        || req
            .from_header()
            .is_ok_and(|from| from_display_is_scanner(from.value()))
}

/// The same verdict on raw bytes that did not parse (a scanner's malformed probe gets no
/// 400 either).
pub fn bytes_are_scanner(data: &[u8]) -> bool {
    let text = String::from_utf8_lossy(&data[..data.len().min(message::MAX_MESSAGE_BYTES)]);
    message::header_fields(&text).iter().any(|(name, value)| {
        let name = name.to_ascii_lowercase();
        match name.as_str() {
            "user-agent" => names_scanner(value),
            "from" | "f" => from_display_is_scanner(value),
            _ => false,
        }
    })
}

/// The display-name part of a From value (before `<`, or nothing for an addr-spec).
fn from_display_is_scanner(from: &str) -> bool {
    from.split_once('<')
        .is_some_and(|(display, _)| names_scanner(display))
}

#[cfg(test)]
#[path = "scanner_tests.rs"]
mod tests;
