//! URIs and name-addr header values: RFC 3261 §19.1 (SIP URIs), §20.10 and §25.1
//! (name-addr / addr-spec with header parameters), RFC 3966 (tel: URIs and visual
//! separators).
//!
//! We parse with rsipstack's URI parser but correct two of its habits that would hurt us:
//! it keeps the user part percent-encoded on parse yet encodes it again on print
//! (`sip:%2B7@h` would go back out as `sip:%252B7@h`), and it reads a `;` inside the user
//! part (`sip:+7811;npdi@host`, allowed by the `user-unreserved` rule) as the start of the
//! URI parameters. Invariant: every [`Uri`] returned from this module holds a *decoded*
//! user part, so printing it re-encodes it exactly once.

use std::fmt;

use rsipstack::sip::{Auth, Scheme, Uri};

use super::MessageError;

/// Characters RFC 3966 §5.1.1 calls visual separators: not part of the number.
const VISUAL_SEPARATORS: &[char] = &['-', '.', '(', ')'];

/// Parses a URI (`sip:`, `sips:`, `tel:` or another absolute URI), decoding the user part.
pub fn parse_uri(text: &str) -> Result<Uri, MessageError> {
    let text = text.trim();
    let invalid = || MessageError::InvalidUri(text.chars().take(80).collect());
    if text.is_empty() || text.chars().any(|c| c.is_control() || c == ' ' || c == '<') {
        return Err(invalid());
    }
    let (scheme, rest) = text.split_once(':').ok_or_else(invalid)?;
    if scheme.is_empty()
        || !scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    {
        return Err(invalid());
    }
    let is_sip = scheme.eq_ignore_ascii_case("sip") || scheme.eq_ignore_ascii_case("sips");
    let before_headers = rest.split('?').next().unwrap_or(rest);
    if let (true, Some(at)) = (is_sip, before_headers.rfind('@')) {
        let (userinfo, hostport) = (&rest[..at], &rest[at + 1..]);
        let mut uri =
            rsipstack::sip::parse_uri(&format!("{scheme}:{hostport}")).map_err(|_| invalid())?;
        let (user, password) = match userinfo.split_once(':') {
            Some((user, password)) => (user, Some(password)),
            None => (userinfo, None),
        };
        if user.is_empty() {
            return Err(invalid());
        }
        let password = match password {
            Some(p) => Some(percent_decode(p).ok_or_else(invalid)?),
            None => None,
        };
        uri.auth = Some(Auth {
            user: percent_decode(user).ok_or_else(invalid)?,
            password,
        });
        return Ok(uri);
    }
    rsipstack::sip::parse_uri(text).map_err(|_| invalid())
}

