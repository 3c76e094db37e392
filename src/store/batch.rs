//! A batch of register writes as the statements that apply it: each `Open`, `Ring` and
//! `Event` as one `INSERT`, and the `Update`s of one call merged into one `UPDATE` of only
//! the columns they carry.
//!
//! A call's row is written about eight times over its life; applied one by one, a batch
//! that holds a whole call (a busy line, a replayed spool) costs eight statements where
//! one does. Merging must not change what the batch does, so it keeps to what is provably
//! the same:
//! - An `Update` touches only its call's row, and nothing else in a batch reads or writes
//!   that row except an `Open` of the same id (which decides whether the row exists). So
//!   updates of one call with no `Open` of that id between them may run together, at the
//!   place of the last of them, without any other write seeing a difference.
//! - Later values win, as when applied one by one. But an update whose value is replaced
//!   by a later one would never reach the database, and a value the database would refuse
//!   (a CHECK, a trigger, a byte it cannot store) must still be reported as that write's
//!   refusal, with the rest of that write left unapplied. So a group only takes an update
//!   whose columns it does not carry yet, or carries with the same value: every value of
//!   every member reaches the database, and a refusal of the merged statement is a refusal
//!   of one of its members. The runner then applies the members one by one to find which.
//! - What is not covered: a rule spanning several columns written by different updates
//!   of the group (the database sees the merged row, never the rows between). The schema
//!   has none: its constraints are on single columns.

use std::collections::HashMap;

use super::dialect::Arg;
use crate::model::{format_time, CallUpdate, RegisterWrite};

/// One statement of a planned batch, in the order they run.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Step<'w> {
    /// The write at this position of the batch, run as it is (`Open`, `Ring`, `Event`).
    Insert(usize),
    /// `Update`s of one call, as one statement.
    Update(MergedUpdate<'w>),
}

/// Updates of one call merged into one `UPDATE`.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct MergedUpdate<'w> {
    pub id: &'w str,
    /// The merged updates in batch order, each with the columns it carries.
    pub members: Vec<(usize, Columns<'w>)>,
    /// Every column the members carry, with the value they give it.
    pub set: Columns<'w>,
}

/// Column names of `calls` with the values an update gives them.
pub(super) type Columns<'w> = Vec<(&'static str, Arg<'w>)>;

impl<'w> MergedUpdate<'w> {
    fn new(id: &'w str, index: usize, columns: Columns<'w>) -> Self {
        MergedUpdate {
            id,
            set: columns.clone(),
            members: vec![(index, columns)],
        }
    }

    /// Takes the update if none of its columns would replace a value of the group.
    fn take(&mut self, index: usize, columns: Columns<'w>) -> Result<(), Columns<'w>> {
        let replaces = columns.iter().any(|(column, value)| {
            self.set
                .iter()
                .any(|(have, existing)| have == column && existing != value)
        });
        if replaces {
            return Err(columns);
        }
        for (column, value) in &columns {
            if !self.set.iter().any(|(have, _)| have == column) {
                self.set.push((column, value.clone()));
            }
        }
        self.members.push((index, columns));
        Ok(())
    }
}

/// The statements that apply `writes`, in the order to run them.
pub(super) fn plan(writes: &[RegisterWrite]) -> Vec<Step<'_>> {
    let mut steps = Vec::with_capacity(writes.len());
    let mut pending: HashMap<&str, MergedUpdate<'_>> = HashMap::new();
    for (index, write) in writes.iter().enumerate() {
        match write {
            RegisterWrite::Update { id, update } => {
                let columns = columns(update);
                let columns = match pending.get_mut(id.as_str()) {
                    Some(group) => match group.take(index, columns) {
                        Ok(()) => continue,
                        Err(columns) => {
                            let group = pending.remove(id.as_str()).expect("just found");
                            steps.push(Step::Update(group));
                            columns
                        }
                    },
                    None => columns,
                };
                pending.insert(id, MergedUpdate::new(id, index, columns));
            }
            RegisterWrite::Open(call) => {
                // The updates before it ran against the row as it was without this Open.
                if let Some(group) = pending.remove(call.id.as_str()) {
                    steps.push(Step::Update(group));
                }
                steps.push(Step::Insert(index));
            }
            RegisterWrite::Ring(_) | RegisterWrite::Event(_) => steps.push(Step::Insert(index)),
        }
    }
    let mut rest: Vec<MergedUpdate<'_>> = pending.into_values().collect();
    rest.sort_by_key(|group| group.members[0].0);
    steps.extend(rest.into_iter().map(Step::Update));
    steps
}

