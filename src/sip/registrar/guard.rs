//! Password-guessing protection by account and by source, for the operators' digest
//! authentication (RFC 3261 §26.3.2.4 asks for throttling) and the console's logins, which
//! use the same rules with their own policy.
//!
//! Why two counters: a lockout per source alone locks every operator behind one office
//! NAT out because of one softphone with a stale password, and never stops an attacker
//! who spreads guesses over many addresses. So failures are counted
//! - per account (any name, known or not, so a locked name does not reveal that it
//!   exists): past `slow_after` answers are slowed, at `lock_after` the account is locked
//!   for every address but its usual one (where it last authenticated). Failures from the
//!   usual address are counted apart and lock it there too at `lock_after`, so a guesser
//!   inside the same NAT is bounded as well;
//! - per source: at `source_lock_after` failures, or failures on `source_accounts`
//!   different names, the source is blocked for every account except those whose usual
//!   address it is (the operators of an office are not punished for its guesser).
//!
//! Each repeated lockout of the same account or source doubles, up to `max_lockout`; the
//! count of lockouts is forgotten once `max_lockout` passes without one.
//!
//! Invariants: no clock (time comes in as `Instant`s); memory is bounded: at most
//! [`MAX_ACCOUNTS`] names and [`MAX_SOURCES`] addresses are tracked (lapsed records are
//! purged first, then the least suspicious record that is not locked is dropped); each
//! source remembers at most [`MAX_NAMES`] names.

use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// The most account names remembered at once.
pub const MAX_ACCOUNTS: usize = 16_384;
/// The most source addresses remembered at once.
pub const MAX_SOURCES: usize = 16_384;
/// Names remembered per source (enough for any `source_accounts` worth setting).
const MAX_NAMES: usize = 64;
/// Longest name kept as a key: longer ones are cut, so a huge user name costs nothing.
const MAX_NAME_LEN: usize = 64;
/// Each failure beyond `slow_after` adds this much delay...
const DELAY_STEP: Duration = Duration::from_secs(1);
/// ...up to this much.
const MAX_DELAY: Duration = Duration::from_secs(5);

/// The rules; `0` for a count means "never".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuardPolicy {
    /// Failures within the window before answers are slowed.
    pub slow_after: u32,
    /// Failures of one account within the window before it is locked.
    pub lock_after: u32,
    /// Failures from one source within the window (any accounts) before it is blocked.
    pub source_lock_after: u32,
    /// Different names one source may fail on within the window before it is blocked.
    pub source_accounts: u32,
    /// The window failures are counted in, from the first failure.
    pub failure_window: Duration,
    /// The first lockout; each repeat doubles it.
    pub lockout: Duration,
    /// The longest lockout.
    pub max_lockout: Duration,
}

impl Default for GuardPolicy {
    fn default() -> GuardPolicy {
        GuardPolicy {
            slow_after: 3,
            lock_after: 10,
            source_lock_after: 30,
            source_accounts: 5,
            failure_window: Duration::from_secs(600),
            lockout: Duration::from_secs(600),
            max_lockout: Duration::from_secs(3600),
        }
    }
}

/// Whether an attempt may be checked at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Check the credentials.
    Allow,
    /// Refuse without checking; the lock lifts after `retry_after`.
    Refuse {
        /// What is locked.
        why: Locked,
        /// Until the lock lifts.
        retry_after: Duration,
    },
}

/// What a lock is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Locked {
    /// The account (for this address).
    Account,
    /// The source address.
    Source,
}

/// A lock a failure just set, for the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewLock {
    /// What was locked.
    pub what: Locked,
    /// The failures that led to it.
    pub failures: u32,
    /// For how long.
    pub duration: Duration,
}

/// Locks in force, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GuardCounts {
    /// Accounts locked (for other addresses, or everywhere).
    pub locked_accounts: usize,
    /// Sources blocked.
    pub blocked_sources: usize,
}

/// Failures counted from the first one of a window.
#[derive(Debug, Clone, Copy, Default)]
struct Window {
    count: u32,
    since: Option<Instant>,
}

impl Window {
    fn live(&self, now: Instant, policy: &GuardPolicy) -> u32 {
        match self.since {
            Some(since) if now.saturating_duration_since(since) <= policy.failure_window => {
                self.count
            }
            _ => 0,
        }
    }

    /// Counts one failure; `true` when it opened a new window.
    fn bump(&mut self, now: Instant, policy: &GuardPolicy) -> bool {
        let fresh = self.live(now, policy) == 0;
        if fresh {
            *self = Window {
                count: 0,
                since: Some(now),
            };
        }
        self.count = self.count.saturating_add(1);
        fresh
    }
}

/// Lockouts so far, for doubling.
#[derive(Debug, Clone, Copy, Default)]
struct Strikes {
    count: u32,
    last_end: Option<Instant>,
}

