//! A call-back as the console asks for it and the line answers: plain values the web side
//! and the switchboard share (through the runtime's channel), so the web does not reach
//! into the call logic.

/// What the console asked for: call back the number of worklist item `item`, through
/// `operator`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallBackRequest {
    pub item: i64,
    /// The item's own number (never one typed by a person).
    pub number: String,
    pub operator: String,
    /// Who pressed "call back" (a console user or the operator), for the log.
    pub requested_by: String,
    /// The topic of the item's latest missed call that has one, for the live board.
    pub topic: Option<String>,
}

/// Why a call-back was not started.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallBackRefused {
    #[error("no provider is configured or registered")]
    NoProvider,
    #[error("the line is shutting down")]
    ShuttingDown,
    #[error("no operator {0:?} in the configuration")]
    UnknownOperator(String),
    #[error("operator {0} is not registered")]
    NotRegistered(String),
    #[error("operator {0} is not free")]
    OperatorBusy(String),
    #[error("the worklist item's number is not a phone number")]
    NotANumber,
}
