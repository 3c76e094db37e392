//! The keys that defend the line: password-guessing limits for the operators' digest
//! logins (`[sip] auth_*`) and the console's (`[http] login_*`), and the HTTP side's
//! `[http]` section (metrics token, public origin, trusted proxies).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use toml::Table;

use super::build::{section, socket_addr};
use super::reader::{Reader, Section, Zero};
use super::values::{parse_ip_net, IpNet};
use super::HttpConfig;
use crate::sip::registrar::guard::GuardPolicy;

/// Reads the seven guard keys named `<prefix>_…` of a section over `defaults`.
pub(super) fn guard_policy(
    r: &mut Reader<'_>,
    s: &Section<'_>,
    prefix: &str,
    defaults: GuardPolicy,
) -> GuardPolicy {
    let key = |name: &str| format!("{prefix}_{name}");
    let slow_after = r.integer(s, &key("slow_after"), defaults.slow_after, 0, 1000);
    let lock_after = r.integer(s, &key("lock_after"), defaults.lock_after, 0, 10_000);
    let source_lock_after = r.integer(
        s,
        &key("source_lock_after"),
        defaults.source_lock_after,
        0,
        100_000,
    );
    let source_accounts = r.integer(s, &key("source_accounts"), defaults.source_accounts, 0, 64);
    let failure_window = r.duration(
        s,
        &key("failure_window"),
        defaults.failure_window,
        Zero::Refused,
    );
    let lockout = r.duration(s, &key("lockout"), defaults.lockout, Zero::Refused);
    let max_lockout = r.duration(s, &key("max_lockout"), defaults.max_lockout, Zero::Refused);
    if max_lockout < lockout {
        r.invalid(
            &s.key(&key("max_lockout")),
            format!("is shorter than {prefix}_lockout"),
        );
    }
    GuardPolicy {
        slow_after,
        lock_after,
        source_lock_after,
        source_accounts,
        failure_window,
        lockout,
        max_lockout,
    }
}

/// The console's defaults: fewer guesses than a softphone's, which retries by itself.
pub(super) fn login_defaults() -> GuardPolicy {
    GuardPolicy {
        slow_after: 3,
        lock_after: 5,
        source_lock_after: 20,
        source_accounts: 5,
        failure_window: Duration::from_secs(600),
        lockout: Duration::from_secs(600),
        max_lockout: Duration::from_secs(3600),
    }
}

/// `scheme://host[:port]` with nothing after it, lowercased.
fn origin(text: &str) -> Result<Option<String>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let lower = text.trim_end_matches('/').to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"));
    match rest {
        Some(host) if !host.is_empty() && !host.contains(['/', '?', '#', '@', ' ']) => {
            Ok(Some(lower))
        }
        _ => Err(format!(
            "{text:?} is not an origin (expected e.g. \"https://hotline.example.org\")"
        )),
    }
}

fn token(text: &str) -> Result<Option<String>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    if text.len() < 16 || !text.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("must be at least 16 printable characters without spaces".into());
    }
    Ok(Some(text.to_owned()))
}

pub(super) fn http(r: &mut Reader<'_>, root: &Table) -> HttpConfig {
    let s = section(r, root, "http");
    let listen = r.parsed(
        &s,
        "listen",
        SocketAddr::from(([0, 0, 0, 0], 8080)),
        socket_addr,
    );
    let metrics_token = r.parsed(&s, "metrics_token", None, token);
    let public_origin = r.parsed(&s, "public_origin", None, origin);
    let loopback = vec![
        IpNet::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 32).expect("a /32 host is a valid prefix"),
        IpNet::new(IpAddr::V6(Ipv6Addr::LOCALHOST), 128).expect("a /128 host is a valid prefix"),
    ];
    let trusted_proxies = r.list(&s, "trusted_proxies", loopback, parse_ip_net);
    let login_guard = guard_policy(r, &s, "login", login_defaults());
    HttpConfig {
        listen,
        metrics_token,
        public_origin,
        trusted_proxies,
        login_guard,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_scheme_and_host_only() {
        assert_eq!(origin(""), Ok(None));
        assert_eq!(
            origin("HTTPS://Hotline.example.org/"),
            Ok(Some("https://hotline.example.org".into()))
        );
        assert!(origin("hotline.example.org").is_err());
        assert!(origin("https://h.example/console").is_err());
    }

    #[test]
    fn a_metrics_token_is_long_enough_or_absent() {
        assert_eq!(token(" "), Ok(None));
        assert!(token("short").is_err());
        assert!(token("sixteen chars pw").is_err(), "no spaces");
        assert_eq!(
            token("0123456789abcdef"),
            Ok(Some("0123456789abcdef".into()))
        );
    }
}
