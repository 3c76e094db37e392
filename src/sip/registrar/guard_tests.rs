//! The guard in simulated time: the office behind one NAT, attacks spread over many
//! addresses and names, doubling lockouts, bounded memory.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use super::*;

fn ip(last: u32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(0xc000_0200 + last))
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn refused(v: Verdict) -> Option<(Locked, u64)> {
    match v {
        Verdict::Allow => None,
        Verdict::Refuse { why, retry_after } => Some((why, retry_after.as_secs())),
    }
}

#[test]
fn one_wrong_softphone_locks_its_account_only() {
    let t0 = Instant::now();
    let policy = GuardPolicy::default();
    let mut g = Guard::default();
    let office = ip(1);
    for op in ["101", "102", "103"] {
        g.succeed(op, office, t0, &policy);
    }
    // 102's phone keeps an old password and retries every 20 s.
    let mut locked_at = None;
    for i in 0..30 {
        let t = t0 + secs(20 * i);
        if g.check("102", office, t) != Verdict::Allow {
            locked_at.get_or_insert(i);
            continue;
        }
        g.fail("102", office, t, &policy);
    }
    assert_eq!(locked_at, Some(10), "locked at its 10th failure");
    let t = t0 + secs(600);
    assert_eq!(
        refused(g.check("102", office, t)).map(|r| r.0),
        Some(Locked::Account)
    );
    // Everyone else in the office goes on.
    for op in ["101", "103"] {
        assert_eq!(g.check(op, office, t), Verdict::Allow, "{op}");
    }
    assert_eq!(
        g.counts(t),
        GuardCounts {
            locked_accounts: 1,
            blocked_sources: 0
        }
    );
}

#[test]
fn the_owner_still_gets_in_from_its_usual_address_during_an_attack() {
    let t0 = Instant::now();
    let policy = GuardPolicy::default();
    let mut g = Guard::default();
    let home = ip(1);
    g.succeed("101", home, t0, &policy);
    // 15 addresses, 9 guesses each, on 101.
    let mut tried = 0;
    for a in 0..15 {
        for _ in 0..9 {
            let t = t0 + secs(1);
            if g.check("101", ip(100 + a), t) == Verdict::Allow {
                tried += 1;
                g.fail("101", ip(100 + a), t, &policy);
            }
        }
    }
    assert_eq!(
        tried, 10,
        "the account stops the attack after lock_after guesses"
    );
    let t = t0 + secs(2);
    assert_eq!(
        refused(g.check("101", ip(200), t)),
        Some((Locked::Account, 599))
    );
    assert_eq!(g.check("101", home, t), Verdict::Allow);
    assert_eq!(
        g.delay("101", home, t, &policy),
        None,
        "the owner is not slowed"
    );
    g.succeed("101", home, t, &policy);
    assert_eq!(
        refused(g.check("101", ip(100), t)).map(|r| r.0),
        Some(Locked::Account)
    );
}

#[test]
fn a_source_failing_across_names_is_blocked_but_not_for_its_own_accounts() {
    let t0 = Instant::now();
    let policy = GuardPolicy::default();
    let mut g = Guard::default();
    let nat = ip(1);
    g.succeed("101", nat, t0, &policy);
    // Unknown names count against the source like real ones.
    for (i, name) in ["admin", "root", "100", "102", "sip"].iter().enumerate() {
        assert_eq!(g.check(name, nat, t0 + secs(i as u64)), Verdict::Allow);
        g.fail(name, nat, t0 + secs(i as u64), &policy);
    }
    let t = t0 + secs(10);
    assert_eq!(refused(g.check("103", nat, t)), Some((Locked::Source, 594)));
    assert_eq!(
        g.check("101", nat, t),
        Verdict::Allow,
        "101 lives behind it"
    );
    assert_eq!(g.counts(t).blocked_sources, 1);
    assert_eq!(g.check("103", nat, t0 + secs(4 + 600)), Verdict::Allow);
}

#[test]
fn many_failures_on_one_name_block_the_source_too() {
    let t0 = Instant::now();
    let policy = GuardPolicy {
        lock_after: 0,
        ..GuardPolicy::default()
    };
    let mut g = Guard::default();
    for i in 0..30 {
        g.fail("101", ip(9), t0 + secs(i), &policy);
    }
    assert_eq!(
        refused(g.check("102", ip(9), t0 + secs(30))).map(|r| r.0),
        Some(Locked::Source)
    );
}

#[test]
fn failures_from_the_usual_address_lock_it_there_too() {
    let t0 = Instant::now();
    let policy = GuardPolicy::default();
    let mut g = Guard::default();
    g.succeed("101", ip(1), t0, &policy);
    for _ in 0..10 {
        g.fail("101", ip(1), t0, &policy);
    }
    assert_eq!(
        refused(g.check("101", ip(1), t0)),
        Some((Locked::Account, 600))
    );
    assert_eq!(
        refused(g.check("101", ip(2), t0)),
        Some((Locked::Account, 600))
    );
}

