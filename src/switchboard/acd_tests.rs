//! Scenario tests of the ACD in simulated time: what the switchboard is told to do, in order.

use std::time::{Duration, Instant};

use super::*;

pub(super) fn s(n: u64) -> Duration {
    Duration::from_secs(n)
}

pub(super) fn config() -> AcdConfig {
    AcdConfig {
        ring_timeout: s(15),
        max_wait: s(600),
        wrap_up: s(10),
        announce_every: s(30),
        max_no_answer: 3,
        default_handle_time: s(180),
        retry: s(5),
        unattended_grace: s(60),
        max_waiting: usize::MAX,
        skill_wait: Duration::ZERO,
    }
}

pub(super) fn ids(list: &[&str]) -> Vec<OperatorId> {
    list.iter().map(|id| id.to_string()).collect()
}

/// An ACD whose operators registered at `t0` in list order.
pub(super) fn online(list: &[&str], t0: Instant) -> Acd {
    online_with(config(), list, t0)
}

pub(super) fn online_with(config: AcdConfig, list: &[&str], t0: Instant) -> Acd {
    let mut acd = Acd::new(config, &ids(list));
    for id in list {
        acd.handle_operator_online(id, t0);
    }
    drain(&mut acd);
    acd
}

pub(super) fn drain(acd: &mut Acd) -> Vec<AcdAction> {
    std::iter::from_fn(|| acd.poll_action()).collect()
}

/// What callers and phones see (the board updates left out).
pub(super) fn wire(acd: &mut Acd) -> Vec<AcdAction> {
    drain(acd)
        .into_iter()
        .filter(|a| !matches!(a, AcdAction::OperatorChanged { .. }))
        .collect()
}

pub(super) fn ring(call: u64, operator: &str) -> AcdAction {
    AcdAction::Ring {
        call: CallRef(call),
        operator: operator.to_string(),
    }
}

pub(super) fn cancel(call: u64, operator: &str, why: RingResult) -> AcdAction {
    AcdAction::CancelRing {
        call: CallRef(call),
        operator: operator.to_string(),
        why,
    }
}

pub(super) fn changed(operator: &str, state: OperatorState) -> AcdAction {
    AcdAction::OperatorChanged {
        operator: operator.to_string(),
        state,
    }
}

pub(super) fn state(acd: &Acd, operator: &str) -> OperatorState {
    acd.operator_state(operator).expect("configured").clone()
}

/// The ringing caller is answered at `at` and talks for `talk`; returns when it ended.
pub(super) fn serve(
    acd: &mut Acd,
    call: u64,
    operator: &str,
    at: Instant,
    talk: Duration,
) -> Instant {
    assert!(acd.handle_ring_answered(CallRef(call), operator, at));
    acd.handle_call_ended(CallRef(call), at + talk);
    at + talk
}

#[test]
fn callers_are_served_in_arrival_order() {
    let t0 = Instant::now();
    let quiet = AcdConfig {
        announce_every: Duration::ZERO,
        ..config()
    };
    let mut acd = online_with(quiet, &["101"], t0);
    for n in 1..=3 {
        acd.handle_caller_arrived(CallRef(n), t0 + s(n));
    }
    assert_eq!(
        drain(&mut acd),
        [
            ring(1, "101"),
            changed("101", OperatorState::Ringing(CallRef(1)))
        ]
    );
    let order: Vec<CallRef> = acd.waiting().map(|(call, _)| call).collect();
    assert_eq!(order, [CallRef(1), CallRef(2), CallRef(3)]);
    assert_eq!(acd.position(CallRef(3)), Some(3));

    let mut at = t0 + s(5);
    for n in 1..=3 {
        let ended = serve(&mut acd, n, "101", at, s(60));
        assert!(!acd.is_waiting(CallRef(n)));
        assert_eq!(acd.talking_operator(CallRef(n)), None);
        assert_eq!(
            acd.poll_timeout(),
            Some(ended + s(10)),
            "wrap-up is the next deadline"
        );
        acd.handle_timeout(ended + s(10));
        let next: Vec<AcdAction> = wire(&mut acd);
        if n < 3 {
            assert_eq!(next, [ring(n + 1, "101")]);
            assert_eq!(acd.position(CallRef(n + 1)), Some(1));
        } else {
            assert_eq!(next, []);
        }
        at = ended + s(12);
    }
    assert_eq!(acd.waiting().count(), 0);
}

