//! Relay leg tests: the packets a far end would receive, at simulated times.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::*;
use crate::media::player::{PlayMode, Prompt, PromptPlayer, MAX_PACKET_LEN};
use crate::media::rtp::write_packet;

const MS: Duration = Duration::from_millis(1);
const TRUNK: &str = "192.0.2.10:30000";
const PHONE: &str = "198.51.100.20:40000";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn cfg(codec: Codec, telephone_event: Option<u8>, sdp: &str) -> LegConfig {
    LegConfig {
        codec,
        payload_type: codec.payload_type(),
        telephone_event,
        sdp_addr: addr(sdp),
        srtp: None,
    }
}

const OUT: RtpStreamState = RtpStreamState {
    ssrc: 0xCAFE_0001,
    seq: 500,
    ts: 80_000,
};

/// The caller leg (receives from the trunk) and the operator leg (sends to the phone).
fn legs(t0: Instant, caller: Codec, operator: Codec) -> (RelayLeg, RelayLeg) {
    let c = RelayLeg::new(cfg(caller, Some(101), TRUNK), OUT, t0);
    let o = RelayLeg::new(
        cfg(operator, Some(96), PHONE),
        RtpStreamState {
            ssrc: 0xCAFE_0002,
            seq: 65_530,
            ts: u32::MAX - 200,
        },
        t0,
    );
    (c, o)
}

fn packet(pt: u8, marker: bool, seq: u16, ts: u32, ssrc: u32, payload: &[u8]) -> Vec<u8> {
    let mut buf = vec![0u8; 1500];
    let header = RtpHeader {
        payload_type: pt,
        marker,
        seq,
        timestamp: ts,
        ssrc,
    };
    let len = write_packet(&header, payload, &mut buf).unwrap();
    buf.truncate(len);
    buf
}

fn audio(pt: u8, seq: u16, ts: u32) -> Vec<u8> {
    packet(pt, false, seq, ts, 0x7777, &[0x80; 160])
}

/// Feeds `p` into `from` (from the trunk) and relays it through `to`; what `to`'s peer gets.
fn relay(
    now: Instant,
    from: &mut RelayLeg,
    to: &mut RelayLeg,
    p: &[u8],
) -> Option<(RtpHeader, Vec<u8>)> {
    let inbound = from.handle_inbound(now, addr(TRUNK), p)?;
    let mut out = [0u8; 1500];
    let n = to.relay_from(now, &inbound, p, &mut out)?;
    let view = RtpView::parse(&out[..n]).unwrap();
    Some((view.header(), view.payload().to_vec()))
}

#[test]
fn relayed_audio_gets_our_ssrc_continuous_numbers_and_is_transcoded() {
    let t0 = Instant::now();
    let (mut caller, mut operator) = legs(t0, Codec::Pcmu, Codec::Pcma);
    let mut sent = Vec::new();
    for i in 0..10u16 {
        let now = t0 + 20 * MS * u32::from(i);
        let p = audio(0, 65_533u16.wrapping_add(i), 1_000 + 160 * u32::from(i));
        sent.push(relay(now, &mut caller, &mut operator, &p).unwrap());
    }
    for (i, (h, payload)) in sent.iter().enumerate() {
        assert_eq!(h.ssrc, 0xCAFE_0002);
        assert_eq!(h.payload_type, 8);
        assert_eq!(h.seq, 65_530u16.wrapping_add(i as u16), "sequence wraps on");
        assert_eq!(
            h.timestamp,
            (u32::MAX - 200).wrapping_add(160 * i as u32),
            "timestamps wrap on"
        );
        assert_eq!(h.marker, i == 0, "marker only on the first");
        // μ-law 0x80 (full positive scale) is A-law 0xAA.
        assert!(payload.iter().all(|&b| b == 0xAA));
    }
    let s = operator.stats();
    assert_eq!((s.packets_out, s.bytes_out), (10, 10 * 172));
    assert_eq!(caller.stats().packets_in, 10);
    assert_eq!(caller.stats().lost, 0);
}

#[test]
fn every_byte_is_transcoded_as_g711_does_both_ways() {
    let t0 = Instant::now();
    let all: Vec<u8> = (0..=255).collect();
    for (from, to) in [(Codec::Pcmu, Codec::Pcma), (Codec::Pcma, Codec::Pcmu)] {
        let (mut caller, mut operator) = legs(t0, from, to);
        let p = packet(from.payload_type(), false, 1, 0, 9, &all);
        let (_, payload) = relay(t0, &mut caller, &mut operator, &p).unwrap();
        let mut expected = all.clone();
        g711::transcode(from, to, &mut expected);
        assert_eq!(payload, expected);
        assert_ne!(payload, all);
    }
}

