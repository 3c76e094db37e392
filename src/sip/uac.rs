//! `hotline` as a user-agent client towards its provider: registration (RFC 3261 §10)
//! with digest authentication ([`register`]), and the small reader of responses both use
//! ([`response`]).
//!
//! Like the rest of `sip`, nothing here touches a socket or a clock: the runtime feeds
//! received bytes and the current time in, and takes bytes to send and deadlines out.

pub mod options;
pub mod register;
pub mod response;

#[cfg(test)]
mod register_tests;

pub use options::{OptionsPing, PingResult, PingSettings};
pub use register::{
    Registration, RegistrationPhase, RegistrationSettings, RegistrationStatus, RETRY_MAX, RETRY_MIN,
};
pub use response::ResponseHead;