#[test]
fn each_of_three_operators_takes_every_third_call() {
    let t0 = Instant::now();
    let mut acd = online(&["101", "102", "103"], t0);
    let mut at = t0 + s(1);
    let mut takers = Vec::new();
    for n in 1..=30 {
        acd.handle_caller_arrived(CallRef(n), at);
        let operator = match wire(&mut acd).as_slice() {
            [AcdAction::Ring { call, operator }] if *call == CallRef(n) => operator.clone(),
            other => panic!("call {n}: {other:?}"),
        };
        let ended = serve(&mut acd, n, &operator, at + s(3), s(40));
        acd.handle_timeout(ended + s(10));
        takers.push(operator);
        at = ended + s(20);
    }
    for (n, taker) in takers.iter().enumerate() {
        assert_eq!(taker, ["101", "102", "103"][n % 3], "call {}", n + 1);
    }
}

#[test]
fn the_longest_idle_operator_gets_the_next_caller() {
    let t0 = Instant::now();
    let mut acd = Acd::new(config(), &ids(&["101", "102", "103"]));
    acd.handle_operator_online("103", t0);
    acd.handle_operator_online("101", t0 + s(1));
    acd.handle_operator_online("102", t0 + s(2));
    // A registration refresh is not a new idle period.
    acd.handle_operator_online("103", t0 + s(3));
    drain(&mut acd);
    for n in 1..=3 {
        acd.handle_caller_arrived(CallRef(n), t0 + s(10));
    }
    assert_eq!(
        wire(&mut acd),
        [ring(1, "103"), ring(2, "101"), ring(3, "102")]
    );
    // All three talk; two more wait. Whoever frees up first takes the head of the queue.
    for (n, op) in [(1, "103"), (2, "101"), (3, "102")] {
        assert!(acd.handle_ring_answered(CallRef(n), op, t0 + s(12)));
    }
    acd.handle_caller_arrived(CallRef(4), t0 + s(20));
    acd.handle_caller_arrived(CallRef(5), t0 + s(21));
    acd.handle_call_ended(CallRef(3), t0 + s(30));
    acd.handle_call_ended(CallRef(1), t0 + s(35));
    acd.handle_timeout(t0 + s(40));
    assert_eq!(wire(&mut acd), [ring(4, "102")]);
    acd.handle_timeout(t0 + s(45));
    assert_eq!(wire(&mut acd), [ring(5, "103")]);
}

#[test]
fn ring_timeout_cancels_and_tries_the_next_operator() {
    let t0 = Instant::now();
    let mut acd = online(&["101"], t0);
    acd.set_operators(&ids(&["101", "102"]), t0);
    acd.handle_operator_online("102", t0 + s(1));
    acd.handle_caller_arrived(CallRef(1), t0 + s(10));
    drain(&mut acd);
    assert_eq!(acd.poll_timeout(), Some(t0 + s(25)));
    acd.handle_timeout(t0 + s(25) - Duration::from_millis(1));
    assert_eq!(drain(&mut acd), []);
    acd.handle_timeout(t0 + s(25));
    assert_eq!(
        drain(&mut acd),
        [
            cancel(1, "101", RingResult::NoAnswer),
            changed("101", OperatorState::Available),
            ring(1, "102"),
            changed("102", OperatorState::Ringing(CallRef(1))),
        ]
    );
    assert_eq!(acd.no_answer_count("101"), Some(1));
    assert_eq!(acd.position(CallRef(1)), Some(1));
    assert_eq!(acd.ringing_operator(CallRef(1)), Some("102"));
    // Answering clears nothing for 101, but resets 102's own count.
    assert!(acd.handle_ring_answered(CallRef(1), "102", t0 + s(30)));
    assert_eq!(acd.no_answer_count("102"), Some(0));
}

#[test]
fn a_caller_whose_ring_failed_keeps_its_place_at_the_head() {
    let t0 = Instant::now();
    let mut acd = online(&["101", "102"], t0);
    acd.handle_caller_arrived(CallRef(9), t0 + s(1));
    assert!(acd.handle_ring_answered(CallRef(9), "101", t0 + s(2)));
    acd.handle_caller_arrived(CallRef(1), t0 + s(3));
    acd.handle_caller_arrived(CallRef(2), t0 + s(4));
    assert_eq!(wire(&mut acd), [ring(9, "101"), ring(1, "102")]);
    // 102 does not answer: caller 1 stays first; 102 may take caller 2 meanwhile.
    acd.handle_timeout(t0 + s(18));
    assert_eq!(
        wire(&mut acd),
        [cancel(1, "102", RingResult::NoAnswer), ring(2, "102")]
    );
    assert_eq!(acd.position(CallRef(1)), Some(1));
    assert_eq!(acd.position(CallRef(2)), Some(2));
    // 101 frees up: caller 1 is offered first.
    acd.handle_call_ended(CallRef(9), t0 + s(20));
    acd.handle_timeout(t0 + s(30));
    assert_eq!(wire(&mut acd), [ring(1, "101")]);
}

