//! The registrar of `provider_support` over a stream: TCP, or TLS with a certificate for
//! 127.0.0.2 issued by a CA of its own (written as PEM for `tls_ca`). Each connection is
//! answered on itself. The test can send requests to us on the newest connection (as a
//! provider sends calls on the registration's connection) and read what we send there
//! that is not an answer to REGISTER or OPTIONS.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_rustls::rustls;
use tokio_rustls::TlsAcceptor;

use super::{answer_invite, header, register, respond, InviteScript, Script, Seen};

/// What one connection shares with the test.
#[derive(Clone)]
struct Shared {
    script: Script,
    seen: Arc<Mutex<Seen>>,
    registers: Arc<Mutex<usize>>,
    /// The newest connection's queue of requests from the test (`None`: close it).
    inject: Arc<Mutex<Option<mpsc::Sender<Option<String>>>>>,
    other: mpsc::Sender<String>,
    /// INVITEs from us are answered as a citizen's phone would once set.
    invites: Arc<Mutex<Option<InviteScript>>>,
    /// The provider's address and transport token, for its Contact and Via.
    local: std::net::SocketAddr,
    transport: &'static str,
}

impl Shared {
    fn new(
        script: Script,
        local: std::net::SocketAddr,
        transport: &'static str,
    ) -> (Shared, mpsc::Receiver<String>) {
        let (other, rx) = mpsc::channel(64);
        let shared = Shared {
            script,
            seen: Arc::new(Mutex::new(Seen::default())),
            registers: Arc::new(Mutex::new(0)),
            inject: Arc::new(Mutex::new(None)),
            other,
            invites: Arc::new(Mutex::new(None)),
            local,
            transport,
        };
        (shared, rx)
    }
}

/// The registrar over TCP on 127.0.0.2.
pub struct TcpProvider {
    pub addr: std::net::SocketAddr,
    pub seen: Arc<Mutex<Seen>>,
}

impl TcpProvider {
    pub async fn start(script: Script) -> TcpProvider {
        let listener = tokio::net::TcpListener::bind("127.0.0.2:0")
            .await
            .expect("bind 127.0.0.2");
        let addr = listener.local_addr().unwrap();
        let (shared, _other) = Shared::new(script, addr, "TCP");
        let seen = shared.seen.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve_stream(stream, shared.clone()));
            }
        });
        TcpProvider { addr, seen }
    }

    pub fn seen(&self) -> Seen {
        self.seen.lock().unwrap().clone()
    }
}

/// The registrar over TLS on 127.0.0.2, with its CA's certificate in `ca_pem`.
pub struct TlsProvider {
    pub addr: std::net::SocketAddr,
    pub seen: Arc<Mutex<Seen>>,
    /// The CA that issued the provider's certificate (PEM), for `tls_ca`.
    pub ca_pem: PathBuf,
    /// Handshakes completed.
    pub handshakes: Arc<Mutex<usize>>,
    inject: Arc<Mutex<Option<mpsc::Sender<Option<String>>>>>,
    other: mpsc::Receiver<String>,
    invites: Arc<Mutex<Option<InviteScript>>>,
    _dir: tempfile::TempDir,
}

