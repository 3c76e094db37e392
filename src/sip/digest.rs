//! HTTP Digest authentication as SIP uses it: RFC 3261 §22.4 on top of RFC 7616 (with
//! RFC 8760 for SHA-256 in SIP) and RFC 2617/2069 compatibility.
//!
//! - [`parse_authorization`]: an `Authorization` / `Proxy-Authorization` value into
//!   [`Credentials`] (quoted strings with escapes, tokens, any order, case-insensitive
//!   names);
//! - [`ha1`], [`expected_response`], [`verify`]: the arithmetic of RFC 7616 §3.4.1;
//! - [`challenge`]: a `WWW-Authenticate` value; servers offer SHA-256 first and MD5
//!   second, one header each (RFC 8760 §2.4, RFC 7616 §3.7);
//! - [`NonceManager`]: stateless, MAC-protected nonces with a lifetime and per-nonce
//!   nonce-count replay tracking in bounded memory.
//!
//! Only `qop=auth` and the RFC 2069 form without `qop` are accepted. The latter exists
//! for old clients; it has no nonce count, so such a response can be replayed for as long
//! as its nonce lives (the nonce lifetime bounds the window).
//!
//! `HA2` is computed over the `uri` parameter of the credentials, not over the
//! Request-URI: clients disagree on what to put there (SIPp writes `sip:<server>:<port>`,
//! others the Request-URI), and the response only proves knowledge of the password for
//! the nonce we issued either way.
//!
//! Invariants: nothing here panics on input; every comparison of a secret-derived value
//! is constant-time; no clock is read (time comes in as `Instant`s).

use md5::Md5;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq;

mod client;
mod nonce;
mod parse;

#[cfg(test)]
mod tests;

pub use client::{parse_challenge, pick_challenge, AuthHeader, Challenge, ClientAuth};
pub use nonce::{NonceError, NonceManager};
pub use parse::parse_authorization;

/// The digest algorithms we verify. `-sess` variants are not offered and not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// `MD5`: the RFC 2617 default, and what an absent `algorithm` parameter means.
    Md5,
    /// `SHA-256` (RFC 7616 §3.2, RFC 8760).
    Sha256,
}

impl Algorithm {
    /// The token used in the `algorithm` parameter.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Sha256 => "SHA-256",
        }
    }

    /// The algorithm a token names (case-insensitive), if we support it.
    pub fn from_token(token: &str) -> Option<Algorithm> {
        if token.eq_ignore_ascii_case("MD5") {
            Some(Algorithm::Md5)
        } else if token.eq_ignore_ascii_case("SHA-256") {
            Some(Algorithm::Sha256)
        } else {
            None
        }
    }

    /// The number of lowercase hex digits a hash of this algorithm prints as.
    pub fn hex_len(self) -> usize {
        match self {
            Algorithm::Md5 => 32,
            Algorithm::Sha256 => 64,
        }
    }

    /// `H(data)` as lowercase hex (RFC 7616 §3.4).
    pub fn hash_hex(self, data: &[u8]) -> String {
        match self {
            Algorithm::Md5 => hex::encode(Md5::digest(data)),
            Algorithm::Sha256 => hex::encode(Sha256::digest(data)),
        }
    }
}

/// Why an `Authorization` value was not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestError {
    /// The value is longer than any honest client sends.
    #[error("credentials are {0} bytes long")]
    TooLong(usize),
    /// The scheme is not `Digest` (e.g. `Basic`, or nothing at all).
    #[error("authentication scheme is not Digest")]
    NotDigest,
    /// The parameter list does not follow the auth-param grammar.
    #[error("malformed credentials near byte {0}")]
    Syntax(usize),
    /// A parameter appears twice, so its meaning is ambiguous.
    #[error("parameter {0} appears more than once")]
    DuplicateParameter(String),
    /// A parameter that every response must carry is absent.
    #[error("missing parameter {0}")]
    MissingParameter(&'static str),
    /// A parameter is present but its value is not acceptable.
    #[error("invalid {name} parameter")]
    InvalidParameter {
        /// The parameter's name.
        name: &'static str,
    },
    /// `algorithm` names something we do not verify (`MD5-sess`, `SHA-512-256`...).
    #[error("unsupported algorithm {0:?}")]
    UnsupportedAlgorithm(String),
    /// `qop` is not `auth` (e.g. `auth-int`, which we never offer).
    #[error("unsupported qop {0:?}")]
    UnsupportedQop(String),
    /// `userhash=true` (RFC 7616 §3.4.4), which we never offer.
    #[error("hashed user names are not supported")]
    UserhashUnsupported,
}

