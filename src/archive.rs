//! `hotline recordings verify`: the archive of recordings checked against the call register
//! (and `hotline recordings repair`, in [`repair`], which fixes what can be fixed).
//!
//! The rule (DESIGN, Contract): every answered call has a valid recording whose SHA-256
//! and size match the register, or a stated `recording_error`; and every `.wav` under the
//! root belongs to a call. Every recording file present, also the partial one a failed
//! recording keeps (a full disk stops the writer between two header updates), must have a
//! header that agrees with the file's size: a header that promises more audio than the
//! file holds, or hides audio after the data it declares, is what a disk-full partial
//! write leaves, and players then stop early or read past the end. "Answered" here is `outcome = answered` or an operator having
//! answered at all (`connected_at`), so a call the server was interrupted during is held
//! to the same rule: startup repair registers its recording.
//!
//! Invariants:
//! - `verify` is read-only: nothing under the root or in the register is changed.
//! - Calls still `in_progress` are skipped, with their files (the `.wav.open` marker shows
//!   a recording being written), so verifying a serving system reports no false problems.
//! - Paths from the register are only opened when they stay inside the root.
//! - Problems are listed in register order (oldest call first), then stray files in path
//!   order, so two runs over the same state print the same report.

use std::collections::HashSet;
use std::fmt;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use crate::media::stereo::{inspect, RecordingError, WavInfo};
use crate::model::CallRecord;
use crate::runtime::recorder::{
    file_facts, find_files, marker_of, parallel_map, relative_to, release_pages, resolve,
    MARKER_SUFFIX, WAV_SUFFIX,
};
use crate::store::{Store, StoreError};

/// The format every recording has (DESIGN, Recordings).
const CHANNELS: u16 = 2;
const SAMPLE_RATE: u32 = 8000;
const BITS: u16 = 16;
/// How far the file's duration may be from the register's: the register keeps whole
/// milliseconds and a repaired file may have lost a partial frame.
const DURATION_TOLERANCE_MS: i64 = 20;
/// Files checked at once: hashing is disk-bound, a few readers keep the disk busy.
const CHECK_THREADS: usize = 4;

pub mod analyse;
mod repair;
pub mod retention;

pub use repair::{repair, Fix, RepairOutcome};

/// Why verification could not run at all (as opposed to finding problems).
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The register could not be read.
    #[error("reading the call register: {0}")]
    Store(#[from] StoreError),
    /// The recordings root (or a directory in it) could not be listed.
    #[error("listing recordings under {}: {source}", root.display())]
    Walk {
        root: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The background check stopped before reporting (a bug: it panicked).
    #[error("the recordings check stopped: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// One way the recordings and the register disagree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The register names a recording that is not on disk.
    Missing { call_id: String, path: String },
    /// A recording no call names.
    Extra { path: String },
    /// The file differs from what the register says (`what`: sha256, bytes, duration,
    /// format, with both values).
    Mismatched {
        call_id: String,
        path: String,
        what: String,
    },
    /// The file cannot be read, is not a WAV file, or its path leaves the root.
    Unreadable {
        call_id: String,
        path: String,
        reason: String,
    },
    /// An answered call with neither a recording nor a stated reason.
    NoRecording { call_id: String },
    /// A recording left unfinished by a crash, not yet repaired (the next start does it),
    /// or a marker without its call in progress.
    Unfinished { path: String },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Missing { call_id, path } => {
                write!(f, "missing: call {call_id}: {path} does not exist")
            }
            Problem::Extra { path } => write!(f, "extra: {path} belongs to no call"),
            Problem::Mismatched {
                call_id,
                path,
                what,
            } => write!(f, "mismatched: call {call_id}: {path}: {what}"),
            Problem::Unreadable {
                call_id,
                path,
                reason,
            } => write!(f, "unreadable: call {call_id}: {path}: {reason}"),
            Problem::NoRecording { call_id } => write!(
                f,
                "no recording: call {call_id} was answered but has no recording and no recording error"
            ),
            Problem::Unfinished { path } => write!(
                f,
                "unfinished: {path} was left unfinished (the next start repairs it)"
            ),
        }
    }
}

/// What `verify` found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// Finished calls checked (answered, or naming a recording or a recording error).
    pub checked: usize,
    /// Everything that does not hold, in a stable order.
    pub problems: Vec<Problem>,
}

impl VerifyReport {
    /// No problems: the command exits 0.
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }
}

impl fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.problems.is_empty() {
            return writeln!(f, "{} calls checked: no problems", self.checked);
        }
        writeln!(
            f,
            "{} calls checked: {} problem{}",
            self.checked,
            self.problems.len(),
            if self.problems.len() == 1 { "" } else { "s" }
        )?;
        for problem in &self.problems {
            writeln!(f, "  {problem}")?;
        }
        Ok(())
    }
}

