//! End to end over 127.0.0.1, the topic menu on: a SIPp caller whose RTP comes from this
//! test (pressing keys as RFC 4733 telephone-events, or nothing at all), a SIPp operator
//! softphone; the register row, the call's timeline and the operator's INVITE checked.

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use common::*;

/// The menu is off in the shared test configuration; these tests turn it on.
const MENU_ON: &[(&str, &str)] = &[("HOTLINE_MENU__ENABLED", "true")];

fn line_with_operator() -> String {
    format!(
        "{ALWAYS_OPEN}\n[[operators]]\nid = \"1001\"\nname = \"Operator 1001\"\npassword = \"pass1001\"\n"
    )
}

/// How the caller's phone sends a key.
#[derive(Clone, Copy)]
enum Press {
    /// RFC 4733 telephone-events with this event code.
    Event(u8),
    /// A DTMF tone in the audio (100 ms of it), no events at all.
    Tone(char),
}

/// 100 ms of `key`'s DTMF tone as 20 ms PCMU frames.
fn tone_frames(key: char) -> Vec<[u8; 160]> {
    let (row, col) = hotline::media::dtmf::goertzel::frequencies(key).expect("a DTMF key");
    let two_pi = 2.0 * std::f32::consts::PI;
    let pcm: Vec<i16> = (0..800)
        .map(|n| {
            let t = n as f32 / 8000.0;
            (5000.0 * ((two_pi * row * t).sin() + (two_pi * col * t).sin())) as i16
        })
        .collect();
    pcm.chunks(160)
        .map(|chunk| {
            let mut frame = [0u8; 160];
            hotline::media::g711::encode(hotline::media::Codec::Pcmu, chunk, &mut frame);
            frame
        })
        .collect()
}

/// The caller's RTP endpoint: answers the server's stream with 20 ms PCMU silence and, if
/// `key` is given, presses it once a second (events on payload type 101, as the SIPp
/// caller's SDP offers, or a tone in the audio): presses before the menu are not
/// collected, the first one during it chooses, later ones are not collected either.
/// Returns the presses sent.
fn key_caller(port: u16, key: Option<Press>, limit: Duration) -> std::thread::JoinHandle<u32> {
    let sock = UdpSocket::bind(("127.0.0.1", port)).expect("bind RTP");
    std::thread::spawn(move || {
        sock.set_read_timeout(Some(Duration::from_millis(5)))
            .unwrap();
        let start = Instant::now();
        let mut server: Option<SocketAddr> = None;
        let (mut seq, mut ts): (u16, u32) = (1, 0);
        let mut next_audio = Instant::now();
        let mut next_press = Instant::now() + Duration::from_secs(1);
        let mut last_rx = Instant::now();
        let mut presses = 0;
        let tone = match key {
            Some(Press::Tone(k)) => tone_frames(k),
            _ => Vec::new(),
        };
        // Frames of the tone still to send in place of silence.
        let mut tone_left = 0usize;
        let mut buf = [0u8; 2048];
        while start.elapsed() < limit {
            if let Ok((_, from)) = sock.recv_from(&mut buf) {
                last_rx = Instant::now();
                server.get_or_insert(from);
            }
            let Some(to) = server else { continue };
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
                let frame = match tone_left {
                    0 => &[0xFF; 160],
                    n => &tone[tone.len() - n],
                };
                packet(0, false, ts, frame);
                tone_left = tone_left.saturating_sub(1);
                ts = ts.wrapping_add(160);
                next_audio += Duration::from_millis(20);
            }
            if let Some(press) = key.filter(|_| Instant::now() >= next_press) {
                match press {
                    // One press: the start, then the end packet three times (RFC 4733
                    // §2.5), all carrying the event's start timestamp.
                    Press::Event(code) => {
                        for (i, end) in [false, true, true, true].into_iter().enumerate() {
                            let flags = if end { 0x80 | 10 } else { 10 };
                            packet(101, i == 0, ts, &[code, flags, 0x03, 0x20]);
                        }
                    }
                    Press::Tone(_) => tone_left = tone.len(),
                }
                presses += 1;
                next_press += Duration::from_secs(1);
            }
            if last_rx.elapsed() > Duration::from_millis(1500) {
                break; // the call is over
            }
        }
        presses
    })
}

/// A SIPp caller (`caller_hangs_up.xml`, BYE `hold_ms` after the answer) whose RTP is a
/// [`key_caller`].
async fn call(server: SocketAddr, key: Option<Press>, hold_ms: u32) -> (SippRun, u32) {
    let rtp_port = free_udp_port();
    let rtp = key_caller(rtp_port, key, Duration::from_secs(90));
    let run = sipp(
        server,
        "caller_hangs_up.xml",
        &[
            "-s",
            "792112",
            "-set",
            "rtp_port",
            &rtp_port.to_string(),
            "-d",
            &hold_ms.to_string(),
        ],
    )
    .await;
    (run, rtp.join().expect("the RTP thread"))
}

/// The operator's softphone, every SIP message it gets written to `messages`.
async fn operator(server: SocketAddr, messages: &std::path::Path) -> SippOperator {
    let file = messages.display().to_string();
    SippOperator::start(
        server,
        "1001",
        "pass1001",
        free_udp_port(),
        free_udp_port(),
        &["-rtp_echo", "-trace_msg", "-message_file", &file],
    )
    .await
}

