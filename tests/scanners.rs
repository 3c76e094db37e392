//! Known SIP scanners over a real socket: their OPTIONS, REGISTER and INVITE get no
//! answer at all, an ordinary peer's do, and /metrics counts what was dropped.

mod common;

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

use common::{TestServer, CLOSED};

const SDP: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
                   m=audio 17000 RTP/AVP 0\r\n";

/// A request from 127.0.0.1:`port` (rport, so the answer comes back to this socket).
fn request(method: &str, user_agent: &str, from_name: &str, port: u16, n: u32) -> Vec<u8> {
    let (body, ctype) = if method == "INVITE" {
        (
            SDP,
            "Content-Type: application/sdp\r\nContact: <sip:1@127.0.0.1>\r\n",
        )
    } else {
        ("", "")
    };
    format!(
        "{method} sip:792112@127.0.0.1 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bKscan{n};rport\r\n\
         From: \"{from_name}\" <sip:100@127.0.0.1>;tag=s{n}\r\nTo: <sip:792112@127.0.0.1>\r\n\
         Call-ID: scan-{n}@127.0.0.1\r\nCSeq: 1 {method}\r\nMax-Forwards: 70\r\n\
         User-Agent: {user_agent}\r\n{ctype}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// The first status line that arrives within `wait`, if any.
async fn answer(sock: &UdpSocket, wait: Duration) -> Option<String> {
    let mut buf = vec![0u8; 65536];
    let (n, _) = tokio::time::timeout(wait, sock.recv_from(&mut buf))
        .await
        .ok()?
        .ok()?;
    Some(
        String::from_utf8_lossy(&buf[..n])
            .lines()
            .next()?
            .to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scanners_get_no_answer_and_are_counted() {
    let server = TestServer::start(CLOSED).await;
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let port = sock.local_addr().unwrap().port();
    let probes = [
        ("OPTIONS", "friendly-scanner", "100"),
        ("REGISTER", "sipcli/v1.8", "100"),
        ("INVITE", "Ozeki", "sipvicious"),
    ];
    for (n, (method, ua, name)) in probes.iter().enumerate() {
        let bytes = request(method, ua, name, port, n as u32);
        sock.send_to(&bytes, server.addr).await.unwrap();
        let got = answer(&sock, Duration::from_millis(500)).await;
        assert_eq!(got, None, "{method} from {ua}/{name} was answered");
    }
    // Over TCP too.
    let mut tcp = TcpStream::connect(server.addr).await.unwrap();
    tcp.write_all(&request("OPTIONS", "VaxSIPUserAgent/3.1", "x", port, 9))
        .await
        .unwrap();
    let mut buf = [0u8; 1024];
    let read = tokio::time::timeout(Duration::from_millis(500), tcp.read(&mut buf)).await;
    assert!(read.is_err(), "a scanner's OPTIONS over TCP was answered");

    // An ordinary peer is answered.
    let bytes = request("OPTIONS", "baresip v3.10.1", "Ivanova", port, 20);
    sock.send_to(&bytes, server.addr).await.unwrap();
    let got = answer(&sock, Duration::from_secs(3)).await;
    assert_eq!(got.as_deref(), Some("SIP/2.0 200 OK"));

    // The runtime publishes the count (its snapshot is refreshed, so wait for it).
    let url = format!("http://{}/metrics", server.http);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let text = reqwest::get(&url).await.unwrap().text().await.unwrap();
        if text.contains("\nhotline_sip_scanners_dropped_total 4\n") {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no scanner count in /metrics:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server.stop().await;
}
