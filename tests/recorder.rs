//! Call recordings on real files: a two-leg call recorded to a stereo WAV file, a crash
//! mid-call repaired at the next start, disk errors, and `recordings verify` against a
//! real SQLite register.
//!
//! Time is a hand-moved clock: the recorder only settles audio up to the time it is
//! given, so what lands on disk does not depend on how fast the machine runs the test.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hotline::archive::{verify, Problem};
use hotline::media::g711;
use hotline::media::player::FRAME_SAMPLES;
use hotline::media::Codec;
use hotline::model::{CallUpdate, NewCall, Outcome, RegisterWrite};
use hotline::runtime::call_media::Leg;
use hotline::runtime::recorder::{
    FrameRefused, FrameSender, RecordFrame, Recorder, RecorderConfig, RecorderError,
    RecordingHandle, RecordingOutcome, RecordingStart, RecordingSummary,
};
use hotline::store::Store;
use jiff::Timestamp;
use sha2::{Digest, Sha256};

const DAY: &str = "2026/11/24";

/// A clock the test moves by hand.
#[derive(Clone)]
struct Clock(Arc<Mutex<Instant>>);

impl Clock {
    fn new(t0: Instant) -> Clock {
        Clock(Arc::new(Mutex::new(t0)))
    }
    fn set(&self, t: Instant) {
        *self.0.lock().unwrap() = t;
    }
}

fn recorder(root: &Path, clock: &Clock) -> Recorder {
    let c = clock.0.clone();
    let config = RecorderConfig {
        threads: 2,
        clock: Arc::new(move || *c.lock().unwrap()),
        ..RecorderConfig::default()
    };
    Recorder::with_config(root.to_path_buf(), config)
}

fn job(id: &str, t0: Instant) -> RecordingStart {
    RecordingStart {
        call_id: id.to_owned(),
        received_at: "2026-11-24T15:21:47Z".parse().unwrap(),
        start: t0,
    }
}

/// 20 ms of a tone, μ-law, as the media task would pass it on.
fn tone_frame(leg: Leg, hz: f64, t0: Instant, i: u32) -> RecordFrame {
    let mut pcm = [0i16; FRAME_SAMPLES];
    for (n, s) in pcm.iter_mut().enumerate() {
        let t = f64::from(i * FRAME_SAMPLES as u32 + n as u32) / 8000.0;
        *s = (8000.0 * (2.0 * std::f64::consts::PI * hz * t).sin()) as i16;
    }
    let mut payload = [0u8; FRAME_SAMPLES];
    g711::encode(Codec::Pcmu, &pcm, &mut payload);
    RecordFrame {
        leg,
        at: t0 + Duration::from_millis(20 * u64::from(i)),
        seq: 1000u16.wrapping_add(i as u16),
        ts: 5_000u32.wrapping_add(i * FRAME_SAMPLES as u32),
        ssrc: if leg == Leg::Caller { 0x1111 } else { 0x2222 },
        codec: Codec::Pcmu,
        payload,
        len: FRAME_SAMPLES as u8,
    }
}

/// Frames `from..to` (20 ms each) of 440 Hz from the caller and 1000 Hz from the operator,
/// with the clock following the frames in steps of 200 ms, as a live call would; each step
/// waits for the recording to take the frames (a live writer does so every tick).
async fn talk(
    clock: &Clock,
    handle: &RecordingHandle,
    frames: &mut FrameSender,
    t0: Instant,
    from: u32,
    to: u32,
) {
    for i in from..to {
        // Waits for room, so a test never loses frames to a busy machine.
        send_waiting(frames, tone_frame(Leg::Caller, 440.0, t0, i)).await;
        send_waiting(frames, tone_frame(Leg::Operator, 1000.0, t0, i)).await;
        if (i + 1) % 10 == 0 {
            clock.set(t0 + Duration::from_millis(20 * u64::from(i + 1)));
            handle.flush().await.unwrap();
        }
    }
}

/// Queues a frame, waiting for the writer to make room.
async fn send_waiting(frames: &mut FrameSender, frame: RecordFrame) {
    loop {
        match frames.try_send(frame) {
            Ok(()) => return,
            Err(FrameRefused::Full) => tokio::time::sleep(Duration::from_millis(5)).await,
            Err(e) => panic!("frame refused: {e}"),
        }
    }
}

