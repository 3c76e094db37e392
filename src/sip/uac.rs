//! `hotline` as a user-agent client towards its provider: registration (RFC 3261 §10)
//! with digest authentication ([`register`]), the OPTIONS keepalive ([`options`]), the
//! outbound INVITE's request, digest retry and outcomes ([`outbound`]), and the small
//! reader of responses they share ([`response`]).
//!
//! Like the rest of `sip`, nothing here touches a socket or a clock: the runtime feeds
//! received bytes and the current time in, and takes bytes to send and deadlines out.

pub mod options;
pub mod outbound;
pub mod register;
pub mod response;

#[cfg(test)]
mod register_tests;

pub use options::{OptionsPing, PingResult, PingSettings};
pub use outbound::{InviteAuth, OutboundInvite, OutboundOutcome};
pub use register::{
    Registration, RegistrationPhase, RegistrationSettings, RegistrationStatus, RETRY_MAX, RETRY_MIN,
};
pub use response::ResponseHead;
