//! The audio metrics of analysed recordings (`call_audio`), the searches on them, and the
//! flags they raised, written once for both backends.
//!
//! Invariants:
//! - One row per call: saving again (a re-analysis) replaces every column.
//! - Flags are stored as a space-separated list of kinds; a search for one kind matches it
//!   whole (`long_dead_air` never matches a longer kind that contains it).

use sqlx::{Pool, QueryBuilder};

use super::dialect::{execute, fetch_all, fetch_optional, read_all, Columns, Db, PushArg};
use super::register::{record, COLUMNS};
use super::{database, Store, StoreError};
use crate::model::CallRecord;

/// One call's audio metrics as stored (levels in thousandths of a dB, the operator's share
/// of speech in thousandths).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AudioRecord {
    pub call_id: String,
    pub analysed_at: String,
    pub duration_ms: i64,
    pub caller_speech_ms: i64,
    pub operator_speech_ms: i64,
    pub overtalk_ms: i64,
    pub silence_ms: i64,
    pub longest_silence_ms: i64,
    pub hold_ms: i64,
    pub operator_share_permille: Option<i64>,
    pub caller_rms_mdbfs: Option<i64>,
    pub caller_peak_mdbfs: Option<i64>,
    pub caller_clipped: i64,
    pub operator_rms_mdbfs: Option<i64>,
    pub operator_peak_mdbfs: Option<i64>,
    pub operator_clipped: i64,
    /// JSON: `{"caller": [[start_ms, end_ms], …], "operator", "overtalk", "dead_air"}`.
    pub segments: String,
    /// Kinds raised by the thresholds, in their fixed order.
    pub flags: Vec<String>,
}

/// The audio side of a call search; every set field narrows it to analysed calls.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AudioFilter {
    /// `overtalk_ms >= min_overtalk_ms`.
    pub min_overtalk_ms: Option<i64>,
    /// `silence_ms >= min_silence_ms` (dead air).
    pub min_silence_ms: Option<i64>,
    /// Calls flagged `operator_silent`.
    pub operator_silent: bool,
    /// Calls with any flag (`Some(None)`) or with this kind (`Some(Some(kind))`), set by
    /// the analysis or by hand.
    pub flagged: Option<Option<String>>,
}

const AUDIO_COLUMNS: &str = "call_id, analysed_at, duration_ms, caller_speech_ms, \
     operator_speech_ms, overtalk_ms, silence_ms, longest_silence_ms, hold_ms, \
     operator_share_permille, caller_rms_mdbfs, caller_peak_mdbfs, caller_clipped, \
     operator_rms_mdbfs, operator_peak_mdbfs, operator_clipped, segments, flags";

/// Appends `AND id IN (analysed calls matching f)` to a search on `calls`, and for
/// `flagged` `AND id IN (flagged calls)`: flags live in `call_flags`, where the analysis
/// copies its own kinds and QA people add `manual` ones, so both are found.
pub(super) fn push_conditions<'a, DB: Db>(q: &mut QueryBuilder<'a, DB>, f: &'a AudioFilter) {
    if f.min_overtalk_ms.is_some() || f.min_silence_ms.is_some() || f.operator_silent {
        q.push(" AND id IN (SELECT call_id FROM call_audio WHERE 1 = 1");
        if let Some(min) = f.min_overtalk_ms {
            q.push(" AND overtalk_ms >= ").arg(min);
        }
        if let Some(min) = f.min_silence_ms {
            q.push(" AND silence_ms >= ").arg(min);
        }
        if f.operator_silent {
            q.push(" AND (' ' || flags || ' ') LIKE '% operator_silent %'");
        }
        q.push(")");
    }
    match &f.flagged {
        Some(None) => {
            q.push(" AND id IN (SELECT call_id FROM call_flags)");
        }
        Some(Some(kind)) => {
            q.push(" AND id IN (SELECT call_id FROM call_flags WHERE flag = ")
                .arg(kind.as_str())
                .push(")");
        }
        None => {}
    }
}

