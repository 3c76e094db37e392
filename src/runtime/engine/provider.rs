//! The engine's side of the provider link (`runtime/provider.rs`): started with the line,
//! its datagrams carried on the line's UDP socket, its timers in the engine's loop, its
//! un-REGISTER on shutdown (given at most [`UNREGISTER_WITHIN`] or the grace, whichever
//! is shorter), and its state published with the metrics.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::Engine;
use crate::runtime::tcp::{self, Acceptor, TcpEvent, TcpStats};
use crate::runtime::tls_client::{ProviderTls, TlsClientError};
use crate::sip::message::{to_bytes, SipMessage};
use crate::sip::Transport;

/// How long opening the provider's connection (TCP connect and TLS handshake) may take.
const CONNECT_WITHIN: Duration = Duration::from_secs(5);

/// What the provider link needs to open its own TCP or TLS connection, and what waits
/// for it.
pub(super) struct StreamDialer {
    /// Where a TCP connection reports (with the accepted ones).
    pub tcp_events: mpsc::Sender<TcpEvent>,
    /// Where a TLS connection reports (with the accepted ones).
    pub tls_events: mpsc::Sender<TcpEvent>,
    pub cancel: CancellationToken,
    pub acceptor: Acceptor,
    /// The TLS side's counters (handshakes to the provider count there).
    pub tls_stats: Arc<TcpStats>,
    pub pending: Vec<Vec<u8>>,
    pub connecting: bool,
}

impl StreamDialer {
    /// Connects off the engine task; the connection reports itself like an accepted one,
    /// and a failure reports as `DialFailed` with its reason so the link retries.
    fn dial(&self, to: SocketAddr, tls: Option<Result<ProviderTls, TlsClientError>>) {
        let events = if tls.is_some() {
            self.tls_events.clone()
        } else {
            self.tcp_events.clone()
        };
        let cancel = self.cancel.clone();
        let acceptor = Acceptor {
            limits: self.acceptor.limits,
            clock: self.acceptor.clock,
            stats: if tls.is_some() {
                self.tls_stats.clone()
            } else {
                self.acceptor.stats.clone()
            },
        };
        tokio::spawn(async move {
            let opened = tokio::time::timeout(CONNECT_WITHIN, open(to, tls, &acceptor.stats)).await;
            let why = match opened {
                Ok(Ok(Opened::Tcp(stream))) => {
                    return tcp::spawn_outbound(stream, to, events, cancel, &acceptor);
                }
                Ok(Ok(Opened::Tls(stream))) => {
                    return tcp::spawn_outbound(*stream, to, events, cancel, &acceptor);
                }
                Ok(Err(why)) => why,
                Err(_) => format!("no connection within {}s", CONNECT_WITHIN.as_secs()),
            };
            tracing::warn!(%to, why, "provider: cannot open a connection");
            let _ = events.send(TcpEvent::DialFailed { addr: to, why }).await;
        });
    }
}

/// A connection to the provider, plain or with TLS.
enum Opened {
    Tcp(tokio::net::TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>),
}

/// TCP connect, then the TLS handshake when asked for; a failure says which step failed.
async fn open(
    to: SocketAddr,
    tls: Option<Result<ProviderTls, TlsClientError>>,
    stats: &TcpStats,
) -> Result<Opened, String> {
    let tls = tls.transpose().map_err(|e| e.to_string())?;
    let stream = tokio::net::TcpStream::connect(to)
        .await
        .map_err(|e| format!("TCP connect to {to}: {e}"))?;
    let _ = stream.set_nodelay(true);
    let Some(tls) = tls else {
        return Ok(Opened::Tcp(stream));
    };
    match tls.connector.connect(tls.name, stream).await {
        Ok(stream) => {
            stats.outbound_connected.fetch_add(1, Ordering::Relaxed);
            Ok(Opened::Tls(Box::new(stream)))
        }
        Err(e) => {
            stats
                .handshakes_failed_outbound
                .fetch_add(1, Ordering::Relaxed);
            Err(format!("TLS handshake with {to}: {e}"))
        }
    }
}

/// The longest the line waits for the un-REGISTER's answer when it stops.
pub(super) const UNREGISTER_WITHIN: Duration = Duration::from_secs(5);

