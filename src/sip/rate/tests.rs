//! The buckets in simulated time: bursts, refill, Retry-After, independence of sources
//! and kinds, and the bound on the table under a forged flood.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use super::*;

fn ip(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(192, 0, 2, last))
}

fn limits(per_second: u32, burst: u32) -> RateLimits {
    let rate = Rate { per_second, burst };
    RateLimits {
        invite: rate,
        trunk_invite: Rate::OFF,
        register: rate,
        options: rate,
    }
}

#[test]
fn a_burst_is_taken_then_the_next_request_waits_for_a_token() {
    let t0 = Instant::now();
    let mut l = SourceLimiter::new(limits(2, 5));
    for _ in 0..5 {
        assert_eq!(l.check(RequestKind::Invite, ip(1), t0), Ok(()));
    }
    let refused = l.check(RequestKind::Invite, ip(1), t0).unwrap_err();
    assert_eq!(refused.kind, RequestKind::Invite);
    // Two tokens a second: the next one is 500 ms away, rounded up to a whole second.
    assert_eq!(refused.retry_after_s, 1);
    assert!(l
        .check(RequestKind::Invite, ip(1), t0 + Duration::from_millis(499))
        .is_err());
    assert_eq!(
        l.check(RequestKind::Invite, ip(1), t0 + Duration::from_millis(500)),
        Ok(())
    );
}

#[test]
fn the_sustained_rate_is_the_configured_one() {
    let t0 = Instant::now();
    let mut l = SourceLimiter::new(limits(10, 1));
    let mut taken = 0;
    // 100 requests a second for 10 s against 10/s with a burst of 1.
    for ms in (0..10_000).step_by(10) {
        if l.check(RequestKind::Register, ip(1), t0 + Duration::from_millis(ms))
            .is_ok()
        {
            taken += 1;
        }
    }
    assert!((99..=101).contains(&taken), "{taken}");
}

#[test]
fn slow_rates_say_how_long_to_wait() {
    let t0 = Instant::now();
    let mut l = SourceLimiter::new(RateLimits {
        register: Rate {
            per_second: 1,
            burst: 1,
        },
        ..RateLimits::OFF
    });
    assert!(l.check(RequestKind::Register, ip(1), t0).is_ok());
    let refused = l
        .check(
            RequestKind::Register,
            ip(1),
            t0 + Duration::from_millis(100),
        )
        .unwrap_err();
    assert_eq!(refused.retry_after_s, 1);
}

#[test]
fn sources_and_kinds_have_buckets_of_their_own() {
    let t0 = Instant::now();
    let mut l = SourceLimiter::new(limits(1, 1));
    assert!(l.check(RequestKind::Invite, ip(1), t0).is_ok());
    assert!(l.check(RequestKind::Invite, ip(1), t0).is_err());
    assert!(l.check(RequestKind::Invite, ip(2), t0).is_ok());
    assert!(l.check(RequestKind::Options, ip(1), t0).is_ok());
    assert!(l.check(RequestKind::Register, ip(1), t0).is_ok());
}

#[test]
fn a_limit_that_is_off_takes_everything_and_keeps_nothing() {
    let t0 = Instant::now();
    let mut l = SourceLimiter::new(RateLimits::OFF);
    for _ in 0..10_000 {
        assert!(l.check(RequestKind::TrunkInvite, ip(1), t0).is_ok());
    }
    assert!(l.is_empty());
}

#[test]
fn an_ipv4_mapped_source_shares_the_ipv4_bucket() {
    let t0 = Instant::now();
    let mut l = SourceLimiter::new(limits(1, 1));
    let mapped = IpAddr::V6(Ipv4Addr::new(192, 0, 2, 1).to_ipv6_mapped());
    assert!(l.check(RequestKind::Invite, ip(1), t0).is_ok());
    assert!(l.check(RequestKind::Invite, mapped, t0).is_err());
    assert!(l
        .check(RequestKind::Invite, IpAddr::V6(Ipv6Addr::LOCALHOST), t0)
        .is_ok());
}

#[test]
fn a_forged_flood_cannot_grow_the_table_past_its_bound() {
    let t0 = Instant::now();
    let mut l = SourceLimiter::with_capacity(limits(1, 2), 100);
    for i in 0..1000u32 {
        let src = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i));
        let _ = l.check(RequestKind::Options, src, t0);
    }
    assert_eq!(l.len(), 100);
    // The first hundred were each charged a token and are not full: strangers wait.
    let stranger = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 9));
    assert!(l.check(RequestKind::Options, stranger, t0).is_err());
    // Once they have refilled, they are swept out and the stranger gets in.
    let later = t0 + Duration::from_secs(2);
    assert!(l.check(RequestKind::Options, stranger, later).is_ok());
    assert_eq!(l.len(), 1);
}

#[test]
fn sweeping_after_a_flood_forgets_refilled_buckets() {
    let t0 = Instant::now();
    let mut l = SourceLimiter::new(limits(5, 5));
    for i in 0..5000u32 {
        let src = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i));
        let _ = l.check(RequestKind::Invite, src, t0);
    }
    assert_eq!(l.len(), 5000);
    l.sweep(t0 + Duration::from_millis(100));
    assert_eq!(l.len(), 5000, "still refilling");
    l.sweep(t0 + Duration::from_secs(1));
    assert!(l.is_empty());
}