fn audio_record(row: &impl Columns) -> Result<AudioRecord, sqlx::Error> {
    Ok(AudioRecord {
        call_id: row.text("call_id")?,
        analysed_at: row.text("analysed_at")?,
        duration_ms: row.int("duration_ms")?,
        caller_speech_ms: row.int("caller_speech_ms")?,
        operator_speech_ms: row.int("operator_speech_ms")?,
        overtalk_ms: row.int("overtalk_ms")?,
        silence_ms: row.int("silence_ms")?,
        longest_silence_ms: row.int("longest_silence_ms")?,
        hold_ms: row.int("hold_ms")?,
        operator_share_permille: row.opt_int("operator_share_permille")?,
        caller_rms_mdbfs: row.opt_int("caller_rms_mdbfs")?,
        caller_peak_mdbfs: row.opt_int("caller_peak_mdbfs")?,
        caller_clipped: row.int("caller_clipped")?,
        operator_rms_mdbfs: row.opt_int("operator_rms_mdbfs")?,
        operator_peak_mdbfs: row.opt_int("operator_peak_mdbfs")?,
        operator_clipped: row.int("operator_clipped")?,
        segments: row.text("segments")?,
        flags: row
            .text("flags")?
            .split_whitespace()
            .map(str::to_owned)
            .collect(),
    })
}

async fn save<DB: Db>(pool: &Pool<DB>, a: &AudioRecord) -> Result<bool, StoreError> {
    let mut q = QueryBuilder::new(format!("INSERT INTO call_audio ({AUDIO_COLUMNS}) VALUES ("));
    q.arg(&a.call_id).push(", ").arg(&a.analysed_at);
    for v in [
        a.duration_ms,
        a.caller_speech_ms,
        a.operator_speech_ms,
        a.overtalk_ms,
        a.silence_ms,
        a.longest_silence_ms,
        a.hold_ms,
    ] {
        q.push(", ").arg(v);
    }
    for v in [
        a.operator_share_permille,
        a.caller_rms_mdbfs,
        a.caller_peak_mdbfs,
    ] {
        q.push(", ").arg(v);
    }
    q.push(", ").arg(a.caller_clipped);
    for v in [a.operator_rms_mdbfs, a.operator_peak_mdbfs] {
        q.push(", ").arg(v);
    }
    q.push(", ")
        .arg(a.operator_clipped)
        .push(", ")
        .arg(&a.segments)
        .push(", ")
        .arg(a.flags.join(" "))
        .push(") ON CONFLICT (call_id) DO UPDATE SET ");
    let updates: Vec<String> = AUDIO_COLUMNS
        .split(", ")
        .skip(1)
        .map(|c| format!("{c} = excluded.{c}"))
        .collect();
    q.push(updates.join(", "));
    Ok(execute(pool, &mut q).await? == 1)
}

async fn audio<DB: Db>(pool: &Pool<DB>, call_id: &str) -> Result<Option<AudioRecord>, StoreError> {
    let mut q = QueryBuilder::new(format!(
        "SELECT {AUDIO_COLUMNS} FROM call_audio WHERE call_id = "
    ));
    q.arg(call_id);
    let row = fetch_optional(pool, &mut q).await?;
    row.as_ref().map(audio_record).transpose().map_err(database)
}

async fn unanalysed<DB: Db>(pool: &Pool<DB>, limit: u32) -> Result<Vec<CallRecord>, StoreError> {
    let mut q = QueryBuilder::new(format!(
        "SELECT {COLUMNS} FROM calls WHERE recording_path IS NOT NULL \
         AND recording_sha256 IS NOT NULL AND recording_purged_at IS NULL \
         AND id NOT IN (SELECT call_id FROM call_audio) \
         ORDER BY received_at, id LIMIT "
    ));
    q.arg(i64::from(limit));
    let rows = fetch_all(pool, &mut q).await?;
    read_all(&rows, record)
}

impl Store {
    /// Stores a call's audio metrics, replacing earlier ones; `Ok(false)` if the database
    /// changed nothing.
    pub async fn save_audio(&self, audio: &AudioRecord) -> Result<bool, StoreError> {
        on_pool!(self, pool => save(pool, audio))
    }

    /// A call's audio metrics, once analysed.
    pub async fn audio(&self, call_id: &str) -> Result<Option<AudioRecord>, StoreError> {
        on_pool!(self, pool => audio(pool, call_id))
    }

    /// The flags the audio analysis raised for a call (`long_dead_air`, `heavy_overtalk`,
    /// `operator_silent`); empty if none or not analysed yet.
    pub async fn audio_flags_for(&self, call_id: &str) -> Result<Vec<String>, StoreError> {
        Ok(self
            .audio(call_id)
            .await?
            .map(|a| a.flags)
            .unwrap_or_default())
    }

    /// Up to `limit` calls with a finished recording still on disk and no audio metrics,
    /// oldest first: the analysis worker's queue.
    pub async fn calls_to_analyse(&self, limit: u32) -> Result<Vec<CallRecord>, StoreError> {
        on_pool!(self, pool => unanalysed(pool, limit))
    }
}
