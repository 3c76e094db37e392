//! Nanoseconds per packet through `RelayLeg`: the sans-IO part of bridging a call (accept
//! on one leg, rewrite for the other), with and without μ-law/A-law transcoding. Sockets
//! are not included: they cost the same whatever the relay does.
//!
//! Run with `cargo bench --bench relay`.

use std::hint::black_box;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use hotline::media::player::RtpStreamState;
use hotline::media::relay::{LegConfig, RelayLeg};
use hotline::media::rtp::{write_packet, RtpHeader};
use hotline::media::Codec;

const PACKETS: u32 = 2_000_000;

fn leg(codec: Codec, addr: SocketAddr, now: Instant) -> RelayLeg {
    let cfg = LegConfig {
        codec,
        payload_type: codec.payload_type(),
        telephone_event: Some(101),
        sdp_addr: addr,
    };
    let out = RtpStreamState {
        ssrc: 1,
        seq: 2,
        ts: 3,
    };
    RelayLeg::new(cfg, out, now)
}

/// Returns nanoseconds per packet for `handle_inbound` + `relay_from`.
fn run(from_codec: Codec, to_codec: Codec) -> f64 {
    let t0 = Instant::now();
    let trunk: SocketAddr = "192.0.2.1:4000".parse().expect("a literal address");
    let mut from = leg(from_codec, trunk, t0);
    let mut to = leg(
        to_codec,
        "192.0.2.2:4000".parse().expect("a literal address"),
        t0,
    );
    let mut packet = [0u8; 172];
    let mut out = [0u8; 1500];
    let payload: [u8; 160] = std::array::from_fn(|i| i as u8);
    let started = Instant::now();
    for i in 0..PACKETS {
        let header = RtpHeader {
            payload_type: from_codec.payload_type(),
            marker: false,
            seq: i as u16,
            timestamp: i.wrapping_mul(160),
            ssrc: 0x1234,
        };
        let n = write_packet(&header, &payload, &mut packet).expect("the buffer fits");
        // Simulated time: 20 ms per packet, as on a real call.
        let now = t0 + Duration::from_millis(20) * (i % 1_000_000);
        if let Some(inbound) = from.handle_inbound(now, trunk, &packet[..n]) {
            black_box(to.relay_from(now, &inbound, &packet[..n], &mut out));
        }
    }
    let elapsed = started.elapsed();
    assert_eq!(to.stats().packets_out, u64::from(PACKETS));
    elapsed.as_nanos() as f64 / f64::from(PACKETS)
}

fn main() {
    // Writing the input packet is part of the loop; measure it alone to subtract.
    let started = Instant::now();
    let mut packet = [0u8; 172];
    for i in 0..PACKETS {
        let header = RtpHeader {
            payload_type: 0,
            marker: false,
            seq: i as u16,
            timestamp: i.wrapping_mul(160),
            ssrc: 0x1234,
        };
        black_box(write_packet(&header, &[0x55; 160], &mut packet).expect("the buffer fits"));
    }
    let build = started.elapsed().as_nanos() as f64 / f64::from(PACKETS);
    for (name, a, b) in [
        ("PCMU -> PCMU", Codec::Pcmu, Codec::Pcmu),
        ("PCMU -> PCMA", Codec::Pcmu, Codec::Pcma),
    ] {
        let total = run(a, b);
        println!(
            "relay {name}: {:.0} ns/packet (handle_inbound + relay_from; {:.0} ns with building the input)",
            total - build,
            total
        );
    }
}
