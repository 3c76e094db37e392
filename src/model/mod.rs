//! Plain data shared by every layer: what a call is in the register (new rows, updates,
//! ring attempts, the row read back), how it ended (outcomes, who hung up), public call
//! ids, the live board's values, and time (the `Now` every sans-IO core takes as input,
//! and the register's one text format for instants).
//!
//! Depends on no other module of this crate: the switchboard writes these values, the
//! store persists them, the web serves them, and none of them needs to know the others.

pub mod call_id;
pub mod callback;
pub mod live;
pub mod meters;
mod outcome;
pub mod provider;
pub mod quality;
mod record;
mod time;
pub mod topic;
mod writes;

pub use call_id::{is_call_id, new_call_id};
pub use live::{CallBackLive, LiveSnapshot, OperatorLive, WaitingLive};
pub use outcome::{EndReason, HangupBy, Outcome, RingResult};
pub use provider::{ProviderPing, ProviderState};
pub use record::CallRecord;
pub use time::{format_time, Now};
pub use writes::{
    CallDirection, CallEvent, CallEventKind, CallUpdate, NewCall, RecordingResult, RegisterWrite,
    RingAttempt,
};
