//! How long a caller needs to hand in two readings, from the answer to the goodbye: the
//! real dialogue (menu and readings state machines) with the real prompt lengths, and a
//! caller who listens to every prompt to its end, starts typing 1.5 s after it and keys
//! at 0.4 s a key, ending each number with `#`. Simulated time: the figure is computed,
//! not waited for. `cargo test --test self_service_timing -- --nocapture` prints it.

use std::time::Duration;

use hotline::media::dtmf::collector::Collected;
use hotline::media::player::Prompt;
use hotline::model::meters::{Meter, MeterKind};
use hotline::runtime::prompts::embedded;
use hotline::switchboard::self_service::menu::{Choice, Menu, MenuItems};
use hotline::switchboard::self_service::readings::{ReadingRules, Readings};
use hotline::switchboard::self_service::{End, Step};

const REACTION: Duration = Duration::from_millis(1500);
const PER_KEY: Duration = Duration::from_millis(400);

fn length(names: &[String]) -> Duration {
    names
        .iter()
        .map(|n| {
            let wav = embedded(n).unwrap_or_else(|| panic!("no prompt {n}"));
            Prompt::from_wav(n, wav).unwrap().duration()
        })
        .sum()
}

/// The prompts of a step and the time to key `answer` (plus `#` if it is longer than one key).
fn turn(step: &Step, answer: &str) -> Duration {
    let Step::Ask { prompts, .. } = step else {
        panic!("expected a question, got {step:?}")
    };
    let keys = answer.len() + usize::from(answer.len() > 1);
    length(prompts) + REACTION + PER_KEY * keys as u32
}

#[test]
fn two_readings_end_to_end() {
    let mut total = length(&["greeting".into(), "recording_notice".into()]);
    let items = MenuItems {
        items: vec![('1', "readings".into()), ('2', "billing".into())],
        readings_topic: Some("readings".into()),
        wait_for_key: Duration::from_secs(6),
        attempts: 2,
    };
    let (mut menu, step) = Menu::start(items);
    total += turn(&step, "1");
    let Ok(Choice::Readings(topic)) = menu.handle_collected(Collected::Digits("1".into())) else {
        panic!("1 is the readings")
    };
    let (mut r, step) = Readings::start(ReadingRules {
        max_monthly: 50,
        first_digit: Duration::from_secs(8),
        inter_digit: Duration::from_secs(4),
        topic,
    });
    total += turn(&step, "100123");
    let (step, _) = r.handle_collected(Collected::Digits("100123".into()));
    assert_eq!(step, Step::LookUpAccount("100123".into()));
    let meter = |id: &str, kind, last| Meter {
        account: "100123".into(),
        meter: id.into(),
        kind,
        last_reading: last,
    };
    let mut step = r.handle_meters(vec![
        meter("1", MeterKind::Cold, 1234),
        meter("2", MeterKind::Hot, 567),
    ]);
    let mut stored = 0;
    for reading in ["1241", "571"] {
        total += turn(&step, reading);
        let (confirm, _) = r.handle_collected(Collected::Digits(reading.into()));
        total += turn(&confirm, "1");
        let (next, accepted) = r.handle_collected(Collected::Digits("1".into()));
        stored += usize::from(accepted.is_some());
        step = next;
    }
    let Step::Finish { prompts, end } = &step else {
        panic!("{step:?}")
    };
    assert_eq!(*end, End::Settled);
    assert_eq!(stored, 2);
    total += length(prompts);
    println!(
        "two readings, from the answer to the goodbye: {:.1} s",
        total.as_secs_f64()
    );
    assert!(total < Duration::from_secs(180), "{total:?}");
}