#[test]
fn same_law_is_passed_through_untouched() {
    let t0 = Instant::now();
    let (mut caller, mut operator) = legs(t0, Codec::Pcma, Codec::Pcma);
    let body: Vec<u8> = (0..160).map(|i| i as u8).collect();
    let p = packet(8, false, 1, 1, 9, &body);
    let (h, payload) = relay(t0, &mut caller, &mut operator, &p).unwrap();
    assert_eq!(h.payload_type, 8);
    assert_eq!(payload, body);
}

#[test]
fn first_packet_time_counts_from_the_legs_creation() {
    let t0 = Instant::now();
    let (mut caller, mut operator) = legs(t0, Codec::Pcmu, Codec::Pcmu);
    let (h, _) = relay(t0 + 250 * MS, &mut caller, &mut operator, &audio(0, 7, 7)).unwrap();
    assert_eq!(h.timestamp, (u32::MAX - 200).wrapping_add(2000));
    assert_eq!(h.seq, 65_530);
}

#[test]
fn player_then_relay_then_player_is_one_continuous_stream() {
    let t0 = Instant::now();
    let (mut trunk_side, mut caller) = legs(t0, Codec::Pcmu, Codec::Pcmu);
    // The caller hears a 100 ms prompt from t0.
    let prompt = Prompt::from_pcm("greeting", vec![0; 800]);
    let state = caller.stream_for_player(t0);
    assert_eq!(state.ssrc, 0xCAFE_0002);
    let mut player = PromptPlayer::new(
        prompt.clone(),
        Codec::Pcmu,
        0,
        state,
        PlayMode::Once,
        t0,
        true,
    );
    let mut buf = [0u8; MAX_PACKET_LEN];
    let mut wire = Vec::new();
    let mut now = t0;
    while !player.is_finished() {
        while let Some(n) = player.poll_transmit(now, &mut buf) {
            wire.push(RtpView::parse(&buf[..n]).unwrap().header());
        }
        now += 20 * MS;
    }
    let stopped = t0 + 80 * MS; // the last frame's time
    caller.resume_after_player(player.stream_state(), stopped);
    // Relayed audio (here from the "other" leg) starts 500 ms after the prompt started.
    let at = t0 + 500 * MS;
    for i in 0..3u32 {
        let p = audio(0, 40 + i as u16, 9_999 + 160 * i);
        let (h, _) = relay(at + 20 * MS * i, &mut trunk_side, &mut caller, &p).unwrap();
        wire.push(h);
    }
    // Hold music from 1 s.
    let hold = t0 + 1000 * MS;
    caller.end_source();
    let state = caller.stream_for_player(hold);
    let mut music = PromptPlayer::new(prompt, Codec::Pcmu, 0, state, PlayMode::Loop, hold, true);
    let n = music.poll_transmit(hold, &mut buf).unwrap();
    wire.push(RtpView::parse(&buf[..n]).unwrap().header());

    let seqs: Vec<u16> = wire.iter().map(|h| h.seq).collect();
    let expected: Vec<u16> = (0..9u16).map(|i| 65_530u16.wrapping_add(i)).collect();
    assert_eq!(seqs, expected, "no gap, no repeat, across all sources");
    assert!(wire.iter().all(|h| h.ssrc == 0xCAFE_0002));
    let base = u32::MAX - 200;
    let ts: Vec<u32> = wire
        .iter()
        .map(|h| h.timestamp.wrapping_sub(base))
        .collect();
    // Prompt frames at 0..80 ms, relay from 500 ms, music at 1000 ms: time in samples.
    assert_eq!(ts, [0, 160, 320, 480, 640, 4000, 4160, 4320, 8000]);
    let markers: Vec<bool> = wire.iter().map(|h| h.marker).collect();
    assert_eq!(
        markers,
        [true, false, false, false, false, true, false, false, true]
    );
}

#[test]
fn nothing_is_relayed_while_a_player_owns_the_stream() {
    let t0 = Instant::now();
    let (mut trunk_side, mut caller) = legs(t0, Codec::Pcmu, Codec::Pcmu);
    let state = caller.stream_for_player(t0);
    assert!(relay(t0 + 10 * MS, &mut trunk_side, &mut caller, &audio(0, 1, 0)).is_none());
    caller.resume_after_player(state, t0 + 20 * MS);
    let (h, _) = relay(
        t0 + 40 * MS,
        &mut trunk_side,
        &mut caller,
        &audio(0, 2, 160),
    )
    .unwrap();
    assert_eq!(
        h.seq, state.seq,
        "the player sent nothing: its numbers are free"
    );
    assert_eq!(h.timestamp, state.ts.wrapping_add(320));
}

