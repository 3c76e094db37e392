//! The per-call media task over real UDP sockets on 127.0.0.1: a fake trunk and a fake
//! softphone exchange RTP with it; every wait is bounded and waits for packets or events.
//! Time is tokio's paused clock: prompt pacing, RTP inactivity and event retries run in
//! simulated time (the clock jumps to the next timer whenever every task is idle), so the
//! whole file takes milliseconds and no result depends on how busy the machine is.

#[path = "call_media/keys.rs"]
mod keys;
#[path = "call_media/support.rs"]
mod support;
#[path = "call_media/updates.rs"]
mod updates;

use std::time::Duration;

use tokio::time::Instant;

use hotline::media::player::PlayMode;
use hotline::media::rtp::{write_packet, RtpView};
use hotline::media::Codec;
use hotline::runtime::call_media::{
    frame_queue, spawn_call_media, CallMediaEvent, FrameReceiver, Leg, MediaCommand, RecordFrame,
};
use hotline::runtime::Clock;
use hotline::switchboard::CallRef;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use support::*;

#[tokio::test(start_paused = true)]
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

#[tokio::test(start_paused = true)]
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

#[tokio::test(start_paused = true)]
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

#[tokio::test(start_paused = true)]
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

#[tokio::test(start_paused = true)]
async fn the_operator_leg_latches_to_where_the_phone_sends_from() {
    let call = start(Codec::Pcmu, Duration::from_secs(30)).await;
    let decoy = Peer::bind().await; // the address in the phone's SDP
    let phone = Peer::bind().await; // where its RTP really comes from (NAT)
    let socket = leg_socket().await;
    let operator_local = socket.local_addr().unwrap();
    call.media
        .command(MediaCommand::Bridge {
            operator_socket: socket.into_std().unwrap(),
            operator: Box::new(leg(Codec::Pcmu, None, decoy.addr())),
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

#[tokio::test(start_paused = true)]
async fn a_phone_whose_nat_moves_it_is_followed_once_its_old_address_falls_silent() {
    let call = start(Codec::Pcmu, Duration::from_secs(30)).await;
    let (phone, operator_local) = call.bridge(Codec::Pcmu, None).await;
    relay_both_ways(&call, &phone, operator_local, 1).await;

    // While the phone talks, its leg's socket is connected to it: a datagram from
    // elsewhere is refused by the system (port unreachable), never relayed.
    let rebound = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    rebound.connect(operator_local).await.unwrap();
    let mut packet = [0u8; 200];
    let n = write_packet(
        &rtp(0, false, 2, 320, PHONE_SSRC),
        &[0x44; 160],
        &mut packet,
    )
    .unwrap();
    rebound.send(&packet[..n]).await.unwrap();
    let mut buf = [0u8; 200];
    let refused = tokio::time::timeout(WAIT, rebound.recv(&mut buf)).await;
    assert_eq!(
        refused
            .expect("an answer from the system")
            .map_err(|e| e.kind()),
        Err(std::io::ErrorKind::ConnectionRefused),
        "the leg takes datagrams only from the phone it latched to"
    );
    assert_eq!(call.trunk.count_within(Duration::from_millis(50)).await, 0);

    // The phone's NAT gives it a new port: after the latch's two seconds of silence from
    // the old one, the new one is heard and answered.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    rebound.send(&packet[..n]).await.unwrap();
    let relayed = call
        .trunk
        .recv(WAIT)
        .await
        .expect("the new address is heard");
    assert_eq!(relayed.payload, [0x44; 160]);
    call.trunk_sends(3, 0x55).await;
    let n = tokio::time::timeout(WAIT, rebound.recv(&mut buf))
        .await
        .expect("the trunk's audio goes to the new address")
        .unwrap();
    assert_eq!(RtpView::parse(&buf[..n]).unwrap().payload(), [0x55; 160]);
    assert_eq!(phone.count_within(Duration::from_millis(50)).await, 0);
}

#[tokio::test(start_paused = true)]
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

#[tokio::test(start_paused = true)]
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

#[tokio::test(start_paused = true)]
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

#[tokio::test(start_paused = true)]
async fn recorder_gets_each_inbound_audio_packet() {
    let call = start(Codec::Pcmu, Duration::from_secs(30)).await;
    let (phone, operator_local) = call.bridge(Codec::Pcma, None).await;
    let (tx, mut frames) = frame_queue(16);
    call.media
        .command(MediaCommand::Record {
            frames: Box::new(tx),
        })
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
        got.push(next_frame(&mut frames).await);
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

#[tokio::test(start_paused = true)]
async fn a_full_recorder_queue_drops_and_counts_never_stalls_the_call() {
    let mut call = start(Codec::Pcmu, Duration::from_secs(30)).await;
    let (phone, _) = call.bridge(Codec::Pcmu, None).await;
    let (tx, mut frames) = frame_queue(1);
    call.media
        .command(MediaCommand::Record {
            frames: Box::new(tx),
        })
        .unwrap();
    for i in 0..3 {
        call.trunk_sends(i, 0x42).await;
        phone
            .recv(WAIT)
            .await
            .expect("relayed although the recorder is behind");
    }
    assert_eq!(next_frame(&mut frames).await.audio(), [0x42; 160]);
    call.media.close();
    match call.event_skipping_first_packet().await {
        CallMediaEvent::Closed { stats } => assert_eq!(stats.record_dropped, 2),
        e => panic!("unexpected {e:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn events_wait_for_a_busy_engine_while_audio_flows() {
    let trunk = Peer::bind().await;
    let socket = leg_socket().await;
    // The engine's queue holds one event, and something else already fills it.
    let (tx, mut events) = mpsc::channel(1);
    tx.try_send((
        CallRef(99),
        CallMediaEvent::FirstPacket { leg: Leg::Operator },
    ))
    .unwrap();
    let media = spawn_call_media(
        &tokio::runtime::Handle::current(),
        CallRef(7),
        socket.into_std().unwrap(),
        leg(Codec::Pcmu, None, trunk.addr()),
        CALLER_STREAM,
        Duration::from_secs(30),
        Clock::system(),
        tx,
    );
    media
        .command(MediaCommand::Play {
            prompt: prompt(3),
            mode: PlayMode::Once,
            tag: 5,
        })
        .unwrap();
    // The prompt plays out although its report cannot be delivered yet.
    trunk.recv_n(3).await;
    let first = events.recv().await.unwrap();
    assert_eq!(first.0, CallRef(99));
    let next = tokio::time::timeout(WAIT, events.recv()).await.unwrap();
    assert_eq!(
        next,
        Some((CallRef(7), CallMediaEvent::PromptFinished { tag: 5 }))
    );
}

/// One packet each way through the bridge, then the recorder's queue emptied.
async fn relay_and_drain(
    call: &Call,
    phone: &Peer,
    operator_local: std::net::SocketAddr,
    frames: &mut FrameReceiver,
    i: u16,
) {
    relay_both_ways(call, phone, operator_local, i).await;
    while frames.try_recv().is_some() {}
}

/// The next recorded frame (the writer's side polls; so does the test, in paused time).
async fn next_frame(frames: &mut FrameReceiver) -> RecordFrame {
    tokio::time::timeout(WAIT, async {
        loop {
            match frames.try_recv() {
                Some(f) => return f,
                None => tokio::time::sleep(Duration::from_millis(1)).await,
            }
        }
    })
    .await
    .expect("a recorded frame")
}

#[test]
fn relaying_allocates_nothing_per_packet() {
    // One thread runs the test and the media task, so the per-thread count sees the task.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (call, phone, operator_local, mut frames) = rt.block_on(async {
        let call = start(Codec::Pcmu, Duration::from_secs(30)).await;
        let (phone, operator_local) = call.bridge(Codec::Pcma, Some(101)).await;
        let (tx, mut frames) = frame_queue(4);
        call.media
            .command(MediaCommand::Record {
                frames: Box::new(tx),
            })
            .unwrap();
        // Warm up: first packets and their events, latching, the channels' first blocks.
        for i in 0..50u16 {
            relay_and_drain(&call, &phone, operator_local, &mut frames, i).await;
        }
        (call, phone, operator_local, frames)
    });
    let packets = 500u16;
    let info = allocation_counter::measure(|| {
        rt.block_on(async {
            for i in 50..50 + packets {
                relay_and_drain(&call, &phone, operator_local, &mut frames, i).await;
            }
        })
    });
    let per_thousand = info.count_total * 1000 / (2 * u64::from(packets));
    assert_eq!(per_thousand, 0, "allocations per 1000 relayed packets");
}
