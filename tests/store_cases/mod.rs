//! The call register's behaviour, written once and run against every backend
//! (`tests/store_sqlite.rs`, `tests/store_postgres.rs`): what one backend answers, the other
//! must answer the same way.
//!
//! `store_cases!(Harness)` expands to one `#[tokio::test]` per case of the modules below;
//! a [`Harness`] gives each case an empty register of its own and a side door for raw SQL.
#![allow(dead_code)]

use std::future::Future;

use hotline::model::{
    CallDirection, CallEvent, CallEventKind, CallUpdate, NewCall, RegisterWrite, RingAttempt,
};
use hotline::store::Store;
use jiff::Timestamp;

mod batches;
mod events;
mod quality;
mod rows;
mod search;
mod throughput;
mod worklist;
mod writer;
pub use batches::*;
pub use events::*;
pub use quality::*;
pub use rows::*;
pub use search::*;
pub use throughput::*;
pub use worklist::*;
pub use writer::*;

/// One empty register on one backend.
pub trait Harness: Sized {
    fn new() -> impl Future<Output = Self>;
    fn url(&self) -> String;
    /// Runs one statement (no parameters) on a connection of its own.
    fn exec(&self, sql: &str) -> impl Future<Output = Result<u64, sqlx::Error>>;
    /// Statements that make the database refuse any update setting `end_reason =
    /// 'bad_contact'` and any ring attempt of operator `poison`
    /// (a stand-in for any constraint the database might enforce on one write).
    const POISON: &'static [&'static str];

    fn store(&self, max_connections: u32) -> impl Future<Output = Store> {
        let url = self.url();
        async move {
            Store::open(&url, max_connections)
                .await
                .unwrap_or_else(|e| panic!("open register: {e}"))
        }
    }
}

/// One `#[tokio::test]` per shared case, on the backend of `$harness`.
#[macro_export]
macro_rules! store_cases {
    ($harness:ty) => {
        $crate::store_cases!(@cases $harness;
            open_and_update_round_trip_every_column,
            an_update_leaves_absent_fields_alone,
            the_schema_rejects_unknown_outcomes_and_hangup_parties,
            inapplicable_writes_are_skipped_and_the_batch_commits,
            a_refused_write_does_not_abort_the_transaction,
            applying_a_batch_twice_changes_nothing,
            ring_attempts_are_ordered_and_counted_once,
            mark_interrupted_closes_rows_left_in_progress,
            recent_calls_and_call_id_lookups_are_ordered,
            calls_with_recordings_lists_what_verify_checks,
            a_call_s_updates_in_one_batch_apply_as_if_one_by_one,
            call_events_are_kept_once_and_read_in_time_order,
            menu_events_and_the_chosen_topic_are_stored,
            writer_retries_through_an_outage_without_losing_writes,
            forms_get_a_new_version_once_evaluated,
            evaluations_are_listed_filtered_and_answered_once,
            flags_are_kept_once_per_kind,
            operator_users_carry_their_operator_id,
            missed_calls_merge_per_number_into_the_worklist,
            call_backs_are_linked_and_decide_the_item_s_state,
            failed_call_backs_make_an_item_unreachable_and_a_new_call_starts_the_count_again,
            max_attempts_zero_never_makes_an_item_unreachable_by_count,
            searches_by_caller_find_exactly_the_calls_holding_the_digits
        );
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn writer_under_load_loses_and_duplicates_nothing() {
            store_cases::writer_under_load_loses_and_duplicates_nothing(
                &<$harness as store_cases::Harness>::new().await,
            )
            .await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        #[ignore = "a measurement: run with --ignored --nocapture"]
        async fn register_write_throughput() {
            store_cases::register_write_throughput(
                &<$harness as store_cases::Harness>::new().await,
            )
            .await;
        }
    };
    (@cases $harness:ty; $($case:ident),*) => {
        $(
            #[tokio::test]
            async fn $case() {
                store_cases::$case(&<$harness as store_cases::Harness>::new().await).await;
            }
        )*
    };
}

pub fn ts(text: &str) -> Timestamp {
    text.parse().expect("valid timestamp literal")
}

pub fn new_call(id: &str, received_at: &str) -> NewCall {
    NewCall {
        id: id.to_owned(),
        sip_call_id: format!("{id}@trunk.example"),
        caller: "+79111234567".to_owned(),
        dialed: "792112".to_owned(),
        source: "udp:192.0.2.1:5060".to_owned(),
        received_at: ts(received_at),
        direction: CallDirection::Inbound,
    }
}

pub fn open(id: &str) -> RegisterWrite {
    RegisterWrite::Open(new_call(id, "2026-11-24T15:21:47Z"))
}

pub fn update(id: &str, update: CallUpdate) -> RegisterWrite {
    RegisterWrite::Update {
        id: id.to_owned(),
        update,
    }
}

pub fn ring(call_id: &str, operator_id: &str, started_at: &str, result: &str) -> RegisterWrite {
    RegisterWrite::Ring(RingAttempt {
        call_id: call_id.to_owned(),
        operator_id: operator_id.to_owned(),
        started_at: ts(started_at),
        ended_at: ts(started_at) + jiff::SignedDuration::from_secs(3),
        result: hotline::model::RingResult::parse(result).expect("a ring result"),
    })
}

pub fn event(call_id: &str, at: &str, kind: CallEventKind, detail: Option<&str>) -> RegisterWrite {
    RegisterWrite::Event(CallEvent {
        call_id: call_id.to_owned(),
        at: ts(at),
        kind,
        detail: detail.map(str::to_owned),
    })
}

pub fn is_check_violation(err: &sqlx::Error) -> bool {
    err.as_database_error()
        .is_some_and(|e| e.is_check_violation())
}
