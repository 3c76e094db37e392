//! The operators' registrar: RFC 3261 §10.3 (processing REGISTER), §22 with RFC 7616 /
//! RFC 8760 digest authentication (see [`crate::sip::digest`]), RFC 5626 `+sip.instance`
//! kept for information.
//!
//! Run loop: the engine hands every REGISTER to [`Registrar::handle_register`] and sends
//! the returned response after `delay` (the tarpit for an account whose password is being
//! guessed); it calls [`Registrar::handle_timeout`] at [`Registrar::poll_timeout`] to
//! expire bindings.
//! Operators' other requests (their feature-code INVITEs) go through
//! [`Registrar::authenticate`]. [`BindingEvent`]s tell the switchboard who came online,
//! went offline or moved to another device.
//!
//! Invariants:
//! - at most ONE binding per operator: a REGISTER from another device replaces the old
//!   binding (`Moved`), so an operator is never rung on two phones;
//! - every binding's account exists (removing an account drops its binding);
//! - password guessing is limited by account and by source ([`guard`]): a locked
//!   account or a blocked source gets 403 without its credentials being checked, except
//!   an account from its usual address (where it last registered), which only its own
//!   failures there can lock;
//! - an unknown user name is answered exactly like a wrong password (401), so user names
//!   cannot be enumerated (one exception: an account whose stored HA1 is MD5-only is
//!   re-challenged with MD5 alone when a client answered with SHA-256);
//! - no clock, no IO: time comes in as `Instant`s; nothing here panics on network input.

use std::collections::HashMap;
use std::fmt;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::SeedableRng;

use crate::sip::digest::{Algorithm, NonceManager};
use crate::sip::message::{self, MessageError, Method, Request, Response, SpelledNameAddr, Uri};
use crate::sip::Peer;

mod auth;
mod bindings;
pub mod guard;

#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_auth;

use auth::AuthRefusal;
use guard::{Guard, GuardCounts, GuardPolicy};

/// An operator who may register.
#[derive(Clone, PartialEq, Eq)]
pub struct Account {
    /// The user name: the digest `username` and the AoR user (`sip:101@…`).
    pub id: String,
    /// Display name.
    pub name: String,
    /// How the account authenticates.
    pub secret: AccountSecret,
}

/// An account's credential. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub enum AccountSecret {
    /// A plain password: both algorithms can be verified.
    Password(String),
    /// A stored `H(id:realm:password)`: only its own algorithm can be verified.
    Ha1 {
        /// The algorithm the HA1 was computed with.
        algorithm: Algorithm,
        /// The HA1 as hex.
        hex: String,
    },
}

impl fmt::Debug for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Account")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("secret", &self.secret)
            .finish()
    }
}

impl fmt::Debug for AccountSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AccountSecret::Password(_) => f.write_str("Password(<redacted>)"),
            AccountSecret::Ha1 { algorithm, .. } => {
                write!(f, "Ha1({}, <redacted>)", algorithm.as_str())
            }
        }
    }
}

/// The registrar's rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrarPolicy {
    /// Digest realm (`[sip] realm`).
    pub realm: String,
    /// Algorithms offered in challenges, in order (`[sip] digest_algorithms`); both MD5
    /// and SHA-256 answers are verified whatever is offered.
    pub algorithms: Vec<Algorithm>,
    /// Shorter requested expiries are refused with 423 (RFC 3261 §10.3 step 7).
    pub min_expires: u32,
    /// Longer requested expiries are shortened to this.
    pub max_expires: u32,
    /// Used when a REGISTER states no expiry.
    pub default_expires: u32,
    /// How long a nonce is fresh; older ones get `stale=true`.
    pub nonce_lifetime: Duration,
    /// Password-guessing protection by account and by source (`[sip] auth_*`).
    pub guard: GuardPolicy,
}

impl RegistrarPolicy {
    /// The default rules for `realm`.
    pub fn with_realm(realm: impl Into<String>) -> RegistrarPolicy {
        RegistrarPolicy {
            realm: realm.into(),
            ..RegistrarPolicy::default()
        }
    }
}

