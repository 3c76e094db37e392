//! A call's timeline events (`call_events`): written with the batch, kept once however
//! often the batch is replayed, read back in time order.

use hotline::model::CallEventKind::{
    CallerHold, CallerMediaMoved, CallerResume, MenuChoice, MenuNoChoice, OperatorHold,
    OperatorResume,
};
use hotline::store::StoreError;

use super::{event, open, Harness};

/// Each event as `at kind detail`, as the store reads it back.
async fn timeline(store: &hotline::store::Store, id: &str) -> Vec<String> {
    store
        .call_events(id)
        .await
        .expect("events")
        .into_iter()
        .map(|e| format!("{} {} {}", e.at, e.kind, e.detail.as_deref().unwrap_or("-")))
        .collect()
}

pub async fn call_events_are_kept_once_and_read_in_time_order<H: Harness>(h: &H) {
    let store = h.store(1).await;
    let batch = [
        open("c1"),
        event("c1", "2026-11-24T15:23:10Z", OperatorResume, None),
        event("c1", "2026-11-24T15:22:40.5Z", OperatorHold, None),
        // Two kinds at one instant: read back in the order they were written.
        event("c1", "2026-11-24T15:24:00Z", CallerHold, None),
        event(
            "c1",
            "2026-11-24T15:24:00Z",
            CallerMediaMoved,
            Some("198.51.100.7:40000"),
        ),
        event("missing", "2026-11-24T15:24:00Z", CallerResume, None),
    ];
    let report = store.apply(&batch).await.expect("apply");
    assert_eq!((report.opened, report.updated), (1, 4));
    let skipped: Vec<(usize, &StoreError)> =
        report.skipped.iter().map(|s| (s.index, &s.error)).collect();
    assert!(
        matches!(skipped[..], [(5, StoreError::Refused { id, .. })] if id == "missing"),
        "an event of an unknown call is refused by the foreign key: {skipped:?}"
    );
    let want = [
        "2026-11-24T15:22:40.500Z operator_hold -",
        "2026-11-24T15:23:10.000Z operator_resume -",
        "2026-11-24T15:24:00.000Z caller_hold -",
        "2026-11-24T15:24:00.000Z caller_media_moved 198.51.100.7:40000",
    ];
    assert_eq!(timeline(&store, "c1").await, want);

    // The outage spool replays whole batches: nothing doubles.
    let again = store.apply(&batch).await.expect("apply again");
    let skipped: Vec<String> = again
        .skipped
        .iter()
        .map(|s| format!("{}:{}", s.index, s.error))
        .collect();
    assert_eq!(again.applied(), 0);
    assert_eq!(skipped.len(), 6, "{skipped:?}");
    assert_eq!(
        skipped[1],
        "1:this timeline event of call `c1` is already in the register"
    );
    assert_eq!(timeline(&store, "c1").await, want);
    assert!(timeline(&store, "c2").await.is_empty());

    // A later batch adds to the timeline: another kind at an instant already there is a
    // new event, not a duplicate.
    let report = store
        .apply(&[event("c1", "2026-11-24T15:24:00Z", CallerResume, None)])
        .await
        .expect("apply");
    assert_eq!((report.updated, report.skipped.len()), (1, 0));
    assert_eq!(timeline(&store, "c1").await.len(), 5);
    store.close().await;
}

/// The phone menu's events are on the timeline of both databases (migration 0011 widened
/// the kinds), and its choice sets the row's topic.
pub async fn menu_events_and_the_chosen_topic_are_stored<H: Harness>(h: &H) {
    let store = h.store(1).await;
    let choice = hotline::model::RegisterWrite::Update {
        id: "c1".to_owned(),
        update: hotline::model::CallUpdate {
            topic: Some("billing".to_owned()),
            ..Default::default()
        },
    };
    let batch = [
        open("c1"),
        open("c2"),
        event(
            "c1",
            "2026-11-24T15:22:20Z",
            MenuChoice,
            Some("9 / 2 → billing"),
        ),
        choice,
        event(
            "c2",
            "2026-11-24T15:22:30Z",
            MenuNoChoice,
            Some("- / - → operator"),
        ),
    ];
    let report = store.apply(&batch).await.expect("apply");
    assert!(report.skipped.is_empty(), "{:?}", report.skipped);
    assert_eq!(
        timeline(&store, "c1").await,
        ["2026-11-24T15:22:20.000Z menu_choice 9 / 2 → billing"]
    );
    assert_eq!(
        timeline(&store, "c2").await,
        ["2026-11-24T15:22:30.000Z menu_no_choice - / - → operator"]
    );
    let row = store.call("c1").await.expect("read").expect("row");
    assert_eq!(row.topic.as_deref(), Some("billing"));
    let row = store.call("c2").await.expect("read").expect("row");
    assert_eq!(row.topic, None);
    store.close().await;
}
