//! SDES for SRTP in SDP (RFC 4568; RTP/SAVP, RFC 3711 §1): our secure offer and answer,
//! and the remote's key, read from a body.
//!
//! What a secured leg does with them: the key we send (`a=crypto` in our offer or answer)
//! protects the media we send to that peer; the key in the peer's description unprotects
//! what it sends us (RFC 4568 §6.1: each side announces the key it sends with).
//!
//! Invariant: only `AES_CM_128_HMAC_SHA1_80` with an inline key and no MKI is taken; any
//! other `a=crypto` line is skipped (RFC 4568 §7.1.1: the answerer picks one it supports).

use std::io::Cursor;

use sdp::SessionDescription;

use crate::media::srtp::keys::CryptoAttr;

use super::{Codec, LocalSession, SdpError, PROFILE_AVP};

/// The secure RTP profile (RFC 3711 §12).
pub const PROFILE_SAVP: &str = "RTP/SAVP";

/// What a remote description asks for its audio stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoteSecurity {
    /// Plain RTP/AVP.
    Plain,
    /// RTP/SAVP with a key we can use (the first usable `a=crypto`).
    Srtp(CryptoAttr),
    /// RTP/SAVP without any `a=crypto` we can use: answered with 488.
    Unusable,
}

/// The security of the first audio m-line with a port of `body`.
pub fn remote_security(body: &[u8]) -> Result<RemoteSecurity, SdpError> {
    super::limits::check(body)?;
    let desc =
        SessionDescription::unmarshal(&mut Cursor::new(body)).map_err(SdpError::Malformed)?;
    let Some(md) = desc
        .media_descriptions
        .iter()
        .find(|md| md.media_name.media == "audio" && md.media_name.port.value != 0)
    else {
        return Err(SdpError::NoAudio);
    };
    if md.media_name.protos.join("/") != PROFILE_SAVP {
        return Ok(RemoteSecurity::Plain);
    }
    let usable = md
        .attributes
        .iter()
        .filter(|a| a.key == "crypto")
        .find_map(|a| CryptoAttr::parse(a.value.as_deref()?).ok());
    Ok(usable.map_or(RemoteSecurity::Unusable, RemoteSecurity::Srtp))
}

/// Our offer over a secured leg: [`super::offer`] as RTP/SAVP with our key.
pub fn secure_offer(
    local: &LocalSession,
    codecs: &[Codec],
    dtmf_pt: u8,
    ours: &CryptoAttr,
) -> String {
    secure(&super::offer(local, codecs, dtmf_pt), ours)
}

/// Makes a plain description of ours (an offer, or an answer to an RTP/SAVP offer whose
/// m-line the answer printed as `RTP/SAVP` already) secure: the audio m-line's profile
/// becomes RTP/SAVP and `a=crypto` with our key follows it. Our descriptions hold one
/// live audio m-line; refused ones (port 0) are left as they are.
pub fn secure(description: &str, ours: &CryptoAttr) -> String {
    let mut out = String::with_capacity(description.len() + 80);
    for line in description.split_terminator("\r\n") {
        let live_audio = line.starts_with("m=audio ") && !line.starts_with("m=audio 0 ");
        if live_audio {
            out.push_str(&line.replacen(PROFILE_AVP, PROFILE_SAVP, 1));
            out.push_str("\r\n");
            out.push_str(&format!("a=crypto:{}\r\n", ours.to_value()));
        } else {
            out.push_str(line);
            out.push_str("\r\n");
        }
    }
    out
}

#[cfg(test)]
mod tests;
