//! End to end over 127.0.0.1: a real server, SIPp as the caller, the test as the caller's
//! RTP endpoint, and the call register read back from the SQLite file.

mod common;

use std::net::UdpSocket;
use std::time::Duration;

use common::*;

/// Parse an RTP header: (marker, payload type, seq, timestamp, ssrc, payload).
fn rtp(b: &[u8]) -> (bool, u8, u16, u32, u32, &[u8]) {
    assert!(
        b.len() >= 12 && b[0] >> 6 == 2,
        "not RTP v2: {:?}",
        &b[..b.len().min(12)]
    );
    (
        b[1] & 0x80 != 0,
        b[1] & 0x7f,
        u16::from_be_bytes([b[2], b[3]]),
        u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
        u32::from_be_bytes([b[8], b[9], b[10], b[11]]),
        &b[12..],
    )
}

/// A caller who hangs up after `hold_ms`: returns the SIPp run and the RTP it received.
async fn call_and_hang_up(
    server: &TestServer,
    hold_ms: u32,
    extra: &[&str],
) -> (SippRun, Vec<RtpIn>) {
    let rtp_port = free_udp_port().to_string();
    let listener = capture_rtp(
        rtp_port.parse().unwrap(),
        Duration::from_millis(1000),
        Duration::from_secs(30),
    );
    let hold = hold_ms.to_string();
    let mut args = vec!["-s", "792112", "-set", "rtp_port", &rtp_port, "-d", &hold];
    args.extend_from_slice(extra);
    let run = sipp(server.addr, "caller_hangs_up.xml", &args).await;
    assert!(run.status.success(), "SIPp call failed: {}", run.stderr);
    (run, listener.join().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_hours_caller_hears_the_whole_message_then_gets_bye() {
    let server = TestServer::start(CLOSED).await;
    let rtp_port = free_udp_port();
    let listener = capture_rtp(
        rtp_port,
        Duration::from_millis(1500),
        Duration::from_secs(40),
    );
    let run = sipp(
        server.addr,
        "after_hours_call.xml",
        &["-s", "792112", "-set", "rtp_port", &rtp_port.to_string()],
    )
    .await;
    assert!(run.status.success(), "SIPp call failed: {}", run.stderr);
    let packets = listener.join().unwrap();

    // The prompt, frame by frame: 8 kHz, 20 ms = 160 samples a packet, last one padded.
    let prompt = wav_samples(&repo().join("config/prompts/after_hours.wav"));
    let expected = prompt.len().div_ceil(160);
    assert_eq!(
        packets.len(),
        expected,
        "one RTP packet per 20 ms of the prompt"
    );

    let (m0, pt0, seq0, ts0, ssrc0, _) = rtp(&packets[0].bytes);
    assert!(m0, "the first packet starts a talkspurt (marker)");
    for (i, p) in packets.iter().enumerate() {
        let (m, pt, seq, ts, ssrc, payload) = rtp(&p.bytes);
        assert_eq!(pt, pt0);
        assert_eq!(pt, 0, "PCMU was the caller's first choice");
        assert_eq!(ssrc, ssrc0);
        assert_eq!(
            seq,
            seq0.wrapping_add(i as u16),
            "sequence numbers consecutive"
        );
        assert_eq!(
            ts,
            ts0.wrapping_add(160 * i as u32),
            "timestamps advance 160 a packet"
        );
        assert_eq!(m, i == 0);
        assert_eq!(payload.len(), 160);
        // The payload is the prompt itself, μ-law encoded (bit-exact G.711).
        for (j, &byte) in payload.iter().enumerate() {
            let sample = prompt.get(i * 160 + j).copied();
            let want = sample.map_or(0xFF, audio_codec_algorithms::encode_ulaw);
            assert_eq!(byte, want, "packet {i} byte {j}");
        }
    }

    // Pacing: spread over the prompt's length, not sent in a burst.
    let gaps: Vec<f64> = packets
        .windows(2)
        .map(|w| (w[1].at - w[0].at).as_secs_f64() * 1000.0)
        .collect();
    let span = (packets.last().unwrap().at - packets[0].at).as_secs_f64();
    let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
    let jitter = (gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / gaps.len() as f64).sqrt();
    let worst = gaps.iter().fold(0f64, |a, &g| a.max((g - 20.0).abs()));
    println!(
        "prompt RTP: {} packets over {span:.3} s, mean gap {mean:.3} ms, jitter (sd) {jitter:.3} ms, worst deviation {worst:.3} ms",
        packets.len()
    );
    assert!(
        span >= (expected - 1) as f64 * 0.020 * 0.9,
        "packets were paced, not burst ({span:.3} s)"
    );

    let row = server
        .wait_row(&run.call_id, |r| r.ended_at.is_some())
        .await;
    assert_eq!(row.outcome, "after_hours");
    assert_eq!(row.hangup_by.as_deref(), Some("system"));
    assert_eq!(row.end_reason.as_deref(), Some("prompt_done"));
    assert_eq!(row.caller, "+79115550101");
    assert_eq!(row.dialed, "792112");
    assert_eq!(row.final_status, Some(200));
    assert!(row.answered_at.is_some());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caller_hanging_up_mid_prompt_stops_the_message_at_once() {
    let server = TestServer::start(CLOSED).await;
    let (run, packets) = call_and_hang_up(&server, 2000, &[]).await;
    // About 2 s of the prompt (100 packets), certainly not all of it (~1000).
    assert!(
        (80..=130).contains(&packets.len()),
        "{} packets after a 2 s call",
        packets.len()
    );
    let row = server
        .wait_row(&run.call_id, |r| r.ended_at.is_some())
        .await;
    assert_eq!(row.outcome, "after_hours");
    assert_eq!(row.hangup_by.as_deref(), Some("caller"));
    assert_eq!(row.end_reason.as_deref(), Some("caller_bye"));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn options_is_answered() {
    let server = TestServer::start(CLOSED).await;
    let run = sipp(server.addr, "options.xml", &["-s", "792112"]).await;
    assert!(run.status.success(), "OPTIONS failed: {}", run.stderr);
    assert_eq!(
        server.store.count_calls().await.unwrap(),
        0,
        "OPTIONS is not a call"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_number_gets_404_and_a_rejected_row() {
    let server = TestServer::start(CLOSED).await;
    let run = sipp(server.addr, "rejected_404.xml", &["-s", "1234567"]).await;
    assert!(run.status.success(), "expected 404: {}", run.stderr);
    let row = server
        .wait_row(&run.call_id, |r| r.ended_at.is_some())
        .await;
    assert_eq!(row.outcome, "rejected");
    assert_eq!(row.final_status, Some(404));
    assert_eq!(row.dialed, "1234567");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_source_gets_403_and_a_rejected_row() {
    // Only 127.0.0.1 is on the trunk; SIPp calls from 127.0.0.2.
    let server = TestServer::start(CLOSED).await;
    let port = free_udp_port().to_string();
    let run = sipp(
        server.addr,
        "rejected_403.xml",
        &["-s", "792112", "-i", "127.0.0.2", "-p", &port],
    )
    .await;
    assert!(run.status.success(), "expected 403: {}", run.stderr);
    let row = server
        .wait_row(&run.call_id.replace("127.0.0.1", "127.0.0.2"), |r| {
            r.ended_at.is_some()
        })
        .await;
    assert_eq!(row.outcome, "rejected");
    assert_eq!(row.final_status, Some(403));
    assert!(row.source.starts_with("udp:127.0.0.2:"), "{}", row.source);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_is_survived_and_the_next_call_is_served() {
    let server = TestServer::start(CLOSED).await;
    let junk = UdpSocket::bind("127.0.0.1:0").unwrap();
    for garbage in [
        &b"\x00\x01\x02\xff\xfe garbage"[..],
        b"INVITE sip:792112@127.0.0.1 SIP/2.0\r\nVia: broken\r\n\r\n",
        b"SIP/2.0 200 OK\r\n\r\n",
        b"INVITE sip:792112@127.0.0.1 SIP/2.0\r\nContent-Length: 99999\r\n\r\nshort",
        &[b'A'; 60_000][..],
    ] {
        junk.send_to(garbage, server.addr).unwrap();
    }
    let (run, packets) = call_and_hang_up(&server, 500, &[]).await;
    assert!(!packets.is_empty());
    let row = server
        .wait_row(&run.call_id, |r| r.ended_at.is_some())
        .await;
    assert_eq!(row.hangup_by.as_deref(), Some("caller"));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_hours_call_over_tcp() {
    let server = TestServer::start(CLOSED).await;
    let (run, packets) = call_and_hang_up(&server, 1000, &["-t", "t1"]).await;
    assert!(!packets.is_empty());
    let row = server
        .wait_row(&run.call_id, |r| r.ended_at.is_some())
        .await;
    assert!(row.source.starts_with("tcp:127.0.0.1:"), "{}", row.source);
    assert_eq!(row.hangup_by.as_deref(), Some("caller"));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_hours_with_nobody_logged_in_the_caller_hears_greeting_notice_then_no_operators() {
    let server = TestServer::start(ALWAYS_OPEN).await;
    let rtp_port = free_udp_port();
    let listener = capture_rtp(
        rtp_port,
        Duration::from_millis(1500),
        Duration::from_secs(30),
    );
    let run = sipp(
        server.addr,
        "after_hours_call.xml",
        &[
            "-s",
            "+78112792112",
            "-set",
            "rtp_port",
            &rtp_port.to_string(),
        ],
    )
    .await;
    assert!(run.status.success(), "SIPp call failed: {}", run.stderr);
    let frames = |name: &str| {
        wav_samples(&repo().join(format!("config/prompts/{name}.wav")))
            .len()
            .div_ceil(160)
    };
    let packets = listener.join().unwrap();
    let stream = main_stream(&packets);
    // Every packet of the call's stream once: a repeated sequence number is a duplicate.
    let seqs: std::collections::BTreeSet<u16> = stream
        .iter()
        .map(|p| u16::from_be_bytes([p.bytes[2], p.bytes[3]]))
        .collect();
    assert_eq!(seqs.len(), stream.len(), "no packet sent twice");
    assert_eq!(
        stream.len(),
        frames("greeting") + frames("recording_notice") + frames("no_operators"),
        "{} of {} packets from the call's address",
        stream.len(),
        packets.len()
    );
    let row = server
        .wait_row(&run.call_id, |r| r.ended_at.is_some())
        .await;
    assert_eq!(row.outcome, "no_operators");
    assert!(row.queued_at.is_some());
    assert!(row.notice_played_at.is_some());
    assert_eq!(row.notice_completed, Some(true));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_refuses_new_calls_and_interrupts_calls_at_the_end_of_grace() {
    let server = TestServer::start(&format!("{CLOSED}\n[shutdown]\ngrace = \"2s\"\n")).await;
    let rtp_port = free_udp_port();
    let listener = capture_rtp(
        rtp_port,
        Duration::from_millis(1500),
        Duration::from_secs(30),
    );
    let addr = server.addr;
    let long_call = tokio::spawn(async move {
        sipp(
            addr,
            "after_hours_call.xml",
            &["-s", "792112", "-set", "rtp_port", &rtp_port.to_string()],
        )
        .await
    });
    // Wait until the first call is answered, then stop the server as SIGTERM would.
    let first = loop {
        let rows = server.store.recent_calls(5).await.unwrap();
        if let Some(r) = rows.into_iter().find(|r| r.answered_at.is_some()) {
            break r;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    server.begin_stop();
    let refused = sipp(server.addr, "rejected_503.xml", &["-s", "792112"]).await;
    assert!(
        refused.status.success(),
        "a new call during shutdown gets 503: {}",
        refused.stderr
    );
    let long_call = long_call.await.unwrap();
    assert!(
        long_call.status.success(),
        "the call in progress is ended with BYE: {}",
        long_call.stderr
    );
    let heard = listener.join().unwrap().len();
    let whole = wav_samples(&repo().join("config/prompts/after_hours.wav"))
        .len()
        .div_ceil(160);
    assert!(
        heard < whole / 2,
        "cut at the end of the grace, not played to the end ({heard} of {whole} packets)"
    );

    let row = server.store.call(&first.id).await.unwrap().unwrap();
    assert_eq!(row.outcome, "interrupted");
    assert_eq!(row.end_reason.as_deref(), Some("shutdown"));
    let refused_row = server
        .wait_row(&refused.call_id, |r| r.ended_at.is_some())
        .await;
    assert_eq!(refused_row.final_status, Some(503));
    assert_eq!(refused_row.outcome, "rejected");
    server.stop().await;
}

/// A caller written out by hand (SIP over UDP from the test), for what SIPp's scripted
/// callers cannot do simply: a re-INVITE that moves the media and one that holds.
struct HandCaller {
    sip: tokio::net::UdpSocket,
    server: std::net::SocketAddr,
    call_id: String,
    our_tag: &'static str,
    their_tag: String,
    cseq: u32,
}

impl HandCaller {
    fn sdp(port: u16, version: u32, direction: &str) -> String {
        format!(
            "v=0\r\no=caller 1 {version} IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
             m=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na={direction}\r\n"
        )
    }

    fn request(&self, method: &str, to_tag: &str, cseq: u32, body: &str) -> String {
        let local = self.sip.local_addr().unwrap();
        let ctype = if body.is_empty() {
            String::new()
        } else {
            "Content-Type: application/sdp\r\n".to_string()
        };
        format!(
            "{method} sip:792112@{server} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK-hand-{method}-{cseq};rport\r\n\
             From: <sip:+79115550199@127.0.0.1>;tag={tag}\r\nTo: <sip:792112@127.0.0.1>{to_tag}\r\n\
             Call-ID: {cid}\r\nCSeq: {cseq} {method}\r\nContact: <sip:caller@{local}>\r\nMax-Forwards: 70\r\n\
             {ctype}Content-Length: {len}\r\n\r\n{body}",
            server = self.server,
            tag = self.our_tag,
            cid = self.call_id,
            len = body.len(),
        )
    }

    async fn send(&self, text: &str) {
        self.sip
            .send_to(text.as_bytes(), self.server)
            .await
            .unwrap();
    }

    /// The next final response (2xx–6xx) for `method`, skipping provisionals.
    async fn final_response(&self, method: &str) -> String {
        let mut buf = vec![0u8; 65_536];
        loop {
            let (n, _) = tokio::time::timeout(Duration::from_secs(5), self.sip.recv_from(&mut buf))
                .await
                .expect("an answer in time")
                .unwrap();
            let text = String::from_utf8_lossy(&buf[..n]).into_owned();
            let is_final = text.starts_with("SIP/2.0 ") && !text.starts_with("SIP/2.0 1");
            if is_final && text.contains(&format!(" {method}\r\n")) {
                return text;
            }
        }
    }

    async fn reinvite(&mut self, body: &str) -> String {
        self.cseq += 1;
        let to = format!(";tag={}", self.their_tag);
        self.send(&self.request("INVITE", &to, self.cseq, body))
            .await;
        let ok = self.final_response("INVITE").await;
        self.send(&self.request("ACK", &to, self.cseq, "")).await;
        ok
    }
}

/// RTP packets arriving on `sock` within `window`.
async fn rtp_within(sock: &tokio::net::UdpSocket, window: Duration) -> usize {
    let mut buf = [0u8; 2048];
    let end = tokio::time::Instant::now() + window;
    let mut n = 0;
    while let Ok(Ok(_)) = tokio::time::timeout_at(end, sock.recv_from(&mut buf)).await {
        n += 1;
    }
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callers_reinvite_moves_the_media_and_a_hold_stops_it() {
    let server = TestServer::start(CLOSED).await;
    let first = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let moved = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut caller = HandCaller {
        sip: tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap(),
        server: server.addr,
        call_id: "hand-reinvite-1".into(),
        our_tag: "hand1",
        their_tag: String::new(),
        cseq: 1,
    };
    let offer = HandCaller::sdp(first.local_addr().unwrap().port(), 1, "sendrecv");
    caller.send(&caller.request("INVITE", "", 1, &offer)).await;
    let ok = caller.final_response("INVITE").await;
    assert!(ok.starts_with("SIP/2.0 200"), "{ok}");
    let to_line = ok.lines().find(|l| l.starts_with("To:")).unwrap();
    caller.their_tag = to_line.split(";tag=").nth(1).unwrap().trim().to_string();
    let to = format!(";tag={}", caller.their_tag);
    caller.send(&caller.request("ACK", &to, 1, "")).await;
    assert!(
        rtp_within(&first, Duration::from_millis(300)).await > 5,
        "the after-hours message plays to the first address"
    );

    // Handover: the media moves to another port.
    let moved_port = moved.local_addr().unwrap().port();
    let ok = caller
        .reinvite(&HandCaller::sdp(moved_port, 2, "sendrecv"))
        .await;
    assert!(
        ok.starts_with("SIP/2.0 200") && ok.contains("a=sendrecv"),
        "{ok}"
    );
    assert!(
        rtp_within(&moved, Duration::from_millis(300)).await > 5,
        "the message follows the caller to the new port"
    );
    // Whatever was in flight has arrived by now; the old port hears nothing more.
    rtp_within(&first, Duration::from_millis(100)).await;
    assert_eq!(rtp_within(&first, Duration::from_millis(300)).await, 0);

    // The caller holds: we answer recvonly and send nothing.
    let ok = caller
        .reinvite(&HandCaller::sdp(moved_port, 3, "sendonly"))
        .await;
    assert!(ok.contains("a=recvonly"), "{ok}");
    rtp_within(&moved, Duration::from_millis(100)).await;
    assert_eq!(
        rtp_within(&moved, Duration::from_millis(300)).await,
        0,
        "silence while held"
    );
    let ok = caller
        .reinvite(&HandCaller::sdp(moved_port, 4, "sendrecv"))
        .await;
    assert!(ok.contains("a=sendrecv"), "{ok}");
    assert!(
        rtp_within(&moved, Duration::from_millis(300)).await > 5,
        "the message again"
    );

    caller.cseq += 1;
    caller
        .send(&caller.request("BYE", &to, caller.cseq, ""))
        .await;
    assert!(caller
        .final_response("BYE")
        .await
        .starts_with("SIP/2.0 200"));
    let row = server
        .wait_row("hand-reinvite-1", |r| r.ended_at.is_some())
        .await;
    assert_eq!(row.outcome, "after_hours");
    assert_eq!(row.hangup_by.as_deref(), Some("caller"));
    let events = server.store.call_events(&row.id).await.unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        ["caller_media_moved", "caller_hold", "caller_resume"]
    );
    server.stop().await;
}
