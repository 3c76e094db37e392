//! The API tests' harness, shared by the SQLite and the PostgreSQL test binaries: a real
//! server (its register chosen by the including binary's `test_database`), users of each
//! role, a known register, and request helpers.

pub use std::time::{Duration, Instant};

pub use super::common::TestServer;
pub use hotline::model::new_call_id;
pub use hotline::model::{format_time, CallUpdate, HangupBy, NewCall, Outcome, RegisterWrite};
pub use hotline::store::{Role, Store};
pub use hotline::web::credentials::hash_password;
pub use jiff::Timestamp;
pub use rand::{rngs::SmallRng, SeedableRng};
pub use reqwest::{Client, Method, Response, StatusCode};
pub use serde_json::{json, Value};

pub const EXTRA: &str = r#"
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

/// Where a test binary keeps its register: `None` for the server's own SQLite file, or a
/// database URL and whatever must live as long as the server (a fresh PostgreSQL database).
pub struct Database {
    pub url: String,
    pub keep: Box<dyn std::any::Any + Send + Sync>,
}

pub struct Api {
    pub server: TestServer,
    /// Dropped after the server: the database outlives every request.
    _db: Option<Database>,
    pub client: Client,
    pub base: String,
}

impl Api {
    pub async fn start() -> Api {
        let db = super::test_database().await;
        let server = match &db {
            Some(d) => TestServer::start_with_db(EXTRA, &d.url).await,
            None => TestServer::start(EXTRA).await,
        };
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
            _db: db,
            client,
            base,
        }
    }

    pub fn store(&self) -> &Store {
        &self.server.store
    }

    /// A request as the console sends it: changing ones from our origin, as JSON.
    pub fn req(&self, method: Method, path: &str, cookie: Option<&str>) -> reqwest::RequestBuilder {
        let changes = method != Method::GET;
        let mut r = self.client.request(method, format!("{}{path}", self.base));
        if changes {
            r = r
                .header("origin", self.base.as_str())
                .header("content-type", "application/json");
        }
        if let Some(c) = cookie {
            r = r.header("cookie", format!("hotline_session={c}"));
        }
        r
    }

    pub async fn login_raw(&self, user: &str, password: &str) -> Response {
        self.req(Method::POST, "/api/login", None)
            .json(&json!({ "username": user, "password": password }))
            .send()
            .await
            .unwrap()
    }

    /// Logs in and returns the session token from the cookie.
    pub async fn login(&self, user: &str) -> String {
        let r = self.login_raw(user, &format!("{user}-password")).await;
        assert_eq!(r.status(), StatusCode::OK, "login {user}");
        let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
        let token = cookie
            .strip_prefix("hotline_session=")
            .and_then(|c| c.split(';').next())
            .unwrap();
        token.to_owned()
    }

    pub async fn get_json(&self, path: &str, cookie: &str) -> Value {
        let r = self
            .req(Method::GET, path, Some(cookie))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "GET {path}");
        r.json().await.unwrap()
    }

    pub async fn audit(&self) -> Vec<Value> {
        let admin = self.login("admin").await;
        let v = self.get_json("/api/audit?limit=500", &admin).await;
        v["entries"].as_array().unwrap().clone()
    }
}

/// One finished call of the known register.
pub struct Row {
    pub at: &'static str,
    pub outcome: Outcome,
    pub caller: &'static str,
    pub operator: Option<&'static str>,
    pub wait_ms: Option<i64>,
    pub talk_ms: Option<i64>,
}

pub fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

/// Writes `rows` as the switchboard would (an `Open`, then an `Update`); returns the ids.
pub async fn insert(store: &Store, rows: &[Row]) -> Vec<String> {
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
            direction: hotline::model::CallDirection::Inbound,
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
pub fn known_rows() -> Vec<Row> {
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

pub fn ids_of(v: &Value) -> Vec<String> {
    v["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

/// A RIFF header and a counting pattern, so a range's bytes can be checked.
pub fn wav_bytes(len: usize) -> Vec<u8> {
    let mut b: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
    b[..4].copy_from_slice(b"RIFF");
    b
}