/// A whole call of `ms` milliseconds, recorded and stopped.
async fn record_call(recorder: &Recorder, clock: &Clock, id: &str, ms: u32) -> RecordingSummary {
    let t0 = Instant::now();
    clock.set(t0);
    let (mut frames, handle) = recorder.start(job(id, t0)).expect("start");
    talk(clock, &handle, &mut frames, t0, 0, ms / 20).await;
    let end = t0 + Duration::from_millis(u64::from(ms));
    clock.set(end);
    match handle.stop(end).await {
        RecordingOutcome::Done(summary) => summary,
        RecordingOutcome::Failed { reason, .. } => panic!("recording failed: {reason}"),
    }
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn sha256_hex(path: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(path).unwrap()))
}

/// Sign changes per second of one channel over `samples` (interleaved stereo), skipping
/// the first and last 200 ms: a tone of f Hz has 2f of them.
fn crossings_per_second(samples: &[i16], channel: usize) -> f64 {
    let ch: Vec<i16> = samples.iter().skip(channel).step_by(2).copied().collect();
    let middle = &ch[1600..ch.len() - 1600];
    let changes = middle
        .windows(2)
        .filter(|w| (w[0] < 0) != (w[1] < 0))
        .count();
    changes as f64 * 8000.0 / middle.len() as f64
}

#[tokio::test]
async fn a_call_becomes_a_stereo_file_with_the_caller_left_and_the_operator_right() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("recordings");
    let clock = Clock::new(Instant::now());
    let recorder = recorder(&root, &clock);
    let summary = record_call(&recorder, &clock, "CALL-1", 3_000).await;

    assert_eq!(summary.path, format!("{DAY}/CALL-1.wav"));
    let file = root.join(&summary.path);
    assert_eq!(mode(&file), 0o640, "service and its group only");
    assert_eq!(mode(&root.join(DAY)), 0o750);
    assert!(!root.join(format!("{DAY}/CALL-1.wav.open")).exists());
    assert_eq!(summary.sha256, sha256_hex(&file));
    assert_eq!(
        summary.bytes,
        std::fs::metadata(&file).unwrap().len() as i64
    );
    assert!((2_980..=3_020).contains(&summary.ms), "{} ms", summary.ms);

    let mut wav = hound::WavReader::open(&file).unwrap();
    let spec = wav.spec();
    assert_eq!(
        (spec.channels, spec.sample_rate, spec.bits_per_sample),
        (2, 8000, 16)
    );
    assert_eq!(spec.sample_format, hound::SampleFormat::Int);
    let samples: Vec<i16> = wav.samples::<i16>().map(Result::unwrap).collect();
    let seconds = samples.len() as f64 / 2.0 / 8000.0;
    assert!((seconds - 3.0).abs() < 0.03, "{seconds} s");
    let left = crossings_per_second(&samples, 0);
    let right = crossings_per_second(&samples, 1);
    assert!((left - 880.0).abs() < 40.0, "left: {left} crossings/s");
    assert!((right - 2000.0).abs() < 80.0, "right: {right} crossings/s");
    recorder.shutdown().await;
}

/// Pages of the file in the page cache, and all its pages (`mincore` on a mapping of it,
/// which reads nothing in).
fn cached_pages(path: &Path) -> (usize, usize) {
    use std::os::fd::AsRawFd;
    let file = std::fs::File::open(path).unwrap();
    let len = file.metadata().unwrap().len() as usize;
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize;
    let mut resident = vec![0u8; len.div_ceil(page)];
    // SAFETY: a read-only mapping of an open file, unmapped before returning; `mincore`
    // writes one byte per page of it into `resident`, which has that many.
    unsafe {
        let addr = libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ,
            libc::MAP_SHARED,
            file.as_raw_fd(),
            0,
        );
        assert_ne!(addr, libc::MAP_FAILED, "mmap");
        let rc = libc::mincore(addr, len, resident.as_mut_ptr());
        libc::munmap(addr, len);
        assert_eq!(rc, 0, "mincore: {}", std::io::Error::last_os_error());
    }
    let cached = resident.iter().filter(|b| *b & 1 == 1).count();
    (cached, resident.len())
}

/// Whether `path` is on a tmpfs, whose pages are the file itself and never leave memory.
fn on_tmpfs(path: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: a NUL-terminated path and a statfs to fill.
    let mut fs: libc::statfs = unsafe { std::mem::zeroed() };
    assert_eq!(unsafe { libc::statfs(c.as_ptr(), &mut fs) }, 0, "statfs");
    fs.f_type == libc::TMPFS_MAGIC
}

