//! Simulated-time tests of the topic menu in a call: after the recording notice the menu
//! plays and keys are collected; a key sets the topic (row, timeline, the operator's
//! INVITE, the live board), 0 goes to an operator, silence or wrong keys to every question
//! go to the queue without a topic; whatever the caller does, the queue follows.

use super::b2bua_support::*;
use crate::model::CallEventKind;

fn menu_line(operators: &[&str]) -> Switchboard {
    let env = [("HOTLINE_MENU__ENABLED".to_owned(), "true".to_owned())];
    line_with_env(operators, "", &env)
}

/// Whether the media was told to collect keys (the last such order).
fn collects(out: &Out) -> Option<bool> {
    out.actions.iter().rev().find_map(|a| match a {
        Action::Media {
            order: MediaOrder::CollectKeys(on),
            ..
        } => Some(*on),
        _ => None,
    })
}

fn topic_written(out: &Out) -> Option<String> {
    out.actions.iter().find_map(|a| match a {
        Action::Register(RegisterWrite::Update { update, .. }) => update.topic.clone(),
        _ => None,
    })
}

fn menu_event(out: &Out) -> Option<(CallEventKind, String)> {
    out.actions.iter().find_map(|a| match a {
        Action::Register(RegisterWrite::Event(e)) => {
            Some((e.kind, e.detail.clone().unwrap_or_default()))
        }
        _ => None,
    })
}

fn queued(out: &Out) -> bool {
    out.actions.iter().any(|a| {
        matches!(a, Action::Register(RegisterWrite::Update { update, .. }) if update.queued_at.is_some())
    })
}

fn key(sb: &mut Switchboard, call: CallRef, key: char, now: Now) -> Out {
    sb.handle_media_event(call, MediaEvent::Key { key }, now);
    drain(sb)
}

/// The caller through the greeting and the notice: the menu plays, keys are collected.
fn at_the_menu(sb: &mut Switchboard, call_id: &str, now: Now) -> (CallRef, u32) {
    let (call, _, out) = queued_caller(sb, call_id, now);
    let (prompts, tag) = out.played().expect("the menu plays");
    assert_eq!(prompts, vec![PromptKind::Menu]);
    assert_eq!(collects(&out), Some(true), "keys are collected");
    assert!(!queued(&out) && !out.opens_operator_leg(), "not queued yet");
    (call, tag)
}

/// The menu prompt is over: the caller's time to press a key starts.
fn prompt_over(sb: &mut Switchboard, call: CallRef, tag: u32, now: Now) -> Out {
    sb.handle_media_event(call, MediaEvent::PromptFinished { tag }, now);
    drain(sb)
}

#[test]
fn a_key_during_the_menu_sets_the_topic_and_the_operator_sees_it() {
    let mut sb = menu_line(&["101"]);
    let now = t0();
    register(&mut sb, "101", now);
    let (call, _) = at_the_menu(&mut sb, "m1", now);

    let now = now.advanced(Duration::from_secs(4));
    let out = key(&mut sb, call, '2', now);
    assert!(
        out.actions.iter().any(|a| matches!(
            a,
            Action::Media {
                order: MediaOrder::StopPlayback,
                ..
            }
        )),
        "a key stops the menu prompt"
    );
    assert_eq!(collects(&out), Some(false), "no more keys collected");
    assert_eq!(topic_written(&out).as_deref(), Some("billing"));
    assert_eq!(
        menu_event(&out),
        Some((CallEventKind::MenuChoice, "2 → billing".to_owned()))
    );
    assert!(queued(&out));
    assert_eq!(out.played().unwrap().0, vec![PromptKind::HoldMusic]);
    assert!(out.opens_operator_leg(), "the operator is rung at once");

    assert_eq!(sb.counters().menu_results.get("billing"), Some(&1));
    let board = sb.snapshot(now);
    assert_eq!(board.waiting.len(), 1);
    assert_eq!(board.waiting[0].topic.as_deref(), Some("billing"));

    let text = ring(&mut sb, call, "101", now).to_string();
    assert!(text.contains("X-Hotline-Topic: billing\r\n"), "{text}");
    assert!(
        text.contains("From: \"+79115550101 (billing)\" <sip:+79115550101@"),
        "{text}"
    );
}

#[test]
fn silence_to_both_questions_goes_to_the_queue_without_a_topic() {
    let mut sb = menu_line(&["101"]);
    let now = t0();
    register(&mut sb, "101", now);
    let (call, tag) = at_the_menu(&mut sb, "m2", now);
    // No key is awaited while the prompt plays, however long it is.
    sb.handle_timeout(now.advanced(Duration::from_secs(15)));
    assert!(
        drain(&mut sb).played().is_none(),
        "nothing happens meanwhile"
    );

    let now = now.advanced(Duration::from_secs(16));
    prompt_over(&mut sb, call, tag, now);
    let deadline = now.advanced(Duration::from_secs(5));
    assert_eq!(
        sb.poll_timeout(),
        Some(deadline.mono),
        "first_digit_timeout"
    );
    sb.handle_timeout(now.advanced(Duration::from_millis(4999)));
    assert!(drain(&mut sb).played().is_none(), "not yet");

    sb.handle_timeout(deadline);
    let out = drain(&mut sb);
    let (prompts, tag) = out.played().expect("asked again");
    assert_eq!(prompts, vec![PromptKind::MenuRetry, PromptKind::Menu]);
    assert!(!queued(&out));

    let now = deadline.advanced(Duration::from_secs(18));
    prompt_over(&mut sb, call, tag, now);
    let deadline = now.advanced(Duration::from_secs(5));
    sb.handle_timeout(deadline);
    let out = drain(&mut sb);
    assert_eq!(topic_written(&out), None);
    assert_eq!(
        menu_event(&out),
        Some((CallEventKind::MenuNoChoice, "- / - → operator".to_owned()))
    );
    assert!(queued(&out) && out.opens_operator_leg());
    assert_eq!(collects(&out), Some(false));
    let text = ring(&mut sb, call, "101", deadline).to_string();
    assert!(!text.contains("X-Hotline-Topic"), "{text}");
}

