//! SDP offer/answer for G.711 telephony, sans-IO (RFC 4566 syntax, RFC 3264 offer/answer,
//! RFC 4733 telephone-event, RFC 3551 static payload types).
//!
//! Run loop: the SIP layer hands a body to [`parse`], which describes every m-line of it
//! ([`RemoteSession`]); [`negotiate`] picks the stream, codec and direction we will use
//! ([`Negotiated`]); [`answer`] prints the RFC 3264 §6 answer, and [`offer`] prints our own
//! offer when we are the offerer (operator leg, INVITE without SDP).
//!
//! Invariants:
//! - parsing goes through the `sdp` crate; nothing in here panics on a body from the network:
//!   bad input is an [`SdpError`], whose [`SdpError::status_code`] is the SIP answer to give;
//! - an answer has exactly as many m-lines as the offer, in the same order; every stream but
//!   the one we use is refused with port 0 (RFC 3264 §6);
//! - we always send and announce 20 ms frames (`a=ptime:20`), whatever the remote prefers.

mod crypto;
mod limits;
mod parse;
mod write;

use std::net::{IpAddr, SocketAddr};

pub use crate::media::Codec;

pub use crypto::{remote_security, secure, secure_offer, RemoteSecurity, PROFILE_SAVP};
pub use limits::{MAX_ATTRIBUTES, MAX_BODY_BYTES, MAX_MEDIA};
pub use parse::{parse, parse_secure};
pub use write::{answer, offer};

/// The packetisation we send and announce (RFC 3551 §4.5: 20 ms is the G.711 default).
pub const PTIME_MS: u32 = 20;

/// The only RTP profile we speak: plain RTP over UDP, no SRTP (RFC 3551).
pub const PROFILE_AVP: &str = "RTP/AVP";

/// A media direction attribute (RFC 3264 §5.1, §6.1).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Direction {
    /// Both send and receive (the default when no attribute is given).
    SendRecv,
    /// Only send.
    SendOnly,
    /// Only receive.
    RecvOnly,
    /// Neither.
    Inactive,
}

impl Direction {
    /// The attribute name, as in `a=sendrecv`.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    /// The direction attribute, if `name` is one.
    pub fn parse(name: &str) -> Option<Direction> {
        match name {
            "sendrecv" => Some(Direction::SendRecv),
            "sendonly" => Some(Direction::SendOnly),
            "recvonly" => Some(Direction::RecvOnly),
            "inactive" => Some(Direction::Inactive),
            _ => None,
        }
    }

    /// The direction the other side takes to match this one (RFC 3264 §6.1): what one side
    /// only sends, the other only receives.
    pub fn reversed(self) -> Direction {
        match self {
            Direction::SendOnly => Direction::RecvOnly,
            Direction::RecvOnly => Direction::SendOnly,
            other => other,
        }
    }

    /// Whether the side with this direction sends media.
    pub fn sends(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }

    /// Whether the side with this direction receives media.
    pub fn receives(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::RecvOnly)
    }
}

/// One payload format listed on an audio m-line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PayloadFormat {
    /// The RTP payload type (0..=127).
    pub payload_type: u8,
    /// The codec, when it is one we support at 8000 Hz mono; `None` for anything else.
    pub codec: Option<Codec>,
}

/// The usable audio stream of one m-line: plain RTP with a known address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AudioStream {
    /// Where the remote wants its RTP (media-level `c=` over session-level). On hold with
    /// `c=0.0.0.0` (RFC 2543 style) this is the unspecified address: nothing can be sent there.
    pub addr: SocketAddr,
    /// The formats in the remote's order of preference.
    pub formats: Vec<PayloadFormat>,
    /// The payload type of `telephone-event/8000` (RFC 4733), if offered.
    pub telephone_event: Option<u8>,
    /// The remote's direction (media-level over session-level). A `c=0.0.0.0` hold is folded
    /// in: the remote cannot receive, so `sendrecv` becomes `sendonly`, `recvonly` `inactive`.
    pub direction: Direction,
    /// The remote's `a=ptime`, if given: how it prefers to receive (we still send 20 ms).
    pub ptime_ms: Option<u32>,
}

