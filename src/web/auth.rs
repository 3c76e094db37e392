//! Who is asking: passwords (argon2id), session cookies and API tokens, roles, the
//! client's address behind a trusted proxy, and the failed-login guard.
//!
//! Invariants:
//! - Secrets are compared only as hashes: a presented token is SHA-256'd and looked up by
//!   its digest (the stored digests are never compared byte by byte against input), and a
//!   password is checked by argon2's own constant-time verification. An unknown username
//!   still costs one verification (against a fixed dummy hash) so timing does not tell
//!   which names exist.
//! - A session is dead once idle for [`SESSION_IDLE`]; the check and the refresh are one
//!   statement in the store.
//! - [`LoginGuard`] takes `now` as an argument (no clock inside); its rules are the
//!   registrar's ([`crate::sip::registrar::guard`]), tested there in simulated time.
//! - `X-Forwarded-*` headers count only from `[http] trusted_proxies`: anyone else could
//!   claim any address and walk around the login limits.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::request::Parts;
use axum::http::HeaderMap;

use super::api::error::ApiError;
use super::credentials::token_digest;
use super::WebContext;
use crate::config::HttpConfig;
use crate::model::format_time;
use crate::sip::registrar::guard::{Guard, GuardCounts, GuardPolicy, Verdict};
use crate::store::{Principal, Role};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "hotline_session";
/// A session unused for this long is dead.
pub const SESSION_IDLE: Duration = Duration::from_secs(12 * 3600);
/// The session token from the `Cookie` headers, if any.
pub fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value)
        .filter(|v| !v.is_empty())
}

/// The token of an `Authorization: Bearer` header, if any.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// Whether `peer` is a proxy whose `X-Forwarded-*` headers we believe.
fn trusted(http: &HttpConfig, peer: Option<SocketAddr>) -> bool {
    peer.is_some_and(|p| http.trusts(p.ip()))
}

/// Whether the browser reached us over TLS, so the session cookie must be `Secure`: the
/// configured public origin says https, or a trusted proxy says so. We do not terminate
/// TLS ourselves; an untrusted client's word is not taken (a direct plain-HTTP client
/// would otherwise get a cookie it never sends back, and a proxy that forgets the header
/// is covered by `public_origin`).
pub fn came_over_tls(http: &HttpConfig, peer: Option<SocketAddr>, headers: &HeaderMap) -> bool {
    if let Some(origin) = &http.public_origin {
        return origin.starts_with("https://");
    }
    trusted(http, peer)
        && headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"))
}

/// The client's address: the connection's peer, or behind a trusted proxy the address it
/// appended last to `X-Forwarded-For` (entries before it are the client's own claims).
pub fn client_ip(
    http: &HttpConfig,
    peer: Option<SocketAddr>,
    headers: &HeaderMap,
) -> Option<IpAddr> {
    let peer_ip = peer.map(|p| p.ip());
    if !trusted(http, peer) {
        return peer_ip;
    }
    headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|a| a.trim().parse::<IpAddr>().ok())
        .next_back()
        .or(peer_ip)
}

/// `Set-Cookie` for a new session.
pub fn session_set_cookie(token: &str, secure: bool) -> String {
    format!(
        "{SESSION_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{}",
        SESSION_IDLE.as_secs(),
        if secure { "; Secure" } else { "" }
    )
}

/// `Set-Cookie` that makes the browser forget the session.
pub fn session_clear_cookie(secure: bool) -> String {
    format!(
        "{SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0{}",
        if secure { "; Secure" } else { "" }
    )
}

/// The idle cutoff for `now`: sessions last used before it are dead.
pub fn idle_cutoff(now: jiff::Timestamp) -> String {
    let idle = jiff::SignedDuration::try_from(SESSION_IDLE).expect("12 h fits");
    format_time(now.checked_sub(idle).unwrap_or(jiff::Timestamp::MIN))
}

/// Resolves the request's credentials: a bearer token first, else the session cookie.
pub async fn principal(ctx: &WebContext, headers: &HeaderMap) -> Result<Principal, ApiError> {
    if let Some(token) = bearer(headers) {
        return ctx
            .store
            .token_principal(&token_digest(token))
            .await?
            .ok_or(ApiError::Unauthorized);
    }
    let token = session_cookie(headers).ok_or(ApiError::Unauthorized)?;
    let now = jiff::Timestamp::now();
    ctx.store
        .touch_session(&token_digest(token), &format_time(now), &idle_cutoff(now))
        .await?
        .ok_or(ApiError::Unauthorized)
}

/// Role levels usable as const parameters of [`Auth`].
pub mod level {
    pub const OPERATOR: u8 = 0;
    pub const QA: u8 = 1;
    pub const SUPERVISOR: u8 = 2;
    pub const ADMIN: u8 = 3;
}

fn role_level(role: Role) -> u8 {
    match role {
        Role::Operator => level::OPERATOR,
        Role::Qa => level::QA,
        Role::Supervisor => level::SUPERVISOR,
        Role::Admin => level::ADMIN,
    }
}

