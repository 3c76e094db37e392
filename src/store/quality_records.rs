//! What the grading side of the store reads and writes, as plain values: form versions,
//! evaluations, call flags and the "to grade" list. Queries are in `quality.rs`.

/// One version of an evaluation form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormRecord {
    pub id: i64,
    /// The id of the form's first version, shared by all its versions.
    pub family: i64,
    pub version: i64,
    pub name: String,
    /// The groups and questions as JSON (`model::quality::FormDefinition`).
    pub definition: String,
    pub created_at: String,
    pub created_by: String,
}

/// An evaluation to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvaluation {
    pub call_id: String,
    pub form_id: i64,
    pub grader: String,
    pub operator_id: Option<String>,
    pub created_at: String,
    /// The score 0–100 in tenths.
    pub score_x10: i64,
    /// JSON of the answers by question id.
    pub answers: String,
    /// JSON array of `{"at_ms": n | null, "text": "..."}`.
    pub comments: String,
}

/// An evaluation as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvaluationRecord {
    pub id: i64,
    pub call_id: String,
    pub form_id: i64,
    pub grader: String,
    pub operator_id: Option<String>,
    pub created_at: String,
    pub score_x10: i64,
    pub answers: String,
    pub comments: String,
    /// `graded`, `acknowledged`, `disputed` or `resolved`.
    pub status: String,
    pub operator_comment: Option<String>,
    pub grader_reply: Option<String>,
    pub updated_at: String,
}

/// Which evaluations to list; every `Some` narrows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EvaluationFilter {
    pub operator: Option<String>,
    /// `created_at >= from`.
    pub from: Option<String>,
    /// `created_at < to`.
    pub to: Option<String>,
    pub grader: Option<String>,
    pub status: Option<String>,
    pub call_id: Option<String>,
    pub limit: u32,
}

/// One flag on a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlagRecord {
    pub call_id: String,
    pub flag: String,
    pub detail: Option<String>,
    pub created_at: String,
}

/// One entry of the "to grade" list, with the call's facts a grader picks by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueEntry {
    pub call_id: String,
    pub rule: String,
    pub assigned_to: Option<String>,
    pub created_at: String,
    pub done_at: Option<String>,
    pub operator_id: Option<String>,
    pub received_at: String,
    pub talk_ms: Option<i64>,
}
