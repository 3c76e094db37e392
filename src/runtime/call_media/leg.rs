//! One leg's socket and stream logic inside the media task, and the few socket helpers
//! the task shares between its legs.

use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::time::Instant;

use tokio::net::UdpSocket;

use super::ring::{Registration, Target};
use crate::media::relay::{LegConfig, LegStats, RelayLeg};
use crate::media::srtp::{SrtpContext, SrtpKeys, TAG_LEN};

/// How a leg's datagrams reach the task.
pub(super) enum Inbound {
    /// Read through tokio (readiness), written through `out`: the same socket, since a
    /// plain non-blocking send needs no readiness from the reactor, so the very first
    /// packet of a call (sent before the reactor ever polled the new socket) is not
    /// refused as "would block".
    Reactor {
        socket: UdpSocket,
        out: std::net::UdpSocket,
    },
    /// Received on the media thread's ring, written directly.
    Ring(Registration),
}

/// A socket and the stream logic of one leg.
pub(super) struct LegIo {
    pub inbound: Inbound,
    pub relay: RelayLeg,
    /// Inactivity counts from here when the peer has been silent since (creation, unhold).
    pub since: Instant,
    pub heard: bool,
    pub inactive_reported: bool,
    /// We send to this peer (false while it holds us: it offered `sendonly`/`inactive`).
    pub sending: bool,
    /// The peer is expected to send (false while it offered `recvonly`/`inactive`).
    pub expecting: bool,
    /// SRTP contexts when the leg is secured (RTP/SAVP). Boxed: about 2 KB that a plain
    /// leg, the usual one, would otherwise carry for nothing in every call.
    pub srtp: Option<Box<LegSrtp>>,
    /// Whether the socket is connected to the peer (see [`LegIo::follow_pin`]).
    pub connection: Connection,
}

/// A leg's socket and its peer's address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Connection {
    /// Takes datagrams from anyone; sends name their destination.
    Open,
    /// Connected to the pinned peer: the kernel drops datagrams from anyone else, and our
    /// sends to it go without an address, on the route the socket keeps.
    To(SocketAddr),
    /// A connect or disconnect failed: the leg stays open for the rest of its life.
    Refused,
}

/// A secured leg's two SRTP directions (RFC 3711): what it sends us is checked and
/// decrypted before the relay and the recorder see it; what we send it is encrypted last.
pub(super) struct LegSrtp {
    keys: SrtpKeys,
    send: SrtpContext,
    receive: SrtpContext,
    /// Packets refused (forged, replayed, keyed otherwise).
    pub refused: u64,
}

impl LegSrtp {
    fn new(keys: SrtpKeys) -> LegSrtp {
        LegSrtp {
            keys,
            send: SrtpContext::new(&keys.send),
            receive: SrtpContext::new(&keys.receive),
            refused: 0,
        }
    }

    /// Copies the SRTP packet `data` into `scratch` and decrypts it there; the RTP
    /// packet's length, or `None` if it is refused.
    pub fn unprotect(&mut self, data: &[u8], scratch: &mut [u8]) -> Option<usize> {
        let Some(buf) = scratch.get_mut(..data.len()) else {
            self.refused += 1;
            return None;
        };
        buf.copy_from_slice(data);
        match self.receive.unprotect(buf) {
            Ok(n) => Some(n),
            Err(_) => {
                self.refused += 1;
                None
            }
        }
    }

    /// Encrypts the RTP packet `out[..len]` in place; the SRTP packet's length.
    /// `out` keeps [`TAG_LEN`] bytes spare after the packet.
    pub fn protect(&mut self, out: &mut [u8], len: usize) -> Option<usize> {
        self.send.protect(out, len).ok()
    }
}

fn srtp_for(config: &LegConfig) -> Option<Box<LegSrtp>> {
    config.srtp.map(|keys| Box::new(LegSrtp::new(keys)))
}

/// Room a secured leg's packets need beyond an RTP packet.
pub(super) const SRTP_ROOM: usize = TAG_LEN;

impl LegIo {
    /// Arms `socket` (made non-blocking) on the thread's receive ring for `ring`, or
    /// without one registers it with the current runtime's reactor (and duplicates it for
    /// sending). Fails when the descriptor cannot be duplicated or the receive not armed.
    pub fn new(
        socket: std::net::UdpSocket,
        relay: RelayLeg,
        now: Instant,
        ring: Option<Target>,
    ) -> io::Result<LegIo> {
        socket.set_nonblocking(true)?;
        let inbound = match ring {
            Some(target) => Inbound::Ring(Registration::new(socket, target)?),
            None => {
                let out = socket.try_clone()?;
                Inbound::Reactor {
                    socket: UdpSocket::from_std(socket)?,
                    out,
                }
            }
        };
        let srtp = srtp_for(relay.config());
        Ok(LegIo {
            srtp,
            inbound,
            relay,
            since: now,
            heard: false,
            inactive_reported: false,
            sending: true,
            expecting: true,
            connection: Connection::Open,
        })
    }

