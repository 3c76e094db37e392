//! Fake peers for the media task tests: a trunk and a softphone on 127.0.0.1, and bounded
//! waits for packets and events.

use std::net::SocketAddr;
use std::time::Duration;

use hotline::media::player::{Prompt, RtpStreamState};
use hotline::media::relay::LegConfig;
use hotline::media::rtp::{write_packet, RtpHeader, RtpView};
use hotline::media::Codec;
use hotline::runtime::call_media::{
    spawn_call_media, CallMediaEvent, CallMediaHandle, MediaCommand,
};
use hotline::runtime::Clock;
use hotline::switchboard::CallRef;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

pub const WAIT: Duration = Duration::from_secs(2);
pub const CALLER_STREAM: RtpStreamState = RtpStreamState {
    ssrc: 0x5EED_0001,
    seq: 65_534,
    ts: 4_000_000,
};
pub const TRUNK_SSRC: u32 = 0x7A7A_7A7A;
pub const PHONE_SSRC: u32 = 0x0B0B_0B0B;

pub fn rtp(payload_type: u8, marker: bool, seq: u16, timestamp: u32, ssrc: u32) -> RtpHeader {
    RtpHeader {
        payload_type,
        marker,
        seq,
        timestamp,
        ssrc,
    }
}

/// A fake RTP peer.
pub struct Peer {
    pub sock: UdpSocket,
}

#[derive(Debug)]
pub struct Received {
    pub header: RtpHeader,
    pub payload: Vec<u8>,
}

impl Peer {
    pub async fn bind() -> Peer {
        Peer {
            sock: UdpSocket::bind("127.0.0.1:0").await.unwrap(),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.sock.local_addr().unwrap()
    }

    pub async fn send(&self, to: SocketAddr, header: RtpHeader, payload: &[u8]) {
        let mut buf = [0u8; 1500];
        let n = write_packet(&header, payload, &mut buf).unwrap();
        self.sock.send_to(&buf[..n], to).await.unwrap();
    }

    pub async fn recv(&self, within: Duration) -> Option<Received> {
        let mut buf = [0u8; 1500];
        let (n, _) = tokio::time::timeout(within, self.sock.recv_from(&mut buf))
            .await
            .ok()?
            .unwrap();
        let view = RtpView::parse(&buf[..n]).expect("the task sends valid RTP");
        Some(Received {
            header: view.header(),
            payload: view.payload().to_vec(),
        })
    }

    pub async fn recv_n(&self, n: usize) -> Vec<Received> {
        let mut out = Vec::new();
        while out.len() < n {
            match self.recv(WAIT).await {
                Some(r) => out.push(r),
                None => panic!("only {} of {n} packets arrived", out.len()),
            }
        }
        out
    }

    /// Packets arriving within `window` (a bounded wait for the absence of traffic).
    pub async fn count_within(&self, window: Duration) -> usize {
        let end = tokio::time::Instant::now() + window;
        let mut count = 0;
        while let Some(left) = end.checked_duration_since(tokio::time::Instant::now()) {
            match self.recv(left).await {
                Some(_) => count += 1,
                None => break,
            }
        }
        count
    }
}

pub struct Call {
    pub media: CallMediaHandle,
    pub events: mpsc::Receiver<(CallRef, CallMediaEvent)>,
    /// The task's caller-side socket.
    pub local: SocketAddr,
    pub trunk: Peer,
}

pub fn leg(codec: Codec, telephone_event: Option<u8>, sdp_addr: SocketAddr) -> LegConfig {
    LegConfig {
        codec,
        payload_type: codec.payload_type(),
        telephone_event,
        sdp_addr,
        srtp: None,
    }
}

/// A call leg's socket, bound to a port of its own as the server's port range binds them:
/// a leg connects its socket to the peer it latched to, and a socket whose port the system
/// chose would lose it when opened again.
pub async fn leg_socket() -> UdpSocket {
    loop {
        let chosen = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = chosen.local_addr().unwrap();
        drop(chosen);
        // Another test may take the port in between: then try another.
        if let Ok(socket) = UdpSocket::bind(addr).await {
            return socket;
        }
    }
}

pub async fn start(codec: Codec, inactivity: Duration) -> Call {
    let trunk = Peer::bind().await;
    let socket = leg_socket().await;
    let local = socket.local_addr().unwrap();
    let (tx, events) = mpsc::channel(64);
    let media = spawn_call_media(
        &tokio::runtime::Handle::current(),
        CallRef(7),
        socket.into_std().unwrap(),
        leg(codec, Some(101), trunk.addr()),
        CALLER_STREAM,
        inactivity,
        Clock::system(),
        tx,
    );
    Call {
        media,
        events,
        local,
        trunk,
    }
}

impl Call {
    pub async fn event(&mut self) -> CallMediaEvent {
        let (call, event) = tokio::time::timeout(WAIT, self.events.recv())
            .await
            .expect("an event in time")
            .expect("the task reports");
        assert_eq!(call, CallRef(7));
        event
    }

    /// The next event other than `FirstPacket`.
    pub async fn event_skipping_first_packet(&mut self) -> CallMediaEvent {
        loop {
            match self.event().await {
                CallMediaEvent::FirstPacket { .. } => continue,
                e => return e,
            }
        }
    }

    /// Bridges to a fake phone; returns it and the task's operator-side address.
    pub async fn bridge(&self, codec: Codec, telephone_event: Option<u8>) -> (Peer, SocketAddr) {
        let phone = Peer::bind().await;
        let socket = leg_socket().await;
        let local = socket.local_addr().unwrap();
        self.media
            .command(MediaCommand::Bridge {
                operator_socket: socket.into_std().unwrap(),
                operator: Box::new(leg(codec, telephone_event, phone.addr())),
            })
            .unwrap();
        (phone, local)
    }

    /// The trunk sends 20 ms packet `i` of a stream of constant bytes.
    pub async fn trunk_sends(&self, i: u16, byte: u8) {
        // The trunk talks μ-law in these tests.
        let header = rtp(0, i == 0, 1000 + i, 160 * u32::from(i), TRUNK_SSRC);
        self.trunk.send(self.local, header, &[byte; 160]).await;
    }
}

/// One packet from the trunk to the phone and one back, each waited for at the far end.
pub async fn relay_both_ways(
    call: &Call,
    phone: &Peer,
    operator_local: std::net::SocketAddr,
    i: u16,
) {
    let mut packet = [0u8; 200];
    let mut buf = [0u8; 200];
    let header = rtp(0, false, i, 160 * u32::from(i), TRUNK_SSRC);
    let n = write_packet(&header, &[0x80; 160], &mut packet).unwrap();
    call.trunk
        .sock
        .send_to(&packet[..n], call.local)
        .await
        .unwrap();
    let got = tokio::time::timeout(WAIT, phone.sock.recv_from(&mut buf)).await;
    assert_eq!(got.expect("relayed to the phone").unwrap().0, n);
    phone
        .sock
        .send_to(&packet[..n], operator_local)
        .await
        .unwrap();
    let got = tokio::time::timeout(WAIT, call.trunk.sock.recv_from(&mut buf)).await;
    assert_eq!(got.expect("relayed to the trunk").unwrap().0, n);
}

pub fn prompt(frames: usize) -> Prompt {
    let samples = (0..frames * 160)
        .map(|i| ((i % 160) as i16 - 80) * 100)
        .collect();
    Prompt::from_pcm("test", samples)
}
