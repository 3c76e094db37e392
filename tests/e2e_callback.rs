//! A call-back of a missed call, end to end over real sockets: the line registers with a
//! provider of our own (`provider_support`), an operator softphone (SIPp, echoing RTP)
//! registers, a missed call is on the worklist, and `POST /api/worklist/{id}/callback`
//! rings the operator, then calls the citizen through the provider (401, then the
//! authenticated INVITE with the hotline number in From and P-Asserted-Identity); the
//! citizen's tone and the operator's echo are recorded on both channels, and the
//! worklist item ends `called_back`. While connected, the call-back is on the live board
//! (`/api/live`) and its row is already `outbound`. A busy citizen leaves the item open.
//! Through a provider reached over TLS, the call-back runs on the registration's TLS
//! connection.

mod common;
mod provider_support;

use std::time::{Duration, Instant};

use common::{SippOperator, TestServer, CLOSED};
use hotline::model::{CallUpdate, NewCall, Outcome, RegisterWrite};
use provider_support::{InviteScript, Provider, Script, TlsProvider, PASSWORD, USER};

const CITIZEN: &str = "+79115550101";

/// The provider's registrar: no failures, the interval granted as asked.
const REGISTRAR: Script = Script {
    fail_first: 0,
    min_expires: 0,
    grant: 600,
};

/// The line with the provider at `registrar` (`tls_ca` and the like in `extra`).
async fn line(registrar: &str, extra: &str) -> TestServer {
    TestServer::start(&format!(
        r#"{CLOSED}
[trunk.provider]
registrar = "{registrar}"
username = "{USER}"
password = "{PASSWORD}"
expires = 600
options_interval = "0s"
{extra}
[[operators]]
id = "101"
name = "Operator 101"
password = "pass101"
"#
    ))
    .await
}

/// The call-back's row once its recording is finished (or failed).
async fn recorded_row(server: &TestServer, call_id: &str) -> hotline::model::CallRecord {
    let mut row = None;
    wait_for("the recording", async || {
        row = server.store.call(call_id).await.unwrap();
        row.as_ref()
            .is_some_and(|r| r.recording_sha256.is_some() || r.recording_error.is_some())
    })
    .await;
    row.unwrap()
}

