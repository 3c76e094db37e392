//! The QA console in headless Chromium against a real server: users made with the
//! `user add` command, calls written to the register through `Store::apply`, a stereo WAV
//! under the recordings root, and an operator registered from a SIPp softphone. The browser
//! side (tests/browser/console.test.mjs, playwright-core driving Debian's chromium) logs in,
//! searches, opens a call (its rings, its hold in the timeline and on the level view) and
//! loads its recording, pauses and resumes the operator on the
//! live board (and shows a call-back in progress there), reads the statistics (with the self-service share and the readings), and as
//! an operator looks up an account's meter readings and enters some (on the readings page
//! and on a call's page), and saves a screenshot of each page under
//! `target/console-screenshots/`.
//!
//! Needs `chromium`, `node` and `npm ci --prefix tests/browser` (scripts/install-deps.sh).

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use hotline::model::meters::{Meter, MeterKind};
use hotline::model::{format_time, new_call_id};
use hotline::model::{
    CallEvent, CallEventKind, CallUpdate, HangupBy, NewCall, Outcome, RegisterWrite, RingAttempt,
};
use hotline::store::ReadingRecord;
use jiff::{tz::TimeZone, Timestamp};
use sha2::{Digest, Sha256};

const OPERATOR: &str = "1001";
const RECORDING_SECONDS: f64 = 3.0;
/// The subscriber whose meters the readings steps use.
const ACCOUNT: &str = "100200300";

fn chromium() -> PathBuf {
    PathBuf::from(std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()))
}