impl TlsProvider {
    pub async fn start(script: Script) -> TlsProvider {
        let dir = tempfile::tempdir().unwrap();
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(rcgen::DnType::CommonName, "provider test CA");
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let mut leaf = rcgen::CertificateParams::new(vec!["127.0.0.2".to_owned()]).unwrap();
        leaf.distinguished_name
            .push(rcgen::DnType::CommonName, "sbc.provider.test");
        let cert = leaf.signed_by(&key, &ca_cert, &ca_key).unwrap();
        let ca_pem = dir.path().join("provider-ca.pem");
        std::fs::write(&ca_pem, ca_cert.pem()).unwrap();

        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let private = rustls::pki_types::PrivateKeyDer::try_from(key.serialize_der()).unwrap();
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert.der().clone()], private)
            .unwrap();
        let acceptor = TlsAcceptor::from(Arc::new(config));

        let listener = tokio::net::TcpListener::bind("127.0.0.2:0")
            .await
            .expect("bind 127.0.0.2");
        let addr = listener.local_addr().unwrap();
        let (shared, other) = Shared::new(script, addr, "TLS");
        let (seen, inject) = (shared.seen.clone(), shared.inject.clone());
        let invites = shared.invites.clone();
        let handshakes = Arc::new(Mutex::new(0));
        let counted = handshakes.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (acceptor, shared, counted) =
                    (acceptor.clone(), shared.clone(), counted.clone());
                tokio::spawn(async move {
                    if let Ok(stream) = acceptor.accept(stream).await {
                        *counted.lock().unwrap() += 1;
                        serve_stream(stream, shared).await;
                    }
                });
            }
        });
        TlsProvider {
            addr,
            seen,
            ca_pem,
            handshakes,
            inject,
            other,
            invites,
            _dir: dir,
        }
    }

    pub fn seen(&self) -> Seen {
        self.seen.lock().unwrap().clone()
    }

    /// From now on INVITEs to the provider are answered as `script` says.
    pub fn answer_invites(&self, script: InviteScript) {
        *self.invites.lock().unwrap() = Some(script);
    }

    pub fn handshakes(&self) -> usize {
        *self.handshakes.lock().unwrap()
    }

    /// Sends `msg` to us on the newest connection.
    pub async fn send(&self, msg: String) {
        self.inject(Some(msg)).await;
    }

    /// Closes the newest connection, as a provider's SBC restarting does.
    pub async fn close_connection(&self) {
        self.inject(None).await;
    }

    async fn inject(&self, what: Option<String>) {
        let tx = self.inject.lock().unwrap().clone();
        let tx = tx.expect("a connection is open");
        tx.send(what).await.expect("the connection is open");
    }

    /// The next message from us that is not about REGISTER or OPTIONS (bounded wait).
    pub async fn next_other(&mut self) -> String {
        tokio::time::timeout(Duration::from_secs(10), self.other.recv())
            .await
            .expect("a message within 10 s")
            .expect("provider running")
    }
}

/// Answers REGISTER and OPTIONS on one connection, passes anything else to the test, and
/// writes what the test injects.
async fn serve_stream<S>(stream: S, shared: Shared)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (mut rd, mut wr) = tokio::io::split(stream);
    let (tx, mut injected) = mpsc::channel::<Option<String>>(16);
    *shared.inject.lock().unwrap() = Some(tx.clone());
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 8192];
    loop {
        while buf.starts_with(b"\r\n") {
            buf.drain(..2);
        }
        while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end + 4]).to_string();
            let len: usize = header(&head, "Content-Length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            if buf.len() < end + 4 + len {
                break;
            }
            let msg: Vec<u8> = buf.drain(..end + 4 + len).collect();
            let msg = String::from_utf8_lossy(&msg).to_string();
            let answering: Option<InviteScript> = *shared.invites.lock().unwrap();
            let replies = if msg.starts_with("REGISTER ") {
                let count = {
                    let mut n = shared.registers.lock().unwrap();
                    *n += 1;
                    *n
                };
                vec![register(&msg, &shared.script, count, &shared.seen)]
            } else if msg.starts_with("OPTIONS ") {
                shared.seen.lock().unwrap().options += 1;
                vec![respond(&msg, "200 OK", "")]
            } else if let (true, Some(script)) = (msg.starts_with("INVITE "), answering) {
                let answer =
                    answer_invite(&msg, script, &shared.seen, shared.local, shared.transport);
                if let Some(bye) = answer.bye {
                    let tx = tx.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(script.talk).await;
                        let _ = tx.send(Some(bye)).await;
                    });
                }
                answer.replies
            } else if msg.starts_with("ACK ") && answering.is_some() {
                vec![]
            } else if msg.starts_with("BYE ") && answering.is_some() {
                shared.seen.lock().unwrap().byes += 1;
                vec![respond(&msg, "200 OK", "")]
            } else {
                let _ = shared.other.try_send(msg);
                vec![]
            };
            for reply in replies {
                if wr.write_all(reply.as_bytes()).await.is_err() {
                    return;
                }
            }
        }
        tokio::select! {
            r = rd.read(&mut chunk) => match r {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            },
            Some(msg) = injected.recv() => match msg {
                Some(msg) => {
                    if wr.write_all(msg.as_bytes()).await.is_err() {
                        return;
                    }
                }
                None => {
                    let _ = wr.shutdown().await;
                    return;
                }
            }
        }
    }
}
