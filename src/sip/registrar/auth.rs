//! Digest authentication of operators' requests: RFC 3261 §22.2 and §22.4 (UAS
//! authentication with 401 / WWW-Authenticate), RFC 7616 §3.3 (stale nonces), RFC 8760
//! §2.4 (one challenge per algorithm, in `policy.algorithms` order). Which algorithms are
//! offered is a site decision (`sip.digest_algorithms`, MD5 alone by default): a SHA-256
//! challenge makes some deployed softphones fail outright (baresip 1.0 answers the 401
//! with "Function not implemented"), and SIPp reads only the first challenge. Both
//! algorithms are always *verified*.
//!
//! Order of checks, and why:
//! 1. no usable credentials for our realm → plain challenge, not a failure (every
//!    client's first REGISTER looks like this, and it risks nothing: no password is
//!    tried);
//! 2. a locked account or a blocked source ([`super::guard`]) gets 403 before any hashing
//!    (cheap under attack);
//! 3. unknown user or wrong response → challenge *and* a failure, the same answer for
//!    both so user names cannot be probed;
//! 4. right response, but a nonce that is stale, unknown (issued before a restart) or
//!    replayed → `stale=true`, not a failure: the client knows the password;
//! 5. only then is the nonce count recorded, so a forged request cannot burn a client's
//!    nonce counts.

use std::net::IpAddr;
use std::time::Instant;

use crate::sip::digest::{self, Algorithm, Credentials};
use crate::sip::message::{self, Header, Request, Response};

use super::guard::{Locked, Verdict};
use super::Registrar;

/// Why a request was not authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum AuthRefusal {
    /// Answer 401 with a challenge per algorithm, in order.
    Challenge {
        stale: bool,
        algorithms: Vec<Algorithm>,
    },
    /// Answer 403: the account or the source is locked out.
    LockedOut,
}

impl Registrar {
    /// A challenge with the algorithms the site offers.
    fn challenge(&self, stale: bool) -> AuthRefusal {
        AuthRefusal::Challenge {
            stale,
            algorithms: self.policy.algorithms.clone(),
        }
    }
}

impl Registrar {
    /// The authenticated account id, or why not.
    pub(super) fn check_credentials(
        &mut self,
        req: &Request,
        ip: IpAddr,
        now: Instant,
    ) -> Result<String, AuthRefusal> {
        let Some(creds) = self.credentials(req) else {
            return Err(self.challenge(false));
        };
        if let Verdict::Refuse { why, retry_after } = self.guard.check(&creds.username, ip, now) {
            self.stats.locked_out += 1;
            tracing::debug!(
                source = %ip, user = %creds.username, ?why, retry_after_secs = retry_after.as_secs(),
                "attempt refused: locked out"
            );
            return Err(AuthRefusal::LockedOut);
        }
        let method = req.method.to_string();
        let Some(entry) = self.accounts.get(&creds.username) else {
            // The same hashing as for a real account, so timing does not tell either.
            let dummy = "0".repeat(creds.algorithm.hex_len());
            let _ = digest::verify(&dummy, &method, &creds);
            self.fail(&creds.username, ip, now, "unknown user");
            return Err(self.challenge(false));
        };
        let Some((_, ha1)) = entry.ha1.iter().find(|(alg, _)| *alg == creds.algorithm) else {
            // A stored HA1 verifies one algorithm only: ask again for that one.
            return Err(AuthRefusal::Challenge {
                stale: false,
                algorithms: entry.ha1.iter().map(|(alg, _)| *alg).collect(),
            });
        };
        if !digest::verify(ha1, &method, &creds) {
            self.fail(&creds.username, ip, now, "wrong digest response");
            return Err(self.challenge(false));
        }
        let operator = entry.account.id.clone();
        let nc = creds.nc.as_ref().map(|nc| nc.value);
        if let Err(err) = self.nonces.accept(&creds.nonce, nc, now) {
            self.stats.stale += 1;
            tracing::debug!(operator = %operator, error = %err, "right password, unusable nonce");
            return Err(self.challenge(true));
        }
        self.guard
            .succeed(&creds.username, ip, now, &self.policy.guard);
        Ok(operator)
    }

    /// The first Digest `Authorization` for our realm that parses. Credentials for other
    /// realms (a client that also talks to a proxy) are not ours to judge.
    pub(super) fn credentials(&self, req: &Request) -> Option<Credentials> {
        req.headers.iter().find_map(|h| match h {
            Header::Authorization(value) => match digest::parse_authorization(value.value()) {
                Ok(creds) if creds.realm == self.policy.realm => Some(creds),
                Ok(creds) => {
                    tracing::debug!(realm = %creds.realm, "credentials for another realm");
                    None
                }
                Err(err) => {
                    tracing::debug!(error = %err, "unusable Authorization header");
                    None
                }
            },
            _ => None,
        })
    }

    fn fail(&mut self, user: &str, ip: IpAddr, now: Instant, why: &'static str) {
        self.stats.failures += 1;
        tracing::debug!(source = %ip, user, why, "authentication failure");
        for lock in self.guard.fail(user, ip, now, &self.policy.guard) {
            match lock.what {
                Locked::Account => tracing::warn!(
                    user, source = %ip, failures = lock.failures,
                    lockout_secs = lock.duration.as_secs(),
                    "too many authentication failures: account locked except from its usual address"
                ),
                Locked::Source => tracing::warn!(
                    source = %ip, failures = lock.failures,
                    lockout_secs = lock.duration.as_secs(),
                    "too many authentication failures: source blocked"
                ),
            }
        }
    }

    /// The 401 or 403 for a refusal; 401s carry a fresh nonce.
    pub(super) fn auth_response(
        &mut self,
        req: &Request,
        refusal: AuthRefusal,
        now: Instant,
    ) -> Response {
        match refusal {
            AuthRefusal::LockedOut => self.reply(req, 403),
            AuthRefusal::Challenge { stale, algorithms } => {
                let mut response = self.reply(req, 401);
                let nonce = self.nonces.issue(now);
                for algorithm in algorithms {
                    let value = digest::challenge(
                        &self.policy.realm,
                        &nonce,
                        self.nonces.opaque(),
                        algorithm,
                        stale,
                    );
                    message::push_header(&mut response, "WWW-Authenticate", &value).expect(
                        "challenges are single-line: quoted values drop control characters",
                    );
                }
                response
            }
        }
    }
}
