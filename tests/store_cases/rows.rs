//! One call's row: what is written reads back, what the schema refuses, the reads of the
//! register, and the restart that closes rows left open.

use hotline::model::{
    CallDirection, CallRecord, CallUpdate, EndReason, HangupBy, Outcome, RegisterWrite,
};

use super::{is_check_violation, new_call, open, ts, update, Harness};

pub async fn open_and_update_round_trip_every_column<H: Harness>(h: &H) {
    let store = h.store(2).await;
    let full = CallUpdate {
        answered_at: Some(ts("2026-11-24T15:21:47.250Z")),
        queued_at: Some(ts("2026-11-24T15:21:52.5Z")),
        connected_at: Some(ts("2026-11-24T15:22:10.999999Z")),
        ended_at: Some(ts("2026-11-24T15:25:00Z")),
        operator_id: Some("101".to_owned()),
        wait_ms: Some(18_499),
        talk_ms: Some(169_001),
        outcome: Some(Outcome::Answered),
        hangup_by: Some(HangupBy::Operator),
        final_status: Some(200),
        end_reason: Some(EndReason::OperatorBye),
        recording_path: Some("2026/11/24/c1.wav".to_owned()),
        recording_ms: Some(169_000),
        recording_bytes: Some(5_408_044),
        recording_sha256: Some("ab".repeat(32)),
        recording_error: Some("disk full".to_owned()),
        notice_played_at: Some(ts("2026-11-24T15:21:50Z")),
        notice_completed: Some(true),
        topic: Some("billing".to_owned()),
    };
    let mut call = new_call("c1", "2026-11-24T15:21:47.123456Z");
    call.caller = "+7 (911) 123-45-67;ext=\"x\" 'Ж'".to_owned();
    let report = store
        .apply(&[RegisterWrite::Open(call), update("c1", full)])
        .await
        .expect("apply");
    assert_eq!((report.opened, report.updated), (1, 1));
    assert!(report.skipped.is_empty());

    let got = store.call("c1").await.expect("read").expect("row exists");
    let want = CallRecord {
        id: "c1".to_owned(),
        sip_call_id: "c1@trunk.example".to_owned(),
        caller: "+7 (911) 123-45-67;ext=\"x\" 'Ж'".to_owned(),
        dialed: "792112".to_owned(),
        source: "udp:192.0.2.1:5060".to_owned(),
        received_at: "2026-11-24T15:21:47.123Z".to_owned(),
        answered_at: Some("2026-11-24T15:21:47.250Z".to_owned()),
        queued_at: Some("2026-11-24T15:21:52.500Z".to_owned()),
        connected_at: Some("2026-11-24T15:22:10.999Z".to_owned()),
        ended_at: Some("2026-11-24T15:25:00.000Z".to_owned()),
        operator_id: Some("101".to_owned()),
        wait_ms: Some(18_499),
        talk_ms: Some(169_001),
        outcome: "answered".to_owned(),
        hangup_by: Some("operator".to_owned()),
        final_status: Some(200),
        end_reason: Some("operator_bye".to_owned()),
        recording_path: Some("2026/11/24/c1.wav".to_owned()),
        recording_ms: Some(169_000),
        recording_bytes: Some(5_408_044),
        recording_sha256: Some("ab".repeat(32)),
        recording_error: Some("disk full".to_owned()),
        notice_played_at: Some("2026-11-24T15:21:50.000Z".to_owned()),
        notice_completed: Some(true),
        topic: Some("billing".to_owned()),
        direction: "inbound".to_owned(),
    };
    assert_eq!(got, want);
    assert!(store.call("c2").await.expect("read").is_none());
    store.close().await;
}

