//! The provider link as `/readyz` says it in one line: the registration's state, since
//! when, the last error, and the OPTIONS keepalive's result and round-trip time.

use crate::model::ProviderState;

/// `provider: registered since … (expires 600 s); options ok 200 in 12.5 ms`, newline
/// ended.
pub fn readyz_line(p: &ProviderState) -> String {
    let mut line = format!("provider: {} since {}", p.state, p.since);
    if let Some(expires) = p.expires.filter(|_| p.is_registered()) {
        line.push_str(&format!(" (expires {expires} s)"));
    }
    if let Some(error) = p.last_error.as_deref().filter(|_| !p.is_registered()) {
        line.push_str(&format!(" (last error: {error})"));
    }
    if let Some(ping) = &p.options {
        match (ping.status, ping.rtt_seconds) {
            (Some(status), Some(rtt)) => line.push_str(&format!(
                "; options {} {status} in {:.1} ms",
                ping.result,
                rtt * 1000.0
            )),
            _ => line.push_str(&format!("; options {}", ping.result)),
        }
    }
    line.push('\n');
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ProviderPing;

    #[test]
    fn one_line_with_state_expiry_and_keepalive() {
        let mut p = ProviderState {
            registrar: "sip:p".into(),
            state: "registered".into(),
            since: "2026-12-01T09:00:00.000Z".into(),
            last_error: Some("503 Service Unavailable".into()),
            failures: 0,
            expires: Some(600),
            options: Some(ProviderPing {
                result: "ok".into(),
                status: Some(200),
                rtt_seconds: Some(0.0125),
                at: "x".into(),
            }),
        };
        assert_eq!(
            readyz_line(&p),
            "provider: registered since 2026-12-01T09:00:00.000Z (expires 600 s); options ok 200 in 12.5 ms\n"
        );
        p.state = "failing".into();
        p.options = None;
        assert_eq!(
            readyz_line(&p),
            "provider: failing since 2026-12-01T09:00:00.000Z (last error: 503 Service Unavailable)\n"
        );
    }
}
