//! The provider reached over TLS, end to end on 127.0.0.1/127.0.0.2 with the registrar of
//! `provider_support` behind a certificate from its own CA: registration, keepalive and
//! un-REGISTER on one TLS connection when `tls_ca` names that CA, a call from the
//! provider on that connection answered on it, a new connection and REGISTER at once when
//! the provider drops it, and a certificate we do not trust failing
//! the registration with the reason in `/readyz` and the handshake counted in `/metrics`.

mod common;
mod provider_support;

use std::time::{Duration, Instant};

use common::{TestServer, CLOSED};
use provider_support::{get, header, wait_http, Script, TlsProvider, PASSWORD, USER};

const SCRIPT: Script = Script {
    fail_first: 0,
    min_expires: 0,
    grant: 300,
};

fn config(provider: &TlsProvider, tls_ca: Option<&std::path::Path>) -> String {
    let ca = tls_ca.map_or(String::new(), |p| format!("tls_ca = \"{}\"\n", p.display()));
    format!(
        r#"{CLOSED}
[trunk.provider]
registrar = "sips:{addr}"
username = "{USER}"
password = "{PASSWORD}"
options_interval = "1s"
{ca}"#,
        addr = provider.addr
    )
}

/// A request in the provider's call to us, sent on its TLS connection.
fn request(method: &str, uri: &str, cseq: &str, call_id: &str, to: &str, body: &str) -> String {
    let content_type = if body.is_empty() {
        ""
    } else {
        "Content-Type: application/sdp\r\n"
    };
    format!(
        "{method} {uri} SIP/2.0\r\n\
         Via: SIP/2.0/TLS 127.0.0.2:5061;branch=z9hG4bK-{call_id}-{method}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:79001234567@provider.test>;tag=c1\r\n\
         To: {to}\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: {cseq}\r\n\
         Contact: <sip:79001234567@127.0.0.2:5061;transport=tls>\r\n\
         {content_type}Content-Length: {len}\r\n\r\n{body}",
        len = body.len(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registers_over_tls_with_its_ca_and_takes_a_call_on_that_connection() {
    let mut provider = TlsProvider::start(SCRIPT).await;
    let server = TestServer::start(&config(&provider, Some(&provider.ca_pem))).await;
    let metrics = wait_http(&server, "/metrics", |_, body| {
        body.contains("\nhotline_provider_registered 1\n")
            && body.contains("\nhotline_provider_options_up 1\n")
    })
    .await;
    assert!(
        metrics.contains("\nhotline_tls_outbound_connections_total 1\n"),
        "one connection carries everything: {metrics}"
    );
    assert!(
        metrics.contains("\nhotline_tls_handshake_failures_total{direction=\"outbound\"} 0\n"),
        "{metrics}"
    );
    let seen = provider.seen();
    assert!(!seen.vias.is_empty());
    assert!(
        seen.vias.iter().all(|v| v.starts_with("SIP/2.0/TLS ")),
        "{seen:?}"
    );
    assert_eq!(
        seen.contact.as_deref(),
        Some(format!("sip:{USER}@127.0.0.1:{};transport=tls", server.addr.port()).as_str())
    );
    assert!(seen.options >= 1, "{seen:?}");
    let (status, ready) = get(&server, "/readyz").await;
    assert_eq!(status, 200, "{ready}");
    assert!(ready.contains("provider: registered since"), "{ready}");

    // The provider's call to the line comes on the same connection and is answered there.
    let call_id = "tls-from-provider-1";
    let sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.2\r\ns=-\r\nc=IN IP4 127.0.0.2\r\nt=0 0\r\n\
               m=audio 17992 RTP/AVP 0 8\r\na=rtpmap:0 PCMU/8000\r\n";
    let uri = format!("sip:{USER}@127.0.0.1:{};transport=tls", server.addr.port());
    let to = format!("<sip:{USER}@provider.test>");
    provider
        .send(request("INVITE", &uri, "1 INVITE", call_id, &to, sdp))
        .await;
    let ok = loop {
        let msg = provider.next_other().await;
        if msg.starts_with("SIP/2.0 200") && header(&msg, "CSeq") == Some("1 INVITE") {
            break msg;
        }
        assert!(
            msg.starts_with("SIP/2.0 1"),
            "the INVITE was not answered 200: {msg}"
        );
    };
    assert!(
        header(&ok, "Via")
            .unwrap()
            .starts_with("SIP/2.0/TLS 127.0.0.2"),
        "{ok}"
    );
    let to = header(&ok, "To").unwrap().to_owned();
    let target = header(&ok, "Contact")
        .unwrap()
        .trim_start_matches('<')
        .split('>')
        .next()
        .unwrap()
        .to_owned();
    provider
        .send(request("ACK", &target, "1 ACK", call_id, &to, ""))
        .await;
    provider
        .send(request("BYE", &target, "2 BYE", call_id, &to, ""))
        .await;
    let row = server.wait_row(call_id, |r| r.ended_at.is_some()).await;
    assert_eq!(row.outcome, "after_hours");
    assert!(row.source.contains("127.0.0.2"), "{}", row.source);

    assert_eq!(provider.handshakes(), 1, "no second connection was opened");

    // The provider drops the connection: the line registers again at once on a new one.
    let registers = provider.seen().registers.len();
    provider.close_connection().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while provider.handshakes() < 2 || provider.seen().registers.len() <= registers {
        assert!(
            Instant::now() < deadline,
            "no new connection and REGISTER within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    wait_http(&server, "/metrics", |_, body| {
        body.contains("\nhotline_provider_registered 1\n")
            && body.contains("\nhotline_tls_outbound_connections_total 2\n")
    })
    .await;

    let seen = provider.seen.clone();
    server.stop().await;
    assert!(
        seen.lock().unwrap().unregistered,
        "un-REGISTER over the same connection"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_certificate_we_do_not_trust_fails_the_registration_with_the_reason() {
    // No tls_ca: the provider's private CA is not among the public ones.
    let provider = TlsProvider::start(SCRIPT).await;
    let server = TestServer::start(&config(&provider, None)).await;
    let ready = wait_http(&server, "/readyz", |status, body| {
        status == 503 && body.contains("provider: registration failing")
    })
    .await;
    assert!(ready.contains("TLS handshake with"), "{ready}");
    assert!(
        ready.contains("certificate"),
        "the reason names the certificate: {ready}"
    );
    let metrics = wait_http(&server, "/metrics", |_, body| {
        !body.contains("\nhotline_tls_handshake_failures_total{direction=\"outbound\"} 0\n")
    })
    .await;
    assert!(
        metrics.contains("\nhotline_provider_registered 0\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("\nhotline_tls_outbound_connections_total 0\n"),
        "{metrics}"
    );
    assert!(
        provider.seen().registers.is_empty(),
        "nothing is sent to a server we do not trust"
    );
    server.stop().await;
}
