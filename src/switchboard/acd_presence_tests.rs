//! Scenario tests of operators' presence in the ACD: registration, pauses, configuration
//! reloads and the unattended queue, in simulated time.

use std::time::{Duration, Instant};

use super::tests::{
    cancel, changed, config, drain, ids, online, online_with, ring, s, state, wire,
};
use super::*;

#[test]
fn an_operator_who_freshly_frees_up_is_offered_a_caller_they_failed() {
    let t0 = Instant::now();
    let mut acd = online(&["101"], t0);
    acd.handle_caller_arrived(CallRef(1), t0);
    acd.handle_ring_failed(CallRef(1), "101", RingResult::Busy, t0 + s(1));
    acd.pause("101", PauseReason::Manual("desk".into()), t0 + s(2))
        .unwrap();
    acd.resume("101", t0 + s(3)).unwrap();
    assert_eq!(wire(&mut acd), [ring(1, "101"), ring(1, "101")]);
}

#[test]
fn registration_expiry_while_ringing_goes_to_the_next_operator() {
    let t0 = Instant::now();
    let mut acd = online(&["101", "102"], t0);
    acd.handle_caller_arrived(CallRef(1), t0 + s(1));
    acd.handle_caller_arrived(CallRef(2), t0 + s(2));
    acd.handle_ring_answered(CallRef(2), "102", t0 + s(3));
    drain(&mut acd);
    acd.handle_operator_offline("101", t0 + s(4));
    assert_eq!(
        drain(&mut acd),
        [
            cancel(1, "101", RingResult::NoAnswer),
            changed("101", OperatorState::Offline)
        ]
    );
    assert!(acd.is_waiting(CallRef(1)));
    // 102's registration lapses mid-call: the call goes on, then 102 is offline.
    acd.handle_operator_offline("102", t0 + s(5));
    assert_eq!(state(&acd, "102"), OperatorState::Talking(CallRef(2)));
    acd.handle_operator_online("101", t0 + s(6));
    assert_eq!(wire(&mut acd), [ring(1, "101")]);
    acd.handle_call_ended(CallRef(2), t0 + s(7));
    assert_eq!(drain(&mut acd), [changed("102", OperatorState::Offline)]);
}

#[test]
fn nobody_logged_in_means_no_operators_but_paused_operators_count() {
    let t0 = Instant::now();
    let mut acd = Acd::new(config(), &ids(&["101"]));
    acd.handle_caller_arrived(CallRef(1), t0);
    assert_eq!(
        drain(&mut acd),
        [AcdAction::NoOperators { call: CallRef(1) }]
    );
    assert!(!acd.is_waiting(CallRef(1)));
    acd.handle_operator_online("101", t0 + s(1));
    acd.pause("101", PauseReason::Manual("lunch".into()), t0 + s(2))
        .unwrap();
    drain(&mut acd);
    acd.handle_caller_arrived(CallRef(2), t0 + s(3));
    assert_eq!(drain(&mut acd), []);
    assert!(acd.is_waiting(CallRef(2)));
    let mut empty = Acd::new(config(), &[]);
    empty.handle_caller_arrived(CallRef(3), t0);
    assert_eq!(
        drain(&mut empty),
        [AcdAction::NoOperators { call: CallRef(3) }]
    );
}

#[test]
fn when_the_last_operator_leaves_callers_wait_out_the_grace() {
    let t0 = Instant::now();
    let quiet = AcdConfig {
        announce_every: Duration::ZERO,
        ..config()
    };
    let mut acd = online_with(quiet, &["101"], t0);
    acd.handle_caller_arrived(CallRef(1), t0);
    acd.handle_caller_arrived(CallRef(2), t0 + s(1));
    acd.handle_operator_offline("101", t0 + s(2));
    assert_eq!(
        wire(&mut acd),
        [ring(1, "101"), cancel(1, "101", RingResult::NoAnswer)]
    );
    // A blip: the phone registers again within the grace and the queue carries on.
    acd.handle_operator_online("101", t0 + s(40));
    assert_eq!(wire(&mut acd), [ring(1, "101")]);
    acd.handle_operator_offline("101", t0 + s(50));
    drain(&mut acd);
    assert_eq!(acd.poll_timeout(), Some(t0 + s(110)));
    acd.handle_timeout(t0 + s(109));
    assert_eq!(drain(&mut acd), []);
    acd.handle_timeout(t0 + s(110));
    assert_eq!(
        drain(&mut acd),
        [
            AcdAction::NoOperators { call: CallRef(1) },
            AcdAction::NoOperators { call: CallRef(2) },
        ]
    );
    assert_eq!(acd.poll_timeout(), None);
}

