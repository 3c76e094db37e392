#![allow(dead_code)] // each test file uses its own part of these helpers
//! A softphone over TLS for the tests: a certificate made on the spot, the server started
//! with it, a TLS connection that speaks SIP, and digest registration.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::common::*;
use hotline::sip::digest::{self, Algorithm, Credentials, NonceCount};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::{self, pki_types::CertificateDer, pki_types::ServerName};
use tokio_rustls::TlsConnector;

/// A self-signed certificate for 127.0.0.1, written as PEM into `dir`; its DER returned.
pub fn write_cert(dir: &Path, name: &str) -> CertificateDer<'static> {
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

pub fn free_tcp_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// The server's TLS keys, through the environment (the base config owns `[sip]`).
pub async fn tls_server(
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
pub fn connector(trusted: &[CertificateDer<'static>]) -> TlsConnector {
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
pub struct Phone {
    pub stream: TlsStream<TcpStream>,
    pub local: SocketAddr,
    pending: Vec<u8>,
}

impl Phone {
    /// Connects, retrying while the server starts (bounded).
    pub async fn connect(addr: SocketAddr, trusted: &[CertificateDer<'static>]) -> Phone {
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

    pub fn peer_certificate(&self) -> CertificateDer<'static> {
        let (_, conn) = self.stream.get_ref();
        conn.peer_certificates().unwrap()[0].clone().into_owned()
    }

    pub async fn send(&mut self, text: &str) {
        self.stream.write_all(text.as_bytes()).await.unwrap();
    }

    /// The next whole SIP message (bounded wait).
    pub async fn recv(&mut self) -> String {
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
pub fn header(msg: &str, name: &str) -> Option<String> {
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
pub async fn register_over_tls(phone: &mut Phone, tls: SocketAddr) {
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

pub const OPERATOR: &str =
    "[[operators]]\nid = \"1001\"\nname = \"Operator 1001\"\npassword = \"pass1001\"\n";

/// The headers a response in the dialog of `request` copies (RFC 3261 §8.2.6.2), with our
/// To tag added when `tag` is not empty.
pub fn dialog_headers(request: &str, tag: &str) -> String {
    request
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
            if l.starts_with("To:") && !tag.is_empty() && !l.contains("tag=") {
                format!("{l};tag={tag}")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\r\n")
}
