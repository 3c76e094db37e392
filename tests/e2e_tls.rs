//! SIP over TLS end to end over 127.0.0.1, with a certificate made in the test: an
//! operator's softphone registers over TLS (digest), a caller on plain UDP calls the line,
//! and the operator is rung over the very connection it registered on (it sits behind NAT:
//! nothing may connect to its Contact); plain text and broken handshakes on the TLS port;
//! the certificate replaced on disk and used for the next connection.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use hotline::sip::digest::{self, Algorithm, Credentials, NonceCount};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::{self, pki_types::CertificateDer, pki_types::ServerName};
use tokio_rustls::TlsConnector;

/// A self-signed certificate for 127.0.0.1, written as PEM into `dir`; its DER returned.
fn write_cert(dir: &Path, name: &str) -> CertificateDer<'static> {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["127.0.0.1".into()]).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    let cert = params.self_signed(&key).unwrap();
    std::fs::write(dir.join("cert.pem"), cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), key.serialize_pem()).unwrap();
    cert.der().clone()
}

fn free_tcp_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// The server's TLS keys, through the environment (the base config owns `[sip]`).
async fn tls_server(
    extra: &str,
) -> (
    TestServer,
    SocketAddr,
    tempfile::TempDir,
    CertificateDer<'static>,
) {
    let certs = tempfile::tempdir().unwrap();
    let der = write_cert(certs.path(), "hotline test one");
    let tls = SocketAddr::from(([127, 0, 0, 1], free_tcp_port()));
    let listen = tls.to_string();
    let cert = certs.path().join("cert.pem").display().to_string();
    let key = certs.path().join("key.pem").display().to_string();
    let server = TestServer::start_with_env(
        extra,
        &[
            ("HOTLINE_SIP__TLS_LISTEN", &listen),
            ("HOTLINE_SIP__TLS_CERT", &cert),
            ("HOTLINE_SIP__TLS_KEY", &key),
        ],
    )
    .await;
    (server, tls, certs, der)
}