#[test]
fn a_busy_operator_is_never_rung_two_callers_one_operator() {
    let t0 = Instant::now();
    let mut acd = online(&["101"], t0);
    acd.handle_caller_arrived(CallRef(1), t0);
    acd.handle_caller_arrived(CallRef(2), t0 + s(1));
    assert_eq!(wire(&mut acd), [ring(1, "101")]);
    assert!(acd.handle_ring_answered(CallRef(1), "101", t0 + s(4)));
    assert_eq!(state(&acd, "101"), OperatorState::Talking(CallRef(1)));
    drain(&mut acd);
    // A long conversation: caller 2 hears announcements, never a ring.
    while let Some(now) = acd.poll_timeout().filter(|t| *t < t0 + s(200)) {
        acd.handle_timeout(now);
        for action in drain(&mut acd) {
            assert!(
                matches!(
                    action,
                    AcdAction::Announce {
                        call: CallRef(2),
                        ..
                    }
                ),
                "{action:?}"
            );
        }
    }
    acd.handle_call_ended(CallRef(1), t0 + s(200));
    assert_eq!(drain(&mut acd), [changed("101", OperatorState::WrapUp)]);
    acd.handle_timeout(t0 + s(210) - Duration::from_millis(1));
    assert_eq!(drain(&mut acd), []);
    acd.handle_timeout(t0 + s(210));
    assert_eq!(
        drain(&mut acd),
        [
            changed("101", OperatorState::Available),
            ring(2, "101"),
            changed("101", OperatorState::Ringing(CallRef(2))),
        ]
    );
}

#[test]
fn zero_wrap_up_offers_the_next_caller_at_once() {
    let t0 = Instant::now();
    let config = AcdConfig {
        wrap_up: Duration::ZERO,
        ..config()
    };
    let mut acd = online_with(config, &["101"], t0);
    acd.handle_caller_arrived(CallRef(1), t0);
    acd.handle_caller_arrived(CallRef(2), t0);
    serve(&mut acd, 1, "101", t0 + s(1), s(30));
    assert_eq!(wire(&mut acd), [ring(1, "101"), ring(2, "101")]);
}

#[test]
fn abandon_while_waiting_and_while_ringing() {
    let t0 = Instant::now();
    let mut acd = online(&["101"], t0);
    for n in 1..=3 {
        acd.handle_caller_arrived(CallRef(n), t0 + s(n));
    }
    drain(&mut acd);
    acd.handle_caller_left(CallRef(2), t0 + s(5));
    assert_eq!(drain(&mut acd), [], "a waiting caller just leaves");
    assert_eq!(acd.position(CallRef(3)), Some(2));
    acd.handle_caller_left(CallRef(1), t0 + s(6));
    assert_eq!(
        drain(&mut acd),
        [
            cancel(1, "101", RingResult::CallerGone),
            changed("101", OperatorState::Available),
            ring(3, "101"),
            changed("101", OperatorState::Ringing(CallRef(3))),
        ]
    );
    assert_eq!(
        acd.no_answer_count("101"),
        Some(0),
        "not the operator's fault"
    );
    assert!(!acd.is_waiting(CallRef(1)));
    // The switchboard may also learn it from the ring itself.
    acd.handle_ring_failed(CallRef(3), "101", RingResult::CallerGone, t0 + s(7));
    assert_eq!(drain(&mut acd), [changed("101", OperatorState::Available)]);
    assert_eq!(acd.waiting().count(), 0);
    assert_eq!(acd.poll_timeout(), None);
}

