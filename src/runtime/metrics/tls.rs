//! SIP over TLS in `/metrics`: connections accepted and open, handshakes that failed on
//! either side (a phone or scanner that could not finish one with us; a provider whose
//! certificate we did not trust), our own connections to the provider, and certificate
//! reloads. Every series is listed at zero from the start, so alerts can be written
//! before the first failure.

use std::sync::atomic::Ordering;

use super::Metrics;
use crate::runtime::tcp::TcpStats;

/// The TLS side's counters at one instant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TlsCounts {
    pub open: u64,
    pub accepted: u64,
    pub handshakes_failed_inbound: u64,
    pub handshakes_failed_outbound: u64,
    pub outbound_connected: u64,
    pub certificate_reloads: u64,
    pub certificate_reload_failures: u64,
}

impl TlsCounts {
    pub fn of(stats: &TcpStats) -> TlsCounts {
        let read = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
        TlsCounts {
            open: read(&stats.open),
            accepted: read(&stats.accepted),
            handshakes_failed_inbound: read(&stats.handshakes_failed_inbound),
            handshakes_failed_outbound: read(&stats.handshakes_failed_outbound),
            outbound_connected: read(&stats.outbound_connected),
            certificate_reloads: read(&stats.certificate_reloads),
            certificate_reload_failures: read(&stats.certificate_reload_failures),
        }
    }
}

pub(super) fn render(m: &Metrics) -> String {
    let t = &m.tls;
    let mut out = String::with_capacity(1024);
    let mut metric = |name: &str, kind: &str, help: &str, samples: &[(&str, u64)]| {
        super::family(&mut out, name, kind, help, samples)
    };
    metric(
        "hotline_tls_connections",
        "gauge",
        "SIP TLS connections accepted and open now.",
        &[("", t.open)],
    );
    metric(
        "hotline_tls_connections_accepted_total",
        "counter",
        "SIP TLS connections accepted (before their handshake).",
        &[("", t.accepted)],
    );
    metric(
        "hotline_tls_handshake_failures_total",
        "counter",
        "TLS handshakes that failed: inbound on connections accepted (plain text, \
         scanners, clients that do not trust our certificate), outbound on our \
         connections to the provider (its certificate not trusted or not for its name).",
        &[
            ("direction=\"inbound\"", t.handshakes_failed_inbound),
            ("direction=\"outbound\"", t.handshakes_failed_outbound),
        ],
    );
    metric(
        "hotline_tls_outbound_connections_total",
        "counter",
        "TLS connections to the provider whose handshake succeeded.",
        &[("", t.outbound_connected)],
    );
    metric(
        "hotline_tls_certificate_reloads_total",
        "counter",
        "Certificate and key pairs loaded after their files changed (ok), and new \
         pairs refused while the previous one was kept (failed).",
        &[
            ("result=\"ok\"", t.certificate_reloads),
            ("result=\"failed\"", t.certificate_reload_failures),
        ],
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_series_is_there_from_the_start_with_its_labels() {
        let mut m = Metrics::default();
        let text = render(&m);
        for line in [
            "\nhotline_tls_connections 0\n",
            "\nhotline_tls_handshake_failures_total{direction=\"inbound\"} 0\n",
            "\nhotline_tls_handshake_failures_total{direction=\"outbound\"} 0\n",
            "\nhotline_tls_certificate_reloads_total{result=\"failed\"} 0\n",
        ] {
            assert!(text.contains(line), "{line} not in {text}");
        }
        m.tls.handshakes_failed_outbound = 3;
        m.tls.certificate_reloads = 1;
        let text = render(&m);
        assert!(text.contains("\nhotline_tls_handshake_failures_total{direction=\"outbound\"} 3\n"));
        assert!(text.contains("\nhotline_tls_certificate_reloads_total{result=\"ok\"} 1\n"));
    }
}