pub async fn an_update_leaves_absent_fields_alone<H: Harness>(h: &H) {
    let store = h.store(1).await;
    let first = CallUpdate {
        queued_at: Some(ts("2026-11-24T15:21:48Z")),
        operator_id: Some("101".to_owned()),
        notice_completed: Some(false),
        ..CallUpdate::default()
    };
    let second = CallUpdate {
        ended_at: Some(ts("2026-11-24T15:23:00Z")),
        outcome: Some(Outcome::Abandoned),
        hangup_by: Some(HangupBy::Caller),
        ..CallUpdate::default()
    };
    store
        .apply(&[open("c1"), update("c1", first)])
        .await
        .expect("apply");
    store.apply(&[update("c1", second)]).await.expect("apply");
    let row = store.call("c1").await.expect("read").expect("row");
    assert_eq!(row.queued_at.as_deref(), Some("2026-11-24T15:21:48.000Z"));
    assert_eq!(row.operator_id.as_deref(), Some("101"));
    assert_eq!(row.notice_completed, Some(false));
    assert_eq!(row.ended_at.as_deref(), Some("2026-11-24T15:23:00.000Z"));
    assert_eq!(row.outcome, "abandoned");
    assert_eq!(row.hangup_by.as_deref(), Some("caller"));
    assert_eq!(row.answered_at, None);
    store.close().await;
}

pub async fn the_schema_rejects_unknown_outcomes_and_hangup_parties<H: Harness>(h: &H) {
    let store = h.store(1).await;
    store.apply(&[open("c1")]).await.expect("apply");
    let insert = |outcome: &str| {
        format!(
            "INSERT INTO calls (id, sip_call_id, caller, dialed, source, received_at, outcome) \
             VALUES ('x', 's', 'c', 'd', 'src', '2026-11-24T15:21:47.000Z', '{outcome}')"
        )
    };
    let err = h.exec(&insert("lost")).await.expect_err("unknown outcome");
    assert!(is_check_violation(&err), "{err}");
    h.exec(&insert("greeted"))
        .await
        .expect("every known outcome is accepted");
    let err = h
        .exec("UPDATE calls SET hangup_by = 'nobody' WHERE id = 'c1'")
        .await
        .expect_err("unknown hangup party");
    assert!(is_check_violation(&err), "{err}");
    let err = h
        .exec("UPDATE calls SET wait_ms = 'soon' WHERE id = 'c1'")
        .await
        .expect_err("text stays out of integer columns");
    assert!(err.as_database_error().is_some());
    assert_eq!(
        store.call("c1").await.expect("read").expect("row").outcome,
        "in_progress"
    );
    store.close().await;
}

pub async fn mark_interrupted_closes_rows_left_in_progress<H: Harness>(h: &H) {
    let store = h.store(1).await;
    let mut calling_back = new_call("calling-back", "2026-11-24T15:30:00Z");
    calling_back.direction = CallDirection::Outbound;
    store
        .apply(&[
            RegisterWrite::Open(calling_back),
            open("ringing"),
            open("caller-left"),
            update(
                "caller-left",
                CallUpdate {
                    hangup_by: Some(HangupBy::Caller),
                    ended_at: Some(ts("2026-11-24T15:22:00Z")),
                    ..CallUpdate::default()
                },
            ),
            open("done"),
            update(
                "done",
                CallUpdate {
                    outcome: Some(Outcome::AfterHours),
                    hangup_by: Some(HangupBy::System),
                    end_reason: Some(EndReason::PromptDone),
                    ..CallUpdate::default()
                },
            ),
        ])
        .await
        .expect("apply");

    let now = ts("2026-11-24T16:00:00.5Z");
    assert_eq!(store.mark_interrupted(now).await.expect("mark"), 3);

    // A call-back the server stopped during stays outbound (it is no missed call).
    let outbound = "UPDATE calls SET topic = topic WHERE direction = 'outbound'";
    assert_eq!(h.exec(outbound).await.expect("outbound rows"), 1);
    let back = store
        .call("calling-back")
        .await
        .expect("read")
        .expect("row");
    assert_eq!(back.outcome, "interrupted");
    assert_eq!(back.direction, "outbound");
    assert_eq!(ringing_direction(&store).await, "inbound");
    // QA finds the call-backs, and only them, by direction.
    let filter = hotline::store::CallFilter {
        direction: Some("outbound".into()),
        limit: 50,
        ..Default::default()
    };
    let (found, total) = store.search_calls(&filter).await.expect("search");
    assert_eq!(total, 1);
    assert_eq!(found[0].id, "calling-back");

    let ringing = store.call("ringing").await.expect("read").expect("row");
    assert_eq!(ringing.outcome, "interrupted");
    assert_eq!(
        ringing.ended_at.as_deref(),
        Some("2026-11-24T16:00:00.500Z")
    );
    assert_eq!(ringing.end_reason.as_deref(), Some("server_restart"));
    assert_eq!(ringing.hangup_by.as_deref(), Some("system"));

    let left = store.call("caller-left").await.expect("read").expect("row");
    assert_eq!(left.outcome, "interrupted");
    assert_eq!(left.ended_at.as_deref(), Some("2026-11-24T15:22:00.000Z"));
    assert_eq!(left.hangup_by.as_deref(), Some("caller"));
    assert_eq!(left.end_reason.as_deref(), Some("server_restart"));

    let done = store.call("done").await.expect("read").expect("row");
    assert_eq!(done.outcome, "after_hours");
    assert_eq!(done.ended_at, None);
    assert_eq!(done.end_reason.as_deref(), Some("prompt_done"));

    assert_eq!(store.mark_interrupted(now).await.expect("mark again"), 0);
    store.close().await;
}