/// `hotline --config FILE user add NAME --role ROLE`, the password on standard input.
fn add_user(config: &Path, name: &str, role: &str, password: &str) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hotline"))
        .arg("--config")
        .arg(config)
        .args(["user", "add", name, "--role", role])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("hotline binary runs");
    // A command that fails early closes its stdin; its status and output below say why.
    let _ = child
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{password}\n").as_bytes());
    let out = child.wait_with_output().expect("user add finishes");
    assert!(
        out.status.success(),
        "user add {name}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A stereo 8 kHz 16-bit WAV as the recorder writes them: the caller (left) says something
/// for the first second, the operator (right) for the second one, then both are quiet.
/// `hotline user add NAME --role operator --operator ID`, the password on standard input.
fn add_operator_user(config: &Path, name: &str, operator: &str, password: &str) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hotline"))
        .arg("--config")
        .arg(config)
        .args([
            "user",
            "add",
            name,
            "--role",
            "operator",
            "--operator",
            operator,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("hotline binary runs");
    let _ = child
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{password}\n").as_bytes());
    let out = child.wait_with_output().expect("user add finishes");
    assert!(
        out.status.success(),
        "user add {name}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn write_recording(path: &Path) -> (u64, String) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("recording dir");
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).expect("wav");
    let frames = (RECORDING_SECONDS * 8000.0) as usize;
    for i in 0..frames {
        let t = i as f64 / 8000.0;
        let tone = |f: f64, on: bool| {
            let a = if on { 9000.0 } else { 150.0 };
            (a * (2.0 * std::f64::consts::PI * f * t).sin()) as i16
        };
        w.write_sample(tone(440.0, t < 1.0)).expect("sample");
        w.write_sample(tone(1000.0, (1.0..2.0).contains(&t)))
            .expect("sample");
    }
    w.finalize().expect("wav closed");
    let bytes = std::fs::read(path).expect("read back");
    (bytes.len() as u64, hex::encode(Sha256::digest(&bytes)))
}

fn at(ms_ago: i64) -> Timestamp {
    Timestamp::from_millisecond(Timestamp::now().as_millisecond() - ms_ago).expect("in range")
}

fn plus(t: Timestamp, ms: i64) -> Timestamp {
    Timestamp::from_millisecond(t.as_millisecond() + ms).expect("in range")
}

fn open(id: &str, caller: &str, received_at: Timestamp) -> RegisterWrite {
    RegisterWrite::Open(NewCall {
        id: id.to_string(),
        sip_call_id: format!("{id}@trunk"),
        caller: caller.to_string(),
        dialed: "792112".to_string(),
        source: "127.0.0.1".to_string(),
        received_at,
        direction: hotline::model::CallDirection::Inbound,
    })
}

/// Three calls: one answered and recorded (two operators rung, a hold during the
/// conversation), one abandoned (both from numbers containing `1612`), one after hours
/// yesterday. Returns the answered call's id and number.
async fn seed_calls(server: &TestServer) -> (String, String) {
    let mut rng = rand::rng();
    let t = at(2 * 3600 * 1000);
    let answered = new_call_id(t, &mut rng);
    let day = t.to_zoned(TimeZone::UTC).strftime("%Y/%m/%d").to_string();
    let relative = format!("{day}/{answered}.wav");
    let (bytes, sha) = write_recording(&server.dir.path().join("recordings").join(&relative));
    let caller = "79161234567".to_string();
    let t2 = at(3 * 3600 * 1000);
    let abandoned = new_call_id(t2, &mut rng);
    let t3 = at(26 * 3600 * 1000);
    let after_hours = new_call_id(t3, &mut rng);
    let writes = vec![
        open(&answered, &caller, t),
        RegisterWrite::Update {
            id: answered.clone(),
            update: CallUpdate {
                answered_at: Some(plus(t, 300)),
                notice_played_at: Some(plus(t, 400)),
                notice_completed: Some(true),
                queued_at: Some(plus(t, 6_000)),
                connected_at: Some(plus(t, 14_000)),
                ended_at: Some(plus(t, 74_000)),
                operator_id: Some(OPERATOR.to_string()),
                wait_ms: Some(8_000),
                talk_ms: Some(60_000),
                outcome: Some(Outcome::Answered),
                hangup_by: Some(HangupBy::Caller),
                recording_path: Some(relative),
                recording_ms: Some((RECORDING_SECONDS * 1000.0) as i64),
                recording_bytes: Some(bytes as i64),
                recording_sha256: Some(sha),
                ..CallUpdate::default()
            },
        },
        RegisterWrite::Ring(RingAttempt {
            call_id: answered.clone(),
            operator_id: "1002".to_string(),
            started_at: plus(t, 6_010),
            ended_at: plus(t, 6_090),
            result: hotline::model::RingResult::NoAnswer,
        }),
        RegisterWrite::Ring(RingAttempt {
            call_id: answered.clone(),
            operator_id: OPERATOR.to_string(),
            started_at: plus(t, 6_100),
            ended_at: plus(t, 14_000),
            result: hotline::model::RingResult::Answered,
        }),
        // One second into the recording (it starts at the answer) the operator holds the
        // caller for a second.
        RegisterWrite::Event(CallEvent {
            call_id: answered.clone(),
            at: plus(t, 15_000),
            kind: CallEventKind::OperatorHold,
            detail: None,
        }),
        RegisterWrite::Event(CallEvent {
            call_id: answered.clone(),
            at: plus(t, 16_000),
            kind: CallEventKind::OperatorResume,
            detail: None,
        }),
        open(&abandoned, "79161230000", t2),
        RegisterWrite::Update {
            id: abandoned.clone(),
            update: CallUpdate {
                answered_at: Some(plus(t2, 300)),
                queued_at: Some(plus(t2, 6_000)),
                ended_at: Some(plus(t2, 50_000)),
                wait_ms: Some(44_000),
                outcome: Some(Outcome::Abandoned),
                hangup_by: Some(HangupBy::Caller),
                ..CallUpdate::default()
            },
        },
        open(&after_hours, "74950001122", t3),
        RegisterWrite::Update {
            id: after_hours.clone(),
            update: CallUpdate {
                answered_at: Some(plus(t3, 300)),
                ended_at: Some(plus(t3, 9_000)),
                outcome: Some(Outcome::AfterHours),
                hangup_by: Some(HangupBy::System),
                ..CallUpdate::default()
            },
        },
    ];
    let report = server.store.apply(&writes).await.expect("register written");
    assert!(report.skipped.is_empty(), "{:?}", report.skipped);
    (answered, caller)
}

/// Billing's export of one account (meters K-101, cold, last 120, and H-202, hot, last 45),
/// and a self-service call an hour ago in which the caller keyed in K-101 = 131.
async fn seed_readings(server: &TestServer) {
    let meter = |meter: &str, kind, last_reading| Meter {
        account: ACCOUNT.to_string(),
        meter: meter.to_string(),
        kind,
        last_reading,
    };
    server
        .store
        .import_meters(&[
            meter("K-101", MeterKind::Cold, 120),
            meter("H-202", MeterKind::Hot, 45),
        ])
        .await
        .expect("meters imported");
    let t = at(3600 * 1000);
    let id = new_call_id(t, &mut rand::rng());
    let writes = vec![
        open(&id, "74950009988", t),
        RegisterWrite::Update {
            id: id.clone(),
            update: CallUpdate {
                answered_at: Some(plus(t, 300)),
                ended_at: Some(plus(t, 60_000)),
                outcome: Some(Outcome::SelfService),
                hangup_by: Some(HangupBy::System),
                ..CallUpdate::default()
            },
        },
    ];
    let report = server.store.apply(&writes).await.expect("register written");
    assert!(report.skipped.is_empty(), "{:?}", report.skipped);
    server
        .store
        .add_reading(&ReadingRecord {
            account: ACCOUNT.to_string(),
            meter: "K-101".to_string(),
            value: 131,
            previous: 120,
            call_id: Some(id),
            at: format_time(plus(t, 40_000)),
            source: "phone".to_string(),
        })
        .await
        .expect("reading stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_in_a_browser_against_a_real_server() {
    let repo = repo();
    let browser_dir = repo.join("tests/browser");
    assert!(
        chromium().exists(),
        "{} is missing: run scripts/install-deps.sh",
        chromium().display()
    );
    assert!(
        browser_dir.join("node_modules/playwright-core").exists(),
        "playwright-core is missing: npm ci --prefix tests/browser"
    );

    let extra = format!(
        "{ALWAYS_OPEN}\n[[operators]]\nid = \"{OPERATOR}\"\nname = \"Иванова\"\npassword = \"pass{OPERATOR}\"\n"
    );
    let server = TestServer::start(&extra).await;
    let config = server.dir.path().join("hotline.toml");
    let (call_id, caller) = seed_calls(&server).await;
    seed_readings(&server).await;
    // The recording's audio metrics, measured by the server's worker, for the call page.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while server.store.audio(&call_id).await.expect("query").is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "recording analysed within 20 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    add_user(&config, "chief", "supervisor", "Chief-pass-1");
    add_user(&config, "anna", "qa", "Anna-pass-1");
    add_user(&config, "root", "admin", "Root-pass-1");
    add_operator_user(&config, "ivanova", OPERATOR, "Ivanova-pass-1");
    let _operator = SippOperator::start(
        server.addr,
        OPERATOR,
        &format!("pass{OPERATOR}"),
        free_udp_port(),
        free_udp_port(),
        &["-rtp_echo"],
    )
    .await;

    let moscow = TimeZone::get("Europe/Moscow").expect("zone");
    let today = Timestamp::now().to_zoned(moscow.clone()).date();
    let from = at(2 * 24 * 3600 * 1000).to_zoned(moscow).date();
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| repo.join("target"));
    let shots = target.join("console-screenshots");

    // The console's pages first, then grading (which adds an evaluation to the register).
    for file in ["console.test.mjs", "quality.test.mjs"] {
        let child = tokio::process::Command::new("node")
            .args(["--test", "--test-reporter=spec", file])
            .current_dir(&browser_dir)
            .env("HOTLINE_URL", format!("http://{}", server.http))
            .env("HOTLINE_SUPERVISOR", "chief")
            .env("HOTLINE_SUPERVISOR_PASSWORD", "Chief-pass-1")
            .env("HOTLINE_QA", "anna")
            .env("HOTLINE_QA_PASSWORD", "Anna-pass-1")
            .env("HOTLINE_ADMIN", "root")
            .env("HOTLINE_ADMIN_PASSWORD", "Root-pass-1")
            .env("HOTLINE_CALL_ID", &call_id)
            .env("HOTLINE_CALLER", &caller)
            .env("HOTLINE_SEARCH", "1612")
            .env("HOTLINE_SEARCH_MATCHES", "2")
            .env("HOTLINE_RECORDING_SECONDS", RECORDING_SECONDS.to_string())
            .env("HOTLINE_HOLD", "0:01–0:02")
            .env("HOTLINE_OPERATOR", OPERATOR)
            .env("HOTLINE_STATS_FROM", from.to_string())
            .env("HOTLINE_STATS_TO", today.to_string())
            .env("HOTLINE_STATS_CALLS", "4")
            .env("HOTLINE_STATS_SELF_SERVICE", "25 %")
            .env("HOTLINE_STATS_READINGS", "1")
            .env("HOTLINE_ACCOUNT", ACCOUNT)
            .env("HOTLINE_OPERATOR_USER", "ivanova")
            .env("HOTLINE_OPERATOR_PASSWORD", "Ivanova-pass-1")
            .env("CHROMIUM", chromium())
            .env("SCREENSHOTS", &shots)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("node runs");
        let out = tokio::time::timeout(Duration::from_secs(240), child.wait_with_output())
            .await
            .expect("the browser test finishes within 4 minutes")
            .expect("node ran");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        println!("{stdout}\n{stderr}\nscreenshots: {}", shots.display());
        assert!(
            out.status.success(),
            "browser test {file} failed:\n{stdout}\n{stderr}"
        );
    }
    server.stop().await;
}
