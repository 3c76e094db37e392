//! Scenario tests of skills routing in simulated time: a caller who chose a topic is
//! offered operators with that skill first, for up to `skill_wait`, then anyone.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::tests::{config, drain, online_with, ring, s, serve, wire};
use super::*;

/// Operators 101 (no skills, registered first so idle the longest) and 102 (billing).
fn desk(skill_wait: Duration, t0: Instant) -> Acd {
    let quiet = AcdConfig {
        announce_every: Duration::ZERO,
        wrap_up: Duration::ZERO,
        skill_wait,
        ..config()
    };
    let mut acd = online_with(quiet, &["101", "102"], t0);
    acd.set_skills(
        HashMap::from([("102".to_owned(), vec!["billing".to_owned()])]),
        t0,
    );
    drain(&mut acd);
    acd
}

#[test]
fn a_skilled_operator_is_rung_though_an_unskilled_one_is_idle_longer() {
    let t0 = Instant::now();
    let mut acd = desk(s(60), t0);
    acd.handle_caller_arrived_for(CallRef(1), Some("billing"), t0 + s(1));
    assert_eq!(wire(&mut acd), [ring(1, "102")]);
    // A caller without a topic takes the longest-idle operator as before.
    acd.handle_caller_arrived(CallRef(2), t0 + s(2));
    assert_eq!(wire(&mut acd), [ring(2, "101")]);
}

#[test]
fn the_caller_waits_for_the_busy_skilled_operator_then_takes_anyone_at_the_expiry() {
    let t0 = Instant::now();
    let mut acd = desk(s(60), t0);
    // 102 is busy with a first billing caller.
    acd.handle_caller_arrived_for(CallRef(1), Some("billing"), t0);
    assert_eq!(wire(&mut acd), [ring(1, "102")]);
    assert!(acd.handle_ring_answered(CallRef(1), "102", t0 + s(1)));
    // The second billing caller is not offered the free, unskilled 101 ...
    acd.handle_caller_arrived_for(CallRef(2), Some("billing"), t0 + s(2));
    assert_eq!(wire(&mut acd), []);
    // ... until the skill wait is over: the queue asks to be woken exactly then.
    let expiry = t0 + s(62);
    assert_eq!(acd.poll_timeout(), Some(expiry));
    acd.handle_timeout(expiry - Duration::from_millis(1));
    assert_eq!(wire(&mut acd), []);
    acd.handle_timeout(expiry);
    assert_eq!(wire(&mut acd), [ring(2, "101")]);
    assert!(
        acd.poll_timeout().is_none_or(|t| t > expiry),
        "no deadline left at or before now"
    );
}

#[test]
fn a_skilled_operator_freed_within_the_wait_takes_the_caller() {
    let t0 = Instant::now();
    let mut acd = desk(s(60), t0);
    acd.handle_caller_arrived_for(CallRef(1), Some("billing"), t0);
    assert_eq!(wire(&mut acd), [ring(1, "102")]);
    acd.handle_caller_arrived_for(CallRef(2), Some("billing"), t0 + s(1));
    assert_eq!(wire(&mut acd), []);
    // 102's conversation ends 20 s later (no wrap-up): the waiting billing caller is theirs.
    serve(&mut acd, 1, "102", t0 + s(1), s(20));
    assert_eq!(wire(&mut acd), [ring(2, "102")]);
}

#[test]
fn with_nobody_on_shift_having_the_skill_the_caller_takes_anyone_at_once() {
    let t0 = Instant::now();
    let mut acd = desk(s(60), t0);
    // Nobody has "debt".
    acd.handle_caller_arrived_for(CallRef(1), Some("debt"), t0);
    assert_eq!(wire(&mut acd), [ring(1, "101")]);
    serve(&mut acd, 1, "101", t0 + s(1), s(5));
    // 102 has billing but pauses: a billing caller does not wait for a paused operator.
    acd.pause("102", PauseReason::Manual("break".into()), t0 + s(7))
        .unwrap();
    drain(&mut acd);
    acd.handle_caller_arrived_for(CallRef(2), Some("billing"), t0 + s(10));
    assert_eq!(wire(&mut acd), [ring(2, "101")]);
}

#[test]
fn a_skill_wait_of_zero_turns_skills_off() {
    let t0 = Instant::now();
    let mut acd = desk(Duration::ZERO, t0);
    acd.handle_caller_arrived_for(CallRef(1), Some("billing"), t0);
    assert_eq!(
        wire(&mut acd),
        [ring(1, "101")],
        "the longest idle, as without skills"
    );
}

#[test]
fn an_unskilled_operator_takes_the_next_caller_they_may_serve_in_arrival_order() {
    let t0 = Instant::now();
    let mut acd = desk(s(60), t0);
    // 102 is busy; then a billing caller, and two callers without a topic.
    acd.handle_caller_arrived_for(CallRef(1), Some("billing"), t0);
    assert_eq!(wire(&mut acd), [ring(1, "102")]);
    assert!(acd.handle_ring_answered(CallRef(1), "102", t0 + s(1)));
    // 101 pauses so that the arrivals queue up.
    acd.pause("101", PauseReason::Manual("desk".into()), t0 + s(2))
        .unwrap();
    acd.handle_caller_arrived_for(CallRef(2), Some("billing"), t0 + s(3));
    acd.handle_caller_arrived(CallRef(3), t0 + s(4));
    acd.handle_caller_arrived(CallRef(4), t0 + s(5));
    drain(&mut acd);
    // 101 is back: the billing caller at the head waits for 102; 101 takes caller 3, the
    // oldest they may serve, and the billing caller keeps its place.
    acd.resume("101", t0 + s(6)).unwrap();
    assert_eq!(wire(&mut acd), [ring(3, "101")]);
    assert_eq!(acd.position(CallRef(2)), Some(1));
}

#[test]
fn skills_from_a_new_configuration_apply_to_callers_already_waiting() {
    let t0 = Instant::now();
    let mut acd = desk(s(60), t0);
    acd.handle_caller_arrived_for(CallRef(1), Some("billing"), t0);
    assert_eq!(wire(&mut acd), [ring(1, "102")]);
    assert!(acd.handle_ring_answered(CallRef(1), "102", t0 + s(1)));
    acd.handle_caller_arrived_for(CallRef(2), Some("billing"), t0 + s(2));
    assert_eq!(wire(&mut acd), []);
    // 101 learns billing.
    acd.set_skills(
        HashMap::from([
            ("101".to_owned(), vec!["billing".to_owned()]),
            ("102".to_owned(), vec!["billing".to_owned()]),
        ]),
        t0 + s(3),
    );
    assert_eq!(wire(&mut acd), [ring(2, "101")]);
}