/// A verify reads every recording of the archive once, and nobody is about to play them:
/// it leaves none of them in the page cache, so checking a year of recordings does not push
/// everything else out of memory.
#[tokio::test]
async fn verify_leaves_no_recording_in_the_page_cache() {
    // Beside the build, not in /tmp, which may be a tmpfs.
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    if on_tmpfs(dir.path()) {
        eprintln!("the build directory is on a tmpfs, where no page leaves memory: skipped");
        return;
    }
    let root = dir.path().join("recordings");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("h.db").display());
    let store = Store::open(&url, 2).await.unwrap();
    let clock = Clock::new(Instant::now());
    let recorder = recorder(&root, &clock);
    let summary = record_call(&recorder, &clock, "CACHED", 5_000).await;
    register(&store, "CACHED", Some(&summary), None).await;
    let file = root.join(&summary.path);
    // Read as someone listening would, so its pages are in the cache whatever the call's
    // end left there.
    assert_eq!(summary.sha256, sha256_hex(&file));
    let (cached, pages) = cached_pages(&file);
    assert!(pages >= 39, "5 s of stereo audio is 160 KB: {pages} pages");
    assert!(cached >= pages - 1, "just read: {cached} of {pages} cached");

    let report = verify(&store, &root).await.unwrap();
    assert_eq!(report.problems, vec![], "{report}");
    assert_eq!(report.checked, 1);
    let (cached, pages) = cached_pages(&file);
    assert_eq!(cached, 0, "after the verify none of its {pages} pages stay");
    recorder.shutdown().await;
}

#[tokio::test]
async fn a_crash_mid_call_leaves_a_marked_file_that_the_next_start_repairs() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let t0 = Instant::now();
    let clock = Clock::new(t0);
    let recorder = recorder(&root, &clock);
    let (mut frames, handle) = recorder.start(job("CRASHED", t0)).unwrap();
    talk(&clock, &handle, &mut frames, t0, 0, 125).await;
    let durable = handle.flush().await.unwrap();
    assert!(durable >= 8_000 * 2, "{durable} frames synced");
    // The process dies: nobody stops the recording.
    drop(handle);
    drop(frames);
    recorder.shutdown().await;

    let file = root.join(format!("{DAY}/CRASHED.wav"));
    let marker = root.join(format!("{DAY}/CRASHED.wav.open"));
    assert!(marker.exists(), "an unfinished recording keeps its marker");
    // Between two checkpoints the header lags behind the data, and a write may have been
    // cut in the middle of a frame: zero the sizes and leave half a frame at the end.
    let mut bytes = std::fs::read(&file).unwrap();
    bytes[4..8].copy_from_slice(&0u32.to_le_bytes());
    bytes[40..44].copy_from_slice(&0u32.to_le_bytes());
    bytes.extend_from_slice(&[1, 2, 3]);
    std::fs::write(&file, &bytes).unwrap();

    let restarted = Recorder::new(root.clone());
    let repaired = restarted.repair_unfinished();
    assert_eq!(repaired.len(), 1);
    assert_eq!(repaired[0].call_id, "CRASHED");
    assert!(repaired[0].header_rewritten);
    let RecordingOutcome::Done(summary) = &repaired[0].outcome else {
        panic!("not repaired: {:?}", repaired[0].outcome);
    };
    assert_eq!(summary.path, format!("{DAY}/CRASHED.wav"));
    assert!(summary.ms >= 1_500, "{} ms recovered", summary.ms);
    assert_eq!(summary.sha256, sha256_hex(&file));
    assert!(!marker.exists());
    let wav = hound::WavReader::open(&file).unwrap();
    assert_eq!(wav.spec().channels, 2);
    assert!(wav.duration() >= 12_000, "{} frames", wav.duration());
    assert!(
        restarted.repair_unfinished().is_empty(),
        "repaired only once"
    );
}

