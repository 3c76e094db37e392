//! Audio metrics through the API: recordings of known audio placed under the root, the
//! server's analysis worker measures them, `GET /api/calls/{id}` shows the figures and
//! `GET /api/calls` filters on them.

use super::*;

/// A 16-bit stereo 8 kHz WAV: a 440 Hz tone on the left over `left` (ms spans), 1000 Hz
/// on the right over `right`, digital silence elsewhere, `total_ms` long.
fn tones_wav(total_ms: u64, left: &[(u64, u64)], right: &[(u64, u64)]) -> Vec<u8> {
    let frames = total_ms * 8;
    let tone = |spans: &[(u64, u64)], hz: f64, i: u64| -> i16 {
        let ms = i / 8;
        if spans.iter().any(|&(a, b)| (a..b).contains(&ms)) {
            (8000.0 * (2.0 * std::f64::consts::PI * hz * i as f64 / 8000.0).sin()) as i16
        } else {
            0
        }
    };
    let data = (frames * 4) as u32;
    let mut out = Vec::new();
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    for v in [1u16, 2] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    for v in [8000u32, 32000] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    for v in [4u16, 16] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data.to_le_bytes());
    for i in 0..frames {
        out.extend_from_slice(&tone(left, 440.0, i).to_le_bytes());
        out.extend_from_slice(&tone(right, 1000.0, i).to_le_bytes());
    }
    out
}

/// Puts `wav` under the root as the call's finished recording.
async fn place(api: &Api, id: &str, wav: &[u8]) {
    let rel = format!("2026/11/24/{id}.wav");
    let file = api.server.dir.path().join("recordings").join(&rel);
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, wav).unwrap();
    let update = CallUpdate {
        recording_path: Some(rel),
        recording_bytes: Some(wav.len() as i64),
        recording_sha256: Some("0".repeat(64)),
        ..CallUpdate::default()
    };
    api.store()
        .apply(&[RegisterWrite::Update {
            id: id.to_owned(),
            update,
        }])
        .await
        .unwrap();
}

/// The call's `"audio"` once the worker has measured it (bounded wait).
async fn audio_of(api: &Api, id: &str, cookie: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let v = api.get_json(&format!("/api/calls/{id}"), cookie).await;
        if !v["audio"].is_null() {
            return v["audio"].clone();
        }
        assert!(Instant::now() < deadline, "call {id} analysed within 20 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn near(v: &Value, expected: i64) -> bool {
    (v.as_i64().unwrap() - expected).abs() <= 40
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recordings_are_measured_shown_and_searchable() {
    let api = Api::start().await;
    let ids = insert(api.store(), &known_rows()).await;
    let qa = api.login("qa").await;
    let before = api.get_json(&format!("/api/calls/{}", ids[1]), &qa).await;
    assert_eq!(before["audio"], Value::Null, "null until analysed");

    // The caller alone, 500–3000 ms of 5 s: the operator never spoke.
    place(&api, &ids[0], &tones_wav(5000, &[(500, 3000)], &[])).await;
    // Both sides at once for 8 s: overtalk throughout.
    place(&api, &ids[1], &tones_wav(8000, &[(0, 8000)], &[(0, 8000)])).await;

    let a = audio_of(&api, &ids[0], &qa).await;
    assert!(near(&a["caller_speech_ms"], 2500), "{a}");
    assert_eq!(a["operator_speech_ms"], 0);
    assert_eq!(a["overtalk_ms"], 0);
    assert!(near(&a["silence_ms"], 2500), "{a}");
    assert!(near(&a["longest_silence_ms"], 2000), "{a}");
    assert_eq!(a["operator_talk_share"], 0.0);
    assert_eq!(a["flags"], json!(["operator_silent"]));
    assert_eq!(a["operator_level"]["peak_dbfs"], Value::Null);
    let rms = a["caller_level"]["rms_dbfs"].as_f64().unwrap();
    assert!((rms + 15.3).abs() < 0.5, "{rms}");
    assert_eq!(a["segments"]["caller"].as_array().unwrap().len(), 1, "{a}");

    let b = audio_of(&api, &ids[1], &qa).await;
    assert!(near(&b["overtalk_ms"], 8000), "{b}");
    assert_eq!(b["silence_ms"], 0);
    assert_eq!(b["flags"], json!(["heavy_overtalk"]));
    assert_eq!(
        api.store().audio_flags_for(&ids[1]).await.unwrap(),
        ["heavy_overtalk"]
    );
    // The same flag is on the call's flag list, where grading's `sample_flagged` looks.
    let listed = api
        .get_json(&format!("/api/calls/{}/flags", ids[1]), &qa)
        .await;
    assert_eq!(listed["flags"][0]["flag"], "heavy_overtalk", "{listed}");
    assert_eq!(
        listed["flags"].as_array().map(Vec::len),
        Some(1),
        "{listed}"
    );

    let found = |query: &'static str| {
        let api = &api;
        let qa = qa.clone();
        async move { ids_of(&api.get_json(&format!("/api/calls?{query}"), &qa).await) }
    };
    assert_eq!(found("min_overtalk_ms=5000").await, [ids[1].clone()]);
    assert_eq!(found("min_silence_ms=2000").await, [ids[0].clone()]);
    assert_eq!(found("operator_silent=true").await, [ids[0].clone()]);
    assert_eq!(found("flagged=heavy_overtalk").await, [ids[1].clone()]);
    let mut both = found("flagged=true").await;
    both.sort();
    let mut expected = vec![ids[0].clone(), ids[1].clone()];
    expected.sort();
    assert_eq!(both, expected);
    let bad = api
        .req(Method::GET, "/api/calls?flagged=loud", Some(&qa))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);

    // A flag set by hand is found like the analysis' own.
    let r = api
        .req(
            Method::POST,
            &format!("/api/calls/{}/flags", ids[0]),
            Some(&qa),
        )
        .json(&json!({"flag": "manual", "detail": "rude"}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    assert_eq!(found("flagged=manual").await, [ids[0].clone()]);
    let mut both = found("flagged=true").await;
    both.sort();
    assert_eq!(both, expected);
    api.server.stop().await;
}