#[test]
fn a_switch_never_overlaps_the_last_packet() {
    let t0 = Instant::now();
    let (mut caller, mut operator) = legs(t0, Codec::Pcmu, Codec::Pcmu);
    let (first, _) = relay(t0, &mut caller, &mut operator, &audio(0, 1, 0)).unwrap();
    // 5 ms later the source's SSRC changes (the trunk re-INVITEd): the new stream starts
    // after the 160 samples already sent, not 40 samples in.
    let p = packet(0, false, 900, 123_456, 0x8888, &[0xFF; 160]);
    let (h, _) = relay(t0 + 5 * MS, &mut caller, &mut operator, &p).unwrap();
    assert_eq!(h.timestamp, first.timestamp.wrapping_add(160));
    assert_eq!(h.seq, first.seq.wrapping_add(1));
    assert!(h.marker);
}

#[test]
fn source_timing_is_kept_within_a_stream() {
    let t0 = Instant::now();
    let (mut caller, mut operator) = legs(t0, Codec::Pcmu, Codec::Pcmu);
    let (a, _) = relay(t0, &mut caller, &mut operator, &audio(0, 10, 1_000)).unwrap();
    // The source skipped 2 s of silence (VAD) and two packets were lost on the way.
    let (b, _) = relay(
        t0 + 30 * MS,
        &mut caller,
        &mut operator,
        &audio(0, 13, 17_000),
    )
    .unwrap();
    assert_eq!(ts_delta(a.timestamp, b.timestamp), 16_000);
    assert_eq!(seq_delta(a.seq, b.seq), 3, "the far end sees the loss");
    assert!(!b.marker);
    // A reordered packet keeps its place.
    let (c, _) = relay(
        t0 + 31 * MS,
        &mut caller,
        &mut operator,
        &audio(0, 12, 16_840),
    )
    .unwrap();
    assert_eq!(seq_delta(a.seq, c.seq), 2);
    assert_eq!(ts_delta(a.timestamp, c.timestamp), 15_840);
    assert_eq!(caller.stats().lost, 1);
    assert_eq!(caller.stats().late, 1);
}

#[test]
fn a_long_stream_flows_across_many_wraps() {
    let t0 = Instant::now();
    let (mut caller, mut operator) = legs(t0, Codec::Pcmu, Codec::Pcmu);
    let skipped = 171_072u32; // 40000 after two wraps: half the space from the start
    let mut last: Option<RtpHeader> = None;
    for i in (0..171_075u32).filter(|&i| i != skipped) {
        let now = t0 + 20 * MS * i;
        let p = audio(0, i as u16, i.wrapping_mul(160));
        let (h, _) = relay(now, &mut caller, &mut operator, &p).expect("every packet relayed");
        if let Some(prev) = last {
            let step = if i == skipped + 1 { 2 } else { 1 };
            assert_eq!(seq_delta(prev.seq, h.seq), step);
            assert_eq!(ts_delta(prev.timestamp, h.timestamp), 160 * i32::from(step));
        }
        last = Some(h);
    }
    // The missing packet, late, still finds its place after the wraps.
    let late = audio(0, skipped as u16, skipped * 160);
    let at = t0 + 20 * MS * 171_075;
    let (h, _) = relay(at, &mut caller, &mut operator, &late).unwrap();
    assert_eq!(seq_delta(h.seq, last.unwrap().seq), 2);
}

#[test]
fn loss_late_and_duplicates_are_counted_across_the_wrap() {
    let t0 = Instant::now();
    let mut leg = RelayLeg::new(cfg(Codec::Pcmu, None, TRUNK), OUT, t0);
    let mut feed = |seq: u16| {
        leg.handle_inbound(t0, addr(TRUNK), &audio(0, seq, 0))
            .is_some()
    };
    assert!(feed(65_534));
    assert!(feed(65_535));
    assert!(feed(2)); // 0 and 1 missing
    assert!(!feed(2)); // duplicate
    assert!(feed(0)); // late, fills a gap
    assert!(!feed(0)); // duplicate of a late one
    assert!(feed(10)); // 3..=9 missing
    assert!(!feed(65_535)); // duplicate from before the wrap
    let s = leg.stats();
    assert_eq!(s.packets_in, 8);
    assert_eq!(s.lost, 1 + 7);
    assert_eq!(s.late, 1);
    assert_eq!(s.duplicates, 3);
}

