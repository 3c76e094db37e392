//! Aligner tests: what a listener would hear in each channel, and where, for packets
//! arriving at simulated times (lost, reordered, late, duplicated, from restarted senders).
//! The simulated senders here serve the drain tests too (`align_drain_tests.rs`).

use std::time::{Duration, Instant};

use super::*;

pub(super) const MS: Duration = Duration::from_millis(1);
/// Frames (samples per channel) in 20 ms.
pub(super) const P: usize = 160;

/// One simulated packet.
#[derive(Clone, Copy, Debug)]
pub(super) struct Packet {
    pub(super) side: Side,
    pub(super) at: Instant,
    pub(super) seq: u16,
    pub(super) ts: u32,
    pub(super) ssrc: u32,
    pub(super) byte: u8,
}

/// A sender of 20 ms μ-law packets, each filled with a value that names it.
pub(super) struct Sender {
    side: Side,
    ssrc: u32,
    seq: u16,
    ts: u32,
}

impl Sender {
    pub(super) fn new(side: Side, ssrc: u32, seq: u16, ts: u32) -> Sender {
        Sender {
            side,
            ssrc,
            seq,
            ts,
        }
    }

    /// Packet number `k` of the stream (sequence and timestamp advance from the first),
    /// arriving at `at`.
    pub(super) fn packet(&self, k: u32, at: Instant) -> Packet {
        Packet {
            side: self.side,
            at,
            seq: self.seq.wrapping_add(k as u16),
            ts: self.ts.wrapping_add(k * P as u32),
            ssrc: self.ssrc,
            byte: mark(self.side, k),
        }
    }
}

/// The μ-law byte filling packet `k` of a side: distinct from its neighbours, never zero
/// when decoded, and positive for the caller, negative for the operator.
fn mark(side: Side, k: u32) -> u8 {
    let base = match side {
        Side::Caller => 0x80,
        Side::Operator => 0x00,
    };
    base + (k % 100) as u8
}

/// What packet `k` of a side decodes to.
pub(super) fn value(side: Side, k: u32) -> i16 {
    g711::decode_sample(Codec::Pcmu, mark(side, k))
}

/// The two channels of a recording.
struct Recording {
    left: Vec<i16>,
    right: Vec<i16>,
    stats: AlignStats,
}

impl Recording {
    fn channel(&self, side: Side) -> &[i16] {
        match side {
            Side::Caller => &self.left,
            Side::Operator => &self.right,
        }
    }

    /// Asserts that frames `range` of a side's channel all hold `expected`.
    fn assert_span(&self, side: Side, range: std::ops::Range<usize>, expected: i16) {
        let channel = self.channel(side);
        for i in range {
            assert_eq!(channel[i], expected, "{side:?} frame {i}");
        }
    }
}

/// Plays `packets` (in any order: they are pushed in arrival order) into an aligner started
/// at `t0`, draining every 20 ms as the recording task does, and finishes at `end`.
fn record(t0: Instant, mut packets: Vec<Packet>, end: Instant) -> Recording {
    record_with(AlignerConfig::default(), t0, &mut packets, end)
}

fn record_with(
    config: AlignerConfig,
    t0: Instant,
    packets: &mut [Packet],
    end: Instant,
) -> Recording {
    packets.sort_by_key(|p| p.at);
    let mut aligner = Aligner::new(config, t0);
    let mut out = Vec::new();
    let mut next = 0;
    let mut tick = t0;
    while tick < end {
        tick += 20 * MS;
        while let Some(p) = packets.get(next).filter(|p| p.at <= tick.min(end)) {
            aligner.push(p.side, p.at, p.seq, p.ts, p.ssrc, Codec::Pcmu, &[p.byte; P]);
            next += 1;
        }
        if tick < end {
            aligner.drain(tick, &mut out);
        }
    }
    aligner.finish(end, &mut out);
    assert_eq!(out.len() % 2, 0);
    Recording {
        left: out.iter().step_by(2).copied().collect(),
        right: out.iter().skip(1).step_by(2).copied().collect(),
        stats: aligner.stats(),
    }
}

/// Packets `ks` of a sender, each sent at `t0 + offset + 20 ms × k` and arriving on time.
pub(super) fn on_time(
    s: &Sender,
    t0: Instant,
    offset: Duration,
    ks: impl IntoIterator<Item = u32>,
) -> Vec<Packet> {
    ks.into_iter()
        .map(|k| s.packet(k, t0 + offset + 20 * MS * k))
        .collect()
}

