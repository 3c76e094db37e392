//! Batches as `Store::apply` takes them: writes skipped alone, replays that change nothing,
//! ring attempts kept once and in order, and a call's updates merged into one statement.

use hotline::model::{CallUpdate, EndReason, Outcome, RegisterWrite};
use hotline::store::StoreError;

use super::{new_call, open, ring, ts, update, Harness};

pub async fn inapplicable_writes_are_skipped_and_the_batch_commits<H: Harness>(h: &H) {
    let store = h.store(1).await;
    store.apply(&[open("c0")]).await.expect("apply");
    for sql in H::POISON {
        h.exec(sql).await.expect("poison trigger");
    }
    let answered = CallUpdate {
        outcome: Some(Outcome::Answered),
        ..CallUpdate::default()
    };
    let poison = CallUpdate {
        end_reason: Some(EndReason::BadContact),
        outcome: Some(Outcome::Failed),
        ..CallUpdate::default()
    };
    let mut duplicate = new_call("c0", "2027-01-01T00:00:00Z");
    duplicate.caller = "someone else".to_owned();
    let report = store
        .apply(&[
            open("c1"),
            update("missing", answered.clone()),
            RegisterWrite::Open(duplicate),
            update("c1", poison),
            ring("missing", "101", "2026-11-24T15:21:50Z", "no_answer"),
            ring("c1", "poison", "2026-11-24T15:21:50Z", "no_answer"),
            update("c1", answered),
            open("c2"),
        ])
        .await
        .expect("batch commits");

    assert_eq!((report.opened, report.updated), (2, 1));
    let skipped: Vec<(usize, &StoreError)> =
        report.skipped.iter().map(|s| (s.index, &s.error)).collect();
    assert_eq!(skipped.len(), 5, "{skipped:?}");
    assert!(matches!(skipped[0], (1, StoreError::UnknownCall { id }) if id == "missing"));
    assert!(matches!(skipped[1], (2, StoreError::DuplicateCall { id }) if id == "c0"));
    assert!(matches!(skipped[2], (3, StoreError::Refused { id, .. }) if id == "c1"));
    assert!(
        matches!(skipped[3], (4, StoreError::Refused { id, .. }) if id == "missing"),
        "a ring for an unknown call is refused by the foreign key"
    );
    assert!(matches!(skipped[4], (5, StoreError::Refused { id, .. }) if id == "c1"));

    let c0 = store.call("c0").await.expect("read").expect("row");
    assert_eq!(
        c0.caller, "+79111234567",
        "a duplicate open keeps the first row"
    );
    assert_eq!(c0.received_at, "2026-11-24T15:21:47.000Z");
    let c1 = store.call("c1").await.expect("read").expect("row");
    assert_eq!(c1.outcome, "answered");
    assert_eq!(c1.end_reason, None, "the refused write left nothing behind");
    assert!(store.ring_attempts("c1").await.expect("rings").is_empty());
    assert!(store.call("c2").await.expect("read").is_some());
    assert!(store.call("missing").await.expect("read").is_none());
    assert_eq!(store.count_calls().await.expect("count"), 3);
    store.close().await;
}

/// What the outage spool relies on: a batch whose commit was not acknowledged may be
/// applied again, whole, and the register ends as if it had been applied once.
pub async fn applying_a_batch_twice_changes_nothing<H: Harness>(h: &H) {
    let store = h.store(1).await;
    let batch = [
        open("c1"),
        update(
            "c1",
            CallUpdate {
                queued_at: Some(ts("2026-11-24T15:21:48Z")),
                ..CallUpdate::default()
            },
        ),
        ring("c1", "101", "2026-11-24T15:21:49Z", "no_answer"),
        ring("c1", "102", "2026-11-24T15:21:55Z", "answered"),
        update(
            "c1",
            CallUpdate {
                operator_id: Some("102".to_owned()),
                outcome: Some(Outcome::Answered),
                talk_ms: Some(42_000),
                ..CallUpdate::default()
            },
        ),
    ];
    let first = store.apply(&batch).await.expect("first");
    assert_eq!(
        (first.opened, first.updated, first.skipped.len()),
        (1, 4, 0)
    );
    let before = store.call("c1").await.expect("read");
    let again = store.apply(&batch).await.expect("again");
    let skipped: Vec<String> = again
        .skipped
        .iter()
        .map(|s| format!("{}:{}", s.index, s.error))
        .collect();
    assert_eq!(again.opened, 0);
    assert_eq!(
        skipped,
        [
            "0:call `c1` is already in the register",
            "2:this ring attempt of call `c1` is already in the register",
            "3:this ring attempt of call `c1` is already in the register",
        ]
    );
    assert_eq!(store.call("c1").await.expect("read"), before);
    assert_eq!(store.count_calls().await.expect("count"), 1);
    assert_eq!(store.ring_attempts("c1").await.expect("rings").len(), 2);
    store.close().await;
}

