//! RTP packets (RFC 3550 §5.1) and the wrapping arithmetic of their counters (§5.1, A.1).
//!
//! Reading is a borrowed, validated view ([`RtpView`]) over `rtp-rs`'s reader; writing puts
//! a packet into the caller's buffer, without allocating. RTCP arriving on the same port
//! (RFC 5761 §4: second byte 192..=223) is told apart from RTP.
//!
//! Invariants: no input makes anything here panic; sequence numbers and timestamps are
//! compared only through [`seq_delta`] / [`ts_delta`], never with `<`, because they wrap
//! (and `rtp-rs`'s `Seq` ordering is not transitive).

use rtp_rs::{RtpReader, RtpReaderError};

/// The fixed RTP header, without CSRCs or extension.
pub const HEADER_LEN: usize = 12;

/// `b - a` for sequence numbers: positive when `b` is after `a`, correct across the wrap as
/// long as the two are less than 32768 apart.
pub fn seq_delta(a: u16, b: u16) -> i16 {
    b.wrapping_sub(a) as i16
}

/// Whether sequence number `b` comes after `a`.
pub fn seq_is_newer(a: u16, b: u16) -> bool {
    seq_delta(a, b) > 0
}

/// `b - a` for RTP timestamps, across the wrap.
pub fn ts_delta(a: u32, b: u32) -> i32 {
    b.wrapping_sub(a) as i32
}

/// Whether a datagram is RTCP rather than RTP (RFC 5761 §4): version 2 and a second byte in
/// 192..=223, which covers SR (200) to APP (204) and the feedback types.
pub fn is_rtcp(packet: &[u8]) -> bool {
    packet.len() >= 4 && packet[0] >> 6 == 2 && (192..=223).contains(&packet[1])
}

/// Why bytes are not an RTP packet, or a packet cannot be written.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum RtpError {
    /// Fewer bytes than the fixed header.
    #[error("{len} bytes is too short for RTP")]
    TooShort {
        /// Bytes received.
        len: usize,
    },
    /// A version other than 2 (RFC 3550 §5.1): STUN, a stray protocol, garbage.
    #[error("RTP version {0} is not 2")]
    Version(u8),
    /// An RTCP packet (RFC 5761 §4).
    #[error("RTCP packet type {packet_type}, not RTP")]
    Rtcp {
        /// The RTCP packet type, e.g. 200 for a sender report.
        packet_type: u8,
    },
    /// The CSRC list or header extension runs past the end of the packet.
    #[error("RTP header runs past the end of the packet")]
    Truncated,
    /// The padding count is zero or larger than the packet (RFC 3550 §5.1, P bit).
    #[error("invalid RTP padding")]
    BadPadding,
    /// The output buffer cannot hold the packet.
    #[error("buffer of {available} bytes cannot hold a {needed}-byte RTP packet")]
    BufferTooSmall {
        /// Bytes the packet needs.
        needed: usize,
        /// Bytes the buffer has.
        available: usize,
    },
    /// A payload type above 127 does not fit the 7-bit field.
    #[error("payload type {0} does not fit in 7 bits")]
    PayloadType(u8),
}

/// The fields of the fixed header we set and read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RtpHeader {
    /// 7-bit payload type.
    pub payload_type: u8,
    /// Marker bit: for audio, the first packet of a talkspurt (RFC 3551 §4.1).
    pub marker: bool,
    /// Sequence number.
    pub seq: u16,
    /// Timestamp in the clock of the payload format (8000 Hz for G.711).
    pub timestamp: u32,
    /// Synchronisation source.
    pub ssrc: u32,
}

/// Writes a packet (fixed header, no CSRC, no extension, no padding) into `buf`; returns
/// its length.
pub fn write_packet(header: &RtpHeader, payload: &[u8], buf: &mut [u8]) -> Result<usize, RtpError> {
    if header.payload_type > 127 {
        return Err(RtpError::PayloadType(header.payload_type));
    }
    let needed = HEADER_LEN + payload.len();
    if buf.len() < needed {
        return Err(RtpError::BufferTooSmall {
            needed,
            available: buf.len(),
        });
    }
    // The twelve bytes by hand rather than with `rtp-rs`'s builder, which sets up room for
    // CSRCs, an extension and padding (none of which a relayed packet has) before it
    // writes the same bytes; the fields are shared with the in-place rewrite.
    let (head, body) = buf[..needed].split_at_mut(HEADER_LEN);
    // Version 2; no padding, extension or CSRC.
    head[0] = 0x80;
    write_fields(header, head);
    body.copy_from_slice(payload);
    Ok(needed)
}

/// The marker, payload type, sequence number, timestamp and SSRC (RFC 3550 §5.1) over
/// bytes 1..12 of a header whose first byte is kept.
fn write_fields(header: &RtpHeader, into: &mut [u8]) {
    into[1] = header.payload_type | if header.marker { 0x80 } else { 0 };
    into[2..4].copy_from_slice(&header.seq.to_be_bytes());
    into[4..8].copy_from_slice(&header.timestamp.to_be_bytes());
    into[8..12].copy_from_slice(&header.ssrc.to_be_bytes());
}

