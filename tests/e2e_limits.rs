//! The limits end to end over 127.0.0.1, as a peer sees them: `limits.max_calls` (503 with
//! Retry-After and a `rejected` row), `limits.max_waiting` (the overflow message),
//! per-source rates, `sip.tcp_max_per_address` and `sip.tcp_idle_timeout`, and the
//! counters at `/metrics`.

mod common;

use std::time::{Duration, Instant};

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

/// A caller or pinger written out by hand over UDP.
struct Hand {
    sock: UdpSocket,
    server: std::net::SocketAddr,
}

impl Hand {
    async fn new(server: std::net::SocketAddr) -> Hand {
        let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        Hand { sock, server }
    }

    fn invite(&self, call_id: &str) -> String {
        let local = self.sock.local_addr().unwrap();
        let body = format!(
            "v=0\r\no=caller 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
             m=audio {} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n",
            free_udp_port()
        );
        format!(
            "INVITE sip:792112@{server} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK-{call_id};rport\r\n\
             From: <sip:+79115550123@127.0.0.1>;tag=t-{call_id}\r\nTo: <sip:792112@127.0.0.1>\r\n\
             Call-ID: {call_id}\r\nCSeq: 1 INVITE\r\nContact: <sip:caller@{local}>\r\nMax-Forwards: 70\r\n\
             Content-Type: application/sdp\r\nContent-Length: {len}\r\n\r\n{body}",
            server = self.server,
            len = body.len(),
        )
    }

    fn options(&self, n: u32) -> String {
        let local = self.sock.local_addr().unwrap();
        format!(
            "OPTIONS sip:{server} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK-o{n};rport\r\n\
             From: <sip:ping@127.0.0.1>;tag=o{n}\r\nTo: <sip:{server}>\r\nCall-ID: opt-{n}-{port}\r\n\
             CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
            server = self.server,
            port = local.port(),
        )
    }

    async fn send(&self, text: &str) {
        self.sock
            .send_to(text.as_bytes(), self.server)
            .await
            .unwrap();
    }

    /// ACK a 200 to our INVITE (its To tag and Call-ID from the response).
    async fn ack(&self, ok: &str) {
        let local = self.sock.local_addr().unwrap();
        let to = header(ok, "To").unwrap();
        let from = header(ok, "From").unwrap();
        let call_id = header(ok, "Call-ID").unwrap();
        let ack = format!(
            "ACK sip:792112@{server} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK-ack-{call_id};rport\r\n\
             From: {from}\r\nTo: {to}\r\nCall-ID: {call_id}\r\nCSeq: 1 ACK\r\nMax-Forwards: 70\r\n\
             Content-Length: 0\r\n\r\n",
            server = self.server,
        );
        self.send(&ack).await;
    }

    /// Place a call and ACK its 200; panics on any other answer.
    async fn call(&self, call_id: &str) {
        self.send(&self.invite(call_id)).await;
        let ok = self.final_response(Duration::from_secs(5)).await;
        let ok = ok.unwrap_or_else(|| panic!("no answer to {call_id}"));
        assert!(ok.starts_with("SIP/2.0 200"), "{ok}");
        self.ack(&ok).await;
    }

    /// The next final response, skipping provisionals; `None` if nothing comes in `wait`.
    async fn final_response(&self, wait: Duration) -> Option<String> {
        let mut buf = vec![0u8; 65_536];
        let end = tokio::time::Instant::now() + wait;
        loop {
            let (n, _) = tokio::time::timeout_at(end, self.sock.recv_from(&mut buf))
                .await
                .ok()?
                .unwrap();
            let text = String::from_utf8_lossy(&buf[..n]).into_owned();
            if text.starts_with("SIP/2.0 ") && !text.starts_with("SIP/2.0 1") {
                return Some(text);
            }
        }
    }
}

fn header<'a>(response: &'a str, name: &str) -> Option<&'a str> {
    response.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// `/metrics` once it contains `wanted` (metrics are published once a second), bounded.
