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
}
