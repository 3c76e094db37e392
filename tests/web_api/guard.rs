//! The HTTP side under attack: console logins guessed from other addresses, a forged
//! cross-site request, and what every response and `/metrics` say.

use std::net::IpAddr;

use super::*;

/// A client whose connections come from `ip` (any 127.0.0.0/8 address reaches the
/// server on 127.0.0.1).
fn client_from(ip: &str) -> Client {
    Client::builder()
        .local_address(ip.parse::<IpAddr>().unwrap())
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

async fn login_from(api: &Api, client: &Client, user: &str, password: &str) -> Response {
    client
        .post(format!("{}/api/login", api.base))
        .header("origin", api.base.as_str())
        .json(&json!({ "username": user, "password": password }))
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guessed_console_account_stays_open_from_its_usual_address() {
    let api = Api::start().await;
    // qa works from 127.0.0.1: that is its usual address now.
    api.login("qa").await;
    let attacker = client_from("127.0.0.2");
    for i in 0..5 {
        let r = login_from(&api, &attacker, "qa", "guess").await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "guess {i}");
    }
    let r = login_from(&api, &attacker, "qa", "qa-password").await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=600).contains(&retry), "Retry-After {retry}");
    // The owner, from where it always works, gets in; so does another user from the
    // attacker's address.
    assert_eq!(
        api.login_raw("qa", "qa-password").await.status(),
        StatusCode::OK
    );
    let r = login_from(&api, &attacker, "sup", "sup-password").await;
    assert_eq!(r.status(), StatusCode::OK);
    let metrics = api
        .client
        .get(format!("{}/metrics", api.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("\nhotline_console_locked_accounts 1\n"),
        "{metrics}"
    );

    // An address that tries many names is blocked for all of them.
    let sprayer = client_from("127.0.0.3");
    for name in ["root", "admin", "operator", "test", "boss"] {
        let r = login_from(&api, &sprayer, name, "123456").await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{name}");
    }
    let r = login_from(&api, &sprayer, "sup", "sup-password").await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().contains_key("retry-after"));
    api.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cross_site_request_changes_nothing() {
    let api = Api::start().await;
    let ids = insert(api.store(), &known_rows()).await;
    let call = &ids[0];
    let qa = api.login("qa").await;
    let path = format!("/api/calls/{call}/topic");
    let forged = |content_type: &'static str, origin: Option<&'static str>| {
        let mut r = api
            .client
            .put(format!("{}{path}", api.base))
            .header("cookie", format!("hotline_session={qa}"))
            .header("content-type", content_type)
            .body(r#"{"topic":"billing"}"#);
        if let Some(o) = origin {
            r = r.header("origin", o);
        }
        r
    };
    // What a form on another site can send without asking first.
    let r = forged("text/plain", Some("https://evil.example"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = forged("application/json", Some("https://evil.example"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = forged("application/json", None).send().await.unwrap();
    assert_eq!(
        r.status(),
        StatusCode::FORBIDDEN,
        "a cookie needs an origin"
    );
    let ours: &'static str = Box::leak(api.base.clone().into_boxed_str());
    let r = forged("text/plain", Some(ours)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let one = api.get_json(&format!("/api/calls/{call}"), &qa).await;
    assert_eq!(one["topic"], Value::Null, "{one}");

    // The console's own request goes through.
    let r = forged("application/json", Some(ours)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let one = api.get_json(&format!("/api/calls/{call}"), &qa).await;
    assert_eq!(one["topic"], "billing", "{one}");

    // A script with a bearer token needs neither.
    let admin = api.login("admin").await;
    let r = api
        .req(Method::POST, "/api/tokens", Some(&admin))
        .json(&json!({ "name": "export", "username": "qa" }))
        .send()
        .await
        .unwrap();
    let token = r.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = api
        .client
        .put(format!("{}{path}", api.base))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(r#"{"topic":"debt"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    api.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_says_nosniff() {
    let api = Api::start().await;
    let qa = api.login("qa").await;
    let requests = [
        api.req(Method::GET, "/api/me", None),
        api.req(Method::GET, "/api/me", Some(&qa)),
        api.req(Method::GET, "/api/calls?limit=0", Some(&qa)),
        api.req(Method::GET, "/api/nowhere", Some(&qa)),
        api.req(Method::GET, "/api/openapi.json", None),
        api.req(Method::POST, "/api/login", None).body("{not json"),
        api.req(Method::PUT, "/api/calls/X/topic", Some(&qa))
            .header("content-type", "text/plain"),
        api.req(Method::GET, "/metrics", None),
        api.req(Method::GET, "/healthz", None),
        api.req(Method::GET, "/console/", None),
        api.req(Method::GET, "/nowhere", None),
    ];
    for rq in requests {
        let r = rq.send().await.unwrap();
        let what = format!("{} {}", r.status(), r.url().path());
        assert_eq!(
            r.headers()
                .get("x-content-type-options")
                .map(|v| v.to_str().unwrap()),
            Some("nosniff"),
            "{what}"
        );
    }
    api.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_ask_for_the_configured_token() {
    const TOKEN: &str = "metrics-0123456789abcdef";
    let server =
        TestServer::start(&format!("{EXTRA}\n[http]\nmetrics_token = \"{TOKEN}\"\n")).await;
    let client = Client::new();
    let url = format!("http://{}/metrics", server.http);
    let deadline = Instant::now() + Duration::from_secs(10);
    let first = loop {
        if let Ok(r) = client.get(&url).send().await {
            break r;
        }
        assert!(Instant::now() < deadline, "HTTP server up within 10 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(first.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(first.headers()["www-authenticate"], "Bearer");
    let wrong = client
        .get(&url)
        .bearer_auth("metrics-0123456789abcdeX")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let right = client.get(&url).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(right.status(), StatusCode::OK);
    let text = right.text().await.unwrap();
    assert!(
        text.contains("\nhotline_registrar_locked_accounts 0\n"),
        "{text}"
    );
    assert!(
        text.contains("\nhotline_registrar_blocked_sources 0\n"),
        "{text}"
    );
    server.stop().await;
}
