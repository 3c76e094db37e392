//! The topic menu after the greeting: one key chooses a topic; `0`, or silence or a wrong
//! key twice, sends the caller to the queue (never a dead end).

use std::time::Duration;

use super::{End, Step};
use crate::media::dtmf::collector::{CollectRules, Collected};

/// What a choice leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    /// A topic for the operators (with its skill).
    Topic(String),
    /// The readings dialogue (its topic is set if it goes on to an operator).
    Readings(String),
    /// Anything else: to the queue.
    Done(End),
}

/// The menu's keys: `(key, topic)`, and which topic is the readings dialogue.
#[derive(Debug, Clone)]
pub struct MenuItems {
    pub items: Vec<(char, String)>,
    pub readings_topic: Option<String>,
    pub wait_for_key: Duration,
    /// Questions asked before silence or wrong keys send the caller to the queue (at
    /// least one).
    pub attempts: u32,
}

pub struct Menu {
    items: MenuItems,
    misses: u32,
}

impl Menu {
    /// The menu and its first question.
    pub fn start(items: MenuItems) -> (Menu, Step) {
        let step = ask(&items, false);
        (Menu { items, misses: 0 }, step)
    }

    /// The caller's answer: the choice, or the question asked again.
    pub fn handle_collected(&mut self, answer: Collected) -> Result<Choice, Step> {
        let key = match &answer {
            Collected::Digits(d) if d.chars().count() == 1 => d.chars().next(),
            _ => None,
        };
        if key == Some('0') {
            return Ok(Choice::Done(End::Operator { topic: None }));
        }
        if let Some((_, topic)) = self.items.items.iter().find(|(k, _)| Some(*k) == key) {
            return Ok(if Some(topic) == self.items.readings_topic.as_ref() {
                Choice::Readings(topic.clone())
            } else {
                Choice::Topic(topic.clone())
            });
        }
        self.misses += 1;
        if self.misses >= self.items.attempts.max(1) {
            return Ok(Choice::Done(End::Operator { topic: None }));
        }
        Err(ask(&self.items, true))
    }
}

fn ask(items: &MenuItems, again: bool) -> Step {
    let mut prompts = Vec::new();
    if again {
        prompts.push("menu_retry".to_owned());
    }
    prompts.push("menu".to_owned());
    Step::Ask {
        prompts,
        rules: CollectRules {
            first_digit: items.wait_for_key,
            inter_digit: items.wait_for_key,
            max_digits: 1,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items() -> MenuItems {
        MenuItems {
            items: [
                ('1', "readings"),
                ('2', "billing"),
                ('3', "contracts"),
                ('4', "connection"),
                ('5', "debts"),
            ]
            .iter()
            .map(|(k, t)| (*k, t.to_string()))
            .collect(),
            readings_topic: Some("readings".into()),
            wait_for_key: Duration::from_secs(5),
            attempts: 2,
        }
    }

    fn key(k: &str) -> Collected {
        Collected::Digits(k.into())
    }

    #[test]
    fn a_key_chooses_its_topic() {
        let (mut m, _) = Menu::start(items());
        assert_eq!(
            m.handle_collected(key("2")),
            Ok(Choice::Topic("billing".into()))
        );
        let (mut m, _) = Menu::start(items());
        assert_eq!(
            m.handle_collected(key("1")),
            Ok(Choice::Readings("readings".into()))
        );
    }

    #[test]
    fn zero_is_the_operator() {
        let (mut m, _) = Menu::start(items());
        assert_eq!(
            m.handle_collected(key("0")),
            Ok(Choice::Done(End::Operator { topic: None }))
        );
    }

    #[test]
    fn silence_or_a_wrong_key_twice_goes_to_the_queue() {
        let (mut m, first) = Menu::start(items());
        let Step::Ask { prompts, .. } = first else {
            panic!()
        };
        assert_eq!(prompts, ["menu"]);
        let again = m.handle_collected(Collected::NoInput).unwrap_err();
        let Step::Ask { prompts, .. } = again else {
            panic!()
        };
        assert_eq!(prompts, ["menu_retry", "menu"]);
        assert_eq!(
            m.handle_collected(key("9")),
            Ok(Choice::Done(End::Operator { topic: None }))
        );
    }
}
