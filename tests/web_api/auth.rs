//! Who may do what: the role matrix, sessions, tokens, the login limit, users.

use super::*;

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
    // The same token with its last digit changed.
    let last = if token.ends_with('0') { '1' } else { '0' };
    let wrong = format!("{}{last}", &token[..63]);
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_are_limited_then_429_and_audited() {
    let api = Api::start().await;
    for i in 0..5 {
        let r = api.login_raw("qa", "not-the-password").await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    // Now even the right password is refused for a while, and the answer says how long.
    let r = api.login_raw("qa", "qa-password").await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((590..=600).contains(&retry), "Retry-After {retry}");
    assert!(r.json::<Value>().await.unwrap()["error"].is_string());
    // Another user at the same address (an office behind one NAT) is not locked out.
    let r = api.login_raw("admin", "admin-password").await;
    assert_eq!(r.status(), StatusCode::OK);

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
    assert_eq!(failed, 6);
    assert_eq!(
        entries
            .iter()
            .filter(|e| e["detail"] == "rate_limited")
            .count(),
        1
    );
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
