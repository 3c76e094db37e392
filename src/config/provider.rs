//! `[trunk.provider]`: registration to a SIP provider that wants digest credentials
//! (optional; absent = the trunk is authenticated by source address only).
//!
//! ```toml
//! [trunk.provider]
//! registrar = "sip:sip.provider.example:5060"   # ;transport=udp|tcp|tls
//! username = "78112792112"
//! auth_username = "78112792112"                 # if it differs from username
//! password = "…"                                # or password_env = "VARIABLE"
//! expires = 600
//! outbound_proxy = "sip:…"                      # optional
//! options_interval = "30s"                      # OPTIONS keepalive; "0s" = none
//! tls_ca = "provider-ca.pem"                    # TLS only; default: the public CAs
//! ```

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::{Table, Value};

use super::reader::{Reader, Zero};

/// Keys of `[trunk.provider]`.
pub(super) const PROVIDER_KEYS: &[&str] = &[
    "registrar",
    "username",
    "auth_username",
    "password",
    "password_env",
    "expires",
    "outbound_proxy",
    "options_interval",
    "tls_ca",
];

/// The transport a provider URI names (`;transport=`, or `sips:` for TLS).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProviderTransport {
    Udp,
    Tcp,
    Tls,
}

impl ProviderTransport {
    /// The token used in Via and URIs.
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderTransport::Udp => "UDP",
            ProviderTransport::Tcp => "TCP",
            ProviderTransport::Tls => "TLS",
        }
    }
}

/// A SIP server named by URI: where to send, over what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SipServer {
    /// The URI as configured (without user part).
    pub uri: String,
    /// Host name or IP literal (IPv6 without brackets).
    pub host: String,
    /// Port (5060, or 5061 for TLS, when absent).
    pub port: u16,
    /// Transport.
    pub transport: ProviderTransport,
}

impl SipServer {
    /// `host:port` as a resolver takes it (IPv6 bracketed).
    pub fn host_port(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// The provider's password. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct ProviderPassword(pub String);

impl fmt::Debug for ProviderPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ProviderPassword(…)")
    }
}

/// `[trunk.provider]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProviderConfig {
    /// The registrar.
    pub registrar: SipServer,
    /// The user part of our address-of-record and Contact (the city number).
    pub username: String,
    /// The digest user name (defaults to `username`).
    pub auth_username: String,
    /// The digest password.
    pub password: ProviderPassword,
    /// The registration interval asked for, in seconds.
    pub expires: u32,
    /// Where requests go instead of the registrar, if set.
    pub outbound_proxy: Option<SipServer>,
    /// How often an OPTIONS keepalive is sent; zero sends none.
    pub options_interval: Duration,
    /// The CA certificates (PEM) a TLS provider's certificate must chain to; `None`: the
    /// public web CAs built into the binary. Relative to the config file's directory.
    pub tls_ca: Option<PathBuf>,
}

impl ProviderConfig {
    /// The first hop of every request to the provider.
    pub fn next_hop(&self) -> &SipServer {
        self.outbound_proxy.as_ref().unwrap_or(&self.registrar)
    }
}

/// Parses a provider URI: `sip:host[:port][;params]` or `sips:…`; a user part is refused
/// (the registrar is a server, not an account).
pub fn parse_server(text: &str) -> Result<SipServer, String> {
    let text = text.trim();
    let bad = |why: &str| {
        format!("{text:?} is not a SIP server URI ({why}; e.g. \"sip:sip.provider.example:5060\")")
    };
    let (secure, rest) = if let Some(rest) = text.strip_prefix("sips:") {
        (true, rest)
    } else if let Some(rest) = text.strip_prefix("sip:") {
        (false, rest)
    } else {
        return Err(bad("it must start with sip: or sips:"));
    };
    if rest.contains('@') {
        return Err(bad("no user part here; the user name is its own key"));
    }
    if text
        .chars()
        .any(|c| c.is_control() || c.is_whitespace() || c == '<' || c == '>' || c == '"')
    {
        return Err(bad(
            "it contains spaces, quotes, brackets or control characters",
        ));
    }
    let mut parts = rest.split(';');
    let hostport = parts.next().unwrap_or("");
    let mut transport = if secure {
        ProviderTransport::Tls
    } else {
        ProviderTransport::Udp
    };
    for param in parts {
        if let Some((name, value)) = param.split_once('=') {
            if name.eq_ignore_ascii_case("transport") {
                transport = match value.to_ascii_lowercase().as_str() {
                    "udp" if !secure => ProviderTransport::Udp,
                    "tcp" if !secure => ProviderTransport::Tcp,
                    "tcp" | "tls" => ProviderTransport::Tls,
                    _ => return Err(bad("transport must be udp, tcp or tls")),
                };
            }
        }
    }
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        let (host, after) = v6.split_once(']').ok_or_else(|| bad("unclosed ["))?;
        (host, after.strip_prefix(':'))
    } else {
        match hostport.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (hostport, None),
        }
    };
    if host.is_empty() {
        return Err(bad("no host"));
    }
    let default_port = if transport == ProviderTransport::Tls {
        5061
    } else {
        5060
    };
    let port = match port {
        None => default_port,
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| bad("bad port"))?,
    };
    Ok(SipServer {
        uri: text.to_string(),
        host: host.to_string(),
        port,
        transport,
    })
}