impl Default for RegistrarPolicy {
    fn default() -> RegistrarPolicy {
        RegistrarPolicy {
            realm: "hotline".to_string(),
            algorithms: vec![Algorithm::Md5],
            min_expires: 60,
            max_expires: 3600,
            default_expires: 3600,
            nonce_lifetime: Duration::from_secs(300),
            guard: GuardPolicy::default(),
        }
    }
}

/// Where an operator can be reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// The account id.
    pub operator: String,
    /// The Contact URI as registered (parsed: compare and route with this).
    pub contact: Uri,
    /// The Contact value as the device spelled it, less its `expires`: what the 200s to
    /// REGISTER list back (RFC 3261 §10.3 step 8).
    pub contact_value: SpelledNameAddr,
    /// The flow the REGISTER came on: where to send INVITEs when the Contact host is
    /// private or unroutable (a softphone behind NAT).
    pub peer: Peer,
    /// When the binding lapses unless refreshed.
    pub expires_at: Instant,
    /// The device's `+sip.instance` (RFC 5626 §4.1), without the quotes.
    pub instance: Option<String>,
    /// Call-ID of the REGISTER that made or last refreshed the binding.
    pub call_id: String,
    /// Its CSeq number.
    pub cseq: u32,
}

/// Why an operator went offline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OfflineReason {
    /// The softphone removed its binding (Expires 0 or `Contact: *`).
    Unregistered,
    /// The binding was not refreshed in time.
    Expired,
    /// The account was removed from the configuration.
    AccountRemoved,
}

/// What changed in the bindings.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum BindingEvent {
    /// The operator has a binding now and had none before.
    Online {
        /// The account id.
        operator: String,
    },
    /// The operator's binding is gone.
    Offline {
        /// The account id.
        operator: String,
        /// Why.
        reason: OfflineReason,
    },
    /// The operator's binding now points at another contact or flow: calls ringing the
    /// old device should be moved or cancelled.
    Moved {
        /// The account id.
        operator: String,
    },
}

/// The answer to a REGISTER.
#[derive(Debug, Clone)]
pub struct RegisterOutcome {
    /// The response to send.
    pub response: Response,
    /// Send it only after this long (a source that keeps failing is slowed down).
    pub delay: Option<Duration>,
    /// What changed.
    pub events: Vec<BindingEvent>,
}

/// Counters since start, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RegistrarStats {
    /// Bindings now.
    pub bindings: usize,
    /// REGISTERs answered 200.
    pub registrations: u64,
    /// Authentication failures (wrong response or unknown user).
    pub failures: u64,
    /// Right password with a stale, unknown or replayed nonce (answered `stale=true`).
    pub stale: u64,
    /// Requests refused because their account or source is locked out.
    pub locked_out: u64,
    /// Accounts locked now.
    pub locked_accounts: usize,
    /// Source addresses blocked now.
    pub blocked_sources: usize,
    /// Responses delayed by the tarpit.
    pub tarpitted: u64,
}

/// Why a REGISTER from an authenticated operator was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegisterError {
    /// A header the registrar needs is missing or malformed.
    #[error(transparent)]
    Message(#[from] MessageError),
    /// The To header is not the AoR of the authenticated user.
    #[error("{user} may not register {aor:?}")]
    ForeignAor {
        /// The authenticated account.
        user: String,
        /// The To user, if any.
        aor: Option<String>,
    },
    /// A Contact value does not parse.
    #[error("invalid Contact {0:?}")]
    InvalidContact(String),
    /// An Expires header or `expires` parameter is not a number.
    #[error("invalid expires value {0:?}")]
    InvalidExpires(String),
    /// `Contact: *` with other contacts or without `Expires: 0` (RFC 3261 §10.3 step 6).
    #[error("Contact * needs Expires: 0 and no other Contact")]
    WildcardMisuse,
    /// The requested expiry is shorter than our minimum (answered 423).
    #[error("expiry {requested} s is shorter than the minimum {min} s")]
    IntervalTooBrief {
        /// What the client asked for.
        requested: u64,
        /// Our minimum.
        min: u32,
    },
    /// Same Call-ID as the binding with a CSeq that is not higher (RFC 3261 §10.3 step 7).
    #[error("CSeq {cseq} is not above {last} for this Call-ID")]
    OutOfOrder {
        /// CSeq of the refused REGISTER.
        cseq: u32,
        /// CSeq of the binding.
        last: u32,
    },
}