#[test]
fn repeated_lockouts_double_up_to_the_cap_and_are_forgotten() {
    let t0 = Instant::now();
    let policy = GuardPolicy::default();
    let mut g = Guard::default();
    let mut t = t0;
    let mut lengths = Vec::new();
    for _ in 0..4 {
        let mut lock = Vec::new();
        while lock.is_empty() {
            assert_eq!(g.check("101", ip(7), t), Verdict::Allow);
            lock = g.fail("101", ip(7), t, &policy);
        }
        lengths.push(lock[0].duration.as_secs());
        t += lock[0].duration;
    }
    assert_eq!(lengths, [600, 1200, 2400, 3600]);
    // An hour and more without a lockout: the next one is short again.
    t += secs(3601);
    let mut lock = Vec::new();
    while lock.is_empty() {
        lock = g.fail("101", ip(7), t, &policy);
    }
    assert_eq!(lock[0].duration.as_secs(), 600);
}

#[test]
fn answers_are_slowed_past_slow_after_and_not_at_all_with_zero() {
    let t0 = Instant::now();
    let mut g = Guard::default();
    let policy = GuardPolicy::default();
    let mut delays = Vec::new();
    for _ in 0..8 {
        g.fail("101", ip(3), t0, &policy);
        delays.push(g.delay("101", ip(3), t0, &policy).map(|d| d.as_secs()));
    }
    assert_eq!(
        delays,
        [
            None,
            None,
            None,
            Some(1),
            Some(2),
            Some(3),
            Some(4),
            Some(5)
        ]
    );
    let never = GuardPolicy {
        slow_after: 0,
        ..policy.clone()
    };
    assert_eq!(g.delay("101", ip(3), t0, &never), None);
    // The window forgets.
    assert_eq!(g.delay("101", ip(3), t0 + secs(601), &policy), None);
}

#[test]
fn memory_is_bounded_and_locks_survive_eviction() {
    let t0 = Instant::now();
    let policy = GuardPolicy {
        lock_after: 2,
        source_lock_after: 2,
        ..GuardPolicy::default()
    };
    let mut g = Guard::default();
    g.fail("101", ip(1), t0, &policy);
    g.fail("101", ip(1), t0, &policy);
    for i in 0..MAX_SOURCES.max(MAX_ACCOUNTS) as u32 + 10 {
        let source = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i));
        g.fail(&format!("spray{i}"), source, t0, &policy);
    }
    let (accounts, sources) = g.tracked();
    assert!(
        accounts <= MAX_ACCOUNTS && sources <= MAX_SOURCES,
        "{accounts} {sources}"
    );
    assert_eq!(
        refused(g.check("101", ip(2), t0 + secs(1))).map(|r| r.0),
        Some(Locked::Account)
    );
    assert_eq!(
        refused(g.check("x", ip(1), t0 + secs(1))).map(|r| r.0),
        Some(Locked::Source)
    );
    g.purge(t0 + secs(5000), &policy);
    assert_eq!(g.tracked(), (0, 0));
}

#[test]
fn huge_names_are_cut() {
    let t0 = Instant::now();
    let policy = GuardPolicy::default();
    let mut g = Guard::default();
    let long = "ж".repeat(1000);
    g.fail(&long, ip(1), t0, &policy);
    assert_eq!(g.tracked(), (1, 1));
    assert!(g.accounts.keys().all(|k| k.len() <= MAX_NAME_LEN));
}

/// Guesses that reach a password check in `secs` seconds, one attempt a second, the
/// `i`-th attempt on `name(i)` from `source(i)`.
fn guesses_in(secs: u64, name: impl Fn(u64) -> String, source: impl Fn(u64) -> IpAddr) -> usize {
    let t0 = Instant::now();
    let policy = GuardPolicy::default();
    let mut g = Guard::default();
    let mut checked = 0;
    for i in 0..secs {
        let t = t0 + secs_of(i);
        if g.check(&name(i), source(i), t) == Verdict::Allow {
            checked += 1;
            g.fail(&name(i), source(i), t, &policy);
        }
    }
    checked
}

fn secs_of(s: u64) -> Duration {
    Duration::from_secs(s)
}

#[test]
fn guesses_per_hour_with_the_default_policy() {
    const HOUR: u64 = 3600;
    // One account, a new address for every guess (a botnet): 10 guesses, then 10 more
    // after each lockout of 10, 20, 40 minutes.
    let per_account = guesses_in(
        HOUR,
        |_| "101".into(),
        |i| IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i as u32)),
    );
    assert_eq!(per_account, 30);
    // The next hours: 10 an hour.
    let two_hours = guesses_in(
        2 * HOUR,
        |_| "101".into(),
        |i| IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i as u32)),
    );
    assert_eq!(two_hours - per_account, 10);
    // One address, a new name for every guess: 5 at a time, three times in the hour.
    let per_source = guesses_in(HOUR, |i| format!("user{i}"), |_| ip(9));
    assert_eq!(per_source, 15);
    // One address, one name: the account's limit.
    let one_on_one = guesses_in(HOUR, |_| "101".into(), |_| ip(9));
    assert_eq!(one_on_one, 30);
}