#[test]
fn a_minute_of_conversation_is_a_minute_of_stereo_in_step() {
    let t0 = Instant::now();
    let caller = Sender::new(Side::Caller, 0x1111, 1000, 0x1234_5678);
    let operator = Sender::new(Side::Operator, 0x2222, 60_000, 7);
    let mut packets = Vec::new();
    for k in 0..3000u32 {
        // Network jitter of 0–30 ms, different on each leg; the first packets are on time.
        let jc = if k == 0 { 0 } else { (k * 7919) % 31 };
        let jo = if k == 0 { 0 } else { (k * 104_729 + 13) % 29 };
        packets.push(caller.packet(k, t0 + 20 * MS * k + MS * jc));
        packets.push(operator.packet(k, t0 + 20 * MS * k + MS * jo));
    }
    let rec = record(t0, packets, t0 + Duration::from_secs(60));

    assert_eq!(rec.left.len(), 480_000);
    for k in 0..3000u32 {
        let at = k as usize * P;
        rec.assert_span(Side::Caller, at..at + P, value(Side::Caller, k));
        rec.assert_span(Side::Operator, at..at + P, value(Side::Operator, k));
    }
    for side in [Side::Caller, Side::Operator] {
        let s = rec.stats.side(side);
        assert_eq!(s.packets, 3000);
        assert_eq!(
            (s.late_dropped, s.lost_frames, s.resyncs, s.realigned),
            (0, 0, 0, 0)
        );
    }
}

#[test]
fn the_first_packet_is_placed_at_its_arrival() {
    let t0 = Instant::now();
    let caller = Sender::new(Side::Caller, 1, 0, 0);
    let rec = record(
        t0,
        on_time(&caller, t0, 250 * MS, 0..10),
        t0 + Duration::from_secs(1),
    );
    assert_eq!(rec.left.len(), 8000);
    rec.assert_span(Side::Caller, 0..2000, 0);
    rec.assert_span(Side::Caller, 2000..2000 + P, value(Side::Caller, 0));
    rec.assert_span(Side::Caller, 2000 + 10 * P..8000, 0);
}

#[test]
fn lost_packets_are_silence_in_their_place() {
    let t0 = Instant::now();
    let caller = Sender::new(Side::Caller, 1, 0, 0);
    let ks = (0..100).filter(|k| !(40..=42).contains(k));
    let rec = record(
        t0,
        on_time(&caller, t0, Duration::ZERO, ks),
        t0 + Duration::from_secs(2),
    );
    rec.assert_span(Side::Caller, 39 * P..40 * P, value(Side::Caller, 39));
    rec.assert_span(Side::Caller, 40 * P..43 * P, 0);
    rec.assert_span(Side::Caller, 43 * P..44 * P, value(Side::Caller, 43));
    rec.assert_span(Side::Caller, 99 * P..100 * P, value(Side::Caller, 99));
    assert_eq!(rec.stats.caller.lost_frames, 3);
}

#[test]
fn packets_reordered_within_the_window_keep_their_place() {
    let t0 = Instant::now();
    let caller = Sender::new(Side::Caller, 1, 0, 0);
    let mut packets = on_time(&caller, t0, Duration::ZERO, 0..50);
    // Packet 10 overtaken by 11 and 12, arriving 60 ms late.
    packets[10].at += 60 * MS;
    let rec = record(t0, packets, t0 + Duration::from_secs(1));
    for k in 9..13 {
        let at = k as usize * P;
        rec.assert_span(Side::Caller, at..at + P, value(Side::Caller, k));
    }
    assert_eq!(rec.stats.caller.late_dropped, 0);
    assert_eq!(rec.stats.caller.lost_frames, 0);
}

#[test]
fn a_packet_later_than_the_window_is_dropped_as_silence() {
    let t0 = Instant::now();
    let caller = Sender::new(Side::Caller, 1, 0, 0);
    let mut packets = on_time(&caller, t0, Duration::ZERO, 0..50);
    packets[20].at += 200 * MS;
    let rec = record(t0, packets, t0 + Duration::from_secs(1));
    rec.assert_span(Side::Caller, 19 * P..20 * P, value(Side::Caller, 19));
    rec.assert_span(Side::Caller, 20 * P..21 * P, 0);
    rec.assert_span(Side::Caller, 21 * P..22 * P, value(Side::Caller, 21));
    assert_eq!(rec.stats.caller.late_dropped, 1);
    assert_eq!(rec.stats.caller.resyncs, 0);
}