/// The nonce count of a `qop=auth` response: its value and the digits exactly as the
/// client sent them (they enter the hash verbatim).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NonceCount {
    /// The count, read as hexadecimal (`0000000a` is 10).
    pub value: u32,
    /// The eight hex digits as received.
    pub text: String,
}

/// A parsed Digest `Authorization` value (RFC 7616 §3.4, RFC 3261 §25.1 `credentials`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// `username`, unescaped.
    pub username: String,
    /// `realm`, unescaped.
    pub realm: String,
    /// `nonce` as we issued it (if the client is honest).
    pub nonce: String,
    /// `uri`: the digest-uri the client hashed into HA2.
    pub uri: String,
    /// `response`, lowercased hex of the algorithm's length.
    pub response: String,
    /// `algorithm`; MD5 when absent.
    pub algorithm: Algorithm,
    /// `cnonce`; present exactly when `qop` is.
    pub cnonce: Option<String>,
    /// `opaque`, echoed from the challenge.
    pub opaque: Option<String>,
    /// `qop` as the client wrote it (always `auth` in some letter case); `None` for the
    /// RFC 2069 form.
    pub qop: Option<String>,
    /// `nc`; present exactly when `qop` is.
    pub nc: Option<NonceCount>,
}

/// `HA1 = H(username ":" realm ":" password)` (RFC 7616 §3.4.2), lowercase hex. This is
/// also what an operator's `ha1` configuration key holds.
pub fn ha1(algorithm: Algorithm, username: &str, realm: &str, password: &str) -> String {
    algorithm.hash_hex(format!("{username}:{realm}:{password}").as_bytes())
}

/// The `response` a client knowing `ha1_hex` must send for `method` (RFC 7616 §3.4.1;
/// RFC 2069 §2.1.2 when the credentials carry no `qop`).
pub fn expected_response(ha1_hex: &str, method: &str, creds: &Credentials) -> String {
    let alg = creds.algorithm;
    let ha2 = alg.hash_hex(format!("{method}:{}", creds.uri).as_bytes());
    let ha1_hex = ha1_hex.to_ascii_lowercase();
    let data = match (&creds.qop, &creds.nc, &creds.cnonce) {
        (Some(qop), Some(nc), Some(cnonce)) => {
            format!("{ha1_hex}:{}:{}:{cnonce}:{qop}:{ha2}", creds.nonce, nc.text)
        }
        _ => format!("{ha1_hex}:{}:{ha2}", creds.nonce),
    };
    alg.hash_hex(data.as_bytes())
}

/// Whether `creds.response` is right for `method` and the stored `ha1_hex`, compared in
/// constant time. `ha1_hex` must be an HA1 of `creds.algorithm`.
pub fn verify(ha1_hex: &str, method: &str, creds: &Credentials) -> bool {
    let expected = expected_response(ha1_hex, method, creds);
    expected.as_bytes().ct_eq(creds.response.as_bytes()).into()
}

/// A `WWW-Authenticate` value (RFC 7616 §3.3, RFC 3261 §25.1 `challenge`). `stale=true`
/// tells the client its password was right and only the nonce was old, so it retries
/// without asking the user (RFC 7616 §3.3).
pub fn challenge(
    realm: &str,
    nonce: &str,
    opaque: &str,
    algorithm: Algorithm,
    stale: bool,
) -> String {
    let mut value = format!(
        "Digest realm={}, nonce={}, opaque={}, algorithm={}, qop=\"auth\"",
        quote(realm),
        quote(nonce),
        quote(opaque),
        algorithm.as_str()
    );
    if stale {
        value.push_str(", stale=true");
    }
    value
}

/// A quoted-string with `"` and `\` escaped and control characters dropped, so nothing
/// can end the header line or the string early.
fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars().filter(|c| !c.is_control()) {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}