    /// Connects the socket to the peer while its latch pins it, and opens it again when the
    /// pin ends (the peer silent long enough for another source to take over, or moved), so
    /// the latch sees every source it could accept.
    ///
    /// Why: a connected socket's sends reuse the route it keeps, where a send that names
    /// its destination makes the kernel look the route up for every packet (measured at the
    /// relay's floor: about 8% of its cost). Nothing changes for the peer: while pinned, the
    /// latch refuses every other source anyway.
    ///
    /// The socket must be bound to a port of its own choosing, as the server's port range
    /// binds them: Linux unbinds a port the system chose when a socket is opened again.
    pub fn follow_pin(&mut self, now: Instant) {
        let want = self.relay.pinned(now);
        let result = match (self.connection, want) {
            (Connection::Refused, _) => return,
            (Connection::To(peer), Some(pinned)) if peer == pinned => return,
            (Connection::Open, None) => return,
            (_, Some(peer)) => self.out().connect(peer),
            (Connection::To(_), None) => disconnect(self.out()),
        };
        self.connection = match (result, want) {
            (Ok(()), Some(peer)) => Connection::To(peer),
            (Ok(()), None) => Connection::Open,
            (Err(error), _) => {
                // Each later packet would fail the same way: the leg stays open for good.
                tracing::warn!(%error, "RTP socket's connection to its peer not changed");
                let _ = disconnect(self.out());
                Connection::Refused
            }
        };
    }

    /// When the socket must be opened again unless the peer is heard before: the end of
    /// its pin, while connected.
    pub fn pin_ends(&self) -> Option<Instant> {
        match self.connection {
            Connection::To(_) => self.relay.pinned_until(),
            Connection::Open | Connection::Refused => None,
        }
    }

    /// Where our packets to this peer go, and whether the socket is connected there.
    pub fn destination(&self) -> Destination {
        let to = self.relay.target();
        Destination {
            to,
            connected: self.connection == Connection::To(to),
        }
    }

    /// The peer's new offer/answer. Returns whether it is expected to send again after a
    /// time it was not (its inactivity then counts from now).
    pub fn update(&mut self, config: LegConfig, send: bool, receive: bool, now: Instant) -> bool {
        if self.srtp.as_ref().map(|s| s.keys) != config.srtp {
            // New keys (a re-INVITE rekeyed): new contexts, as for a new stream.
            self.srtp = srtp_for(&config);
        }
        self.relay.update(config, now);
        self.sending = send;
        let rearm = receive && !self.expecting;
        self.expecting = receive;
        if rearm {
            self.since = now;
            self.inactive_reported = false;
        }
        // A peer that moved is no longer pinned: its media will come from elsewhere.
        self.follow_pin(now);
        rearm
    }

    /// The socket sends go out of.
    pub fn out(&self) -> &std::net::UdpSocket {
        match &self.inbound {
            Inbound::Reactor { out, .. } => out,
            Inbound::Ring(registration) => registration.socket(),
        }
    }

    /// The socket to wait on for readiness, when the leg is read that way.
    pub fn reactor_socket(&self) -> Option<&UdpSocket> {
        match &self.inbound {
            Inbound::Reactor { socket, .. } => Some(socket),
            Inbound::Ring(_) => None,
        }
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

/// Where a leg's packets go.
#[derive(Debug, Clone, Copy)]
pub(super) struct Destination {
    pub to: SocketAddr,
    /// The socket is connected to `to`: sends go without an address.
    pub connected: bool,
}

impl Destination {
    /// `to`, from a socket that is not connected.
    pub fn open(to: SocketAddr) -> Destination {
        Destination {
            to,
            connected: false,
        }
    }
}

/// Opens a connected UDP socket to every source again.
fn disconnect(socket: &std::net::UdpSocket) -> io::Result<()> {
    let unspecified = libc::sockaddr {
        sa_family: libc::AF_UNSPEC as libc::sa_family_t,
        sa_data: [0; 14],
    };
    // SAFETY: a valid descriptor and an AF_UNSPEC address of the size given.
    let done = unsafe {
        libc::connect(
            socket.as_raw_fd(),
            &unspecified,
            std::mem::size_of::<libc::sockaddr>() as libc::socklen_t,
        )
    };
    if done == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Sends without waiting: a full send buffer means the network is behind, and audio that
/// waits is worse than audio lost. A packet relayed in a ring's round is queued on the
/// ring and goes with the round's others (a failure is then counted by the ring).
pub(super) fn send(
    socket: &std::net::UdpSocket,
    packet: &[u8],
    destination: Destination,
    dropped: &mut u64,
) {
    if super::ring::queue_send(socket, packet, destination) {
        return;
    }
    let target = destination.to;
    let sent = if destination.connected {
        // A connected socket reports the peer's port unreachable (an ICMP error for an
        // earlier packet) on the next send, which then did not go: it goes once more, as
        // it would have from an unconnected socket.
        socket.send(packet).or_else(|e| match e.raw_os_error() {
            Some(libc::ECONNREFUSED) => socket.send(packet),
            _ => Err(e),
        })
    } else {
        socket.send_to(packet, target)
    };
    if let Err(e) = sent {
        *dropped += 1;
        if e.kind() != io::ErrorKind::WouldBlock {
            tracing::debug!(%target, error = %e, "RTP send failed");
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
