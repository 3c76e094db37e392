//! The QA HTTP API against a real server on 127.0.0.1: a known register written through
//! `Store::apply`, users added through the store, requests over HTTP.

#[path = "web_api/auth.rs"]
mod auth;
#[path = "web_api/cli.rs"]
mod cli;
mod common;
#[path = "web_api/live.rs"]
mod live;
#[path = "web_api/recordings_stats.rs"]
mod recordings_stats;
#[path = "web_api/register.rs"]
mod register;

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

fn ids_of(v: &Value) -> Vec<String> {
    v["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

/// A RIFF header and a counting pattern, so a range's bytes can be checked.
fn wav_bytes(len: usize) -> Vec<u8> {
    let mut b: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
    b[..4].copy_from_slice(b"RIFF");
    b
}