async fn metrics_with(server: &TestServer, wanted: &[&str]) -> String {
    let url = format!("http://{}/metrics", server.http);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let text = reqwest::get(&url).await.unwrap().text().await.unwrap();
        if wanted.iter().all(|w| text.contains(w)) || Instant::now() > deadline {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_max_calls_2_a_third_invite_gets_503_with_retry_after_and_a_rejected_row() {
    let server = TestServer::start(&format!(
        "{CLOSED}\n[shutdown]\ngrace = \"0s\"\n[limits]\nmax_calls = 2\nretry_after = \"12s\"\n"
    ))
    .await;
    // Two callers who listen to the after-hours message (20 s) hold the two places.
    let mut held = Vec::new();
    for n in 1..=2 {
        let caller = Hand::new(server.addr).await;
        caller.call(&format!("held-{n}")).await;
        held.push(caller);
    }
    let third = Hand::new(server.addr).await;
    third.send(&third.invite("third")).await;
    let refused = third
        .final_response(Duration::from_secs(5))
        .await
        .expect("an answer");
    assert!(refused.starts_with("SIP/2.0 503"), "{refused}");
    assert_eq!(header(&refused, "Retry-After"), Some("12"), "{refused}");

    let row = server.wait_row("third", |r| r.ended_at.is_some()).await;
    assert_eq!(row.outcome, "rejected");
    assert_eq!(row.final_status, Some(503));
    assert_eq!(row.end_reason.as_deref(), Some("too_many_calls"));
    let wanted = "hotline_limit_refusals_total{limit=\"max_calls\"} 1";
    let text = metrics_with(&server, &[wanted]).await;
    assert!(text.contains(wanted), "{text}");
    drop(held);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_max_waiting_1_the_second_waiting_caller_hears_the_overflow_message() {
    let extra = format!(
        "{ALWAYS_OPEN}\n[shutdown]\ngrace = \"0s\"\n[limits]\nmax_waiting = 1\n[[operators]]\nid = \"1001\"\nname = \"Op\"\npassword = \"pass1001\"\n"
    );
    let server = TestServer::start(&extra).await;
    // The operator registers, then the phone goes away: rings go unanswered, so the first
    // caller keeps its place in the queue.
    let op = SippOperator::echoing(server.addr, "1001", "pass1001").await;
    drop(op);
    let first = Hand::new(server.addr).await;
    first.call("first-waiting").await;
    // The second caller joins the queue well after the first (their prompts are as long).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let second = Hand::new(server.addr).await;
    second.call("second-waiting").await;
    // Greeting, recording notice, then the overflow message instead of the queue.
    let deadline = Instant::now() + Duration::from_secs(40);
    let row = loop {
        let rows = server
            .store
            .calls_by_sip_call_id("second-waiting")
            .await
            .unwrap();
        if let Some(row) = rows.into_iter().find(|r| r.ended_at.is_some()) {
            break row;
        }
        assert!(Instant::now() < deadline, "the second caller's call ends");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(row.outcome, "overflow");
    assert_eq!(row.end_reason.as_deref(), Some("queue_full"));
    assert_eq!(row.hangup_by.as_deref(), Some("system"));
    let first_row = server
        .wait_row("first-waiting", |r| r.queued_at.is_some())
        .await;
    assert!(first_row.ended_at.is_none(), "the first caller still waits");
    let wanted = "hotline_limit_refusals_total{limit=\"max_waiting\"} 1";
    let text = metrics_with(&server, &[wanted]).await;
    assert!(text.contains(wanted), "{text}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_options_flood_is_dropped_and_an_invite_flood_gets_503_beyond_the_rate() {
    let server = TestServer::start(&format!(
        "{CLOSED}\n[shutdown]\ngrace = \"0s\"\n[limits]\noptions_rate = 1\noptions_burst = 2\ntrunk_invite_rate = 1\ntrunk_invite_burst = 1\n"
    ))
    .await;
    let pinger = Hand::new(server.addr).await;
    for n in 0..6 {
        pinger.send(&pinger.options(n)).await;
    }
    // The first answer may wait for the server to be up; then the rest come at once.
    let mut answered = 0;
    let mut wait = Duration::from_secs(5);
    while pinger.final_response(wait).await.is_some() {
        answered += 1;
        wait = Duration::from_secs(1);
    }
    assert_eq!(answered, 2, "two pings in the burst, the rest dropped");

    let caller = Hand::new(server.addr).await;
    caller.call("rate-1").await;
    caller.send(&caller.invite("rate-2")).await;
    let second = caller.final_response(Duration::from_secs(5)).await.unwrap();
    assert!(second.starts_with("SIP/2.0 503"), "{second}");
    assert_eq!(header(&second, "Retry-After"), Some("1"), "{second}");
    let wanted = [
        "hotline_limit_refusals_total{limit=\"options_rate\"} 4",
        "hotline_limit_refusals_total{limit=\"trunk_invite_rate\"} 1",
    ];
    let text = metrics_with(&server, &wanted).await;
    for w in wanted {
        assert!(text.contains(w), "{w}\n{text}");
    }
    // Refused over the rate: no row for the flood.
    let rows = server.store.calls_by_sip_call_id("rate-2").await.unwrap();
    assert!(rows.is_empty(), "{rows:?}");
    server.stop().await;
}

/// Whether the server closed this connection within `wait` (EOF or reset on read).
async fn closed_within(conn: &mut TcpStream, wait: Duration) -> bool {
    let mut buf = [0u8; 1024];
    let end = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(end, conn.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
        }
    }
}

fn tcp_options(n: u32, local: std::net::SocketAddr, server: std::net::SocketAddr) -> String {
    format!(
        "OPTIONS sip:{server};transport=tcp SIP/2.0\r\nVia: SIP/2.0/TCP {local};branch=z9hG4bK-t{n}\r\n\
         From: <sip:ping@127.0.0.1>;tag=t{n}\r\nTo: <sip:{server}>\r\nCall-ID: tcp-{n}-{port}\r\n\
         CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
        port = local.port()
    )
}

/// One OPTIONS over the connection, answered 200.
async fn ping(conn: &mut TcpStream, n: u32, server: std::net::SocketAddr) {
    let local = conn.local_addr().unwrap();
    conn.write_all(tcp_options(n, local, server).as_bytes())
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let got = tokio::time::timeout(Duration::from_secs(5), conn.read(&mut buf))
        .await
        .expect("an answer in time")
        .unwrap();
    let text = String::from_utf8_lossy(&buf[..got]);
    assert!(text.starts_with("SIP/2.0 200"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_connections_beyond_the_limit_per_address_are_closed_and_silent_ones_time_out() {
    let server = TestServer::start_with_env(
        CLOSED,
        &[
            ("HOTLINE_SIP__TCP_MAX_PER_ADDRESS", "3"),
            ("HOTLINE_SIP__TCP_IDLE_TIMEOUT", "1500ms"),
        ],
    )
    .await;
    let mut kept = Vec::new();
    for n in 0..3 {
        let mut conn = TcpStream::connect(server.addr).await.unwrap();
        ping(&mut conn, n, server.addr).await;
        kept.push(conn);
    }
    let mut fourth = TcpStream::connect(server.addr).await.unwrap();
    assert!(
        closed_within(&mut fourth, Duration::from_secs(2)).await,
        "the fourth connection from one address is closed"
    );

    // A connection that never speaks SIP is closed at the idle timeout...
    drop(kept.pop());
    let freed = "hotline_tcp_connections 2";
    assert!(metrics_with(&server, &[freed]).await.contains(freed));
    let opened = Instant::now();
    let mut silent = TcpStream::connect(server.addr).await.unwrap();
    assert!(closed_within(&mut silent, Duration::from_secs(5)).await);
    let lived = opened.elapsed();
    assert!(
        lived >= Duration::from_millis(1300) && lived < Duration::from_secs(4),
        "closed after {lived:?}"
    );
    // ...while the ones that carried SIP (a softphone's flow) are still there.
    for (n, conn) in kept.iter_mut().enumerate() {
        ping(conn, 10 + n as u32, server.addr).await;
    }
    let wanted = [
        "hotline_limit_refusals_total{limit=\"tcp_max_per_address\"} 1",
        "hotline_tcp_idle_closed_total 1",
        "hotline_tcp_connections 2",
    ];
    let text = metrics_with(&server, &wanted).await;
    for w in wanted {
        assert!(text.contains(w), "{w}\n{text}");
    }
    server.stop().await;
}