#[test]
fn max_wait_overflows_waiting_and_ringing_callers() {
    let t0 = Instant::now();
    let mut acd = online(&["101"], t0);
    acd.handle_caller_arrived(CallRef(9), t0);
    assert!(acd.handle_ring_answered(CallRef(9), "101", t0 + s(1)));
    acd.handle_caller_arrived(CallRef(1), t0 + s(10));
    drain(&mut acd);
    acd.handle_timeout(t0 + s(609));
    assert!(wire(&mut acd)
        .iter()
        .all(|a| matches!(a, AcdAction::Announce { .. })));
    acd.handle_timeout(t0 + s(610));
    assert_eq!(wire(&mut acd), [AcdAction::Overflow { call: CallRef(1) }]);
    assert!(!acd.is_waiting(CallRef(1)));

    // Overflow while the phone rings: cancel first.
    acd.handle_caller_arrived(CallRef(2), t0 + s(620));
    acd.handle_call_ended(CallRef(9), t0 + s(1205));
    acd.handle_timeout(t0 + s(1215));
    assert_eq!(wire(&mut acd), [ring(2, "101")]);
    acd.handle_timeout(t0 + s(1220));
    assert_eq!(
        drain(&mut acd),
        [
            cancel(2, "101", RingResult::CallerGone),
            changed("101", OperatorState::Available),
            AcdAction::Overflow { call: CallRef(2) },
        ]
    );
    assert_eq!(acd.no_answer_count("101"), Some(0));
}

#[test]
fn no_answers_pause_the_operator_until_resumed() {
    let t0 = Instant::now();
    let mut acd = online(&["101"], t0);
    acd.handle_caller_arrived(CallRef(1), t0);
    assert_eq!(wire(&mut acd), [ring(1, "101")]);
    let mut heard = Vec::new();
    while let Some(at) = acd.poll_timeout().filter(|t| *t <= t0 + s(60)) {
        acd.handle_timeout(at);
        heard.extend(
            drain(&mut acd)
                .into_iter()
                .map(|a| ((at - t0).as_secs(), a)),
        );
    }
    let available = || changed("101", OperatorState::Available);
    let ringing = || changed("101", OperatorState::Ringing(CallRef(1)));
    // Alone, 101 is offered the caller again after `retry`; the third silence pauses them.
    // The announcement due at 30 s falls while the phone rings and is skipped.
    assert_eq!(
        heard,
        [
            (15, cancel(1, "101", RingResult::NoAnswer)),
            (15, available()),
            (20, ring(1, "101")),
            (20, ringing()),
            (35, cancel(1, "101", RingResult::NoAnswer)),
            (35, available()),
            (40, ring(1, "101")),
            (40, ringing()),
            (55, cancel(1, "101", RingResult::NoAnswer)),
            (
                55,
                changed("101", OperatorState::Paused(PauseReason::NoAnswer))
            ),
            (
                60,
                AcdAction::Announce {
                    call: CallRef(1),
                    position: 1,
                    eta_minutes: None,
                }
            ),
        ]
    );
    assert!(
        acd.is_waiting(CallRef(1)),
        "a paused operator is still logged in"
    );
    acd.resume("101", t0 + s(70)).unwrap();
    assert_eq!(acd.no_answer_count("101"), Some(0));
    assert_eq!(wire(&mut acd), [ring(1, "101")]);
}

#[test]
fn answering_resets_the_no_answer_count() {
    let t0 = Instant::now();
    let mut acd = online(&["101"], t0);
    acd.handle_caller_arrived(CallRef(1), t0);
    acd.handle_timeout(t0 + s(15));
    acd.handle_timeout(t0 + s(20));
    acd.handle_ring_failed(CallRef(1), "101", RingResult::Error, t0 + s(22));
    assert_eq!(acd.no_answer_count("101"), Some(2));
    acd.handle_timeout(t0 + s(27));
    assert!(acd.handle_ring_answered(CallRef(1), "101", t0 + s(28)));
    assert_eq!(acd.no_answer_count("101"), Some(0));
}

#[test]
fn busy_or_declined_goes_to_the_next_operator_without_counting() {
    let t0 = Instant::now();
    let mut acd = online(&["101", "102"], t0);
    acd.handle_caller_arrived(CallRef(1), t0);
    acd.handle_ring_failed(CallRef(1), "101", RingResult::Busy, t0 + s(1));
    assert_eq!(wire(&mut acd), [ring(1, "101"), ring(1, "102")]);
    acd.handle_ring_failed(CallRef(1), "102", RingResult::Declined, t0 + s(2));
    assert_eq!(wire(&mut acd), [], "both tried: wait for the retry");
    assert_eq!(acd.no_answer_count("101"), Some(0));
    assert_eq!(acd.poll_timeout(), Some(t0 + s(6)));
    acd.handle_timeout(t0 + s(6));
    assert_eq!(wire(&mut acd), [ring(1, "101")]);
}

