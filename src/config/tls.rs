//! `sip.tls_listen`, `sip.tls_cert`, `sip.tls_key` (SIP over TLS, RFC 3261 §26) and
//! `sip.srtp` (whether a TLS leg may carry plain RTP).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use super::build::socket_addr;
use super::reader::{Reader, Section};

/// `[sip]`'s TLS listener and its certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsConfig {
    /// Where SIP over TLS listens.
    pub listen: SocketAddr,
    /// The certificate chain (PEM), relative paths from the config file's directory.
    pub cert: PathBuf,
    /// The private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// `sip.srtp`: what a leg that came over TLS may do with media.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SrtpPolicy {
    /// SRTP offered on TLS legs; a plain RTP/AVP offer from a TLS leg is still taken.
    #[default]
    Optional,
    /// A TLS leg must use SRTP: a plain RTP/AVP offer from it is refused with 488.
    Mandatory,
}

/// Reads the TLS keys of `[sip]`: `None` when `tls_listen` is absent (no TLS).
pub(super) fn sip_tls(
    r: &mut Reader<'_>,
    s: &Section<'_>,
    base: &Path,
) -> (Option<TlsConfig>, SrtpPolicy) {
    let srtp = r.parsed(s, "srtp", SrtpPolicy::default(), |text| match text {
        "optional" => Ok(SrtpPolicy::Optional),
        "mandatory" => Ok(SrtpPolicy::Mandatory),
        _ => Err(format!(
            "{text:?} is not a policy (\"optional\" or \"mandatory\")"
        )),
    });
    // An empty value is the same as an absent one (the default file lists every key).
    let listen = r.parsed(s, "tls_listen", None, |t| match t.trim() {
        "" => Ok(None),
        t => socket_addr(t).map(Some),
    });
    let path = |r: &mut Reader<'_>, key: &str| -> Option<PathBuf> {
        let text = r.text(s, key)?;
        (!text.trim().is_empty()).then(|| base.join(text.trim()))
    };
    let cert = path(r, "tls_cert");
    let key = path(r, "tls_key");
    let Some(listen) = listen else {
        return (None, srtp);
    };
    for (name, value) in [("tls_cert", &cert), ("tls_key", &key)] {
        if value.is_none() {
            r.invalid(&s.key(name), "required when sip.tls_listen is set");
        }
    }
    match (cert, key) {
        (Some(cert), Some(key)) => (Some(TlsConfig { listen, cert, key }), srtp),
        _ => (None, srtp),
    }
}