#[test]
fn duplicates_are_ignored() {
    let t0 = Instant::now();
    let caller = Sender::new(Side::Caller, 1, 0, 0);
    let mut packets = on_time(&caller, t0, Duration::ZERO, 0..20);
    // The same packet again, later, with other content: the first copy stays.
    let mut again = caller.packet(5, t0 + 105 * MS);
    again.byte = 0xC0;
    packets.push(again);
    let rec = record(t0, packets, t0 + Duration::from_millis(500));
    rec.assert_span(Side::Caller, 5 * P..6 * P, value(Side::Caller, 5));
    assert_eq!(rec.stats.caller.duplicates, 1);
    assert_eq!(rec.stats.caller.packets, 21);
}

#[test]
fn a_new_ssrc_is_anchored_at_its_arrival() {
    let t0 = Instant::now();
    let first = Sender::new(Side::Operator, 0xAAAA, 100, 1_000);
    // The new source's timestamps and sequence numbers start anywhere.
    let second = Sender::new(Side::Operator, 0xBBBB, 40_000, 0x9000_0000);
    let mut packets = on_time(&first, t0, Duration::ZERO, 0..50);
    packets.extend(on_time(&second, t0, Duration::from_millis(1500), 0..50));
    let rec = record(t0, packets, t0 + Duration::from_secs(3));
    rec.assert_span(Side::Operator, 49 * P..50 * P, value(Side::Operator, 49));
    rec.assert_span(Side::Operator, 50 * P..12_000, 0);
    rec.assert_span(Side::Operator, 12_000..12_000 + P, value(Side::Operator, 0));
    rec.assert_span(
        Side::Operator,
        12_000 + 49 * P..12_000 + 50 * P,
        value(Side::Operator, 49),
    );
    let s = rec.stats.operator;
    assert_eq!(
        (s.ssrc_changes, s.resyncs, s.late_dropped, s.early_dropped),
        (1, 0, 0, 0)
    );
}

#[test]
fn timestamps_wrap_around_2_pow_32() {
    let t0 = Instant::now();
    let caller = Sender::new(Side::Caller, 1, 65_500, u32::MAX - 10 * P as u32 + 1);
    let rec = record(
        t0,
        on_time(&caller, t0, Duration::ZERO, 0..100),
        t0 + Duration::from_secs(2),
    );
    for k in 0..100 {
        let at = k as usize * P;
        rec.assert_span(Side::Caller, at..at + P, value(Side::Caller, k));
    }
    let s = rec.stats.caller;
    assert_eq!((s.resyncs, s.realigned, s.early_dropped), (0, 0, 0));
}

#[test]
fn a_timestamp_jump_resyncs_at_the_arrival() {
    let t0 = Instant::now();
    let caller = Sender::new(Side::Caller, 1, 0, 0);
    let mut packets = on_time(&caller, t0, Duration::ZERO, 0..100);
    // From packet 50 on the sender's clock restarted elsewhere; sequence numbers go on.
    for (k, p) in packets.iter_mut().enumerate().skip(50) {
        p.ts = 0x7000_0000u32.wrapping_add(k as u32 * P as u32);
    }
    // A packet from before the jump, overtaken by the first ones after it.
    packets[49].at += 50 * MS;
    let rec = record(t0, packets, t0 + Duration::from_secs(2));
    for k in (45..49).chain(50..100) {
        let at = k as usize * P;
        rec.assert_span(Side::Caller, at..at + P, value(Side::Caller, k));
    }
    let s = rec.stats.caller;
    assert_eq!((s.resyncs, s.early_dropped, s.late_dropped), (1, 0, 1));
}

#[test]
fn a_timestamp_jump_backwards_resyncs_too() {
    let t0 = Instant::now();
    let caller = Sender::new(Side::Caller, 1, 0, 50_000);
    let mut packets = on_time(&caller, t0, Duration::ZERO, 0..100);
    for (k, p) in packets.iter_mut().enumerate().skip(50) {
        p.ts = 20_000 + (k as u32 - 50) * P as u32;
    }
    let rec = record(t0, packets, t0 + Duration::from_secs(2));
    rec.assert_span(Side::Caller, 49 * P..50 * P, value(Side::Caller, 49));
    rec.assert_span(Side::Caller, 50 * P..51 * P, value(Side::Caller, 50));
    rec.assert_span(Side::Caller, 99 * P..100 * P, value(Side::Caller, 99));
    assert_eq!(rec.stats.caller.resyncs, 1);
    assert_eq!(rec.stats.caller.late_dropped, 0);
}