/// Checks the recordings under `root` against the register (see the module rules).
pub async fn verify(store: &Store, root: &Path) -> Result<VerifyReport, VerifyError> {
    let (calls, tree, live) = survey(store, root).await?;
    let root = root.to_path_buf();
    let report = tokio::task::spawn_blocking(move || check(&root, &calls, &tree, &live)).await?;
    Ok(report)
}

/// The register's calls with recordings, the files under the root, and the calls still in
/// progress (whose files are left alone).
async fn survey(
    store: &Store,
    root: &Path,
) -> Result<(Vec<CallRecord>, Tree, HashSet<String>), VerifyError> {
    let calls = store.calls_with_recordings().await?;
    let walk_root = root.to_path_buf();
    let tree = tokio::task::spawn_blocking(move || Tree::read(&walk_root)).await??;
    // A marker whose call the register has not caught up with (its `connected_at` still
    // queued in the writer) is looked up on its own before it is called unfinished.
    let mut live: HashSet<String> = calls
        .iter()
        .filter(|c| c.outcome == "in_progress")
        .map(|c| c.id.clone())
        .collect();
    for id in tree.marker_ids() {
        if !live.contains(&id) {
            if let Some(call) = store.call(&id).await? {
                if call.outcome == "in_progress" {
                    live.insert(id);
                }
            }
        }
    }
    Ok((calls, tree, live))
}

/// The recordings and markers under the root.
struct Tree {
    wavs: Vec<PathBuf>,
    markers: Vec<PathBuf>,
}

impl Tree {
    fn read(root: &Path) -> Result<Tree, VerifyError> {
        let walk = |suffix: &str| {
            find_files(root, suffix).map_err(|source| VerifyError::Walk {
                root: root.to_path_buf(),
                source,
            })
        };
        Ok(Tree {
            wavs: walk(WAV_SUFFIX)?,
            markers: walk(&format!("{WAV_SUFFIX}{MARKER_SUFFIX}"))?,
        })
    }

    /// The call ids the markers name.
    fn marker_ids(&self) -> Vec<String> {
        self.markers
            .iter()
            .filter_map(|m| m.file_name())
            .filter_map(|n| {
                let n = n.to_string_lossy();
                n.strip_suffix(MARKER_SUFFIX)?
                    .strip_suffix(WAV_SUFFIX)
                    .map(str::to_owned)
            })
            .collect()
    }
}

fn check(root: &Path, calls: &[CallRecord], tree: &Tree, live: &HashSet<String>) -> VerifyReport {
    let mut claimed: HashSet<PathBuf> = HashSet::new();
    let mut per_call: Vec<Option<Problem>> = vec![None; calls.len()];
    let mut to_check: Vec<usize> = Vec::new();
    let mut report = VerifyReport::default();
    for (i, call) in calls.iter().enumerate() {
        if let Some(path) = call
            .recording_path
            .as_deref()
            .and_then(|p| resolve(root, p))
        {
            claimed.insert(path);
        }
        if live.contains(&call.id) {
            continue;
        }
        report.checked += 1;
        match (&call.recording_path, &call.recording_error) {
            // With a stated reason too: the partial file kept at the path must be sound.
            (Some(_), _) => to_check.push(i),
            (None, Some(_)) => {}
            (None, None) => {
                per_call[i] = Some(Problem::NoRecording {
                    call_id: call.id.clone(),
                })
            }
        }
    }
    let checked = parallel_map(&to_check, CHECK_THREADS, |&i| check_file(root, &calls[i]));
    for (&i, problem) in to_check.iter().zip(checked) {
        per_call[i] = problem;
    }
    report.problems.extend(per_call.into_iter().flatten());

    let stem = |p: &Path| {
        p.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .and_then(|n| n.strip_suffix(WAV_SUFFIX).map(str::to_owned))
    };
    for wav in &tree.wavs {
        if claimed.contains(wav) {
            continue;
        }
        let path = relative_to(root, wav);
        if !marker_of(wav).exists() {
            report.problems.push(Problem::Extra { path });
        } else if !stem(wav).is_some_and(|id| live.contains(&id)) {
            report.problems.push(Problem::Unfinished { path });
        }
    }
    for marker in &tree.markers {
        let name = marker.to_string_lossy();
        let wav = PathBuf::from(name.strip_suffix(MARKER_SUFFIX).unwrap_or(&name));
        let in_progress = stem(&wav).is_some_and(|id| live.contains(&id));
        // A marker next to a file was judged with the file above.
        if !wav.exists() && !in_progress {
            report.problems.push(Problem::Unfinished {
                path: relative_to(root, marker),
            });
        }
    }
    report
}

/// What a recording's header says, read against the file's length.
#[derive(Debug)]
pub(crate) enum Header {
    /// It agrees with the file.
    Sound(WavInfo),
    /// Its sizes disagree with the file's (what `repair` rewrites): why.
    Disagrees(String),
    /// It cannot be read as a recording's header at all: why.
    Broken(String),
}