impl Strikes {
    /// Sets a new lock at `now`: its end.
    fn lock(&mut self, now: Instant, policy: &GuardPolicy) -> Instant {
        if self
            .last_end
            .is_some_and(|end| now.saturating_duration_since(end) > policy.max_lockout)
        {
            self.count = 0;
        }
        let factor = 1u32.checked_shl(self.count.min(16)).unwrap_or(u32::MAX);
        let duration = policy
            .lockout
            .saturating_mul(factor)
            .min(policy.max_lockout.max(policy.lockout));
        self.count = self.count.saturating_add(1);
        let end = now + duration;
        self.last_end = Some(end);
        end
    }

    fn remembered(&self, now: Instant, policy: &GuardPolicy) -> bool {
        self.last_end
            .is_some_and(|end| now.saturating_duration_since(end) <= policy.max_lockout)
    }
}

#[derive(Debug, Clone, Default)]
struct AccountRecord {
    /// Where the account last authenticated.
    usual: Option<IpAddr>,
    /// Failures from anywhere but the usual address.
    others: Window,
    /// Failures from the usual address.
    own: Window,
    /// Locked for every address but the usual one until then.
    locked_until: Option<Instant>,
    /// Locked for the usual address too until then.
    own_locked_until: Option<Instant>,
    strikes: Strikes,
}

impl AccountRecord {
    fn locked(&self, now: Instant) -> bool {
        self.locked_until.is_some_and(|t| now < t) || self.own_locked_until.is_some_and(|t| now < t)
    }

    fn lapsed(&self, now: Instant, policy: &GuardPolicy) -> bool {
        self.usual.is_none()
            && !self.locked(now)
            && self.others.live(now, policy) == 0
            && self.own.live(now, policy) == 0
            && !self.strikes.remembered(now, policy)
    }
}

#[derive(Debug, Clone, Default)]
struct SourceRecord {
    failures: Window,
    /// Hashes of the names failed on in the window.
    names: Vec<u64>,
    blocked_until: Option<Instant>,
    strikes: Strikes,
}

impl SourceRecord {
    fn blocked(&self, now: Instant) -> bool {
        self.blocked_until.is_some_and(|t| now < t)
    }

    fn lapsed(&self, now: Instant, policy: &GuardPolicy) -> bool {
        !self.blocked(now)
            && self.failures.live(now, policy) == 0
            && !self.strikes.remembered(now, policy)
    }
}

/// Failure counts per account and per source; see the module comment.
#[derive(Debug, Default)]
pub struct Guard {
    accounts: HashMap<String, AccountRecord>,
    sources: HashMap<IpAddr, SourceRecord>,
}

fn key(account: &str) -> &str {
    if account.len() <= MAX_NAME_LEN {
        return account;
    }
    let mut end = MAX_NAME_LEN;
    while !account.is_char_boundary(end) {
        end -= 1;
    }
    &account[..end]
}

fn name_hash(account: &str) -> u64 {
    let mut h = DefaultHasher::new();
    account.hash(&mut h);
    h.finish()
}

fn remaining(until: Option<Instant>, now: Instant) -> Option<Duration> {
    until
        .filter(|t| now < *t)
        .map(|t| t.saturating_duration_since(now))
}

impl Guard {
    /// Whether `account` may be tried from `source` at `now`.
    pub fn check(&self, account: &str, source: IpAddr, now: Instant) -> Verdict {
        let record = self.accounts.get(key(account));
        let refuse = |why, left: Duration| Verdict::Refuse {
            why,
            retry_after: left,
        };
        if let Some(r) = record.filter(|r| r.usual == Some(source)) {
            // The owner's own address: only its own failures can lock it here.
            return match remaining(r.own_locked_until, now) {
                Some(left) => refuse(Locked::Account, left),
                None => Verdict::Allow,
            };
        }
        if let Some(left) = remaining(self.sources.get(&source).and_then(|s| s.blocked_until), now)
        {
            return refuse(Locked::Source, left);
        }
        let account_left = record.and_then(|r| {
            let others = remaining(r.locked_until, now);
            let own = remaining(r.own_locked_until, now);
            others.max(own)
        });
        match account_left {
            Some(left) => refuse(Locked::Account, left),
            None => Verdict::Allow,
        }
    }

