//! One leg's socket and stream logic inside the media task, and the few socket helpers
//! the task shares between its legs.

use std::io;
use std::net::SocketAddr;
use std::time::Instant;

use tokio::net::UdpSocket;

use crate::media::relay::{LegConfig, LegStats, RelayLeg};

/// A socket and the stream logic of one leg.
pub(super) struct LegIo {
    /// Read through tokio (readiness), written through `out`.
    pub socket: UdpSocket,
    /// The same socket for sending: a plain non-blocking send needs no readiness from the
    /// reactor, so the very first packet of a call (sent before the reactor ever polled
    /// the new socket) is not refused as "would block".
    pub out: std::net::UdpSocket,
    pub relay: RelayLeg,
    /// Inactivity counts from here when the peer has been silent since (creation, unhold).
    pub since: Instant,
    pub heard: bool,
    pub inactive_reported: bool,
    /// We send to this peer (false while it holds us: it offered `sendonly`/`inactive`).
    pub sending: bool,
    /// The peer is expected to send (false while it offered `recvonly`/`inactive`).
    pub expecting: bool,
}

impl LegIo {
    /// Registers `socket` (non-blocking) with the current runtime's reactor; `out` is a
    /// duplicate of it for sending.
    pub fn new(
        socket: std::net::UdpSocket,
        out: std::net::UdpSocket,
        relay: RelayLeg,
        now: Instant,
    ) -> io::Result<LegIo> {
        socket.set_nonblocking(true)?;
        let socket = UdpSocket::from_std(socket)?;
        Ok(LegIo {
            socket,
            out,
            relay,
            since: now,
            heard: false,
            inactive_reported: false,
            sending: true,
            expecting: true,
        })
    }

    /// The peer's new offer/answer. Returns whether it is expected to send again after a
    /// time it was not (its inactivity then counts from now).
    pub fn update(&mut self, config: LegConfig, send: bool, receive: bool, now: Instant) -> bool {
        self.relay.update(config, now);
        self.sending = send;
        let rearm = receive && !self.expecting;
        self.expecting = receive;
        if rearm {
            self.since = now;
            self.inactive_reported = false;
        }
        rearm
    }

    pub fn silent_since(&self) -> Instant {
        self.relay
            .last_inbound()
            .map_or(self.since, |t| t.max(self.since))
    }
}

/// Readiness of an optional socket; never ready without one.
pub(super) async fn readable(socket: Option<&UdpSocket>) -> io::Result<()> {
    match socket {
        Some(s) => s.readable().await,
        None => std::future::pending().await,
    }
}

/// Sends without waiting: a full send buffer means the network is behind, and audio that
/// waits is worse than audio lost.
pub(super) fn send(
    socket: &std::net::UdpSocket,
    packet: &[u8],
    target: SocketAddr,
    dropped: &mut u64,
) {
    match socket.send_to(packet, target) {
        Ok(_) => {}
        Err(e) => {
            *dropped += 1;
            if e.kind() != io::ErrorKind::WouldBlock {
                tracing::debug!(%target, error = %e, "RTP send failed");
            }
        }
    }
}

pub(super) fn add_stats(sum: &mut LegStats, s: &LegStats) {
    sum.packets_in += s.packets_in;
    sum.bytes_in += s.bytes_in;
    sum.packets_out += s.packets_out;
    sum.bytes_out += s.bytes_out;
    sum.lost += s.lost;
    sum.late += s.late;
    sum.duplicates += s.duplicates;
    sum.dtmf_events += s.dtmf_events;
    sum.comfort_noise += s.comfort_noise;
    sum.ignored += s.ignored;
    sum.not_relayed += s.not_relayed;
}
