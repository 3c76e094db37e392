//! The provider link's part of `/metrics` (only when `[trunk.provider]` is configured):
//! whether we are registered, failures in a row, the granted interval, and the OPTIONS
//! keepalive's last result and round-trip time.

use std::fmt::Write;

use super::Metrics;

pub fn render(m: &Metrics) -> String {
    let mut out = String::new();
    let Some(p) = &m.provider else {
        return out;
    };
    let mut gauge = |name: &str, help: &str, value: String| {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
        );
    };
    gauge(
        "hotline_provider_registered",
        "1 while the provider's registrar holds our binding.",
        u8::from(p.is_registered()).to_string(),
    );
    gauge(
        "hotline_provider_registration_failures",
        "Failed registration attempts in a row.",
        p.failures.to_string(),
    );
    gauge(
        "hotline_provider_registration_expires_seconds",
        "The registration interval the registrar granted last.",
        p.expires.unwrap_or(0).to_string(),
    );
    let (up, rtt) = match &p.options {
        Some(ping) => (u8::from(ping.result == "ok"), ping.rtt_seconds),
        None => (0, None),
    };
    gauge(
        "hotline_provider_options_up",
        "1 if the last OPTIONS keepalive to the provider got an answer.",
        up.to_string(),
    );
    if let Some(rtt) = rtt {
        gauge(
            "hotline_provider_options_rtt_seconds",
            "Round-trip time of the last answered OPTIONS keepalive.",
            format!("{rtt:.6}"),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ProviderPing, ProviderState};

    #[test]
    fn registered_with_a_keepalive_answered() {
        let mut m = Metrics::default();
        assert_eq!(render(&m), "", "nothing without a provider");
        m.provider = Some(ProviderState {
            registrar: "sip:p".into(),
            state: "registered".into(),
            since: "2026-12-01T09:00:00.000Z".into(),
            last_error: None,
            failures: 0,
            expires: Some(120),
            options: Some(ProviderPing {
                result: "ok".into(),
                status: Some(200),
                rtt_seconds: Some(0.0125),
                at: "2026-12-01T09:00:01.000Z".into(),
            }),
        });
        let text = render(&m);
        assert!(text.contains("\nhotline_provider_registered 1\n"), "{text}");
        assert!(text.contains("\nhotline_provider_registration_expires_seconds 120\n"));
        assert!(text.contains("\nhotline_provider_options_up 1\n"));
        assert!(text.contains("\nhotline_provider_options_rtt_seconds 0.012500\n"));
    }
}