async fn wait_for(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done().await {
        assert!(Instant::now() < deadline, "{what} within 30 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A missed after-hours call from the citizen in the register, and its worklist item.
async fn missed_call(server: &TestServer, client: &reqwest::Client, cookie: &str) -> i64 {
    let at = jiff::Timestamp::now();
    server
        .store
        .apply(&[
            RegisterWrite::Open(NewCall {
                id: "missed-1".into(),
                sip_call_id: "missed-1@test".into(),
                caller: CITIZEN.into(),
                dialed: "792112".into(),
                source: "udp:127.0.0.1:5071".into(),
                received_at: at,
                direction: hotline::model::CallDirection::Inbound,
            }),
            RegisterWrite::Update {
                id: "missed-1".into(),
                update: CallUpdate {
                    ended_at: Some(at),
                    outcome: Some(Outcome::AfterHours),
                    // Chosen in the phone menu before the line closed.
                    topic: Some("billing".into()),
                    ..CallUpdate::default()
                },
            },
        ])
        .await
        .unwrap();
    let list: serde_json::Value = client
        .get(format!("http://{}/api/worklist", server.http))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    list["items"][0]["id"].as_i64().expect("an item")
}

async fn login(server: &TestServer, client: &reqwest::Client) -> String {
    let phc = hotline::web::credentials::hash_password("qa-password").unwrap();
    let now = hotline::model::format_time(jiff::Timestamp::now());
    server
        .store
        .add_user("qa", &phc, hotline::store::Role::Supervisor, &now)
        .await
        .unwrap();
    let base = format!("http://{}", server.http);
    let login = client
        .post(format!("{base}/api/login"))
        .header("origin", base.as_str())
        .json(&serde_json::json!({ "username": "qa", "password": "qa-password" }))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), reqwest::StatusCode::OK);
    login.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned()
}

async fn call_back(
    server: &TestServer,
    client: &reqwest::Client,
    cookie: &str,
    item: i64,
) -> (u16, serde_json::Value) {
    let base = format!("http://{}", server.http);
    let r = client
        .post(format!("{base}/api/worklist/{item}/callback"))
        .header("cookie", cookie)
        .header("origin", base.as_str())
        .json(&serde_json::json!({ "operator": "101" }))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

/// The first live board snapshot (`/api/live`) that `wanted` accepts, within 30 s.
async fn board_when(
    server: &TestServer,
    client: &reqwest::Client,
    cookie: &str,
    wanted: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let mut r = client
        .get(format!("http://{}/api/live", server.http))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::OK);
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut text = String::new();
    let mut seen = Vec::new();
    loop {
        while let Some(end) = text.find("\n\n") {
            let event: String = text.drain(..end + 2).collect();
            let Some(data) = event.lines().find_map(|l| l.strip_prefix("data: ")) else {
                continue;
            };
            let snap: serde_json::Value = serde_json::from_str(data).unwrap();
            if wanted(&snap) {
                return snap;
            }
            seen.push(snap);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "the board within 30 s; seen {seen:?}");
        match tokio::time::timeout(left, r.chunk()).await {
            Ok(chunk) => text.push_str(&String::from_utf8_lossy(&chunk.unwrap().expect("open"))),
            Err(_) => panic!("the board within 30 s; seen {seen:?}"),
        }
    }
}

/// The line registered with the provider over UDP and the operator's softphone registered.
async fn ready(provider: &Provider) -> (TestServer, SippOperator, reqwest::Client, String) {
    ready_with(&format!("sip:{}", provider.addr), "").await
}

async fn ready_with(
    registrar: &str,
    extra: &str,
) -> (TestServer, SippOperator, reqwest::Client, String) {
    let server = line(registrar, extra).await;
    wait_for("registration", async || {
        let body = reqwest::get(format!("http://{}/metrics", server.http))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        body.contains("\nhotline_provider_registered 1\n")
    })
    .await;
    let op = SippOperator::echoing(server.addr, "101", "pass101").await;
    let client = reqwest::Client::new();
    let cookie = login(&server, &client).await;
    (server, op, client, cookie)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missed_call_is_called_back_through_the_provider_and_recorded() {
    let provider = Provider::start(REGISTRAR).await;
    provider.answer_invites(InviteScript {
        status: 200,
        talk: Duration::from_secs(4),
    });
    let (server, _op, client, cookie) = ready(&provider).await;
    let item = missed_call(&server, &client, &cookie).await;

    let (status, started) = call_back(&server, &client, &cookie, item).await;
    assert_eq!(status, 202, "{started}");
    let call_id = started["call_id"].as_str().unwrap().to_string();

    // While the two talk: on the live board, with the operator on it.
    let snap = board_when(&server, &client, &cookie, |s| {
        s["callbacks"][0]["stage"] == "talking"
    })
    .await;
    let entry = &snap["callbacks"][0];
    assert_eq!(snap["callbacks"].as_array().unwrap().len(), 1, "{snap}");
    assert_eq!(entry["call_id"], call_id.as_str(), "{entry}");
    assert_eq!(entry["item"], item, "{entry}");
    assert_eq!(entry["number"], "+7911555****", "{entry}");
    assert_eq!(entry["operator"], "101", "{entry}");
    assert_eq!(entry["direction"], "outbound", "{entry}");
    assert_eq!(entry["topic"], "billing", "{entry}");
    let since: jiff::Timestamp = entry["since"].as_str().unwrap().parse().unwrap();
    let at: jiff::Timestamp = snap["at"].as_str().unwrap().parse().unwrap();
    assert!(since <= at, "{entry}");
    assert!(entry["stage_ms"].as_u64().unwrap() < 10_000, "{entry}");
    let op = &snap["operators"][0];
    assert_eq!(
        (&op["state"], &op["call_id"]),
        (&"talking".into(), &call_id.as_str().into())
    );
    assert!(snap["waiting"].as_array().unwrap().is_empty(), "{snap}");

    // Its row is outbound during the call, not only once it is over.
    let db = server.dir.path().join("hotline.db");
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    let (direction, outcome): (String, String) =
        sqlx::query_as("SELECT direction, outcome FROM calls WHERE id = ?")
            .bind(&call_id)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(
        (direction.as_str(), outcome.as_str()),
        ("outbound", "in_progress")
    );

    let row = recorded_row(&server, &call_id).await;
    assert_eq!(row.outcome, "answered", "{row:?}");
    assert_eq!(row.operator_id.as_deref(), Some("101"));
    assert_eq!(row.direction, "outbound");
    assert_eq!(
        row.topic.as_deref(),
        Some("billing"),
        "the missed call's topic"
    );
    assert_eq!(row.recording_error, None);

    let seen = provider.seen();
    assert_eq!(seen.invites.len(), 2, "{:?}", seen.invites);
    assert!(
        !seen.invites[0].4 && seen.invites[1].4,
        "401, then credentials"
    );
    let (uri, from, pai, max_forwards, _) = &seen.invites[1];
    assert!(uri.starts_with(&format!("sip:{CITIZEN}@")), "{uri}");
    assert!(from.contains(&format!("sip:{USER}@")), "{from}");
    assert!(pai.contains(&format!("sip:{USER}@")), "{pai}");
    assert_eq!(max_forwards, "70");

    // Left: the citizen's tone; right: the operator (echoing what they hear).
    let file = server
        .dir
        .path()
        .join("recordings")
        .join(row.recording_path.unwrap());
    let mut wav = hound::WavReader::open(&file).unwrap();
    assert_eq!(wav.spec().channels, 2);
    let all: Vec<i16> = wav.samples::<i16>().map(|s| s.unwrap()).collect();
    let loud = |channel: usize| {
        all.iter()
            .skip(channel)
            .step_by(2)
            .filter(|s| s.unsigned_abs() > 1000)
            .count()
    };
    assert!(loud(0) > 8000, "citizen's channel: {}", loud(0));
    assert!(loud(1) > 8000, "operator's channel: {}", loud(1));

    let mut detail = None;
    wait_for("the worklist item", async || {
        detail = server.store.worklist_item(item, "").await.unwrap();
        detail.as_ref().unwrap().item.state == "called_back"
    })
    .await;
    let detail = detail.unwrap();
    assert!(
        detail
            .calls
            .contains(&(call_id.clone(), "callback".to_string())),
        "{:?}",
        detail.calls
    );
    // Off the board once over.
    board_when(&server, &client, &cookie, |s| {
        s["callbacks"].as_array().is_some_and(Vec::is_empty)
    })
    .await;
    let (direction,): (String,) = sqlx::query_as("SELECT direction FROM calls WHERE id = ?")
        .bind(&call_id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(direction, "outbound");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_citizen_leaves_the_item_open_with_the_attempt_noted() {
    let provider = Provider::start(REGISTRAR).await;
    provider.answer_invites(InviteScript {
        status: 486,
        talk: Duration::ZERO,
    });
    let (server, _op, client, cookie) = ready(&provider).await;
    let item = missed_call(&server, &client, &cookie).await;
    let (status, started) = call_back(&server, &client, &cookie, item).await;
    assert_eq!(status, 202, "{started}");
    let call_id = started["call_id"].as_str().unwrap().to_string();

    let mut history = Vec::new();
    wait_for("the attempt on the item", async || {
        let detail = server.store.worklist_item(item, "").await.unwrap().unwrap();
        history = detail.history.clone();
        detail.item.state == "in_progress"
    })
    .await;
    let attempt = history
        .iter()
        .find(|h| h.action == "callback")
        .expect("the call-back in the item's history");
    assert_eq!(attempt.actor, "101");
    assert_eq!(
        attempt.detail.as_deref(),
        Some(format!("busy {call_id}").as_str())
    );
    let row = server.store.call(&call_id).await.unwrap().unwrap();
    assert_eq!(row.outcome, "failed");
    assert_eq!(row.final_status, Some(486));
    // The operator may take the next call-back at once (after the wrap-up).
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_back_through_a_tls_provider_runs_on_the_registration_connection() {
    let provider = TlsProvider::start(REGISTRAR).await;
    provider.answer_invites(InviteScript {
        status: 200,
        talk: Duration::from_secs(4),
    });
    let extra = format!("tls_ca = \"{}\"", provider.ca_pem.display());
    let (server, _op, client, cookie) =
        ready_with(&format!("sips:{}", provider.addr), &extra).await;
    let item = missed_call(&server, &client, &cookie).await;
    let (status, started) = call_back(&server, &client, &cookie, item).await;
    assert_eq!(status, 202, "{started}");
    let call_id = started["call_id"].as_str().unwrap().to_string();

    let row = recorded_row(&server, &call_id).await;
    assert_eq!(row.outcome, "answered", "{row:?}");
    assert_eq!(row.recording_error, None);
    let file = server
        .dir
        .path()
        .join("recordings")
        .join(row.recording_path.unwrap());
    let mut wav = hound::WavReader::open(&file).unwrap();
    let all: Vec<i16> = wav.samples::<i16>().map(|s| s.unwrap()).collect();
    let citizen = all
        .iter()
        .step_by(2)
        .filter(|s| s.unsigned_abs() > 1000)
        .count();
    assert!(
        citizen > 8000,
        "the citizen's tone over plain RTP: {citizen}"
    );

    let seen = provider.seen();
    assert_eq!(
        seen.invites.len(),
        2,
        "401, then credentials: {:?}",
        seen.invites
    );
    assert!(seen.invites[1].4, "{:?}", seen.invites);
    assert_eq!(seen.byes, 0, "the citizen hung up; we sent no BYE");
    assert_eq!(
        provider.handshakes(),
        1,
        "the INVITEs, the ACK and the citizen's BYE all went on the registration's connection"
    );
    wait_for("the worklist item", async || {
        let detail = server.store.worklist_item(item, "").await.unwrap().unwrap();
        detail.item.state == "called_back"
    })
    .await;
    server.stop().await;
}