impl Engine {
    /// Resolves the provider and sends the first REGISTER (a restart always registers).
    pub(super) async fn provider_start(&mut self) {
        let Some(link) = &mut self.provider else {
            return;
        };
        let error = match link.resolve().await {
            Ok(Some(sources)) => {
                self.sb.set_provider_sources(sources);
                None
            }
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(error = %e, "provider: cannot resolve; will retry");
                Some(e)
            }
        };
        link.start(self.clock.now(), error.as_deref());
        self.provider_send().await;
    }

    /// Takes a datagram if it answers our REGISTER or OPTIONS.
    pub(super) fn provider_claims(&mut self, bytes: &[u8], src: std::net::SocketAddr) -> bool {
        let now = self.clock.now();
        let Some(link) = &mut self.provider else {
            return false;
        };
        let before = link.state();
        let claimed = link.claims(bytes, src, now);
        if claimed {
            log_change(&before, &link.state());
        }
        claimed
    }

    /// The link's next deadline.
    pub(super) fn provider_timer(&self) -> Option<std::time::Instant> {
        self.provider.as_ref().and_then(|p| p.poll_timeout())
    }

    /// A deadline of the link: a retry whose name does not resolve fails at once.
    pub(super) async fn provider_timeout(&mut self) {
        let Some(link) = &mut self.provider else {
            return;
        };
        let before = link.state();
        if link.needs_resolving() {
            match link.resolve().await {
                Ok(Some(sources)) => self.sb.set_provider_sources(sources),
                Ok(None) => {}
                Err(e) => {
                    let now = self.clock.now();
                    link.handle_timeout(now);
                    link.transport_error(&e, now);
                    log_change(&before, &link.state());
                    return;
                }
            }
        }
        link.handle_timeout(self.clock.now());
        log_change(&before, &link.state());
    }

    /// Sends what the link has queued: on the line's UDP socket, or on the link's own TCP
    /// or TLS connection (opened on demand; what waits for it is sent once it is up).
    pub(super) async fn provider_send(&mut self) {
        let Some(link) = &mut self.provider else {
            return;
        };
        let transport = link.transport();
        for (to, bytes) in link.transmit() {
            if !transport.is_reliable() {
                if let Err(e) = self.udp.send_to(&bytes, to).await {
                    tracing::debug!(%to, error = %e, "provider: UDP send failed");
                }
                continue;
            }
            let writers = match transport {
                Transport::Tls => &self.tls_writers,
                _ => &self.tcp_writers,
            };
            match writers.get(&to) {
                Some(w) => {
                    let _ = w.try_send(bytes);
                }
                None => {
                    let Some(dialer) = &mut self.provider_stream else {
                        continue;
                    };
                    dialer.pending.push(bytes);
                    if !dialer.connecting {
                        dialer.connecting = true;
                        let tls = (transport == Transport::Tls).then(|| link.tls_client());
                        dialer.dial(to, tls);
                    }
                }
            }
        }
    }

    /// Whether `addr` over `transport` is the provider link's own connection.
    fn is_provider_stream(&self, addr: SocketAddr, transport: Transport) -> bool {
        self.provider
            .as_ref()
            .is_some_and(|l| l.is_stream() && l.transport() == transport && l.hop() == Some(addr))
    }

    /// A connection came up: if it is the provider's, send what waited for it.
    pub(super) fn provider_stream_connected(&mut self, addr: SocketAddr, transport: Transport) {
        if !self.is_provider_stream(addr, transport) {
            return;
        }
        let writer = match transport {
            Transport::Tls => self.tls_writers.get(&addr),
            _ => self.tcp_writers.get(&addr),
        };
        if let (Some(dialer), Some(w)) = (&mut self.provider_stream, writer) {
            dialer.connecting = false;
            for bytes in dialer.pending.drain(..) {
                let _ = w.try_send(bytes);
            }
        }
    }

    /// A message on the provider's connection: taken if it answers our REGISTER or
    /// OPTIONS.
    pub(super) fn provider_claims_stream(
        &mut self,
        msg: &SipMessage,
        addr: SocketAddr,
        transport: Transport,
    ) -> bool {
        matches!(msg, SipMessage::Response(_))
            && self.is_provider_stream(addr, transport)
            && self.provider_claims(&to_bytes(msg), addr)
    }

    /// The provider's connection closed, or never opened (`why` says why): the attempt
    /// under way fails and is retried with back-off; a binding we hold is registered
    /// again at once over a new connection.
    pub(super) fn provider_stream_closed(
        &mut self,
        addr: SocketAddr,
        transport: Transport,
        why: Option<&str>,
    ) {
        if !self.is_provider_stream(addr, transport) {
            return;
        }
        let now = self.clock.now();
        if let Some(dialer) = &mut self.provider_stream {
            dialer.connecting = false;
            dialer.pending.clear();
        }
        let closed = format!("{} connection to the provider closed", transport.as_str());
        let Some(link) = &mut self.provider else {
            return;
        };
        let before = link.state();
        link.connection_lost(why.unwrap_or(&closed), now);
        log_change(&before, &link.state());
    }

    /// Shutdown: un-REGISTER, to be answered within the shorter of the grace and
    /// [`UNREGISTER_WITHIN`].
    pub(super) fn provider_shutdown(&mut self, grace: Duration) {
        let now = self.clock.now();
        if let Some(link) = &mut self.provider {
            link.stop(now);
            self.provider_stop_by = Some(now.mono + grace.min(UNREGISTER_WITHIN));
        }
    }

    /// Whether the link lets the engine stop.
    pub(super) fn provider_done(&self) -> bool {
        match &self.provider {
            None => true,
            Some(link) => {
                link.is_finished()
                    || self
                        .provider_stop_by
                        .is_some_and(|by| self.clock.mono() >= by)
            }
        }
    }

    /// The link's state for `/metrics` and the live board.
    pub(super) fn provider_state(&self) -> Option<crate::model::ProviderState> {
        self.provider.as_ref().map(|p| p.state())
    }
}

fn log_change(before: &crate::model::ProviderState, after: &crate::model::ProviderState) {
    if before.state != after.state {
        match after.state.as_str() {
            "failing" => tracing::warn!(
                error = after.last_error.as_deref().unwrap_or(""),
                "provider: registration failing"
            ),
            state => tracing::info!(state, expires = after.expires, "provider: registration"),
        }
    }
}