/// Decodes `%XX` escapes; `None` on a broken escape or non-UTF-8 result.
fn percent_decode(text: &str) -> Option<String> {
    if !text.contains('%') {
        return Some(text.to_string());
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The telephone number (or plain user name) a URI addresses: the user part of a
/// `sip:`/`sips:` URI without its user parameters, or the subscriber of a `tel:` URI.
/// Visual separators are removed from numbers (`+7-811-279` → `+7811279`); user names
/// that are not numbers (`alice.smith`) are returned unchanged. `None` when the URI has no
/// user or is of another scheme.
pub fn uri_number(uri: &Uri) -> Option<String> {
    let raw = match &uri.scheme {
        Some(Scheme::Sip) | Some(Scheme::Sips) => uri.auth.as_ref()?.user.as_str(),
        Some(Scheme::Other(s)) if s.eq_ignore_ascii_case("tel") => match &uri.host_with_port.host {
            rsipstack::sip::Host::Domain(d) => d.0.as_str(),
            rsipstack::sip::Host::IpAddr(_) => return None,
        },
        _ => return None,
    };
    // RFC 3966 telephone-subscriber parameters (`;npdi`, `;rn=`) follow the number.
    let number = raw.split(';').next().unwrap_or("").trim();
    if number.is_empty() {
        return None;
    }
    let looks_like_number = number
        .chars()
        .all(|c| c.is_ascii_digit() || "+*#".contains(c) || VISUAL_SEPARATORS.contains(&c))
        && number.chars().any(|c| c.is_ascii_digit());
    if looks_like_number {
        Some(
            number
                .chars()
                .filter(|c| !VISUAL_SEPARATORS.contains(c))
                .collect(),
        )
    } else {
        Some(number.to_string())
    }
}

/// A From/To/Contact/Route-style value: optional display name, URI, header parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameAddr {
    /// The display name without quotes; `None` when absent or empty.
    pub display_name: Option<String>,
    /// The URI, user part decoded.
    pub uri: Uri,
    /// Header parameters after the URI, in order (`tag`, `expires`, `lr` outside `<>`...).
    pub params: Vec<(String, Option<String>)>,
}

impl NameAddr {
    /// Parses `"Name" <uri>;p=v`, `Name <uri>` or the bare addr-spec form `uri;p=v`
    /// (where, per RFC 3261 §20.10, everything after the first `;` is a header parameter).
    pub fn parse(value: &str) -> Result<NameAddr, MessageError> {
        let value = value.trim();
        let parts = NameAddrParts::split(value)?;
        let display_name = parts.display.map(|display| {
            match display.strip_prefix('"').and_then(|d| d.strip_suffix('"')) {
                Some(quoted) => unescape_quoted(quoted),
                None => display.to_string(),
            }
        });
        let params = parts
            .params
            .iter()
            .map(|p| match p.split_once('=') {
                Some((name, v)) => (name.trim().to_string(), Some(v.trim().to_string())),
                None => (p.to_string(), None),
            })
            .collect();
        Ok(NameAddr {
            display_name: display_name.filter(|d| !d.is_empty()),
            uri: parts.uri,
            params,
        })
    }

    /// The value of a header parameter (case-insensitive name); `Some("")` for a flag.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_deref().unwrap_or(""))
    }

    /// The `tag` parameter (RFC 3261 §19.3), if present and non-empty.
    pub fn tag(&self) -> Option<&str> {
        self.param("tag").filter(|t| !t.is_empty())
    }
}

/// The text of a quoted-string body: each quoted-pair (`\` and any character, RFC 3261
/// §25.1) stands for that character.
fn unescape_quoted(quoted: &str) -> String {
    let mut out = String::with_capacity(quoted.len());
    let mut chars = quoted.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.extend(chars.next()),
            c => out.push(c),
        }
    }
    out
}

/// A name-addr value cut where RFC 3261 §20.10 cuts it, each part as written.
struct NameAddrParts<'a> {
    /// Text before `<`, trimmed, quotes kept; `None` when empty or in addr-spec form.
    display: Option<&'a str>,
    /// Everything up to and including `>`; `None` in addr-spec form.
    bracketed: Option<&'a str>,
    /// The URI text, without `<>`.
    uri_text: &'a str,
    /// The URI, parsed (user part decoded).
    uri: Uri,
    /// Header parameters, each `name` or `name=value` as written, trimmed.
    params: Vec<&'a str>,
}

