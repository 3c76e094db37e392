//! The hot paths of a bridged, recorded call, each on its own (criterion):
//!
//! - `invite/parse_and_route`: an INVITE from the trunk, parsed, admitted and answered by
//!   the switchboard (every action it asks for taken), sans-IO;
//! - `relay/*`: one RTP packet accepted on one leg and rewritten for the other, without and
//!   with μ-law → A-law transcoding;
//! - `record/align_and_write_20ms`: one 20 ms frame of each leg placed on the recording's
//!   timeline, settled and written as stereo WAV samples.
//!
//! Sockets and disks are not included: they are measured by `bench/run`, under load.
//! Run with `cargo bench --bench hot_paths`.

use std::hint::black_box;
use std::io::{self, Seek, SeekFrom, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use hotline::config::Config;
use hotline::media::player::RtpStreamState;
use hotline::media::relay::{LegConfig, RelayLeg};
use hotline::media::rtp::{write_packet, RtpHeader};
use hotline::media::stereo::{Aligner, AlignerConfig, Side, WavWriter, WriteAt};
use hotline::media::Codec;
use hotline::sip::{Peer, Transport};
use hotline::switchboard::{Settings, Switchboard};

mod support;

use support::{invite, CONFIG};

fn invite_route(c: &mut Criterion) {
    let config = Config::from_toml(CONFIG, Path::new("bench.toml"), &[]).expect("valid config");
    let settings = Settings::from_config(&config);
    let now = hotline::runtime::Clock::system().now();
    let trunk = Peer {
        transport: Transport::Udp,
        addr: "127.0.0.1:5071".parse::<SocketAddr>().expect("literal"),
    };
    let mut n = 0u32;
    c.bench_function("invite/parse_and_route", |b| {
        b.iter_batched(
            || {
                n += 1;
                (Switchboard::new(settings.clone(), 1, now), invite(n))
            },
            |(mut sb, invite)| {
                sb.handle_datagram(&invite, trunk, now);
                let mut actions = 0;
                while let Some(a) = sb.poll_action() {
                    black_box(&a);
                    actions += 1;
                }
                assert!(actions > 0, "the INVITE is answered");
                sb
            },
            BatchSize::SmallInput,
        )
    });
}

fn leg(codec: Codec, addr: SocketAddr, now: Instant) -> RelayLeg {
    let cfg = LegConfig {
        codec,
        payload_type: codec.payload_type(),
        telephone_event: Some(101),
        sdp_addr: addr,
        srtp: None,
    };
    let out = RtpStreamState {
        ssrc: 1,
        seq: 2,
        ts: 3,
    };
    RelayLeg::new(cfg, out, now)
}

fn relay(c: &mut Criterion) {
    for (name, from_codec, to_codec) in [
        ("relay/pcmu_to_pcmu", Codec::Pcmu, Codec::Pcmu),
        ("relay/pcmu_to_pcma_transcoded", Codec::Pcmu, Codec::Pcma),
    ] {
        let t0 = Instant::now();
        let trunk: SocketAddr = "192.0.2.1:4000".parse().expect("literal");
        let mut from = leg(from_codec, trunk, t0);
        let mut to = leg(to_codec, "192.0.2.2:4000".parse().expect("literal"), t0);
        let payload: [u8; 160] = std::array::from_fn(|i| i as u8);
        // Packets prepared in advance: building them is not what is measured.
        let packets: Vec<([u8; 172], usize)> = (0..50_000u32)
            .map(|i| {
                let header = RtpHeader {
                    payload_type: from_codec.payload_type(),
                    marker: false,
                    seq: i as u16,
                    timestamp: i.wrapping_mul(160),
                    ssrc: 0x1234,
                };
                let mut packet = [0u8; 172];
                let n = write_packet(&header, &payload, &mut packet).expect("fits");
                (packet, n)
            })
            .collect();
        let mut out = [0u8; 1500];
        let mut i = 0usize;
        let mut round = 0u32;
        c.bench_function(name, |b| {
            b.iter(|| {
                let (packet, n) = &packets[i];
                // 20 ms per packet of simulated time, continuing across rounds.
                let at = t0 + Duration::from_millis(20) * (round * 50_000 + i as u32);
                if let Some(inbound) = from.handle_inbound(at, trunk, &packet[..*n]) {
                    black_box(to.relay_from(at, &inbound, &packet[..*n], &mut out));
                }
                i += 1;
                if i == packets.len() {
                    // Start a new stream so the sequence numbers do not go back.
                    i = 0;
                    round += 1;
                    from = leg(from_codec, trunk, t0);
                }
            })
        });
    }
}

/// A file that keeps nothing: the WAV writer's work without the disk's.
struct Discard(u64);

impl Write for Discard {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.0 += b.len() as u64;
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Seek for Discard {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        if let SeekFrom::Start(p) = to {
            self.0 = p;
        }
        Ok(self.0)
    }
}

impl WriteAt for Discard {}

fn record(c: &mut Criterion) {
    let t0 = Instant::now();
    let mut aligner = Aligner::new(AlignerConfig::default(), t0);
    let mut wav = WavWriter::create(Discard(0)).expect("header");
    let caller = [0x55u8; 160];
    let operator = [0xd5u8; 160];
    let mut buf: Vec<i16> = Vec::with_capacity(4096);
    let mut i = 0u32;
    c.bench_function("record/align_and_write_20ms", |b| {
        b.iter(|| {
            let at = t0 + Duration::from_millis(20) * i;
            let ts = i.wrapping_mul(160);
            aligner.push(Side::Caller, at, i as u16, ts, 7, Codec::Pcmu, &caller);
            aligner.push(Side::Operator, at, i as u16, ts, 8, Codec::Pcma, &operator);
            buf.clear();
            aligner.drain(at, &mut buf);
            // A new file every hour of audio: a WAV cannot describe more than 4 GB.
            if wav.frames() >= 3_600 * 8_000 {
                wav = WavWriter::create(Discard(0)).expect("header");
            }
            wav.write(&buf).expect("discarded");
            i += 1;
        })
    });
    assert!(wav.frames() > 0);
}

criterion_group!(benches, invite_route, relay, record);
criterion_main!(benches);
