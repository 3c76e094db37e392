//! Retention of recordings: the calls whose recording is still on disk (the purge's
//! candidates), marking a recording destroyed, and legal holds, written once for both
//! backends.
//!
//! Invariants:
//! - A purge never deletes a row: it only sets `recording_purged_at`, once.
//! - A call under legal hold is never a candidate.

use sqlx::{Pool, QueryBuilder};

use super::dialect::{execute, fetch_all, fetch_optional, read_all, Columns, Db, PushArg};
use super::register::{record, COLUMNS};
use super::{database, Store, StoreError};
use crate::model::CallRecord;

/// A legal hold on a call: its recording is kept whatever the retention rules say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegalHold {
    pub call_id: String,
    pub reason: String,
    pub set_by: String,
    pub set_at: String,
}

async fn candidates<DB: Db>(pool: &Pool<DB>) -> Result<Vec<CallRecord>, StoreError> {
    let mut q = QueryBuilder::new(format!(
        "SELECT {COLUMNS} FROM calls WHERE recording_path IS NOT NULL \
         AND recording_purged_at IS NULL AND outcome <> 'in_progress' \
         AND id NOT IN (SELECT call_id FROM legal_holds) ORDER BY received_at, id"
    ));
    let rows = fetch_all(pool, &mut q).await?;
    read_all(&rows, record)
}

async fn mark_purged<DB: Db>(pool: &Pool<DB>, call_id: &str, at: &str) -> Result<bool, StoreError> {
    let mut q = QueryBuilder::new("UPDATE calls SET recording_purged_at = ");
    q.arg(at)
        .push(" WHERE id = ")
        .arg(call_id)
        .push(" AND recording_purged_at IS NULL");
    Ok(execute(pool, &mut q).await? == 1)
}

async fn purged_at<DB: Db>(pool: &Pool<DB>, call_id: &str) -> Result<Option<String>, StoreError> {
    let mut q = QueryBuilder::new("SELECT recording_purged_at FROM calls WHERE id = ");
    q.arg(call_id);
    let row = fetch_optional(pool, &mut q).await?;
    match row {
        Some(r) => r.opt_text("recording_purged_at").map_err(database),
        None => Ok(None),
    }
}

async fn set_hold<DB: Db>(pool: &Pool<DB>, h: &LegalHold) -> Result<bool, StoreError> {
    let mut q =
        QueryBuilder::new("INSERT INTO legal_holds (call_id, reason, set_by, set_at) SELECT ");
    q.arg(&h.call_id)
        .push(", ")
        .arg(&h.reason)
        .push(", ")
        .arg(&h.set_by)
        .push(", ")
        .arg(&h.set_at)
        .push(" WHERE EXISTS (SELECT 1 FROM calls WHERE id = ")
        .arg(&h.call_id)
        .push(
            ") ON CONFLICT (call_id) DO UPDATE SET reason = excluded.reason, \
               set_by = excluded.set_by, set_at = excluded.set_at",
        );
    Ok(execute(pool, &mut q).await? == 1)
}

async fn clear_hold<DB: Db>(pool: &Pool<DB>, call_id: &str) -> Result<bool, StoreError> {
    let mut q = QueryBuilder::new("DELETE FROM legal_holds WHERE call_id = ");
    q.arg(call_id);
    Ok(execute(pool, &mut q).await? == 1)
}

async fn hold<DB: Db>(pool: &Pool<DB>, call_id: &str) -> Result<Option<LegalHold>, StoreError> {
    let mut q = QueryBuilder::new(
        "SELECT call_id, reason, set_by, set_at FROM legal_holds WHERE call_id = ",
    );
    q.arg(call_id);
    let row = fetch_optional(pool, &mut q).await?;
    row.as_ref()
        .map(|r| {
            Ok(LegalHold {
                call_id: r.text("call_id")?,
                reason: r.text("reason")?,
                set_by: r.text("set_by")?,
                set_at: r.text("set_at")?,
            })
        })
        .transpose()
        .map_err(database)
}

impl Store {
    /// Ended calls whose recording is still on disk and not under legal hold, oldest
    /// first: what the retention rules are applied to.
    pub async fn retention_candidates(&self) -> Result<Vec<CallRecord>, StoreError> {
        on_pool!(self, pool => candidates(pool))
    }

    /// Records that a call's recording was destroyed at `at`; `Ok(false)` if there is no
    /// such call or it was already marked.
    pub async fn mark_recording_purged(&self, call_id: &str, at: &str) -> Result<bool, StoreError> {
        on_pool!(self, pool => mark_purged(pool, call_id, at))
    }

    /// When the call's recording was destroyed, if it was.
    pub async fn recording_purged_at(&self, call_id: &str) -> Result<Option<String>, StoreError> {
        on_pool!(self, pool => purged_at(pool, call_id))
    }

    /// Puts a call under legal hold (or updates the hold's reason); `Ok(false)` if there is
    /// no such call.
    pub async fn set_legal_hold(&self, hold: &LegalHold) -> Result<bool, StoreError> {
        on_pool!(self, pool => set_hold(pool, hold))
    }

    /// Lifts a call's legal hold; `Ok(false)` if it had none.
    pub async fn clear_legal_hold(&self, call_id: &str) -> Result<bool, StoreError> {
        on_pool!(self, pool => clear_hold(pool, call_id))
    }

    /// The call's legal hold, if any.
    pub async fn legal_hold(&self, call_id: &str) -> Result<Option<LegalHold>, StoreError> {
        on_pool!(self, pool => hold(pool, call_id))
    }
}