impl<'a> NameAddrParts<'a> {
    fn split(value: &'a str) -> Result<NameAddrParts<'a>, MessageError> {
        let value = value.trim();
        let bad = || MessageError::InvalidNameAddr(value.chars().take(80).collect());
        let (display, bracketed, uri_text, params_text) = match find_unquoted(value, '<') {
            Some(lt) => {
                let gt = value[lt..].find('>').map(|i| lt + i).ok_or_else(bad)?;
                let display = value[..lt].trim();
                (
                    (!display.is_empty()).then_some(display),
                    Some(&value[..=gt]),
                    &value[lt + 1..gt],
                    &value[gt + 1..],
                )
            }
            None => match value.find(';') {
                Some(semi) => (None, None, &value[..semi], &value[semi..]),
                None => (None, None, value, ""),
            },
        };
        let uri = parse_uri(uri_text).map_err(|_| bad())?;
        let params_text = params_text.trim();
        if !params_text.is_empty() && !params_text.starts_with(';') {
            return Err(bad());
        }
        let params = split_unquoted(params_text, ';')
            .into_iter()
            .filter(|p| !p.is_empty())
            .collect();
        Ok(NameAddrParts {
            display,
            bracketed,
            uri_text: uri_text.trim(),
            uri,
            params,
        })
    }
}

/// A name-addr kept as its sender spelled it: display name and `<URI>` byte for byte,
/// header parameters as written. Printing a parsed [`NameAddr`] re-spells it
/// (`transport=udp` becomes `transport=UDP`), and some softphones find their own
/// registration in a REGISTER's 200 by comparing Contacts as text (RFC 3261 §10.3 step 8
/// asks us to list them back).
///
/// Invariant: the text parsed as a [`NameAddr`], so it holds a valid URI and no CR or LF.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpelledNameAddr {
    /// Display name and `<URI>` as written (an addr-spec gets the brackets it lacked,
    /// which changes nothing of the URI text).
    head: String,
    /// Header parameters, `name` or `name=value`, as written.
    params: Vec<String>,
}

impl SpelledNameAddr {
    /// Keeps the spelling of a name-addr value that [`NameAddr::parse`] accepts.
    pub fn parse(value: &str) -> Result<SpelledNameAddr, MessageError> {
        let parts = NameAddrParts::split(value)?;
        let head = match parts.bracketed {
            Some(bracketed) => bracketed.to_string(),
            None => format!("<{}>", parts.uri_text),
        };
        Ok(SpelledNameAddr {
            head,
            params: parts.params.into_iter().map(str::to_string).collect(),
        })
    }

    /// The same value without the header parameters called `name` (case-insensitive).
    pub fn without_param(mut self, name: &str) -> SpelledNameAddr {
        self.params.retain(|p| {
            let param_name = p.split('=').next().unwrap_or("").trim();
            !param_name.eq_ignore_ascii_case(name)
        });
        self
    }
}

impl fmt::Display for SpelledNameAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.head)?;
        for param in &self.params {
            write!(f, ";{param}")?;
        }
        Ok(())
    }
}

/// Splits a header value at `sep` outside quoted strings and `<...>`, trimming each part.
/// Used for comma-separated header lists and `;` parameter lists alike.
pub fn split_unquoted(value: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut in_quotes, mut escaped, mut angle) = (0, false, false, false);
    for (i, c) in value.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' if in_quotes => escaped = true,
            '"' => in_quotes = !in_quotes,
            '<' if !in_quotes => angle = true,
            '>' if !in_quotes => angle = false,
            c if c == sep && !in_quotes && !angle => {
                parts.push(value[start..i].trim());
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(value[start..].trim());
    parts
}

