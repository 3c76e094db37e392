//! The missed-calls worklist over HTTP: missed calls of the register merged per number,
//! state changes with who made them, the call-back request checked.

use super::*;

fn missed(
    id: &str,
    caller: &str,
    minutes_ago: i64,
    outcome: Outcome,
    wait_ms: i64,
) -> [RegisterWrite; 2] {
    let at = Timestamp::now() - jiff::SignedDuration::from_mins(minutes_ago);
    [
        RegisterWrite::Open(NewCall {
            id: id.to_owned(),
            sip_call_id: format!("{id}@trunk"),
            caller: caller.to_owned(),
            dialed: "792112".to_owned(),
            source: "udp:127.0.0.1:5071".to_owned(),
            received_at: at,
            direction: hotline::model::CallDirection::Inbound,
        }),
        RegisterWrite::Update {
            id: id.to_owned(),
            update: CallUpdate {
                outcome: Some(outcome),
                wait_ms: Some(wait_ms),
                ended_at: Some(at),
                ..CallUpdate::default()
            },
        },
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worklist_gathers_missed_calls_per_number_and_is_worked() {
    let api = Api::start().await;
    let writes: Vec<RegisterWrite> = [
        missed("w1", "+79111234567", 3, Outcome::Abandoned, 30_000),
        missed("w2", "+79111234567", 2, Outcome::NoOperators, 90_000),
        missed("w3", "+79111234567", 1, Outcome::Answered, 5_000),
        missed("w4", "+79119876543", 10, Outcome::Overflow, 600_000),
    ]
    .into_iter()
    .flatten()
    .collect();
    api.store().apply(&writes).await.unwrap();

    let r = api
        .req(Method::GET, "/api/worklist", None)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    let qa = api.login("qa").await;
    let list = api.get_json("/api/worklist", &qa).await;
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{list}");
    let a = &items[0];
    assert_eq!(a["number"], "+79111234567");
    assert_eq!(a["state"], "new");
    assert_eq!(a["missed_calls"], 2);
    assert_eq!(a["waited_ms"], 90_000);
    assert_eq!(a["calls_today"], 3);
    assert_eq!(a["worked_by"], Value::Null);
    assert_eq!(items[1]["number"], "+79119876543");
    let id = a["id"].as_i64().unwrap();

    let r = api
        .req(Method::PATCH, &format!("/api/worklist/{id}"), Some(&qa))
        .json(&json!({ "state": "in_progress", "note": "calling" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let item: Value = r.json().await.unwrap();
    assert_eq!(item["state"], "in_progress");
    assert_eq!(item["worked_by"], "qa");
    let calls: Vec<&str> = item["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["call_id"].as_str().unwrap())
        .collect();
    assert_eq!(calls, ["w1", "w2"]);
    let last = item["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["actor"], "qa");
    assert_eq!(last["state"], "in_progress");
    assert_eq!(last["detail"], "calling");

    let filtered = api.get_json("/api/worklist?state=in_progress", &qa).await;
    assert_eq!(filtered["items"].as_array().unwrap().len(), 1);

    for (path, body, status) in [
        (
            format!("/api/worklist/{id}"),
            json!({ "state": "lost" }),
            StatusCode::BAD_REQUEST,
        ),
        (
            "/api/worklist/99999".to_string(),
            json!({ "state": "closed" }),
            StatusCode::NOT_FOUND,
        ),
        (
            "/api/worklist/abc".to_string(),
            json!({ "state": "closed" }),
            StatusCode::NOT_FOUND,
        ),
    ] {
        let r = api
            .req(Method::PATCH, &path, Some(&qa))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), status, "{path} {body}");
    }
    let r = api
        .req(Method::GET, "/api/worklist?state=lost", Some(&qa))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);

    // A call-back needs a known operator and a provider to call through (503 without).
    let callback = format!("/api/worklist/{id}/callback");
    let r = api
        .req(Method::POST, &callback, Some(&qa))
        .json(&json!({ "operator": "999" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = api
        .req(Method::POST, &callback, Some(&qa))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = api
        .req(Method::POST, &callback, Some(&qa))
        .json(&json!({ "operator": "101" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    let e: Value = r.json().await.unwrap();
    assert!(e["error"].as_str().unwrap().contains("no provider"), "{e}");

    let audit = api.audit().await;
    assert!(
        audit
            .iter()
            .any(|e| e["action"] == "worklist_state" && e["username"] == "qa"),
        "{audit:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_item_after_three_failed_call_backs_is_listed_unreachable_with_the_reason() {
    let api = Api::start().await;
    let mut writes: Vec<RegisterWrite> =
        missed("u1", "+79112223344", 30, Outcome::Abandoned, 20_000).into();
    for cb in ["cb1", "cb2", "cb3"] {
        writes.push(RegisterWrite::Open(NewCall {
            id: cb.to_owned(),
            sip_call_id: format!("{cb}@hotline"),
            caller: "+79112223344".to_owned(),
            dialed: "+79112223344".to_owned(),
            source: "udp:127.0.0.2:5060".to_owned(),
            received_at: Timestamp::now(),
            direction: hotline::model::CallDirection::Outbound,
        }));
    }
    api.store().apply(&writes).await.unwrap();
    let qa = api.login("qa").await;
    let list = api.get_json("/api/worklist", &qa).await;
    let id = list["items"][0]["id"].as_i64().unwrap();

    let now = hotline::model::format_time(Timestamp::now());
    for (cb, outcome) in [("cb1", "busy"), ("cb2", "no_answer"), ("cb3", "no_answer")] {
        let attempt = hotline::store::CallBackAttempt {
            item_id: id,
            call_id: cb,
            operator: "101",
            outcome,
        };
        let stored = api.store().record_worklist_callback(&attempt, 3, &now);
        assert!(stored.await.unwrap());
    }
    let item = api.get_json(&format!("/api/worklist/{id}"), &qa).await;
    assert_eq!(item["state"], "unreachable", "{item}");
    let last = item["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["actor"], "101");
    assert_eq!(last["detail"], "no_answer cb3: 3 attempts without answer");
    let filtered = api.get_json("/api/worklist?state=unreachable", &qa).await;
    assert_eq!(filtered["items"][0]["id"], id);

    // QA finds the call-backs by direction; the missed call is inbound.
    let out = api.get_json("/api/calls?direction=outbound", &qa).await;
    assert_eq!(out["total"], 3, "{out}");
    let ids: Vec<&str> = out["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            assert_eq!(c["direction"], "outbound", "{c}");
            c["id"].as_str().unwrap()
        })
        .collect();
    assert_eq!(ids, ["cb3", "cb2", "cb1"].map(String::from));
    let inbound = api.get_json("/api/calls?direction=inbound", &qa).await;
    assert_eq!(inbound["total"], 1, "{inbound}");
    assert_eq!(inbound["calls"][0]["direction"], "inbound");
    let bad = api
        .req(
            reqwest::Method::GET,
            "/api/calls?direction=sideways",
            Some(&qa),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), reqwest::StatusCode::BAD_REQUEST);
}