/// The columns an update carries, with the register's text for each value. Every field is
/// named here (a field added to `CallUpdate` fails to compile until it is written).
pub(super) fn columns(update: &CallUpdate) -> Columns<'_> {
    let CallUpdate {
        answered_at,
        queued_at,
        connected_at,
        ended_at,
        operator_id,
        wait_ms,
        talk_ms,
        outcome,
        hangup_by,
        final_status,
        end_reason,
        recording_path,
        recording_ms,
        recording_bytes,
        recording_sha256,
        recording_error,
        notice_played_at,
        notice_completed,
        topic,
    } = update;
    let time = |t: &Option<jiff::Timestamp>| t.map(|t| Arg::from(format_time(t)));
    fn text(v: &Option<String>) -> Option<Arg<'_>> {
        v.as_deref().map(Arg::from)
    }
    let int = |v: &Option<i64>| v.map(Arg::from);
    [
        ("answered_at", time(answered_at)),
        ("queued_at", time(queued_at)),
        ("connected_at", time(connected_at)),
        ("ended_at", time(ended_at)),
        ("operator_id", text(operator_id)),
        ("wait_ms", int(wait_ms)),
        ("talk_ms", int(talk_ms)),
        ("outcome", outcome.map(|o| Arg::from(o.as_str()))),
        ("hangup_by", hangup_by.map(|h| Arg::from(h.as_str()))),
        (
            "final_status",
            final_status.map(|s| Arg::from(i64::from(s))),
        ),
        ("end_reason", end_reason.map(|r| Arg::from(r.as_str()))),
        ("recording_path", text(recording_path)),
        ("recording_ms", int(recording_ms)),
        ("recording_bytes", int(recording_bytes)),
        ("recording_sha256", text(recording_sha256)),
        ("recording_error", text(recording_error)),
        ("notice_played_at", time(notice_played_at)),
        (
            "notice_completed",
            notice_completed.map(|b| Arg::from(i64::from(b))),
        ),
        ("topic", text(topic)),
    ]
    .into_iter()
    .filter_map(|(column, value)| value.map(|value| (column, value)))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{NewCall, Outcome, RingAttempt, RingResult};

    fn at(s: &str) -> jiff::Timestamp {
        s.parse().expect("timestamp")
    }

    fn open(id: &str) -> RegisterWrite {
        RegisterWrite::Open(NewCall {
            id: id.into(),
            sip_call_id: "s".into(),
            caller: "c".into(),
            dialed: "d".into(),
            source: "src".into(),
            received_at: at("2026-11-24T15:00:00Z"),
            direction: crate::model::CallDirection::Inbound,
        })
    }

    fn update(id: &str, update: CallUpdate) -> RegisterWrite {
        RegisterWrite::Update {
            id: id.into(),
            update,
        }
    }

    fn ring(id: &str) -> RegisterWrite {
        RegisterWrite::Ring(RingAttempt {
            call_id: id.into(),
            operator_id: "101".into(),
            started_at: at("2026-11-24T15:00:01Z"),
            ended_at: at("2026-11-24T15:00:02Z"),
            result: RingResult::NoAnswer,
        })
    }

    fn queued() -> CallUpdate {
        CallUpdate {
            queued_at: Some(at("2026-11-24T15:00:05Z")),
            ..CallUpdate::default()
        }
    }

    fn wait(ms: i64) -> CallUpdate {
        CallUpdate {
            wait_ms: Some(ms),
            ..CallUpdate::default()
        }
    }

    /// Each step as text: `I3` an insert, `U[1,4]` the updates at 1 and 4 merged.
    fn shape(steps: &[Step<'_>]) -> Vec<String> {
        steps
            .iter()
            .map(|s| match s {
                Step::Insert(i) => format!("I{i}"),
                Step::Update(u) => format!(
                    "U{:?}",
                    u.members.iter().map(|(i, _)| *i).collect::<Vec<_>>()
                ),
            })
            .collect()
    }

    #[test]
    fn a_call_s_updates_become_one_statement_after_its_open() {
        let writes = [
            open("a"),
            update("a", queued()),
            ring("a"),
            open("b"),
            update("b", wait(1)),
            update("a", wait(5)),
            update(
                "a",
                CallUpdate {
                    outcome: Some(Outcome::Answered),
                    wait_ms: Some(5),
                    ..CallUpdate::default()
                },
            ),
        ];
        let steps = plan(&writes);
        assert_eq!(shape(&steps), ["I0", "I2", "I3", "U[1, 5, 6]", "U[4]"]);
        let Step::Update(a) = &steps[3] else {
            panic!("an update")
        };
        assert_eq!(a.id, "a");
        let set: Vec<&str> = a.set.iter().map(|(c, _)| *c).collect();
        assert_eq!(set, ["queued_at", "wait_ms", "outcome"], "each column once");
        assert_eq!(a.set[0].1, Arg::from("2026-11-24T15:00:05.000Z".to_owned()));
    }

    #[test]
    fn an_open_of_the_same_call_closes_the_group_before_it() {
        // An update before its Open finds no row; the Open must not be moved behind it.
        let writes = [update("a", queued()), open("a"), update("a", wait(5))];
        assert_eq!(shape(&plan(&writes)), ["U[0]", "I1", "U[2]"]);
    }

    #[test]
    fn a_value_replaced_by_a_later_update_starts_a_new_group() {
        // Both values must reach the database, in order, so the first could be refused
        // on its own.
        let writes = [
            update("a", wait(5)),
            update("a", queued()),
            update("a", wait(7)),
        ];
        assert_eq!(shape(&plan(&writes)), ["U[0, 1]", "U[2]"]);
    }

    #[test]
    fn an_update_that_carries_nothing_still_has_its_step() {
        let writes = [update("a", CallUpdate::default())];
        let steps = plan(&writes);
        assert_eq!(shape(&steps), ["U[0]"]);
        let Step::Update(u) = &steps[0] else {
            panic!("an update")
        };
        assert!(u.set.is_empty());
    }

    #[test]
    fn every_field_of_an_update_is_a_column() {
        let full = CallUpdate {
            answered_at: Some(at("2026-11-24T15:00:00Z")),
            queued_at: Some(at("2026-11-24T15:00:00Z")),
            connected_at: Some(at("2026-11-24T15:00:00Z")),
            ended_at: Some(at("2026-11-24T15:00:00Z")),
            operator_id: Some("101".into()),
            wait_ms: Some(1),
            talk_ms: Some(2),
            outcome: Some(Outcome::Answered),
            hangup_by: Some(crate::model::HangupBy::Caller),
            final_status: Some(200),
            end_reason: Some(crate::model::EndReason::CallerBye),
            recording_path: Some("p".into()),
            recording_ms: Some(3),
            recording_bytes: Some(4),
            recording_sha256: Some("h".into()),
            recording_error: Some("e".into()),
            notice_played_at: Some(at("2026-11-24T15:00:00Z")),
            notice_completed: Some(false),
            topic: Some("billing".into()),
        };
        let all = columns(&full);
        assert_eq!(all.len(), 19);
        assert!(all.contains(&("topic", Arg::from("billing"))));
        assert!(all.contains(&("notice_completed", Arg::Int(Some(0)))));
        assert!(all.contains(&("final_status", Arg::Int(Some(200)))));
        assert!(columns(&CallUpdate::default()).is_empty());
    }
}