pub async fn recent_calls_and_call_id_lookups_are_ordered<H: Harness>(h: &H) {
    let store = h.store(1).await;
    let mut retry = new_call("b", "2026-11-24T10:00:05Z");
    retry.sip_call_id = "a@trunk.example".to_owned();
    store
        .apply(&[
            RegisterWrite::Open(new_call("c", "2026-11-24T11:00:00Z")),
            RegisterWrite::Open(new_call("a", "2026-11-24T10:00:00Z")),
            RegisterWrite::Open(retry),
            // Same moment: ids break the tie in byte order ('B' < 'a'), whatever the
            // database's locale would say.
            RegisterWrite::Open(new_call("B", "2026-11-24T09:00:00Z")),
            RegisterWrite::Open(new_call("a-9", "2026-11-24T09:00:00Z")),
        ])
        .await
        .expect("apply");

    let recent: Vec<String> = store
        .recent_calls(10)
        .await
        .expect("recent")
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(recent, ["c", "b", "a", "a-9", "B"]);
    let recent: Vec<String> = store
        .recent_calls(2)
        .await
        .expect("recent")
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(recent, ["c", "b"]);
    let same: Vec<String> = store
        .calls_by_sip_call_id("a@trunk.example")
        .await
        .expect("lookup")
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(same, ["a", "b"]);
    assert!(store
        .calls_by_sip_call_id("nobody")
        .await
        .expect("lookup")
        .is_empty());
    store.close().await;
}

pub async fn calls_with_recordings_lists_what_verify_checks<H: Harness>(h: &H) {
    let store = h.store(1).await;
    let set = |outcome, connected: bool, path: Option<&str>, error: Option<&str>| CallUpdate {
        outcome: Some(outcome),
        connected_at: connected.then(|| ts("2026-11-24T15:22:00Z")),
        recording_path: path.map(str::to_owned),
        recording_error: error.map(str::to_owned),
        ..CallUpdate::default()
    };
    store
        .apply(&[
            RegisterWrite::Open(new_call("answered", "2026-11-24T15:00:00Z")),
            update(
                "answered",
                set(Outcome::Answered, true, Some("a.wav"), None),
            ),
            RegisterWrite::Open(new_call("after-hours", "2026-11-24T15:01:00Z")),
            update("after-hours", set(Outcome::AfterHours, false, None, None)),
            RegisterWrite::Open(new_call("cut", "2026-11-24T15:02:00Z")),
            update("cut", set(Outcome::Interrupted, true, None, None)),
            RegisterWrite::Open(new_call("failed", "2026-11-24T15:03:00Z")),
            update(
                "failed",
                set(Outcome::Failed, false, None, Some("disk full")),
            ),
            RegisterWrite::Open(new_call("left", "2026-11-24T14:59:00Z")),
            update("left", set(Outcome::Abandoned, false, None, None)),
        ])
        .await
        .expect("apply");
    let ids: Vec<String> = store
        .calls_with_recordings()
        .await
        .expect("query")
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(ids, ["answered", "cut", "failed"]);
    store.close().await;
}

async fn ringing_direction(store: &hotline::store::Store) -> String {
    store
        .call("ringing")
        .await
        .expect("read")
        .expect("row")
        .direction
}