pub async fn ring_attempts_are_ordered_and_counted_once<H: Harness>(h: &H) {
    let store = h.store(1).await;
    store
        .apply(&[
            open("c1"),
            ring("c1", "103", "2026-11-24T15:22:10Z", "answered"),
            ring("c1", "101", "2026-11-24T15:21:50Z", "no_answer"),
            // Same millisecond, another operator: kept in the order written.
            ring("c1", "104", "2026-11-24T15:22:00Z", "busy"),
            ring("c1", "102", "2026-11-24T15:22:00Z", "declined"),
        ])
        .await
        .expect("apply");
    let rings = store.ring_attempts("c1").await.expect("rings");
    let want = [
        ("101", "no_answer"),
        ("104", "busy"),
        ("102", "declined"),
        ("103", "answered"),
    ];
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(o, r)| (o.to_string(), r.to_string()))
        .collect();
    assert_eq!(rings, want);
    assert!(store.ring_attempts("c2").await.expect("none").is_empty());
    store.close().await;
}

/// Merging a call's updates into one statement is invisible: later values win, a refused
/// update is skipped alone (with its position) and the others still apply, updates of an
/// unknown call are each reported, and the row ends as if every write had been applied
/// in a batch of its own.
pub async fn a_call_s_updates_in_one_batch_apply_as_if_one_by_one<H: Harness>(h: &H) {
    let store = h.store(1).await;
    for sql in H::POISON {
        h.exec(sql).await.expect("poison trigger");
    }
    let writes = |id: &str| {
        vec![
            open(id),
            update(
                id,
                CallUpdate {
                    queued_at: Some(ts("2026-11-24T15:21:50Z")),
                    wait_ms: Some(1_000),
                    ..CallUpdate::default()
                },
            ),
            ring(id, "101", "2026-11-24T15:21:51Z", "no_answer"),
            update(
                id,
                CallUpdate {
                    operator_id: Some("102".to_owned()),
                    ..CallUpdate::default()
                },
            ),
            // Refused by the poison trigger: nothing of it may remain, not even its outcome.
            update(
                id,
                CallUpdate {
                    end_reason: Some(EndReason::BadContact),
                    recording_error: Some("refused with its update".to_owned()),
                    ..CallUpdate::default()
                },
            ),
            // Replaces an earlier value: the later one wins.
            update(
                id,
                CallUpdate {
                    wait_ms: Some(9_000),
                    talk_ms: Some(60_000),
                    outcome: Some(Outcome::Answered),
                    ..CallUpdate::default()
                },
            ),
            update(
                "missing",
                CallUpdate {
                    talk_ms: Some(1),
                    ..CallUpdate::default()
                },
            ),
            update(
                id,
                CallUpdate {
                    recording_ms: Some(59_000),
                    ..CallUpdate::default()
                },
            ),
            update(
                "missing",
                CallUpdate {
                    outcome: Some(Outcome::Failed),
                    ..CallUpdate::default()
                },
            ),
        ]
    };

    let report = store.apply(&writes("merged")).await.expect("apply");
    let skipped: Vec<(usize, String)> = report
        .skipped
        .iter()
        .map(|s| {
            let kind = match &s.error {
                StoreError::Refused { id, .. } => format!("refused {id}"),
                StoreError::UnknownCall { id } => format!("unknown {id}"),
                other => format!("{other:?}"),
            };
            (s.index, kind)
        })
        .collect();
    assert_eq!(
        skipped,
        [
            (4, "refused merged".to_owned()),
            (6, "unknown missing".to_owned()),
            (8, "unknown missing".to_owned()),
        ]
    );
    assert_eq!(
        (report.opened, report.updated),
        (1, 5),
        "every applied write counts"
    );

    for write in writes("alone") {
        store.apply(&[write]).await.expect("apply one");
    }
    let merged = store.call("merged").await.expect("read").expect("row");
    let mut alone = store.call("alone").await.expect("read").expect("row");
    assert_eq!(merged.wait_ms, Some(9_000));
    assert_eq!(merged.operator_id.as_deref(), Some("102"));
    assert_eq!(merged.outcome, "answered");
    assert_eq!(merged.recording_ms, Some(59_000));
    assert_eq!((merged.end_reason, merged.recording_error), (None, None));
    alone.id = merged.id.clone();
    alone.sip_call_id = merged.sip_call_id.clone();
    assert_eq!(
        alone,
        store.call("merged").await.expect("read").expect("row")
    );
    assert!(store.call("missing").await.expect("read").is_none());
    store.close().await;
}

/// Many refusals in one batch: each is skipped alone and everything after it still commits
/// in the same transaction (PostgreSQL aborts a transaction at its first error unless a
/// savepoint catches it; SQLite rolls back only the statement).
pub async fn a_refused_write_does_not_abort_the_transaction<H: Harness>(h: &H) {
    let store = h.store(1).await;
    let writes: Vec<_> = (0..50)
        .flat_map(|i| {
            let id = format!("c{i:02}");
            // Every seventh ring names a call that does not exist: the foreign key refuses it.
            let rung = if i % 7 == 0 { "nobody" } else { id.as_str() };
            [
                open(&id),
                ring(rung, "101", "2026-11-24T15:21:50Z", "no_answer"),
            ]
        })
        .collect();
    let report = store.apply(&writes).await.expect("commits");
    assert_eq!(report.opened, 50);
    assert_eq!(report.updated, 50 - 8);
    assert_eq!(
        report.skipped.iter().map(|s| s.index).collect::<Vec<_>>(),
        (0..50)
            .filter(|i| i % 7 == 0)
            .map(|i| 2 * i + 1)
            .collect::<Vec<_>>()
    );
    assert_eq!(store.count_calls().await.expect("count"), 50);
    store.close().await;
}
