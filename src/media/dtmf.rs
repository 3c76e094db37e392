//! DTMF input, sans-IO: the digits a caller keys, whether they arrive as RFC 4733
//! telephone-events ([`event`]) or as tones in the G.711 audio ([`goertzel`]), and the
//! collection of those digits into an answer with first-digit and inter-digit timeouts
//! ([`collector`]). The call's media task runs the decoders only while the call is
//! collecting input, never during a bridged conversation.

pub mod collector;
pub mod event;
pub mod goertzel;
pub mod keys;

/// The sixteen DTMF keys in RFC 4733 §3.2 event order: 0–9, `*`, `#`, A–D.
pub const KEYS: [char; 16] = [
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '#', 'A', 'B', 'C', 'D',
];
