//! The default prompts, built into the binary: a binary copied to a bare machine answers
//! on these. A file of the same name in the configured prompts directory replaces one.
//!
//! The list is the WAV files `config/prompts/make_prompts.sh` writes; adding a prompt
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
];

/// The built-in WAV of the prompt named `stem` (`greeting`, `position_3`…), if there is one.
pub fn embedded(stem: &str) -> Option<&'static [u8]> {
    EMBEDDED
        .iter()
        .find(|(name, _)| *name == stem)
        .map(|(_, wav)| *wav)
}
