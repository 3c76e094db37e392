//! What the transaction layer tells its surroundings ([`TxEvent`]), why it refuses a
//! TU request ([`TxError`]), and what it counts ([`TxStats`]).
//!
//! Events are kept apart from the state enums of the four machines: the TU sees only
//! these, never a machine's state.

use rsipstack::sip::{Method, Request, Response};

use super::TxKey;
use crate::sip::Peer;

/// What the layer asks of its surroundings, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum TxEvent {
    /// Bytes to put on the wire to `peer` (UDP datagram or TCP stream write).
    Transmit { peer: Peer, data: Vec<u8> },
    /// A new request for the TU: a new server transaction was created (INVITE, BYE,
    /// OPTIONS, ...). For INVITE the layer has already sent 100 Trying. The top Via
    /// already carries `received`/`rport` (§18.2.1, RFC 3581), so responses the TU
    /// builds by copying it route back correctly.
    Request {
        key: TxKey,
        request: Request,
        source: Peer,
    },
    /// An ACK for a 2xx we sent on an INVITE server transaction (matched by Call-ID, CSeq
    /// number, From tag and the To tag of our 2xx). 2xx retransmission has stopped.
    AckFor2xx {
        invite: TxKey,
        ack: Request,
        source: Peer,
    },
    /// An ACK that matches nothing (e.g. late, or for a dialog the TU may know).
    StrayAck { ack: Request, source: Peer },
    /// CANCEL matched a pending INVITE server transaction; the layer already answered
    /// 200 to the CANCEL. The TU must now answer the INVITE with 487 (unless it already
    /// answered).
    Cancelled { invite: TxKey, cancel: Request },
    /// A response on a client transaction (provisional or final; for INVITE also 2xx
    /// retransmissions while in Accepted, so the TU can re-ACK).
    Response { key: TxKey, response: Response },
    /// A client transaction got no final response (Timer B / Timer F): treat as 408.
    Timeout { key: TxKey },
    /// No ACK arrived for our 2xx within 64*T1: the TU should end the session with BYE
    /// (§13.3.1.4).
    AckTimeout { invite: TxKey },
    /// A transaction is gone (for the TU's bookkeeping).
    Terminated { key: TxKey },
}

/// Why the layer refused a TU request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TxError {
    /// No live transaction has this key (never existed, already terminated, or a key of
    /// the other role).
    #[error("no such transaction")]
    UnknownTransaction,
    /// The transaction already sent its final response; only an INVITE in Accepted may
    /// still send another 2xx (RFC 6026).
    #[error("a final response was already sent on this transaction")]
    FinalAlreadySent,
    /// The status code is outside 100-699.
    #[error("status code {0} is not a valid SIP response code")]
    InvalidStatus(u16),
    /// The request has no top Via with a `z9hG4bK` branch (RFC 3261 §8.1.1.7).
    #[error("the request needs a top Via with a z9hG4bK branch")]
    MissingBranch,
    /// The request has no CSeq, or its CSeq method differs from the request method.
    #[error("the request's CSeq is missing or names another method")]
    BadCSeq,
    /// ACK is sent with `send_stateless`, CANCEL with `cancel`: neither opens a
    /// transaction of the TU's own.
    #[error("{0} cannot be sent through send_request")]
    MethodNotAllowed(Method),
    /// A client transaction with the same branch and method is still alive.
    #[error("a transaction with this branch and method already exists")]
    DuplicateTransaction,
    /// `cancel` was given a key that is not a client INVITE transaction.
    #[error("only client INVITE transactions can be cancelled")]
    NotAnInvite,
    /// The INVITE already got its final response: end the call with BYE instead.
    #[error("the INVITE already received a final response")]
    FinalReceived,
}

/// Counters for metrics and for spotting misbehaving peers.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TxStats {
    /// Copies sent again: timer-driven retransmissions and answers to retransmitted
    /// requests or responses.
    pub retransmissions_sent: u64,
    /// Retransmitted requests, responses and ACKs handled without involving the TU.
    pub absorbed_retransmissions: u64,
    /// Responses that matched no client transaction (dropped, §17.1.3).
    pub stray_responses: u64,
    /// ACKs that matched no server transaction (passed on as `StrayAck`).
    pub stray_acks: u64,
    /// Client transactions that ended without a final response (Timer B or F).
    pub timeouts: u64,
    /// INVITE server transactions whose final response was never ACKed (Timer H).
    pub ack_timeouts: u64,
    /// Messages dropped or answered 400 because a header transactions need was missing
    /// or broken (Via, CSeq, Call-ID, From, To), or the status code was invalid.
    pub malformed: u64,
}
