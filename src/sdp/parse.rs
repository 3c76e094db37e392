//! Reading a remote description (RFC 4566 §5) into a [`RemoteSession`].
//!
//! The `sdp` crate does the line grammar; this file interprets what telephony needs:
//! connection addresses (media-level over session-level, §5.7), static payload types
//! (RFC 3551 Table 4) and `a=rtpmap` (§6), `telephone-event` (RFC 4733 §7.1.1), direction
//! attributes (RFC 3264 §5.1, media-level over session-level) and `a=ptime`.
//!
//! Invariant: no input makes this panic; anything unusable is an [`SdpError`] or, for a
//! stream we simply cannot use (SRTP, a refused stream), an m-line without `audio`.

use std::io::Cursor;
use std::net::{IpAddr, SocketAddr};

use sdp::description::common::{Attribute, ConnectionInformation};
use sdp::description::media::MediaDescription;
use sdp::SessionDescription;

use super::{
    AudioStream, Codec, Direction, MediaLine, PayloadFormat, RemoteSession, SdpError, PROFILE_AVP,
};

/// The clock rate of G.711 and of the telephone-event we accept.
const NARROWBAND_HZ: u32 = 8000;

/// Parses an SDP body (an offer or an answer).
pub fn parse(body: &[u8]) -> Result<RemoteSession, SdpError> {
    parse_with(body, false)
}

/// [`parse`] that also takes RTP/SAVP audio streams as usable: for the answer to our own
/// secure offer, whose keys [`super::remote_security`] reads.
pub fn parse_secure(body: &[u8]) -> Result<RemoteSession, SdpError> {
    parse_with(body, true)
}

fn parse_with(body: &[u8], savp: bool) -> Result<RemoteSession, SdpError> {
    super::limits::check(body)?;
    let desc =
        SessionDescription::unmarshal(&mut Cursor::new(body)).map_err(SdpError::Malformed)?;

    let session_addr = match &desc.connection_information {
        Some(c) => Some(connection_ip(c)?),
        None => None,
    };
    let session_direction = direction_of(&desc.attributes);
    let session_ptime = ptime_of(&desc.attributes);

    let mut media = Vec::with_capacity(desc.media_descriptions.len());
    for (m_line, md) in desc.media_descriptions.iter().enumerate() {
        let name = &md.media_name;
        // The crate only accepts ports that fit u16; a failed conversion would be a bug there.
        let port = u16::try_from(name.port.value).unwrap_or(0);
        let proto = name.protos.join("/");
        let profile_ok = proto == PROFILE_AVP || (savp && proto == super::PROFILE_SAVP);
        let audio = if name.media == "audio" && profile_ok && port != 0 {
            let ip = match &md.connection_information {
                Some(c) => connection_ip(c)?,
                None => session_addr.ok_or(SdpError::NoConnectionAddress { m_line })?,
            };
            let direction = direction_of(&md.attributes)
                .or(session_direction)
                .unwrap_or(Direction::SendRecv);
            Some(AudioStream {
                addr: SocketAddr::new(ip, port),
                formats: formats_of(m_line, md)?,
                telephone_event: telephone_event_of(md),
                direction: fold_hold_address(ip, direction),
                ptime_ms: ptime_of(&md.attributes).or(session_ptime),
            })
        } else {
            None
        };
        media.push(MediaLine {
            kind: name.media.clone(),
            port,
            proto,
            formats: name.formats.clone(),
            audio,
        });
    }

    Ok(RemoteSession {
        session_id: desc.origin.session_id,
        version: desc.origin.session_version,
        media,
    })
}

/// The IP of a `c=` line. A host name or a literal of the wrong family is refused, since
/// we do not resolve names here; so is a multicast or broadcast address (RFC 4566 §5.7
/// multicast with its `/ttl`), where media sent would reach a group, not the caller.
fn connection_ip(c: &ConnectionInformation) -> Result<IpAddr, SdpError> {
    let written = c.address.as_ref().map(|a| a.address.as_str()).unwrap_or("");
    let literal = written.split('/').next().unwrap_or("");
    let ip: IpAddr = literal
        .parse()
        .map_err(|_| SdpError::BadConnectionAddress(written.to_owned()))?;
    let family_ok = match ip {
        IpAddr::V4(_) => c.address_type == "IP4",
        IpAddr::V6(_) => c.address_type == "IP6",
    };
    if !family_ok {
        return Err(SdpError::BadConnectionAddress(written.to_owned()));
    }
    let broadcast = matches!(ip, IpAddr::V4(v4) if v4.is_broadcast());
    if ip.is_multicast() || broadcast {
        return Err(SdpError::MulticastAddress(ip));
    }
    Ok(ip)
}