#[test]
fn a_wrong_key_twice_goes_to_the_queue_without_a_topic() {
    let mut sb = menu_line(&["101"]);
    let now = t0();
    register(&mut sb, "101", now);
    let (call, _) = at_the_menu(&mut sb, "m3", now);
    let out = key(&mut sb, call, '9', now);
    assert_eq!(
        out.played().unwrap().0,
        vec![PromptKind::MenuRetry, PromptKind::Menu]
    );
    assert!(!queued(&out));
    let out = key(&mut sb, call, '8', now.advanced(Duration::from_secs(3)));
    assert_eq!(topic_written(&out), None);
    assert_eq!(
        menu_event(&out),
        Some((CallEventKind::MenuNoChoice, "9 / 8 → operator".to_owned()))
    );
    assert_eq!(sb.counters().menu_results.get("no_choice"), Some(&1));
    assert!(queued(&out) && out.opens_operator_leg());
}

#[test]
fn zero_goes_to_an_operator_at_once_and_star_starts_over() {
    let mut sb = menu_line(&["101"]);
    let now = t0();
    register(&mut sb, "101", now);
    let (call, tag) = at_the_menu(&mut sb, "m4", now);
    prompt_over(&mut sb, call, tag, now);
    let out = key(&mut sb, call, '*', now.advanced(Duration::from_secs(3)));
    assert!(!queued(&out), "* only starts the answer over");
    assert_eq!(
        sb.poll_timeout(),
        Some(now.advanced(Duration::from_secs(8)).mono),
        "the caller's time starts again"
    );
    let out = key(&mut sb, call, '0', now.advanced(Duration::from_secs(4)));
    assert_eq!(topic_written(&out), None);
    assert_eq!(
        menu_event(&out),
        Some((CallEventKind::MenuChoice, "0 → operator".to_owned()))
    );
    assert!(queued(&out) && out.opens_operator_leg());
    // The answer's deadline is gone with the menu.
    sb.handle_timeout(now.advanced(Duration::from_secs(9)));
    let out = drain(&mut sb);
    assert!(menu_event(&out).is_none() && out.played().is_none());
}

#[test]
fn a_caller_who_hangs_up_in_the_menu_is_abandoned_and_never_queued() {
    let mut sb = menu_line(&["101"]);
    let now = t0();
    register(&mut sb, "101", now);
    let (call, to_tag, out) = queued_caller(&mut sb, "m5", now);
    let (_, menu) = out.played().expect("the menu plays");
    let now = now.advanced(Duration::from_secs(16));
    prompt_over(&mut sb, call, menu, now);
    let out = send(
        &mut sb,
        &bye_from("m5", "c-m5", &to_tag, 2, trunk()),
        trunk(),
        now.advanced(Duration::from_secs(1)),
    );
    assert_eq!(out.status_to(trunk()), vec![200]);
    let end = out.final_update().expect("the row is closed");
    assert_eq!(end.outcome, Some(Outcome::Abandoned));
    assert_eq!(end.hangup_by, Some(HangupBy::Caller));
    // The key the caller never pressed is not awaited any more.
    sb.handle_timeout(now.advanced(Duration::from_secs(6)));
    let out = drain(&mut sb);
    assert!(!queued(&out) && !out.opens_operator_leg(), "never queued");
}

#[test]
fn with_nobody_logged_in_the_menu_is_skipped_for_the_no_operators_message() {
    let mut sb = menu_line(&["101"]);
    let now = t0();
    let (_, _, out) = queued_caller(&mut sb, "m6", now);
    assert_eq!(
        out.played().expect("a prompt plays").0,
        vec![PromptKind::NoOperators],
        "no topic asked when nobody can take the call"
    );
    assert_eq!(collects(&out), None, "no keys collected");
}

#[test]
fn a_topic_chosen_in_the_menu_rings_the_operator_with_that_skill_first() {
    // 101 registers first (idle the longest) and has no skills; 102 has billing.
    let operators = "[[operators]]\nid = \"101\"\nname = \"A\"\npassword = \"pass101\"\n\
        [[operators]]\nid = \"102\"\nname = \"B\"\npassword = \"pass102\"\nskills = [\"billing\"]\n";
    let env = [("HOTLINE_MENU__ENABLED".to_owned(), "true".to_owned())];
    let mut sb = line_with_env(&[], operators, &env);
    let now = t0();
    register(&mut sb, "101", now);
    register(&mut sb, "102", now.advanced(Duration::from_secs(1)));
    let now = now.advanced(Duration::from_secs(2));
    let (call, _) = at_the_menu(&mut sb, "m7", now);
    let out = key(&mut sb, call, '2', now);
    assert!(queued(&out) && out.opens_operator_leg());
    let text = ring(&mut sb, call, "102", now).to_string();
    assert!(text.contains("X-Hotline-Topic: billing\r\n"), "{text}");
    let board = sb.snapshot(now);
    assert_eq!(board.operators[1].skills, vec!["billing"]);
    assert!(board.operators[0].skills.is_empty());
}
