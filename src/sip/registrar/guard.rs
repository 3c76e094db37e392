//! Brute-force protection per source IP: a tarpit after `slow_after` failures and a
//! lockout after `lock_after` failures within `failure_window` (counted from the first
//! failure of the window). RFC 3261 §26.3.2.4 asks for exactly this kind of throttling.
//!
//! Invariants: at most [`MAX_SOURCES`] addresses are tracked (purged of lapsed records
//! first, then the least suspicious unlocked one is dropped); a success forgets the
//! address; a lapsed lockout forgets it too, so it starts again from zero.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::RegistrarPolicy;

/// The most source addresses remembered at once.
pub(super) const MAX_SOURCES: usize = 16_384;
/// Each failure beyond `slow_after` adds this much delay...
const DELAY_STEP: Duration = Duration::from_secs(1);
/// ...up to this much.
const MAX_DELAY: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
struct Record {
    failures: u32,
    since: Instant,
    locked_until: Option<Instant>,
}

/// Failure counts per source IP.
#[derive(Debug, Default)]
pub(super) struct Guard {
    sources: HashMap<IpAddr, Record>,
}

impl Guard {
    /// Whether `ip` is locked out at `now` (a lapsed lockout is forgotten here).
    pub(super) fn is_locked(&mut self, ip: IpAddr, now: Instant) -> bool {
        let Some(until) = self.sources.get(&ip).and_then(|r| r.locked_until) else {
            return false;
        };
        if now < until {
            return true;
        }
        self.sources.remove(&ip);
        false
    }

    /// Counts a failure from `ip`; returns the failure count when this one locked the
    /// source out (`lock_after` 0 never locks).
    pub(super) fn fail(
        &mut self,
        ip: IpAddr,
        now: Instant,
        policy: &RegistrarPolicy,
    ) -> Option<u32> {
        if !self.sources.contains_key(&ip) && self.sources.len() >= MAX_SOURCES {
            self.purge(now, policy);
            if self.sources.len() >= MAX_SOURCES {
                let victim = self
                    .sources
                    .iter()
                    .filter(|(_, r)| r.locked_until.is_none())
                    .min_by_key(|(_, r)| r.failures)
                    .map(|(ip, _)| *ip);
                match victim {
                    Some(victim) => {
                        self.sources.remove(&victim);
                    }
                    None => return None,
                }
            }
        }
        let record = self.sources.entry(ip).or_insert(Record {
            failures: 0,
            since: now,
            locked_until: None,
        });
        if now.saturating_duration_since(record.since) > policy.failure_window {
            *record = Record {
                failures: 0,
                since: now,
                locked_until: None,
            };
        }
        record.failures = record.failures.saturating_add(1);
        let lock = policy.lock_after > 0
            && record.failures >= policy.lock_after
            && record.locked_until.is_none();
        if lock {
            record.locked_until = Some(now + policy.lockout);
            return Some(record.failures);
        }
        None
    }

    /// Forgets `ip`'s failures after a successful authentication.
    pub(super) fn succeed(&mut self, ip: IpAddr) {
        self.sources.remove(&ip);
    }

    /// How long to hold a response to `ip`: one step per failure beyond `slow_after`
    /// within the window, capped.
    pub(super) fn delay(
        &self,
        ip: IpAddr,
        now: Instant,
        policy: &RegistrarPolicy,
    ) -> Option<Duration> {
        let record = self.sources.get(&ip)?;
        if now.saturating_duration_since(record.since) > policy.failure_window {
            return None;
        }
        let extra = record.failures.checked_sub(policy.slow_after)?;
        (extra > 0).then(|| DELAY_STEP.saturating_mul(extra).min(MAX_DELAY))
    }

    /// Drops records whose window and lockout have both lapsed.
    pub(super) fn purge(&mut self, now: Instant, policy: &RegistrarPolicy) {
        self.sources.retain(|_, r| match r.locked_until {
            Some(until) => now < until,
            None => now.saturating_duration_since(r.since) <= policy.failure_window,
        });
    }

    #[cfg(test)]
    pub(super) fn tracked(&self) -> usize {
        self.sources.len()
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    #[test]
    fn memory_is_bounded_and_locked_sources_survive_eviction() {
        let t0 = Instant::now();
        let policy = RegistrarPolicy {
            lock_after: 2,
            ..RegistrarPolicy::default()
        };
        let mut guard = Guard::default();
        let locked = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
        guard.fail(locked, t0, &policy);
        assert_eq!(guard.fail(locked, t0, &policy), Some(2));
        for i in 0..MAX_SOURCES as u32 {
            let ip = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i));
            guard.fail(ip, t0, &policy);
        }
        assert_eq!(guard.tracked(), MAX_SOURCES);
        assert!(guard.is_locked(locked, t0 + Duration::from_secs(1)));
    }

    #[test]
    fn zero_lock_after_never_locks() {
        let t0 = Instant::now();
        let policy = RegistrarPolicy {
            lock_after: 0,
            ..RegistrarPolicy::default()
        };
        let mut guard = Guard::default();
        let ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
        for _ in 0..100 {
            assert_eq!(guard.fail(ip, t0, &policy), None);
        }
        assert!(!guard.is_locked(ip, t0));
        assert_eq!(guard.delay(ip, t0, &policy), Some(MAX_DELAY));
    }
}