impl RegisterError {
    /// The status code this refusal is answered with.
    pub fn status(&self) -> u16 {
        match self {
            RegisterError::ForeignAor { .. } => 403,
            RegisterError::IntervalTooBrief { .. } => 423,
            RegisterError::OutOfOrder { .. } => 500,
            RegisterError::Message(_)
            | RegisterError::InvalidContact(_)
            | RegisterError::InvalidExpires(_)
            | RegisterError::WildcardMisuse => 400,
        }
    }
}

/// An account with its HA1s precomputed, so passwords are hashed once per reload.
#[derive(Clone)]
struct Entry {
    account: Account,
    ha1: Vec<(Algorithm, String)>,
}

impl fmt::Debug for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let algorithms: Vec<&str> = self.ha1.iter().map(|(alg, _)| alg.as_str()).collect();
        f.debug_struct("Entry")
            .field("account", &self.account)
            .field("ha1", &algorithms)
            .finish()
    }
}

/// Operator bindings with digest authentication; see the module comment.
#[derive(Debug)]
pub struct Registrar {
    policy: RegistrarPolicy,
    accounts: HashMap<String, Entry>,
    bindings: HashMap<String, Binding>,
    nonces: NonceManager,
    guard: Guard,
    /// The guard's locks as of the last input (stats take no time argument).
    locks: GuardCounts,
    rng: StdRng,
    stats: RegistrarStats,
}

impl Registrar {
    /// A registrar with no bindings. `seed` keys the nonces (pass a random one), `now`
    /// is their epoch.
    pub fn new(
        policy: RegistrarPolicy,
        accounts: Vec<Account>,
        seed: u64,
        now: Instant,
    ) -> Registrar {
        let nonces = NonceManager::new(seed, now, policy.nonce_lifetime);
        let mut registrar = Registrar {
            accounts: HashMap::new(),
            bindings: HashMap::new(),
            nonces,
            guard: Guard::default(),
            locks: GuardCounts::default(),
            rng: StdRng::seed_from_u64(seed.rotate_left(32) ^ 0x5eed_7a65),
            stats: RegistrarStats::default(),
            policy,
        };
        registrar.set_accounts(accounts, now);
        registrar
    }

    /// The rules in force.
    pub fn policy(&self) -> &RegistrarPolicy {
        &self.policy
    }

    /// Processes a REGISTER that arrived from `source` (RFC 3261 §10.3).
    pub fn handle_register(
        &mut self,
        req: &Request,
        source: Peer,
        now: Instant,
    ) -> RegisterOutcome {
        let mut events = self.handle_timeout(now);
        if req.method != Method::Register {
            let mut response = self.reply(req, 405);
            message::push_header(&mut response, "Allow", "REGISTER").expect("a constant header");
            return RegisterOutcome {
                response,
                delay: None,
                events,
            };
        }
        let ip = source.addr.ip();
        // The name tried, for the tarpit: a request without credentials is never held.
        let attempt = self.credentials(req).map(|c| c.username);
        let (response, tarpit) = match self.check_credentials(req, ip, now) {
            Ok(operator) => {
                let response = match self.apply_register(req, &operator, source, now, &mut events) {
                    Ok(response) => {
                        self.stats.registrations += 1;
                        response
                    }
                    Err(err) => self.refusal(req, &err),
                };
                (response, true)
            }
            // A locked-out source is refused at once: holding its answers gains nothing.
            Err(AuthRefusal::LockedOut) => {
                (self.auth_response(req, AuthRefusal::LockedOut, now), false)
            }
            Err(refusal) => (self.auth_response(req, refusal, now), true),
        };
        let delay = match (tarpit, &attempt) {
            (true, Some(user)) => self.guard.delay(user, ip, now, &self.policy.guard),
            _ => None,
        };
        self.locks = self.guard.counts(now);
        if delay.is_some() {
            self.stats.tarpitted += 1;
        }
        RegisterOutcome {
            response,
            delay,
            events,
        }
    }