#[test]
fn announcements_tell_position_and_estimated_wait() {
    let t0 = Instant::now();
    let mut acd = online(&["101", "102"], t0);
    for n in [8, 9] {
        acd.handle_caller_arrived(CallRef(n), t0);
        assert!(acd.handle_ring_answered(CallRef(n), ["101", "102"][n as usize - 8], t0));
    }
    acd.handle_caller_arrived(CallRef(1), t0 + s(1));
    acd.handle_caller_arrived(CallRef(2), t0 + s(11));
    drain(&mut acd);
    let announce = |call, position, eta| AcdAction::Announce {
        call: CallRef(call),
        position,
        eta_minutes: Some(eta),
    };
    let mut heard = Vec::new();
    while let Some(at) = acd.poll_timeout().filter(|t| *t <= t0 + s(71)) {
        acd.handle_timeout(at);
        heard.extend(drain(&mut acd).into_iter().map(|a| (at - t0, a)));
    }
    // Default 180 s per call, 2 operators: 1st waits 90 s → 2 min, 2nd 180 s → 3 min.
    assert_eq!(
        heard,
        [
            (s(31), announce(1, 1, 2)),
            (s(41), announce(2, 2, 3)),
            (s(61), announce(1, 1, 2)),
            (s(71), announce(2, 2, 3)),
        ]
    );
}

#[test]
fn the_estimate_follows_handled_calls_and_staffed_operators() {
    let t0 = Instant::now();
    let mut acd = online(&["101", "102"], t0);
    // Calls of 50 s talk + 10 s wrap-up bring the estimate to 1 minute per call.
    for (n, op) in [(8, "101"), (9, "102")] {
        acd.handle_caller_arrived(CallRef(n), t0);
        serve(&mut acd, n, op, t0, s(50));
    }
    assert_eq!(acd.average_handle_time(), s(60));
    acd.handle_timeout(t0 + s(60));
    acd.pause("101", PauseReason::Manual("lunch".into()), t0 + s(60))
        .unwrap();
    acd.handle_caller_arrived(CallRef(10), t0 + s(61));
    assert!(acd.handle_ring_answered(CallRef(10), "102", t0 + s(61)));
    acd.handle_caller_arrived(CallRef(1), t0 + s(70));
    acd.handle_caller_arrived(CallRef(2), t0 + s(71));
    drain(&mut acd);
    // One operator taking calls: 60 s for the first, 120 s for the second.
    acd.handle_timeout(t0 + s(100));
    acd.handle_timeout(t0 + s(101));
    let eta = |call, position, eta| AcdAction::Announce {
        call: CallRef(call),
        position,
        eta_minutes: Some(eta),
    };
    assert_eq!(wire(&mut acd), [eta(1, 1, 1), eta(2, 2, 2)]);
}

#[test]
fn stale_reports_are_ignored() {
    let t0 = Instant::now();
    let mut acd = online(&["101", "102"], t0);
    acd.handle_caller_arrived(CallRef(1), t0);
    acd.handle_timeout(t0 + s(15));
    drain(&mut acd);
    // The 487 of the cancelled ring, and an answer that crossed the CANCEL.
    acd.handle_ring_failed(CallRef(1), "101", RingResult::Error, t0 + s(16));
    assert!(!acd.handle_ring_answered(CallRef(1), "101", t0 + s(16)));
    assert_eq!(drain(&mut acd), []);
    assert_eq!(acd.no_answer_count("101"), Some(1));
    assert_eq!(acd.ringing_operator(CallRef(1)), Some("102"));
    assert!(!acd.handle_ring_answered(CallRef(7), "102", t0 + s(16)));
    acd.handle_caller_arrived(CallRef(1), t0 + s(17));
    acd.handle_call_ended(CallRef(7), t0 + s(17));
    acd.handle_operator_online("999", t0 + s(17));
    assert_eq!(drain(&mut acd), []);
    assert_eq!(acd.position(CallRef(1)), Some(1));
}

#[test]
fn settings_from_the_configuration_file_are_capped() {
    let t0 = Instant::now();
    let config = AcdConfig {
        max_wait: Duration::MAX,
        ..config()
    };
    let mut acd = online_with(config, &["101"], t0);
    acd.handle_caller_arrived(CallRef(1), t0);
    assert!(acd.poll_timeout().is_some());
}
