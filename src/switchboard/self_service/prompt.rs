//! The prompts the readings dialogue names (`config/prompts/self_service.md`): a closed
//! list, so a step naming a prompt the line cannot play is caught when the step is
//! carried out, and a prompt stays a small `Copy` value in media orders.

/// The readings dialogue's prompts, by file name (without `.wav`), in a fixed order.
pub const NAMES: &[&str] = &[
    "to_operator",
    "enter_account",
    "unknown_account",
    "meter_cold",
    "meter_hot",
    "meter_number",
    "enter_reading",
    "you_entered",
    "confirm_reading",
    "reading_too_low",
    "reading_too_high",
    "reading_saved",
    "readings_done",
    "no_input",
    "digit_0",
    "digit_1",
    "digit_2",
    "digit_3",
    "digit_4",
    "digit_5",
    "digit_6",
    "digit_7",
    "digit_8",
    "digit_9",
];

/// One of [`NAMES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DialoguePrompt(u8);

impl DialoguePrompt {
    /// The prompt of this name, if the dialogue has one.
    pub fn from_name(name: &str) -> Option<DialoguePrompt> {
        let i = NAMES.iter().position(|n| *n == name)?;
        Some(DialoguePrompt(u8::try_from(i).expect("the list is short")))
    }

    pub fn name(self) -> &'static str {
        NAMES[usize::from(self.0)]
    }

    /// Its place in [`NAMES`] (the loader keeps the prompts in that order).
    pub fn index(self) -> usize {
        usize::from(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_go_both_ways_and_unknown_names_are_none() {
        for name in NAMES {
            assert_eq!(DialoguePrompt::from_name(name).unwrap().name(), *name);
        }
        assert_eq!(DialoguePrompt::from_name("menu"), None);
    }
}
