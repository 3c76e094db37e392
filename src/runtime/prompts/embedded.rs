//! The default prompts, built into the binary: a binary copied to a bare machine answers
//! on these. A file of the same name in the configured prompts directory replaces one.
//!
//! The list is the WAV files `config/prompts/make_prompts.sh` and
//! `make_self_service_prompts.sh` write; adding a prompt
//! there means adding its line here.

macro_rules! embedded {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_bytes!(concat!("../../../config/prompts/", $name, ".wav")))),*]
    };
}

/// Every built-in prompt by its file stem.
pub const EMBEDDED: &[(&str, &[u8])] = embedded![
    "after_hours",
    "greeting",
    "recording_notice",
    "please_wait",
    "no_operators",
    "overflow",
    "position_1",
    "position_2",
    "position_3",
    "position_4",
    "position_5",
    "position_6",
    "position_7",
    "position_8",
    "position_9",
    "position_many",
    "wait_1",
    "wait_2",
    "wait_3",
    "wait_4",
    "wait_5",
    "wait_6",
    "wait_7",
    "wait_8",
    "wait_9",
    "wait_10",
    "wait_more",
    "hold_music",
    "paused",
    "resumed",
    // The self-service menu and readings dialogue (`make_self_service_prompts.sh`).
    "menu",
    "menu_retry",
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

/// The built-in WAV of the prompt named `stem` (`greeting`, `position_3`…), if there is one.
pub fn embedded(stem: &str) -> Option<&'static [u8]> {
    EMBEDDED
        .iter()
        .find(|(name, _)| *name == stem)
        .map(|(_, wav)| *wav)
}
