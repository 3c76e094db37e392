//! The engine's side of the provider link (`runtime/provider.rs`): started with the line,
//! its datagrams carried on the line's UDP socket, its timers in the engine's loop, its
//! un-REGISTER on shutdown (given at most [`UNREGISTER_WITHIN`] or the grace, whichever
//! is shorter), and its state published with the metrics.

use std::time::Duration;

use super::Engine;

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

    /// Sends what the link has queued.
    pub(super) async fn provider_send(&mut self) {
        let Some(link) = &mut self.provider else {
            return;
        };
        for (to, bytes) in link.transmit() {
            if let Err(e) = self.udp.send_to(&bytes, to).await {
                tracing::debug!(%to, error = %e, "provider: UDP send failed");
            }
        }
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