    /// Authenticates another request from an operator (their feature-code INVITEs):
    /// the operator's id, or the 401 (challenge) or 403 (locked out) to send.
    pub fn authenticate(
        &mut self,
        req: &Request,
        source: Peer,
        now: Instant,
    ) -> Result<String, Response> {
        let result = self.check_credentials(req, source.addr.ip(), now);
        self.locks = self.guard.counts(now);
        result.map_err(|refusal| self.auth_response(req, refusal, now))
    }

    /// Removes the bindings that lapsed by `now`.
    pub fn handle_timeout(&mut self, now: Instant) -> Vec<BindingEvent> {
        let mut expired: Vec<String> = self
            .bindings
            .values()
            .filter(|b| b.expires_at <= now)
            .map(|b| b.operator.clone())
            .collect();
        expired.sort();
        for operator in &expired {
            self.bindings.remove(operator);
            tracing::info!(operator = %operator, "registration expired");
        }
        self.nonces.purge(now);
        self.guard.purge(now, &self.policy.guard);
        self.locks = self.guard.counts(now);
        expired
            .into_iter()
            .map(|operator| BindingEvent::Offline {
                operator,
                reason: OfflineReason::Expired,
            })
            .collect()
    }

    /// When the next binding lapses.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.bindings.values().map(|b| b.expires_at).min()
    }

    /// The operator's binding, if registered (a lapsed one stays until `handle_timeout`).
    pub fn binding(&self, operator: &str) -> Option<&Binding> {
        self.bindings.get(operator)
    }

    /// Every binding, in no particular order.
    pub fn bindings(&self) -> impl Iterator<Item = &Binding> {
        self.bindings.values()
    }

    /// Replaces the accounts (configuration reload). Operators whose account is gone
    /// lose their binding; the others keep theirs until their next refresh, which is
    /// authenticated against the new secret.
    pub fn set_accounts(&mut self, accounts: Vec<Account>, _now: Instant) -> Vec<BindingEvent> {
        let realm = self.policy.realm.clone();
        self.accounts = accounts
            .into_iter()
            .map(|account| {
                let ha1 = match &account.secret {
                    AccountSecret::Password(p) => [Algorithm::Sha256, Algorithm::Md5]
                        .into_iter()
                        .map(|alg| (alg, crate::sip::digest::ha1(alg, &account.id, &realm, p)))
                        .collect(),
                    AccountSecret::Ha1 { algorithm, hex } => {
                        vec![(*algorithm, hex.to_ascii_lowercase())]
                    }
                };
                (account.id.clone(), Entry { account, ha1 })
            })
            .collect();
        let mut removed: Vec<String> = self
            .bindings
            .keys()
            .filter(|id| !self.accounts.contains_key(*id))
            .cloned()
            .collect();
        removed.sort();
        removed
            .into_iter()
            .map(|operator| {
                self.bindings.remove(&operator);
                tracing::info!(operator = %operator, "account removed: binding dropped");
                BindingEvent::Offline {
                    operator,
                    reason: OfflineReason::AccountRemoved,
                }
            })
            .collect()
    }

    /// The account with this id.
    pub fn account(&self, id: &str) -> Option<&Account> {
        self.accounts.get(id).map(|e| &e.account)
    }

    /// Counters for metrics.
    pub fn stats(&self) -> RegistrarStats {
        RegistrarStats {
            bindings: self.bindings.len(),
            locked_accounts: self.locks.locked_accounts,
            blocked_sources: self.locks.blocked_sources,
            ..self.stats
        }
    }

    /// A response with a fresh To tag (RFC 3261 §8.2.6.2).
    fn reply(&mut self, req: &Request, status: u16) -> Response {
        let tag = message::new_tag(&mut self.rng);
        message::response_to(req, status, Some(&tag))
    }

    fn refusal(&mut self, req: &Request, err: &RegisterError) -> Response {
        tracing::debug!(error = %err, "REGISTER refused");
        let mut response = self.reply(req, err.status());
        if let RegisterError::IntervalTooBrief { min, .. } = err {
            let _ = message::push_header(&mut response, "Min-Expires", &min.to_string());
        }
        if err.status() == 400 {
            message::set_reason(&mut response, &err.to_string());
        }
        response
    }
}
