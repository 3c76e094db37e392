//! `hotline recordings verify` and `repair` against files changed behind their header's
//! back, as a full disk leaves them: a finished recording cut short or grown, a failed
//! recording's partial file with a stale header, and a file whose audio changed (which no
//! repair can make right). Run through the real command against a SQLite register.

use std::path::{Path, PathBuf};
use std::process::Command;

use hotline::model::{CallRecord, CallUpdate, NewCall, Outcome, RegisterWrite};
use hotline::store::Store;
use jiff::Timestamp;
use sha2::{Digest, Sha256};

const DAY: &str = "2026/11/24";

/// A stereo 8 kHz 16-bit WAV of `frames` frames, as the recorder writes them.
fn write_wav(path: &Path, frames: u32) -> (i64, i64, String) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for i in 0..frames {
        let s = ((i % 80) as i16 - 40) * 200;
        w.write_sample(s).unwrap();
        w.write_sample(-s).unwrap();
    }
    w.finalize().unwrap();
    let bytes = std::fs::read(path).unwrap();
    let ms = i64::from(frames) * 1000 / 8000;
    (ms, bytes.len() as i64, hex::encode(Sha256::digest(&bytes)))
}

async fn register(store: &Store, id: &str, facts: Option<(i64, i64, String)>, error: Option<&str>) {
    let at: Timestamp = "2026-11-24T15:21:47Z".parse().unwrap();
    let open = RegisterWrite::Open(NewCall {
        id: id.to_owned(),
        sip_call_id: format!("{id}@trunk"),
        caller: "+79111234567".to_owned(),
        dialed: "792112".to_owned(),
        source: "udp:192.0.2.1:5060".to_owned(),
        received_at: at,
        direction: hotline::model::CallDirection::Inbound,
    });
    let update = RegisterWrite::Update {
        id: id.to_owned(),
        update: CallUpdate {
            connected_at: Some(at),
            ended_at: Some(at),
            outcome: Some(Outcome::Answered),
            recording_path: Some(format!("{DAY}/{id}.wav")),
            recording_ms: facts.as_ref().map(|f| f.0),
            recording_bytes: facts.as_ref().map(|f| f.1),
            recording_sha256: facts.map(|f| f.2),
            recording_error: error.map(str::to_owned),
            ..CallUpdate::default()
        },
    };
    let report = store.apply(&[open, update]).await.unwrap();
    assert!(report.skipped.is_empty(), "{:?}", report.skipped);
}

/// `hotline --config FILE recordings <what>`: exit code and standard output.
fn hotline(config: &Path, what: &str) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_hotline"))
        .arg("--config")
        .arg(config)
        .args(["recordings", what])
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

async fn row(store: &Store, id: &str) -> CallRecord {
    store.call(id).await.unwrap().unwrap()
}

fn cut(path: &PathBuf, len: u64) {
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap()
        .set_len(len)
        .unwrap();
}

