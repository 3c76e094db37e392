//! SIP over TLS end to end over 127.0.0.1, with a certificate made in the test: an
//! operator's softphone registers over TLS (digest), a caller on plain UDP calls the line,
//! and the operator is rung over the very connection it registered on (it sits behind NAT:
//! nothing may connect to its Contact); plain text and broken handshakes on the TLS port;
//! the certificate replaced on disk and used for the next connection.

mod common;

mod tls_phone;

use std::time::Duration;

use common::*;
use tls_phone::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::rustls::pki_types::ServerName;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_registered_over_tls_is_rung_over_the_same_connection() {
    // A short grace: the caller is still in the queue when the test stops the line.
    let extra = format!("{ALWAYS_OPEN}\n{OPERATOR}\n[shutdown]\ngrace = \"1s\"\n");
    let (server, tls, _certs, der) = tls_server(&extra).await;
    let mut phone = Phone::connect(tls, &[der]).await;
    register_over_tls(&mut phone, tls).await;

    // A caller on plain UDP; the line answers, greets, queues and rings the operator.
    let rtp_port = free_udp_port().to_string();
    let addr = server.addr;
    let caller = tokio::spawn(async move {
        sipp(
            addr,
            "caller_hangs_up.xml",
            &["-s", "792112", "-set", "rtp_port", &rtp_port, "-d", "20000"],
        )
        .await
    });
    let invite = phone.recv().await;
    assert!(invite.starts_with("INVITE sip:1001@"), "{invite}");
    assert!(invite.contains(";transport=tls"), "{invite}");
    let via = header(&invite, "Via").unwrap();
    assert!(
        via.starts_with(&format!("SIP/2.0/TLS 127.0.0.1:{}", tls.port())),
        "{via}"
    );
    let contact = header(&invite, "Contact").unwrap();
    assert!(
        contact.contains(&format!("127.0.0.1:{};transport=tls", tls.port())),
        "{contact}"
    );
    // Busy: the server ACKs on the same connection.
    let busy = dialog_headers(&invite, "busy1");
    phone
        .send(&format!(
            "SIP/2.0 486 Busy Here\r\n{busy}\r\nContent-Length: 0\r\n\r\n"
        ))
        .await;
    let ack = phone.recv().await;
    assert!(ack.starts_with("ACK sip:1001@"), "{ack}");
    caller.abort();
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_text_and_broken_handshakes_on_the_tls_port_are_closed() {
    let (server, tls, _certs, der) = tls_server("").await;
    let _ready = Phone::connect(tls, std::slice::from_ref(&der)).await;
    // Plain SIP on the TLS port: the handshake fails and the connection is closed.
    let mut plain = TcpStream::connect(tls).await.unwrap();
    plain
        .write_all(b"OPTIONS sip:127.0.0.1 SIP/2.0\r\nContent-Length: 0\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 512];
    let n = tokio::time::timeout(Duration::from_secs(10), async {
        let mut total = 0;
        loop {
            match plain.read(&mut buf).await {
                Ok(0) | Err(_) => return total,
                Ok(n) => total += n,
            }
        }
    })
    .await
    .expect("closed within 10 s");
    assert!(
        !String::from_utf8_lossy(&buf[..n.min(512)]).contains("SIP/2.0 200"),
        "no SIP answer over a plain connection"
    );
    // A ClientHello cut short, then random bytes.
    let mut cut = TcpStream::connect(tls).await.unwrap();
    cut.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc])
        .await
        .unwrap();
    cut.write_all(&[0xff; 600]).await.unwrap();
    drop(cut);
    // A client that does not trust our certificate gives up; the server goes on.
    let tcp = TcpStream::connect(tls).await.unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let stranger = connector(&[write_cert(elsewhere.path(), "someone else")]);
    let _ = stranger
        .connect(ServerName::IpAddress(tls.ip().into()), tcp)
        .await;
    // Still serving: a new TLS connection is answered.
    let mut phone = Phone::connect(tls, &[der]).await;
    let local = phone.local;
    phone
        .send(&format!(
            "OPTIONS sip:{tls};transport=tls SIP/2.0\r\n\
             Via: SIP/2.0/TLS {local};branch=z9hG4bKopt1;rport\r\n\
             Max-Forwards: 70\r\nFrom: <sip:probe@127.0.0.1>;tag=o1\r\n\
             To: <sip:hotline@127.0.0.1>\r\nCall-ID: tls-options-1\r\nCSeq: 1 OPTIONS\r\n\
             Content-Length: 0\r\n\r\n"
        ))
        .await;
    let ok = phone.recv().await;
    assert!(ok.starts_with("SIP/2.0 200"), "{ok}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewed_certificate_is_used_for_new_connections_and_a_bad_one_is_not() {
    let (server, tls, certs, first) = tls_server("").await;
    let phone = Phone::connect(tls, std::slice::from_ref(&first)).await;
    assert_eq!(phone.peer_certificate(), first);
    let renewed = write_cert(certs.path(), "hotline test two");
    let phone = Phone::connect(tls, std::slice::from_ref(&renewed)).await;
    assert_eq!(
        phone.peer_certificate(),
        renewed,
        "the new certificate is served"
    );
    // A broken renewal (a key that is not PEM): the previous certificate stays.
    std::fs::write(certs.path().join("key.pem"), "not a key").unwrap();
    let phone = Phone::connect(tls, std::slice::from_ref(&renewed)).await;
    assert_eq!(
        phone.peer_certificate(),
        renewed,
        "the good certificate is kept"
    );
    server.stop().await;
}
