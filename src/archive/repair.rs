//! `hotline recordings repair`: fixes what `verify` finds that can be fixed, and reports
//! the rest.
//!
//! What is fixed, and why only that:
//! - a finished call's file whose header disagrees with its size (a disk-full partial
//!   write, a file cut or grown behind the header's back): the header is rewritten from
//!   the audio really there (whole frames; a torn last frame is cut), as the startup
//!   repair does for a crash;
//! - the register's facts (duration, size, SHA-256) of such a file, and of a failed
//!   recording's partial file that has none, are set from the repaired file. A recording
//!   that had finished keeps its old facts in `recording_error`, so the register still
//!   says what was recorded and that the file is no longer that.
//!
//! What is only reported: a file whose audio differs from the register with a sound
//! header (changed or damaged data: nothing here knows the right bytes), missing and stray
//! files, calls without a recording, files that are not WAV at all. Calls in progress and
//! files marked unfinished are left to the server (its next start repairs them).

use std::fmt;
use std::path::Path;

use super::{read_header, survey, verify, Header, VerifyError, VerifyReport};
use crate::model::{CallRecord, CallUpdate, RegisterWrite};
use crate::runtime::recorder::{file_facts_then_release, repair_file, resolve};
use crate::store::Store;

/// One change `repair` made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fix {
    /// The header was rewritten to describe the audio in the file.
    Header {
        call_id: String,
        path: String,
        /// What was wrong with it.
        was: String,
        /// Bytes of a torn last frame cut off.
        cut_bytes: u64,
    },
    /// The register's facts were set from the file.
    Register {
        call_id: String,
        ms: i64,
        bytes: i64,
        sha256: String,
    },
    /// The file could not be repaired (it stays reported by `verify`).
    Failed {
        call_id: String,
        path: String,
        reason: String,
    },
}

impl fmt::Display for Fix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fix::Header {
                call_id,
                path,
                was,
                cut_bytes,
            } => {
                write!(f, "header rewritten: call {call_id}: {path} ({was}")?;
                if *cut_bytes > 0 {
                    write!(f, "; {cut_bytes} bytes of a torn frame cut")?;
                }
                write!(f, ")")
            }
            Fix::Register {
                call_id,
                ms,
                bytes,
                sha256,
            } => write!(
                f,
                "register updated: call {call_id}: {ms} ms, {bytes} bytes, sha256 {sha256}"
            ),
            Fix::Failed {
                call_id,
                path,
                reason,
            } => write!(f, "not repaired: call {call_id}: {path}: {reason}"),
        }
    }
}

/// What `repair` did, and what `verify` still finds afterwards.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RepairOutcome {
    pub fixes: Vec<Fix>,
    pub left: VerifyReport,
}

impl fmt::Display for RepairOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.fixes.is_empty() {
            writeln!(f, "nothing to repair")?;
        }
        for fix in &self.fixes {
            writeln!(f, "{fix}")?;
        }
        write!(f, "after repair: {}", self.left)
    }
}

/// Repairs the recordings under `root` and their register facts (see the module rules).
pub async fn repair(store: &Store, root: &Path) -> Result<RepairOutcome, VerifyError> {
    let (calls, _tree, live) = survey(store, root).await?;
    let mut fixes = Vec::new();
    for call in calls.into_iter().filter(|c| !live.contains(&c.id)) {
        let Some(rel) = call.recording_path.clone() else {
            continue;
        };
        let Some(file) = resolve(root, &rel) else {
            continue;
        };
        let (call, found) = tokio::task::spawn_blocking(move || {
            let found = repair_one(&file, &call, &rel);
            (call, found)
        })
        .await?;
        let mut write = None;
        for fix in found {
            if let Fix::Register {
                ms, bytes, sha256, ..
            } = &fix
            {
                write = Some(register_update(&call, *ms, *bytes, sha256));
            }
            fixes.push(fix);
        }
        if let Some(update) = write {
            let report = store.apply(&[update]).await?;
            if let Some(skipped) = report.skipped.first() {
                fixes.push(Fix::Failed {
                    call_id: call.id.clone(),
                    path: call.recording_path.clone().unwrap_or_default(),
                    reason: format!("the register refused the update: {}", skipped.error),
                });
            }
        }
    }
    let left = verify(store, root).await?;
    Ok(RepairOutcome { fixes, left })
}

/// Repairs one file if its header disagrees with it; the fixes it calls for.
fn repair_one(file: &Path, call: &CallRecord, rel: &str) -> Vec<Fix> {
    let failed = |reason: String| Fix::Failed {
        call_id: call.id.clone(),
        path: rel.to_owned(),
        reason,
    };
    let was = match read_header(file) {
        Header::Disagrees(was) => Some(was),
        Header::Sound(_) => None,
        // Missing, or not a recording at all: nothing to rebuild it from.
        Header::Broken(_) => return Vec::new(),
    };
    let unregistered = call.recording_error.is_some() && call.recording_sha256.is_none();
    if was.is_none() && !unregistered {
        return Vec::new();
    }
    let mut fixes = Vec::new();
    let ms = match repair_file(file) {
        Ok((ms, report)) => {
            if let Some(was) = was {
                fixes.push(Fix::Header {
                    call_id: call.id.clone(),
                    path: rel.to_owned(),
                    was,
                    cut_bytes: report.map_or(0, |r| r.truncated_bytes),
                });
            }
            ms
        }
        Err(reason) => return vec![failed(reason)],
    };
    match file_facts_then_release(file) {
        Ok((bytes, sha256)) => fixes.push(Fix::Register {
            call_id: call.id.clone(),
            ms,
            bytes: i64::try_from(bytes).unwrap_or(i64::MAX),
            sha256,
        }),
        Err(e) => fixes.push(failed(format!("reading the repaired file: {e}"))),
    }
    fixes
}

/// The register's new facts for a repaired file. A recording that had finished keeps
/// what was registered before in its `recording_error`.
fn register_update(call: &CallRecord, ms: i64, bytes: i64, sha256: &str) -> RegisterWrite {
    let error = match (&call.recording_error, &call.recording_sha256) {
        (Some(_), _) | (None, None) => None,
        (None, Some(old_sha)) => Some(format!(
            "repaired: the file no longer matched its header; registered before: {} ms, {} bytes, sha256 {old_sha}",
            call.recording_ms.unwrap_or(0),
            call.recording_bytes.unwrap_or(0)
        )),
    };
    RegisterWrite::Update {
        id: call.id.clone(),
        update: CallUpdate {
            recording_ms: Some(ms),
            recording_bytes: Some(bytes),
            recording_sha256: Some(sha256.to_owned()),
            recording_error: error,
            ..CallUpdate::default()
        },
    }
}