#[tokio::test]
async fn disk_errors_fail_the_recording_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let clock = Clock::new(Instant::now());
    let recorder = recorder(&root, &clock);
    // A file where the day's directory should be.
    std::fs::create_dir_all(root.join("2026/11")).unwrap();
    std::fs::write(root.join(DAY), b"not a directory").unwrap();
    let err = recorder.start(job("NO-DIR", Instant::now())).unwrap_err();
    assert!(matches!(err, RecorderError::CreateDir { .. }), "{err:?}");
    assert!(err.reason().contains("2026/11/24"), "{}", err.reason());

    // An id that would leave the tree never reaches the disk.
    let err = recorder
        .start(job("../../etc/x", Instant::now()))
        .unwrap_err();
    assert!(
        matches!(err, RecorderError::InvalidCallId { .. }),
        "{err:?}"
    );

    // A second recording under the same id never overwrites the first.
    std::fs::remove_file(root.join(DAY)).unwrap();
    let first = record_call(&recorder, &clock, "ONCE", 200).await;
    let err = recorder.start(job("ONCE", Instant::now())).unwrap_err();
    assert!(matches!(err, RecorderError::CreateFile { .. }), "{err:?}");
    assert_eq!(first.sha256, sha256_hex(&root.join(&first.path)));
    recorder.shutdown().await;
}

/// Registers a call as answered with its recording (or `error` instead).
async fn register(store: &Store, id: &str, rec: Option<&RecordingSummary>, error: Option<&str>) {
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
            recording_path: rec.map(|r| r.path.clone()),
            recording_ms: rec.map(|r| r.ms),
            recording_bytes: rec.map(|r| r.bytes),
            recording_sha256: rec.map(|r| r.sha256.clone()),
            recording_error: error.map(str::to_owned),
            ..CallUpdate::default()
        },
    };
    let report = store.apply(&[open, update]).await.unwrap();
    assert!(report.skipped.is_empty(), "{:?}", report.skipped);
}

#[tokio::test]
async fn verify_finds_changed_missing_stray_and_unrecorded() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("recordings");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("h.db").display());
    let store = Store::open(&url, 2).await.unwrap();
    let clock = Clock::new(Instant::now());
    let recorder = recorder(&root, &clock);
    let mut summaries = Vec::new();
    for id in ["A", "B", "C"] {
        let summary = record_call(&recorder, &clock, id, 400).await;
        register(&store, id, Some(&summary), None).await;
        summaries.push(summary);
    }
    register(
        &store,
        "DISK-FULL",
        None,
        Some("writing audio: no space left"),
    )
    .await;
    // A call being recorded right now: in progress, its file still marked.
    let t0 = Instant::now();
    let (_frames, live) = recorder.start(job("LIVE", t0)).unwrap();
    let at: Timestamp = "2026-11-24T15:21:47Z".parse().unwrap();
    let open_live = RegisterWrite::Open(NewCall {
        id: "LIVE".into(),
        sip_call_id: "LIVE@trunk".into(),
        caller: "+7911".into(),
        dialed: "792112".into(),
        source: "udp:192.0.2.1:5060".into(),
        received_at: at,
        direction: hotline::model::CallDirection::Inbound,
    });
    store.apply(&[open_live]).await.unwrap();

    let report = verify(&store, &root).await.unwrap();
    assert_eq!(report.problems, vec![], "{report}");
    assert_eq!(report.checked, 4);

    // One byte of audio changed, one file deleted, one stray file, one call unrecorded.
    let a = root.join(&summaries[0].path);
    let mut bytes = std::fs::read(&a).unwrap();
    bytes[1000] ^= 0x01;
    std::fs::write(&a, &bytes).unwrap();
    std::fs::remove_file(root.join(&summaries[1].path)).unwrap();
    std::fs::write(root.join(format!("{DAY}/STRAY.wav")), b"RIFF").unwrap();
    register(&store, "NOTHING", None, None).await;

    let report = verify(&store, &root).await.unwrap();
    assert!(!report.is_clean());
    assert_eq!(report.checked, 5);
    let [mismatched, missing, nothing, extra] = report.problems.as_slice() else {
        panic!("{report}");
    };
    let Problem::Mismatched { call_id, what, .. } = mismatched else {
        panic!("{report}");
    };
    assert_eq!(call_id, "A");
    assert!(what.starts_with("sha256: registered "), "{what}");
    assert_eq!(
        missing,
        &Problem::Missing {
            call_id: "B".into(),
            path: format!("{DAY}/B.wav"),
        }
    );
    assert_eq!(
        nothing,
        &Problem::NoRecording {
            call_id: "NOTHING".into()
        }
    );
    assert_eq!(
        extra,
        &Problem::Extra {
            path: format!("{DAY}/STRAY.wav")
        }
    );
    let text = report.to_string();
    assert!(text.starts_with("5 calls checked: 4 problems\n"), "{text}");
    assert!(text.contains("extra: 2026/11/24/STRAY.wav"), "{text}");
    drop(live);
    recorder.shutdown().await;
    store.close().await;
}
