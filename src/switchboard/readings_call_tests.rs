//! Simulated-time tests of the meter-readings dialogue in a call: the menu's key 1 starts
//! it; the account is looked up through the runtime (`LookUpMeters`, answered with
//! `handle_meters`); each confirmed reading comes out as `StoreReading` with the call's
//! id; refusals ask again; 0, three failures, or a failed lookup go to the queue with the
//! topic set; every meter read ends the call with outcome `self_service`.

use super::b2bua_support::*;
use super::self_service::prompt::DialoguePrompt;
use crate::model::meters::{Meter, MeterKind};
use crate::model::CallEventKind;

fn readings_line(operators: &[&str]) -> Switchboard {
    let env = [("HOTLINE_MENU__ENABLED".to_owned(), "true".to_owned())];
    line_with_env(operators, "[readings]\nmax_monthly = 50\n", &env)
}

fn p(name: &str) -> PromptKind {
    PromptKind::Dialogue(DialoguePrompt::from_name(name).expect("a dialogue prompt"))
}

fn events(out: &Out) -> Vec<(CallEventKind, String)> {
    out.actions
        .iter()
        .filter_map(|a| match a {
            Action::Register(RegisterWrite::Event(e)) => {
                Some((e.kind, e.detail.clone().unwrap_or_default()))
            }
            _ => None,
        })
        .collect()
}

fn queued(out: &Out) -> bool {
    out.actions.iter().any(|a| {
        matches!(a, Action::Register(RegisterWrite::Update { update, .. }) if update.queued_at.is_some())
    })
}

fn lookup(out: &Out) -> Option<String> {
    out.actions.iter().find_map(|a| match a {
        Action::LookUpMeters { account, .. } => Some(account.clone()),
        _ => None,
    })
}

fn stored(out: &Out) -> Option<(String, i64, i64, String)> {
    out.actions.iter().find_map(|a| match a {
        Action::StoreReading {
            call_id, reading, ..
        } => Some((
            reading.meter.clone(),
            reading.previous,
            reading.value,
            call_id.clone(),
        )),
        _ => None,
    })
}

/// Keys one after another; what the last one brought.
fn keys(sb: &mut Switchboard, call: CallRef, keys: &str, now: Now) -> Out {
    let mut out = Out {
        sent: Vec::new(),
        actions: Vec::new(),
    };
    for key in keys.chars() {
        sb.handle_media_event(call, MediaEvent::Key { key }, now);
        let more = drain(sb);
        out.sent.extend(more.sent);
        out.actions.extend(more.actions);
    }
    out
}

fn meter(value: i64) -> Meter {
    Meter {
        account: "123".into(),
        meter: "7".into(),
        kind: MeterKind::Cold,
        last_reading: value,
    }
}

/// Through the menu's key 1 to the first question of the dialogue.
fn in_readings(sb: &mut Switchboard, call_id: &str, now: Now) -> CallRef {
    register(sb, "101", now);
    let (call, _, _) = queued_caller(sb, call_id, now);
    let out = keys(sb, call, "1", now);
    assert_eq!(
        out.played().expect("the dialogue asks").0,
        vec![p("enter_account")]
    );
    assert!(!queued(&out), "not queued yet");
    call
}

/// Keys the account and gets its one meter (last reading 100) back.
fn at_the_meter(sb: &mut Switchboard, call: CallRef, now: Now) {
    let out = keys(sb, call, "123#", now);
    assert_eq!(lookup(&out).as_deref(), Some("123"));
    assert!(events(&out).contains(&(CallEventKind::ReadingsAccount, "123".into())));
    sb.handle_meters(call, Some(vec![meter(100)]), now);
    let out = drain(sb);
    assert_eq!(
        out.played().expect("the meter is named").0,
        vec![
            p("meter_cold"),
            p("meter_number"),
            p("digit_7"),
            p("enter_reading")
        ]
    );
}

