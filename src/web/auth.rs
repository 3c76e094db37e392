//! Who is asking: passwords (argon2id), session cookies and API tokens, roles, and the
//! failed-login limiter.
//!
//! Invariants:
//! - Secrets are compared only as hashes: a presented token is SHA-256'd and looked up by
//!   its digest (the stored digests are never compared byte by byte against input), and a
//!   password is checked by argon2's own constant-time verification. An unknown username
//!   still costs one verification (against a fixed dummy hash) so timing does not tell
//!   which names exist.
//! - A session is dead once idle for [`SESSION_IDLE`]; the check and the refresh are one
//!   statement in the store.
//! - [`LoginLimiter`] takes `now` as an argument (no clock inside), so it is tested with
//!   constructed instants.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::request::Parts;
use axum::http::HeaderMap;

use super::api::error::ApiError;
use super::credentials::token_digest;
use super::WebContext;
use crate::model::format_time;
use crate::store::{Principal, Role};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "hotline_session";
/// A session unused for this long is dead.
pub const SESSION_IDLE: Duration = Duration::from_secs(12 * 3600);
/// Failed logins allowed per source address and per username within [`LIMIT_WINDOW`].
pub const LIMIT_FAILURES: usize = 5;
/// The sliding window of the failed-login limit.
pub const LIMIT_WINDOW: Duration = Duration::from_secs(60);
/// Beyond this many tracked keys, stale ones are swept before a new one is added, so a
/// spray of addresses or names cannot grow the limiter without bound.
const LIMIT_MAX_KEYS: usize = 10_000;

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

/// Whether the browser reached us over TLS (through a proxy that says so); the cookie
/// is then marked `Secure`. We do not terminate TLS ourselves.
pub fn came_over_tls(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"))
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
    pub const QA: u8 = 0;
    pub const SUPERVISOR: u8 = 1;
    pub const ADMIN: u8 = 2;
}

fn role_level(role: Role) -> u8 {
    match role {
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

/// Failed logins per source address and per username, in a sliding window.
#[derive(Debug, Default)]
pub struct LoginLimiter {
    by_addr: HashMap<IpAddr, VecDeque<Instant>>,
    by_name: HashMap<String, VecDeque<Instant>>,
}

/// The limiter shared by the login handlers.
pub type SharedLimiter = Arc<Mutex<LoginLimiter>>;

fn prune(q: &mut VecDeque<Instant>, now: Instant) {
    while q
        .front()
        .is_some_and(|t| now.saturating_duration_since(*t) >= LIMIT_WINDOW)
    {
        q.pop_front();
    }
}

fn record<K: std::hash::Hash + Eq>(map: &mut HashMap<K, VecDeque<Instant>>, key: K, now: Instant) {
    if map.len() >= LIMIT_MAX_KEYS && !map.contains_key(&key) {
        map.retain(|_, q| {
            prune(q, now);
            !q.is_empty()
        });
    }
    map.entry(key).or_default().push_back(now);
}

fn full<K: std::hash::Hash + Eq>(
    map: &mut HashMap<K, VecDeque<Instant>>,
    key: &K,
    now: Instant,
) -> bool {
    map.get_mut(key).is_some_and(|q| {
        prune(q, now);
        q.len() >= LIMIT_FAILURES
    })
}

impl LoginLimiter {
    /// Whether a login from `addr` for `username` must be refused without checking.
    pub fn is_blocked(&mut self, addr: IpAddr, username: &str, now: Instant) -> bool {
        full(&mut self.by_addr, &addr, now) | full(&mut self.by_name, &username.to_owned(), now)
    }

    /// Counts one failed login.
    pub fn record_failure(&mut self, addr: IpAddr, username: &str, now: Instant) {
        record(&mut self.by_addr, addr, now);
        record(&mut self.by_name, username.to_owned(), now);
    }

    /// A successful login forgives the name's failures (not the address's: one address
    /// guessing many names stays limited).
    pub fn record_success(&mut self, username: &str) {
        self.by_name.remove(username);
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

    #[test]
    fn five_failures_block_the_address_and_the_name_for_a_minute() {
        let t0 = Instant::now();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        let mut l = LoginLimiter::default();
        for i in 0..LIMIT_FAILURES as u64 {
            assert!(!l.is_blocked(ip, "anna", t0 + Duration::from_secs(i)));
            l.record_failure(ip, "anna", t0 + Duration::from_secs(i));
        }
        let t1 = t0 + Duration::from_secs(10);
        assert!(l.is_blocked(ip, "boris", t1), "address limited");
        assert!(l.is_blocked(other, "anna", t1), "name limited");
        assert!(!l.is_blocked(other, "boris", t1));
        // The first failure leaves the window 60 s after it happened.
        assert!(!l.is_blocked(ip, "boris", t0 + Duration::from_secs(60)));
    }

    #[test]
    fn success_forgives_the_name_but_not_the_address() {
        let t0 = Instant::now();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let mut l = LoginLimiter::default();
        for _ in 0..LIMIT_FAILURES {
            l.record_failure(ip, "anna", t0);
        }
        l.record_success("anna");
        let other: IpAddr = "192.0.2.9".parse().unwrap();
        assert!(!l.is_blocked(other, "anna", t0));
        assert!(l.is_blocked(ip, "anna", t0));
    }
}
