//! The per-call media task over real UDP sockets on 127.0.0.1: a fake trunk and a fake
//! softphone exchange RTP with it; every wait is bounded and waits for packets or events.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use hotline::media::player::{PlayMode, Prompt, RtpStreamState};
use hotline::media::relay::LegConfig;
use hotline::media::rtp::{write_packet, RtpHeader, RtpView};
use hotline::runtime::call_media::{
    spawn_call_media, CallMediaEvent, CallMediaHandle, Leg, MediaCommand, RecordFrame,
};
use hotline::sdp::Codec;
use hotline::switchboard::CallRef;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

/// Counts allocations per thread, so one test can see its own (tokio's current-thread
/// runtime runs the media task on the test's thread).
struct CountingAlloc;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

fn allocations() -> u64 {
    ALLOCATIONS.with(|c| c.get())
}

const WAIT: Duration = Duration::from_secs(2);
const CALLER_STREAM: RtpStreamState = RtpStreamState {
    ssrc: 0x5EED_0001,
    seq: 65_534,
    ts: 4_000_000,
};
const TRUNK_SSRC: u32 = 0x7A7A_7A7A;
const PHONE_SSRC: u32 = 0x0B0B_0B0B;

fn rtp(payload_type: u8, marker: bool, seq: u16, timestamp: u32, ssrc: u32) -> RtpHeader {
    RtpHeader {
        payload_type,
        marker,
        seq,
        timestamp,
        ssrc,
    }
}

/// A fake RTP peer.
struct Peer {
    sock: UdpSocket,
}

#[derive(Debug)]
struct Received {
    header: RtpHeader,
    payload: Vec<u8>,
}

impl Peer {
    async fn bind() -> Peer {
        Peer {
            sock: UdpSocket::bind("127.0.0.1:0").await.unwrap(),
        }
    }

    fn addr(&self) -> SocketAddr {
        self.sock.local_addr().unwrap()
    }

    async fn send(&self, to: SocketAddr, header: RtpHeader, payload: &[u8]) {
        let mut buf = [0u8; 1500];
        let n = write_packet(&header, payload, &mut buf).unwrap();
        self.sock.send_to(&buf[..n], to).await.unwrap();
    }

