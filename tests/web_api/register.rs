//! The register as QA searches it: filters, paging, one call, topics.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_are_filtered_and_paged_newest_first() {
    let api = Api::start().await;
    let ids = insert(api.store(), &known_rows()).await;
    let qa = api.login("qa").await;
    let id = |i: usize| ids[i].clone();

    let all = api.get_json("/api/calls", &qa).await;
    assert_eq!(all["total"], 9);
    assert_eq!(ids_of(&all), [7, 6, 5, 4, 2, 1, 0, 3, 8].map(id));

    let check = |query: &'static str, expected: Vec<String>| {
        let api = &api;
        let qa = &qa;
        async move {
            let v = api.get_json(&format!("/api/calls?{query}"), qa).await;
            assert_eq!(ids_of(&v), expected, "{query}");
            assert_eq!(v["total"], expected.len(), "{query}");
        }
    };
    check(
        "from=2026-11-24&to=2026-11-26",
        [6, 5, 4, 2, 1, 0, 3].map(id).to_vec(),
    )
    .await;
    check(
        "from=2026-11-24T07:00:00Z&to=2026-11-24T09:00:00.000Z",
        [1, 0].map(id).to_vec(),
    )
    .await;
    check("caller=7911", [5, 1, 0, 3].map(id).to_vec()).await;
    check("operator=101", [4, 0].map(id).to_vec()).await;
    check("outcome=answered", [7, 4, 1, 0].map(id).to_vec()).await;
    check("min_duration_ms=100000", [4, 0].map(id).to_vec()).await;
    check(
        "outcome=answered&operator=101&caller=79330",
        [id(4)].to_vec(),
    )
    .await;

    let page = api.get_json("/api/calls?limit=2&offset=1", &qa).await;
    assert_eq!(page["total"], 9);
    assert_eq!(ids_of(&page), [id(6), id(5)]);

    // Each call carries every register column and where its recording is.
    let first = &all["calls"][0];
    assert_eq!(first["caller"], "79550000008");
    assert_eq!(first["operator_id"], "103");
    // 103 is not in `[[operators]]`: no name to show, the id stands alone.
    assert_eq!(first["operator_name"], Value::Null);
    assert_eq!(first["talk_ms"], 30_000);
    assert_eq!(first["recording_url"], Value::Null);
    assert!(first.as_object().unwrap().contains_key("recording_sha256"));

    for (query, param) in [
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("offset=-1", "offset"),
        ("outcome=bogus", "outcome"),
        ("topic=weather", "topic"),
        ("caller=abc", "caller"),
        ("from=yesterday", "from"),
        ("min_duration_ms=-5", "min_duration_ms"),
    ] {
        let r = api
            .req(Method::GET, &format!("/api/calls?{query}"), Some(&qa))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{query}");
        let e = r.json::<Value>().await.unwrap()["error"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(e.contains(&format!("`{param}`")), "{query}: {e}");
    }
    api.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_call_has_its_rings_and_timeline_and_bad_ids_are_404() {
    let api = Api::start().await;
    let ids = insert(api.store(), &known_rows()).await;
    let ring = RegisterWrite::Ring(hotline::model::RingAttempt {
        call_id: ids[0].clone(),
        operator_id: "102".into(),
        started_at: ts("2026-11-24T07:00:09Z"),
        ended_at: ts("2026-11-24T07:00:15Z"),
        result: hotline::model::RingResult::NoAnswer,
    });
    api.store().apply(&[ring]).await.unwrap();
    let qa = api.login("qa").await;
    let v = api.get_json(&format!("/api/calls/{}", ids[0]), &qa).await;
    assert_eq!(v["id"], ids[0].as_str());
    assert_eq!(v["operator_id"], "101");
    assert_eq!(v["operator_name"], "Operator 101");
    assert_eq!(
        v["rings"],
        json!([{ "operator_id": "102", "started_at": "2026-11-24T07:00:09.000Z",
                 "ended_at": "2026-11-24T07:00:15.000Z", "result": "no_answer" }])
    );
    let events: Vec<&str> = v["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        events,
        ["received", "answered", "queued", "connected", "ended"]
    );
    assert_eq!(v["timeline"][0]["at"], "2026-11-24T07:00:00.000Z");

    for path in [
        "/api/calls/20261124T070000Z-00000000".to_owned(),
        "/api/calls/..%2F..%2Fetc%2Fpasswd".to_owned(),
        "/api/calls/..%2F..%2Fetc%2Fpasswd/recording".to_owned(),
        "/api/calls/%2Fetc%2Fpasswd/recording".to_owned(),
        "/api/no-such-endpoint".to_owned(),
    ] {
        let r = api.req(Method::GET, &path, Some(&qa)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
        assert!(
            r.json::<Value>().await.unwrap()["error"].is_string(),
            "{path}"
        );
    }
    api.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_call_shows_its_events_and_the_holds_they_make() {
    let api = Api::start().await;
    let ids = insert(api.store(), &known_rows()).await;
    let event = |at: &str, kind, detail: Option<&str>| {
        RegisterWrite::Event(hotline::model::CallEvent {
            call_id: ids[0].clone(),
            at: ts(at),
            kind,
            detail: detail.map(str::to_owned),
        })
    };
    use hotline::model::CallEventKind::*;
    // Written out of order, as a replayed spool might: read back in time order.
    let report = api
        .store()
        .apply(&[
            event("2026-11-24T07:02:00Z", CallerHold, None),
            event("2026-11-24T07:01:30Z", OperatorResume, None),
            event("2026-11-24T07:01:00Z", OperatorHold, None),
            event(
                "2026-11-24T07:03:00Z",
                CallerMediaMoved,
                Some("198.51.100.7:40000"),
            ),
        ])
        .await
        .unwrap();
    assert!(report.skipped.is_empty(), "{:?}", report.skipped);
    let qa = api.login("qa").await;
    let v = api.get_json(&format!("/api/calls/{}", ids[0]), &qa).await;
    assert_eq!(
        v["events"],
        json!([
            { "at": "2026-11-24T07:01:00.000Z", "kind": "operator_hold", "detail": null },
            { "at": "2026-11-24T07:01:30.000Z", "kind": "operator_resume", "detail": null },
            { "at": "2026-11-24T07:02:00.000Z", "kind": "caller_hold", "detail": null },
            { "at": "2026-11-24T07:03:00.000Z", "kind": "caller_media_moved",
              "detail": "198.51.100.7:40000" },
        ])
    );
    // The caller never took us off hold: that hold lasts until the call ended.
    assert_eq!(
        v["holds"],
        json!([
            { "by": "operator", "from": "2026-11-24T07:01:00.000Z", "to": "2026-11-24T07:01:30.000Z" },
            { "by": "caller", "from": "2026-11-24T07:02:00.000Z", "to": "2026-11-24T07:15:00.000Z" },
        ])
    );
    let timeline: Vec<&str> = v["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        timeline,
        [
            "received",
            "answered",
            "queued",
            "connected",
            "operator_hold",
            "operator_resume",
            "caller_hold",
            "caller_media_moved",
            "ended"
        ]
    );
    assert_eq!(v["timeline"][7]["detail"], "198.51.100.7:40000");

    // A call without events has empty lists, not missing ones.
    let other = api.get_json(&format!("/api/calls/{}", ids[1]), &qa).await;
    assert_eq!(
        (&other["events"], &other["holds"]),
        (&json!([]), &json!([]))
    );
    api.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topics_are_set_cleared_filtered_and_audited() {
    let api = Api::start().await;
    let ids = insert(api.store(), &known_rows()).await;
    let qa = api.login("qa").await;
    let put = |id: &str, body: Value| {
        api.req(Method::PUT, &format!("/api/calls/{id}/topic"), Some(&qa))
            .json(&body)
            .send()
    };
    assert_eq!(
        put(&ids[0], json!({ "topic": "billing" }))
            .await
            .unwrap()
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        put(&ids[4], json!({ "topic": "billing" }))
            .await
            .unwrap()
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        put(&ids[2], json!({ "topic": "debt" }))
            .await
            .unwrap()
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        put(&ids[1], json!({ "topic": "other" }))
            .await
            .unwrap()
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        put(&ids[1], json!({ "topic": null }))
            .await
            .unwrap()
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        put(&ids[1], json!({ "topic": "weather" }))
            .await
            .unwrap()
            .status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        put(&ids[1], json!({})).await.unwrap().status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        put("20261124T070000Z-00000000", json!({ "topic": "debt" }))
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );

    let v = api.get_json("/api/calls?topic=billing", &qa).await;
    assert_eq!(ids_of(&v), [ids[4].clone(), ids[0].clone()]);
    let v = api.get_json("/api/calls?topic=none", &qa).await;
    assert_eq!(v["total"], 6);
    assert_eq!(
        api.get_json(&format!("/api/calls/{}", ids[1]), &qa).await["topic"],
        Value::Null
    );

    let audit = api.audit().await;
    let sets: Vec<(&str, &str)> = audit
        .iter()
        .filter(|e| e["action"] == "topic_set")
        .map(|e| {
            (
                e["call_id"].as_str().unwrap(),
                e["detail"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(sets.len(), 5, "{sets:?}");
    assert!(sets.contains(&(ids[1].as_str(), "none")));
    api.server.stop().await;
}