/// The INVITE the operator got, once it is in the message log (bounded wait).
async fn operator_invite(messages: &std::path::Path) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let log = std::fs::read_to_string(messages).unwrap_or_default();
        if let Some(at) = log.find("INVITE sip:") {
            let invite = &log[at..];
            let end = invite.find("\n\n").unwrap_or(invite.len());
            return invite[..end].to_owned();
        }
        assert!(Instant::now() < deadline, "no INVITE in the operator's log");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_who_presses_2_reaches_the_operator_with_the_topic_billing() {
    let server = TestServer::start_with_env(&line_with_operator(), MENU_ON).await;
    let logs = tempfile::tempdir().unwrap();
    let messages = logs.path().join("operator_messages.log");
    let _op = operator(server.addr, &messages).await;
    // Greeting (4.4 s) and notice (4.1 s), the menu cut short by the key, then talk.
    let (run, presses) = call(server.addr, Some(Press::Event(2)), 16_000).await;
    assert!(run.status.success(), "caller: {}", run.stderr);
    assert!(presses > 0);

    let row = server
        .wait_row(&run.call_id, |r| r.ended_at.is_some())
        .await;
    assert_eq!(row.outcome, "answered");
    assert_eq!(row.operator_id.as_deref(), Some("1001"));
    assert_eq!(row.topic.as_deref(), Some("billing"));
    let events = server.store.call_events(&row.id).await.expect("timeline");
    let choice = events
        .iter()
        .find(|e| e.kind == "menu_choice")
        .expect("the choice is on the timeline");
    assert_eq!(choice.detail.as_deref(), Some("2 → billing"));

    let invite = operator_invite(&messages).await;
    assert!(invite.contains("X-Hotline-Topic: billing"), "{invite}");
    assert!(
        invite.contains("(billing)\" <sip:+79115550101@"),
        "{invite}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_sent_as_a_tone_in_the_audio_chooses_too() {
    let server = TestServer::start_with_env(&line_with_operator(), MENU_ON).await;
    let logs = tempfile::tempdir().unwrap();
    let messages = logs.path().join("operator_messages.log");
    let _op = operator(server.addr, &messages).await;
    let (run, _) = call(server.addr, Some(Press::Tone('3')), 16_000).await;
    assert!(run.status.success(), "caller: {}", run.stderr);
    let row = server
        .wait_row(&run.call_id, |r| r.ended_at.is_some())
        .await;
    assert_eq!(row.outcome, "answered");
    assert_eq!(row.topic.as_deref(), Some("contract"));
    let invite = operator_invite(&messages).await;
    assert!(invite.contains("X-Hotline-Topic: contract"), "{invite}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_who_presses_nothing_still_reaches_the_operator() {
    let server = TestServer::start_with_env(
        &line_with_operator(),
        &[
            ("HOTLINE_MENU__ENABLED", "true"),
            // One question, a short wait: the caller is silent, so this is what it costs.
            ("HOTLINE_MENU__ATTEMPTS", "1"),
            ("HOTLINE_MENU__FIRST_DIGIT_TIMEOUT", "1s"),
        ],
    )
    .await;
    let logs = tempfile::tempdir().unwrap();
    let messages = logs.path().join("operator_messages.log");
    let _op = operator(server.addr, &messages).await;
    // Greeting, notice, the whole menu (16.5 s) and its timeout, then talk.
    let (run, _) = call(server.addr, None, 32_000).await;
    assert!(run.status.success(), "caller: {}", run.stderr);

    let row = server
        .wait_row(&run.call_id, |r| r.ended_at.is_some())
        .await;
    assert_eq!(row.outcome, "answered");
    assert_eq!(row.operator_id.as_deref(), Some("1001"));
    assert_eq!(row.topic, None);
    let events = server.store.call_events(&row.id).await.expect("timeline");
    assert!(
        events
            .iter()
            .any(|e| e.kind == "menu_no_choice" && e.detail.as_deref() == Some("- → operator")),
        "{events:?}"
    );
    let invite = operator_invite(&messages).await;
    assert!(!invite.contains("X-Hotline-Topic"), "{invite}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_billing_caller_is_rung_to_the_operator_with_the_billing_skill() {
    // 1001 has no skills and registers first (each start waits for its 200), so is idle
    // the longest; 1002 has billing.
    let config = format!(
        "{}[[operators]]\nid = \"1002\"\nname = \"Operator 1002\"\npassword = \"pass1002\"\n\
         skills = [\"billing\"]\n",
        line_with_operator()
    );
    let server = TestServer::start_with_env(&config, MENU_ON).await;
    let logs = tempfile::tempdir().unwrap();
    let _first = operator(server.addr, &logs.path().join("op1001.log")).await;
    let _skilled = SippOperator::start(
        server.addr,
        "1002",
        "pass1002",
        free_udp_port(),
        free_udp_port(),
        &["-rtp_echo"],
    )
    .await;
    let (run, presses) = call(server.addr, Some(Press::Event(2)), 16_000).await;
    assert!(run.status.success(), "caller: {}", run.stderr);
    assert!(presses > 0);
    let row = server
        .wait_row(&run.call_id, |r| r.ended_at.is_some())
        .await;
    assert_eq!(row.outcome, "answered");
    assert_eq!(row.topic.as_deref(), Some("billing"));
    assert_eq!(
        row.operator_id.as_deref(),
        Some("1002"),
        "the skilled operator, though 1001 was free longer"
    );
    server.stop().await;
}