#[test]
fn set_operators_removes_adds_and_lets_conversations_finish() {
    let t0 = Instant::now();
    let mut acd = online(&["101", "102", "103"], t0);
    acd.handle_caller_arrived(CallRef(9), t0);
    assert!(acd.handle_ring_answered(CallRef(9), "101", t0));
    acd.handle_caller_arrived(CallRef(1), t0 + s(1));
    assert_eq!(wire(&mut acd), [ring(9, "101"), ring(1, "102")]);
    acd.set_operators(&ids(&["103", "104"]), t0 + s(2));
    assert_eq!(
        drain(&mut acd),
        [
            cancel(1, "102", RingResult::Error),
            changed("102", OperatorState::Offline),
            ring(1, "103"),
            changed("103", OperatorState::Ringing(CallRef(1))),
        ]
    );
    let board: Vec<(&str, OperatorState)> = acd
        .operators()
        .map(|(id, st)| (id.as_str(), st.clone()))
        .collect();
    assert_eq!(
        board,
        [
            ("103", OperatorState::Ringing(CallRef(1))),
            ("104", OperatorState::Offline),
            ("101", OperatorState::Talking(CallRef(9))),
        ]
    );
    assert_eq!(
        acd.pause("101", PauseReason::NoAnswer, t0 + s(3)),
        Err(AcdError::UnknownOperator("101".into()))
    );
    acd.handle_call_ended(CallRef(9), t0 + s(4));
    assert_eq!(drain(&mut acd), [changed("101", OperatorState::Offline)]);
    assert_eq!(acd.operator_state("101"), None);
    assert_eq!(acd.operator_state("102"), None);
}

#[test]
fn pause_while_ringing_or_talking() {
    let t0 = Instant::now();
    let mut acd = online(&["101", "102"], t0);
    acd.handle_caller_arrived(CallRef(1), t0);
    drain(&mut acd);
    acd.pause("101", PauseReason::Manual("*50".into()), t0 + s(1))
        .unwrap();
    assert_eq!(
        drain(&mut acd),
        [
            cancel(1, "101", RingResult::NoAnswer),
            changed(
                "101",
                OperatorState::Paused(PauseReason::Manual("*50".into()))
            ),
            ring(1, "102"),
            changed("102", OperatorState::Ringing(CallRef(1))),
        ]
    );
    assert!(acd.handle_ring_answered(CallRef(1), "102", t0 + s(2)));
    let brk = PauseReason::Manual("break".into());
    acd.pause("102", brk.clone(), t0 + s(3)).unwrap();
    assert_eq!(state(&acd, "102"), OperatorState::Talking(CallRef(1)));
    // Hanging up from the caller's side ends the conversation the same way.
    acd.handle_caller_left(CallRef(1), t0 + s(60));
    assert_eq!(state(&acd, "102"), OperatorState::Paused(brk));
    assert_eq!(acd.average_handle_time(), s(68));
}

#[test]
fn pause_and_resume_refusals() {
    let t0 = Instant::now();
    let mut acd = online(&["101"], t0);
    acd.set_operators(&ids(&["101", "102"]), t0);
    let manual = || PauseReason::Manual("x".into());
    assert_eq!(
        acd.pause("999", manual(), t0),
        Err(AcdError::UnknownOperator("999".into()))
    );
    assert_eq!(
        acd.pause("102", manual(), t0),
        Err(AcdError::NotLoggedIn("102".into()))
    );
    assert_eq!(
        acd.resume("102", t0),
        Err(AcdError::NotLoggedIn("102".into()))
    );
    assert_eq!(
        acd.resume("101", t0),
        Err(AcdError::NotPaused("101".into()))
    );
    acd.pause("101", manual(), t0).unwrap();
    acd.pause("101", PauseReason::NoAnswer, t0).unwrap();
    assert_eq!(
        state(&acd, "101"),
        OperatorState::Paused(PauseReason::NoAnswer)
    );
}
