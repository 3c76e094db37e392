//! Operators behind NAT, over real sockets on 127.0.0.1: an RFC 5626 CRLFCRLF ping on a
//! TCP flow gets its CRLF pong; a softphone that registers over TCP with a private,
//! unreachable Contact gets its calls on that same connection; over UDP the REGISTER's
//! answer goes back to the source port, with `received` and `rport` filled in.

mod common;

use std::time::Duration;

use common::{TestServer, ALWAYS_OPEN};
use hotline::sip::digest::{pick_challenge, AuthHeader, ClientAuth};
use rand::rngs::SmallRng;
use rand::SeedableRng;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

const OPERATOR: &str = r#"
[[operators]]
id = "101"
name = "Operator 101"
password = "op101-secret"
"#;

fn header<'a>(msg: &'a str, name: &str) -> Option<&'a str> {
    msg.split("\r\n").skip(1).find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then_some(v.trim())
    })
}

/// The next whole SIP message on a stream (headers and Content-Length body).
async fn read_message(stream: &mut TcpStream, buf: &mut Vec<u8>) -> String {
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end + 4]).to_string();
            let len: usize = header(&head, "Content-Length")
                .or_else(|| header(&head, "l"))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                let msg: Vec<u8> = buf.drain(..end + 4 + len).collect();
                return String::from_utf8_lossy(&msg).to_string();
            }
        }
        let mut chunk = [0u8; 8192];
        let n = tokio::time::timeout(Duration::from_secs(30), stream.read(&mut chunk))
            .await
            .expect("a message within 30 s")
            .expect("read");
        assert!(n > 0, "connection closed");
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn register(
    transport: &str,
    local: &str,
    contact: &str,
    cseq: u32,
    auth: Option<(&str, String)>,
) -> String {
    let auth = auth
        .map(|(name, value)| format!("{name}: {value}\r\n"))
        .unwrap_or_default();
    format!(
        "REGISTER sip:127.0.0.1 SIP/2.0\r\n\
         Via: SIP/2.0/{transport} {local};branch=z9hG4bK-nat{cseq};rport\r\n\
         Max-Forwards: 70\r\nFrom: <sip:101@127.0.0.1>;tag=nat1\r\nTo: <sip:101@127.0.0.1>\r\n\
         Call-ID: nat-register-{transport}\r\nCSeq: {cseq} REGISTER\r\n\
         Contact: <{contact}>\r\nExpires: 600\r\n{auth}Content-Length: 0\r\n\r\n"
    )
}

