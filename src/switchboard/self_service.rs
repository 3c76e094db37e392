//! Self-service by phone, sans-IO: the topic menu ([`menu`]) and the meter-readings
//! dialogue ([`readings`]). Each is a small state machine driven by what the caller keyed
//! (a [`Collected`] answer from the digit collector) and, for the dialogue, by the answers
//! of the database (an account's meters), which it asks for through a [`Step`] and gets
//! back as an input: the call never waits on IO.
//!
//! [`Collected`]: crate::media::dtmf::collector::Collected

pub mod menu;
pub mod prompt;
pub mod readings;

use crate::media::dtmf::collector::CollectRules;

/// What the call does next for the dialogue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Play these prompts (by name) back to back, then collect an answer by these rules
    /// (a key during the prompts stops them and starts the collection).
    Ask {
        prompts: Vec<String>,
        rules: CollectRules,
    },
    /// Look up the account's meters; the answer comes back through `handle_meters`.
    LookUpAccount(String),
    /// Play these prompts, then the dialogue is over with this end.
    Finish { prompts: Vec<String>, end: End },
}

/// How self-service ended for the call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// Everything done without an operator: the call ends, outcome `self_service`.
    Settled,
    /// To the queue, with the topic set if there is one.
    Operator { topic: Option<String> },
}