#[test]
fn ten_seconds_of_hold_are_ten_seconds_of_silence() {
    let t0 = Instant::now();
    let caller = Sender::new(Side::Caller, 1, 0, 0);
    let operator = Sender::new(Side::Operator, 2, 0, 0);
    // The operator holds from 1 s to 11 s: no packets, its clock runs on (RFC 3550 §5.1).
    let mut packets = on_time(&caller, t0, Duration::ZERO, 0..600);
    packets.extend(on_time(
        &operator,
        t0,
        Duration::ZERO,
        (0..50).chain(550..600),
    ));
    let rec = record(t0, packets, t0 + Duration::from_secs(12));
    assert_eq!(rec.right.len(), 96_000);
    rec.assert_span(Side::Operator, 49 * P..50 * P, value(Side::Operator, 49));
    rec.assert_span(Side::Operator, 8_000..88_000, 0);
    rec.assert_span(
        Side::Operator,
        88_000..88_000 + P,
        value(Side::Operator, 550),
    );
    rec.assert_span(Side::Caller, 88_000..88_000 + P, value(Side::Caller, 550));
    let s = rec.stats.operator;
    assert_eq!((s.resyncs, s.late_dropped), (0, 0));
    assert_eq!(s.lost_frames, 500);
}

#[test]
fn a_sender_whose_clock_stopped_during_hold_is_resynced_after_a_probe() {
    let t0 = Instant::now();
    let operator = Sender::new(Side::Operator, 2, 0, 0);
    // Packets 50.. come 10 s later than their timestamps say (the clock stopped on hold).
    let mut packets = on_time(&operator, t0, Duration::ZERO, 0..50);
    packets.extend(on_time(&operator, t0, Duration::from_secs(10), 50..100));
    let rec = record(t0, packets, t0 + Duration::from_secs(13));
    let resumed = 88_000;
    rec.assert_span(Side::Operator, 8_000..resumed, 0);
    // While the stream is on probation its packets are late; then it is placed again
    // where it arrives, with no shift.
    let probe = super::super::stream::PROBE_SAMPLES as usize;
    let settled = resumed + probe + 2 * P;
    for k in (settled - resumed) / P..50 {
        let at = resumed + k * P;
        rec.assert_span(
            Side::Operator,
            at..at + P,
            value(Side::Operator, 50 + k as u32),
        );
    }
    assert_eq!(rec.stats.operator.resyncs, 1);
}

#[test]
fn a_network_stall_loses_the_burst_but_shifts_nothing() {
    let t0 = Instant::now();
    let caller = Sender::new(Side::Caller, 1, 0, 0);
    let mut packets = on_time(&caller, t0, Duration::ZERO, 0..150);
    // Packets 50..70 are held up and delivered together at 1.4 s, 1 ms apart.
    for (i, p) in packets[50..70].iter_mut().enumerate() {
        p.at = t0 + Duration::from_millis(1400) + MS * i as u32;
    }
    let rec = record(t0, packets, t0 + Duration::from_secs(3));
    for k in (0..50).chain(72..150) {
        let at = k as usize * P;
        rec.assert_span(Side::Caller, at..at + P, value(Side::Caller, k));
    }
    let s = rec.stats.caller;
    assert_eq!((s.resyncs, s.realigned), (0, 0));
    assert!(s.late_dropped >= 14, "{s:?}");
}

#[test]
fn clock_drift_is_followed_without_dropping_packets() {
    let t0 = Instant::now();
    let caller = Sender::new(Side::Caller, 1, 0, 0);
    // The sender's clock runs 0.5% slow: a 20 ms packet every 20.1 ms.
    let packets: Vec<Packet> = (0..3000u32)
        .map(|k| caller.packet(k, t0 + Duration::from_micros(20_100 * u64::from(k))))
        .collect();
    let end = t0 + Duration::from_secs(61);
    let rec = record(t0, packets, end);
    let s = rec.stats.caller;
    assert_eq!((s.late_dropped, s.resyncs), (0, 0), "{s:?}");
    assert!(s.realigned >= 5, "{s:?}");
    // The last packet sits within half the jitter window of its arrival (60.28 s).
    let last = value(Side::Caller, 2999);
    let pos = rec
        .left
        .iter()
        .rposition(|&v| v == last)
        .expect("last packet recorded")
        + 1
        - P;
    let arrival = 20_100 * 2999 * 8 / 1000;
    assert!(
        pos.abs_diff(arrival) <= 320 + P,
        "placed at {pos}, arrived at {arrival}"
    );
}

#[test]
fn a_side_that_never_sends_is_a_silent_channel() {
    let t0 = Instant::now();
    let caller = Sender::new(Side::Caller, 1, 0, 0);
    let rec = record(
        t0,
        on_time(&caller, t0, Duration::ZERO, 0..100),
        t0 + Duration::from_secs(2),
    );
    assert_eq!(rec.right.len(), 16_000);
    assert!(rec.right.iter().all(|&v| v == 0));
    assert_eq!(rec.stats.operator, SideStats::default());
    rec.assert_span(Side::Caller, 0..P, value(Side::Caller, 0));
}
