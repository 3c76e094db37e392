//! The QA HTTP API against a real server on 127.0.0.1: a known register written through
//! `Store::apply`, users added through the store, requests over HTTP.

mod common;

use std::time::{Duration, Instant};

use common::TestServer;
use hotline::store::{Role, Store};
use hotline::switchboard::ids::new_call_id;
use hotline::switchboard::register::{
    format_time, CallUpdate, HangupBy, NewCall, Outcome, RegisterWrite,
};
use hotline::web::auth::hash_password;
use jiff::Timestamp;
use rand::{rngs::SmallRng, SeedableRng};
use reqwest::{Client, Method, Response, StatusCode};
use serde_json::{json, Value};

const EXTRA: &str = r#"
[hours]
timezone = "Europe/Moscow"
[[operators]]
id = "101"
name = "Operator 101"
password = "op101-secret"
[[operators]]
id = "102"
name = "Operator 102"
password = "op102-secret"
"#;

struct Api {
    server: TestServer,
    client: Client,
    base: String,
}

impl Api {
    async fn start() -> Api {
        let server = TestServer::start(EXTRA).await;
        let base = format!("http://{}", server.http);
        let client = Client::builder()
            .timeout(Duration::from_secs(20))
            .build()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(r) = client.get(format!("{base}/healthz")).send().await {
                assert_eq!(r.status(), StatusCode::OK);
                assert_eq!(r.text().await.unwrap(), "ok");
                break;
            }
            assert!(Instant::now() < deadline, "HTTP server up within 10 s");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        for (name, role) in [
            ("qa", Role::Qa),
            ("sup", Role::Supervisor),
            ("admin", Role::Admin),
        ] {
            let phc = hash_password(&format!("{name}-password")).unwrap();
            let now = format_time(Timestamp::now());
            assert!(server.store.add_user(name, &phc, role, &now).await.unwrap());
        }
        Api {
            server,
            client,
            base,
        }
    }

    fn store(&self) -> &Store {
        &self.server.store
    }

    fn req(&self, method: Method, path: &str, cookie: Option<&str>) -> reqwest::RequestBuilder {
        let mut r = self.client.request(method, format!("{}{path}", self.base));
        if let Some(c) = cookie {
            r = r.header("cookie", format!("hotline_session={c}"));
        }
        r
    }

    async fn login_raw(&self, user: &str, password: &str) -> Response {
        self.req(Method::POST, "/api/login", None)
            .json(&json!({ "username": user, "password": password }))
            .send()
            .await
            .unwrap()
    }

    /// Logs in and returns the session token from the cookie.
    async fn login(&self, user: &str) -> String {
        let r = self.login_raw(user, &format!("{user}-password")).await;
        assert_eq!(r.status(), StatusCode::OK, "login {user}");
        let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
        let token = cookie
            .strip_prefix("hotline_session=")
            .and_then(|c| c.split(';').next())
            .unwrap();
        token.to_owned()
    }

    async fn get_json(&self, path: &str, cookie: &str) -> Value {
        let r = self
            .req(Method::GET, path, Some(cookie))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "GET {path}");
        r.json().await.unwrap()
    }

    async fn audit(&self) -> Vec<Value> {
        let admin = self.login("admin").await;
        let v = self.get_json("/api/audit?limit=500", &admin).await;
        v["entries"].as_array().unwrap().clone()
    }
}

/// One finished call of the known register.
struct Row {
    at: &'static str,
    outcome: Outcome,
    caller: &'static str,
    operator: Option<&'static str>,
    wait_ms: Option<i64>,
    talk_ms: Option<i64>,
}

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

/// Writes `rows` as the switchboard would (an `Open`, then an `Update`); returns the ids.
async fn insert(store: &Store, rows: &[Row]) -> Vec<String> {
    let mut rng = SmallRng::seed_from_u64(42);
    let mut writes = Vec::new();
    let mut ids = Vec::new();
    for (i, r) in rows.iter().enumerate() {
        let at = ts(r.at);
        let id = new_call_id(at, &mut rng);
        writes.push(RegisterWrite::Open(NewCall {
            id: id.clone(),
            sip_call_id: format!("{i}@trunk"),
            caller: r.caller.into(),
            dialed: "792112".into(),
            source: "udp:127.0.0.1:5060".into(),
            received_at: at,
        }));
        let queued = at + Duration::from_secs(8);
        let connected = r
            .talk_ms
            .map(|_| queued + Duration::from_millis(r.wait_ms.unwrap_or(0) as u64));
        writes.push(RegisterWrite::Update {
            id: id.clone(),
            update: CallUpdate {
                answered_at: Some(at + Duration::from_millis(100)),
                queued_at: r.wait_ms.map(|_| queued),
                connected_at: connected,
                ended_at: Some(at + Duration::from_secs(900)),
                operator_id: r.operator.map(str::to_owned),
                wait_ms: r.wait_ms,
                talk_ms: r.talk_ms,
                outcome: Some(r.outcome),
                hangup_by: Some(HangupBy::Caller),
                final_status: Some(if r.outcome == Outcome::Rejected {
                    404
                } else {
                    200
                }),
                ..CallUpdate::default()
            },
        });
        ids.push(id);
    }
    let report = store.apply(&writes).await.unwrap();
    assert!(report.skipped.is_empty(), "{:?}", report.skipped);
    ids
}

