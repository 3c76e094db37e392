//! Retention against the real register: expired recordings destroyed and audited with the
//! row kept, per-outcome rules, a dry run that changes nothing, and a legal hold (admin
//! only, audited) that exempts a call.

use std::collections::BTreeMap;

use hotline::archive::retention::purge;
use hotline::config::RecordingsConfig;
use sha2::{Digest, Sha256};

use super::*;

async fn place(api: &Api, id: &str, bytes: &[u8]) -> std::path::PathBuf {
    let rel = format!("2026/11/24/{id}.wav");
    let file = api.server.dir.path().join("recordings").join(&rel);
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, bytes).unwrap();
    let update = CallUpdate {
        recording_path: Some(rel),
        recording_bytes: Some(bytes.len() as i64),
        recording_sha256: Some(format!("{:x}", Sha256::digest(bytes))),
        ..CallUpdate::default()
    };
    api.store()
        .apply(&[RegisterWrite::Update {
            id: id.to_owned(),
            update,
        }])
        .await
        .unwrap();
    file
}

fn ids(purged: &[hotline::archive::retention::Purged]) -> Vec<String> {
    purged.iter().map(|p| p.call_id.clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_recordings_are_destroyed_audited_and_held_ones_kept() {
    let api = Api::start().await;
    let calls = insert(api.store(), &known_rows()).await;
    // 0 and 1 answered, 2 abandoned; all ended 2026-11-24.
    let files: Vec<_> = [0, 1, 2]
        .iter()
        .map(|&i| (i, wav_bytes(2000 + i)))
        .collect();
    let mut paths = Vec::new();
    for (i, bytes) in &files {
        paths.push(place(&api, &calls[*i], bytes).await);
    }
    let root = api.server.dir.path().join("recordings");
    let config = RecordingsConfig {
        dir: root.clone(),
        retention_days: 30,
        retention_by_outcome: BTreeMap::from([("answered".to_owned(), 40)]),
    };
    let store = api.store();

    // Not yet expired for anyone.
    let early = ts("2026-12-20T00:00:00Z");
    assert!(purge(store, &root, &config, early, false)
        .await
        .unwrap()
        .is_empty());

    // 38 days on: the abandoned call's 30 days are over, the answered calls' 40 are not.
    let first = ts("2027-01-01T00:00:00Z");
    let dry = purge(store, &root, &config, first, true).await.unwrap();
    assert_eq!(ids(&dry), [calls[2].clone()]);
    assert!(paths[2].exists(), "a dry run deletes nothing");
    assert_eq!(store.recording_purged_at(&calls[2]).await.unwrap(), None);
    let done = purge(store, &root, &config, first, false).await.unwrap();
    assert_eq!(ids(&done), [calls[2].clone()]);
    assert!(!paths[2].exists());
    assert!(paths[0].exists() && paths[1].exists());
    assert_eq!(
        store
            .recording_purged_at(&calls[2])
            .await
            .unwrap()
            .as_deref(),
        Some("2027-01-01T00:00:00.000Z")
    );
    let row = store
        .call(&calls[2])
        .await
        .unwrap()
        .expect("the row is kept");
    assert_eq!(
        row.recording_path,
        Some(format!("2026/11/24/{}.wav", calls[2]))
    );
    let sha = format!("{:x}", Sha256::digest(&files[2].1));
    let checked = store.calls_with_recordings().await.unwrap();
    assert!(
        checked.iter().all(|c| c.id != calls[2]),
        "recordings verify no longer expects a destroyed recording"
    );
    assert_eq!(done[0].sha256.as_deref(), Some(sha.as_str()));

    // A legal hold: admins only, audited.
    let qa = api.login("qa").await;
    let admin = api.login("admin").await;
    let path = format!("/api/calls/{}/legal-hold", calls[1]);
    let body = json!({ "reason": "court request 12/2027" });
    let r = api
        .req(Method::PUT, &path, Some(&qa))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = api
        .req(Method::PUT, &path, Some(&admin))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = api
        .req(Method::PUT, &path, Some(&admin))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);

    // 47 days on: the answered call without a hold goes, by its outcome's rule.
    let later = ts("2027-01-10T00:00:00Z");
    let done = purge(store, &root, &config, later, false).await.unwrap();
    assert_eq!(ids(&done), [calls[0].clone()]);
    assert_eq!(
        done[0].rule,
        "recordings.retention_by_outcome.answered = 40"
    );
    assert!(paths[1].exists(), "the held recording is kept");

    let audit = api.audit().await;
    let purged: Vec<&Value> = audit
        .iter()
        .filter(|e| e["action"] == "recording_purged")
        .collect();
    assert_eq!(purged.len(), 2, "{audit:?}");
    let of_2 = purged
        .iter()
        .find(|e| e["call_id"] == calls[2].as_str())
        .unwrap();
    assert_eq!(
        of_2["detail"],
        format!(
            "file=2026/11/24/{}.wav sha256={sha} rule=recordings.retention_days = 30",
            calls[2]
        )
    );
    assert_eq!(of_2["at"], "2027-01-01T00:00:00.000Z");
    assert!(audit
        .iter()
        .any(|e| e["action"] == "legal_hold_set" && e["call_id"] == calls[1].as_str()));

    // The call page: a purged recording is shown as such, a hold with its reason.
    let v = api.get_json(&format!("/api/calls/{}", calls[0]), &qa).await;
    assert_eq!(v["recording_purged_at"], "2027-01-10T00:00:00.000Z");
    assert_eq!(v["recording_url"], Value::Null);
    assert!(v["recording_sha256"].is_string(), "the facts stay");
    // An old link to the recording says it was destroyed, not that it never was.
    let r = api
        .req(
            Method::GET,
            &format!("/api/calls/{}/recording", calls[0]),
            Some(&qa),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::GONE);
    let e = r.json::<Value>().await.unwrap();
    assert!(e["error"].as_str().unwrap().contains("retention"), "{e}");
    let v = api.get_json(&format!("/api/calls/{}", calls[1]), &qa).await;
    assert_eq!(v["legal_hold"]["reason"], "court request 12/2027");
    assert_eq!(v["legal_hold"]["set_by"], "admin");
    assert_eq!(v["recording_purged_at"], Value::Null);

    // The hold lifted, the recording goes at the next purge.
    let r = api
        .req(Method::DELETE, &path, Some(&admin))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let done = purge(store, &root, &config, later, false).await.unwrap();
    assert_eq!(ids(&done), [calls[1].clone()]);
    api.server.stop().await;
}

/// `hotline recordings purge --dry-run` lists what the rules would destroy and destroys
/// nothing; `hotline recordings analyse CALL_ID` measures one recording and prints it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_dry_run_and_analyse_from_the_command_line() {
    let api = Api::start().await;
    let calls = insert(api.store(), &known_rows()).await;
    // A second of digital silence on both sides, as a valid recording.
    let mut wav = Vec::new();
    wav.extend_from_slice(b"RIFF");
    wav.extend_from_slice(&(36u32 + 32_000).to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    wav.extend_from_slice(&16u32.to_le_bytes());
    wav.extend_from_slice(&[1, 0, 2, 0]);
    wav.extend_from_slice(&8000u32.to_le_bytes());
    wav.extend_from_slice(&32_000u32.to_le_bytes());
    wav.extend_from_slice(&[4, 0, 16, 0]);
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&32_000u32.to_le_bytes());
    wav.resize(44 + 32_000, 0);
    let file = place(&api, &calls[2], &wav).await;
    let config = api.server.dir.path().join("hotline.toml");
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_hotline"))
            .arg("--config")
            .arg(&config)
            .args(args)
            .env("HOTLINE_RECORDINGS__RETENTION_DAYS", "1")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        (out.status.success(), text)
    };

    let (ok, text) = run(&["recordings", "purge", "--dry-run"]);
    assert!(ok, "{text}");
    assert!(
        text.contains(&format!("would destroy 2026/11/24/{}.wav", calls[2])),
        "{text}"
    );
    assert!(text.contains("recordings.retention_days = 1"), "{text}");
    assert!(file.exists(), "a dry run deletes nothing");
    assert_eq!(
        api.store().recording_purged_at(&calls[2]).await.unwrap(),
        None
    );

    let (ok, text) = run(&["recordings", "analyse", &calls[2]]);
    assert!(ok, "{text}");
    assert!(
        text.contains("caller 0 ms, operator 0 ms, overtalk 0 ms, dead air 1000 ms"),
        "{text}"
    );
    assert!(text.contains("flagged operator_silent"), "{text}");
    let audio = api.store().audio(&calls[2]).await.unwrap().expect("stored");
    assert_eq!(audio.silence_ms, 1000);
    api.server.stop().await;
}
