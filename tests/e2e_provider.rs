//! Registration to a provider, end to end over 127.0.0.1/127.0.0.2 with a provider of our
//! own (`provider_support`): digest answered (SHA-256 chosen of the two offered), 423
//! honoured, the granted interval kept, the state in `/metrics` and `/readyz`, back-off
//! after failures, un-REGISTER on shutdown, and a call from the registered provider let
//! in by the registration while the same call from elsewhere gets 403.

mod common;
mod provider_support;

use std::time::Duration;

use common::{TestServer, CLOSED};
use provider_support::{
    get, header, respond, wait_http, Provider, Script, TcpProvider, PASSWORD, USER,
};

fn provider_config(provider: &Provider, extra: &str) -> String {
    format!(
        r#"{CLOSED}
[trunk.provider]
registrar = "sip:{addr}"
username = "{USER}"
password = "{PASSWORD}"
expires = 600
{extra}
"#,
        addr = provider.addr
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registers_with_digest_and_423_then_unregisters_on_shutdown() {
    let provider = Provider::start(Script {
        fail_first: 0,
        min_expires: 900,
        grant: 900,
    })
    .await;
    let server = TestServer::start(&provider_config(&provider, "")).await;

    let metrics = wait_http(&server, "/metrics", |_, body| {
        body.contains("\nhotline_provider_registered 1\n")
    })
    .await;
    assert!(
        metrics.contains("\nhotline_provider_registration_expires_seconds 900\n"),
        "{metrics}"
    );
    let seen = provider.seen();
    // 1: no credentials → 401; 2: SHA-256 answer, 600 s → 423; 3: 900 s → 200.
    assert_eq!(seen.registers.len(), 3, "{seen:?}");
    assert!(!seen.registers[0].1);
    assert_eq!(seen.registers[1], (600, true, Some("SHA-256".into())));
    assert_eq!(seen.registers[2], (900, true, Some("SHA-256".into())));
    assert_eq!(
        seen.contact.as_deref(),
        Some(format!("sip:{USER}@127.0.0.1:{}", server.addr.port()).as_str())
    );

    let ready = wait_http(&server, "/readyz", |status, body| {
        status == 200 && body.contains("options ok 200")
    })
    .await;
    assert!(
        ready.starts_with("ready\nprovider: registered since "),
        "{ready}"
    );
    assert!(ready.contains("(expires 900 s)"), "{ready}");
    let metrics = get(&server, "/metrics").await.1;
    assert!(
        metrics.contains("\nhotline_provider_options_up 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("\nhotline_provider_options_rtt_seconds "),
        "{metrics}"
    );

    let seen_arc = provider.seen.clone();
    server.stop().await;
    let seen = seen_arc.lock().unwrap().clone();
    assert!(
        seen.unregistered,
        "un-REGISTER with Expires: 0 on shutdown: {seen:?}"
    );
    assert_eq!(seen.registers.last().unwrap().0, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_registrar_is_reported_then_retried_with_back_off() {
    let provider = Provider::start(Script {
        fail_first: 1,
        min_expires: 0,
        grant: 600,
    })
    .await;
    let server = TestServer::start(&provider_config(&provider, "options_interval = \"0s\"")).await;

    let failing = wait_http(&server, "/readyz", |status, _| status == 503).await;
    assert!(
        failing.contains("provider: registration failing since ")
            && failing.contains("(503 Service Unavailable)"),
        "{failing}"
    );
    // The retry comes after the back-off (2.5–5 s) and succeeds.
    let metrics = wait_http(&server, "/metrics", |_, body| {
        body.contains("\nhotline_provider_registered 1\n")
    })
    .await;
    assert!(
        !metrics.contains("hotline_provider_options_rtt_seconds"),
        "no keepalive configured"
    );
    assert_eq!(get(&server, "/readyz").await.0, 200);
    server.stop().await;
}

fn invite(provider: &Provider, server: &TestServer, call_id: &str, via_host: &str) -> String {
    let sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.2\r\ns=-\r\nc=IN IP4 127.0.0.2\r\nt=0 0\r\n\
               m=audio 17990 RTP/AVP 0 8\r\na=rtpmap:0 PCMU/8000\r\n";
    format!(
        "INVITE sip:{USER}@127.0.0.1:{port} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {via_host}:{pport};branch=z9hG4bK-{call_id};rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:79001234567@provider.test>;tag=c1\r\n\
         To: <sip:{USER}@provider.test>\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: 1 INVITE\r\n\
         Contact: <sip:79001234567@{via_host}:{pport}>\r\n\
         Content-Type: application/sdp\r\n\
         Content-Length: {len}\r\n\r\n{sdp}",
        port = server.addr.port(),
        pport = provider.addr.port(),
        len = sdp.len(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_from_the_registered_provider_is_let_in_by_the_registration() {
    let mut provider = Provider::start(Script {
        fail_first: 0,
        min_expires: 0,
        grant: 600,
    })
    .await;
    // trunk.allow stays 127.0.0.1/32: the provider at 127.0.0.2 is not on it.
    let server = TestServer::start(&provider_config(&provider, "")).await;
    wait_http(&server, "/metrics", |_, body| {
        body.contains("\nhotline_provider_registered 1\n")
    })
    .await;

    let call_id = "from-provider-1";
    let request = invite(&provider, &server, call_id, "127.0.0.2");
    provider
        .socket
        .send_to(request.as_bytes(), server.addr)
        .await
        .unwrap();
    let ok = loop {
        let (msg, _) = provider.next_other().await;
        if msg.starts_with("SIP/2.0 200") && header(&msg, "CSeq") == Some("1 INVITE") {
            break msg;
        }
        assert!(
            msg.starts_with("SIP/2.0 1") || !msg.starts_with("SIP/2.0"),
            "the INVITE was not answered 200: {msg}"
        );
    };
    // ACK, then hang up ourselves.
    let contact = header(&ok, "Contact").unwrap();
    let target = contact
        .trim_start_matches('<')
        .split('>')
        .next()
        .unwrap()
        .to_string();
    for (method, cseq) in [("ACK", "1 ACK"), ("BYE", "2 BYE")] {
        let req = format!(
            "{method} {target} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.2:{pport};branch=z9hG4bK-{method}1\r\n\
             Max-Forwards: 70\r\nFrom: <sip:79001234567@provider.test>;tag=c1\r\nTo: {to}\r\n\
             Call-ID: {call_id}\r\nCSeq: {cseq}\r\nContent-Length: 0\r\n\r\n",
            pport = provider.addr.port(),
            to = header(&ok, "To").unwrap(),
        );
        provider
            .socket
            .send_to(req.as_bytes(), server.addr)
            .await
            .unwrap();
    }
    let row = server.wait_row(call_id, |r| r.ended_at.is_some()).await;
    assert_eq!(row.final_status, Some(200));
    assert_eq!(row.dialed, USER);
    assert!(row.source.contains("127.0.0.2"), "{}", row.source);
    assert_eq!(row.outcome, "after_hours");

    // The same INVITE from an address that is neither the provider nor on trunk.allow.
    let stranger = tokio::net::UdpSocket::bind("127.0.0.3:0").await.unwrap();
    let request = invite(&provider, &server, "from-stranger-1", "127.0.0.3").replace(
        &format!(":{}", provider.addr.port()),
        &format!(":{}", stranger.local_addr().unwrap().port()),
    );
    stranger
        .send_to(request.as_bytes(), server.addr)
        .await
        .unwrap();
    let mut buf = vec![0u8; 8192];
    let status = loop {
        let (n, _) = tokio::time::timeout(Duration::from_secs(10), stranger.recv_from(&mut buf))
            .await
            .expect("an answer")
            .unwrap();
        let msg = String::from_utf8_lossy(&buf[..n]).to_string();
        if !msg.starts_with("SIP/2.0 1") {
            let _ = respond(&msg, "200 OK", "");
            break msg.lines().next().unwrap().to_string();
        }
    };
    assert_eq!(status, "SIP/2.0 403 Forbidden");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registers_over_tcp_when_the_uri_asks_for_it() {
    let provider = TcpProvider::start(Script {
        fail_first: 0,
        min_expires: 0,
        grant: 300,
    })
    .await;
    let config = format!(
        r#"{CLOSED}
[trunk.provider]
registrar = "sip:{addr};transport=tcp"
username = "{USER}"
password = "{PASSWORD}"
"#,
        addr = provider.addr
    );
    let server = TestServer::start(&config).await;
    let metrics = wait_http(&server, "/metrics", |_, body| {
        body.contains("\nhotline_provider_registered 1\n")
            && body.contains("\nhotline_provider_options_up 1\n")
    })
    .await;
    assert!(
        metrics.contains("\nhotline_provider_registration_expires_seconds 300\n"),
        "{metrics}"
    );
    let seen = provider.seen();
    assert!(
        seen.vias.iter().all(|v| v.starts_with("SIP/2.0/TCP ")),
        "{seen:?}"
    );
    assert_eq!(
        seen.contact.as_deref(),
        Some(format!("sip:{USER}@127.0.0.1:{};transport=tcp", server.addr.port()).as_str())
    );
    let seen_arc = provider.seen.clone();
    server.stop().await;
    assert!(
        seen_arc.lock().unwrap().unregistered,
        "un-REGISTER over the same connection"
    );
}
