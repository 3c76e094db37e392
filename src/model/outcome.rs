//! How a call ended, in the register's words: the outcome QA filters on, who hung up, why.
//! Each is stored as its snake_case name.

/// How a call ended, as QA reads it. Stored as the snake_case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// Still going (the value a row is opened with).
    InProgress,
    /// Outside working hours: the after-hours message was played.
    AfterHours,
    /// Talked to an operator.
    Answered,
    /// The caller left while waiting or while an operator rang.
    Abandoned,
    /// The maximum wait was reached.
    Overflow,
    /// Nobody was logged in.
    NoOperators,
    /// Refused at the door (403, 404, 488, 503…): see `final_status`.
    Rejected,
    /// Something went wrong on our side or in the network (see `end_reason`).
    Failed,
    /// The server stopped (or crashed) during the call.
    Interrupted,
    /// Settled by self-service without an operator (every meter reading handed in).
    SelfService,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::InProgress => "in_progress",
            Outcome::AfterHours => "after_hours",
            Outcome::Answered => "answered",
            Outcome::Abandoned => "abandoned",
            Outcome::Overflow => "overflow",
            Outcome::NoOperators => "no_operators",
            Outcome::Rejected => "rejected",
            Outcome::Failed => "failed",
            Outcome::Interrupted => "interrupted",
            Outcome::SelfService => "self_service",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "in_progress" => Outcome::InProgress,
            "after_hours" => Outcome::AfterHours,
            "answered" => Outcome::Answered,
            "abandoned" => Outcome::Abandoned,
            "overflow" => Outcome::Overflow,
            "no_operators" => Outcome::NoOperators,
            "rejected" => Outcome::Rejected,
            "failed" => Outcome::Failed,
            "interrupted" => Outcome::Interrupted,
            "self_service" => Outcome::SelfService,
            _ => return None,
        })
    }
}

/// Who ended the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HangupBy {
    Caller,
    Operator,
    System,
}

impl HangupBy {
    pub fn as_str(self) -> &'static str {
        match self {
            HangupBy::Caller => "caller",
            HangupBy::Operator => "operator",
            HangupBy::System => "system",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "caller" => HangupBy::Caller,
            "operator" => HangupBy::Operator,
            "system" => HangupBy::System,
            _ => return None,
        })
    }
}

/// How one ring of an operator's phone ended (the `ring_attempts.result` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RingResult {
    /// The operator answered and was connected to the caller.
    Answered,
    /// Nobody picked up within the ring timeout (we cancelled), or the phone gave up on
    /// its own (408, 480).
    NoAnswer,
    /// The caller hung up (or the call ended) while the phone rang.
    CallerGone,
    /// 486 Busy Here or 600 Busy Everywhere.
    Busy,
    /// 603 Decline.
    Declined,
    /// Anything else: another final response, no response at all, an unusable answer, a
    /// phone that could not be reached.
    Error,
}

impl RingResult {
    pub fn as_str(self) -> &'static str {
        match self {
            RingResult::Answered => "answered",
            RingResult::NoAnswer => "no_answer",
            RingResult::CallerGone => "caller_gone",
            RingResult::Busy => "busy",
            RingResult::Declined => "declined",
            RingResult::Error => "error",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "answered" => RingResult::Answered,
            "no_answer" => RingResult::NoAnswer,
            "caller_gone" => RingResult::CallerGone,
            "busy" => RingResult::Busy,
            "declined" => RingResult::Declined,
            "error" => RingResult::Error,
            _ => return None,
        })
    }

    /// What a final response to our INVITE says about the ring (RFC 3261 §21).
    pub fn from_status(status: u16) -> RingResult {
        match status {
            200..=299 => RingResult::Answered,
            408 | 480 => RingResult::NoAnswer,
            486 | 600 => RingResult::Busy,
            603 => RingResult::Declined,
            _ => RingResult::Error,
        }
    }

    pub const ALL: [RingResult; 6] = [
        RingResult::Answered,
        RingResult::NoAnswer,
        RingResult::CallerGone,
        RingResult::Busy,
        RingResult::Declined,
        RingResult::Error,
    ];
}

