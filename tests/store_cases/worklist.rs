//! The missed-calls worklist over the register: missed calls merged per number while the
//! item is open, answered and anonymous calls left out, a repeated sync changing nothing,
//! state changes with who made them and the history.

use hotline::model::{CallUpdate, NewCall, Outcome, RegisterWrite};
use hotline::store::{CallBackAttempt, Store};

use super::{ts, update, Harness};

fn call(id: &str, caller: &str, at: &str) -> RegisterWrite {
    RegisterWrite::Open(NewCall {
        id: id.to_owned(),
        sip_call_id: format!("{id}@trunk.example"),
        caller: caller.to_owned(),
        dialed: "792112".to_owned(),
        source: "udp:192.0.2.1:5060".to_owned(),
        received_at: ts(at),
        direction: hotline::model::CallDirection::Inbound,
    })
}

/// A call-back's row: outbound from its first write.
fn outbound(id: &str, caller: &str, at: &str) -> RegisterWrite {
    let RegisterWrite::Open(mut new) = call(id, caller, at) else {
        unreachable!()
    };
    new.direction = hotline::model::CallDirection::Outbound;
    RegisterWrite::Open(new)
}

fn ended(id: &str, outcome: Outcome, wait_ms: i64) -> RegisterWrite {
    update(
        id,
        CallUpdate {
            outcome: Some(outcome),
            wait_ms: Some(wait_ms),
            ..CallUpdate::default()
        },
    )
}

pub async fn missed_calls_merge_per_number_into_the_worklist<H: Harness>(h: &H) {
    let store = h.store(1).await;
    let batch = [
        call("m1", "+79111234567", "2026-11-24T08:05:00Z"),
        ended("m1", Outcome::Abandoned, 40_000),
        call("m2", "+79111234567", "2026-11-24T09:15:00Z"),
        ended("m2", Outcome::Overflow, 600_000),
        call("m3", "+79119876543", "2026-11-23T19:00:00Z"),
        ended("m3", Outcome::AfterHours, 0),
        call("a1", "+79111234567", "2026-11-24T10:00:00Z"),
        ended("a1", Outcome::Answered, 5_000),
        call("x1", "anonymous", "2026-11-24T10:00:00Z"),
        ended("x1", Outcome::NoOperators, 1_000),
    ];
    store.apply(&batch).await.expect("apply");
    let now = "2026-11-24T12:00:00.000Z";
    assert_eq!(store.sync_worklist(now).await.unwrap(), 3);
    assert_eq!(
        store.sync_worklist(now).await.unwrap(),
        0,
        "a second sync changes nothing"
    );

    let today = "2026-11-23T21:00:00.000Z"; // midnight in Moscow
    let items = store.worklist(None, today, 50).await.unwrap();
    assert_eq!(items.len(), 2, "{items:?}");
    let first = &items[0];
    assert_eq!(first.number, "+79111234567");
    assert_eq!(first.state, "new");
    assert_eq!(first.missed_calls, 2);
    assert_eq!(first.first_at, "2026-11-24T08:05:00.000Z");
    assert_eq!(first.last_at, "2026-11-24T09:15:00.000Z");
    assert_eq!(first.longest_wait_ms, 600_000);
    assert_eq!(
        first.calls_today, 3,
        "the answered call counts as a call today"
    );
    assert_eq!(items[1].number, "+79119876543");
    assert_eq!(items[1].calls_today, 0, "yesterday evening is not today");

    // Worked: in progress by an operator, then closed; a new missed call opens a new item.
    let id = first.id;
    assert!(store
        .set_worklist_state(id, "in_progress", "101", "2026-11-24T12:01:00.000Z", None)
        .await
        .unwrap());
    assert!(store
        .set_worklist_state(
            id,
            "called_back",
            "101",
            "2026-11-24T12:05:00.000Z",
            Some("spoke")
        )
        .await
        .unwrap());
    assert!(!store
        .set_worklist_state(9_999, "closed", "101", now, None)
        .await
        .unwrap());
    store
        .apply(&[
            call("m4", "+79111234567", "2026-11-24T13:00:00Z"),
            ended("m4", Outcome::Abandoned, 10_000),
        ])
        .await
        .unwrap();
    assert_eq!(store.sync_worklist(now).await.unwrap(), 1);
    let open = store.worklist(Some("new"), today, 50).await.unwrap();
    assert_eq!(
        open.iter().filter(|i| i.number == "+79111234567").count(),
        1
    );
    assert_ne!(open[0].id, id, "a called-back item gathers no more calls");

    let detail = store.worklist_item(id, today).await.unwrap().expect("item");
    assert_eq!(detail.item.state, "called_back");
    assert_eq!(detail.item.worked_by.as_deref(), Some("101"));
    assert_eq!(
        detail.calls,
        vec![
            ("m1".to_string(), "missed".to_string()),
            ("m2".to_string(), "missed".to_string())
        ]
    );
    let actions: Vec<String> = detail
        .history
        .iter()
        .map(|e| {
            format!(
                "{} {} {}",
                e.actor,
                e.action,
                e.state.as_deref().unwrap_or("-")
            )
        })
        .collect();
    assert_eq!(
        actions,
        [
            "system missed -",
            "system missed -",
            "101 state in_progress",
            "101 state called_back"
        ]
    );
    assert_eq!(detail.history[3].detail.as_deref(), Some("spoke"));
    assert!(store.worklist_item(9_999, today).await.unwrap().is_none());

    // The schema holds the states to the list.
    assert!(h
        .exec(&format!(
            "UPDATE worklist_items SET state = 'lost' WHERE id = {id}"
        ))
        .await
        .is_err());
}