/// The known register: two local (Moscow) days 2026-11-24 and 25, and one call just
/// outside each end of them.
fn known_rows() -> Vec<Row> {
    use Outcome::*;
    let row = |at, outcome, caller, operator, wait_ms, talk_ms| Row {
        at,
        outcome,
        caller,
        operator,
        wait_ms,
        talk_ms,
    };
    vec![
        // 0 A: 24th, answered by 101 after 10 s.
        row(
            "2026-11-24T07:00:00Z",
            Answered,
            "79110000001",
            Some("101"),
            Some(10_000),
            Some(120_000),
        ),
        // 1 B: 24th, answered by 102 after 30 s.
        row(
            "2026-11-24T08:00:00Z",
            Answered,
            "79110000002",
            Some("102"),
            Some(30_000),
            Some(60_000),
        ),
        // 2 C: 24th, abandoned.
        row(
            "2026-11-24T09:00:00Z",
            Abandoned,
            "79220000003",
            None,
            Some(45_000),
            None,
        ),
        // 3 D: 00:30 local on the 24th (still the 23rd in UTC), after hours.
        row(
            "2026-11-23T21:30:00Z",
            AfterHours,
            "79110000004",
            None,
            None,
            None,
        ),
        // 4 E: 25th, answered by 101 after 5 s.
        row(
            "2026-11-25T07:00:00Z",
            Answered,
            "79330000005",
            Some("101"),
            Some(5_000),
            Some(180_000),
        ),
        // 5 F: 25th, overflow.
        row(
            "2026-11-25T10:00:00Z",
            Overflow,
            "79110000006",
            None,
            Some(600_000),
            None,
        ),
        // 6 G: 25th, rejected.
        row(
            "2026-11-25T11:00:00Z",
            Rejected,
            "79440000007",
            None,
            None,
            None,
        ),
        // 7 H: 00:00 local on the 26th: outside the period.
        row(
            "2026-11-25T21:00:00Z",
            Answered,
            "79550000008",
            Some("103"),
            Some(1_000),
            Some(30_000),
        ),
        // 8 I: 23:59:59 local on the 23rd: outside the period.
        row(
            "2026-11-23T20:59:59Z",
            Abandoned,
            "79660000009",
            None,
            Some(2_000),
            None,
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_role_meets_every_endpoint_as_the_contract_says() {
    let api = Api::start().await;
    let ids = insert(api.store(), &known_rows()).await;
    let call = &ids[0];
    let qa = api.login("qa").await;
    let sup = api.login("sup").await;
    let admin = api.login("admin").await;
    // (method, path, minimum role: 0 qa, 1 supervisor, 2 admin, body)
    let topic = format!("/api/calls/{call}/topic");
    let one = format!("/api/calls/{call}");
    let endpoints: Vec<(Method, String, u8, Option<Value>)> = vec![
        (Method::GET, "/api/me".into(), 0, None),
        (Method::GET, "/api/calls".into(), 0, None),
        (Method::GET, one, 0, None),
        (Method::PUT, topic, 0, Some(json!({ "topic": "other" }))),
        (
            Method::GET,
            "/api/stats?from=2026-11-24&to=2026-11-26".into(),
            0,
            None,
        ),
        (Method::GET, "/api/operators".into(), 1, None),
        (Method::GET, "/api/queue".into(), 1, None),
        (Method::GET, "/api/live".into(), 1, None),
        (
            Method::POST,
            "/api/operators/101/pause".into(),
            1,
            Some(json!({ "reason": "lunch" })),
        ),
        (Method::POST, "/api/operators/101/resume".into(), 1, None),
        (Method::GET, "/api/audit".into(), 2, None),
        (Method::GET, "/api/users".into(), 2, None),
        (Method::POST, "/api/users".into(), 2, None),
        (Method::POST, "/api/tokens".into(), 2, None),
        (Method::POST, "/api/logout".into(), 0, None),
    ];
    let mut new_user = 0;
    for (method, path, min, body) in &endpoints {
        // Without credentials, and with a made-up session: 401, as JSON.
        for cookie in [None, Some("0000")] {
            let r = api.req(method.clone(), path, cookie).send().await.unwrap();
            assert_eq!(
                r.status(),
                StatusCode::UNAUTHORIZED,
                "{method} {path} {cookie:?}"
            );
            let v: Value = r.json().await.unwrap();
            assert!(v["error"].is_string());
        }
        for (level, who) in [(0u8, &qa), (1, &sup), (2, &admin)] {
            if path == "/api/logout" {
                continue; // checked below: it would end the sessions used here
            }
            let mut rq = api.req(method.clone(), path, Some(who));
            let body = match (path.as_str(), body) {
                ("/api/users", _) if *method == Method::POST => {
                    new_user += 1;
                    Some(
                        json!({ "username": format!("u{new_user}"), "password": "long-enough", "role": "qa" }),
                    )
                }
                ("/api/tokens", _) => Some(json!({ "name": "script", "username": "qa" })),
                (_, b) => b.clone(),
            };
            if let Some(b) = body {
                rq = rq.json(&b);
            }
            let r = rq.send().await.unwrap();
            let status = r.status();
            if level < *min {
                assert_eq!(
                    status,
                    StatusCode::FORBIDDEN,
                    "{method} {path} as level {level}"
                );
            } else {
                let expected = match path.as_str() {
                    p if p.ends_with("/topic") => StatusCode::NO_CONTENT,
                    // 101 has no registered softphone: the switchboard refuses.
                    p if p.starts_with("/api/operators/101/") => StatusCode::CONFLICT,
                    "/api/users" | "/api/tokens" if *method == Method::POST => StatusCode::CREATED,
                    _ => StatusCode::OK,
                };
                assert_eq!(status, expected, "{method} {path} as level {level}");
            }
        }
    }
    for who in [&qa, &sup, &admin] {
        let r = api
            .req(Method::POST, "/api/logout", Some(who))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
    }
    api.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_sets_a_strict_cookie_and_logout_ends_the_session() {
    let api = Api::start().await;
    let r = api.login_raw("qa", "wrong-password").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.headers().get("set-cookie").is_none());
    let r = api.login_raw("nobody", "whatever-pass").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    let r = api.login_raw("qa", "qa-password").await;
    assert_eq!(r.status(), StatusCode::OK);
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(flag), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain HTTP: {cookie}");
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({ "username": "qa", "role": "qa" })
    );
    let token = cookie
        .strip_prefix("hotline_session=")
        .unwrap()
        .split(';')
        .next()
        .unwrap();
    assert_eq!(token.len(), 64);
    let me = api.get_json("/api/me", token).await;
    assert_eq!(me, json!({ "username": "qa", "role": "qa" }));

    // Behind a TLS proxy the cookie is Secure.
    let r = api
        .req(Method::POST, "/api/login", None)
        .header("x-forwarded-proto", "https")
        .json(&json!({ "username": "sup", "password": "sup-password" }))
        .send()
        .await
        .unwrap();
    assert!(r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .contains("; Secure"));

    let r = api
        .req(Method::POST, "/api/logout", Some(token))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let cleared = r.headers()["set-cookie"].to_str().unwrap();
    assert!(
        cleared.starts_with("hotline_session=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
    let r = api
        .req(Method::GET, "/api/me", Some(token))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "the session is gone");

    // A malformed body names the problem.
    let r = api
        .req(Method::POST, "/api/login", None)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);

    let audit = api.audit().await;
    let actions: Vec<(&str, &str)> = audit
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap(),
                e["username"].as_str().unwrap(),
            )
        })
        .collect();
    for expected in [
        ("login_failed", "qa"),
        ("login_failed", "nobody"),
        ("login", "qa"),
        ("logout", "qa"),
        ("login", "admin"),
    ] {
        assert!(actions.contains(&expected), "{expected:?} in {actions:?}");
    }
    assert!(audit.iter().all(|e| e["remote"] == "127.0.0.1"));
    api.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bearer_tokens_act_as_their_user() {
    let api = Api::start().await;
    let admin = api.login("admin").await;
    let r = api
        .req(Method::POST, "/api/tokens", Some(&admin))
        .json(&json!({ "name": "nightly export", "username": "qa" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let token = r.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();

    let bearer = |path: &str, token: &str| {
        api.client
            .get(format!("{}{path}", api.base))
            .header("authorization", format!("Bearer {token}"))
    };
    let r = bearer("/api/me", &token).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["username"], "qa");
    assert_eq!(
        bearer("/api/calls", &token).send().await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(
        bearer("/api/users", &token).send().await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    let wrong = format!("{}0", &token[..63]);
    assert_eq!(
        bearer("/api/me", &wrong).send().await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );

    // A token for a user that does not exist is refused.
    let r = api
        .req(Method::POST, "/api/tokens", Some(&admin))
        .json(&json!({ "name": "x", "username": "ghost" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let audit = api.audit().await;
    assert!(audit
        .iter()
        .any(|e| e["action"] == "token_add" && e["detail"].as_str().unwrap().contains("user=qa")));
    assert!(
        !audit.iter().any(|e| e.to_string().contains(&token)),
        "the token itself is never logged"
    );
    api.server.stop().await;
}

fn ids_of(v: &Value) -> Vec<String> {
    v["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

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
    let ring = RegisterWrite::Ring(hotline::switchboard::register::RingAttempt {
        call_id: ids[0].clone(),
        operator_id: "102".into(),
        started_at: ts("2026-11-24T07:00:09Z"),
        ended_at: ts("2026-11-24T07:00:15Z"),
        result: "no_answer".into(),
    });
    api.store().apply(&[ring]).await.unwrap();
    let qa = api.login("qa").await;
    let v = api.get_json(&format!("/api/calls/{}", ids[0]), &qa).await;
    assert_eq!(v["id"], ids[0].as_str());
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
                "talk_ms_avg": 90_000 })
    );
    assert_eq!(
        days[1],
        json!({ "date": "2026-11-25", "calls": 3, "answered": 1, "abandoned": 0,
                "after_hours": 0, "overflow": 1, "no_operators": 0, "rejected": 1,
                "wait_ms_avg": 5_000, "wait_ms_p90": 5_000, "service_level": 1.0,
                "talk_ms_avg": 180_000 })
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
        "2026-11-24,4,2,1,1,0,0,0,20000,30000,0.5000,90000"
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

/// A RIFF header and a counting pattern, so a range's bytes can be checked.
fn wav_bytes(len: usize) -> Vec<u8> {
    let mut b: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
    b[..4].copy_from_slice(b"RIFF");
    b
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_are_limited_then_429_and_audited() {
    let api = Api::start().await;
    for i in 0..5 {
        let r = api.login_raw("qa", "not-the-password").await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    // Now even the right password is refused for a while.
    let r = api.login_raw("qa", "qa-password").await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.json::<Value>().await.unwrap()["error"].is_string());
    // The same address is limited for every name.
    let r = api.login_raw("admin", "admin-password").await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);

    let entries: Vec<Value> = {
        let (entries, _) = api.store().audit_entries(100, 0).await.unwrap();
        entries
            .into_iter()
            .map(|e| json!({ "action": e.action, "username": e.username, "detail": e.detail }))
            .collect()
    };
    let failed = entries
        .iter()
        .filter(|e| e["action"] == "login_failed")
        .count();
    assert_eq!(failed, 7);
    assert_eq!(
        entries
            .iter()
            .filter(|e| e["detail"] == "rate_limited")
            .count(),
        2
    );
    api.server.stop().await;
}

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_add_users_who_can_then_log_in() {
    let api = Api::start().await;
    let admin = api.login("admin").await;
    let add = |body: Value| {
        api.req(Method::POST, "/api/users", Some(&admin))
            .json(&body)
            .send()
    };
    let r = add(json!({ "username": "olga", "password": "olga-password", "role": "supervisor" }))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = add(json!({ "username": "olga", "password": "other-password", "role": "qa" }))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let r = add(json!({ "username": "ivan", "password": "short", "role": "qa" }))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = add(json!({ "username": "ivan", "password": "long-enough", "role": "root" }))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);

    let users = api.get_json("/api/users", &admin).await;
    let names: Vec<(&str, &str)> = users
        .as_array()
        .unwrap()
        .iter()
        .map(|u| (u["username"].as_str().unwrap(), u["role"].as_str().unwrap()))
        .collect();
    assert_eq!(
        names,
        [
            ("admin", "admin"),
            ("olga", "supervisor"),
            ("qa", "qa"),
            ("sup", "supervisor")
        ]
    );
    assert!(!users.to_string().contains("argon2"), "hashes stay inside");
    let olga = api.login("olga").await;
    assert_eq!(api.get_json("/api/me", &olga).await["role"], "supervisor");
    api.server.stop().await;
}
