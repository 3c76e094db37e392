//! Symmetric RTP latching (the idea of RFC 4961 applied to a peer behind NAT): send media
//! to wherever the peer's media actually comes from, not only to the SDP address.
//!
//! Run loop: the media task feeds every datagram received on the call's RTP port to
//! [`Latch::handle_incoming`] with its source and the current time, uses the packet only
//! if that returns `true`, and sends to [`Latch::target`].
//!
//! Invariants:
//! - only a valid RTP packet (version 2, not RTCP) with an accepted payload type can latch
//!   or keep a latch alive; anything else is ignored and never moves the target;
//! - once latched, another source takes over only after the latched one has been silent for
//!   `relatch_after` (default 2 s): a stray or hostile sender cannot steal a live stream;
//! - after the peer moved ([`Latch::move_to`]) the source it moved away from cannot latch
//!   again for `relatch_after`, as if it were still latched and had just fallen silent: the
//!   peer goes on sending from there until it has our answer, and those stragglers must
//!   not pull our stream back to an address the peer has left.
//! - While the latched source is [`Latch::pinned`] (heard within `relatch_after`), no other
//!   source can be accepted, so the socket may be connected to it: the kernel then drops
//!   what others send before we see it, and keeps the route for our sends instead of
//!   looking it up for every packet. The pin ends at [`Latch::pinned_until`].

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::rtp::RtpView;

/// How long the latched source must be silent before another may take over.
pub const DEFAULT_RELATCH_AFTER: Duration = Duration::from_secs(2);

/// Chooses where to send a call leg's RTP.
#[derive(Clone, Debug)]
pub struct Latch {
    sdp_addr: SocketAddr,
    relatch_after: Duration,
    latched: Option<Latched>,
    /// The source latched before the peer moved, and when it moved.
    left: Option<Latched>,
}

#[derive(Clone, Copy, Debug)]
struct Latched {
    source: SocketAddr,
    last_heard: Instant,
}

impl Latch {
    /// Not latched yet: sends to `sdp_addr`. Re-latching needs [`DEFAULT_RELATCH_AFTER`] of
    /// silence.
    pub fn new(sdp_addr: SocketAddr) -> Self {
        Latch {
            sdp_addr,
            relatch_after: DEFAULT_RELATCH_AFTER,
            latched: None,
            left: None,
        }
    }

    /// The same, with another silence period before re-latching.
    pub fn with_relatch_after(mut self, relatch_after: Duration) -> Self {
        self.relatch_after = relatch_after;
        self
    }

    /// A packet arrived from `src`. Latches to the first packet that parses as RTP (version
    /// 2) with one of `accepted_pts`; re-latches to a new source only if the current one has
    /// been silent for at least `relatch_after`. Returns whether the packet is from the
    /// latched source, i.e. should be used.
    pub fn handle_incoming(
        &mut self,
        now: Instant,
        src: SocketAddr,
        packet: &[u8],
        accepted_pts: &[u8],
    ) -> bool {
        let is_media = RtpView::parse(packet)
            .map(|v| accepted_pts.contains(&v.payload_type()))
            .unwrap_or(false);
        if !is_media {
            return false;
        }
        match &mut self.latched {
            Some(l) if l.source == src => {
                // A reordered datagram may carry an older `now`; never move backwards.
                l.last_heard = l.last_heard.max(now);
                true
            }
            Some(l) if now.saturating_duration_since(l.last_heard) < self.relatch_after => false,
            None if self.left.is_some_and(|l| {
                l.source == src
                    && src != self.sdp_addr
                    && now.saturating_duration_since(l.last_heard) < self.relatch_after
            }) =>
            {
                false
            }
            _ => {
                self.left = None;
                self.latched = Some(Latched {
                    source: src,
                    last_heard: now,
                });
                true
            }
        }
    }

    /// Where to send: the latched source, else the SDP address.
    pub fn target(&self) -> SocketAddr {
        self.latched.map(|l| l.source).unwrap_or(self.sdp_addr)
    }

    /// The source no other may take over from at `now`: latched and heard within
    /// `relatch_after`. `None` before the first packet, after a move, and once the latched
    /// source has been silent long enough for another to take over.
    pub fn pinned(&self, now: Instant) -> Option<SocketAddr> {
        self.latched
            .filter(|l| now.saturating_duration_since(l.last_heard) < self.relatch_after)
            .map(|l| l.source)
    }

    /// When the pin ends unless the latched source is heard again.
    pub fn pinned_until(&self) -> Option<Instant> {
        self.latched.map(|l| l.last_heard + self.relatch_after)
    }

    /// Whether a source has been latched.
    pub fn is_latched(&self) -> bool {
        self.latched.is_some()
    }

