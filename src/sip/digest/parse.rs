//! The `credentials` grammar of RFC 3261 §25.1 / RFC 7616 §3.4: `Digest` followed by a
//! comma-separated list of `name=value` pairs, each value a token or a quoted-string
//! (RFC 3261 §25.1 `quoted-pair` escapes), names case-insensitive, in any order.
//!
//! Lenient where clients differ (spaces around `=` and commas, empty list elements as
//! RFC 7230 §7 allows, `qop` quoted or not, unknown parameters ignored), strict where
//! ambiguity could be abused (a parameter given twice is an error). Never panics: the
//! scanner walks `char_indices`, so multi-byte text cannot split a character.

use super::{Algorithm, Credentials, DigestError, NonceCount};

/// Longer than any real client's credentials (usernames, URIs and 64-digit responses
/// included), short enough that parsing cost stays trivial.
const MAX_LEN: usize = 4096;

/// Parses an `Authorization` (or `Proxy-Authorization`) header value.
pub fn parse_authorization(value: &str) -> Result<Credentials, DigestError> {
    if value.len() > MAX_LEN {
        return Err(DigestError::TooLong(value.len()));
    }
    let trimmed = value.trim_start();
    let offset = value.len() - trimmed.len();
    let scheme_end = trimmed
        .find(|c: char| c.is_ascii_whitespace())
        .unwrap_or(trimmed.len());
    if !trimmed[..scheme_end].eq_ignore_ascii_case("Digest") {
        return Err(DigestError::NotDigest);
    }
    let params = scan_params(trimmed, scheme_end, offset)?;
    build(params)
}

/// One `name=value` pair: name lowercased, value unquoted and unescaped.
pub(super) type Param = (String, String);

pub(super) fn scan_params(
    text: &str,
    start: usize,
    offset: usize,
) -> Result<Vec<Param>, DigestError> {
    let mut chars = text[start..]
        .char_indices()
        .map(|(i, c)| (i + start, c))
        .peekable();
    let syntax = |at: usize| DigestError::Syntax(at + offset);
    let mut params: Vec<Param> = Vec::new();
    loop {
        while chars
            .next_if(|&(_, c)| c == ',' || c.is_ascii_whitespace())
            .is_some()
        {}
        let Some(&(name_start, _)) = chars.peek() else {
            break;
        };
        let mut name = String::new();
        while let Some((_, c)) = chars.next_if(|&(_, c)| is_token_char(c)) {
            name.push(c.to_ascii_lowercase());
        }
        if name.is_empty() {
            return Err(syntax(name_start));
        }
        while chars.next_if(|&(_, c)| c.is_ascii_whitespace()).is_some() {}
        match chars.next() {
            Some((_, '=')) => {}
            Some((at, _)) => return Err(syntax(at)),
            None => return Err(syntax(text.len())),
        }
        while chars.next_if(|&(_, c)| c.is_ascii_whitespace()).is_some() {}
        let mut value = String::new();
        match chars.next_if(|&(_, c)| c == '"') {
            Some(_) => loop {
                match chars.next() {
                    Some((_, '"')) => break,
                    Some((_, '\\')) => match chars.next() {
                        Some((_, c)) => value.push(c),
                        None => return Err(syntax(text.len())),
                    },
                    Some((_, c)) => value.push(c),
                    None => return Err(syntax(text.len())),
                }
            },
            None => {
                while let Some((_, c)) =
                    chars.next_if(|&(_, c)| c != ',' && c != '"' && !c.is_ascii_whitespace())
                {
                    value.push(c);
                }
                if value.is_empty() {
                    return Err(syntax(chars.peek().map_or(text.len(), |&(at, _)| at)));
                }
            }
        }
        while chars.next_if(|&(_, c)| c.is_ascii_whitespace()).is_some() {}
        match chars.peek() {
            None | Some((_, ',')) => {}
            Some(&(at, _)) => return Err(syntax(at)),
        }
        if params.iter().any(|(n, _)| *n == name) {
            return Err(DigestError::DuplicateParameter(name));
        }
        params.push((name, value));
    }
    Ok(params)
}

/// RFC 3261 §25.1 `token` characters.
fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-.!%*_+`'~".contains(c)
}

fn build(params: Vec<Param>) -> Result<Credentials, DigestError> {
    let get = |name: &str| {
        params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let required = |name: &'static str| get(name).ok_or(DigestError::MissingParameter(name));
    let username = required("username")?.to_string();
    let realm = required("realm")?.to_string();
    let nonce = required("nonce")?.to_string();
    let uri = required("uri")?.to_string();
    if get("userhash").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
        return Err(DigestError::UserhashUnsupported);
    }
    let algorithm = match get("algorithm") {
        None => Algorithm::Md5,
        Some(token) => Algorithm::from_token(token)
            .ok_or_else(|| DigestError::UnsupportedAlgorithm(token.chars().take(40).collect()))?,
    };
    let response = required("response")?;
    if response.len() != algorithm.hex_len() || !response.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(DigestError::InvalidParameter { name: "response" });
    }
    let (qop, nc, cnonce) = match get("qop") {
        None => (None, None, None),
        Some(qop) if qop.eq_ignore_ascii_case("auth") => {
            let nc = parse_nc(required("nc")?)?;
            let cnonce = required("cnonce")?;
            if cnonce.is_empty() {
                return Err(DigestError::InvalidParameter { name: "cnonce" });
            }
            (Some(qop.to_string()), Some(nc), Some(cnonce.to_string()))
        }
        Some(other) => {
            return Err(DigestError::UnsupportedQop(
                other.chars().take(40).collect(),
            ))
        }
    };
    Ok(Credentials {
        username,
        realm,
        nonce,
        uri,
        response: response.to_ascii_lowercase(),
        algorithm,
        cnonce,
        opaque: get("opaque").map(str::to_string),
        qop,
        nc,
    })
}

/// `nc-value = 8LHEX` (RFC 7616 §3.4): always hexadecimal, so `0000000a` is ten.
fn parse_nc(text: &str) -> Result<NonceCount, DigestError> {
    let invalid = DigestError::InvalidParameter { name: "nc" };
    if text.len() != 8 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(invalid);
    }
    let value = u32::from_str_radix(text, 16).map_err(|_| invalid)?;
    Ok(NonceCount {
        value,
        text: text.to_string(),
    })
}
