//! Audio metrics for finished recordings: one call analysed ([`analyse_call`], also for
//! `hotline recordings analyse`), and the background worker that analyses every new
//! recording off the call path ([`run_worker`]).
//!
//! The worker polls the register for calls whose recording is finished (its SHA-256 is
//! written) and still on disk but has no metrics, and reads each file in a blocking task:
//! never on the engine loop or a media thread, and at most one file at a time, so a burst
//! of ended calls costs one core at most. A file that cannot be analysed is logged and
//! skipped until the next start.
//!
//! Hold periods come from the call's timeline (`call_events`), placed on the recording's
//! time by the operator's answer (`connected_at`), when the recording starts.

use std::collections::HashSet;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::Timestamp;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::config::QualityConfig;
use crate::media::analysis::{
    analyse_wav, flags, AnalysisError, AudioReport, FlagThresholds, Span, VadSettings,
};
use crate::model::{format_time, CallRecord};
use crate::runtime::recorder::resolve;
use crate::store::{AudioRecord, EventRecord, FlagRecord, Store, StoreError};

/// How often the worker looks for new recordings.
const POLL: Duration = Duration::from_secs(2);
/// Calls taken per look.
const BATCH: u32 = 16;

/// Why a call could not be analysed.
#[derive(Debug, thiserror::Error)]
pub enum AnalyseError {
    /// The register could not be read or written.
    #[error("call register: {0}")]
    Store(#[from] StoreError),
    /// The call has no finished recording (none, failed, or purged).
    #[error("call `{0}` has no recording to analyse")]
    NoRecording(String),
    /// The recording's path leaves the recordings root.
    #[error("recording path of call `{0}` is not inside the recordings root")]
    BadPath(String),
    /// The file could not be opened.
    #[error("opening {}: {source}", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file is not a readable stereo recording.
    #[error("analysing {}: {source}", path.display())]
    Analysis {
        path: PathBuf,
        #[source]
        source: AnalysisError,
    },
    /// The blocking task ended abnormally.
    #[error("analysis task: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// The detector's settings from `[quality]`.
pub fn vad_settings(q: &QualityConfig) -> VadSettings {
    VadSettings {
        threshold_dbfs: f64::from(q.vad_threshold_dbfs),
        hangover_ms: q.vad_hangover.as_millis() as u64,
        ..VadSettings::default()
    }
}

/// The flag thresholds from `[quality]` (a zero duration turns a flag off).
pub fn flag_thresholds(q: &QualityConfig) -> FlagThresholds {
    let on = |d: Duration| (!d.is_zero()).then_some(d.as_millis() as u64);
    FlagThresholds {
        dead_air_ms: on(q.dead_air_flag),
        overtalk_ms: on(q.overtalk_flag),
        operator_silent_below_ms: q.operator_silent_flag.then_some(1),
    }
}

/// Analyses one call's recording and stores the figures (replacing earlier ones).
pub async fn analyse_call(
    store: &Store,
    root: &Path,
    call: &CallRecord,
    quality: &QualityConfig,
) -> Result<AudioRecord, AnalyseError> {
    let rel = call
        .recording_path
        .as_deref()
        .filter(|_| call.recording_sha256.is_some())
        .ok_or_else(|| AnalyseError::NoRecording(call.id.clone()))?;
    let path = resolve(root, rel).ok_or_else(|| AnalyseError::BadPath(call.id.clone()))?;
    let events = store.call_events(&call.id).await?;
    let holds = hold_spans(call, &events);
    let settings = vad_settings(quality);
    let report = tokio::task::spawn_blocking(move || {
        let file = File::open(&path).map_err(|source| AnalyseError::Open {
            path: path.clone(),
            source,
        })?;
        analyse_wav(&mut BufReader::new(file), settings, &holds)
            .map_err(|source| AnalyseError::Analysis { path, source })
    })
    .await??;
    let kinds = flags(&report, &flag_thresholds(quality));
    let now = format_time(Timestamp::now());
    let record = audio_record(&call.id, &report, &kinds, now.clone());
    store.save_audio(&record).await?;
    // The flags also go on the call's flag list, where the sampling rule `sample_flagged`
    // and the grading queue look; adding one twice (a re-analysis) is a no-op.
    for kind in &kinds {
        let flag = FlagRecord {
            call_id: call.id.clone(),
            flag: (*kind).to_owned(),
            detail: Some("automatic audio analysis".to_owned()),
            created_at: now.clone(),
        };
        store.add_call_flag(&flag).await?;
    }
    Ok(record)
}

/// Analyses new recordings until `shutdown`.
pub async fn run_worker(
    store: Store,
    root: PathBuf,
    quality: QualityConfig,
    shutdown: CancellationToken,
) {
    let mut failed: HashSet<String> = HashSet::new();
    loop {
        match store.calls_to_analyse(BATCH + failed.len() as u32).await {
            Ok(calls) => {
                let fresh: Vec<&CallRecord> =
                    calls.iter().filter(|c| !failed.contains(&c.id)).collect();
                for call in fresh {
                    if shutdown.is_cancelled() {
                        return;
                    }
                    match analyse_call(&store, &root, call, &quality).await {
                        Ok(a) => {
                            tracing::debug!(call_id = %call.id, flags = ?a.flags, "recording analysed")
                        }
                        Err(e) => {
                            tracing::warn!(call_id = %call.id, error = %e, "recording not analysed");
                            failed.insert(call.id.clone());
                        }
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "looking for recordings to analyse"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(POLL) => {}
        }
    }
}

/// Hold periods of either side, in milliseconds of the recording (which starts at
/// `connected_at`); a hold never resumed lasts to the end.
pub fn hold_spans(call: &CallRecord, events: &[EventRecord]) -> Vec<Span> {
    let Some(start) = call.connected_at.as_deref().and_then(parse) else {
        return Vec::new();
    };
    let offset = |at: &str| {
        parse(at).map_or(0, |t| {
            (t.as_millisecond() - start.as_millisecond()).max(0) as u64
        })
    };
    let mut spans = Vec::new();
    for side in ["caller", "operator"] {
        let mut open: Option<u64> = None;
        for e in events {
            if e.kind == format!("{side}_hold") {
                open.get_or_insert(offset(&e.at));
            } else if e.kind == format!("{side}_resume") {
                if let Some(from) = open.take() {
                    spans.push(Span::new(from, offset(&e.at)));
                }
            }
        }
        if let Some(from) = open {
            spans.push(Span::new(from, u64::MAX));
        }
    }
    spans
}

fn parse(text: &str) -> Option<Timestamp> {
    text.parse().ok()
}

fn pairs(spans: &[Span]) -> Vec<[u64; 2]> {
    spans.iter().map(|s| [s.start_ms, s.end_ms]).collect()
}

/// The report as the register stores it.
pub fn audio_record(
    call_id: &str,
    r: &AudioReport,
    kinds: &[&str],
    analysed_at: String,
) -> AudioRecord {
    let ms = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    let milli = |v: Option<f64>| v.map(|x| (x * 1000.0).round() as i64);
    AudioRecord {
        call_id: call_id.to_owned(),
        analysed_at,
        duration_ms: ms(r.duration_ms),
        caller_speech_ms: ms(r.caller_speech_ms),
        operator_speech_ms: ms(r.operator_speech_ms),
        overtalk_ms: ms(r.overtalk_ms),
        silence_ms: ms(r.silence_ms),
        longest_silence_ms: ms(r.longest_silence_ms),
        hold_ms: ms(r.hold_ms),
        operator_share_permille: milli(r.operator_talk_share),
        caller_rms_mdbfs: milli(r.caller.rms_dbfs),
        caller_peak_mdbfs: milli(r.caller.peak_dbfs),
        caller_clipped: ms(r.caller.clipped_samples),
        operator_rms_mdbfs: milli(r.operator.rms_dbfs),
        operator_peak_mdbfs: milli(r.operator.peak_dbfs),
        operator_clipped: ms(r.operator.clipped_samples),
        segments: json!({
            "caller": pairs(&r.caller_segments),
            "operator": pairs(&r.operator_segments),
            "overtalk": pairs(&r.overtalk_segments),
            "dead_air": pairs(&r.dead_air_segments),
        })
        .to_string(),
        flags: kinds.iter().map(|k| (*k).to_owned()).collect(),
    }
}

/// Which calls `hotline recordings analyse` takes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selection {
    /// This call.
    One(String),
    /// Every call with a finished recording on disk (after an upgrade of the analysis).
    All,
    /// Calls with a finished recording not analysed yet.
    Pending,
}

/// Analyses the selected calls one by one, printing a line for each through `say`;
/// returns (analysed, failed).
pub async fn analyse_selected(
    store: &Store,
    root: &Path,
    quality: &QualityConfig,
    selection: Selection,
    mut say: impl FnMut(String),
) -> Result<(u64, u64), AnalyseError> {
    let calls = match selection {
        Selection::One(id) => match store.call(&id).await? {
            Some(call) => vec![call],
            None => {
                say(format!("{id}: no such call"));
                return Ok((0, 1));
            }
        },
        Selection::All => store
            .calls_with_recordings()
            .await?
            .into_iter()
            .filter(|c| c.recording_path.is_some() && c.recording_sha256.is_some())
            .collect(),
        Selection::Pending => store.calls_to_analyse(u32::MAX).await?,
    };
    let (mut done, mut failed) = (0, 0);
    for call in &calls {
        match analyse_call(store, root, call, quality).await {
            Ok(a) => {
                done += 1;
                say(format!(
                    "{}: caller {} ms, operator {} ms, overtalk {} ms, dead air {} ms (longest {} ms){}",
                    call.id,
                    a.caller_speech_ms,
                    a.operator_speech_ms,
                    a.overtalk_ms,
                    a.silence_ms,
                    a.longest_silence_ms,
                    if a.flags.is_empty() {
                        String::new()
                    } else {
                        format!("; flagged {}", a.flags.join(", "))
                    }
                ));
            }
            Err(e) => {
                failed += 1;
                say(format!("{}: {e}", call.id));
            }
        }
    }
    Ok((done, failed))
}
