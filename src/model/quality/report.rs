//! The quality reports, computed from graded evaluations: average score per operator, per
//! form group and per question, the weekly trend, how many calls were graded, and the
//! calibration spread of calls graded by several graders. Plain arithmetic over values the
//! caller read from the register, so the same figures come out of both databases.

use std::collections::BTreeMap;

use super::{earned, questions, round1, Answers, FormDefinition};

/// One evaluation, as the reports need it.
#[derive(Debug, Clone)]
pub struct Graded<'a> {
    pub call_id: &'a str,
    pub operator_id: Option<&'a str>,
    pub grader: &'a str,
    /// The week it belongs to (the caller's choice of key, e.g. the Monday `YYYY-MM-DD`).
    pub week: String,
    pub score: f64,
    pub form: &'a FormDefinition,
    pub answers: &'a Answers,
}

/// One line of a report: what it is about, how many answers, and their average (0–100).
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryRow {
    pub key: String,
    pub label: String,
    pub evaluations: u64,
    pub average: f64,
}

/// Every figure of the quality report over a period.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Summary {
    pub evaluations: u64,
    /// Distinct calls graded.
    pub calls_graded: u64,
    pub average: Option<f64>,
    pub by_operator: Vec<SummaryRow>,
    /// Per group title: the average of the group's own score (its questions' weighted
    /// share, 0–100, criticals not applied).
    pub by_group: Vec<SummaryRow>,
    /// Per question id: the average fraction earned, as 0–100.
    pub by_question: Vec<SummaryRow>,
    pub by_week: Vec<SummaryRow>,
}

#[derive(Default)]
struct Acc {
    label: String,
    n: u64,
    sum: f64,
}

impl Acc {
    fn add(&mut self, label: &str, v: f64) {
        if self.label.is_empty() {
            self.label = label.to_owned();
        }
        self.n += 1;
        self.sum += v;
    }
}

fn rows(map: BTreeMap<String, Acc>) -> Vec<SummaryRow> {
    map.into_iter()
        .map(|(key, a)| SummaryRow {
            key,
            label: a.label,
            evaluations: a.n,
            average: round1(a.sum / a.n.max(1) as f64),
        })
        .collect()
}

/// The report over `graded` (any order).
pub fn summarize(graded: &[Graded<'_>]) -> Summary {
    let mut by_operator: BTreeMap<String, Acc> = BTreeMap::new();
    let mut by_group: BTreeMap<String, Acc> = BTreeMap::new();
    let mut by_question: BTreeMap<String, Acc> = BTreeMap::new();
    let mut by_week: BTreeMap<String, Acc> = BTreeMap::new();
    let mut calls = std::collections::BTreeSet::new();
    let mut sum = 0.0;
    for e in graded {
        calls.insert(e.call_id);
        sum += e.score;
        let op = e.operator_id.unwrap_or("");
        by_operator
            .entry(op.to_owned())
            .or_default()
            .add(op, e.score);
        by_week
            .entry(e.week.clone())
            .or_default()
            .add(&e.week, e.score);
        let mut group_acc: BTreeMap<usize, (f64, f64)> = BTreeMap::new();
        for (g, q) in questions(e.form) {
            let Some(fraction) = e.answers.get(&q.id).and_then(|a| earned(q, a).ok()) else {
                continue;
            };
            by_question
                .entry(q.id.clone())
                .or_default()
                .add(&q.text, fraction * 100.0);
            let acc = group_acc.entry(g).or_default();
            acc.0 += f64::from(q.weight) * fraction;
            acc.1 += f64::from(q.weight);
        }
        for (g, (got, total)) in group_acc {
            let title = &e.form.groups[g].title;
            if total > 0.0 {
                by_group
                    .entry(title.clone())
                    .or_default()
                    .add(title, got / total * 100.0);
            }
        }
    }
    Summary {
        evaluations: graded.len() as u64,
        calls_graded: calls.len() as u64,
        average: (!graded.is_empty()).then(|| round1(sum / graded.len() as f64)),
        by_operator: rows(by_operator),
        by_group: rows(by_group),
        by_question: rows(by_question),
        by_week: rows(by_week),
    }
}

/// How far apart the graders of one call were.
#[derive(Debug, Clone, PartialEq)]
pub struct Spread {
    pub call_id: String,
    pub graders: u64,
    pub min: f64,
    pub max: f64,
    /// Population standard deviation of their scores.
    pub std_dev: f64,
}

/// The spread of every call graded by two or more different graders, by call id.
pub fn calibration(graded: &[Graded<'_>]) -> Vec<Spread> {
    let mut by_call: BTreeMap<&str, BTreeMap<&str, f64>> = BTreeMap::new();
    for e in graded {
        // A grader who graded a call twice counts with their latest (last given) score.
        by_call
            .entry(e.call_id)
            .or_default()
            .insert(e.grader, e.score);
    }
    by_call
        .into_iter()
        .filter(|(_, graders)| graders.len() >= 2)
        .map(|(call_id, graders)| {
            let scores: Vec<f64> = graders.values().copied().collect();
            let n = scores.len() as f64;
            let mean = scores.iter().sum::<f64>() / n;
            let var = scores.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / n;
            Spread {
                call_id: call_id.to_owned(),
                graders: scores.len() as u64,
                min: scores.iter().copied().fold(f64::INFINITY, f64::min),
                max: scores.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                std_dev: (var.sqrt() * 100.0).round() / 100.0,
            }
        })
        .collect()
}
