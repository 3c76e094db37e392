//! Call grading, sans-IO: evaluation forms (groups of questions, each yes/no, a scale 0–N
//! or a choice of answers with points), their validation, and the score 0–100 of a set of
//! answers. The store keeps a form's definition and an evaluation's answers as JSON of
//! these types; the web computes the score here, never in the browser.
//!
//! Scoring rule: every question earns a fraction of its weight (yes = 1, no = 0; scale
//! `v / max`; choice `points / best points of that question`), the score is the earned
//! weight over the total weight, times 100, rounded to one decimal. A **critical**
//! question that earns nothing (no, 0 on the scale, a choice worth 0 points) makes the
//! whole score 0. Every question must be answered: a form is a checklist.
//!
//! Invariants: [`validate_form`] accepts only forms [`score`] can score (positive total
//! weight, a scale of at least 1, a choice question with a best answer worth points), so
//! scoring a validated form never divides by zero.

mod report;
pub mod sampling;
#[cfg(test)]
mod tests;

pub use report::{calibration, summarize, Graded, Spread, Summary, SummaryRow};

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

/// The limits of a form, so a form is something a person can fill in.
pub const MAX_QUESTIONS: usize = 200;
pub const MAX_SCALE: u32 = 100;
pub const MAX_WEIGHT: u32 = 100;

/// A form's definition (everything but its name, id and version).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FormDefinition {
    pub groups: Vec<Group>,
}

/// A titled group of questions ("Greeting", "Solving the problem", ...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Group {
    pub title: String,
    pub questions: Vec<Question>,
}

/// One question of a form. (No `deny_unknown_fields` here: serde does not support it
/// together with the flattened kind.)
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Question {
    /// The key of its answer in an evaluation's `answers`: unique in the form.
    pub id: String,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
    #[serde(flatten)]
    pub kind: QuestionKind,
    /// Its share of the score relative to the other questions (1..=100).
    #[serde(default = "one")]
    pub weight: u32,
    /// A failed critical question zeroes the score.
    #[serde(default)]
    pub critical: bool,
}

fn one() -> u32 {
    1
}

/// What kind of answer a question takes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum QuestionKind {
    /// Answered `true` or `false`.
    YesNo,
    /// Answered with an integer `0..=max`.
    Scale { max: u32 },
    /// Answered with the `value` of one of the choices.
    Choice { choices: Vec<Choice> },
}

/// One answer a choice question offers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Choice {
    pub value: String,
    pub label: String,
    pub points: u32,
}

/// An answer as given: `true`/`false`, a number, or a choice's value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Answer {
    Bool(bool),
    Number(i64),
    Text(String),
}

/// The answers of one evaluation, by question id.
pub type Answers = BTreeMap<String, Answer>;

/// Why a form or an evaluation is refused; the text names the question or group.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QualityError {
    /// The form's definition breaks a rule (see [`validate_form`]).
    #[error("invalid form: {0}")]
    Form(String),
    /// An answer is missing, unknown or of the wrong kind for its question.
    #[error("invalid answer `{question}`: {reason}")]
    Answer { question: String, reason: String },
}

fn form_error(reason: impl Into<String>) -> QualityError {
    QualityError::Form(reason.into())
}

/// Whether a question id is short and plain (`greeting`, `q1`, `tone-2`).
fn is_question_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Checks a form's name and definition: a name, at least one group, every group titled
/// and with at least one question, unique plain question ids, texts, weights 1..=100,
/// scales 1..=100, choices with unique values of which at least one is worth points.
pub fn validate_form(name: &str, form: &FormDefinition) -> Result<(), QualityError> {
    if name.trim().is_empty() || name.len() > 200 {
        return Err(form_error("name: expected 1 to 200 characters"));
    }
    if form.groups.is_empty() {
        return Err(form_error("groups: a form needs at least one group"));
    }
    let mut ids = BTreeSet::new();
    let mut count = 0;
    for (g, group) in form.groups.iter().enumerate() {
        if group.title.trim().is_empty() {
            return Err(form_error(format!("group {}: no title", g + 1)));
        }
        if group.questions.is_empty() {
            return Err(form_error(format!("group `{}`: no questions", group.title)));
        }
        for q in &group.questions {
            count += 1;
            validate_question(q)?;
            if !ids.insert(q.id.as_str()) {
                return Err(form_error(format!("question `{}`: id used twice", q.id)));
            }
        }
    }
    if count > MAX_QUESTIONS {
        return Err(form_error(format!("at most {MAX_QUESTIONS} questions")));
    }
    Ok(())
}