impl AudioStream {
    /// The remote does not want to receive media: a hold (RFC 3264 §8.4).
    pub fn is_hold(&self) -> bool {
        !self.direction.receives()
    }
}

/// One m-line of a remote description, as much as an answer needs to mirror it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaLine {
    /// The media type: `audio`, `video`, `image`...
    pub kind: String,
    /// The port; 0 when the remote has refused or disabled this stream.
    pub port: u16,
    /// The transport protocol, e.g. `RTP/AVP`.
    pub proto: String,
    /// The format list as written.
    pub formats: Vec<String>,
    /// The audio stream, when this is an `audio` m-line in `RTP/AVP` with a non-zero port.
    pub audio: Option<AudioStream>,
}

/// A parsed remote offer or answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteSession {
    /// `o=` session id: with the version, tells a changed description from a repeated one.
    pub session_id: u64,
    /// `o=` session version (RFC 3264 §8: incremented on every change).
    pub version: u64,
    /// Every m-line, in order.
    pub media: Vec<MediaLine>,
}

impl RemoteSession {
    /// The first usable audio stream, with its m-line index.
    pub fn audio(&self) -> Option<(usize, &AudioStream)> {
        self.audio_streams().next()
    }

    /// Every usable audio stream, with its m-line index, in order.
    pub fn audio_streams(&self) -> impl Iterator<Item = (usize, &AudioStream)> {
        self.media
            .iter()
            .enumerate()
            .filter_map(|(i, m)| m.audio.as_ref().map(|a| (i, a)))
    }
}

/// What we will use for the call's audio, chosen by [`negotiate`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Negotiated {
    /// Where to send RTP (before latching).
    pub remote: SocketAddr,
    /// The codec we send and expect.
    pub codec: Codec,
    /// The payload type for `codec` in this session: the remote's number for it.
    pub payload_type: u8,
    /// The remote's telephone-event payload type, if it offered one.
    pub telephone_event: Option<u8>,
    /// Our direction.
    pub direction: Direction,
    /// Our packetisation, always [`PTIME_MS`].
    pub ptime_ms: u32,
    /// Index of the m-line in use; every other m-line is refused in the answer.
    pub media_index: usize,
}

/// Pick the first codec of the REMOTE's order that is in `supported`, on the first usable
/// audio stream that has one; telephone-event if offered. Our direction mirrors theirs.
pub fn negotiate(remote: &RemoteSession, supported: &[Codec]) -> Result<Negotiated, SdpError> {
    let mut saw_audio = false;
    for (media_index, audio) in remote.audio_streams() {
        saw_audio = true;
        let chosen = audio.formats.iter().find_map(|f| match f.codec {
            Some(c) if supported.contains(&c) => Some((c, f.payload_type)),
            _ => None,
        });
        if let Some((codec, payload_type)) = chosen {
            return Ok(Negotiated {
                remote: audio.addr,
                codec,
                payload_type,
                telephone_event: audio.telephone_event,
                direction: audio.direction.reversed(),
                ptime_ms: PTIME_MS,
                media_index,
            });
        }
    }
    Err(if saw_audio {
        SdpError::NoCommonCodec
    } else {
        SdpError::NoAudio
    })
}

/// [`negotiate`] for an initial offer (the INVITE that starts a call): a stream on the
/// unspecified address is refused there, where RFC 3264 §8.4 makes it a hold in a
/// re-offer, since a call that starts on hold has nowhere to send its greeting.
pub fn negotiate_initial(
    remote: &RemoteSession,
    supported: &[Codec],
) -> Result<Negotiated, SdpError> {
    let negotiated = negotiate(remote, supported)?;
    if negotiated.remote.ip().is_unspecified() {
        return Err(SdpError::UnspecifiedAddress);
    }
    Ok(negotiated)
}