#[test]
fn a_confirmed_reading_is_stored_and_the_call_ends_as_self_service() {
    let mut sb = readings_line(&["101"]);
    let now = t0();
    let call = in_readings(&mut sb, "r1", now);
    at_the_meter(&mut sb, call, now);
    let out = keys(&mut sb, call, "105#", now);
    assert_eq!(
        out.played().expect("read back").0,
        vec![
            p("you_entered"),
            p("digit_1"),
            p("digit_0"),
            p("digit_5"),
            p("confirm_reading")
        ]
    );
    assert_eq!(stored(&out), None, "not before it is confirmed");
    let id = sb.calls[&call].public_id().to_owned();
    let out = keys(&mut sb, call, "1", now);
    assert_eq!(
        stored(&out),
        Some(("7".into(), 100, 105, id)),
        "stored with the call's public id"
    );
    let ev = events(&out);
    assert!(ev.contains(&(CallEventKind::ReadingAccepted, "7: 100 → 105".into())));
    assert!(ev.iter().any(|(k, _)| *k == CallEventKind::ReadingsDone));
    let (prompts, tag) = out.played().expect("the confirmation");
    assert_eq!(prompts, vec![p("reading_saved"), p("readings_done")]);
    sb.handle_media_event(call, MediaEvent::PromptFinished { tag }, now);
    let out = drain(&mut sb);
    assert!(!queued(&out), "no operator needed");
    assert!(out.request_to(trunk(), "BYE").is_some(), "we hang up");
    let end = out.final_update().expect("the row is closed");
    assert_eq!(end.outcome, Some(Outcome::SelfService));
    assert_eq!(end.hangup_by, Some(HangupBy::System));
}

#[test]
fn two_enters_the_reading_again_and_a_reading_too_low_or_high_is_refused() {
    let mut sb = readings_line(&["101"]);
    let now = t0();
    let call = in_readings(&mut sb, "r2", now);
    at_the_meter(&mut sb, call, now);
    let out = keys(&mut sb, call, "99#", now);
    assert_eq!(
        out.played().unwrap().0,
        vec![p("reading_too_low"), p("enter_reading")]
    );
    let out = keys(&mut sb, call, "151#", now);
    assert_eq!(
        out.played().unwrap().0,
        vec![p("reading_too_high"), p("enter_reading")],
        "more than max_monthly (50) above the last"
    );
    keys(&mut sb, call, "110#", now);
    let out = keys(&mut sb, call, "2", now);
    assert_eq!(out.played().unwrap().0, vec![p("enter_reading")]);
    assert_eq!(stored(&out), None);
    keys(&mut sb, call, "120#", now);
    let id = sb.calls[&call].public_id().to_owned();
    let out = keys(&mut sb, call, "1", now);
    assert_eq!(stored(&out), Some(("7".into(), 100, 120, id)));
}

#[test]
fn an_unknown_account_is_asked_again_and_silence_times_out_to_an_operator() {
    let mut sb = readings_line(&["101"]);
    let now = t0();
    let call = in_readings(&mut sb, "r3", now);
    keys(&mut sb, call, "999#", now);
    sb.handle_meters(call, Some(Vec::new()), now);
    let out = drain(&mut sb);
    let (prompts, tag) = out.played().unwrap();
    assert_eq!(prompts, vec![p("unknown_account"), p("enter_account")]);
    // Silence twice more after the question: the third failure.
    let mut now = now;
    let mut tag = tag;
    for _ in 0..2 {
        sb.handle_media_event(call, MediaEvent::PromptFinished { tag }, now);
        drain(&mut sb);
        now = now.advanced(Duration::from_secs(9));
        sb.handle_timeout(now);
        let out = drain(&mut sb);
        tag = out.played().expect("a prompt").1;
        if out.played().unwrap().0 == vec![p("to_operator")] {
            assert!(events(&out).contains(&(CallEventKind::ReadingsToOperator, "caller".into())));
            sb.handle_media_event(call, MediaEvent::PromptFinished { tag }, now);
            assert!(queued(&drain(&mut sb)), "to the queue");
            assert_eq!(sb.calls[&call].topic(), Some("meter_readings"));
            return;
        }
    }
    panic!("three failures did not go to an operator");
}

#[test]
fn zero_goes_to_an_operator_with_the_topic() {
    let mut sb = readings_line(&["101"]);
    let now = t0();
    let call = in_readings(&mut sb, "r4", now);
    let out = keys(&mut sb, call, "0#", now);
    let (prompts, tag) = out.played().unwrap();
    assert_eq!(prompts, vec![p("to_operator")]);
    sb.handle_media_event(call, MediaEvent::PromptFinished { tag }, now);
    assert!(queued(&drain(&mut sb)));
    assert_eq!(sb.calls[&call].topic(), Some("meter_readings"));
}