/// Why a call ended, in more detail than its outcome (the `end_reason` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EndReason {
    /// The after-hours (or a farewell) message was played to its end; we hung up.
    PromptDone,
    /// An operator's feature code was confirmed; we hung up.
    FeatureDone,
    /// The caller sent BYE.
    CallerBye,
    /// The caller sent CANCEL before we answered.
    CallerCancel,
    /// The operator sent BYE.
    OperatorBye,
    /// No RTP from a leg for `media.rtp_timeout`.
    RtpTimeout,
    /// Our 200 OK was never acknowledged (RFC 3261 §13.3.1.4).
    NoAck,
    /// The caller waited `queue.max_wait`.
    MaxWait,
    /// Nobody was logged in to take the call.
    NoOperators,
    /// The server stopped during the call (shutdown grace over).
    Shutdown,
    /// The server found the call unfinished after a crash or a hard stop.
    ServerRestart,
    /// The INVITE had no Contact we could call back.
    BadContact,
    /// No RTP port could be bound.
    NoMediaPort,
    /// An operator's answer the queue no longer expected.
    AnswerNotExpected,
    /// Refused at the door: draining for shutdown (503).
    ShuttingDown,
    /// Refused at the door: source not in `trunk.allow` (403).
    SourceNotAllowed,
    /// Refused at the door: a number that is not ours (404).
    NotOurNumber,
    /// Refused at the door: Max-Forwards exhausted (483).
    TooManyHops,
    /// Refused at the door: the SDP could not be read (400).
    SdpMalformed,
    /// Refused at the door: no audio stream offered (488).
    SdpNoAudio,
    /// Refused at the door: no codec in common (488).
    NoCommonCodec,
    /// Refused at the door: an INVITE without an offer (488).
    SdpMissing,
    /// Refused at the door: an offer we will not take (multicast or unspecified address,
    /// too many m-lines or attributes, too large) (488).
    SdpUnacceptable,
    /// Refused at the door: a session timer shorter than our minimum (422, RFC 4028).
    SessionTooSmall,
    /// Refused at the door: `limits.max_calls` calls in progress (503 with Retry-After).
    TooManyCalls,
    /// `limits.max_waiting` callers already waited: the overflow message at once.
    QueueFull,
    /// The session timer ran out (RFC 4028 §10): our refresh was answered 408 or 481, or
    /// not at all, or the peer's refresh never came; we hung up both legs.
    SessionExpired,
}

impl EndReason {
    pub const ALL: [EndReason; 27] = [
        EndReason::PromptDone,
        EndReason::FeatureDone,
        EndReason::CallerBye,
        EndReason::CallerCancel,
        EndReason::OperatorBye,
        EndReason::RtpTimeout,
        EndReason::NoAck,
        EndReason::MaxWait,
        EndReason::NoOperators,
        EndReason::Shutdown,
        EndReason::ServerRestart,
        EndReason::BadContact,
        EndReason::NoMediaPort,
        EndReason::AnswerNotExpected,
        EndReason::ShuttingDown,
        EndReason::SourceNotAllowed,
        EndReason::NotOurNumber,
        EndReason::TooManyHops,
        EndReason::SdpMalformed,
        EndReason::SdpNoAudio,
        EndReason::NoCommonCodec,
        EndReason::SdpMissing,
        EndReason::SdpUnacceptable,
        EndReason::SessionTooSmall,
        EndReason::TooManyCalls,
        EndReason::QueueFull,
        EndReason::SessionExpired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::PromptDone => "prompt_done",
            EndReason::FeatureDone => "feature_done",
            EndReason::CallerBye => "caller_bye",
            EndReason::CallerCancel => "caller_cancel",
            EndReason::OperatorBye => "operator_bye",
            EndReason::RtpTimeout => "rtp_timeout",
            EndReason::NoAck => "no_ack",
            EndReason::MaxWait => "max_wait",
            EndReason::NoOperators => "no_operators",
            EndReason::Shutdown => "shutdown",
            EndReason::ServerRestart => "server_restart",
            EndReason::BadContact => "bad_contact",
            EndReason::NoMediaPort => "no_media_port",
            EndReason::AnswerNotExpected => "answer_not_expected",
            EndReason::ShuttingDown => "shutting_down",
            EndReason::SourceNotAllowed => "source_not_allowed",
            EndReason::NotOurNumber => "not_our_number",
            EndReason::TooManyHops => "too_many_hops",
            EndReason::SdpMalformed => "sdp_malformed",
            EndReason::SdpNoAudio => "sdp_no_audio",
            EndReason::NoCommonCodec => "no_common_codec",
            EndReason::SdpMissing => "sdp_missing",
            EndReason::SdpUnacceptable => "sdp_unacceptable",
            EndReason::SessionTooSmall => "session_interval_too_small",
            EndReason::TooManyCalls => "too_many_calls",
            EndReason::QueueFull => "queue_full",
            EndReason::SessionExpired => "session_expired",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        EndReason::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcome_names_round_trip() {
        for o in [
            Outcome::InProgress,
            Outcome::AfterHours,
            Outcome::Answered,
            Outcome::Abandoned,
            Outcome::Overflow,
            Outcome::NoOperators,
            Outcome::Rejected,
            Outcome::Failed,
            Outcome::Interrupted,
        ] {
            assert_eq!(Outcome::parse(o.as_str()), Some(o));
        }
    }

    #[test]
    fn ring_results_and_end_reasons_round_trip() {
        for r in RingResult::ALL {
            assert_eq!(RingResult::parse(r.as_str()), Some(r));
        }
        for r in EndReason::ALL {
            assert_eq!(EndReason::parse(r.as_str()), Some(r));
        }
        assert_eq!(RingResult::parse("cancelled"), None);
    }
}
