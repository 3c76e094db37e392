//! Bounds on a remote description, checked on the raw body before the `sdp` crate reads
//! it: a G.711 telephone call needs one audio m-line and a handful of attributes, so a
//! body far beyond that is refused cheaply (488, RFC 3261 §21.4.26: a description we
//! will not take, not a broken one) instead of being parsed, stored and answered line
//! by line (an answer mirrors every m-line, RFC 3264 §6).
//!
//! Invariant: one pass over the bytes, no allocation, no panic.

use super::SdpError;

/// Largest body we read. A trunk's offer is a few hundred bytes.
pub const MAX_BODY_BYTES: usize = 8 * 1024;

/// Most m-lines an offer may have (audio plus the video, text or image streams some
/// endpoints add, each of which we refuse with port 0).
pub const MAX_MEDIA: usize = 8;

/// Most attributes at session level or in one media section.
pub const MAX_ATTRIBUTES: usize = 64;

/// Refuses a body that is too large, has too many m-lines, or too many attributes in
/// one section (the session section is reported as `m_line: None`).
pub fn check(body: &[u8]) -> Result<(), SdpError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(SdpError::TooLarge {
            size: body.len(),
            limit: MAX_BODY_BYTES,
        });
    }
    let (mut media, mut attributes) = (0usize, 0usize);
    // Counted generously: a line ends at CR or LF and blanks before its type are skipped,
    // so every line the parser might read as an m- or a-line is counted (it trims a CR
    // left at a line's start, so "\n\rm=" is an m-line to it).
    for line in body.split(|&b| b == b'\n' || b == b'\r') {
        let line = line.trim_ascii_start();
        if line.starts_with(b"m=") {
            media += 1;
            attributes = 0;
            if media > MAX_MEDIA {
                return Err(SdpError::TooManyMedia { limit: MAX_MEDIA });
            }
        } else if line.starts_with(b"a=") {
            attributes += 1;
            if attributes > MAX_ATTRIBUTES {
                return Err(SdpError::TooManyAttributes {
                    m_line: media.checked_sub(1),
                    limit: MAX_ATTRIBUTES,
                });
            }
        }
    }
    Ok(())
}
