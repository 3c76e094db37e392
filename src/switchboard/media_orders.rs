//! What the switchboard asks of a call's media, and what the media path reports back.
//!
//! Plain values: the runtime's per-call media task carries the orders out (prompts, hold
//! music, bridging the operator leg) and reports `MediaEvent`s. A playback carries a `tag`
//! so that a `PromptFinished` for a playback that was since replaced is recognised as stale.

use crate::media::relay::LegConfig;
use crate::media::Leg;
use crate::sdp::Negotiated;

/// The recorded prompts (files in `[prompts]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PromptKind {
    AfterHours,
    Greeting,
    RecordingNotice,
    PleaseWait,
    NoOperators,
    Overflow,
    /// "Вы N-й в очереди" (1..=9), or "more than nine" for anything larger.
    Position(usize),
    /// "Примерное время ожидания — N минут" (1..=10), or "more than ten".
    WaitMinutes(u32),
    HoldMusic,
    /// Feature codes *50 / *51 confirm with these.
    Paused,
    Resumed,
    /// The topic menu ("for meter readings press 1 …").
    Menu,
    /// "Your choice was not recognised", before the menu again.
    MenuRetry,
    /// A prompt of the readings dialogue (its questions, reasons, digits read back).
    Dialogue(super::self_service::prompt::DialoguePrompt),
}

/// An order for a call's media task.
#[derive(Debug, Clone, PartialEq)]
pub enum MediaOrder {
    /// Play these prompts one after another to the caller; `looped` repeats the whole list
    /// until replaced. A finished (not looped) playback reports `PromptFinished { tag }`.
    Play {
        prompts: Vec<PromptKind>,
        looped: bool,
        tag: u32,
    },
    /// Connect the operator leg (its socket was opened with `OpenOperatorMedia`) and relay
    /// both ways; playback to the caller stops.
    Bridge { operator: LegConfig },
    /// The operator put the caller on hold: the caller hears hold music, the operator nothing.
    Hold,
    /// Back from hold: relay both ways again.
    Unhold,
    /// Stop the prompt playing to the caller (a key pressed during a question).
    StopPlayback,
    /// Report the caller's keys as `MediaEvent::Key` (true) or stop (false).
    CollectKeys(bool),
    /// A new offer/answer on a leg (re-INVITE or UPDATE, RFC 3264 §8): from now on send to
    /// `media.sdp_addr` (and latch again to where the peer's RTP then comes from), in its
    /// codec and payload types. `send`: whether we send RTP to this peer at all (false
    /// when it offered `sendonly` or `inactive`: it put us on hold). `receive`: whether the
    /// peer is expected to send (false when it offered `recvonly` or `inactive`): its
    /// silence then is not inactivity.
    Update {
        leg: Leg,
        media: LegConfig,
        send: bool,
        receive: bool,
    },
}

/// What the media path reports about a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaEvent {
    /// A playback (not looped) reached its end.
    PromptFinished { tag: u32 },
    /// No RTP from this leg for `media.rtp_timeout`.
    Inactive { leg: Leg },
    /// The caller pressed a key while keys were collected.
    Key { key: char },
}

/// The media of one leg as negotiated with its peer: where to send, in what codec.
pub fn leg_media(n: &Negotiated) -> LegConfig {
    LegConfig {
        codec: n.codec,
        payload_type: n.payload_type,
        telephone_event: n.telephone_event,
        sdp_addr: n.remote,
        srtp: None,
    }
}
