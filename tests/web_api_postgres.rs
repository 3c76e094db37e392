//! The QA HTTP API on PostgreSQL: the scenarios of `tests/web_api.rs` (the same test
//! modules under `tests/web_api/`: the role matrix, sessions, tokens and the login limit,
//! search filters and paging, one call with its rings, topics, the statistics of the known
//! register, recordings in ranges and the audit log), each against a server whose register
//! is a fresh PostgreSQL database. Same data, same answers as on SQLite.
//!
//! Needs a server: `sudo bash scripts/install-deps.sh`, or `HOTLINE_TEST_PG_URL` pointing
//! at one where the role may create databases. Without one these tests fail, loudly.

#[path = "web_api/auth.rs"]
mod auth;
mod common;
mod pg_support;
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
use pg_support::FreshDb;
use rand::{rngs::SmallRng, SeedableRng};
use reqwest::{Client, Method, Response, StatusCode};
use serde_json::{json, Value};

// The harness below is the one of `tests/web_api.rs`, which the shared modules above are
// written against, with the server's register in a PostgreSQL database of its own.

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
    /// Dropped after the server: the database outlives every request.
    _db: FreshDb,
    client: Client,
    base: String,
}

impl Api {
    async fn start() -> Api {
        let db = FreshDb::create().await;
        let server = TestServer::start_with_db(EXTRA, &db.url).await;
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

/// The same register in SQLite and in PostgreSQL answers every QA query identically.
mod parity {
    use super::*;
    use hotline::store::seed::{fabricate, SeedPlan};
    use hotline::store::{AuditEntry, CallFilter, TopicFilter};

    /// Every answer the QA queries give over `rows`, as text to compare.
    async fn transcript(
        store: &Store,
        rows: &[hotline::switchboard::register::CallRecord],
    ) -> Vec<String> {
        let mut out = Vec::new();
        assert_eq!(
            store.insert_raw_calls(rows).await.unwrap(),
            rows.len() as u64
        );
        let from = "2026-09-01T00:00:00.000Z";
        let to = "2026-11-01T00:00:00.000Z";
        // Moscow, New York in winter, UTC, and a half-hour zone (Newfoundland in summer).
        for offset in [10_800, -18_000, 0, -9_000] {
            let days = store.day_aggregates(from, to, offset).await.unwrap();
            assert!(days.len() > 40, "{offset}: {} days", days.len());
            out.push(format!("days {offset}: {days:?}"));
            let mut waits = store.answered_waits(from, to, offset).await.unwrap();
            waits.sort();
            out.push(format!("waits {offset}: {waits:?}"));
        }
        out.push(format!(
            "{:?}",
            store.operator_aggregates(from, to).await.unwrap()
        ));
        let topics = store.topic_counts(from, to).await.unwrap();
        assert!(topics.iter().any(|(t, _)| t.is_none()), "{topics:?}");
        out.push(format!("{topics:?}"));

        let filters = [
            CallFilter {
                limit: 50,
                ..CallFilter::default()
            },
            CallFilter {
                from: Some("2026-10-01T00:00:00.000Z".into()),
                to: Some("2026-10-08T00:00:00.000Z".into()),
                outcome: Some("answered".into()),
                min_talk_ms: Some(120_000),
                limit: 20,
                offset: 10,
                ..CallFilter::default()
            },
            CallFilter {
                caller: Some("12".into()),
                operator: Some("103".into()),
                limit: 500,
                ..CallFilter::default()
            },
            CallFilter {
                topic: Some(TopicFilter::Unset),
                limit: 30,
                offset: 5,
                ..CallFilter::default()
            },
            CallFilter {
                topic: Some(TopicFilter::Is("debt".into())),
                limit: 30,
                ..CallFilter::default()
            },
        ];
        for f in &filters {
            let (calls, total) = store.search_calls(f).await.unwrap();
            assert!(!calls.is_empty(), "{f:?}");
            out.push(format!("{total} {calls:?}"));
        }
        // Set, clear, and a call that does not exist.
        let (first, _) = store.search_calls(&filters[0]).await.unwrap();
        assert!(store
            .set_topic(&first[0].id, Some("contract"))
            .await
            .unwrap());
        assert!(store.set_topic(&first[1].id, None).await.unwrap());
        assert!(!store
            .set_topic("20261124T070000Z-00000000", Some("debt"))
            .await
            .unwrap());
        out.push(format!("{:?}", store.topic_counts(from, to).await.unwrap()));

        // A tie between no topic and a topic: SQLite sorts the missing one first.
        let mut tie = vec![rows[0].clone(), rows[1].clone()];
        for (i, (call, topic)) in tie.iter_mut().zip([None, Some("billing")]).enumerate() {
            call.id = format!("20270101T100000Z-0000000{i}");
            call.received_at = "2027-01-01T10:00:00.000Z".into();
            call.topic = topic.map(str::to_owned);
        }
        assert_eq!(store.insert_raw_calls(&tie).await.unwrap(), 2);
        let counts = store
            .topic_counts("2027-01-01T00:00:00.000Z", "2027-01-02T00:00:00.000Z")
            .await
            .unwrap();
        assert_eq!(counts, [(None, 1), (Some("billing".to_owned()), 1)]);
        out
    }

    /// Users, sessions (idle expiry and the sweep at login), tokens and the audit log.
    async fn accounts(store: &Store) -> Vec<String> {
        let mut out = Vec::new();
        let t = |s: &str| format!("2026-11-24T{s}.000Z");
        assert!(store
            .add_user("zoe", "phc-z", Role::Qa, &t("08:00:00"))
            .await
            .unwrap());
        assert!(store
            .add_user("Anna", "phc-a", Role::Admin, &t("08:00:01"))
            .await
            .unwrap());
        assert!(!store
            .add_user("zoe", "phc-other", Role::Admin, &t("08:00:02"))
            .await
            .unwrap());
        out.push(format!("{:?}", store.users().await.unwrap()));
        out.push(format!("{:?}", store.user("zoe").await.unwrap()));
        out.push(format!("{:?}", store.user("nobody").await.unwrap()));

        store
            .create_session("s1", "zoe", &t("09:00:00"), &t("08:30:00"))
            .await
            .unwrap();
        out.push(format!(
            "{:?}",
            store
                .touch_session("s1", &t("09:10:00"), &t("08:40:00"))
                .await
                .unwrap()
        ));
        // Idle since 09:10, the cutoff now 09:20: dead, and not revived.
        out.push(format!(
            "{:?}",
            store
                .touch_session("s1", &t("09:50:00"), &t("09:20:00"))
                .await
                .unwrap()
        ));
        out.push(format!(
            "{:?}",
            store
                .touch_session("s1", &t("09:50:01"), &t("09:00:00"))
                .await
                .unwrap()
        ));
        store
            .create_session("s2", "Anna", &t("10:00:00"), &t("09:30:00"))
            .await
            .unwrap();
        // The login swept s1: even a generous cutoff finds nothing.
        out.push(format!(
            "{:?}",
            store
                .touch_session("s1", &t("10:00:01"), &t("00:00:00"))
                .await
                .unwrap()
        ));
        store.delete_session("s2").await.unwrap();
        store.delete_session("s2").await.unwrap();
        out.push(format!(
            "{:?}",
            store
                .touch_session("s2", &t("10:00:02"), &t("09:30:00"))
                .await
                .unwrap()
        ));

        assert!(store
            .add_token("k1", "export", "zoe", &t("11:00:00"))
            .await
            .unwrap());
        assert!(!store
            .add_token("k2", "export", "ghost", &t("11:00:00"))
            .await
            .unwrap());
        out.push(format!("{:?}", store.token_principal("k1").await.unwrap()));
        out.push(format!("{:?}", store.token_principal("k2").await.unwrap()));

        for i in 0..7 {
            let entry = AuditEntry {
                at: t("12:00:00"), // same instant: order is the order of writing
                username: (i % 2 == 0).then(|| "zoe".to_owned()),
                action: format!("action{i}"),
                call_id: None,
                remote: Some("127.0.0.1".into()),
                detail: (i == 3).then(|| "bytes=0-9".to_owned()),
            };
            store.audit(&entry).await.unwrap();
        }
        out.push(format!("{:?}", store.audit_entries(3, 2).await.unwrap()));
        out
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres_answers_as_sqlite_does() {
        let rows = fabricate(&SeedPlan {
            calls: 3_000,
            days: 61,
            until: jiff::civil::date(2026, 11, 1),
            zone: jiff::tz::TimeZone::get("Europe/Moscow").unwrap(),
            seed: 7,
        });
        let dir = tempfile::tempdir().unwrap();
        let sqlite = Store::open(
            &format!("sqlite://{}?mode=rwc", dir.path().join("h.db").display()),
            2,
        )
        .await
        .unwrap();
        let db = FreshDb::create().await;
        let postgres = Store::open(&db.url, 2).await.unwrap();

        let expected = transcript(&sqlite, &rows).await;
        let got = transcript(&postgres, &rows).await;
        assert_eq!(expected.len(), got.len());
        for (e, g) in expected.iter().zip(&got) {
            assert_eq!(e, g);
        }
        assert_eq!(accounts(&sqlite).await, accounts(&postgres).await);
        // The seed itself reads back whole.
        let (all, total) = postgres
            .search_calls(&CallFilter {
                limit: 500,
                ..CallFilter::default()
            })
            .await
            .unwrap();
        assert_eq!(total, 3_002, "the seed and the two calls of the topic tie");
        let original = rows.iter().find(|r| r.id == all[7].id).unwrap();
        let mut read = all[7].clone();
        read.topic = original.topic.clone(); // the transcript changed two topics
        assert_eq!(&read, original);
        sqlite.close().await;
        postgres.close().await;
    }
}
