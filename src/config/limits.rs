//! `[limits]` and the TCP bounds of `[sip]`: how much the line takes before it says no.
//! The defaults stop the floods measured against an unlimited build (an INVITE flood of
//! ~450 calls/s, 3,000 idle TCP connections from one address) while staying far above
//! what the site's trunk and softphones ever send.

use std::time::Duration;

use toml::Table;

use super::reader::{Reader, Section, Zero};
use super::schema::keys_of;
use crate::sip::rate::{Rate, RateLimits};

/// `[limits]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LimitsConfig {
    /// Calls in progress in any state (after hours, queued, talking, ending); an INVITE
    /// beyond it gets 503 with Retry-After and a `rejected` row.
    pub max_calls: u32,
    /// Callers waiting in the queue; a caller beyond it hears the overflow message.
    pub max_waiting: u32,
    /// The Retry-After of a 503 for `max_calls`.
    pub retry_after: Duration,
    /// Per-source request rates (INVITE from non-trunk and trunk sources, REGISTER, OPTIONS).
    pub rates: RateLimits,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_calls: 200,
            max_waiting: 50,
            retry_after: Duration::from_secs(10),
            rates: RateLimits {
                invite: Rate {
                    per_second: 2,
                    burst: 10,
                },
                trunk_invite: Rate {
                    per_second: 50,
                    burst: 100,
                },
                register: Rate {
                    per_second: 5,
                    burst: 50,
                },
                options: Rate {
                    per_second: 5,
                    burst: 20,
                },
            },
        }
    }
}

/// The TCP bounds read from `[sip]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpLimits {
    /// Connections one remote address may hold open at once; more are closed at accept.
    pub max_per_address: u32,
    /// A connection that has carried no SIP message yet is closed after this long.
    pub idle_timeout: Duration,
}

impl Default for TcpLimits {
    fn default() -> Self {
        TcpLimits {
            max_per_address: 32,
            idle_timeout: Duration::from_secs(30),
        }
    }
}

/// Reads `sip.tcp_max_per_address` and `sip.tcp_idle_timeout` from the `[sip]` section.
pub(super) fn sip_tcp(r: &mut Reader<'_>, s: &Section<'_>) -> TcpLimits {
    let d = TcpLimits::default();
    TcpLimits {
        max_per_address: r.integer(s, "tcp_max_per_address", d.max_per_address, 1, 65_535),
        idle_timeout: r.duration(s, "tcp_idle_timeout", d.idle_timeout, Zero::Refused),
    }
}

pub(super) fn limits(r: &mut Reader<'_>, root: &Table) -> LimitsConfig {
    let known = keys_of("limits").expect("the schema lists [limits]");
    let s = r.section(root, "limits", &known);
    let d = LimitsConfig::default();
    let rate = |r: &mut Reader<'_>, key: &str, default: Rate| {
        let per_second = r.integer(&s, &format!("{key}_rate"), default.per_second, 0, 100_000);
        let burst = r.integer(&s, &format!("{key}_burst"), default.burst, 1, 1_000_000);
        Rate { per_second, burst }
    };
    let rates = RateLimits {
        invite: rate(r, "invite", d.rates.invite),
        trunk_invite: rate(r, "trunk_invite", d.rates.trunk_invite),
        register: rate(r, "register", d.rates.register),
        options: rate(r, "options", d.rates.options),
    };
    LimitsConfig {
        max_calls: r.integer(&s, "max_calls", d.max_calls, 1, 100_000),
        max_waiting: r.integer(&s, "max_waiting", d.max_waiting, 1, 100_000),
        retry_after: r.duration(&s, "retry_after", d.retry_after, Zero::Refused),
        rates,
    }
}

#[cfg(test)]
mod tests;
