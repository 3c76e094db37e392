//! Offers the line will not take, over a real socket: a multicast or broadcast
//! connection address, the unspecified address in an initial offer, 1,000 m-lines, too
//! many attributes. Each INVITE gets 488 with a Warning and its row says why; nothing is
//! admitted, so no media is ever sent there.

mod common;

use std::time::Duration;

use tokio::net::UdpSocket;

use common::{TestServer, CLOSED};

fn offer(c: &str, extra: &str) -> String {
    format!(
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN {c}\r\nt=0 0\r\n\
         m=audio 17000 RTP/AVP 0\r\n{extra}"
    )
}

fn invite(call_id: &str, port: u16, sdp: &str) -> Vec<u8> {
    format!(
        "INVITE sip:792112@127.0.0.1 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK-{call_id};rport\r\n\
         From: <sip:+79115550101@127.0.0.1>;tag=o1\r\nTo: <sip:792112@127.0.0.1>\r\n\
         Call-ID: {call_id}\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n\
         Contact: <sip:+79115550101@127.0.0.1:{port}>\r\nContent-Type: application/sdp\r\n\
         Content-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    )
    .into_bytes()
}

/// The final answer (status line and whole text) to what was just sent.
async fn final_answer(sock: &UdpSocket) -> (u16, String) {
    let mut buf = vec![0u8; 65536];
    loop {
        let (n, _) = tokio::time::timeout(Duration::from_secs(5), sock.recv_from(&mut buf))
            .await
            .expect("an answer within 5 s")
            .unwrap();
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        let status: u16 = text[8..11].parse().unwrap();
        if status >= 200 {
            return (status, text);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offers_we_will_not_take_get_488_and_are_registered_as_such() {
    let server = TestServer::start(CLOSED).await;
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let port = sock.local_addr().unwrap().port();
    let thousand = {
        let mut sdp = offer("IP4 127.0.0.1", "");
        sdp.push_str(&"m=video 0 RTP/AVP 31\r\n".repeat(999));
        sdp
    };
    let cases = [
        ("multicast-1", offer("IP4 224.0.0.1", "")),
        ("broadcast-1", offer("IP4 255.255.255.255", "")),
        ("multicast-6", offer("IP6 ff02::1", "")),
        ("unspecified-1", offer("IP4 0.0.0.0", "")),
        ("thousand-m-lines", thousand),
        (
            "many-attributes",
            offer("IP4 127.0.0.1", &"a=x:1\r\n".repeat(65)),
        ),
    ];
    for (call_id, sdp) in &cases {
        sock.send_to(&invite(call_id, port, sdp), server.addr)
            .await
            .unwrap();
        let (status, text) = final_answer(&sock).await;
        assert_eq!(status, 488, "{call_id}:\n{text}");
        assert!(text.contains("\r\nWarning: 304 "), "{call_id}:\n{text}");
        let row = server.wait_row(call_id, |r| r.ended_at.is_some()).await;
        assert_eq!(row.final_status, Some(488), "{call_id}");
        assert_eq!(
            row.end_reason.as_deref(),
            Some("sdp_unacceptable"),
            "{call_id}"
        );
    }
    // The same line takes an ordinary offer (the after-hours message answers it).
    sock.send_to(
        &invite("ordinary", port, &offer("IP4 127.0.0.1", "")),
        server.addr,
    )
    .await
    .unwrap();
    let (status, text) = final_answer(&sock).await;
    assert_eq!(status, 200, "{text}");
    // ACK and hang up, so the server has nothing left to finish.
    let to = text
        .split("\r\n")
        .find(|l| l.starts_with("To:"))
        .expect("To in the 200");
    for (method, cseq) in [("ACK", 1), ("BYE", 2)] {
        let req = format!(
            "{method} sip:hotline@{server} SIP/2.0\r\n\
             Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK-{method}-o;rport\r\n\
             From: <sip:+79115550101@127.0.0.1>;tag=o1\r\n{to}\r\nCall-ID: ordinary\r\n\
             CSeq: {cseq} {method}\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
            server = server.addr
        );
        sock.send_to(req.as_bytes(), server.addr).await.unwrap();
    }
    let (status, _) = final_answer(&sock).await;
    assert_eq!(status, 200, "BYE answered");
    server.wait_row("ordinary", |r| r.ended_at.is_some()).await;
    server.stop().await;
}