/// Our side of a session description.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalSession {
    /// `o=` user name, e.g. `hotline`.
    pub username: String,
    /// `o=` session id: fixed for the life of the call.
    pub session_id: u64,
    /// `o=` version: the caller increments it whenever our description changes.
    pub version: u64,
    /// The address RTP should be sent to (the public address).
    pub addr: IpAddr,
    /// Our RTP port for this call.
    pub port: u16,
}

/// Why a description was refused. [`SdpError::status_code`] maps each to the SIP response.
#[derive(thiserror::Error, Debug, PartialEq)]
pub enum SdpError {
    /// Not valid SDP syntax (RFC 4566 §5 grammar), including a body that is not UTF-8.
    #[error("malformed SDP: {0}")]
    Malformed(sdp::Error),
    /// An RTP m-line lists a format that is not a payload type number 0..=127.
    #[error("m-line {m_line}: payload format {format:?} is not an RTP payload type")]
    BadPayloadType {
        /// Index of the m-line (0 is the first).
        m_line: usize,
        /// The format as written.
        format: String,
    },
    /// An active audio m-line has no `c=` line, neither its own nor a session-level one.
    #[error("m-line {m_line}: no connection address")]
    NoConnectionAddress {
        /// Index of the m-line (0 is the first).
        m_line: usize,
    },
    /// A `c=` address that is not an IP literal of the stated family (a host name, say).
    #[error("connection address {0:?} is not a usable IP address")]
    BadConnectionAddress(String),
    /// A `c=` address media must never go to: multicast (IPv4 224.0.0.0/4, IPv6
    /// ff00::/8) or the IPv4 broadcast address. We relay one caller, not a group.
    #[error("connection address {0} is multicast or broadcast")]
    MulticastAddress(IpAddr),
    /// An initial offer whose stream has the unspecified address (0.0.0.0 or ::): there
    /// is nowhere to send the caller anything. In a re-offer the same is a hold.
    #[error("initial offer with the unspecified connection address")]
    UnspecifiedAddress,
    /// The body is larger than [`MAX_BODY_BYTES`].
    #[error("description of {size} bytes exceeds {limit}")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// More m-lines than [`MAX_MEDIA`].
    #[error("more than {limit} m-lines")]
    TooManyMedia {
        /// The limit.
        limit: usize,
    },
    /// More attributes in one section than [`MAX_ATTRIBUTES`].
    #[error("more than {limit} attributes in section {m_line:?}")]
    TooManyAttributes {
        /// The m-line index, `None` for the session section.
        m_line: Option<usize>,
        /// The limit.
        limit: usize,
    },
    /// No usable audio stream: none at all, all refused, or none in plain RTP/AVP.
    #[error("no usable audio stream offered")]
    NoAudio,
    /// Audio streams exist but none offers a codec we support.
    #[error("no common audio codec")]
    NoCommonCodec,
}

impl SdpError {
    /// The SIP status to answer an INVITE carrying such a description with: 400 for broken
    /// syntax (RFC 3261 §21.4.1), 488 for a valid description we cannot accept (§21.4.26).
    pub fn status_code(&self) -> u16 {
        match self {
            SdpError::Malformed(_)
            | SdpError::BadPayloadType { .. }
            | SdpError::NoConnectionAddress { .. } => 400,
            SdpError::BadConnectionAddress(_)
            | SdpError::MulticastAddress(_)
            | SdpError::UnspecifiedAddress
            | SdpError::TooLarge { .. }
            | SdpError::TooManyMedia { .. }
            | SdpError::TooManyAttributes { .. }
            | SdpError::NoAudio
            | SdpError::NoCommonCodec => 488,
        }
    }
}

#[cfg(test)]
mod tests;
