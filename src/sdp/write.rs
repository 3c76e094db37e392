//! Printing our descriptions: the RFC 3264 §6 answer and our own §5 offer.
//!
//! Written by hand rather than through the `sdp` crate's model because the text is short
//! and fixed; tests parse every output back with the crate. Lines end in CRLF (RFC 4566 §5).
//!
//! Invariant: an answer has exactly one m-line per offered m-line, in order; only the
//! negotiated one has a non-zero port.

use std::fmt::Write as _;
use std::net::IpAddr;

use super::{Codec, Direction, LocalSession, Negotiated, RemoteSession, PROFILE_AVP, PTIME_MS};

/// The DTMF events we accept: the digits, `*`, `#`, A–D and flash (RFC 4733 §7.1.1 default).
const TELEPHONE_EVENTS: &str = "0-16";

/// The RFC 3264 §6 answer to `remote` using what [`super::negotiate`] chose.
///
/// Every m-line other than `neg.media_index` is refused with port 0, mirroring its media
/// type, protocol and formats (§6: a refused stream still lists at least one format). Our
/// direction is `neg.direction`, the mirror of the offerer's.
pub fn answer(local: &LocalSession, remote: &RemoteSession, neg: &Negotiated) -> String {
    let mut out = String::with_capacity(256 + 48 * remote.media.len());
    write_session_header(&mut out, local);
    for (i, m) in remote.media.iter().enumerate() {
        if i == neg.media_index {
            let te = neg
                .telephone_event
                .map(|te| format!(" {te}"))
                .unwrap_or_default();
            line(
                &mut out,
                format_args!(
                    "m=audio {} {} {}{te}",
                    local.port, m.proto, neg.payload_type
                ),
            );
            write_rtpmap(&mut out, neg.payload_type, neg.codec);
            if let Some(te) = neg.telephone_event {
                write_telephone_event(&mut out, te);
            }
            line(&mut out, format_args!("a=ptime:{PTIME_MS}"));
            line(&mut out, format_args!("a={}", neg.direction.as_str()));
        } else {
            line(
                &mut out,
                format_args!("m={} 0 {} {}", m.kind, m.proto, m.formats.join(" ")),
            );
        }
    }
    out
}

/// Our offer: one audio stream with `codecs` in our order of preference, telephone-event at
/// `dtmf_pt` (101 by custom), 20 ms frames, `sendrecv`. `codecs` should not be empty.
pub fn offer(local: &LocalSession, codecs: &[Codec], dtmf_pt: u8) -> String {
    let mut out = String::with_capacity(320);
    write_session_header(&mut out, local);
    let mut m = format!("m=audio {} {PROFILE_AVP}", local.port);
    for c in codecs {
        let _ = write!(m, " {}", c.payload_type());
    }
    let _ = write!(m, " {dtmf_pt}");
    line(&mut out, format_args!("{m}"));
    for &c in codecs {
        write_rtpmap(&mut out, c.payload_type(), c);
    }
    write_telephone_event(&mut out, dtmf_pt);
    line(&mut out, format_args!("a=ptime:{PTIME_MS}"));
    line(&mut out, format_args!("a={}", Direction::SendRecv.as_str()));
    out
}

/// `v=`, `o=`, `s=`, session-level `c=` and `t=` (RFC 4566 §5 order).
fn write_session_header(out: &mut String, local: &LocalSession) {
    let family = match local.addr {
        IpAddr::V4(_) => "IP4",
        IpAddr::V6(_) => "IP6",
    };
    line(out, format_args!("v=0"));
    line(
        out,
        format_args!(
            "o={} {} {} IN {family} {}",
            local.username, local.session_id, local.version, local.addr
        ),
    );
    line(out, format_args!("s={}", local.username));
    line(out, format_args!("c=IN {family} {}", local.addr));
    line(out, format_args!("t=0 0"));
}

fn write_rtpmap(out: &mut String, payload_type: u8, codec: Codec) {
    line(
        out,
        format_args!("a=rtpmap:{payload_type} {}/8000", codec.name()),
    );
}

fn write_telephone_event(out: &mut String, payload_type: u8) {
    line(
        out,
        format_args!("a=rtpmap:{payload_type} telephone-event/8000"),
    );
    line(
        out,
        format_args!("a=fmtp:{payload_type} {TELEPHONE_EVENTS}"),
    );
}

fn line(out: &mut String, args: std::fmt::Arguments<'_>) {
    // Writing into a String cannot fail.
    let _ = out.write_fmt(args);
    out.push_str("\r\n");
}