fn answer(challenge_msg: &str) -> (&'static str, String) {
    let challenge = pick_challenge(
        challenge_msg
            .split("\r\n")
            .filter_map(|l| l.strip_prefix("WWW-Authenticate: ")),
    )
    .expect("a digest challenge");
    let mut auth = ClientAuth::new("101", "op101-secret");
    auth.take_challenge(AuthHeader::Www, challenge);
    auth.authorize("REGISTER", "sip:127.0.0.1", &mut SmallRng::seed_from_u64(1))
        .expect("credentials")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tcp_flow_answers_pings_and_carries_calls_to_a_private_contact() {
    let server = TestServer::start(&format!("{ALWAYS_OPEN}{OPERATOR}")).await;
    let mut phone = TcpStream::connect(server.addr).await.unwrap();
    let local = phone.local_addr().unwrap();

    // RFC 5626 §3.5.1: CRLFCRLF is answered with one CRLF.
    phone.write_all(b"\r\n\r\n").await.unwrap();
    let mut pong = [0u8; 2];
    tokio::time::timeout(Duration::from_secs(10), phone.read_exact(&mut pong))
        .await
        .expect("a pong")
        .unwrap();
    assert_eq!(&pong, b"\r\n");

    // A softphone behind NAT: its Contact is a private address nobody can reach.
    let contact = "sip:101@10.255.255.1:5099;transport=tcp";
    let sent_by = "10.255.255.1:5099";
    let mut buf = Vec::new();
    phone
        .write_all(register("TCP", sent_by, contact, 1, None).as_bytes())
        .await
        .unwrap();
    let challenge = read_message(&mut phone, &mut buf).await;
    assert!(challenge.starts_with("SIP/2.0 401"), "{challenge}");
    phone
        .write_all(register("TCP", sent_by, contact, 2, Some(answer(&challenge))).as_bytes())
        .await
        .unwrap();
    let ok = read_message(&mut phone, &mut buf).await;
    assert!(ok.starts_with("SIP/2.0 200"), "{ok}");
    let via = header(&ok, "Via").unwrap();
    assert!(
        via.contains("received=127.0.0.1") && via.contains(&format!("rport={}", local.port())),
        "{via}"
    );

    // A caller from the trunk: the operator's INVITE comes down the same connection.
    let caller = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let cport = caller.local_addr().unwrap().port();
    let sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
               m=audio 17980 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";
    let invite = format!(
        "INVITE sip:792112@{addr} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{cport};branch=z9hG4bK-natcall;rport\r\n\
         Max-Forwards: 70\r\nFrom: <sip:79001112233@127.0.0.1>;tag=cl\r\nTo: <sip:792112@{addr}>\r\n\
         Call-ID: nat-call-1\r\nCSeq: 1 INVITE\r\nContact: <sip:79001112233@127.0.0.1:{cport}>\r\n\
         Content-Type: application/sdp\r\nContent-Length: {len}\r\n\r\n{sdp}",
        addr = server.addr,
        len = sdp.len()
    );
    caller
        .send_to(invite.as_bytes(), server.addr)
        .await
        .unwrap();
    let ring = loop {
        let msg = read_message(&mut phone, &mut buf).await;
        if msg.starts_with("INVITE ") {
            break msg;
        }
    };
    // The Request-URI is the Contact as registered (the URI printer spells `transport`
    // in capitals); the bytes went down the phone's own connection.
    let request_line = ring.lines().next().unwrap().to_ascii_lowercase();
    assert_eq!(request_line, format!("invite {contact} sip/2.0"), "{ring}");
    assert!(
        header(&ring, "Via").unwrap().starts_with("SIP/2.0/TCP"),
        "{ring}"
    );
    // Decline: the caller goes back to the queue; the test ends here.
    let decline = format!(
        "SIP/2.0 486 Busy Here\r\nVia: {}\r\nFrom: {}\r\nTo: {};tag=op\r\nCall-ID: {}\r\nCSeq: {}\r\nContent-Length: 0\r\n\r\n",
        header(&ring, "Via").unwrap(),
        header(&ring, "From").unwrap(),
        header(&ring, "To").unwrap(),
        header(&ring, "Call-ID").unwrap(),
        header(&ring, "CSeq").unwrap()
    );
    phone.write_all(decline.as_bytes()).await.unwrap();

    // The caller hangs up (ACK for the 200 that answered it, then BYE), so the line can stop.
    let mut cbuf = vec![0u8; 8192];
    let ok = loop {
        let (n, _) = tokio::time::timeout(Duration::from_secs(10), caller.recv_from(&mut cbuf))
            .await
            .expect("the caller's answer")
            .unwrap();
        let msg = String::from_utf8_lossy(&cbuf[..n]).to_string();
        if msg.starts_with("SIP/2.0 200") {
            break msg;
        }
    };
    let target = header(&ok, "Contact")
        .unwrap()
        .trim_start_matches('<')
        .split('>')
        .next()
        .unwrap()
        .to_string();
    for (method, cseq) in [("ACK", "1 ACK"), ("BYE", "2 BYE")] {
        let req = format!(
            "{method} {target} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{cport};branch=z9hG4bK-nat{method}\r\n\
             Max-Forwards: 70\r\nFrom: <sip:79001112233@127.0.0.1>;tag=cl\r\nTo: {to}\r\n\
             Call-ID: nat-call-1\r\nCSeq: {cseq}\r\nContent-Length: 0\r\n\r\n",
            to = header(&ok, "To").unwrap(),
        );
        caller.send_to(req.as_bytes(), server.addr).await.unwrap();
    }
    server
        .wait_row("nat-call-1", |r| r.ended_at.is_some())
        .await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_udp_registration_is_answered_at_its_source_port() {
    let server = TestServer::start(OPERATOR).await;
    let phone = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let port = phone.local_addr().unwrap().port();
    let contact = "sip:101@192.168.1.20:5060";
    let mut buf = vec![0u8; 8192];
    let mut recv = async |phone: &UdpSocket| {
        let (n, _) = tokio::time::timeout(Duration::from_secs(10), phone.recv_from(&mut buf))
            .await
            .expect("an answer")
            .unwrap();
        String::from_utf8_lossy(&buf[..n]).to_string()
    };
    phone
        .send_to(
            register("UDP", "192.168.1.20:5060", contact, 1, None).as_bytes(),
            server.addr,
        )
        .await
        .unwrap();
    let challenge = recv(&phone).await;
    assert!(challenge.starts_with("SIP/2.0 401"), "{challenge}");
    phone
        .send_to(
            register(
                "UDP",
                "192.168.1.20:5060",
                contact,
                2,
                Some(answer(&challenge)),
            )
            .as_bytes(),
            server.addr,
        )
        .await
        .unwrap();
    let ok = recv(&phone).await;
    assert!(ok.starts_with("SIP/2.0 200"), "{ok}");
    let via = header(&ok, "Via").unwrap();
    assert!(
        via.contains("received=127.0.0.1") && via.contains(&format!("rport={port}")),
        "{via}"
    );
    server.stop().await;
}
