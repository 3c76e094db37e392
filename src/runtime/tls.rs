//! SIP over TLS (RFC 3261 §26.2, §18 over a TLS stream): the acceptor and its certificate.
//!
//! A TLS connection is a TCP connection with a handshake in front: the same bounds per
//! address and idle deadlines (`sip::flows`, `sip.tcp_*`), the same framing and the same
//! events to the engine ([`TcpEvent`], on a channel of its own so the engine knows the
//! transport). The handshake must finish within `sip.tcp_idle_timeout`, like a plain
//! connection's first message; one that fails (plain text, a scanner, a client that does
//! not trust us) is logged at debug and closed, and never reaches the engine.
//!
//! The certificate and key are read again when either file changes (size or modification
//! time, looked at on every new connection and every [`RELOAD_EVERY`]): new connections get
//! the new certificate, connections already open keep theirs. A new pair that does not
//! load is logged and the old one kept, so a half-copied renewal never takes TLS down.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use thiserror::Error;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_rustls::rustls::{self, ServerConfig};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use crate::config::TlsConfig;
use crate::sip::flows::{FlowIdle, TcpFlows};

use super::tcp::{Acceptor, Connection, TcpEvent, TcpStats};

/// How often the certificate files are looked at while no connection arrives.
pub const RELOAD_EVERY: Duration = Duration::from_secs(10);

/// Close reports queued for the acceptor (as for TCP).
const CLOSE_QUEUE: usize = 1024;

/// Why a certificate and key could not be used.
#[derive(Debug, Error)]
pub enum TlsError {
    /// A file could not be read, or holds no PEM object of the kind wanted.
    #[error("{path}: {reason}")]
    Pem { path: PathBuf, reason: String },
    /// rustls refused the pair (the key does not match the certificate, an unsupported
    /// key type…).
    #[error("{cert} with {key}: {source}")]
    Pair {
        cert: PathBuf,
        key: PathBuf,
        source: rustls::Error,
    },
}

/// Reads a certificate chain and its key into a server configuration.
pub fn load(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, TlsError> {
    let pem = |path: &Path, reason: String| TlsError::Pem {
        path: path.to_owned(),
        reason,
    };
    let chain = CertificateDer::pem_file_iter(cert)
        .map_err(|e| pem(cert, e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem(cert, e.to_string()))?;
    if chain.is_empty() {
        return Err(pem(cert, "no CERTIFICATE in the file".into()));
    }
    let private = PrivateKeyDer::from_pem_file(key).map_err(|e| pem(key, e.to_string()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_no_client_auth().with_single_cert(chain, private))
        .map_err(|source| TlsError::Pair {
            cert: cert.to_owned(),
            key: key.to_owned(),
            source,
        })?;
    Ok(Arc::new(config))
}

/// What tells a changed file: its size and modification time.
type Stamp = Option<(u64, SystemTime)>;

fn stamp(path: &Path) -> Stamp {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.len(), meta.modified().ok()?))
}

/// The certificate in use, and the files it came from.
pub struct TlsCertificate {
    cert: PathBuf,
    key: PathBuf,
    stamps: (Stamp, Stamp),
    acceptor: TlsAcceptor,
}

impl TlsCertificate {
    /// Loads the pair named by the configuration; an error here stops the start.
    pub fn open(config: &TlsConfig) -> Result<TlsCertificate, TlsError> {
        let stamps = (stamp(&config.cert), stamp(&config.key));
        let server = load(&config.cert, &config.key)?;
        Ok(TlsCertificate {
            cert: config.cert.clone(),
            key: config.key.clone(),
            stamps,
            acceptor: TlsAcceptor::from(server),
        })
    }

    /// Reloads the pair if a file changed. A pair that does not load is logged and the
    /// one in use kept (and tried again once a file changes again); both are counted.
    pub fn refresh(&mut self, stats: &TcpStats) {
        let now = (stamp(&self.cert), stamp(&self.key));
        if now == self.stamps {
            return;
        }
        self.stamps = now;
        match load(&self.cert, &self.key) {
            Ok(server) => {
                self.acceptor = TlsAcceptor::from(server);
                stats.certificate_reloads.fetch_add(1, Ordering::Relaxed);
                tracing::info!(cert = %self.cert.display(), "TLS certificate reloaded");
            }
            Err(e) => {
                stats
                    .certificate_reload_failures
                    .fetch_add(1, Ordering::Relaxed);
                tracing::error!(error = %e, "new TLS certificate not usable: the previous one is kept");
            }
        }
    }
}

/// Accepts TLS connections until `cancel`; each one's messages go to `events`.
pub async fn accept_loop(
    listener: TcpListener,
    events: mpsc::Sender<TcpEvent>,
    cancel: CancellationToken,
    acceptor: Acceptor,
    mut certificate: TlsCertificate,
) {
    let Acceptor {
        limits,
        clock,
        stats,
    } = acceptor;
    let mut flows = TcpFlows::new(limits);
    let (closed_tx, mut closed_rx) = mpsc::channel::<IpAddr>(CLOSE_QUEUE);
    let mut reload = tokio::time::interval(RELOAD_EVERY);
    reload.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            _ = cancel.cancelled() => return,
            _ = reload.tick() => certificate.refresh(&stats),
            Some(ip) = closed_rx.recv() => {
                flows.closed(ip);
                stats.open.store(flows.open() as u64, Ordering::Relaxed);
            }
            r = listener.accept() => match r {
                Ok((stream, addr)) => {
                    if let Err(why) = flows.accept(addr.ip()) {
                        stats.refused_per_address.fetch_add(1, Ordering::Relaxed);
                        tracing::debug!(%addr, %why, "TLS connection refused: too many from this address");
                        continue;
                    }
                    stats.accepted.fetch_add(1, Ordering::Relaxed);
                    stats.open.store(flows.open() as u64, Ordering::Relaxed);
                    let _ = stream.set_nodelay(true);
                    certificate.refresh(&stats);
                    let tls = certificate.acceptor.clone();
                    let conn = Connection {
                        addr,
                        events: events.clone(),
                        cancel: cancel.clone(),
                        idle: FlowIdle::new(limits, clock.mono()),
                        clock,
                        stats: stats.clone(),
                    };
                    let closed = closed_tx.clone();
                    let within = limits.first_message_within;
                    let failed = stats.clone();
                    tokio::spawn(async move {
                        let failure = match tokio::time::timeout(within, tls.accept(stream)).await {
                            Ok(Ok(stream)) => {
                                conn.run(stream).await;
                                None
                            }
                            Ok(Err(e)) => Some(e.to_string()),
                            Err(_) => Some("not finished in time".to_owned()),
                        };
                        if let Some(why) = failure {
                            failed
                                .handshakes_failed_inbound
                                .fetch_add(1, Ordering::Relaxed);
                            tracing::debug!(%addr, why, "TLS handshake failed");
                        }
                        let _ = closed.send(addr.ip()).await;
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "TLS accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }
}