/// Overwrites the fixed-header fields of a valid packet in place (a relay's SSRC, sequence
/// and timestamp rewrite), keeping its CSRCs, extension, padding and payload.
pub fn rewrite_header(packet: &mut [u8], header: &RtpHeader) -> Result<(), RtpError> {
    if header.payload_type > 127 {
        return Err(RtpError::PayloadType(header.payload_type));
    }
    RtpView::parse(packet)?;
    write_fields(header, packet);
    Ok(())
}

/// A validated RTP packet, borrowed from the datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RtpView<'a> {
    header: RtpHeader,
    payload: &'a [u8],
}

impl<'a> RtpView<'a> {
    /// Checks the datagram is RTP version 2 with a consistent header and returns a view.
    pub fn parse(packet: &'a [u8]) -> Result<RtpView<'a>, RtpError> {
        if is_rtcp(packet) {
            return Err(RtpError::Rtcp {
                packet_type: packet[1],
            });
        }
        let reader = RtpReader::new(packet).map_err(|e| match e {
            RtpReaderError::BufferTooShort(len) => RtpError::TooShort { len },
            RtpReaderError::UnsupportedVersion(v) => RtpError::Version(v),
            RtpReaderError::HeadersTruncated { .. } => RtpError::Truncated,
            RtpReaderError::PaddingLengthInvalid(_) => RtpError::BadPadding,
        })?;
        Ok(RtpView {
            header: RtpHeader {
                payload_type: reader.payload_type(),
                marker: reader.mark(),
                seq: reader.sequence_number().into(),
                timestamp: reader.timestamp(),
                ssrc: reader.ssrc(),
            },
            // Validated by `RtpReader::new`: offsets and padding lie within the packet.
            payload: reader.payload(),
        })
    }

    /// The fixed-header fields.
    pub fn header(&self) -> RtpHeader {
        self.header
    }

    /// Payload type.
    pub fn payload_type(&self) -> u8 {
        self.header.payload_type
    }

    /// Marker bit.
    pub fn marker(&self) -> bool {
        self.header.marker
    }

    /// Sequence number.
    pub fn seq(&self) -> u16 {
        self.header.seq
    }

    /// Timestamp.
    pub fn timestamp(&self) -> u32 {
        self.header.timestamp
    }

    /// Synchronisation source.
    pub fn ssrc(&self) -> u32 {
        self.header.ssrc
    }

    /// The payload, after CSRCs and extension, without padding.
    pub fn payload(&self) -> &'a [u8] {
        self.payload
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: RtpHeader = RtpHeader {
        payload_type: 8,
        marker: true,
        seq: 0x1234,
        timestamp: 0xDEAD_BEEF,
        ssrc: 0x0102_0304,
    };

    #[test]
    fn sequence_arithmetic_wraps() {
        assert_eq!(seq_delta(65535, 0), 1);
        assert_eq!(seq_delta(0, 65535), -1);
        assert_eq!(seq_delta(100, 90), -10);
        assert_eq!(seq_delta(65530, 4), 10);
        assert!(seq_is_newer(65535, 0));
        assert!(!seq_is_newer(0, 65535));
        assert!(!seq_is_newer(7, 7));
        assert!(seq_is_newer(1, 32768));
        assert!(!seq_is_newer(0, 32768)); // exactly half way: not newer
    }

    #[test]
    fn timestamp_arithmetic_wraps() {
        assert_eq!(ts_delta(u32::MAX - 79, 80), 160);
        assert_eq!(ts_delta(80, u32::MAX - 79), -160);
        assert_eq!(ts_delta(1000, 1160), 160);
    }

    #[test]
    fn writer_produces_the_rfc3550_layout() {
        let mut buf = [0u8; 32];
        let len = write_packet(&HEADER, &[0xAA, 0xBB], &mut buf).unwrap();
        assert_eq!(len, 14);
        assert_eq!(
            buf[..len],
            [0x80, 0x88, 0x12, 0x34, 0xDE, 0xAD, 0xBE, 0xEF, 0x01, 0x02, 0x03, 0x04, 0xAA, 0xBB]
        );
        let unmarked = RtpHeader {
            marker: false,
            ..HEADER
        };
        write_packet(&unmarked, &[], &mut buf).unwrap();
        assert_eq!(buf[1], 0x08);
    }

    #[test]
    fn writer_matches_rtp_rs_builder_byte_for_byte() {
        // The header is written by hand; `rtp-rs`'s builder wrote it before.
        let payload: Vec<u8> = (0..160).map(|i| i as u8).collect();
        for (payload_type, marker, seq, timestamp, ssrc) in [
            (0, false, 0, 0, 0),
            (8, true, 0xFFFF, u32::MAX, u32::MAX),
            (101, false, 0x8000, 0x8000_0000, 0x1234_5678),
            (127, true, 1, 160, 0xCAFE_F00D),
        ] {
            let header = RtpHeader {
                payload_type,
                marker,
                seq,
                timestamp,
                ssrc,
            };
            let mut ours = [0u8; 200];
            let len = write_packet(&header, &payload, &mut ours).unwrap();
            let mut theirs = [0u8; 200];
            let their_len = rtp_rs::RtpPacketBuilder::new()
                .payload_type(payload_type)
                .marked(marker)
                .sequence(rtp_rs::Seq::from(seq))
                .timestamp(timestamp)
                .ssrc(ssrc)
                .payload(&payload)
                .build_into(&mut theirs)
                .unwrap();
            assert_eq!(ours[..len], theirs[..their_len], "header {header:?}");
        }
    }

    #[test]
    fn writer_refuses_small_buffers_and_wide_payload_types() {
        let mut buf = [0u8; 13];
        assert_eq!(
            write_packet(&HEADER, &[1, 2], &mut buf),
            Err(RtpError::BufferTooSmall {
                needed: 14,
                available: 13
            })
        );
        let bad = RtpHeader {
            payload_type: 128,
            ..HEADER
        };
        assert_eq!(
            write_packet(&bad, &[], &mut buf),
            Err(RtpError::PayloadType(128))
        );
    }

    #[test]
    fn view_reads_back_what_was_written() {
        let mut buf = [0u8; 200];
        let payload = [0xD5; 160];
        let len = write_packet(&HEADER, &payload, &mut buf).unwrap();
        let view = RtpView::parse(&buf[..len]).unwrap();
        assert_eq!(view.header(), HEADER);
        assert_eq!(view.payload(), &payload[..]);
    }

    #[test]
    fn view_skips_csrcs_extension_and_padding() {
        let packet = [
            0xB1, 0x00, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, // V=2 P=1 X=1 CC=1, PT 0
            9, 9, 9, 9, // CSRC
            0xBE, 0xDE, 0, 1, 7, 7, 7, 7, // extension, one word
            0x55, 0x66, // payload
            0, 0, 3, // padding of 3 (count included)
        ];
        let view = RtpView::parse(&packet).unwrap();
        assert_eq!(view.payload(), &[0x55, 0x66]);
        assert_eq!((view.seq(), view.timestamp(), view.ssrc()), (1, 2, 3));
    }

    #[test]
    fn non_rtp_is_refused() {
        assert_eq!(
            RtpView::parse(&[0x80, 0x00]),
            Err(RtpError::TooShort { len: 2 })
        );
        let mut stun = [0u8; 20];
        stun[1] = 0x01; // STUN binding request: first two bits 00
        assert_eq!(RtpView::parse(&stun), Err(RtpError::Version(0)));
        for packet_type in 200..=204u8 {
            let rtcp = [0x80, packet_type, 0, 6, 1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0];
            assert!(is_rtcp(&rtcp));
            assert_eq!(RtpView::parse(&rtcp), Err(RtpError::Rtcp { packet_type }));
        }
        let truncated_csrc = [0x82, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 9, 9, 9, 9];
        assert_eq!(RtpView::parse(&truncated_csrc), Err(RtpError::Truncated));
        let zero_padding = [0xA0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0x55, 0];
        assert_eq!(RtpView::parse(&zero_padding), Err(RtpError::BadPadding));
        let huge_padding = [0xA0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0x55, 200];
        assert_eq!(RtpView::parse(&huge_padding), Err(RtpError::BadPadding));
    }

    #[test]
    fn rtp_with_marker_and_payload_type_0_is_not_rtcp() {
        // PT 0 with the marker set is 0x80: below the RTCP range.
        let mut buf = [0u8; 20];
        let header = RtpHeader {
            payload_type: 0,
            ..HEADER
        };
        let len = write_packet(&header, &[1], &mut buf).unwrap();
        assert!(!is_rtcp(&buf[..len]));
        assert!(RtpView::parse(&buf[..len]).is_ok());
    }

    #[test]
    fn rewrite_keeps_everything_but_the_fixed_fields() {
        let mut packet = [
            0x81, 0x00, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 9, 9, 9, 9, 0x55, 0x66,
        ];
        let new = RtpHeader {
            payload_type: 8,
            marker: true,
            seq: 65535,
            timestamp: 160,
            ssrc: 0xCAFE_F00D,
        };
        rewrite_header(&mut packet, &new).unwrap();
        let view = RtpView::parse(&packet).unwrap();
        assert_eq!(view.header(), new);
        assert_eq!(view.payload(), &[0x55, 0x66]);
        assert_eq!(packet[0], 0x81);
        assert_eq!(&packet[12..16], &[9, 9, 9, 9]);
        assert_eq!(
            rewrite_header(&mut [0u8; 4], &new),
            Err(RtpError::TooShort { len: 4 })
        );
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let mut state: u32 = 0x1234_5678;
        let mut buf = [0u8; 64];
        for _ in 0..20_000 {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let len = (state % 64) as usize;
            for (i, b) in buf.iter_mut().enumerate() {
                *b = (state.rotate_left(i as u32) ^ i as u32) as u8;
            }
            buf[0] = (buf[0] & 0x3F) | 0x80; // mostly version 2, to reach the deeper checks
            if let Ok(view) = RtpView::parse(&buf[..len]) {
                assert!(view.payload().len() <= len);
            }
        }
    }
}
