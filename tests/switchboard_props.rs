//! Property tests of the switchboard: random sequences of what callers, softphones, the
//! media tasks and the clock can do (INVITE, CANCEL, ACK, BYE from either side, operator
//! answers and refusals, registration and its withdrawal, prompts ending, RTP timeouts,
//! time passing over every timer) never panic, and once every peer lets go and the line
//! falls quiet, nothing is left behind: no call, no transaction, no RTP port, no running
//! recording, and every register row opened was closed exactly once, with the counters in
//! step; with the topic menu on as well (keys pressed at any time). The simulated line is
//! in `switchboard_props/line.rs`.
//!
//! Cases are few by default so `cargo test` stays quick; `PROPTEST_CASES=2000` searches
//! harder.

#[path = "switchboard_props/line.rs"]
mod line;

use std::time::Duration;

use hotline::switchboard::Leg;
use proptest::prelude::*;

use line::{Line, CALLERS, OPERATORS};

#[derive(Debug, Clone)]
enum Step {
    Invite(usize),
    Cancel(usize),
    Ack(usize),
    CallerBye(usize),
    Register(usize),
    Unregister(usize),
    OperatorAnswers(usize, u16),
    OperatorBye(usize),
    AnswerByes,
    PromptFinished(usize),
    /// Every prompt being played once reaches its end.
    PromptsEnd,
    StalePrompt(usize),
    Inactive(usize, Leg),
    /// A caller presses a key (the topic menu listens; elsewhere it is ignored).
    Key(usize, char),
    Advance(Duration),
}

fn step() -> impl Strategy<Value = Step> {
    let caller = || 0..CALLERS;
    let op = || 0..OPERATORS;
    // Time in three scales: retransmissions (T1 = 500 ms), rings and wrap-up (seconds),
    // the queue's limits and transaction timeouts (minutes).
    let advance = prop_oneof![0u64..1_000, 1_000u64..20_000, 20_000u64..240_000]
        .prop_map(|ms| Step::Advance(Duration::from_millis(ms)));
    let answer = prop::sample::select(vec![100u16, 180, 200, 200, 486, 603, 408]);
    prop_oneof![
        3 => caller().prop_map(Step::Invite),
        1 => caller().prop_map(Step::Cancel),
        2 => caller().prop_map(Step::Ack),
        2 => caller().prop_map(Step::CallerBye),
        1 => op().prop_map(Step::Register),
        1 => op().prop_map(Step::Unregister),
        3 => (op(), answer).prop_map(|(op, code)| Step::OperatorAnswers(op, code)),
        1 => op().prop_map(Step::OperatorBye),
        2 => Just(Step::AnswerByes),
        2 => caller().prop_map(Step::PromptFinished),
        3 => Just(Step::PromptsEnd),
        1 => caller().prop_map(Step::StalePrompt),
        1 => (caller(), prop::bool::ANY).prop_map(|(i, op)| Step::Inactive(
            i,
            if op { Leg::Operator } else { Leg::Caller }
        )),
        2 => (caller(), prop::sample::select(vec!['0', '2', '9', '*', '#']))
            .prop_map(|(i, k)| Step::Key(i, k)),
        4 => advance,
    ]
}

fn apply(line: &mut Line, step: &Step) {
    match *step {
        Step::Invite(i) => line.invite(i),
        Step::Cancel(i) => line.cancel(i),
        Step::Ack(i) => line.ack(i),
        Step::CallerBye(i) => line.caller_bye(i),
        Step::Register(op) => line.register(op, 3600),
        Step::Unregister(op) => line.register(op, 0),
        Step::OperatorAnswers(op, code) => line.operator_answers(op, code),
        Step::OperatorBye(op) => line.operator_bye(op),
        Step::AnswerByes => line.answer_byes(),
        Step::PromptFinished(i) => line.prompt_finished(i, false),
        Step::PromptsEnd => line.prompts_end(),
        Step::StalePrompt(i) => line.prompt_finished(i, true),
        Step::Inactive(i, leg) => line.inactive(i, leg),
        Step::Key(i, key) => line.key(i, key),
        Step::Advance(by) => line.advance(by),
    }
    line.flush_peers();
}

