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

/// What a listening caller did: answers keyed, and the first and last packets heard.
struct Listened {
    answered: usize,
    first: Option<Instant>,
    last: Option<Instant>,
    /// What was heard and keyed when (seconds from the start), for a failure's message.
    log: Vec<String>,
}

/// A caller who listens like a person: each answer is keyed once the server's audio has
/// been quiet for `REACTION` (the question is over and taken in), at `PER_KEY` a key, and
/// only after new audio has been heard since the previous answer. Sends PCMU silence and
/// the keys as RFC 4733 events.
fn listening_caller(
    port: u16,
    answers: &'static [&'static str],
    limit: Duration,
) -> std::thread::JoinHandle<Listened> {
    const REACTION: Duration = Duration::from_millis(1500);
    const PER_KEY: Duration = Duration::from_millis(400);
    let sock = UdpSocket::bind(("127.0.0.1", port)).expect("bind RTP");
    std::thread::spawn(move || {
        sock.set_read_timeout(Some(Duration::from_millis(5)))
            .unwrap();
        let start = Instant::now();
        let (mut seq, mut ts): (u16, u32) = (1, 0);
        let mut to: Option<SocketAddr> = None;
        let mut heard = Listened {
            answered: 0,
            first: None,
            last: None,
            log: Vec::new(),
        };
        let mut in_sound = false;
        let mut last_sound = Instant::now();
        let mut sound_since_answer = false;
        // The keys of the answer being keyed, and when the next one goes.
        let mut keying: Option<(std::str::Chars<'static>, Instant)> = None;
        let mut next_audio = Instant::now();
        let mut buf = [0u8; 2048];
        while start.elapsed() < limit {
            if let Ok((n, from)) = sock.recv_from(&mut buf) {
                let now = Instant::now();
                heard.first.get_or_insert(now);
                heard.last = Some(now);
                to.get_or_insert(from);
                if n > 12 && buf[1] & 0x7f == 0 {
                    let loud = buf[12..n]
                        .iter()
                        .map(|&b| i32::from(audio_codec_algorithms::decode_ulaw(b)).abs())
                        .max()
                        .unwrap_or(0);
                    if loud > 300 {
                        last_sound = now;
                        sound_since_answer = true;
                        if !in_sound {
                            in_sound = true;
                            let at = start.elapsed().as_secs_f32();
                            heard.log.push(format!("{at:.2} sound"));
                        }
                    } else if in_sound
                        && now.duration_since(last_sound) > Duration::from_millis(300)
                    {
                        in_sound = false;
                        let at = last_sound.duration_since(start).as_secs_f32();
                        heard.log.push(format!("{at:.2} quiet"));
                    }
                }
            }
            let Some(to) = to else { continue };
            let mut packet = |pt: u8, marker: bool, ts: u32, payload: &[u8]| {
                let mut pkt = vec![0x80, pt | if marker { 0x80 } else { 0 }];
                pkt.extend_from_slice(&seq.to_be_bytes());
                pkt.extend_from_slice(&ts.to_be_bytes());
                pkt.extend_from_slice(&[0x4C, 0x49, 0x53, 0x54]);
                pkt.extend_from_slice(payload);
                let _ = sock.send_to(&pkt, to);
                seq = seq.wrapping_add(1);
            };
            let now = Instant::now();
            if now >= next_audio {
                packet(0, false, ts, &[0xFF; 160]);
                ts = ts.wrapping_add(160);
                next_audio += Duration::from_millis(20);
            }
            if keying.is_none()
                && sound_since_answer
                && heard.answered < answers.len()
                && now.duration_since(last_sound) >= REACTION
            {
                keying = Some((answers[heard.answered].chars(), now));
            }
            if let Some((keys, at)) = keying.as_mut() {
                if now >= *at {
                    match keys.next() {
                        Some(key) => {
                            let secs = start.elapsed().as_secs_f32();
                            heard.log.push(format!("{secs:.2} key {key}"));
                            let code = match key {
                                '#' => 11,
                                '*' => 10,
                                d => d.to_digit(10).expect("a key") as u8,
                            };
                            for (i, end) in [false, true, true, true].into_iter().enumerate() {
                                let flags = if end { 0x80 | 10 } else { 10 };
                                packet(101, i == 0, ts, &[code, flags, 0x03, 0x20]);
                            }
                            *at = now + PER_KEY;
                        }
                        None => {
                            keying = None;
                            heard.answered += 1;
                            sound_since_answer = false;
                        }
                    }
                }
            }
            if heard
                .last
                .is_some_and(|l| l.elapsed() > Duration::from_secs(5))
            {
                break; // the call is over
            }
        }
        heard
    })
}

/// The time a caller needs to hand in two readings, measured on a real call: greeting and
/// notice, the menu (1), the account, each meter named, its reading keyed, read back and
/// confirmed, the goodbye. The caller listens to every prompt to its end. The figure is
/// printed (`-- --nocapture`), not asserted: what is asserted is what the caller achieved.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listening_caller_hands_in_two_readings_end_to_end() {
    let server = TestServer::start_with_env(&line_with_operator(), MENU_ON).await;
    let meter = |meter: &str, kind, last_reading| Meter {
        account: "100123".into(),
        meter: meter.into(),
        kind,
        last_reading,
    };
    server
        .store
        .import_meters(&[
            meter("1", MeterKind::Cold, 1234),
            meter("2", MeterKind::Hot, 567),
        ])
        .await
        .expect("import");
    let _op = SippOperator::echoing(server.addr, "1001", "pass1001").await;

    const ANSWERS: &[&str] = &["1", "100123#", "1241#", "1", "571#", "1"];
    let limit = Duration::from_secs(200);
    let rtp_port = free_udp_port();
    let rtp = listening_caller(rtp_port, ANSWERS, limit);
    let run = sipp_within(
        server.addr,
        "after_hours_call.xml",
        &["-s", "792112", "-set", "rtp_port", &rtp_port.to_string()],
        limit,
    )
    .await;
    let heard = rtp.join().expect("the RTP thread");
    assert!(run.status.success(), "caller: {}", run.stderr);
    let row = server
        .wait_row(&run.call_id, |r| r.ended_at.is_some())
        .await;
    let events = server.store.call_events(&row.id).await.expect("timeline");
    assert_eq!(
        heard.answered,
        ANSWERS.len(),
        "{row:?} {events:?}\n{}",
        heard.log.join("\n")
    );
    assert_eq!(row.outcome, "self_service");
    let mut readings = server
        .store
        .readings(
            Some("100123"),
            "2000-01-01T00:00:00Z",
            "2100-01-01T00:00:00Z",
        )
        .await
        .expect("readings");
    readings.sort_by(|a, b| a.meter.cmp(&b.meter));
    let got: Vec<(&str, i64, i64)> = readings
        .iter()
        .map(|r| (r.meter.as_str(), r.previous, r.value))
        .collect();
    assert_eq!(got, vec![("1", 1234, 1241), ("2", 567, 571)]);
    let (first, last) = (heard.first.unwrap(), heard.last.unwrap());
    println!(
        "two readings by phone, from the first audio to the hang-up: {:.1} s",
        last.duration_since(first).as_secs_f64()
    );
    server.stop().await;
}
