//! The engine's side of the provider link (`runtime/provider.rs`): started with the line,
//! its datagrams carried on the line's UDP socket, its timers in the engine's loop, its
//! un-REGISTER on shutdown (given at most [`UNREGISTER_WITHIN`] or the grace, whichever
//! is shorter), and its state published with the metrics.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::Engine;
use crate::runtime::tcp::{self, Acceptor, TcpEvent};
use crate::sip::message::{to_bytes, SipMessage};

/// How long opening the provider's TCP connection may take.
const CONNECT_WITHIN: Duration = Duration::from_secs(5);

/// What the provider link needs to open its own TCP connection, and what waits for it.
pub(super) struct TcpDialer {
    pub events: mpsc::Sender<TcpEvent>,
    pub cancel: CancellationToken,
    pub acceptor: Acceptor,
    pub pending: Vec<Vec<u8>>,
    pub connecting: bool,
}

impl TcpDialer {
    /// Connects off the engine task; the connection reports itself like an accepted one,
    /// and a failure reports as `Closed` so the link retries.
    fn dial(&self, to: SocketAddr) {
        let (events, cancel) = (self.events.clone(), self.cancel.clone());
        let acceptor = Acceptor {
            limits: self.acceptor.limits,
            clock: self.acceptor.clock,
            stats: self.acceptor.stats.clone(),
        };
        tokio::spawn(async move {
            let connect = tokio::net::TcpStream::connect(to);
            match tokio::time::timeout(CONNECT_WITHIN, connect).await {
                Ok(Ok(stream)) => tcp::spawn_outbound(stream, events, cancel, &acceptor),
                _ => {
                    tracing::warn!(%to, "provider: cannot open a TCP connection");
                    let _ = events.send(TcpEvent::Closed { addr: to }).await;
                }
            }
        });
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
    /// connection (opened on demand; what waits for it is sent once it is up).
    pub(super) async fn provider_send(&mut self) {
        let Some(link) = &mut self.provider else {
            return;
        };
        let tcp = link.is_tcp();
        for (to, bytes) in link.transmit() {
            if !tcp {
                if let Err(e) = self.udp.send_to(&bytes, to).await {
                    tracing::debug!(%to, error = %e, "provider: UDP send failed");
                }
                continue;
            }
            match self.tcp_writers.get(&to) {
                Some(w) => {
                    let _ = w.try_send(bytes);
                }
                None => {
                    let Some(dialer) = &mut self.provider_tcp else {
                        continue;
                    };
                    dialer.pending.push(bytes);
                    if !dialer.connecting {
                        dialer.connecting = true;
                        dialer.dial(to);
                    }
                }
            }
        }
    }

    /// A TCP connection came up: if it is the provider's, send what waited for it.
    pub(super) fn provider_tcp_connected(&mut self, addr: SocketAddr) {
        if self.provider.as_ref().and_then(|l| l.hop()) != Some(addr) {
            return;
        }
        if let (Some(dialer), Some(w)) = (&mut self.provider_tcp, self.tcp_writers.get(&addr)) {
            dialer.connecting = false;
            for bytes in dialer.pending.drain(..) {
                let _ = w.try_send(bytes);
            }
        }
    }

    /// A message on the provider's TCP connection: taken if it answers our REGISTER or
    /// OPTIONS.
    pub(super) fn provider_claims_tcp(&mut self, msg: &SipMessage, addr: SocketAddr) -> bool {
        let tcp = self.provider.as_ref().is_some_and(|l| l.is_tcp());
        tcp && matches!(msg, SipMessage::Response(_)) && self.provider_claims(&to_bytes(msg), addr)
    }

    /// The provider's TCP connection closed (or never opened): the attempt under way fails
    /// and is retried with back-off, over a new connection.
    pub(super) fn provider_tcp_closed(&mut self, addr: SocketAddr) {
        let now = self.clock.now();
        let Some(link) = &mut self.provider else {
            return;
        };
        if link.hop() != Some(addr) || !link.is_tcp() {
            return;
        }
        if let Some(dialer) = &mut self.provider_tcp {
            dialer.connecting = false;
            dialer.pending.clear();
        }
        link.transport_error("TCP connection to the provider closed", now);
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