/// RFC 2543 put a call on hold with `c=0.0.0.0`; RFC 3264 §8.4 asks us to understand it.
/// Nothing can be sent to such an address, so the remote is treated as not receiving.
fn fold_hold_address(ip: IpAddr, direction: Direction) -> Direction {
    if !ip.is_unspecified() {
        return direction;
    }
    match direction {
        Direction::SendRecv | Direction::SendOnly => Direction::SendOnly,
        Direction::RecvOnly | Direction::Inactive => Direction::Inactive,
    }
}

/// The last direction attribute in a list, if any (there should be at most one).
fn direction_of(attributes: &[Attribute]) -> Option<Direction> {
    attributes
        .iter()
        .rev()
        .filter(|a| a.value.is_none())
        .find_map(|a| Direction::parse(&a.key))
}

/// `a=ptime:<ms>`; values that are not a plain positive integer are ignored, as RFC 4566 §6
/// lets a receiver ignore attributes it cannot use.
fn ptime_of(attributes: &[Attribute]) -> Option<u32> {
    attributes
        .iter()
        .filter(|a| a.key == "ptime")
        .filter_map(|a| a.value.as_deref()?.trim().parse::<u32>().ok())
        .find(|&ms| ms > 0)
}

/// An `a=rtpmap:<pt> <name>/<rate>[/<channels>]` value, split up.
struct RtpMap<'a> {
    payload_type: u8,
    name: &'a str,
    clock_rate: Option<u32>,
    channels: Option<&'a str>,
}

fn rtpmaps(md: &MediaDescription) -> impl Iterator<Item = RtpMap<'_>> {
    md.attributes
        .iter()
        .filter(|a| a.key == "rtpmap")
        .filter_map(|a| {
            let value = a.value.as_deref()?;
            let (pt, encoding) = value.trim().split_once(char::is_whitespace)?;
            let mut parts = encoding.trim().split('/');
            Some(RtpMap {
                payload_type: pt.parse().ok()?,
                name: parts.next()?,
                clock_rate: parts.next().and_then(|r| r.parse().ok()),
                channels: parts.next(),
            })
        })
}

/// The formats of an RTP m-line, each with its codec if we support it. An rtpmap wins over
/// the static table; G.711 is accepted only at 8000 Hz mono.
fn formats_of(m_line: usize, md: &MediaDescription) -> Result<Vec<PayloadFormat>, SdpError> {
    md.media_name
        .formats
        .iter()
        .map(|f| {
            let payload_type = f
                .parse::<u8>()
                .ok()
                .filter(|&pt| pt <= 127)
                .ok_or_else(|| SdpError::BadPayloadType {
                    m_line,
                    format: f.clone(),
                })?;
            let codec = match rtpmaps(md).find(|r| r.payload_type == payload_type) {
                Some(map) => Codec::parse(map.name).filter(|_| {
                    map.clock_rate == Some(NARROWBAND_HZ)
                        && map.channels.is_none_or(|ch| ch.trim() == "1")
                }),
                None => Codec::from_static_payload_type(payload_type),
            };
            Ok(PayloadFormat {
                payload_type,
                codec,
            })
        })
        .collect()
}

/// The first of the m-line's formats that is `telephone-event/8000` (RFC 4733 §7.1.1).
fn telephone_event_of(md: &MediaDescription) -> Option<u8> {
    md.media_name
        .formats
        .iter()
        .filter_map(|f| f.parse::<u8>().ok())
        .find(|&pt| {
            rtpmaps(md).any(|r| {
                r.payload_type == pt
                    && r.name.eq_ignore_ascii_case("telephone-event")
                    && r.clock_rate == Some(NARROWBAND_HZ)
            })
        })
}