/// One call-back recorded with the default `worklist.max_attempts` (3).
async fn attempt(
    store: &Store,
    item_id: i64,
    call_id: &str,
    operator: &str,
    outcome: &str,
    now: &str,
) -> bool {
    attempt_with(store, item_id, call_id, operator, outcome, now, 3).await
}

async fn attempt_with(
    store: &Store,
    item_id: i64,
    call_id: &str,
    operator: &str,
    outcome: &str,
    now: &str,
    max_attempts: u32,
) -> bool {
    let a = CallBackAttempt {
        item_id,
        call_id,
        operator,
        outcome,
    };
    store
        .record_worklist_callback(&a, max_attempts, now)
        .await
        .expect("recorded")
}

pub async fn call_backs_are_linked_and_decide_the_item_s_state<H: Harness>(h: &H) {
    let store = h.store(1).await;
    store
        .apply(&[
            call("m1", "+79111234567", "2026-11-24T08:05:00Z"),
            ended("m1", Outcome::Abandoned, 40_000),
            outbound("cb1", "+79111234567", "2026-11-24T12:00:00Z"),
            outbound("cb2", "+79111234567", "2026-11-24T12:30:00Z"),
        ])
        .await
        .unwrap();
    let now = "2026-11-24T12:00:00.000Z";
    store.sync_worklist(now).await.unwrap();
    let today = "2026-11-23T21:00:00.000Z";
    let id = store.worklist(None, today, 10).await.unwrap()[0].id;

    assert!(attempt(&store, id, "cb1", "101", "busy", now).await);
    let item = store.worklist_item(id, today).await.unwrap().unwrap();
    assert_eq!(
        (item.item.state.as_str(), item.item.worked_by.as_deref()),
        ("in_progress", Some("101"))
    );
    assert!(
        attempt(
            &store,
            id,
            "cb2",
            "102",
            "answered",
            "2026-11-24T12:31:00.000Z"
        )
        .await
    );
    assert!(!attempt(&store, 9_999, "cb2", "102", "answered", now).await);

    let item = store.worklist_item(id, today).await.unwrap().unwrap();
    assert_eq!(item.item.state, "called_back");
    assert_eq!(
        item.calls,
        vec![
            ("m1".to_string(), "missed".to_string()),
            ("cb1".to_string(), "callback".to_string()),
            ("cb2".to_string(), "callback".to_string())
        ]
    );
    let last = item.history.last().unwrap();
    assert_eq!(
        (last.actor.as_str(), last.action.as_str()),
        ("102", "callback")
    );
    assert_eq!(last.detail.as_deref(), Some("answered cb2"));
    // Outbound calls never land on the worklist themselves.
    store
        .apply(&[ended("cb1", Outcome::Abandoned, 0)])
        .await
        .unwrap();
    assert_eq!(store.sync_worklist(now).await.unwrap(), 0);
}

/// The history lines of an item as `actor action state detail`.
async fn lines(store: &Store, id: i64) -> Vec<String> {
    let today = "2026-11-23T21:00:00.000Z";
    let item = store.worklist_item(id, today).await.unwrap().expect("item");
    item.history
        .iter()
        .map(|e| {
            format!(
                "{} {} {} {}",
                e.actor,
                e.action,
                e.state.as_deref().unwrap_or("-"),
                e.detail.as_deref().unwrap_or("-")
            )
        })
        .collect()
}

