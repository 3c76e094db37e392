//! Per-source rate limits on requests that cost us work before anyone is authenticated:
//! new INVITEs, REGISTERs and OPTIONS, one token bucket per source address and kind.
//!
//! A bucket holds up to `burst` tokens and gains `per_second` of them a second; a request
//! takes one token or is refused. Time comes in as an `Instant`: nothing here reads a clock.
//!
//! The table of buckets is itself bounded, because a UDP flood can forge any number of
//! source addresses: a bucket that has refilled to `burst` is the same as no bucket, so
//! full buckets are swept out when the table reaches [`SourceLimiter::MAX_SOURCES`]. If it
//! is still full after the sweep, a new source is refused until some bucket refills: under
//! a forged flood that wide, strangers wait, and sources already known keep their tokens.
//!
//! Trunk sources (the carrier's proxies) are told apart by a predicate given by the owner:
//! one trunk address carries every caller of the carrier, so it gets its own INVITE rate
//! (an SBC's per-peer "calls per second"), not the rate meant for one softphone.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// One limit: a sustained rate and the burst allowed above it. `per_second == 0` turns
/// the limit off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub per_second: u32,
    pub burst: u32,
}

impl Rate {
    pub const OFF: Rate = Rate {
        per_second: 0,
        burst: 0,
    };

    pub fn is_off(self) -> bool {
        self.per_second == 0
    }
}

/// What is limited, each kind with buckets of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RequestKind {
    /// An INVITE outside any dialog from a source not on the trunk.
    Invite,
    /// An INVITE outside any dialog from a trunk source.
    TrunkInvite,
    Register,
    Options,
}

impl RequestKind {
    pub const ALL: [RequestKind; 4] = [
        RequestKind::Invite,
        RequestKind::TrunkInvite,
        RequestKind::Register,
        RequestKind::Options,
    ];

    /// The limit's name in metrics (the configuration key of its rate).
    pub fn as_str(self) -> &'static str {
        match self {
            RequestKind::Invite => "invite_rate",
            RequestKind::TrunkInvite => "trunk_invite_rate",
            RequestKind::Register => "register_rate",
            RequestKind::Options => "options_rate",
        }
    }
}

/// The rates of every kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    pub invite: Rate,
    pub trunk_invite: Rate,
    pub register: Rate,
    pub options: Rate,
}

impl RateLimits {
    /// No limits at all (tests of other things, benches).
    pub const OFF: RateLimits = RateLimits {
        invite: Rate::OFF,
        trunk_invite: Rate::OFF,
        register: Rate::OFF,
        options: Rate::OFF,
    };

    fn of(&self, kind: RequestKind) -> Rate {
        match kind {
            RequestKind::Invite => self.invite,
            RequestKind::TrunkInvite => self.trunk_invite,
            RequestKind::Register => self.register,
            RequestKind::Options => self.options,
        }
    }
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits::OFF
    }
}

/// A request over its source's rate: when the next one would be taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited {
    pub kind: RequestKind,
    /// Whole seconds until a token is back (at least 1): the `Retry-After` to send.
    pub retry_after_s: u32,
}

/// A token bucket in thousandths of a token, so that slow rates refill smoothly without
/// floating point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenBucket {
    milli: u64,
    at: Instant,
}

impl TokenBucket {
    const ONE: u64 = 1000;

    /// A full bucket.
    pub fn new(rate: Rate, now: Instant) -> TokenBucket {
        TokenBucket {
            milli: Self::cap(rate),
            at: now,
        }
    }

    fn cap(rate: Rate) -> u64 {
        u64::from(rate.burst.max(1)) * Self::ONE
    }

    fn refill(&mut self, rate: Rate, now: Instant) {
        let elapsed = now.saturating_duration_since(self.at);
        // Milliseconds × tokens a second = thousandths of a token.
        let gained = (elapsed.as_millis() as u64).saturating_mul(u64::from(rate.per_second));
        self.milli = self.milli.saturating_add(gained).min(Self::cap(rate));
        // Time left over that did not make a whole thousandth is lost at most 1 ms a call.
        self.at = self.at.max(now);
    }

    /// Take one token, or say how long until there is one.
    pub fn take(&mut self, rate: Rate, now: Instant) -> Result<(), Duration> {
        self.refill(rate, now);
        if self.milli >= Self::ONE {
            self.milli -= Self::ONE;
            return Ok(());
        }
        let missing = Self::ONE - self.milli;
        let per_ms = u64::from(rate.per_second.max(1));
        Err(Duration::from_millis(missing.div_ceil(per_ms)))
    }

    /// Whether the bucket would be full now (then forgetting it changes nothing).
    pub fn is_full(&self, rate: Rate, now: Instant) -> bool {
        let mut probe = *self;
        probe.refill(rate, now);
        probe.milli >= Self::cap(rate)
    }
}

/// Buckets per (kind, source address), bounded.
#[derive(Debug, Clone)]
pub struct SourceLimiter {
    limits: RateLimits,
    buckets: HashMap<(RequestKind, IpAddr), TokenBucket>,
    max_sources: usize,
}

impl SourceLimiter {
    /// Enough for every softphone and trunk of a call centre many times over; a few
    /// hundred kilobytes at most.
    pub const MAX_SOURCES: usize = 8192;

    pub fn new(limits: RateLimits) -> SourceLimiter {
        SourceLimiter::with_capacity(limits, Self::MAX_SOURCES)
    }

    pub fn with_capacity(limits: RateLimits, max_sources: usize) -> SourceLimiter {
        SourceLimiter {
            limits,
            buckets: HashMap::new(),
            max_sources: max_sources.max(1),
        }
    }

    /// New rates (configuration reload); buckets already there keep their tokens.
    pub fn set_limits(&mut self, limits: RateLimits) {
        self.limits = limits;
    }

    pub fn limits(&self) -> RateLimits {
        self.limits
    }

    /// Take a token for a request of `kind` from `source`.
    pub fn check(
        &mut self,
        kind: RequestKind,
        source: IpAddr,
        now: Instant,
    ) -> Result<(), Limited> {
        let rate = self.limits.of(kind);
        if rate.is_off() {
            return Ok(());
        }
        let key = (kind, canonical(source));
        if !self.buckets.contains_key(&key) && self.buckets.len() >= self.max_sources {
            self.sweep(now);
            if self.buckets.len() >= self.max_sources {
                return Err(Limited {
                    kind,
                    retry_after_s: 1,
                });
            }
        }
        let bucket = self
            .buckets
            .entry(key)
            .or_insert_with(|| TokenBucket::new(rate, now));
        bucket.take(rate, now).map_err(|wait| Limited {
            kind,
            retry_after_s: seconds_up(wait),
        })
    }

    /// Forget buckets that have refilled; give the memory back once the table is small
    /// again (a flood must not leave its high-water mark behind).
    pub fn sweep(&mut self, now: Instant) {
        let limits = self.limits;
        self.buckets
            .retain(|(kind, _), bucket| !bucket.is_full(limits.of(*kind), now));
        if self.buckets.capacity() > 4 * self.buckets.len().max(16) {
            self.buckets.shrink_to_fit();
        }
    }

    /// Buckets kept.
    pub fn len(&self) -> usize {
        self.buckets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }
}

/// An IPv4-mapped IPv6 source is the IPv4 host it maps (one host, one bucket).
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn seconds_up(d: Duration) -> u32 {
    let s = d.as_millis().div_ceil(1000).max(1);
    u32::try_from(s).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests;