/// Reads the header of `file`.
pub(crate) fn read_header(file: &Path) -> Header {
    let read = File::open(file)
        .map_err(RecordingError::Io)
        .and_then(|mut f| inspect(&mut f));
    match read {
        Ok(info) if info.trailing_bytes > 0 => Header::Disagrees(format!(
            "declares {} bytes of audio but {} more follow them",
            info.data_bytes, info.trailing_bytes
        )),
        Ok(info) => Header::Sound(info),
        Err(
            e @ (RecordingError::DataPastEnd { .. }
            | RecordingError::RiffSize { .. }
            | RecordingError::PartialFrame { .. }),
        ) => Header::Disagrees(e.to_string()),
        Err(e) => Header::Broken(e.to_string()),
    }
}

/// Checks one registered recording; `None` when it matches the register.
fn check_file(root: &Path, call: &CallRecord) -> Option<Problem> {
    let path = call.recording_path.clone().unwrap_or_default();
    let call_id = call.id.clone();
    // A failed recording states its reason; what it kept may be absent or unregistered.
    let partial = call.recording_error.is_some();
    let unreadable = |reason: String| Problem::Unreadable {
        call_id: call_id.clone(),
        path: path.clone(),
        reason,
    };
    let Some(file) = resolve(root, &path) else {
        return Some(unreadable("the path leaves the recordings root".to_owned()));
    };
    let (len, sha256) = match file_facts(&file) {
        Ok(facts) => facts,
        Err(e) if e.kind() == io::ErrorKind::NotFound && partial => return None,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Some(Problem::Missing { call_id, path });
        }
        Err(e) => return Some(unreadable(e.to_string())),
    };
    let mut what = Vec::new();
    let header = read_header(&file);
    // Read through for the hash and the header: nobody is about to play it.
    release_pages(&file);
    let info = match header {
        Header::Broken(reason) => {
            return Some(unreadable(format!("not a valid WAV file: {reason}")))
        }
        Header::Disagrees(reason) => {
            what.push(format!("header: {reason}"));
            None
        }
        Header::Sound(info) => Some(info),
    };
    let registered = call.recording_bytes.is_some()
        || call.recording_sha256.is_some()
        || call.recording_ms.is_some();
    if partial && !registered {
        return (!what.is_empty()).then(|| Problem::Mismatched {
            call_id,
            path,
            what: what.join("; "),
        });
    }
    match call.recording_bytes {
        Some(b) if u64::try_from(b).ok() == Some(len) => {}
        Some(b) => what.push(format!("bytes: registered {b}, file {len}")),
        None => what.push(format!("bytes: not registered, file {len}")),
    }
    match &call.recording_sha256 {
        Some(s) if s.eq_ignore_ascii_case(&sha256) => {}
        Some(s) => what.push(format!("sha256: registered {s}, file {sha256}")),
        None => what.push(format!("sha256: not registered, file {sha256}")),
    }
    if let Some(info) = &info {
        let format = (info.channels, info.sample_rate, info.bits_per_sample);
        if format != (CHANNELS, SAMPLE_RATE, BITS) {
            what.push(format!(
                "format: {} ch, {} Hz, {} bit (expected {CHANNELS} ch, {SAMPLE_RATE} Hz, {BITS} bit PCM)",
                info.channels, info.sample_rate, info.bits_per_sample
            ));
        } else {
            let ms = i64::try_from(info.frames.saturating_mul(1000) / u64::from(SAMPLE_RATE))
                .unwrap_or(i64::MAX);
            match call.recording_ms {
                Some(r) if (r - ms).abs() <= DURATION_TOLERANCE_MS => {}
                Some(r) => what.push(format!("duration: registered {r} ms, file {ms} ms")),
                None => what.push(format!("duration: not registered, file {ms} ms")),
            }
        }
    }
    (!what.is_empty()).then(|| Problem::Mismatched {
        call_id,
        path,
        what: what.join("; "),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_lists_each_problem_on_its_own_line() {
        let report = VerifyReport {
            checked: 3,
            problems: vec![
                Problem::Missing {
                    call_id: "A".into(),
                    path: "2026/11/24/A.wav".into(),
                },
                Problem::Extra {
                    path: "2026/11/24/X.wav".into(),
                },
            ],
        };
        assert!(!report.is_clean());
        assert_eq!(
            report.to_string(),
            "3 calls checked: 2 problems\n  \
             missing: call A: 2026/11/24/A.wav does not exist\n  \
             extra: 2026/11/24/X.wav belongs to no call\n"
        );
        let clean = VerifyReport {
            checked: 3,
            problems: vec![],
        };
        assert!(clean.is_clean());
        assert_eq!(clean.to_string(), "3 calls checked: no problems\n");
    }
}