#[test]
fn a_packet_too_late_is_counted_and_not_forwarded() {
    let t0 = Instant::now();
    let mut leg = RelayLeg::new(cfg(Codec::Pcmu, None, TRUNK), OUT, t0);
    assert!(leg
        .handle_inbound(t0, addr(TRUNK), &audio(0, 1000, 0))
        .is_some());
    assert!(leg
        .handle_inbound(t0, addr(TRUNK), &audio(0, 1080, 0))
        .is_some());
    assert!(leg
        .handle_inbound(t0, addr(TRUNK), &audio(0, 1001, 0))
        .is_none());
    assert_eq!(leg.stats().late, 1);
    assert_eq!(leg.stats().lost, 79, "too late to fill its gap");
}

#[test]
fn a_sequence_restart_is_confirmed_by_the_next_packet() {
    let t0 = Instant::now();
    let (mut caller, mut operator) = legs(t0, Codec::Pcmu, Codec::Pcmu);
    relay(t0, &mut caller, &mut operator, &audio(0, 100, 0)).unwrap();
    relay(
        t0 + 20 * MS,
        &mut caller,
        &mut operator,
        &audio(0, 101, 160),
    )
    .unwrap();
    // Same SSRC, sequence far away: one stray packet is not trusted...
    assert!(relay(
        t0 + 40 * MS,
        &mut caller,
        &mut operator,
        &audio(0, 30_000, 5)
    )
    .is_none());
    // ...but a second in sequence confirms the restart, without a gap on our side.
    let (h, _) = relay(
        t0 + 60 * MS,
        &mut caller,
        &mut operator,
        &audio(0, 30_001, 165),
    )
    .unwrap();
    assert_eq!(h.seq, 65_532);
    assert!(h.marker);
    assert_eq!(
        h.timestamp,
        (u32::MAX - 200).wrapping_add(480),
        "by wall time"
    );
    assert_eq!(caller.stats().lost, 0);
}

#[test]
fn telephone_events_take_the_peers_payload_type_and_keep_their_marker() {
    let t0 = Instant::now();
    let (mut caller, mut operator) = legs(t0, Codec::Pcmu, Codec::Pcma);
    relay(t0, &mut caller, &mut operator, &audio(0, 1, 0)).unwrap();
    // Digit 5, volume 10, duration 160, then the end packet (RFC 4733 §2.3).
    let start = [5, 10, 0, 160];
    let end = [5, 0x80 | 10, 1, 64];
    let p1 = packet(101, true, 2, 160, 0x7777, &start);
    let p2 = packet(101, false, 3, 160, 0x7777, &end);
    let (h1, b1) = relay(t0 + 20 * MS, &mut caller, &mut operator, &p1).unwrap();
    let (h2, b2) = relay(t0 + 40 * MS, &mut caller, &mut operator, &p2).unwrap();
    assert_eq!((h1.payload_type, h2.payload_type), (96, 96));
    assert!(h1.marker && !h2.marker);
    assert_eq!(h1.timestamp, h2.timestamp, "one event, one timestamp");
    assert_eq!((b1, b2), (start.to_vec(), end.to_vec()), "never transcoded");
    assert_eq!(caller.stats().dtmf_events, 1);
}

#[test]
fn unnegotiated_events_and_comfort_noise_are_dropped_without_a_gap() {
    let t0 = Instant::now();
    let mut caller = RelayLeg::new(cfg(Codec::Pcmu, Some(101), TRUNK), OUT, t0);
    let mut operator = RelayLeg::new(cfg(Codec::Pcmu, None, PHONE), OUT, t0);
    let (a, _) = relay(t0, &mut caller, &mut operator, &audio(0, 1, 0)).unwrap();
    let event = packet(101, true, 2, 160, 0x7777, &[1, 10, 0, 160]);
    assert!(relay(t0 + 20 * MS, &mut caller, &mut operator, &event).is_none());
    let cn = packet(13, false, 3, 320, 0x7777, &[40]);
    assert!(relay(t0 + 40 * MS, &mut caller, &mut operator, &cn).is_none());
    let (b, _) = relay(t0 + 60 * MS, &mut caller, &mut operator, &audio(0, 4, 480)).unwrap();
    assert_eq!(seq_delta(a.seq, b.seq), 1);
    assert_eq!(ts_delta(a.timestamp, b.timestamp), 480);
    assert_eq!(operator.stats().not_relayed, 2);
    assert_eq!(caller.stats().comfort_noise, 1);
    // A packet older than the dropped ones has lost its place.
    assert!(relay(t0 + 61 * MS, &mut caller, &mut operator, &audio(0, 0, 0)).is_none());
}

