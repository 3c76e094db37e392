use super::*;

fn rules() -> ReadingRules {
    ReadingRules {
        max_monthly: 50,
        first_digit: Duration::from_secs(8),
        inter_digit: Duration::from_secs(4),
        topic: "readings".into(),
    }
}

fn meters() -> Vec<Meter> {
    vec![
        Meter {
            account: "1001".into(),
            meter: "K-7".into(),
            kind: MeterKind::Cold,
            last_reading: 120,
        },
        Meter {
            account: "1001".into(),
            meter: "G2".into(),
            kind: MeterKind::Hot,
            last_reading: 45,
        },
    ]
}

fn keys(k: &str) -> Collected {
    Collected::Digits(k.into())
}

fn prompts(step: &Step) -> Vec<&str> {
    match step {
        Step::Ask { prompts, .. } | Step::Finish { prompts, .. } => {
            prompts.iter().map(String::as_str).collect()
        }
        Step::LookUpAccount(_) => Vec::new(),
    }
}

/// Account entered and found: the dialogue at the first meter.
fn at_first_meter() -> Readings {
    let (mut r, first) = Readings::start(rules());
    assert_eq!(prompts(&first), ["enter_account"]);
    let (step, _) = r.handle_collected(keys("1001"));
    assert_eq!(step, Step::LookUpAccount("1001".into()));
    let step = r.handle_meters(meters());
    assert_eq!(
        prompts(&step),
        ["meter_cold", "meter_number", "digit_7", "enter_reading"]
    );
    r
}

#[test]
fn two_good_readings_settle_the_call() {
    let mut r = at_first_meter();
    let (step, stored) = r.handle_collected(keys("131"));
    assert_eq!(stored, None);
    assert_eq!(
        prompts(&step),
        [
            "you_entered",
            "digit_1",
            "digit_3",
            "digit_1",
            "confirm_reading"
        ]
    );
    let (step, stored) = r.handle_collected(keys("1"));
    assert_eq!(
        stored,
        Some(Accepted {
            account: "1001".into(),
            meter: "K-7".into(),
            value: 131,
            previous: 120
        })
    );
    assert_eq!(
        prompts(&step),
        [
            "reading_saved",
            "meter_hot",
            "meter_number",
            "digit_2",
            "enter_reading"
        ]
    );
    r.handle_collected(keys("47"));
    let (step, stored) = r.handle_collected(keys("1"));
    assert_eq!(stored.unwrap().value, 47);
    assert_eq!(
        step,
        Step::Finish {
            prompts: vec!["reading_saved".into(), "readings_done".into()],
            end: End::Settled
        }
    );
}

#[test]
fn two_re_enters_the_reading() {
    let mut r = at_first_meter();
    r.handle_collected(keys("131"));
    let (step, stored) = r.handle_collected(keys("2"));
    assert_eq!(stored, None);
    assert_eq!(prompts(&step), ["enter_reading"]);
    r.handle_collected(keys("132"));
    let (_, stored) = r.handle_collected(keys("1"));
    assert_eq!(stored.unwrap().value, 132);
}

#[test]
fn too_low_and_too_high_are_refused_with_the_reason() {
    let mut r = at_first_meter();
    let (step, _) = r.handle_collected(keys("119"));
    assert_eq!(prompts(&step), ["reading_too_low", "enter_reading"]);
    let (step, _) = r.handle_collected(keys("171"));
    assert_eq!(prompts(&step), ["reading_too_high", "enter_reading"]);
    // The third failure: to an operator with the topic set.
    let (step, _) = r.handle_collected(keys("5"));
    assert_eq!(
        step,
        Step::Finish {
            prompts: vec!["to_operator".into()],
            end: End::Operator {
                topic: Some("readings".into())
            }
        }
    );
}

#[test]
fn an_unknown_account_is_asked_again_then_the_operator() {
    let (mut r, _) = Readings::start(rules());
    r.handle_collected(keys("999"));
    let step = r.handle_meters(Vec::new());
    assert_eq!(prompts(&step), ["unknown_account", "enter_account"]);
    let (step, _) = r.handle_collected(keys("998"));
    assert_eq!(step, Step::LookUpAccount("998".into()));
    r.handle_meters(Vec::new());
    r.handle_collected(keys("997"));
    let step = r.handle_meters(Vec::new());
    assert!(matches!(
        step,
        Step::Finish {
            end: End::Operator { .. },
            ..
        }
    ));
}

#[test]
fn silence_three_times_goes_to_the_operator() {
    let (mut r, _) = Readings::start(rules());
    let (step, _) = r.handle_collected(Collected::NoInput);
    assert_eq!(prompts(&step), ["no_input", "enter_account"]);
    r.handle_collected(Collected::NoInput);
    let (step, _) = r.handle_collected(Collected::NoInput);
    assert_eq!(prompts(&step), ["to_operator"]);
}

#[test]
fn zero_goes_to_the_operator_at_any_question() {
    let mut r = at_first_meter();
    let (step, stored) = r.handle_collected(keys("0"));
    assert_eq!(stored, None);
    assert_eq!(
        step,
        Step::Finish {
            prompts: vec!["to_operator".into()],
            end: End::Operator {
                topic: Some("readings".into())
            }
        }
    );
}
