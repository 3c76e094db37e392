//! The link to the provider: the registration and the OPTIONS keepalive machines
//! (`sip::uac`), the resolved first hop, and the state they add up to for `/readyz`,
//! `/metrics` and the live board.
//!
//! The engine owns it and carries its bytes on the line's own UDP socket, so the
//! provider sees REGISTER, OPTIONS and our Contact on one address and port (a NAT in
//! front of us keeps one binding for all of them). The engine offers every datagram from
//! the first hop to [`ProviderLink::claims`] before the switchboard sees it; only
//! responses to our own REGISTER or OPTIONS are taken.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::SeedableRng;

use crate::config::{Config, ProviderConfig, ProviderTransport};
use crate::model::{format_time, Now, ProviderPing, ProviderState};
use crate::sip::uac::{
    OptionsPing, PingResult, PingSettings, Registration, RegistrationPhase, RegistrationSettings,
    RETRY_MAX, RETRY_MIN,
};
use crate::sip::Transport;

use super::tls_client::{ProviderTls, TlsClientError};

/// How long a name lookup of the provider may take before the attempt counts as failed.
pub const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);

/// The provider link.
pub struct ProviderLink {
    config: ProviderConfig,
    registration: Registration,
    options: Option<OptionsPing>,
    /// Where every request goes (outbound proxy or registrar), once resolved.
    hop: Option<SocketAddr>,
    /// The addresses calls from the provider come from (registrar and proxy).
    sources: Vec<IpAddr>,
    rng: SmallRng,
    started: bool,
    /// UDP, or TCP or TLS when the first hop's URI asks for it.
    transport: Transport,
}

impl ProviderLink {
    /// The link for `[trunk.provider]`, if configured; `local` is the line's bound SIP
    /// address (its port goes into Via and Contact).
    pub fn new(config: &Config, local: SocketAddr, now: Now, seed: u64) -> Option<ProviderLink> {
        let provider = config.trunk.provider.clone()?;
        let (transport, contact_transport) = match provider.next_hop().transport {
            ProviderTransport::Udp => (Transport::Udp, ""),
            ProviderTransport::Tcp => (Transport::Tcp, ";transport=tcp"),
            ProviderTransport::Tls => (Transport::Tls, ";transport=tls"),
        };
        let mut rng = SmallRng::seed_from_u64(seed);
        let public = config.sip.public_address;
        let host = match public {
            IpAddr::V6(v6) => format!("[{v6}]"),
            IpAddr::V4(v4) => v4.to_string(),
        };
        // Over TLS our Contact names the TLS listener when there is one (a provider that
        // does not reuse the registration's connection opens a new one there).
        let port = match (transport, &config.sip.tls) {
            (Transport::Tls, Some(tls)) => tls.listen.port(),
            _ => local.port(),
        };
        let sent_by = format!("{host}:{port}");
        let registrar_host = &provider.registrar.host;
        let aor = format!("sip:{}@{}", provider.username, uri_host(registrar_host));
        let registration = Registration::new(
            RegistrationSettings {
                registrar_uri: server_uri(&provider.registrar.uri),
                aor: aor.clone(),
                contact: format!("sip:{}@{sent_by}{contact_transport}", provider.username),
                via_sent_by: sent_by.clone(),
                transport,
                auth_username: provider.auth_username.clone(),
                password: provider.password.0.clone(),
                expires: provider.expires,
                user_agent: config.sip.user_agent.clone(),
                t1: config.sip.t1,
                t2: config.sip.t2,
                retry_min: RETRY_MIN,
                retry_max: RETRY_MAX,
            },
            now,
            &mut rng,
        );
        let options = (!provider.options_interval.is_zero()).then(|| {
            OptionsPing::new(
                PingSettings {
                    target_uri: server_uri(&provider.next_hop().uri),
                    from_uri: aor,
                    via_sent_by: sent_by,
                    transport,
                    user_agent: config.sip.user_agent.clone(),
                    interval: provider.options_interval,
                    t1: config.sip.t1,
                    t2: config.sip.t2,
                },
                &mut rng,
            )
        });
        Some(ProviderLink {
            config: provider,
            registration,
            options,
            hop: None,
            sources: Vec::new(),
            rng,
            started: false,
            transport,
        })
    }

    /// Resolves the provider's names (bounded by [`RESOLVE_TIMEOUT`]). Returns the
    /// sources calls may come from when they changed.
    pub async fn resolve(&mut self) -> Result<Option<Vec<IpAddr>>, String> {
        let hop = lookup(&self.config.next_hop().host_port()).await?;
        let mut sources = vec![hop.ip()];
        if self.config.outbound_proxy.is_some() {
            if let Ok(registrar) = lookup(&self.config.registrar.host_port()).await {
                sources.push(registrar.ip());
            }
        }
        self.hop = Some(hop);
        if sources != self.sources {
            self.sources = sources.clone();
            return Ok(Some(sources));
        }
        Ok(None)
    }

    /// The transport every request to the provider goes over.
    pub fn transport(&self) -> Transport {
        self.transport
    }

    /// Whether requests go over the link's own TCP or TLS connection.
    pub fn is_stream(&self) -> bool {
        self.transport.is_reliable()
    }

    /// What a TLS connection to the first hop checks its certificate with, read afresh
    /// for each connection (a renewed `tls_ca` file applies at the next connect).
    pub fn tls_client(&self) -> Result<ProviderTls, TlsClientError> {
        ProviderTls::new(&self.config.next_hop().host, self.config.tls_ca.as_deref())
    }