#[test]
fn latches_to_the_peer_and_ignores_others() {
    let t0 = Instant::now();
    let mut leg = RelayLeg::new(cfg(Codec::Pcmu, None, TRUNK), OUT, t0);
    assert_eq!(leg.target(), addr(TRUNK));
    assert_eq!(leg.last_inbound(), None);
    let nat = addr("203.0.113.5:50000");
    assert!(leg.handle_inbound(t0, nat, &audio(0, 1, 0)).is_some());
    assert_eq!(leg.target(), nat);
    assert_eq!(leg.last_inbound(), Some(t0));
    let stranger = addr("203.0.113.6:50000");
    assert!(leg
        .handle_inbound(t0 + MS, stranger, &audio(0, 2, 160))
        .is_none());
    let rtcp = [0x80, 200, 0, 6, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0];
    assert!(leg.handle_inbound(t0 + MS, nat, &rtcp).is_none());
    assert!(leg
        .handle_inbound(t0 + MS, nat, &audio(18, 2, 160))
        .is_none());
    assert_eq!(leg.stats().ignored, 3);
    assert_eq!(leg.target(), nat);
}

#[test]
fn the_other_law_is_accepted_and_converted() {
    let t0 = Instant::now();
    let (mut caller, mut operator) = legs(t0, Codec::Pcmu, Codec::Pcmu);
    // The trunk answered PCMU but sends PCMA (it offered both).
    let p = packet(8, false, 1, 0, 1, &[0xD5; 160]);
    let inbound = caller.handle_inbound(t0, addr(TRUNK), &p).unwrap();
    assert_eq!(inbound.kind, InboundKind::Audio(Codec::Pcma));
    assert_eq!(inbound.payload(&p), &[0xD5; 160][..]);
    let mut out = [0u8; 200];
    let n = operator.relay_from(t0, &inbound, &p, &mut out).unwrap();
    assert_eq!(out[1] & 0x7F, 0);
    assert!(out[12..n].iter().all(|&b| b == 0xFE)); // A-law +8 is μ-law 0xFE
}

#[test]
fn a_small_output_buffer_drops_the_packet_without_a_gap() {
    let t0 = Instant::now();
    let (mut caller, mut operator) = legs(t0, Codec::Pcmu, Codec::Pcmu);
    let p = audio(0, 1, 0);
    let inbound = caller.handle_inbound(t0, addr(TRUNK), &p).unwrap();
    assert_eq!(operator.relay_from(t0, &inbound, &p, &mut [0u8; 100]), None);
    let (h, _) = relay(t0 + 20 * MS, &mut caller, &mut operator, &audio(0, 2, 160)).unwrap();
    assert_eq!(h.seq, 65_530);
}

#[test]
fn arbitrary_datagrams_never_panic() {
    let t0 = Instant::now();
    let (mut caller, mut operator) = legs(t0, Codec::Pcmu, Codec::Pcma);
    let mut state: u32 = 0x9E37_79B9;
    let mut buf = [0u8; 200];
    let mut out = [0u8; 256];
    for i in 0..20_000u32 {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let len = (state % 200) as usize;
        for (j, b) in buf.iter_mut().enumerate() {
            *b = (state.rotate_left(j as u32) ^ j as u32) as u8;
        }
        buf[0] = (buf[0] & 0x3F) | 0x80;
        buf[1] = [0, 8, 101, 13, 0x80][(state % 5) as usize] | (buf[1] & 0x80);
        let now = t0 + MS * (i % 5000);
        if let Some(inbound) = caller.handle_inbound(now, addr(TRUNK), &buf[..len]) {
            if let Some(n) = operator.relay_from(now, &inbound, &buf[..len], &mut out) {
                assert!(RtpView::parse(&out[..n]).is_ok());
            }
        }
    }
}

#[test]
fn relay_core_touches_no_clock_socket_or_file() {
    let text = include_str!("relay.rs");
    let code = text.split("#[cfg(test)]").next().unwrap_or(text);
    for word in [
        "Instant::now",
        "SystemTime",
        "tokio",
        "std::fs",
        "File::",
        "UdpSocket",
        "sqlx",
        "Vec<",
        "Box<",
        "vec!",
    ] {
        assert!(!code.contains(word), "relay.rs uses {word}");
    }
}
