//! Every conversation recorded, end to end: the caller speaks 440 Hz, the operator (a SIPp
//! softphone) 1000 Hz; the WAV must hold the caller on the left and the operator on the
//! right, as long as the talk; and a `kill -9` in mid-call must leave a playable file, an
//! `interrupted` row and a clean `recordings verify`.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use sha2::{Digest, Sha256};

const OPERATOR: &str =
    "[[operators]]\nid = \"1001\"\nname = \"Operator 1001\"\npassword = \"pass1001\"\n";

/// The stereo WAV as (left, right) sample vectors, and its length.
fn stereo(path: &Path) -> (Vec<i16>, Vec<i16>, Duration) {
    let mut r = hound::WavReader::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let spec = r.spec();
    assert_eq!(
        (spec.channels, spec.sample_rate, spec.bits_per_sample),
        (2, 8000, 16),
        "stereo 8 kHz 16-bit"
    );
    let all: Vec<i16> = r.samples::<i16>().map(|s| s.unwrap()).collect();
    let left: Vec<i16> = all.iter().step_by(2).copied().collect();
    let right: Vec<i16> = all.iter().skip(1).step_by(2).copied().collect();
    let d = Duration::from_millis(left.len() as u64 / 8);
    (left, right, d)
}

async fn operator_with_tone(server: std::net::SocketAddr) -> SippOperator {
    SippOperator::start(
        server,
        "1001",
        "pass1001",
        free_udp_port(),
        free_udp_port(),
        &["-set", "play", "1"],
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_conversation_is_recorded_caller_left_operator_right() {
    let server = TestServer::start(&format!("{ALWAYS_OPEN}\n{OPERATOR}")).await;
    let _op = operator_with_tone(server.addr).await;
    let rtp_port = free_udp_port();
    let caller = tone_caller(rtp_port, Duration::from_secs(40));
    let run = sipp(
        server.addr,
        "caller_hangs_up.xml",
        &[
            "-s",
            "792112",
            "-set",
            "rtp_port",
            &rtp_port.to_string(),
            "-d",
            "14000",
        ],
    )
    .await;
    assert!(run.status.success(), "caller: {}", run.stderr);
    caller.join().unwrap();
    let row = server
        .wait_row(&run.call_id, |r| {
            r.recording_sha256.is_some() || r.recording_error.is_some()
        })
        .await;
    assert_eq!(row.outcome, "answered");
    assert_eq!(row.recording_error, None);
    let rel = row.recording_path.clone().expect("recording path");
    assert!(rel.ends_with(&format!("{}.wav", row.id)), "{rel}");
    // The folder is the day in the line's zone (the default, Europe/Moscow), which is
    // not the UTC day between 21:00 and 24:00 UTC.
    let day = row
        .received_at
        .parse::<jiff::Timestamp>()
        .unwrap()
        .to_zoned(jiff::tz::TimeZone::get("Europe/Moscow").unwrap())
        .strftime("%Y/%m/%d")
        .to_string();
    assert!(rel.starts_with(&day), "YYYY/MM/DD/ of {day}: {rel}");
    let file = server.dir.path().join("recordings").join(&rel);
    let bytes = std::fs::read(&file).unwrap();
    assert_eq!(
        format!("{:x}", Sha256::digest(&bytes)),
        row.recording_sha256.clone().unwrap()
    );
    assert_eq!(bytes.len() as i64, row.recording_bytes.unwrap());
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o640,
        "service and group only"
    );

    let (left, right, len) = stereo(&file);
    let talk = Duration::from_millis(row.talk_ms.unwrap() as u64);
    let diff = len.as_millis() as i64 - talk.as_millis() as i64;
    println!("recording {len:?} for talk {talk:?} (difference {diff} ms); left 440 Hz {} windows, right 1000 Hz {} windows",
        tone_windows(&left, 440.0), tone_windows(&right, 1000.0));
    assert!(
        diff.abs() <= 100,
        "the file is as long as the talk: {len:?} vs {talk:?}"
    );
    let windows = left.len() / 800;
    assert!(
        tone_windows(&left, 440.0) * 10 >= windows * 8,
        "left is the caller's 440 Hz"
    );
    assert!(
        tone_windows(&right, 1000.0) * 10 >= windows * 8,
        "right is the operator's 1000 Hz"
    );
    assert_eq!(
        tone_windows(&left, 1000.0),
        0,
        "no operator on the caller's channel"
    );
    assert_eq!(
        tone_windows(&right, 440.0),
        0,
        "no caller on the operator's channel"
    );
    server.stop().await;
}

/// Kill the server with SIGKILL in mid-conversation, start it again: the WAV plays up to
/// (about) the kill, the row is `interrupted`, and `recordings verify` is clean.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_9_in_mid_call_loses_at_most_a_second_and_no_row() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_udp_port();
    let db = dir.path().join("hotline.db");
    let rec = dir.path().join("recordings");
    let config = dir.path().join("hotline.toml");
    std::fs::write(
        &config,
        format!(
            // The menu is off, as in the shared test configuration: the caller presses no key.
            "[sip]\nlisten = \"127.0.0.1:{port}\"\n[media]\nrtp_ports = \"46000-46999\"\n[prompts]\ndir = \"{}\"\n[recordings]\ndir = \"{}\"\n[database]\nurl = \"sqlite://{}?mode=rwc\"\n[menu]\nenabled = false\n{ALWAYS_OPEN}\n{OPERATOR}",
            repo().join("config/prompts").display(),
            rec.display(),
            db.display()
        ),
    )
    .unwrap();
    let start_server = || {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.path().join("server.log"))
            .unwrap();
        Command::new(env!("CARGO_BIN_EXE_hotline"))
            .arg("--config")
            .arg(&config)
            .stderr(log)
            .stdout(Stdio::null())
            .spawn()
            .unwrap()
    };
    let wait_serving = |n: usize| {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let log = std::fs::read_to_string(dir.path().join("server.log")).unwrap_or_default();
            if log.matches("hotline serving").count() >= n {
                return;
            }
            assert!(Instant::now() < deadline, "server did not start:\n{log}");
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    let mut server = start_server();
    wait_serving(1);
    let addr = format!("127.0.0.1:{port}").parse().unwrap();
    let _op = operator_with_tone(addr).await;
    let rtp_port = free_udp_port();
    let caller = tone_caller(rtp_port, Duration::from_secs(30));
    let call = tokio::spawn(async move {
        sipp(
            addr,
            "caller_hangs_up.xml",
            &[
                "-s",
                "792112",
                "-set",
                "rtp_port",
                &rtp_port.to_string(),
                "-d",
                "60000",
            ],
        )
        .await
    });
    // Wait until the conversation has gone on for 6 s, then pull the plug.
    let store = hotline::store::Store::open(&format!("sqlite://{}?mode=rwc", db.display()), 1)
        .await
        .unwrap();
    let connected = loop {
        if let Some(r) = store
            .recent_calls(1)
            .await
            .unwrap()
            .into_iter()
            .find(|r| r.connected_at.is_some())
        {
            break r;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    tokio::time::sleep(Duration::from_secs(6)).await;
    let killed_at = jiff::Timestamp::now();
    server.kill().unwrap(); // SIGKILL
    server.wait().unwrap();
    call.abort();
    drop(caller);

    let mut server = start_server();
    wait_serving(2);
    Command::new("kill")
        .arg("-TERM")
        .arg(server.id().to_string())
        .status()
        .unwrap();
    server.wait().unwrap();

    let row = store.call(&connected.id).await.unwrap().unwrap();
    assert_eq!(row.outcome, "interrupted");
    let rel = row
        .recording_path
        .clone()
        .expect("the recording is registered");
    let (left, right, len) = stereo(&rec.join(&rel));
    let connected_at: jiff::Timestamp = row.connected_at.clone().unwrap().parse().unwrap();
    let talked = killed_at.duration_since(connected_at).as_millis() as i64;
    let lost = talked - len.as_millis() as i64;
    println!(
        "crash: talked {talked} ms before the kill, recording holds {} ms, lost {lost} ms",
        len.as_millis()
    );
    assert!(lost <= 1500, "at most about a second is lost: {lost} ms");
    assert!(tone_windows(&left, 440.0) > 0 && tone_windows(&right, 1000.0) > 0);
    assert_eq!(row.recording_ms, Some(len.as_millis() as i64));

    let verify = Command::new(env!("CARGO_BIN_EXE_hotline"))
        .arg("--config")
        .arg(&config)
        .args(["recordings", "verify"])
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "recordings verify after the crash:\n{}{}",
        String::from_utf8_lossy(&verify.stdout),
        String::from_utf8_lossy(&verify.stderr)
    );
}

/// The operator echoes the caller: the right channel is the left one delayed by the echo's
/// path (well under a millisecond on loopback). The lag of the best cross-correlation is
/// the recording's sync error between the channels.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_channels_are_in_step() {
    let server = TestServer::start(&format!("{ALWAYS_OPEN}\n{OPERATOR}")).await;
    let _op = SippOperator::echoing(server.addr, "1001", "pass1001").await;
    let rtp_port = free_udp_port();
    let caller = rtp_caller(rtp_port, Duration::from_secs(40), ulaw_noise(60.0));
    let run = sipp(
        server.addr,
        "caller_hangs_up.xml",
        &[
            "-s",
            "792112",
            "-set",
            "rtp_port",
            &rtp_port.to_string(),
            "-d",
            "13000",
        ],
    )
    .await;
    assert!(run.status.success(), "caller: {}", run.stderr);
    caller.join().unwrap();
    let row = server
        .wait_row(&run.call_id, |r| r.recording_sha256.is_some())
        .await;
    let (left, right, len) = stereo(
        &server
            .dir
            .path()
            .join("recordings")
            .join(row.recording_path.unwrap()),
    );
    // Correlate 2 s from the middle of the conversation over lags of ±50 ms.
    let mid = left.len() / 2;
    let (a, b) = (
        &left[mid - 8000..mid + 8000],
        &right[mid - 8400..mid + 8400],
    );
    let score = |lag: usize| -> f64 {
        a.iter()
            .zip(&b[lag..])
            .map(|(&x, &y)| f64::from(x) * f64::from(y))
            .sum()
    };
    let (best, _) = (0..800)
        .map(|lag| (lag, score(lag)))
        .fold((0, f64::MIN), |m, (l, v)| if v > m.1 { (l, v) } else { m });
    let lag_ms = (best as f64 - 400.0) / 8.0;
    println!("sync: right channel lags left by {lag_ms:.3} ms (echo path included) in a {len:?} recording");
    assert!(
        lag_ms.abs() <= 20.0,
        "channels in step within 20 ms: {lag_ms} ms"
    );
    server.stop().await;
}