/// Position of `needle` outside a quoted display name.
fn find_unquoted(value: &str, needle: char) -> Option<usize> {
    let (mut in_quotes, mut escaped) = (false, false);
    for (i, c) in value.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' if in_quotes => escaped = true,
            '"' => in_quotes = !in_quotes,
            c if c == needle && !in_quotes => return Some(i),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_encoded_user_is_decoded_and_printed_once() {
        let uri = parse_uri("sip:%2B78112792112@trunk.example").unwrap();
        assert_eq!(uri.user(), Some("+78112792112"));
        assert_eq!(uri.to_string(), "sip:+78112792112@trunk.example");
        let uri = parse_uri("sip:a%20b@h").unwrap();
        assert_eq!(uri.to_string(), "sip:a%20b@h");
    }

    #[test]
    fn semicolon_in_user_part_stays_in_the_user() {
        let uri = parse_uri("sip:+78112792112;npdi@10.0.0.1:5060;user=phone").unwrap();
        assert_eq!(uri.user(), Some("+78112792112;npdi"));
        assert_eq!(uri.host_with_port.to_string(), "10.0.0.1:5060");
        assert_eq!(uri_number(&uri).as_deref(), Some("+78112792112"));
    }

    #[test]
    fn tel_uri_number_drops_separators_and_params() {
        let uri = parse_uri("tel:+7-811-279-21-12;phone-context=+7811").unwrap();
        assert_eq!(uri_number(&uri).as_deref(), Some("+78112792112"));
        let uri = parse_uri("TEL:792112").unwrap();
        assert_eq!(uri_number(&uri).as_deref(), Some("792112"));
    }

    #[test]
    fn user_names_keep_their_dots() {
        let uri = parse_uri("sips:alice.smith@example.org").unwrap();
        assert_eq!(uri_number(&uri).as_deref(), Some("alice.smith"));
        assert_eq!(uri_number(&parse_uri("sip:example.org").unwrap()), None);
        assert_eq!(uri_number(&parse_uri("mailto:a@b").unwrap()), None);
    }

    #[test]
    fn broken_uris_are_errors() {
        for bad in [
            "",
            "sip:",
            "sip:@h",
            "sip:%zz@h",
            "sip:bob@",
            "no-scheme",
            "sip:a b@h",
        ] {
            assert!(parse_uri(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn name_addr_forms() {
        let na = NameAddr::parse(r#""Smith, \"J\" <x>" <sip:j@h;transport=tcp>;tag=ab;x"#).unwrap();
        assert_eq!(na.display_name.as_deref(), Some(r#"Smith, "J" <x>"#));
        assert_eq!(na.uri.to_string(), "sip:j@h;transport=TCP");
        assert_eq!(na.tag(), Some("ab"));
        assert_eq!(na.param("X"), Some(""));

        let na = NameAddr::parse("sip:b@x;user=phone;tag=9").unwrap();
        assert_eq!(na.uri.to_string(), "sip:b@x");
        assert_eq!(na.param("user"), Some("phone"));
        assert_eq!(na.tag(), Some("9"));

        // Every quoted-pair stands for its character, a backslash too.
        let na = NameAddr::parse(r#""a \\ b \x" <sip:j@h>"#).unwrap();
        assert_eq!(na.display_name.as_deref(), Some(r#"a \ b x"#));

        let na = NameAddr::parse("Bob <tel:+100>").unwrap();
        assert_eq!(na.display_name.as_deref(), Some("Bob"));
        assert_eq!(na.tag(), None);

        assert!(NameAddr::parse("<sip:b@x").is_err());
        assert!(NameAddr::parse("<sip:b@x>junk").is_err());
    }

    #[test]
    fn spelled_name_addr_keeps_the_text() {
        let value = r#""Desk, 101" <sip:101@192.0.2.7:5081;transport=udp;ob>;Expires=60;+sip.instance="<urn:uuid:1;x>";reg-id=1"#;
        let spelled = SpelledNameAddr::parse(value).unwrap();
        assert_eq!(spelled.to_string(), value);
        assert_eq!(
            spelled.without_param("expires").to_string(),
            r#""Desk, 101" <sip:101@192.0.2.7:5081;transport=udp;ob>;+sip.instance="<urn:uuid:1;x>";reg-id=1"#
        );
        // The addr-spec form gains brackets; its URI text is untouched.
        let spelled = SpelledNameAddr::parse(" sip:%2b101@h;expires=5 ").unwrap();
        assert_eq!(spelled.to_string(), "<sip:%2b101@h>;expires=5");
        assert!(SpelledNameAddr::parse("<sip:b@x>junk").is_err());
        assert!(SpelledNameAddr::parse("<sip:a b@x>").is_err());
    }

    #[test]
    fn list_split_respects_quotes_and_brackets() {
        let parts = split_unquoted(r#""a,b" <sip:x@h;lr>, <sip:y@h?a=1,2>,sip:z@h"#, ',');
        assert_eq!(
            parts,
            vec![r#""a,b" <sip:x@h;lr>"#, "<sip:y@h?a=1,2>", "sip:z@h"]
        );
    }
}
