//! End to end over 127.0.0.1, the menu and the readings dialogue on: a SIPp caller whose
//! RTP comes from this test presses 1 in the menu, keys an account and a reading as RFC
//! 4733 telephone-events and confirms it; the reading stored (source `phone`, the call's
//! id), the timeline, and the call ending as `self_service` (we hang up) are checked.

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use common::*;
use hotline::model::meters::{Meter, MeterKind};

const MENU_ON: &[(&str, &str)] = &[("HOTLINE_MENU__ENABLED", "true")];

fn line_with_operator() -> String {
    format!(
        "{ALWAYS_OPEN}\n[[operators]]\nid = \"1001\"\nname = \"Operator 1001\"\npassword = \"pass1001\"\n"
    )
}

/// The caller's RTP endpoint: 20 ms PCMU silence, and each `(at, event code)` pressed
/// that long after the server's first packet.
fn keying_caller(
    port: u16,
    presses: Vec<(Duration, u8)>,
    limit: Duration,
) -> std::thread::JoinHandle<usize> {
    let sock = UdpSocket::bind(("127.0.0.1", port)).expect("bind RTP");
    std::thread::spawn(move || {
        sock.set_read_timeout(Some(Duration::from_millis(5)))
            .unwrap();
        let start = Instant::now();
        let mut server: Option<(SocketAddr, Instant)> = None;
        let (mut seq, mut ts): (u16, u32) = (1, 0);
        let mut next_audio = Instant::now();
        let mut last_rx = Instant::now();
        let mut pressed = 0;
        let mut buf = [0u8; 2048];
        while start.elapsed() < limit {
            if let Ok((_, from)) = sock.recv_from(&mut buf) {
                last_rx = Instant::now();
                server.get_or_insert((from, Instant::now()));
            }
            let Some((to, first)) = server else { continue };
            let mut packet = |pt: u8, marker: bool, ts: u32, payload: &[u8]| {
                let mut pkt = vec![0x80, pt | if marker { 0x80 } else { 0 }];
                pkt.extend_from_slice(&seq.to_be_bytes());
                pkt.extend_from_slice(&ts.to_be_bytes());
                pkt.extend_from_slice(&[0x4B, 0x45, 0x59, 0x53]);
                pkt.extend_from_slice(payload);
                let _ = sock.send_to(&pkt, to);
                seq = seq.wrapping_add(1);
            };
            if Instant::now() >= next_audio {
                packet(0, false, ts, &[0xFF; 160]);
                ts = ts.wrapping_add(160);
                next_audio += Duration::from_millis(20);
            }
            if let Some(&(at, code)) = presses.get(pressed) {
                if first.elapsed() >= at {
                    // The start, then the end packet three times (RFC 4733 §2.5).
                    for (i, end) in [false, true, true, true].into_iter().enumerate() {
                        let flags = if end { 0x80 | 10 } else { 10 };
                        packet(101, i == 0, ts, &[code, flags, 0x03, 0x20]);
                    }
                    pressed += 1;
                }
            }
            // Nothing plays while the caller keys an answer (its question was cut short by
            // the first key): only a long silence ends it.
            if last_rx.elapsed() > Duration::from_millis(5000) {
                break; // the call is over
            }
        }
        pressed
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_keys_a_reading_that_is_stored_with_the_call_id() {
    let server = TestServer::start_with_env(&line_with_operator(), MENU_ON).await;
    server
        .store
        .import_meters(&[Meter {
            account: "123".into(),
            meter: "7".into(),
            kind: MeterKind::Cold,
            last_reading: 100,
        }])
        .await
        .expect("import");
    // Someone logged in, or the menu is skipped for the no-operators message.
    let _op = SippOperator::echoing(server.addr, "1001", "pass1001").await;

    // Greeting (4.4 s) and notice (4.1 s), then the menu: 1; the account 123#; the
    // reading 105#; 1 to confirm. Keys during a question stop its prompts.
    let ms = Duration::from_millis;
    let presses = vec![
        (ms(10_000), 1),
        (ms(11_500), 1),
        (ms(12_000), 2),
        (ms(12_500), 3),
        (ms(13_000), 11),
        (ms(15_000), 1),
        (ms(15_500), 0),
        (ms(16_000), 5),
        (ms(16_500), 11),
        (ms(18_000), 1),
    ];
    let rtp_port = free_udp_port();
    let rtp = keying_caller(rtp_port, presses, Duration::from_secs(90));
    let run = sipp(
        server.addr,
        "after_hours_call.xml",
        &["-s", "792112", "-set", "rtp_port", &rtp_port.to_string()],
    )
    .await;
    let pressed = rtp.join().expect("the RTP thread");
    assert!(run.status.success(), "caller: {}", run.stderr);
    let row = server
        .wait_row(&run.call_id, |r| r.ended_at.is_some())
        .await;
    let events = server.store.call_events(&row.id).await.expect("timeline");
    assert_eq!(pressed, 10, "{row:?} {events:?}");
    assert_eq!(row.outcome, "self_service");
    assert_eq!(row.operator_id, None);
    assert_eq!(row.topic.as_deref(), Some("meter_readings"));
    let readings = server
        .store
        .readings(Some("123"), "2000-01-01T00:00:00Z", "2100-01-01T00:00:00Z")
        .await
        .expect("readings");
    assert_eq!(readings.len(), 1, "{readings:?}");
    let r = &readings[0];
    assert_eq!((r.meter.as_str(), r.value, r.previous), ("7", 105, 100));
    assert_eq!(r.source, "phone");
    assert_eq!(r.call_id.as_deref(), Some(row.id.as_str()));

    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    for kind in [
        "menu_choice",
        "readings_account",
        "reading_accepted",
        "readings_done",
    ] {
        assert!(kinds.contains(&kind), "{kind} missing: {events:?}");
    }
    let accepted = events
        .iter()
        .find(|e| e.kind == "reading_accepted")
        .unwrap();
    assert_eq!(accepted.detail.as_deref(), Some("7: 100 → 105"));
    server.stop().await;
}
