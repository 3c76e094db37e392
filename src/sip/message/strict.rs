//! The header syntax rsipstack lets through but RFC 3261 forbids, checked on requests
//! before they are parsed: RFC 3261 §7.3.1 and §20 (one value for single-value header
//! fields), §20.10 and §25.1 (name-addr and addr-spec: a display name is tokens or a
//! quoted string, no whitespace inside `<>`, a URI with `,` `;` `?` only inside `<>`,
//! no empty parameter), §20.42 (Via parameters), §20.17 (Date in GMT), §19.1.1 (no
//! headers in a Request-URI). RFC 4475 §3.1.2 and §3.3.8 are the cases this answers.
//!
//! A strict server refuses these with 400 rather than guessing what the sender meant:
//! a guess made here would be a different guess from the next element's.
//!
//! Invariant: pure functions over text; no input makes them panic.

use super::framing::header_fields;
use super::{split_unquoted, MessageError};

/// Header fields that may appear once (RFC 3261 §7.3.1: only comma-list fields may
/// repeat), by canonical name with their compact forms.
const SINGLE: [(&str, &[&str]); 6] = [
    ("Call-ID", &["call-id", "i"]),
    ("CSeq", &["cseq"]),
    ("From", &["from", "f"]),
    ("To", &["to", "t"]),
    ("Max-Forwards", &["max-forwards"]),
    ("Content-Type", &["content-type", "c"]),
];

/// Checks a request's header section (start line included) and its Request-URI text.
pub(crate) fn check_request(head: &str, request_uri: &str) -> Result<(), MessageError> {
    check_request_uri(request_uri)?;
    let fields = header_fields(head);
    for (canonical, names) in SINGLE {
        let count = fields
            .iter()
            .filter(|(n, _)| names.iter().any(|m| n.eq_ignore_ascii_case(m)))
            .count();
        if count > 1 {
            return Err(MessageError::DuplicateHeader(canonical));
        }
    }
    for (name, value) in &fields {
        if !controls_escaped(value) {
            return Err(MessageError::ControlCharacter(
                name.chars().take(40).collect(),
            ));
        }
        let lower = name.to_ascii_lowercase();
        match lower.as_str() {
            "from" | "f" => name_addr(value).map_err(|_| invalid("From", value))?,
            "to" | "t" => name_addr(value).map_err(|_| invalid("To", value))?,
            "contact" | "m" if value.trim() != "*" => {
                for one in split_unquoted(value, ',') {
                    name_addr(one).map_err(|_| invalid("Contact", value))?;
                }
            }
            "via" | "v" => via(value).map_err(|_| invalid("Via", value))?,
            // RFC 1123 dates as SIP uses them are always GMT (§20.17).
            "date" if !value.trim_end().ends_with("GMT") => return Err(invalid("Date", value)),
            _ => {}
        }
    }
    Ok(())
}

/// §19.1.1 Table 1: a Request-URI carries no headers (`?` after the host).
fn check_request_uri(uri: &str) -> Result<(), MessageError> {
    let lower = uri.to_ascii_lowercase();
    if !(lower.starts_with("sip:") || lower.starts_with("sips:")) {
        return Ok(());
    }
    let host_part = uri.rsplit_once('@').map_or(uri, |(_, h)| h);
    if host_part.contains('?') {
        return Err(MessageError::InvalidUri(uri.chars().take(80).collect()));
    }
    Ok(())
}

/// The syntax problem is not worth naming: the header it is in is.
struct Bad;

/// A name-addr or addr-spec with its parameters (§20.10, §25.1).
fn name_addr(value: &str) -> Result<(), Bad> {
    let value = value.trim();
    let params = match find_unquoted(value, '<') {
        Some(open) => {
            display_name(&value[..open])?;
            let close = value[open..].find('>').ok_or(Bad)? + open;
            let spec = &value[open + 1..close];
            if spec.is_empty()
                || spec.starts_with(char::is_whitespace)
                || spec.ends_with(char::is_whitespace)
            {
                return Err(Bad);
            }
            &value[close + 1..]
        }
        None => {
            // addr-spec: the URI ends at the first `;`, and may not hold `,` or `?`.
            let (uri, params) = value.split_once(';').map_or((value, ""), |(u, p)| (u, p));
            let uri = uri.trim();
            if uri.is_empty() || uri.contains([',', '?', '"', '<', '>', ' ', '\t']) {
                return Err(Bad);
            }
            return parameters(params, true);
        }
    };
    parameters(params, false)
}

/// Parameters after a URI or a `>`: `;name[=value]` each, none empty.
fn parameters(text: &str, leading_split: bool) -> Result<(), Bad> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(());
    }
    let rest = if leading_split {
        text
    } else {
        text.strip_prefix(';').ok_or(Bad)?
    };
    if split_unquoted(rest, ';')
        .iter()
        .any(|p| p.trim().is_empty())
    {
        return Err(Bad);
    }
    Ok(())
}

/// A display name: nothing, a complete quoted string, or tokens separated by LWS.
fn display_name(text: &str) -> Result<(), Bad> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(());
    }
    if let Some(quoted) = text.strip_prefix('"') {
        let mut escaped = false;
        for (i, c) in quoted.char_indices() {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => {
                    return if quoted[i + 1..].trim().is_empty() {
                        Ok(())
                    } else {
                        Err(Bad)
                    }
                }
                _ => {}
            }
        }
        return Err(Bad);
    }
    let token = |c: char| c.is_ascii_alphanumeric() || "-.!%*_+`'~".contains(c);
    if text.split_whitespace().all(|word| word.chars().all(token)) {
        Ok(())
    } else {
        Err(Bad)
    }
}

/// Each Via value (`,`-separated) is a sent-protocol and sent-by, then parameters
/// none of which is empty (§20.42).
fn via(value: &str) -> Result<(), Bad> {
    for one in split_unquoted(value, ',') {
        let (sent, params) = one
            .split_once(';')
            .map_or((one, None), |(s, p)| (s, Some(p)));
        if sent.trim().is_empty() {
            return Err(Bad);
        }
        if let Some(params) = params {
            if split_unquoted(params, ';')
                .iter()
                .any(|p| p.trim().is_empty())
            {
                return Err(Bad);
            }
        }
    }
    Ok(())
}

/// Whether every control character (NUL, BEL, DEL... but not HTAB) of a header value is
/// a quoted-pair inside a quoted string, the only place §25.1 allows one.
fn controls_escaped(value: &str) -> bool {
    let (mut quoted, mut escaped) = (false, false);
    for c in value.chars() {
        let control = (c.is_ascii_control() && c != '\t') || c == '\u{7f}';
        match c {
            _ if escaped => escaped = false,
            _ if control => return false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            _ => {}
        }
    }
    true
}

/// The byte index of the first `c` outside a quoted string.
fn find_unquoted(text: &str, c: char) -> Option<usize> {
    let (mut quoted, mut escaped) = (false, false);
    for (i, ch) in text.char_indices() {
        match ch {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            _ if ch == c && !quoted => return Some(i),
            _ => {}
        }
    }
    None
}

fn invalid(header: &'static str, value: &str) -> MessageError {
    MessageError::InvalidHeader {
        header,
        value: value.chars().take(120).collect(),
    }
}

#[cfg(test)]
#[path = "strict_tests.rs"]
mod tests;
