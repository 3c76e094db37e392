//! Retention of recordings (152-FZ: personal data kept no longer than needed): which
//! recordings have outlived their rule ([`rule_for`], [`is_expired`]) and their destruction
//! ([`purge`], for `hotline recordings purge` and the daily purge of [`run_daily`]).
//!
//! A recording is kept `recordings.retention_by_outcome.<outcome>` days after its call
//! ended (or was received, for a call without an end), else `recordings.retention_days`;
//! 0 keeps it forever. A call under legal hold is never a candidate.
//!
//! Invariants: the register row stays, with its facts and `recording_purged_at`; every
//! destruction is written to the audit log (`recording_purged`: call, file, SHA-256 of the
//! file destroyed, when, rule); a dry run changes nothing, on disk or in the register.

use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use tokio_util::sync::CancellationToken;

use crate::config::RecordingsConfig;
use crate::model::{format_time, CallRecord};
use crate::runtime::recorder::{file_facts, resolve};
use crate::store::{AuditEntry, Store, StoreError};

/// How often the daily purge runs.
const DAY: Duration = Duration::from_secs(24 * 3600);

/// Why a purge stopped.
#[derive(Debug, thiserror::Error)]
pub enum PurgeError {
    /// The register could not be read or written.
    #[error("call register: {0}")]
    Store(#[from] StoreError),
    /// The blocking task ended abnormally.
    #[error("purge task: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// Which rule keeps a call's recording: (days, the rule as the config spells it), or
/// `None` if it is kept forever.
pub fn rule_for(call: &CallRecord, config: &RecordingsConfig) -> Option<(u32, String)> {
    let (days, rule) = match config.retention_by_outcome.get(&call.outcome) {
        Some(days) => (
            *days,
            format!("recordings.retention_by_outcome.{} = {days}", call.outcome),
        ),
        None => (
            config.retention_days,
            format!("recordings.retention_days = {}", config.retention_days),
        ),
    };
    (days > 0).then_some((days, rule))
}

/// Whether the call's recording has outlived its rule at `now`; the rule if so.
pub fn is_expired(call: &CallRecord, config: &RecordingsConfig, now: Timestamp) -> Option<String> {
    let (days, rule) = rule_for(call, config)?;
    let since: Timestamp = call
        .ended_at
        .as_deref()
        .unwrap_or(&call.received_at)
        .parse()
        .ok()?;
    let until = since
        .checked_add(SignedDuration::from_hours(24 * i64::from(days)))
        .ok()?;
    (until <= now).then_some(rule)
}

/// One recording destroyed (or, in a dry run, that would be).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Purged {
    pub call_id: String,
    pub file: String,
    /// SHA-256 of the file destroyed; `None` if it was already missing.
    pub sha256: Option<String>,
    pub rule: String,
}

/// Destroys the recordings that have outlived their rule at `now` (or, with `dry_run`,
/// only lists them). Returns what was (or would be) destroyed.
pub async fn purge(
    store: &Store,
    root: &Path,
    config: &RecordingsConfig,
    now: Timestamp,
    dry_run: bool,
) -> Result<Vec<Purged>, PurgeError> {
    let mut out = Vec::new();
    for call in store.retention_candidates().await? {
        let Some(rule) = is_expired(&call, config, now) else {
            continue;
        };
        let Some(rel) = call.recording_path.clone() else {
            continue;
        };
        let Some(path) = resolve(root, &rel) else {
            tracing::warn!(call_id = %call.id, "recording path outside the root: not purged");
            continue;
        };
        if dry_run {
            out.push(Purged {
                call_id: call.id.clone(),
                file: rel,
                sha256: call.recording_sha256.clone(),
                rule,
            });
            continue;
        }
        let sha256 = tokio::task::spawn_blocking(move || destroy(&path)).await?;
        let at = format_time(now);
        store.mark_recording_purged(&call.id, &at).await?;
        let detail = format!(
            "file={rel} sha256={} rule={rule}",
            sha256.as_deref().unwrap_or("missing")
        );
        store
            .audit(&AuditEntry {
                at,
                username: None,
                action: "recording_purged".into(),
                call_id: Some(call.id.clone()),
                remote: None,
                detail: Some(detail),
            })
            .await?;
        out.push(Purged {
            call_id: call.id.clone(),
            file: rel,
            sha256,
            rule,
        });
    }
    Ok(out)
}

/// Hashes and deletes a recording (and a leftover marker); `None` if it was already gone.
fn destroy(path: &PathBuf) -> Option<String> {
    let sha256 = file_facts(path).ok().map(|(_, sha)| sha);
    if let Err(e) = std::fs::remove_file(path) {
        if e.kind() != std::io::ErrorKind::NotFound {
            tracing::warn!(path = %path.display(), error = %e, "deleting an expired recording");
        }
    }
    sha256
}

/// Purges once at start and then once a day until `shutdown` (when a rule is set).
pub async fn run_daily(
    store: Store,
    root: PathBuf,
    config: RecordingsConfig,
    shutdown: CancellationToken,
) {
    let any_rule =
        config.retention_days > 0 || config.retention_by_outcome.values().any(|d| *d > 0);
    if !any_rule {
        return;
    }
    loop {
        match purge(&store, &root, &config, Timestamp::now(), false).await {
            Ok(done) if !done.is_empty() => {
                tracing::info!(recordings = done.len(), "expired recordings destroyed")
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "purging expired recordings"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(DAY) => {}
        }
    }
}