    async fn recv(&self, within: Duration) -> Option<Received> {
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

    async fn recv_n(&self, n: usize) -> Vec<Received> {
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
    async fn count_within(&self, window: Duration) -> usize {
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

struct Call {
    media: CallMediaHandle,
    events: mpsc::Receiver<(CallRef, CallMediaEvent)>,
    /// The task's caller-side socket.
    local: SocketAddr,
    trunk: Peer,
}

fn leg(codec: Codec, telephone_event: Option<u8>, sdp_addr: SocketAddr) -> LegConfig {
    LegConfig {
        codec,
        payload_type: codec.payload_type(),
        telephone_event,
        sdp_addr,
    }
}

async fn start(codec: Codec, inactivity: Duration) -> Call {
    let trunk = Peer::bind().await;
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let local = socket.local_addr().unwrap();
    let (tx, events) = mpsc::channel(64);
    let media = spawn_call_media(
        CallRef(7),
        socket,
        leg(codec, Some(101), trunk.addr()),
        CALLER_STREAM,
        inactivity,
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
    async fn event(&mut self) -> CallMediaEvent {
        let (call, event) = tokio::time::timeout(WAIT, self.events.recv())
            .await
            .expect("an event in time")
            .expect("the task reports");
        assert_eq!(call, CallRef(7));
        event
    }

    /// The next event other than `FirstPacket`.
    async fn event_skipping_first_packet(&mut self) -> CallMediaEvent {
        loop {
            match self.event().await {
                CallMediaEvent::FirstPacket { .. } => continue,
                e => return e,
            }
        }
    }

    /// Bridges to a fake phone; returns it and the task's operator-side address.
    async fn bridge(&self, codec: Codec, telephone_event: Option<u8>) -> (Peer, SocketAddr) {
        let phone = Peer::bind().await;
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let local = socket.local_addr().unwrap();
        self.media
            .command(MediaCommand::Bridge {
                operator_socket: socket,
                operator: leg(codec, telephone_event, phone.addr()),
            })
            .unwrap();
        (phone, local)
    }

    /// The trunk sends 20 ms packet `i` of a stream of constant bytes.
    async fn trunk_sends(&self, i: u16, byte: u8) {
        // The trunk talks μ-law in these tests.
        let header = rtp(0, i == 0, 1000 + i, 160 * u32::from(i), TRUNK_SSRC);
        self.trunk.send(self.local, header, &[byte; 160]).await;
    }
}

fn prompt(frames: usize) -> Prompt {
    let samples = (0..frames * 160)
        .map(|i| ((i % 160) as i16 - 80) * 100)
        .collect();
    Prompt::from_pcm("test", samples)
}

#[tokio::test]
async fn play_once_sends_every_frame_then_reports() {
    let mut call = start(Codec::Pcmu, Duration::from_secs(30)).await;
    let p = prompt(5);
    call.media
        .command(MediaCommand::Play {
            prompt: p.clone(),
            mode: PlayMode::Once,
            tag: 42,
        })
        .unwrap();
    let got = call.trunk.recv_n(5).await;
    assert_eq!(
        call.event().await,
        CallMediaEvent::PromptFinished { tag: 42 }
    );
    for (i, r) in got.iter().enumerate() {
        assert_eq!(r.header.ssrc, CALLER_STREAM.ssrc);
        assert_eq!(r.header.seq, CALLER_STREAM.seq.wrapping_add(i as u16));
        assert_eq!(r.header.payload_type, 0);
        assert_eq!(r.header.marker, i == 0);
        assert_eq!(r.payload, p.encoded(Codec::Pcmu)[i * 160..(i + 1) * 160]);
    }
    assert_eq!(call.trunk.count_within(Duration::from_millis(100)).await, 0);
    call.media.close();
    match call.event().await {
        CallMediaEvent::Closed { stats } => assert_eq!(stats.prompt_packets, 5),
        e => panic!("unexpected {e:?}"),
    }
}

#[tokio::test]
async fn loop_plays_until_stopped() {
    let call = start(Codec::Pcma, Duration::from_secs(30)).await;
    let p = prompt(2);
    let play = MediaCommand::Play {
        prompt: p.clone(),
        mode: PlayMode::Loop,
        tag: 1,
    };
    call.media.command(play).unwrap();
    let got = call.trunk.recv_n(5).await;
    for (i, r) in got.iter().enumerate() {
        let frame = i % 2;
        assert_eq!(
            r.payload,
            p.encoded(Codec::Pcma)[frame * 160..(frame + 1) * 160]
        );
        assert_eq!(r.header.payload_type, 8);
    }
    call.media.command(MediaCommand::StopPlayback).unwrap();
    // Whatever was in flight, then nothing.
    let _ = call.trunk.count_within(Duration::from_millis(60)).await;
    assert_eq!(call.trunk.count_within(Duration::from_millis(100)).await, 0);
}

#[tokio::test]
async fn bridge_transcodes_both_ways_with_our_stream_numbers() {
    let mut call = start(Codec::Pcmu, Duration::from_secs(30)).await;
    let (phone, operator_local) = call.bridge(Codec::Pcma, Some(101)).await;
    for i in 0..5 {
        call.trunk_sends(i, 0x80).await; // μ-law full scale: A-law 0xAA
    }
    let at_phone = phone.recv_n(5).await;
    let ssrc = at_phone[0].header.ssrc;
    assert_ne!(ssrc, TRUNK_SSRC, "the B2BUA's own stream");
    for (i, r) in at_phone.iter().enumerate() {
        assert_eq!(r.header.ssrc, ssrc);
        assert_eq!(r.header.payload_type, 8);
        assert_eq!(r.header.seq, at_phone[0].header.seq.wrapping_add(i as u16));
        assert_eq!(
            r.header.timestamp,
            at_phone[0].header.timestamp.wrapping_add(160 * i as u32)
        );
        assert!(r.payload.iter().all(|&b| b == 0xAA));
    }
    for i in 0..5u16 {
        let ts = 777 + 160 * u32::from(i);
        phone
            .send(
                operator_local,
                rtp(8, false, 50 + i, ts, PHONE_SSRC),
                &[0xAA; 160],
            )
            .await;
    }
    let at_trunk = call.trunk.recv_n(5).await;
    for (i, r) in at_trunk.iter().enumerate() {
        assert_eq!(r.header.ssrc, CALLER_STREAM.ssrc);
        assert_eq!(r.header.payload_type, 0);
        assert_eq!(
            r.header.seq,
            CALLER_STREAM.seq.wrapping_add(i as u16),
            "across the wrap"
        );
        assert_eq!(r.header.marker, i == 0);
        assert!(r.payload.iter().all(|&b| b == 0x80));
    }
    assert_eq!(
        call.event().await,
        CallMediaEvent::FirstPacket { leg: Leg::Caller }
    );
    assert_eq!(
        call.event().await,
        CallMediaEvent::FirstPacket { leg: Leg::Operator }
    );
    call.media.close();
    match call.event().await {
        CallMediaEvent::Closed { stats } => {
            assert_eq!((stats.caller.packets_in, stats.caller.packets_out), (5, 5));
            assert_eq!(
                (stats.operator.packets_in, stats.operator.packets_out),
                (5, 5)
            );
            assert_eq!(stats.send_dropped, 0);
        }
        e => panic!("unexpected {e:?}"),
    }
}

#[tokio::test]
async fn dtmf_passes_with_the_operators_payload_type() {
    let call = start(Codec::Pcmu, Duration::from_secs(30)).await;
    let (phone, _) = call.bridge(Codec::Pcmu, Some(96)).await;
    call.trunk_sends(0, 0xFF).await;
    phone.recv_n(1).await;
    let event = [9, 10, 0, 160];
    call.trunk
        .send(call.local, rtp(101, true, 1001, 160, TRUNK_SSRC), &event)
        .await;
    let r = phone.recv(WAIT).await.expect("the event is relayed");
    assert_eq!(r.header.payload_type, 96);
    assert!(r.header.marker);
    assert_eq!(r.payload, event);
}

#[tokio::test]
async fn the_operator_leg_latches_to_where_the_phone_sends_from() {
    let call = start(Codec::Pcmu, Duration::from_secs(30)).await;
    let decoy = Peer::bind().await; // the address in the phone's SDP
    let phone = Peer::bind().await; // where its RTP really comes from (NAT)
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let operator_local = socket.local_addr().unwrap();
    call.media
        .command(MediaCommand::Bridge {
            operator_socket: socket,
            operator: leg(Codec::Pcmu, None, decoy.addr()),
        })
        .unwrap();
    call.trunk_sends(0, 0x11).await;
    assert!(
        decoy.recv(WAIT).await.is_some(),
        "before latching: the SDP address"
    );
    phone
        .send(operator_local, rtp(0, true, 1, 0, PHONE_SSRC), &[0x22; 160])
        .await;
    assert_eq!(call.trunk.recv(WAIT).await.unwrap().payload, [0x22; 160]);
    call.trunk_sends(1, 0x33).await;
    assert_eq!(phone.recv(WAIT).await.unwrap().payload, [0x33; 160]);
    assert_eq!(decoy.count_within(Duration::from_millis(50)).await, 0);
}

#[tokio::test]
async fn hold_plays_music_to_the_caller_and_unhold_resumes_in_time() {
    let call = start(Codec::Pcmu, Duration::from_secs(30)).await;
    let (phone, operator_local) = call.bridge(Codec::Pcmu, None).await;
    let sent_first = Instant::now();
    call.trunk_sends(0, 0x10).await;
    let before = phone.recv(WAIT).await.unwrap();
    let relayed_first = Instant::now();
    phone
        .send(operator_local, rtp(0, true, 1, 0, PHONE_SSRC), &[0x20; 160])
        .await;
    let to_caller = call.trunk.recv(WAIT).await.unwrap();

    let music = prompt(3);
    call.media
        .command(MediaCommand::Hold {
            music: music.clone(),
        })
        .unwrap();
    let held = call.trunk.recv_n(4).await;
    assert_eq!(held[0].payload, music.encoded(Codec::Pcmu)[..160]);
    assert!(held[0].header.marker);
    assert_eq!(held[0].header.seq, to_caller.header.seq.wrapping_add(1));
    // The phone hears nothing, and what it sends does not reach the caller.
    call.trunk_sends(1, 0x10).await;
    phone
        .send(
            operator_local,
            rtp(0, false, 2, 160, PHONE_SSRC),
            &[0x20; 160],
        )
        .await;
    assert_eq!(phone.count_within(Duration::from_millis(100)).await, 0);
    let more_music = call.trunk.count_within(Duration::from_millis(60)).await;
    assert!(more_music >= 1);

    call.media.command(MediaCommand::Unhold).unwrap();
    let sent_again = Instant::now();
    call.trunk_sends(2, 0x10).await;
    let after = phone.recv(WAIT).await.unwrap();
    let relayed_again = Instant::now();
    assert!(after.header.marker, "a new talkspurt after the hold");
    assert_eq!(after.header.seq, before.header.seq.wrapping_add(1));
    // The task handled each packet between its sending and its arrival: the timestamp
    // jump is the wall time between the two, bracketed by what this side saw.
    let samples = |d: Duration| (d.as_micros() / 125) as u32;
    let least = samples(sent_again - relayed_first);
    let most = samples(relayed_again - sent_first) + 1;
    let jump = after.header.timestamp.wrapping_sub(before.header.timestamp);
    assert!(
        least > 1600 && (least..=most).contains(&jump),
        "ts jumped {jump} samples; between {least} and {most} elapsed"
    );
    phone
        .send(
            operator_local,
            rtp(0, false, 3, 320, PHONE_SSRC),
            &[0x20; 160],
        )
        .await;
    let mut music_sent = held.len() + more_music;
    let back = loop {
        let r = call
            .trunk
            .recv(WAIT)
            .await
            .expect("the operator is heard again");
        if r.payload == [0x20; 160] {
            break r;
        }
        music_sent += 1; // in flight when the hold ended
    };
    assert!(back.header.marker);
    let last_music = music_sent;
    assert_eq!(
        back.header.seq,
        to_caller.header.seq.wrapping_add(last_music as u16 + 1),
        "continuous after the music, whatever arrived in flight"
    );
}

#[tokio::test]
async fn a_silent_caller_is_reported_once() {
    let mut call = start(Codec::Pcmu, Duration::from_millis(300)).await;
    let started = Instant::now();
    call.trunk_sends(0, 0xFF).await;
    assert_eq!(
        call.event().await,
        CallMediaEvent::FirstPacket { leg: Leg::Caller }
    );
    match call.event().await {
        CallMediaEvent::Inactive { leg, silent_for } => {
            assert_eq!(leg, Leg::Caller);
            assert!(silent_for >= Duration::from_millis(300));
            assert!(started.elapsed() >= Duration::from_millis(300));
        }
        e => panic!("unexpected {e:?}"),
    }
    // Once: no second report while the silence goes on.
    let again = tokio::time::timeout(Duration::from_millis(400), call.events.recv()).await;
    assert!(again.is_err(), "reported again: {again:?}");
}

#[tokio::test]
async fn a_silent_operator_is_reported_but_not_while_holding() {
    let mut call = start(Codec::Pcmu, Duration::from_millis(300)).await;
    let (phone, operator_local) = call.bridge(Codec::Pcmu, None).await;
    call.media
        .command(MediaCommand::Hold { music: prompt(1) })
        .unwrap();
    // For 500 ms of music the caller keeps talking (a packet per music frame heard); the
    // holding operator sends nothing.
    for i in 0..25 {
        call.trunk.recv(WAIT).await.expect("music");
        call.trunk_sends(i, 0xFF).await;
    }
    assert_eq!(
        call.event().await,
        CallMediaEvent::FirstPacket { leg: Leg::Caller }
    );
    call.media.command(MediaCommand::Unhold).unwrap();
    phone
        .send(
            operator_local,
            rtp(0, false, 1, 0, PHONE_SSRC),
            &[0xFF; 160],
        )
        .await;
    assert_eq!(
        call.event().await,
        CallMediaEvent::FirstPacket { leg: Leg::Operator }
    );
    let mut inactive = Vec::new();
    while inactive.len() < 2 {
        if let CallMediaEvent::Inactive { leg, .. } = call.event_skipping_first_packet().await {
            inactive.push(leg);
        }
    }
    inactive.sort_by_key(|l| *l == Leg::Operator);
    assert_eq!(inactive, [Leg::Caller, Leg::Operator]);
}

#[tokio::test]
async fn recorder_gets_each_inbound_audio_packet() {
    let call = start(Codec::Pcmu, Duration::from_secs(30)).await;
    let (phone, operator_local) = call.bridge(Codec::Pcma, None).await;
    let (tx, mut frames) = mpsc::channel::<RecordFrame>(16);
    call.media
        .command(MediaCommand::Record { frames: tx })
        .unwrap();
    call.trunk_sends(0, 0x42).await;
    phone.recv_n(1).await;
    // A 30 ms packet from the phone is recorded as 20 ms + 10 ms.
    phone
        .send(
            operator_local,
            rtp(8, true, 9, 1600, PHONE_SSRC),
            &[0x55; 240],
        )
        .await;
    call.trunk.recv_n(1).await;
    let mut got = Vec::new();
    while got.len() < 3 {
        let f = tokio::time::timeout(WAIT, frames.recv())
            .await
            .unwrap()
            .unwrap();
        got.push(f);
    }
    assert_eq!(
        (got[0].leg, got[0].seq, got[0].ts, got[0].ssrc),
        (Leg::Caller, 1000, 0, TRUNK_SSRC)
    );
    assert_eq!((got[0].codec, got[0].len), (Codec::Pcmu, 160));
    assert_eq!(got[0].payload, [0x42; 160]);
    assert_eq!(
        (got[1].leg, got[1].ts, got[1].len, got[1].codec),
        (Leg::Operator, 1600, 160, Codec::Pcma)
    );
    assert_eq!((got[2].ts, got[2].len), (1760, 80));
    assert_eq!(&got[2].payload[..80], &[0x55; 80][..]);
}

#[tokio::test]
async fn relaying_allocates_nothing_per_packet() {
    let call = start(Codec::Pcmu, Duration::from_secs(30)).await;
    let (phone, operator_local) = call.bridge(Codec::Pcma, Some(101)).await;
    let (tx, mut frames) = mpsc::channel::<RecordFrame>(4);
    call.media
        .command(MediaCommand::Record { frames: tx })
        .unwrap();
    let mut packet = [0u8; 200];
    let mut recv_buf = [0u8; 200];
    let mut relay_both_ways = async |i: u16| {
        let header = RtpHeader {
            payload_type: 0,
            marker: false,
            seq: i,
            timestamp: 160 * u32::from(i),
            ssrc: TRUNK_SSRC,
        };
        let n = write_packet(&header, &[0x80; 160], &mut packet).unwrap();
        call.trunk
            .sock
            .send_to(&packet[..n], call.local)
            .await
            .unwrap();
        let got = tokio::time::timeout(WAIT, phone.sock.recv_from(&mut recv_buf)).await;
        assert_eq!(got.unwrap().unwrap().0, n);
        phone
            .sock
            .send_to(&packet[..n], operator_local)
            .await
            .unwrap();
        let got = tokio::time::timeout(WAIT, call.trunk.sock.recv_from(&mut recv_buf)).await;
        assert_eq!(got.unwrap().unwrap().0, n);
        while frames.try_recv().is_ok() {}
    };
    // Warm up: first packets and their events, latching, the channels' first blocks.
    for i in 0..50u16 {
        relay_both_ways(i).await;
    }
    let before = allocations();
    let packets = 500u16;
    for i in 50..50 + packets {
        relay_both_ways(i).await;
    }
    let per_thousand = (allocations() - before) * 1000 / (2 * u64::from(packets));
    assert_eq!(per_thousand, 0, "allocations per 1000 relayed packets");
}
