//! The live board over HTTP, and the OpenAPI description.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_board_reports_the_line() {
    let api = Api::start().await;
    let sup = api.login("sup").await;
    let ops = api.get_json("/api/operators", &sup).await;
    let ops = ops.as_array().unwrap();
    assert_eq!(ops.len(), 2);
    assert_eq!(ops[0]["id"], "101");
    assert_eq!(ops[0]["state"], "offline");
    assert_eq!(ops[0]["registered"], false);
    let q = api.get_json("/api/queue", &sup).await;
    assert_eq!(
        q,
        json!({ "waiting": [], "longest_wait_ms": 0, "active_calls": 0 })
    );

    let r = api
        .req(Method::POST, "/api/operators/101/pause", Some(&sup))
        .json(&json!({ "reason": "training" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let e = r.json::<Value>().await.unwrap();
    assert!(
        e["error"].as_str().unwrap().contains("not logged in"),
        "{e}"
    );
    let r = api
        .req(Method::POST, "/api/operators/999/pause", Some(&sup))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    let mut r = api
        .req(Method::GET, "/api/live", Some(&sup))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let mut text = String::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !text.contains("\n\n") {
        assert!(
            Instant::now() < deadline,
            "first event within 5 s: {text:?}"
        );
        let chunk = tokio::time::timeout(Duration::from_secs(5), r.chunk())
            .await
            .expect("a chunk")
            .unwrap()
            .expect("stream open");
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    let event = text.split("\n\n").next().unwrap();
    assert!(event.starts_with("event: snapshot\n"), "{event}");
    let data = event
        .lines()
        .find_map(|l| l.strip_prefix("data: "))
        .unwrap();
    let snap: Value = serde_json::from_str(data).unwrap();
    assert_eq!(snap["operators"][1]["id"], "102");
    assert!(snap["at"].is_string());
    // The stream must not hold the server up when it stops.
    let stop = tokio::time::timeout(Duration::from_secs(20), api.server.stop()).await;
    assert!(stop.is_ok(), "server stops with a live stream open");
    drop(r);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_describes_every_path_without_credentials() {
    let api = Api::start().await;
    let r = api
        .req(Method::GET, "/api/openapi.json", None)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let doc: Value = r.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.0"));
    let paths = doc["paths"].as_object().unwrap();
    for (path, methods) in [
        ("/api/login", &["post"][..]),
        ("/api/logout", &["post"]),
        ("/api/me", &["get"]),
        ("/api/calls", &["get"]),
        ("/api/calls/{id}", &["get"]),
        ("/api/calls/{id}/topic", &["put"]),
        ("/api/calls/{id}/recording", &["get"]),
        ("/api/stats", &["get"]),
        ("/api/readings", &["get", "post"]),
        ("/api/subscribers/{account}", &["get"]),
        ("/api/operators", &["get"]),
        ("/api/queue", &["get"]),
        ("/api/live", &["get"]),
        ("/api/operators/{id}/pause", &["post"]),
        ("/api/operators/{id}/resume", &["post"]),
        ("/api/audit", &["get"]),
        ("/api/users", &["get", "post"]),
        ("/api/tokens", &["post"]),
        ("/api/openapi.json", &["get"]),
        ("/healthz", &["get"]),
    ] {
        for m in methods {
            assert!(paths[path][*m]["responses"].is_object(), "{m} {path}");
        }
    }
    api.server.stop().await;
}