    /// When media was last accepted, for inactivity checks; `None` before the first packet.
    pub fn last_heard(&self) -> Option<Instant> {
        self.latched.map(|l| l.last_heard)
    }

    /// The peer sent a new description (re-INVITE, RFC 3264 §8) with another address, at
    /// `now`: start over, sending there until its media arrives, and latch to wherever
    /// that comes from (but not, for a while, to the source it moved away from).
    pub fn move_to(&mut self, now: Instant, sdp_addr: SocketAddr) {
        self.sdp_addr = sdp_addr;
        if let Some(l) = self.latched.take() {
            self.left = Some(Latched {
                source: l.source,
                last_heard: now,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::rtp::{write_packet, RtpHeader};

    const PCMU: &[u8] = &[0, 101];

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn rtp(payload_type: u8) -> Vec<u8> {
        let mut buf = vec![0u8; 32];
        let header = RtpHeader {
            payload_type,
            marker: false,
            seq: 1,
            timestamp: 160,
            ssrc: 9,
        };
        let len = write_packet(&header, &[0xFF; 20], &mut buf).unwrap();
        buf.truncate(len);
        buf
    }

    #[test]
    fn sends_to_the_sdp_address_until_media_arrives() {
        let latch = Latch::new(addr("192.0.2.1:4000"));
        assert_eq!(latch.target(), addr("192.0.2.1:4000"));
        assert!(!latch.is_latched());
        assert_eq!(latch.last_heard(), None);
    }

    #[test]
    fn latches_to_the_first_rtp_source_even_behind_nat() {
        let t0 = Instant::now();
        let mut latch = Latch::new(addr("10.0.0.5:4000"));
        assert!(latch.handle_incoming(t0, addr("203.0.113.7:61000"), &rtp(0), PCMU));
        assert!(latch.is_latched());
        assert_eq!(latch.target(), addr("203.0.113.7:61000"));
        assert_eq!(latch.last_heard(), Some(t0));
    }

    #[test]
    fn non_media_never_latches() {
        let t0 = Instant::now();
        let mut latch = Latch::new(addr("192.0.2.1:4000"));
        let src = addr("198.51.100.1:5000");
        let mut rtcp = vec![0x80, 200, 0, 6];
        rtcp.extend_from_slice(&[0; 24]);
        for packet in [&b"garbage"[..], &[0u8; 40], &rtcp, &rtp(18)] {
            assert!(!latch.handle_incoming(t0, src, packet, PCMU));
        }
        assert!(!latch.is_latched());
        assert_eq!(latch.target(), addr("192.0.2.1:4000"));
    }

    #[test]
    fn another_source_is_ignored_while_the_latched_one_talks() {
        let t0 = Instant::now();
        let mut latch = Latch::new(addr("192.0.2.1:4000"));
        let peer = addr("192.0.2.1:4000");
        let intruder = addr("198.51.100.66:6666");
        assert!(latch.handle_incoming(t0, peer, &rtp(0), PCMU));
        for i in 1..=100u32 {
            let now = t0 + Duration::from_millis(20 * u64::from(i));
            assert!(latch.handle_incoming(now, peer, &rtp(0), PCMU));
            assert!(!latch.handle_incoming(now, intruder, &rtp(0), PCMU));
        }
        assert_eq!(latch.target(), peer);
    }

    #[test]
    fn relatches_after_the_latched_source_falls_silent() {
        let t0 = Instant::now();
        let mut latch = Latch::new(addr("192.0.2.1:4000"));
        let old = addr("203.0.113.7:61000");
        let new = addr("203.0.113.7:62000"); // NAT rebinding gave a new port
        assert!(latch.handle_incoming(t0, old, &rtp(0), PCMU));
        let almost = t0 + Duration::from_millis(1999);
        assert!(!latch.handle_incoming(almost, new, &rtp(0), PCMU));
        assert_eq!(latch.target(), old);
        let silent = t0 + Duration::from_secs(2);
        assert!(latch.handle_incoming(silent, new, &rtp(0), PCMU));
        assert_eq!(latch.target(), new);
        // Now the old source is the stranger.
        assert!(!latch.handle_incoming(silent + Duration::from_millis(20), old, &rtp(0), PCMU));
    }

    #[test]
    fn unaccepted_packets_do_not_keep_a_latch_alive() {
        let t0 = Instant::now();
        let mut latch =
            Latch::new(addr("192.0.2.1:4000")).with_relatch_after(Duration::from_secs(1));
        let peer = addr("192.0.2.1:4000");
        assert!(latch.handle_incoming(t0, peer, &rtp(0), PCMU));
        // Comfort noise (PT 13) from the peer is not accepted and does not count as heard.
        let later = t0 + Duration::from_millis(900);
        assert!(!latch.handle_incoming(later, peer, &rtp(13), PCMU));
        assert_eq!(latch.last_heard(), Some(t0));
        let other = addr("192.0.2.2:4000");
        assert!(latch.handle_incoming(t0 + Duration::from_secs(1), other, &rtp(101), PCMU));
        assert_eq!(latch.target(), other);
    }

    #[test]
    fn a_move_sends_to_the_new_address_and_latches_to_where_media_then_comes_from() {
        let t0 = Instant::now();
        let old = addr("203.0.113.7:61000");
        let mut latch = Latch::new(addr("192.0.2.1:4000"));
        assert!(latch.handle_incoming(t0, old, &rtp(0), PCMU));
        let moved = t0 + Duration::from_secs(60);
        latch.move_to(moved, addr("192.0.2.9:5000"));
        assert!(!latch.is_latched());
        assert_eq!(latch.target(), addr("192.0.2.9:5000"));
        // A straggler from the old source does not pull the stream back...
        assert!(!latch.handle_incoming(moved, old, &rtp(0), PCMU));
        assert_eq!(latch.target(), addr("192.0.2.9:5000"));
        // ...and the new source, behind NAT, latches at once.
        let new = addr("203.0.113.7:62000");
        assert!(latch.handle_incoming(moved, new, &rtp(0), PCMU));
        assert_eq!(latch.target(), new);
        assert!(!latch.handle_incoming(moved, old, &rtp(0), PCMU));
    }

    #[test]
    fn the_old_source_may_latch_again_once_silent_long_enough_or_if_it_is_the_new_address() {
        let t0 = Instant::now();
        let old = addr("203.0.113.7:61000");
        let mut latch = Latch::new(old);
        assert!(latch.handle_incoming(t0, old, &rtp(0), PCMU));
        latch.move_to(t0, addr("192.0.2.9:5000"));
        let almost = t0 + Duration::from_millis(1999);
        assert!(!latch.handle_incoming(almost, old, &rtp(0), PCMU));
        // A NAT that kept its mapping: after the usual silence, the old source is the peer.
        assert!(latch.handle_incoming(t0 + Duration::from_secs(2), old, &rtp(0), PCMU));
        assert_eq!(latch.target(), old);

        // Moving back to an address is moving to it.
        let mut latch = Latch::new(old);
        assert!(latch.handle_incoming(t0, old, &rtp(0), PCMU));
        latch.move_to(t0, addr("192.0.2.9:5000"));
        latch.move_to(t0, old);
        assert!(latch.handle_incoming(t0, old, &rtp(0), PCMU));
    }

    #[test]
    fn the_latched_source_is_pinned_exactly_while_no_other_could_take_over() {
        let t0 = Instant::now();
        let sdp = addr("192.0.2.1:4000");
        let peer = addr("203.0.113.7:61000");
        let other = addr("203.0.113.7:62000");
        let mut latch = Latch::new(sdp);
        assert_eq!(latch.pinned(t0), None, "nothing latched yet");
        assert_eq!(latch.pinned_until(), None);
        assert!(latch.handle_incoming(t0, peer, &rtp(0), PCMU));
        assert_eq!(latch.pinned_until(), Some(t0 + DEFAULT_RELATCH_AFTER));
        // At every moment, pinned means another source is refused, and not pinned that
        // one would be taken.
        for ms in [0u64, 1000, 1999, 2000, 2500] {
            let now = t0 + Duration::from_millis(ms);
            let pinned = latch.pinned(now);
            let taken = latch.clone().handle_incoming(now, other, &rtp(0), PCMU);
            assert_eq!(pinned.is_some(), !taken, "at {ms} ms");
            if let Some(source) = pinned {
                assert_eq!(source, peer);
            }
        }
        // Heard again: the pin runs from there.
        let later = t0 + Duration::from_millis(1500);
        assert!(latch.handle_incoming(later, peer, &rtp(0), PCMU));
        assert_eq!(latch.pinned(t0 + Duration::from_millis(3000)), Some(peer));
        assert_eq!(latch.pinned_until(), Some(later + DEFAULT_RELATCH_AFTER));
        // A move unpins at once: the peer's media will come from elsewhere.
        latch.move_to(later, addr("192.0.2.9:5000"));
        assert_eq!(latch.pinned(later), None);
        assert_eq!(latch.pinned_until(), None);
    }

    #[test]
    fn an_older_timestamp_does_not_rewind_last_heard() {
        let t0 = Instant::now();
        let mut latch = Latch::new(addr("192.0.2.1:4000"));
        let peer = addr("192.0.2.1:4000");
        let t1 = t0 + Duration::from_secs(1);
        assert!(latch.handle_incoming(t1, peer, &rtp(0), PCMU));
        assert!(latch.handle_incoming(t0, peer, &rtp(0), PCMU));
        assert_eq!(latch.last_heard(), Some(t1));
    }
}