fn validate_question(q: &Question) -> Result<(), QualityError> {
    let bad = |reason: &str| form_error(format!("question `{}`: {reason}", q.id));
    if !is_question_id(&q.id) {
        return Err(form_error(format!(
            "question id `{}`: expected 1 to 64 letters, digits, `_` or `-`",
            q.id
        )));
    }
    if q.text.trim().is_empty() {
        return Err(bad("no text"));
    }
    if q.weight == 0 || q.weight > MAX_WEIGHT {
        return Err(bad("weight must be 1..=100"));
    }
    match &q.kind {
        QuestionKind::YesNo => {}
        QuestionKind::Scale { max } => {
            if *max == 0 || *max > MAX_SCALE {
                return Err(bad("scale max must be 1..=100"));
            }
        }
        QuestionKind::Choice { choices } => {
            if choices.len() < 2 {
                return Err(bad("a choice needs at least two answers"));
            }
            let mut values = BTreeSet::new();
            for c in choices {
                if c.value.is_empty() || c.label.trim().is_empty() {
                    return Err(bad("every answer needs a value and a label"));
                }
                if !values.insert(c.value.as_str()) {
                    return Err(bad("answer values must differ"));
                }
            }
            if choices.iter().all(|c| c.points == 0) {
                return Err(bad("at least one answer must be worth points"));
            }
        }
    }
    Ok(())
}

/// The fraction (0..=1) of its weight that an answer earns on its question.
pub fn earned(q: &Question, answer: &Answer) -> Result<f64, QualityError> {
    let wrong = |reason: &str| QualityError::Answer {
        question: q.id.clone(),
        reason: reason.to_owned(),
    };
    match (&q.kind, answer) {
        (QuestionKind::YesNo, Answer::Bool(yes)) => Ok(if *yes { 1.0 } else { 0.0 }),
        (QuestionKind::YesNo, _) => Err(wrong("expected true or false")),
        (QuestionKind::Scale { max }, Answer::Number(v)) if (0..=i64::from(*max)).contains(v) => {
            Ok(*v as f64 / f64::from(*max))
        }
        (QuestionKind::Scale { max }, _) => Err(wrong(&format!("expected an integer 0..={max}"))),
        (QuestionKind::Choice { choices }, Answer::Text(value)) => {
            let best = choices.iter().map(|c| c.points).max().unwrap_or(0);
            let chosen = choices
                .iter()
                .find(|c| &c.value == value)
                .ok_or_else(|| wrong("not one of the question's answers"))?;
            if best == 0 {
                return Err(wrong("the question has no answer worth points"));
            }
            Ok(f64::from(chosen.points) / f64::from(best))
        }
        (QuestionKind::Choice { .. }, _) => Err(wrong("expected the value of one of its answers")),
    }
}

/// The questions of a form in order, with their group's index.
pub fn questions(form: &FormDefinition) -> impl Iterator<Item = (usize, &Question)> {
    form.groups
        .iter()
        .enumerate()
        .flat_map(|(g, group)| group.questions.iter().map(move |q| (g, q)))
}

/// The score 0–100 (one decimal) of `answers` on `form` (see the module's scoring rule).
/// Every question must be answered, and nothing else.
pub fn score(form: &FormDefinition, answers: &Answers) -> Result<f64, QualityError> {
    let mut known = BTreeSet::new();
    let mut total = 0.0;
    let mut got = 0.0;
    let mut critical_failed = false;
    for (_, q) in questions(form) {
        known.insert(q.id.as_str());
        let answer = answers.get(&q.id).ok_or_else(|| QualityError::Answer {
            question: q.id.clone(),
            reason: "not answered".into(),
        })?;
        let fraction = earned(q, answer)?;
        if q.critical && fraction == 0.0 {
            critical_failed = true;
        }
        total += f64::from(q.weight);
        got += f64::from(q.weight) * fraction;
    }
    if let Some(extra) = answers.keys().find(|k| !known.contains(k.as_str())) {
        return Err(QualityError::Answer {
            question: extra.clone(),
            reason: "no such question on this form".into(),
        });
    }
    if critical_failed || total == 0.0 {
        return Ok(0.0);
    }
    Ok(round1(got / total * 100.0))
}

/// Rounded to one decimal.
pub fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}