#[tokio::test]
async fn verify_reports_headers_that_disagree_with_the_file_and_repair_fixes_them() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("recordings");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("h.db").display());
    let config = dir.path().join("hotline.toml");
    std::fs::write(
        &config,
        format!(
            "[recordings]\ndir = \"{}\"\n[database]\nurl = \"{url}\"\n",
            root.display()
        ),
    )
    .unwrap();
    let store = Store::open(&url, 2).await.unwrap();
    let file = |id: &str| root.join(format!("{DAY}/{id}.wav"));

    // SHORT: finished, then cut 1 001 bytes short (the header still promises them).
    let short = write_wav(&file("SHORT"), 16_000);
    register(&store, "SHORT", Some(short.clone()), None).await;
    cut(&file("SHORT"), short.1 as u64 - 1001);
    // LONG: finished, then 4 000 bytes of audio appended behind the header's back.
    let long = write_wav(&file("LONG"), 8_000);
    register(&store, "LONG", Some(long.clone()), None).await;
    let mut bytes = std::fs::read(file("LONG")).unwrap();
    bytes.extend(std::iter::repeat_n(7u8, 4000));
    std::fs::write(file("LONG"), &bytes).unwrap();
    // FULL: the disk filled up mid-call: the row states the error, the partial file's
    // header still declares the audio of its last checkpoint, which never all landed.
    let full = write_wav(&file("FULL"), 12_000);
    register(
        &store,
        "FULL",
        None,
        Some("writing audio: No space left on device (os error 28)"),
    )
    .await;
    cut(&file("FULL"), full.1 as u64 - 9_000);
    // CHANGED: one audio byte flipped under a sound header: reported, never "repaired".
    let changed = write_wav(&file("CHANGED"), 8_000);
    register(&store, "CHANGED", Some(changed.clone()), None).await;
    let mut bytes = std::fs::read(file("CHANGED")).unwrap();
    bytes[1000] ^= 1;
    std::fs::write(file("CHANGED"), &bytes).unwrap();
    // FINE: untouched.
    let fine = write_wav(&file("FINE"), 8_000);
    register(&store, "FINE", Some(fine), None).await;

    let (code, text) = hotline(&config, "verify");
    assert_eq!(code, 1, "{text}");
    assert!(text.starts_with("5 calls checked: 4 problems\n"), "{text}");
    for expected in [
        "mismatched: call SHORT: 2026/11/24/SHORT.wav: header: header declares 64000 bytes of audio but the file holds 62999",
        "mismatched: call LONG: 2026/11/24/LONG.wav: header: declares 32000 bytes of audio but 4000 more follow them",
        "mismatched: call FULL: 2026/11/24/FULL.wav: header: header declares 48000 bytes of audio but the file holds 39000",
        "mismatched: call CHANGED: 2026/11/24/CHANGED.wav: sha256: registered",
    ] {
        assert!(text.contains(expected), "{expected}\n in\n{text}");
    }

    let (code, text) = hotline(&config, "repair");
    assert_eq!(code, 1, "CHANGED is left:\n{text}");
    assert!(text.contains("header rewritten: call SHORT"), "{text}");
    assert!(text.contains("bytes of a torn frame cut"), "{text}");
    assert!(text.contains("header rewritten: call LONG"), "{text}");
    assert!(text.contains("header rewritten: call FULL"), "{text}");
    assert!(
        text.contains("after repair: 5 calls checked: 1 problem\n"),
        "{text}"
    );
    assert!(text.contains("mismatched: call CHANGED"), "{text}");

    // The files are valid again and say what they hold; the register agrees.
    for (id, frames) in [("SHORT", 15_749u32), ("LONG", 9_000), ("FULL", 9_750)] {
        let wav = hound::WavReader::open(file(id)).unwrap();
        assert_eq!(wav.duration(), frames, "{id}");
        let len = std::fs::metadata(file(id)).unwrap().len();
        assert_eq!(
            len,
            44 + u64::from(frames) * 4,
            "{id}: nothing after the audio"
        );
        let r = row(&store, id).await;
        assert_eq!(r.recording_bytes, Some(len as i64), "{id}");
        assert_eq!(
            r.recording_ms,
            Some(i64::from(frames) * 1000 / 8000),
            "{id}"
        );
        let sha = hex::encode(Sha256::digest(std::fs::read(file(id)).unwrap()));
        assert_eq!(r.recording_sha256.as_deref(), Some(sha.as_str()), "{id}");
    }
    // A finished recording keeps what was registered before; a failed one its reason.
    let short_row = row(&store, "SHORT").await;
    let error = short_row.recording_error.unwrap();
    assert!(
        error.contains(&format!(
            "registered before: 2000 ms, {} bytes, sha256 {}",
            short.1, short.2
        )),
        "{error}"
    );
    assert_eq!(
        row(&store, "FULL").await.recording_error.as_deref(),
        Some("writing audio: No space left on device (os error 28)")
    );
    assert_eq!(
        row(&store, "CHANGED").await.recording_sha256,
        Some(changed.2)
    );

    // Once the changed file is dealt with (here: put back), all is clean.
    bytes[1000] ^= 1;
    std::fs::write(file("CHANGED"), &bytes).unwrap();
    let (code, text) = hotline(&config, "verify");
    assert_eq!(
        (code, text.as_str()),
        (0, "5 calls checked: no problems\n\n")
    );
    let (code, text) = hotline(&config, "repair");
    assert_eq!(code, 0, "{text}");
    assert!(text.starts_with("nothing to repair\n"), "{text}");
    store.close().await;
}