/// Runs the steps (after registering the phones `registered` marks), lets the line fall
/// quiet, and checks that nothing was left behind.
fn run(registered: [bool; OPERATORS], steps: &[Step]) -> Result<(), TestCaseError> {
    run_on(Line::new(), registered, steps)
}

fn run_on(
    mut line: Line,
    registered: [bool; OPERATORS],
    steps: &[Step],
) -> Result<(), TestCaseError> {
    for (op, _) in registered.iter().enumerate().filter(|(_, r)| **r) {
        line.register(op, 3600);
    }
    for step in steps {
        apply(&mut line, step);
        // While calls go on, the runtime never holds a port for more calls than exist.
        prop_assert!(
            line.slots() <= line.sb.active_calls(),
            "{} calls hold media but only {} calls exist",
            line.slots(),
            line.sb.active_calls()
        );
    }
    line.drain();
    let sb = &line.sb;
    prop_assert_eq!(sb.active_calls(), 0, "calls left after the line fell quiet");
    prop_assert_eq!(sb.transactions(), 0, "transactions left");
    prop_assert_eq!(line.ports_in_use(), 0, "RTP ports never released");
    prop_assert_eq!(line.slots(), 0, "media of calls never closed");
    prop_assert!(
        line.recording.is_empty(),
        "recordings never stopped: {:?}",
        line.recording
    );
    for (id, closed) in &line.rows {
        prop_assert_eq!(*closed, 1, "row {} closed {} times", id, closed);
    }
    let stats = sb.stats();
    prop_assert_eq!(
        stats.calls_started,
        stats.calls_ended,
        "calls started and ended"
    );
    let by_outcome: u64 = sb.counters().calls_by_outcome.values().sum();
    prop_assert_eq!(
        by_outcome,
        stats.calls_started,
        "calls counted by outcome, against calls admitted"
    );
    Ok(())
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        // A failure is a call's whole story; shrinking it is worth a few seconds.
        max_shrink_iters: 2_000,
        ..ProptestConfig::default()
    })]

    #[test]
    fn nothing_is_left_behind(
        // Mostly with phones registered: that is where calls get far.
        registered in prop::sample::select(vec![[true, true], [true, true], [true, false], [false, false]]),
        steps in prop::collection::vec(step(), 1..60),
    ) {
        run(registered, &steps)?;
    }

    #[test]
    fn nothing_is_left_behind_with_the_topic_menu(
        registered in prop::sample::select(vec![[true, true], [true, false], [false, false]]),
        steps in prop::collection::vec(step(), 1..60),
    ) {
        run_on(Line::with_menu(true), registered, &steps)?;
    }
}

/// The story the property generalises, spelled out: a caller queues, an operator answers,
/// the caller hangs up. It must reach the same clean end, and the property test's line
/// must get there (a line that cannot connect a call would make the property hollow).
#[test]
fn a_bridged_call_leaves_nothing_behind() {
    let steps = [
        Step::Invite(0),
        Step::Ack(0),
        Step::PromptFinished(0),
        Step::PromptFinished(0),
        Step::OperatorAnswers(0, 200),
        Step::CallerBye(0),
        Step::AnswerByes,
    ];
    let mut line = Line::new();
    line.register(0, 3600);
    assert!(line.registered[0]);
    for step in &steps[..5] {
        apply(&mut line, step);
    }
    assert!(
        line.recording.len() == 1,
        "the call was bridged and is recorded"
    );
    assert_eq!(
        line.ports_in_use(),
        2,
        "caller and operator legs hold a port each"
    );
    run([true, false], &steps).expect("a clean end");
}