/// An authenticated caller with at least the role of `MIN` (see [`level`]). As an
/// extractor it answers 401 without valid credentials and 403 with too low a role,
/// before any other parameter of the request is looked at.
pub struct Auth<const MIN: u8>(pub Principal);

impl<const MIN: u8> FromRequestParts<WebContext> for Auth<MIN> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, ctx: &WebContext) -> Result<Self, ApiError> {
        let who = principal(ctx, &parts.headers).await?;
        if role_level(who.role) < MIN {
            return Err(ApiError::Forbidden);
        }
        Ok(Auth(who))
    }
}

/// Failed console logins per user name and per address, under `[http] login_*`.
#[derive(Debug)]
pub struct LoginGuard {
    guard: Guard,
    policy: GuardPolicy,
}

/// The guard shared by the login handlers and `/metrics`.
pub type SharedGuard = Arc<Mutex<LoginGuard>>;

impl LoginGuard {
    pub fn new(policy: GuardPolicy) -> LoginGuard {
        LoginGuard {
            guard: Guard::default(),
            policy,
        }
    }

    /// `Err(retry_after)` when a login for `username` from `addr` must be refused
    /// without checking the password.
    pub fn check(&mut self, addr: IpAddr, username: &str, now: Instant) -> Result<(), Duration> {
        self.guard.purge(now, &self.policy);
        match self.guard.check(username, addr, now) {
            Verdict::Allow => Ok(()),
            Verdict::Refuse { why, retry_after } => {
                tracing::debug!(%addr, username, ?why, "console login refused: locked out");
                Err(retry_after)
            }
        }
    }

    /// Counts one failed login; how long to hold its answer.
    pub fn record_failure(
        &mut self,
        addr: IpAddr,
        username: &str,
        now: Instant,
    ) -> Option<Duration> {
        for lock in self.guard.fail(username, addr, now, &self.policy) {
            tracing::warn!(
                %addr, username, what = ?lock.what, failures = lock.failures,
                lockout_secs = lock.duration.as_secs(),
                "too many failed console logins: locked out"
            );
        }
        self.guard.delay(username, addr, now, &self.policy)
    }

    /// A successful login: `addr` becomes the name's usual address.
    pub fn record_success(&mut self, addr: IpAddr, username: &str, now: Instant) {
        self.guard.succeed(username, addr, now, &self.policy);
    }

    /// Locks in force, for metrics.
    pub fn counts(&self, now: Instant) -> GuardCounts {
        self.guard.counts(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut h = HeaderMap::new();
        h.append(
            COOKIE,
            HeaderValue::from_static("a=1; hotline_session=tok; b=2"),
        );
        assert_eq!(session_cookie(&h), Some("tok"));
        let mut h = HeaderMap::new();
        h.append(COOKIE, HeaderValue::from_static("xhotline_session=no"));
        assert_eq!(session_cookie(&h), None);
    }

    #[test]
    fn bearer_scheme_is_case_insensitive_and_needs_a_token() {
        let mut h = HeaderMap::new();
        h.insert(AUTHORIZATION, HeaderValue::from_static("bearer abc"));
        assert_eq!(bearer(&h), Some("abc"));
        h.insert(AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(bearer(&h), None);
        h.insert(AUTHORIZATION, HeaderValue::from_static("Bearer "));
        assert_eq!(bearer(&h), None);
    }

    #[test]
    fn cookies_carry_the_required_flags() {
        let c = session_set_cookie("t", false);
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Strict") && c.contains("Path=/"));
        assert!(!c.contains("Secure"));
        assert!(session_set_cookie("t", true).ends_with("; Secure"));
        assert!(session_clear_cookie(false).contains("Max-Age=0"));
    }

    fn http(trusted: &str) -> HttpConfig {
        let mut c = crate::config::Config::from_toml(
            &format!("[http]\ntrusted_proxies = [\"{trusted}\"]\n"),
            std::path::Path::new("test.toml"),
            &[],
        )
        .expect("valid")
        .http;
        c.public_origin = None;
        c
    }

    #[test]
    fn forwarded_headers_count_only_from_trusted_proxies() {
        let c = http("10.0.0.1/32");
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            HeaderValue::from_static("6.6.6.6, 192.0.2.7"),
        );
        h.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        let proxy: SocketAddr = "10.0.0.1:40000".parse().unwrap();
        let direct: SocketAddr = "198.51.100.1:40000".parse().unwrap();
        assert_eq!(client_ip(&c, Some(proxy), &h), "192.0.2.7".parse().ok());
        assert!(came_over_tls(&c, Some(proxy), &h));
        assert_eq!(client_ip(&c, Some(direct), &h), Some(direct.ip()));
        assert!(!came_over_tls(&c, Some(direct), &h));
        let mut c = c;
        c.public_origin = Some("https://hotline.example.org".into());
        assert!(came_over_tls(&c, Some(direct), &HeaderMap::new()));
    }
}