/// What the client accepts: exactly the certificates it is given.
fn connector(trusted: &[CertificateDer<'static>]) -> TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    for c in trusted {
        roots.add(c.clone()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    TlsConnector::from(Arc::new(config))
}

/// A softphone's end of one TLS connection.
struct Phone {
    stream: TlsStream<TcpStream>,
    local: SocketAddr,
    pending: Vec<u8>,
}

impl Phone {
    /// Connects, retrying while the server starts (bounded).
    async fn connect(addr: SocketAddr, trusted: &[CertificateDer<'static>]) -> Phone {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(tcp) = TcpStream::connect(addr).await {
                let local = tcp.local_addr().unwrap();
                let name = ServerName::IpAddress(addr.ip().into());
                match connector(trusted).connect(name, tcp).await {
                    Ok(stream) => {
                        return Phone {
                            stream,
                            local,
                            pending: Vec::new(),
                        }
                    }
                    Err(e) => panic!("TLS handshake: {e}"),
                }
            }
            assert!(tokio::time::Instant::now() < deadline, "TLS port not open");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn peer_certificate(&self) -> CertificateDer<'static> {
        let (_, conn) = self.stream.get_ref();
        conn.peer_certificates().unwrap()[0].clone().into_owned()
    }

    async fn send(&mut self, text: &str) {
        self.stream.write_all(text.as_bytes()).await.unwrap();
    }

    /// The next whole SIP message (bounded wait).
    async fn recv(&mut self) -> String {
        tokio::time::timeout(Duration::from_secs(30), self.recv_inner())
            .await
            .expect("a SIP message within 30 s")
    }

    async fn recv_inner(&mut self) -> String {
        loop {
            while self.pending.starts_with(b"\r\n") {
                self.pending.drain(..2);
            }
            if let Some(end) = find(&self.pending, b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&self.pending[..end]).to_string();
                let body = header(&head, "Content-Length").map_or(0, |v| v.parse().unwrap());
                if self.pending.len() >= end + 4 + body {
                    let msg: Vec<u8> = self.pending.drain(..end + 4 + body).collect();
                    return String::from_utf8_lossy(&msg).to_string();
                }
            }
            let mut buf = [0u8; 4096];
            let n = self.stream.read(&mut buf).await.unwrap();
            assert!(n > 0, "server closed the connection");
            self.pending.extend_from_slice(&buf[..n]);
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The first value of a header (case-insensitive name).
fn header(msg: &str, name: &str) -> Option<String> {
    msg.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().to_string())
    })
}

fn param(challenge: &str, name: &str) -> Option<String> {
    challenge.split(',').find_map(|p| {
        let (k, v) = p.trim().trim_start_matches("Digest ").split_once('=')?;
        (k.trim() == name).then(|| v.trim().trim_matches('"').to_string())
    })
}

fn register(phone: &Phone, tls: SocketAddr, cseq: u32, auth: Option<String>) -> String {
    let local = phone.local;
    let auth = auth.map_or(String::new(), |a| format!("Authorization: {a}\r\n"));
    format!(
        "REGISTER sip:{tls};transport=tls SIP/2.0\r\n\
         Via: SIP/2.0/TLS {local};branch=z9hG4bKtlsreg{cseq};rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:1001@127.0.0.1>;tag=reg1\r\n\
         To: <sip:1001@127.0.0.1>\r\n\
         Call-ID: tls-register-1\r\n\
         CSeq: {cseq} REGISTER\r\n\
         Contact: <sip:1001@{local};transport=tls>\r\n\
         Expires: 300\r\n\
         {auth}Content-Length: 0\r\n\r\n"
    )
}

/// REGISTER, answer the digest challenge, expect 200: the phone is registered over TLS.
async fn register_over_tls(phone: &mut Phone, tls: SocketAddr) {
    let first = register(phone, tls, 1, None);
    phone.send(&first).await;
    let challenge = phone.recv().await;
    assert!(challenge.starts_with("SIP/2.0 401"), "{challenge}");
    let via = header(&challenge, "Via").unwrap();
    assert!(via.starts_with("SIP/2.0/TLS"), "{via}");
    let www = header(&challenge, "WWW-Authenticate").unwrap();
    let (realm, nonce) = (param(&www, "realm").unwrap(), param(&www, "nonce").unwrap());
    let uri = format!("sip:{tls};transport=tls");
    let creds = Credentials {
        username: "1001".into(),
        realm: realm.clone(),
        nonce: nonce.clone(),
        uri: uri.clone(),
        response: String::new(),
        algorithm: Algorithm::Md5,
        cnonce: Some("c0ffee".into()),
        opaque: param(&www, "opaque"),
        qop: Some("auth".into()),
        nc: Some(NonceCount {
            value: 1,
            text: "00000001".into(),
        }),
    };
    let ha1 = digest::ha1(Algorithm::Md5, "1001", &realm, "pass1001");
    let response = digest::expected_response(&ha1, "REGISTER", &creds);
    let opaque = creds
        .opaque
        .map_or(String::new(), |o| format!(", opaque=\"{o}\""));
    let auth = format!(
        "Digest username=\"1001\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"{uri}\", \
         response=\"{response}\", algorithm=MD5, cnonce=\"c0ffee\", qop=auth, nc=00000001{opaque}"
    );
    let second = register(phone, tls, 2, Some(auth));
    phone.send(&second).await;
    let ok = phone.recv().await;
    assert!(ok.starts_with("SIP/2.0 200"), "{ok}");
    assert!(
        header(&ok, "Contact").unwrap().contains("transport=tls"),
        "{ok}"
    );
}

const OPERATOR: &str =
    "[[operators]]\nid = \"1001\"\nname = \"Operator 1001\"\npassword = \"pass1001\"\n";

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
    let busy = invite
        .split("\r\n\r\n")
        .next()
        .unwrap()
        .lines()
        .filter(|l| {
            ["Via:", "From:", "To:", "Call-ID:", "CSeq:"]
                .iter()
                .any(|h| l.starts_with(h))
        })
        .map(|l| {
            if l.starts_with("To:") {
                format!("{l};tag=busy1")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\r\n");
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
    let _ready = Phone::connect(tls, &[der.clone()]).await;
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
    let phone = Phone::connect(tls, &[first.clone()]).await;
    assert_eq!(phone.peer_certificate(), first);
    let renewed = write_cert(certs.path(), "hotline test two");
    let phone = Phone::connect(tls, &[renewed.clone()]).await;
    assert_eq!(
        phone.peer_certificate(),
        renewed,
        "the new certificate is served"
    );
    // A broken renewal (a key that is not PEM): the previous certificate stays.
    std::fs::write(certs.path().join("key.pem"), "not a key").unwrap();
    let phone = Phone::connect(tls, &[renewed.clone()]).await;
    assert_eq!(
        phone.peer_certificate(),
        renewed,
        "the good certificate is kept"
    );
    server.stop().await;
}