#[test]
fn a_failed_lookup_goes_to_an_operator_and_keys_meanwhile_are_ignored() {
    let mut sb = readings_line(&["101"]);
    let now = t0();
    let call = in_readings(&mut sb, "r5", now);
    keys(&mut sb, call, "123#", now);
    let out = keys(&mut sb, call, "5", now);
    assert!(out.played().is_none(), "nothing asked while looking up");
    sb.handle_meters(call, None, now);
    let out = drain(&mut sb);
    assert!(events(&out).contains(&(CallEventKind::ReadingsToOperator, "database".into())));
    let (prompts, tag) = out.played().unwrap();
    assert_eq!(prompts, vec![p("to_operator")]);
    sb.handle_media_event(call, MediaEvent::PromptFinished { tag }, now);
    assert!(queued(&drain(&mut sb)));
}

#[test]
fn with_readings_off_key_one_only_sets_the_topic() {
    let env = [("HOTLINE_MENU__ENABLED".to_owned(), "true".to_owned())];
    let mut sb = line_with_env(&["101"], "[readings]\nenabled = false\n", &env);
    let now = t0();
    register(&mut sb, "101", now);
    let (call, _, _) = queued_caller(&mut sb, "r6", now);
    let out = keys(&mut sb, call, "1", now);
    assert!(lookup(&out).is_none());
    assert_eq!(sb.calls[&call].topic(), Some("meter_readings"));
    assert!(queued(&out));
}

#[test]
fn a_caller_who_hangs_up_during_the_lookup_is_abandoned_and_the_late_answer_is_ignored() {
    let mut sb = readings_line(&["101"]);
    let now = t0();
    register(&mut sb, "101", now);
    let (call, to_tag, _) = queued_caller(&mut sb, "r7", now);
    keys(&mut sb, call, "1", now);
    let out = keys(&mut sb, call, "123#", now);
    assert_eq!(lookup(&out).as_deref(), Some("123"), "the lookup is out");
    let out = send(
        &mut sb,
        &bye_from("r7", "c-r7", &to_tag, 2, trunk()),
        trunk(),
        now.advanced(Duration::from_secs(1)),
    );
    assert_eq!(out.status_to(trunk()), vec![200]);
    let end = out.final_update().expect("the row is closed");
    assert_eq!(end.outcome, Some(Outcome::Abandoned));
    assert_eq!(end.hangup_by, Some(HangupBy::Caller));
    // The database answers after the caller has gone: nothing is asked or queued.
    sb.handle_meters(
        call,
        Some(vec![meter(100)]),
        now.advanced(Duration::from_secs(2)),
    );
    let out = drain(&mut sb);
    assert!(out.played().is_none() && !queued(&out) && !out.opens_operator_leg());
    // Nor does a key deadline fire for the gone call.
    sb.handle_timeout(now.advanced(Duration::from_secs(30)));
    let out = drain(&mut sb);
    assert!(out.played().is_none() && stored(&out).is_none());
}

#[test]
fn a_caller_who_hangs_up_during_the_goodbye_is_still_self_service() {
    let mut sb = readings_line(&["101"]);
    let now = t0();
    register(&mut sb, "101", now);
    let (call, to_tag, _) = queued_caller(&mut sb, "r8", now);
    keys(&mut sb, call, "1", now);
    at_the_meter(&mut sb, call, now);
    keys(&mut sb, call, "105#", now);
    let out = keys(&mut sb, call, "1", now);
    assert!(stored(&out).is_some(), "the reading is stored");
    let out = send(
        &mut sb,
        &bye_from("r8", "c-r8", &to_tag, 2, trunk()),
        trunk(),
        now.advanced(Duration::from_secs(1)),
    );
    assert_eq!(out.status_to(trunk()), vec![200]);
    let end = out.final_update().expect("the row is closed");
    assert_eq!(
        end.outcome,
        Some(Outcome::SelfService),
        "settled: hanging up on the goodbye is not an abandoned call"
    );
}