    /// Counts a failed attempt on `account` from `source`; the locks it set.
    pub fn fail(
        &mut self,
        account: &str,
        source: IpAddr,
        now: Instant,
        policy: &GuardPolicy,
    ) -> Vec<NewLock> {
        let mut locks = Vec::new();
        let name = key(account);
        if self.make_room_for_account(name, now, policy) {
            let r = self.accounts.entry(name.to_owned()).or_default();
            let own = r.usual == Some(source);
            let (window, until) = if own {
                (&mut r.own, &mut r.own_locked_until)
            } else {
                (&mut r.others, &mut r.locked_until)
            };
            window.bump(now, policy);
            let failures = window.count;
            if policy.lock_after > 0
                && failures >= policy.lock_after
                && remaining(*until, now).is_none()
            {
                let end = r.strikes.lock(now, policy);
                *(if own {
                    &mut r.own_locked_until
                } else {
                    &mut r.locked_until
                }) = Some(end);
                locks.push(NewLock {
                    what: Locked::Account,
                    failures,
                    duration: end - now,
                });
            }
        }
        if self.make_room_for_source(source, now, policy) {
            let s = self.sources.entry(source).or_default();
            if s.failures.bump(now, policy) {
                s.names.clear();
            }
            let h = name_hash(name);
            if !s.names.contains(&h) && s.names.len() < MAX_NAMES {
                s.names.push(h);
            }
            let failures = s.failures.count;
            let too_many = policy.source_lock_after > 0 && failures >= policy.source_lock_after;
            let too_wide =
                policy.source_accounts > 0 && s.names.len() >= policy.source_accounts as usize;
            if (too_many || too_wide) && !s.blocked(now) {
                let end = s.strikes.lock(now, policy);
                s.blocked_until = Some(end);
                locks.push(NewLock {
                    what: Locked::Source,
                    failures,
                    duration: end - now,
                });
            }
        }
        locks
    }

    /// `account` authenticated from `source`: that becomes its usual address, and the
    /// failures counted there are forgiven. Failures from elsewhere stay: an attack goes
    /// on whatever the owner does.
    pub fn succeed(&mut self, account: &str, source: IpAddr, now: Instant, policy: &GuardPolicy) {
        let name = key(account);
        if !self.make_room_for_account(name, now, policy) {
            return;
        }
        let r = self.accounts.entry(name.to_owned()).or_default();
        r.usual = Some(source);
        r.own = Window::default();
    }

    /// How long to hold the answer to an attempt on `account` from `source`: one step per
    /// failure of the account beyond `slow_after` (those from its usual address when it
    /// comes from there), capped. A source's failures do not slow it: that would slow every
    /// operator behind a NAT for one neighbour's typo; a source is blocked instead.
    pub fn delay(
        &self,
        account: &str,
        source: IpAddr,
        now: Instant,
        policy: &GuardPolicy,
    ) -> Option<Duration> {
        if policy.slow_after == 0 {
            return None;
        }
        let failures = self.accounts.get(key(account)).map_or(0, |r| {
            if r.usual == Some(source) {
                r.own.live(now, policy)
            } else {
                r.others.live(now, policy)
            }
        });
        let extra = failures.checked_sub(policy.slow_after)?;
        (extra > 0).then(|| DELAY_STEP.saturating_mul(extra).min(MAX_DELAY))
    }

    /// Drops records with nothing left to remember.
    pub fn purge(&mut self, now: Instant, policy: &GuardPolicy) {
        self.accounts.retain(|_, r| !r.lapsed(now, policy));
        self.sources.retain(|_, s| !s.lapsed(now, policy));
    }

    /// Locks in force at `now`.
    pub fn counts(&self, now: Instant) -> GuardCounts {
        GuardCounts {
            locked_accounts: self.accounts.values().filter(|r| r.locked(now)).count(),
            blocked_sources: self.sources.values().filter(|s| s.blocked(now)).count(),
        }
    }

    /// Whether `name` may get a record: it has one, or there is room (after purging and
    /// dropping the least suspicious unlocked record without a usual address).
    fn make_room_for_account(&mut self, name: &str, now: Instant, policy: &GuardPolicy) -> bool {
        if self.accounts.contains_key(name) || self.accounts.len() < MAX_ACCOUNTS {
            return true;
        }
        self.accounts.retain(|_, r| !r.lapsed(now, policy));
        if self.accounts.len() < MAX_ACCOUNTS {
            return true;
        }
        let victim = self
            .accounts
            .iter()
            .filter(|(_, r)| !r.locked(now) && r.usual.is_none())
            .min_by_key(|(_, r)| r.others.live(now, policy))
            .map(|(name, _)| name.clone());
        victim.is_some_and(|v| self.accounts.remove(&v).is_some())
    }

    fn make_room_for_source(&mut self, ip: IpAddr, now: Instant, policy: &GuardPolicy) -> bool {
        if self.sources.contains_key(&ip) || self.sources.len() < MAX_SOURCES {
            return true;
        }
        self.sources.retain(|_, s| !s.lapsed(now, policy));
        if self.sources.len() < MAX_SOURCES {
            return true;
        }
        let victim = self
            .sources
            .iter()
            .filter(|(_, s)| !s.blocked(now))
            .min_by_key(|(_, s)| s.failures.live(now, policy))
            .map(|(ip, _)| *ip);
        victim.is_some_and(|v| self.sources.remove(&v).is_some())
    }

    #[cfg(test)]
    pub(crate) fn tracked(&self) -> (usize, usize) {
        (self.accounts.len(), self.sources.len())
    }
}

#[cfg(test)]
#[path = "guard_tests.rs"]
mod tests;
