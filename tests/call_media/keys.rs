//! The caller's keys reaching the call: RFC 4733 telephone-events and DTMF tones in the
//! audio, reported as `Key` only while the call collects input (`CollectKeys`).

use std::time::Duration;

use hotline::media::dtmf::goertzel::frequencies;
use hotline::media::{g711, Codec};
use hotline::runtime::call_media::{CallMediaEvent, MediaCommand};

use super::support::{rtp, start, Call, TRUNK_SSRC};

/// One press of `key` as a phone sends it: the start, then the end packet three times,
/// all with the event's timestamp `ts` on payload type 101 (RFC 4733 §2.5).
async fn press(call: &Call, code: u8, ts: u32, seq: u16) {
    for (i, end) in [false, true, true, true].into_iter().enumerate() {
        let flags = if end { 0x80 | 10 } else { 10 };
        let header = rtp(101, i == 0, seq + i as u16, ts, TRUNK_SSRC);
        let duration = 800u16.to_be_bytes();
        call.trunk
            .send(call.local, header, &[code, flags, duration[0], duration[1]])
            .await;
    }
}

/// No event within a window (simulated time: the window passes at once when idle).
async fn quiet(call: &mut Call) -> bool {
    tokio::time::timeout(Duration::from_millis(200), call.events.recv())
        .await
        .is_err()
}

#[tokio::test(start_paused = true)]
async fn events_are_keys_only_while_the_call_collects_them() {
    let mut call = start(Codec::Pcmu, Duration::from_secs(30)).await;
    press(&call, 5, 1000, 1).await;
    assert!(matches!(
        call.event().await,
        CallMediaEvent::FirstPacket { .. }
    ));
    assert!(quiet(&mut call).await, "not collecting: the 5 is not a key");

    call.media.command(MediaCommand::CollectKeys(true)).unwrap();
    press(&call, 2, 2000, 10).await;
    assert_eq!(call.event().await, CallMediaEvent::Key { key: '2' });
    assert!(quiet(&mut call).await, "one press is one key");

    call.media
        .command(MediaCommand::CollectKeys(false))
        .unwrap();
    press(&call, 3, 3000, 20).await;
    assert!(quiet(&mut call).await, "stopped: the 3 is not a key");
}

#[tokio::test(start_paused = true)]
async fn a_tone_in_the_audio_is_a_key() {
    let mut call = start(Codec::Pcmu, Duration::from_secs(30)).await;
    call.media.command(MediaCommand::CollectKeys(true)).unwrap();
    let (row, col) = frequencies('7').unwrap();
    let pcm: Vec<i16> = (0..160 * 6)
        .map(|n| {
            let t = n as f32 / 8000.0;
            let two_pi = 2.0 * std::f32::consts::PI;
            (5000.0 * ((two_pi * row * t).sin() + (two_pi * col * t).sin())) as i16
        })
        .collect();
    for (i, frame) in pcm.chunks(160).enumerate() {
        let mut payload = [0u8; 160];
        g711::encode(Codec::Pcmu, frame, &mut payload);
        let header = rtp(0, i == 0, 100 + i as u16, 160 * i as u32, TRUNK_SSRC);
        call.trunk.send(call.local, header, &payload).await;
    }
    assert!(matches!(
        call.event().await,
        CallMediaEvent::FirstPacket { .. }
    ));
    assert_eq!(call.event().await, CallMediaEvent::Key { key: '7' });
}