async fn state(store: &Store, id: i64) -> String {
    let today = "2026-11-23T21:00:00.000Z";
    let item = store.worklist_item(id, today).await.unwrap().expect("item");
    item.item.state
}

/// The start of the tests' day: midnight in Moscow.
const TODAY: &str = "2026-11-23T21:00:00.000Z";

/// A missed call from one number and `n` call-back rows (`cb1`…) to it: the item's id and
/// the time the worklist was brought up to date.
async fn missed_with_call_backs(store: &Store, n: usize) -> (i64, &'static str) {
    let mut writes = vec![
        call("m1", "+79111234567", "2026-11-24T08:05:00Z"),
        ended("m1", Outcome::Abandoned, 40_000),
    ];
    for i in 1..=n {
        writes.push(call(
            &format!("cb{i}"),
            "+79111234567",
            "2026-11-24T12:00:00Z",
        ));
    }
    store.apply(&writes).await.unwrap();
    let now = "2026-11-24T12:00:00.000Z";
    store.sync_worklist(now).await.unwrap();
    (store.worklist(None, TODAY, 10).await.unwrap()[0].id, now)
}

pub async fn failed_call_backs_make_an_item_unreachable_and_a_new_call_starts_the_count_again<
    H: Harness,
>(
    h: &H,
) {
    let store = h.store(1).await;
    let (id, now) = missed_with_call_backs(&store, 7).await;

    // An operator who did not answer is no attempt on the number; busy, no answer and
    // failed are, whoever made them.
    assert!(attempt(&store, id, "cb1", "101", "busy", now).await);
    assert!(attempt(&store, id, "cb2", "101", "operator_unavailable", now).await);
    assert!(attempt(&store, id, "cb3", "102", "no_answer", now).await);
    assert_eq!(state(&store, id).await, "in_progress");
    assert!(attempt(&store, id, "cb4", "101", "failed", now).await);
    assert_eq!(state(&store, id).await, "unreachable");
    assert_eq!(
        lines(&store, id).await.last().unwrap(),
        "101 callback unreachable failed cb4: 3 attempts without answer"
    );
    // The console lists it with the unreachable ones.
    let listed = store
        .worklist(Some("unreachable"), TODAY, 10)
        .await
        .unwrap();
    assert_eq!(listed.iter().map(|i| i.id).collect::<Vec<_>>(), vec![id]);

    // The number calls again: the item is reopened and counts from zero.
    store
        .apply(&[
            call("m2", "+79111234567", "2026-11-24T13:00:00Z"),
            ended("m2", Outcome::AfterHours, 0),
        ])
        .await
        .unwrap();
    let later = "2026-11-24T13:01:00.000Z";
    assert_eq!(store.sync_worklist(later).await.unwrap(), 1);
    assert_eq!(state(&store, id).await, "new");
    assert!(lines(&store, id)
        .await
        .contains(&"system state new reopened by m2".to_string()));
    assert!(attempt(&store, id, "cb5", "101", "busy", later).await);
    assert!(attempt(&store, id, "cb6", "101", "no_answer", later).await);
    assert_eq!(
        state(&store, id).await,
        "in_progress",
        "two attempts since it was reopened"
    );
    // A change by hand also starts the count again.
    assert!(store
        .set_worklist_state(id, "in_progress", "supervisor", later, Some("try again"))
        .await
        .unwrap());
    assert!(attempt(&store, id, "cb7", "101", "busy", later).await);
    assert_eq!(state(&store, id).await, "in_progress");
}

pub async fn max_attempts_zero_never_makes_an_item_unreachable_by_count<H: Harness>(h: &H) {
    let store = h.store(1).await;
    let (id, now) = missed_with_call_backs(&store, 5).await;
    for i in 1..=4 {
        let cb = format!("cb{i}");
        assert!(attempt_with(&store, id, &cb, "101", "no_answer", now, 0).await);
    }
    assert_eq!(state(&store, id).await, "in_progress");
    // One is enough with max_attempts = 1... after four earlier ones as well.
    assert!(attempt_with(&store, id, "cb5", "101", "busy", now, 1).await);
    assert_eq!(state(&store, id).await, "unreachable");
    assert_eq!(
        lines(&store, id).await.last().unwrap(),
        "101 callback unreachable busy cb5: 5 attempts without answer"
    );
}