    /// The first hop, once resolved.
    pub fn hop(&self) -> Option<SocketAddr> {
        self.hop
    }

    /// Whether the first hop is known and worth keeping: once registration fails, the
    /// name is looked up again before each retry (the provider may have moved).
    pub fn needs_resolving(&self) -> bool {
        self.hop.is_none() || self.registration.status().phase == RegistrationPhase::Failing
    }

    /// Starts registering (and pinging); a name that did not resolve fails the attempt,
    /// which is retried with back-off like any other failure.
    pub fn start(&mut self, now: Now, resolve_error: Option<&str>) {
        self.started = true;
        match resolve_error {
            Some(e) => {
                self.registration.start(now, &mut self.rng);
                // Nothing can be sent: drop it and fail the attempt at once.
                while self.registration.poll_transmit().is_some() {}
                self.registration
                    .handle_transport_error(e, now, &mut self.rng);
            }
            None => {
                self.registration.start(now, &mut self.rng);
                if let Some(o) = &mut self.options {
                    o.start(now, &mut self.rng);
                }
            }
        }
    }

    /// A datagram from `src`: `true` if it was a response to our REGISTER or OPTIONS.
    /// Any port of the first hop's address may answer (SBCs often answer from another
    /// port); the machines check Call-ID, CSeq and branch.
    pub fn claims(&mut self, bytes: &[u8], src: SocketAddr, now: Now) -> bool {
        if self.hop.map(|h| h.ip()) != Some(src.ip()) || !bytes.starts_with(b"SIP/2.0 ") {
            return false;
        }
        if self.registration.handle_response(bytes, now, &mut self.rng) {
            return true;
        }
        self.options
            .as_mut()
            .is_some_and(|o| o.handle_response(bytes, now))
    }

    /// The next deadline of either machine.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let options = self.options.as_ref().and_then(OptionsPing::poll_timeout);
        [self.registration.poll_timeout(), options]
            .into_iter()
            .flatten()
            .min()
    }

    /// Fires what is due.
    pub fn handle_timeout(&mut self, now: Now) {
        self.registration.handle_timeout(now, &mut self.rng);
        if let Some(o) = &mut self.options {
            o.handle_timeout(now, &mut self.rng);
        }
    }

    /// A resolve failed when a retry was due: the retry fails at once.
    pub fn transport_error(&mut self, reason: &str, now: Now) {
        while self.registration.poll_transmit().is_some() {}
        self.registration
            .handle_transport_error(reason, now, &mut self.rng);
    }

    /// The link's own TCP or TLS connection closed or never opened: see
    /// [`Registration::handle_connection_lost`].
    pub fn connection_lost(&mut self, reason: &str, now: Now) {
        self.registration
            .handle_connection_lost(reason, now, &mut self.rng);
    }

    /// Un-REGISTERs and stops pinging (shutdown).
    pub fn stop(&mut self, now: Now) {
        if let Some(o) = &mut self.options {
            o.stop();
        }
        self.registration.stop(now, &mut self.rng);
    }

    /// Whether the un-REGISTER is over.
    pub fn is_finished(&self) -> bool {
        self.registration.is_finished()
    }

    /// What to send now, and where.
    pub fn transmit(&mut self) -> Vec<(SocketAddr, Vec<u8>)> {
        let Some(hop) = self.hop else {
            return Vec::new();
        };
        let mut out = Vec::new();
        while let Some(bytes) = self.registration.poll_transmit() {
            out.push((hop, bytes));
        }
        if let Some(o) = &mut self.options {
            while let Some(bytes) = o.poll_transmit() {
                out.push((hop, bytes));
            }
        }
        out
    }

    /// The state for observers.
    pub fn state(&self) -> ProviderState {
        let status = self.registration.status();
        let options = self
            .options
            .as_ref()
            .and_then(OptionsPing::last)
            .map(|(result, at)| ping(result, *at));
        ProviderState {
            registrar: self.config.registrar.uri.clone(),
            state: if self.started {
                status.phase.as_str().to_string()
            } else {
                "registering".to_string()
            },
            since: format_time(status.since.wall),
            last_error: status.last_error.clone(),
            failures: status.failures,
            expires: status.granted_expires,
            options,
        }
    }
}

fn ping(result: &PingResult, at: Now) -> ProviderPing {
    match result {
        PingResult::Answered { status, rtt } => ProviderPing {
            result: "ok".into(),
            status: Some(*status),
            rtt_seconds: Some(rtt.as_secs_f64()),
            at: format_time(at.wall),
        },
        PingResult::Timeout => ProviderPing {
            result: "timeout".into(),
            status: None,
            rtt_seconds: None,
            at: format_time(at.wall),
        },
    }
}

/// The URI without the `transport` parameter (we say it in Via) for the Request-URI.
fn server_uri(uri: &str) -> String {
    uri.split(';')
        .filter(|p| !p.to_ascii_lowercase().starts_with("transport="))
        .collect::<Vec<_>>()
        .join(";")
}

fn uri_host(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

async fn lookup(host_port: &str) -> Result<SocketAddr, String> {
    let found = tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host(host_port)).await;
    match found {
        Err(_) => Err(format!("resolving {host_port}: timed out")),
        Ok(Err(e)) => Err(format!("resolving {host_port}: {e}")),
        Ok(Ok(mut addrs)) => addrs
            .next()
            .ok_or_else(|| format!("resolving {host_port}: no address")),
    }
}
