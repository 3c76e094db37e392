//! Statistics against the known register, and recordings with ranges and audit.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_match_the_known_register() {
    let api = Api::start().await;
    let ids = insert(api.store(), &known_rows()).await;
    for (i, topic) in [(0, "billing"), (4, "billing"), (2, "debt")] {
        assert!(api.store().set_topic(&ids[i], Some(topic)).await.unwrap());
    }
    let qa = api.login("qa").await;
    let s = api
        .get_json("/api/stats?from=2026-11-24&to=2026-11-26", &qa)
        .await;
    assert_eq!(s["zone"], "Europe/Moscow");
    assert_eq!(s["from"], "2026-11-23T21:00:00.000Z");
    assert_eq!(s["to"], "2026-11-25T21:00:00.000Z");
    let days = s["days"].as_array().unwrap();
    assert_eq!(days.len(), 2);
    assert_eq!(
        days[0],
        json!({ "date": "2026-11-24", "calls": 4, "answered": 2, "abandoned": 1,
                "after_hours": 1, "overflow": 0, "no_operators": 0, "rejected": 0,
                "wait_ms_avg": 20_000, "wait_ms_p90": 30_000, "service_level": 0.5,
                "talk_ms_avg": 90_000, "self_service": 0, "self_service_share": 0.0,
                "readings_phone": 0, "readings_operator": 0 })
    );
    assert_eq!(
        days[1],
        json!({ "date": "2026-11-25", "calls": 3, "answered": 1, "abandoned": 0,
                "after_hours": 0, "overflow": 1, "no_operators": 0, "rejected": 1,
                "wait_ms_avg": 5_000, "wait_ms_p90": 5_000, "service_level": 1.0,
                "talk_ms_avg": 180_000, "self_service": 0, "self_service_share": 0.0,
                "readings_phone": 0, "readings_operator": 0 })
    );
    let t = &s["total"];
    assert_eq!(t["calls"], 7);
    assert_eq!(t["answered"], 3);
    assert_eq!(t["wait_ms_avg"], 15_000);
    assert_eq!(t["wait_ms_p90"], 30_000);
    assert_eq!(t["talk_ms_avg"], 120_000);
    assert!((t["service_level"].as_f64().unwrap() - 2.0 / 3.0).abs() < 1e-9);
    assert_eq!(
        s["operators"],
        json!([
            { "operator_id": "101", "name": "Operator 101", "answered": 2, "talk_ms_avg": 150_000, "talk_ms_total": 300_000 },
            { "operator_id": "102", "name": "Operator 102", "answered": 1, "talk_ms_avg": 60_000, "talk_ms_total": 60_000 },
        ])
    );
    let topics: Vec<(Value, u64)> = s["topics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["topic"].clone(), t["calls"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        topics,
        [(Value::Null, 4), (json!("billing"), 2), (json!("debt"), 1)]
    );
    assert_eq!(s["topics"][1]["label"], "Начисления и оплата");

    // A quiet day in the period is a row of zeros.
    let s = api
        .get_json("/api/stats?from=2026-11-26&to=2026-11-28", &qa)
        .await;
    let days = s["days"].as_array().unwrap();
    assert_eq!(days.len(), 2);
    assert_eq!(days[0]["calls"], 1, "H, at local midnight of the 26th");
    assert_eq!(days[1]["calls"], 0);
    assert_eq!(days[1]["service_level"], Value::Null);

    let r = api
        .req(
            Method::GET,
            "/api/stats?from=2026-11-24&to=2026-11-26&format=csv",
            Some(&qa),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let text = r.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert_eq!(
        lines[1],
        "2026-11-24,4,2,1,1,0,0,0,20000,30000,0.5000,90000,0,0.0000,0,0"
    );

    for query in ["from=2026-11-26&to=2026-11-24", "format=xml", "to=soon"] {
        let r = api
            .req(Method::GET, &format!("/api/stats?{query}"), Some(&qa))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{query}");
    }
    api.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recordings_are_served_in_ranges_and_every_access_is_audited() {
    let api = Api::start().await;
    let ids = insert(api.store(), &known_rows()).await;
    let id = &ids[0];
    let rel = format!("2026/11/24/{id}.wav");
    let file = api.server.dir.path().join("recordings").join(&rel);
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    let bytes = wav_bytes(10_044);
    std::fs::write(&file, &bytes).unwrap();
    let update = CallUpdate {
        recording_path: Some(rel),
        recording_bytes: Some(10_044),
        ..CallUpdate::default()
    };
    api.store()
        .apply(&[RegisterWrite::Update {
            id: id.clone(),
            update,
        }])
        .await
        .unwrap();
    let qa = api.login("qa").await;
    let path = format!("/api/calls/{id}/recording");
    let v = api.get_json(&format!("/api/calls/{id}"), &qa).await;
    assert_eq!(v["recording_url"], path.as_str());

    let r = api.req(Method::GET, &path, Some(&qa)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "audio/wav");
    assert_eq!(r.headers()["accept-ranges"], "bytes");
    assert!(r.headers().get("content-disposition").is_none());
    assert_eq!(r.bytes().await.unwrap().as_ref(), bytes.as_slice());

    let range = |spec: &'static str| {
        api.req(Method::GET, &path, Some(&qa))
            .header("range", spec)
            .send()
    };
    let r = range("bytes=100-1099").await.unwrap();
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(r.headers()["content-range"], "bytes 100-1099/10044");
    assert_eq!(r.headers()["content-length"], "1000");
    assert_eq!(r.bytes().await.unwrap().as_ref(), &bytes[100..1100]);
    let r = range("bytes=-44").await.unwrap();
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(r.headers()["content-range"], "bytes 10000-10043/10044");
    assert_eq!(r.bytes().await.unwrap().as_ref(), &bytes[10_000..]);
    for bad in ["bytes=10044-", "bytes=0-1,5-9", "bytes=9-3"] {
        let r = range(bad).await.unwrap();
        assert_eq!(r.status(), StatusCode::RANGE_NOT_SATISFIABLE, "{bad}");
        assert_eq!(r.headers()["content-range"], "bytes */10044", "{bad}");
    }

    let r = api
        .req(Method::GET, &format!("{path}?download=1"), Some(&qa))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.headers()["content-disposition"],
        format!("attachment; filename=\"{id}.wav\"").as_str()
    );

    // A call without a recording, and one whose file is gone.
    let r = api
        .req(
            Method::GET,
            &format!("/api/calls/{}/recording", ids[1]),
            Some(&qa),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    std::fs::remove_file(&file).unwrap();
    let r = api.req(Method::GET, &path, Some(&qa)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    let audit = api.audit().await;
    let of = |action: &str| {
        audit
            .iter()
            .filter(|e| e["action"] == action && e["call_id"] == id.as_str())
            .collect::<Vec<_>>()
    };
    // Whole, two ranges, and the download; refused ranges and missing files send nothing.
    let streams = of("recording_stream");
    assert_eq!(streams.len(), 3, "{audit:?}");
    assert!(streams
        .iter()
        .all(|e| e["username"] == "qa" && e["remote"] == "127.0.0.1"));
    assert!(streams.iter().any(|e| e["detail"] == "bytes=100-1099"));
    assert_eq!(of("recording_download").len(), 1);
    api.server.stop().await;
}