/// A disk that cannot take the recording never drops the call: the conversation goes on and
/// the row says why there is no recording.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disk_error_keeps_the_call_and_registers_the_reason() {
    let server = TestServer::start(&format!("{ALWAYS_OPEN}\n{OPERATOR}")).await;
    // Where the recordings' day directories should go, there is a file.
    std::fs::write(server.dir.path().join("recordings"), b"not a directory").unwrap();
    let _op = SippOperator::echoing(server.addr, "1001", "pass1001").await;
    let (run, caller) = talking_call(server.addr, 12000).await;
    assert!(run.status.success(), "the call went on: {}", run.stderr);
    assert!(
        caller.handle.join().unwrap().echoed > 50,
        "audio flowed both ways"
    );
    let row = server
        .wait_row(&run.call_id, |r| r.recording_error.is_some())
        .await;
    assert_eq!(row.outcome, "answered");
    println!("recording_error: {}", row.recording_error.clone().unwrap());
    assert!(row.recording_sha256.is_none());
    server.stop().await;
}

/// A real recorded call is measured after it ends: the caller's 440 Hz and the operator's
/// 1000 Hz play throughout, so both sides speak the whole talk, all of it overtalk, and
/// the `audio` object of `GET /api/calls/{id}` says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorded_call_is_measured_and_shown_through_the_api() {
    let server = TestServer::start(&format!("{ALWAYS_OPEN}\n{OPERATOR}")).await;
    let _op = operator_with_tone(server.addr).await;
    let rtp_port = free_udp_port();
    let caller = tone_caller(rtp_port, Duration::from_secs(40));
    let run = sipp(
        server.addr,
        "caller_hangs_up.xml",
        &[
            "-s",
            "792112",
            "-set",
            "rtp_port",
            &rtp_port.to_string(),
            "-d",
            "14000",
        ],
    )
    .await;
    assert!(run.status.success(), "caller: {}", run.stderr);
    caller.join().unwrap();
    let row = server
        .wait_row(&run.call_id, |r| {
            r.recording_sha256.is_some() || r.recording_error.is_some()
        })
        .await;
    assert_eq!(row.recording_error, None);

    let phc = hotline::web::credentials::hash_password("qa-password").unwrap();
    let now = hotline::model::format_time(jiff::Timestamp::now());
    server
        .store
        .add_user("qa", &phc, hotline::store::Role::Qa, &now)
        .await
        .unwrap();
    let base = format!("http://{}", server.http);
    let client = reqwest::Client::new();
    let login = client
        .post(format!("{base}/api/login"))
        .header("origin", base.as_str())
        .json(&serde_json::json!({ "username": "qa", "password": "qa-password" }))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), reqwest::StatusCode::OK);
    let cookie = login.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let deadline = Instant::now() + Duration::from_secs(20);
    let audio = loop {
        let v: serde_json::Value = client
            .get(format!("{base}/api/calls/{}", row.id))
            .header("cookie", cookie.as_str())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if !v["audio"].is_null() {
            break v["audio"].clone();
        }
        assert!(Instant::now() < deadline, "analysed within 20 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    println!("audio of a recorded call: {audio}");
    let recording_ms = row.recording_ms.unwrap();
    let ms = |k: &str| audio[k].as_i64().unwrap();
    assert_eq!(ms("duration_ms"), recording_ms);
    // The tones start within a packet or two of the answer and run to the hang-up.
    for side in ["caller_speech_ms", "operator_speech_ms", "overtalk_ms"] {
        assert!(ms(side) * 10 >= recording_ms * 9, "{side}: {audio}");
    }
    assert!(ms("silence_ms") * 10 <= recording_ms, "{audio}");
    // Overtalk is flagged from 5 s on (the default `quality.overtalk_flag`).
    let expected_flags = if ms("overtalk_ms") >= 5000 {
        serde_json::json!(["heavy_overtalk"])
    } else {
        serde_json::json!([])
    };
    assert_eq!(audio["flags"], expected_flags);
    let rms = audio["caller_level"]["rms_dbfs"].as_f64().unwrap();
    assert!((-40.0..-3.0).contains(&rms), "{rms}");
    server.stop().await;
}
