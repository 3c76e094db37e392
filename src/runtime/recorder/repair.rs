//! Startup repair: recordings a previous run left unfinished (it crashed, was killed, or
//! lost power) are made valid WAV files again and reported, so the register can show the
//! call as interrupted with the audio that was saved.
//!
//! A marker `<id>.wav.open` means "this file's header may be stale". The WAV core's
//! `repair` rewrites the header from the file's length (whole frames only); the file is
//! synced, hashed, and its marker removed. A file beyond repair (not a WAV file, unreadable,
//! missing) is reported as failed with the reason, and its marker removed too: the reason
//! goes to the register once, instead of at every start.
//!
//! Files are independent, so they are repaired on a few threads at once: after a crash
//! with hundreds of calls in progress, hashing them all one by one would hold up the start.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::files;
use super::{RecordingOutcome, RecordingSummary, RepairedRecording};
use crate::media::stereo::{inspect, repair, RepairReport};

/// Repairs every marked recording under `root` using up to `threads` threads, in path order.
pub(super) fn repair_all(root: &Path, threads: usize) -> Vec<RepairedRecording> {
    let suffix = format!("{}{}", files::WAV_SUFFIX, files::MARKER_SUFFIX);
    let markers = match files::find(root, &suffix) {
        Ok(markers) => markers,
        Err(e) => {
            tracing::error!(root = %root.display(), error = %e, "cannot look for unfinished recordings");
            return Vec::new();
        }
    };
    files::parallel_map(&markers, threads, |marker| repair_one(root, marker))
}

fn repair_one(root: &Path, marker: &Path) -> RepairedRecording {
    let name = marker.to_string_lossy();
    let wav = PathBuf::from(name.strip_suffix(files::MARKER_SUFFIX).unwrap_or(&name));
    let rel = files::relative_to(root, &wav);
    let call_id = wav
        .file_name()
        .map(|n| {
            let n = n.to_string_lossy();
            n.strip_suffix(files::WAV_SUFFIX).unwrap_or(&n).to_owned()
        })
        .unwrap_or_default();
    let (outcome, report) = match fix(&wav) {
        Ok((ms, report)) => match files::file_facts_then_release(&wav) {
            Ok((bytes, sha256)) => (
                RecordingOutcome::Done(RecordingSummary {
                    path: rel,
                    ms,
                    bytes: i64::try_from(bytes).unwrap_or(i64::MAX),
                    sha256,
                }),
                report,
            ),
            Err(e) => (
                RecordingOutcome::Failed {
                    path: rel,
                    reason: format!("reading the repaired file: {e}"),
                },
                report,
            ),
        },
        Err(reason) => (RecordingOutcome::Failed { path: rel, reason }, None),
    };
    if let Err(e) = files::remove_marker(marker) {
        tracing::error!(marker = %marker.display(), error = %e, "cannot remove a recording's unfinished marker");
    }
    match &outcome {
        RecordingOutcome::Done(s) => tracing::warn!(
            call_id = %call_id, path = %s.path, ms = s.ms,
            "unfinished recording repaired"
        ),
        RecordingOutcome::Failed { path, reason } => tracing::error!(
            call_id = %call_id, path = %path, reason = %reason,
            "unfinished recording could not be repaired"
        ),
    }
    RepairedRecording {
        call_id,
        outcome,
        header_rewritten: report.is_some(),
        truncated_bytes: report.map_or(0, |r| r.truncated_bytes),
    }
}

/// Repairs one file in place: its duration in milliseconds, and what the repair changed
/// (`None`: the header already matched the data). Also what `recordings repair` does to a
/// finished call's file whose header disagrees with its size (a disk-full partial write).
pub(crate) fn fix(wav: &Path) -> Result<(i64, Option<RepairReport>), String> {
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(wav)
        .map_err(|e| format!("opening the unfinished file: {e}"))?;
    let len = file
        .metadata()
        .map_err(|e| format!("reading the unfinished file's size: {e}"))?
        .len();
    let report =
        repair(&mut file, len).map_err(|e| format!("repairing the unfinished file: {e}"))?;
    let duration = match &report {
        Some(report) => {
            // A torn last frame now lies outside the data chunk; nothing may follow the
            // audio in a finished recording.
            if report.truncated_bytes > 0 {
                file.set_len(len.saturating_sub(report.truncated_bytes))
                    .map_err(|e| format!("cutting the torn last frame: {e}"))?;
            }
            report.duration
        }
        None => {
            let info = inspect(&mut file).map_err(|e| format!("reading the WAV header: {e}"))?;
            frames_duration(info.frames, info.sample_rate)
        }
    };
    file.sync_all()
        .map_err(|e| format!("syncing the repaired file: {e}"))?;
    Ok((
        i64::try_from(duration.as_millis()).unwrap_or(i64::MAX),
        report,
    ))
}

fn frames_duration(frames: u64, sample_rate: u32) -> Duration {
    if sample_rate == 0 {
        return Duration::ZERO;
    }
    Duration::from_micros(frames.saturating_mul(1_000_000) / u64::from(sample_rate))
}