/// A user name: digits, letters and the few marks SIP user parts commonly carry.
fn user_name(text: &str) -> Result<String, String> {
    let ok = !text.is_empty()
        && text.len() <= 64
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-_.".contains(c));
    if ok {
        Ok(text.to_string())
    } else {
        Err(format!(
            "{text:?} is not a user name (letters, digits, + - _ . ; up to 64)"
        ))
    }
}

/// What `check-config` should say about a valid provider section: a CA file that is
/// never used because the first hop is not TLS.
pub(super) fn warning(p: &ProviderConfig) -> Option<String> {
    let hop = p.next_hop();
    (p.tls_ca.is_some() && hop.transport != ProviderTransport::Tls).then(|| {
        format!(
            "trunk.provider.tls_ca is set, but {} is reached over {}: the file is not used",
            hop.uri,
            hop.transport.as_str()
        )
    })
}

/// Reads `[trunk.provider]` from the `[trunk]` table, if present.
pub(super) fn provider(
    r: &mut Reader<'_>,
    trunk: Option<&Table>,
    env: &[(String, String)],
    base: &Path,
) -> Option<ProviderConfig> {
    let value: Option<&Value> = trunk.and_then(|t| t.get("provider"));
    value?;
    let s = r.table_section(value, "trunk.provider".to_owned(), PROVIDER_KEYS);
    s.table?;
    let errors_before = r.errors.len();
    let required = |r: &mut Reader<'_>, key: &str| {
        if !s.has(key) {
            r.invalid(&s.key(key), "is required when [trunk.provider] is present");
        }
    };
    required(r, "registrar");
    required(r, "username");
    let registrar = r.parsed(&s, "registrar", None, |t| parse_server(t).map(Some));
    let username = r.parsed(&s, "username", String::new(), user_name);
    let auth_username = r.parsed(&s, "auth_username", username.clone(), user_name);
    let password = match (s.has("password"), s.has("password_env")) {
        (true, true) => {
            r.invalid(&s.key("password"), "set password or password_env, not both");
            None
        }
        (true, false) => r.text(&s, "password"),
        (false, true) => {
            let variable = r.text(&s, "password_env").unwrap_or_default();
            let found = env
                .iter()
                .find(|(k, _)| *k == variable)
                .map(|(_, v)| v.clone());
            if found.is_none() {
                let reason = format!("the environment variable {variable:?} is not set");
                r.invalid(&s.key("password_env"), reason);
            }
            found
        }
        (false, false) => {
            r.invalid(
                &s.key("password"),
                "is required (or password_env naming a variable)",
            );
            None
        }
    };
    if password
        .as_deref()
        .is_some_and(|p| p.is_empty() || p.chars().any(char::is_control))
    {
        r.invalid(
            &s.key("password"),
            "must not be empty or contain control characters",
        );
    }
    let expires = r.integer(&s, "expires", 600, 60, 86_400);
    let outbound_proxy = r.parsed(&s, "outbound_proxy", None, |t| parse_server(t).map(Some));
    let options_interval = r.duration(
        &s,
        "options_interval",
        Duration::from_secs(30),
        Zero::Allowed,
    );
    let tls_ca = r
        .text(&s, "tls_ca")
        .filter(|t| !t.trim().is_empty())
        .map(|t| base.join(t.trim()));
    if let Some(path) = &tls_ca {
        if let Err(e) = std::fs::metadata(path) {
            r.invalid(&s.key("tls_ca"), format!("{}: {e}", path.display()));
        }
    }
    if r.errors.len() > errors_before {
        return None;
    }
    Some(ProviderConfig {
        registrar: registrar?,
        username,
        auth_username,
        password: ProviderPassword(password?),
        expires,
        outbound_proxy,
        options_interval,
        tls_ca,
    })
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod uri_tests {
    use super::*;

    #[test]
    fn server_uris_with_ports_transports_and_ipv6() {
        let s = parse_server("sip:sip.provider.example:5070;transport=tcp").unwrap();
        assert_eq!(
            (s.host.as_str(), s.port, s.transport),
            ("sip.provider.example", 5070, ProviderTransport::Tcp)
        );
        let s = parse_server("sips:sbc.example").unwrap();
        assert_eq!((s.port, s.transport), (5061, ProviderTransport::Tls));
        let s = parse_server("sip:[2001:db8::1]:5062").unwrap();
        assert_eq!((s.host.as_str(), s.port), ("2001:db8::1", 5062));
        assert_eq!(s.host_port(), "[2001:db8::1]:5062");
        let s = parse_server("sip:10.0.0.1").unwrap();
        assert_eq!((s.port, s.transport), (5060, ProviderTransport::Udp));
        for bad in [
            "http://x",
            "sip:",
            "sip:user@host",
            "sip:h:0",
            "sip:h:99999",
            "sip:h;transport=sctp",
            "sip:h x",
        ] {
            assert!(parse_server(bad).is_err(), "{bad}");
        }
    }
}
