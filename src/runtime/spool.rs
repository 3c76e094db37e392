//! The register's outage spool: an append-only file of [`RegisterWrite`]s the database
//! could not take, replayed in order once it is back.
//!
//! Format: one write per line, a JSON object (`{"kind":"open",…}`, `"update"`, `"ring"`)
//! ending in `\n`. Times are kept at full precision (RFC 3339), so a replayed write is the
//! write that was spooled. Text, so an operator can read (and if need be edit) the file.
//!
//! Invariants:
//! - A batch is acknowledged only after its lines are written and `fdatasync`ed: a write
//!   the writer reports as spooled survives a crash or a power cut.
//! - Order: lines are replayed in file order, which is the order they were spooled in; the
//!   writer spools everything that arrives while the spool holds anything, so nothing
//!   overtakes an older write.
//! - Replay is at-least-once and that is enough: `Open` and `Ring` are idempotent and an
//!   `Update` only fills in what it carries, so a chunk applied again (a crash between
//!   its commit and the truncation) changes nothing. The file is truncated only once
//!   every line has been applied.
//! - A torn last line (a crash in the middle of an append, never acknowledged) is cut
//!   off when the spool is opened, so the next append does not glue onto it. A line that
//!   cannot be read is skipped and counted, never retried forever.

use std::io::SeekFrom;
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncSeekExt, AsyncWriteExt, BufReader};

use super::database::Database;
use crate::model::{
    CallDirection, CallEvent, CallEventKind, CallUpdate, EndReason, HangupBy, NewCall, Outcome,
    RegisterWrite, RingAttempt, RingResult,
};
use crate::store::{ApplyReport, StoreError};

/// Errors of the spool.
#[derive(thiserror::Error, Debug)]
pub enum SpoolError {
    /// The spool file or its directory could not be created, read, written or synced.
    #[error("register spool {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Replaying a chunk failed as a whole (the database is still unreachable); the chunk
    /// stays in the spool.
    #[error("register spool replay: {0}")]
    Store(#[from] StoreError),
}

/// Why one spool line could not be turned back into a write.
#[derive(thiserror::Error, Debug, PartialEq, Eq)]
pub enum LineError {
    /// Not a JSON object of the spool's shape.
    #[error("not a spooled write: {0}")]
    Shape(String),
    /// A time that does not parse.
    #[error("bad time `{0}`")]
    Time(String),
    /// An outcome or hang-up party this build does not know.
    #[error("unknown value `{0}`")]
    Vocabulary(String),
}

/// What one replayed chunk did.
#[derive(Debug, Default)]
pub struct ChunkReport {
    /// The writes read back, in order (what was given to
    /// [`Store::apply`](crate::store::Store::apply)).
    pub writes: usize,
    /// The store's report on them.
    pub applied: ApplyReport,
    /// Lines that could not be read and were skipped.
    pub corrupt: u64,
}

/// The spool file and how far its replay has got.
#[derive(Debug)]
pub struct Spool {
    path: PathBuf,
    /// Writes in the file not yet replayed.
    pending: u64,
    /// Byte offset of the first line not yet replayed.
    replayed_to: u64,
}

impl Spool {
    /// Opens (creating its directory) the spool at `path`, cutting off a torn last line
    /// and counting what is waiting in it.
    pub async fn open(path: impl Into<PathBuf>) -> Result<Spool, SpoolError> {
        let path = path.into();
        let io = |source| SpoolError::Io {
            path: path.clone(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            tokio::fs::create_dir_all(dir).await.map_err(io)?;
        }
        let bytes = match tokio::fs::read(&path).await {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(io(e)),
        };
        let whole = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        if whole < bytes.len() {
            tracing::warn!(
                path = %path.display(),
                bytes = bytes.len() - whole,
                "register spool: cutting off a torn last line"
            );
            let file = tokio::fs::OpenOptions::new()
                .write(true)
                .open(&path)
                .await
                .map_err(io)?;
            file.set_len(whole as u64).await.map_err(io)?;
            file.sync_all().await.map_err(io)?;
        }
        let pending = bytes[..whole]
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .count() as u64;
        Ok(Spool {
            path,
            pending,
            replayed_to: 0,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes in the spool not yet replayed.
    pub fn pending(&self) -> u64 {
        self.pending
    }

    fn io(&self, source: std::io::Error) -> SpoolError {
        SpoolError::Io {
            path: self.path.clone(),
            source,
        }
    }

    /// Appends `writes` in order and syncs them to disk; only then returns `Ok`.
    pub async fn append(&mut self, writes: &[RegisterWrite]) -> Result<(), SpoolError> {
        if writes.is_empty() {
            return Ok(());
        }
        let mut text = Vec::with_capacity(writes.len() * 256);
        for write in writes {
            encode(write, &mut text);
        }
        let mut file = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .await
            .map_err(|e| self.io(e))?;
        file.write_all(&text).await.map_err(|e| self.io(e))?;
        file.sync_data().await.map_err(|e| self.io(e))?;
        self.pending += writes.len() as u64;
        Ok(())
    }

    /// Replays the next (up to) `max` writes into `store` in one batch. `Ok(None)` when
    /// nothing is left: the file has then been truncated. On `Err` the chunk stays in the
    /// spool and the next call starts from it again.
    pub async fn replay_chunk(
        &mut self,
        store: &impl Database,
        max: usize,
    ) -> Result<Option<ChunkReport>, SpoolError> {
        let (writes, corrupt, lines, next) = self.read_chunk(max).await?;
        if lines == 0 {
            self.clear().await?;
            return Ok(None);
        }
        let applied = store.apply(&writes).await?;
        self.replayed_to = next;
        self.pending = self.pending.saturating_sub(lines);
        Ok(Some(ChunkReport {
            writes: writes.len(),
            applied,
            corrupt,
        }))
    }

    /// Replays everything (at start-up, before the register is used).
    pub async fn replay_all(
        &mut self,
        store: &impl Database,
        max: usize,
    ) -> Result<u64, SpoolError> {
        let mut replayed = 0;
        while let Some(chunk) = self.replay_chunk(store, max).await? {
            replayed += chunk.writes as u64;
        }
        Ok(replayed)
    }

    /// Reads up to `max` lines from where replay has got to: (writes, unreadable lines,
    /// lines read, offset after them).
    async fn read_chunk(
        &self,
        max: usize,
    ) -> Result<(Vec<RegisterWrite>, u64, u64, u64), SpoolError> {
        let file = match tokio::fs::File::open(&self.path).await {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), 0, 0, 0)),
            Err(e) => return Err(self.io(e)),
        };
        let mut reader = BufReader::new(file);
        reader
            .seek(SeekFrom::Start(self.replayed_to))
            .await
            .map_err(|e| self.io(e))?;
        let (mut writes, mut corrupt, mut lines) = (Vec::new(), 0u64, 0u64);
        let mut offset = self.replayed_to;
        let mut line = Vec::new();
        while writes.len() < max {
            line.clear();
            let n = reader
                .read_until(b'\n', &mut line)
                .await
                .map_err(|e| self.io(e))?;
            // A line without its newline is being written right now (cannot happen: only
            // the writer task appends) or torn; leave it for `open` to deal with.
            if n == 0 || line.last() != Some(&b'\n') {
                break;
            }
            offset += n as u64;
            lines += 1;
            match decode(&line[..n - 1]) {
                Ok(write) => writes.push(write),
                Err(error) => {
                    corrupt += 1;
                    tracing::error!(path = %self.path.display(), offset, %error, "register spool: skipping an unreadable line");
                }
            }
        }
        Ok((writes, corrupt, lines, offset))
    }

    /// Empties the file once everything in it has been applied.
    async fn clear(&mut self) -> Result<(), SpoolError> {
        match tokio::fs::OpenOptions::new()
            .write(true)
            .open(&self.path)
            .await
        {
            Ok(file) => {
                file.set_len(0).await.map_err(|e| self.io(e))?;
                file.sync_all().await.map_err(|e| self.io(e))?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(self.io(e)),
        }
        self.pending = 0;
        self.replayed_to = 0;
        Ok(())
    }
}

/// One spooled write as it is written in the file.
// Short-lived (one per line encoded or decoded): boxing the large variant buys nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Serialize, Deserialize, Debug)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Line {
    Open {
        id: String,
        sip_call_id: String,
        caller: String,
        dialed: String,
        source: String,
        received_at: String,
        /// Absent in lines spooled before calls had a direction: those were inbound.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        direction: Option<String>,
    },
    Update {
        id: String,
        #[serde(flatten)]
        update: UpdateLine,
    },
    Ring {
        call_id: String,
        operator_id: String,
        started_at: String,
        ended_at: String,
        result: String,
    },
    Event {
        call_id: String,
        at: String,
        event: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
    },
}

#[derive(Serialize, Deserialize, Debug, Default)]
struct UpdateLine {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    answered_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    queued_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    connected_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ended_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    operator_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    wait_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    talk_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    outcome: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    hangup_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    final_status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    end_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    recording_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    recording_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    recording_bytes: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    recording_sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    recording_error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    notice_played_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    notice_completed: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    topic: Option<String>,
}

/// Appends `write` to `out` as one spool line, newline included.
pub fn encode(write: &RegisterWrite, out: &mut Vec<u8>) {
    let time = |t: Timestamp| t.to_string();
    let line = match write {
        RegisterWrite::Open(c) => Line::Open {
            id: c.id.clone(),
            sip_call_id: c.sip_call_id.clone(),
            caller: c.caller.clone(),
            dialed: c.dialed.clone(),
            source: c.source.clone(),
            received_at: time(c.received_at),
            direction: Some(c.direction.as_str().to_owned()),
        },
        RegisterWrite::Update { id, update: u } => Line::Update {
            id: id.clone(),
            update: UpdateLine {
                answered_at: u.answered_at.map(time),
                queued_at: u.queued_at.map(time),
                connected_at: u.connected_at.map(time),
                ended_at: u.ended_at.map(time),
                operator_id: u.operator_id.clone(),
                wait_ms: u.wait_ms,
                talk_ms: u.talk_ms,
                outcome: u.outcome.map(|o| o.as_str().to_owned()),
                hangup_by: u.hangup_by.map(|h| h.as_str().to_owned()),
                final_status: u.final_status,
                end_reason: u.end_reason.map(|r| r.as_str().to_owned()),
                recording_path: u.recording_path.clone(),
                recording_ms: u.recording_ms,
                recording_bytes: u.recording_bytes,
                recording_sha256: u.recording_sha256.clone(),
                recording_error: u.recording_error.clone(),
                notice_played_at: u.notice_played_at.map(time),
                notice_completed: u.notice_completed,
                topic: u.topic.clone(),
            },
        },
        RegisterWrite::Ring(r) => Line::Ring {
            call_id: r.call_id.clone(),
            operator_id: r.operator_id.clone(),
            started_at: time(r.started_at),
            ended_at: time(r.ended_at),
            result: r.result.as_str().to_owned(),
        },
        RegisterWrite::Event(e) => Line::Event {
            call_id: e.call_id.clone(),
            at: time(e.at),
            event: e.kind.as_str().to_owned(),
            detail: e.detail.clone(),
        },
    };
    serde_json::to_writer(&mut *out, &line).expect("a spool line is plain strings and numbers");
    out.push(b'\n');
}

/// Reads one spool line (without its newline) back into the write it was made from.
pub fn decode(line: &[u8]) -> Result<RegisterWrite, LineError> {
    let line: Line = serde_json::from_slice(line).map_err(|e| LineError::Shape(e.to_string()))?;
    let time = |s: String| s.parse::<Timestamp>().map_err(|_| LineError::Time(s));
    let opt_time = |s: Option<String>| s.map(time).transpose();
    Ok(match line {
        Line::Open {
            id,
            sip_call_id,
            caller,
            dialed,
            source,
            received_at,
            direction,
        } => RegisterWrite::Open(NewCall {
            id,
            sip_call_id,
            caller,
            dialed,
            source,
            received_at: time(received_at)?,
            direction: match direction {
                None => CallDirection::Inbound,
                Some(d) => CallDirection::parse(&d).ok_or(LineError::Vocabulary(d))?,
            },
        }),
        Line::Update { id, update: u } => RegisterWrite::Update {
            id,
            update: CallUpdate {
                answered_at: opt_time(u.answered_at)?,
                queued_at: opt_time(u.queued_at)?,
                connected_at: opt_time(u.connected_at)?,
                ended_at: opt_time(u.ended_at)?,
                operator_id: u.operator_id,
                wait_ms: u.wait_ms,
                talk_ms: u.talk_ms,
                outcome: u
                    .outcome
                    .map(|o| Outcome::parse(&o).ok_or(LineError::Vocabulary(o)))
                    .transpose()?,
                hangup_by: u
                    .hangup_by
                    .map(|h| HangupBy::parse(&h).ok_or(LineError::Vocabulary(h)))
                    .transpose()?,
                final_status: u.final_status,
                end_reason: u
                    .end_reason
                    .map(|r| EndReason::parse(&r).ok_or(LineError::Vocabulary(r)))
                    .transpose()?,
                recording_path: u.recording_path,
                recording_ms: u.recording_ms,
                recording_bytes: u.recording_bytes,
                recording_sha256: u.recording_sha256,
                recording_error: u.recording_error,
                notice_played_at: opt_time(u.notice_played_at)?,
                notice_completed: u.notice_completed,
                topic: u.topic,
            },
        },
        Line::Ring {
            call_id,
            operator_id,
            started_at,
            ended_at,
            result,
        } => RegisterWrite::Ring(RingAttempt {
            call_id,
            operator_id,
            started_at: time(started_at)?,
            ended_at: time(ended_at)?,
            result: ring_result(result)?,
        }),
        Line::Event {
            call_id,
            at,
            event,
            detail,
        } => RegisterWrite::Event(CallEvent {
            call_id,
            at: time(at)?,
            kind: CallEventKind::parse(&event).ok_or(LineError::Vocabulary(event))?,
            detail,
        }),
    })
}

/// A ring result as spooled, including the words of versions before the six results: a
/// spool left by one of them is replayed after an upgrade, as near to its meaning as the
/// old word allows (`cancelled` was mostly a ring timeout).
fn ring_result(word: String) -> Result<RingResult, LineError> {
    if let Some(r) = RingResult::parse(&word) {
        return Ok(r);
    }
    match word.as_str() {
        "cancelled" => Ok(RingResult::NoAnswer),
        "failed" => Ok(RingResult::Error),
        "answered_late" => Ok(RingResult::CallerGone),
        _ => Err(LineError::Vocabulary(word)),
    }
}

#[cfg(test)]
#[path = "spool_tests.rs"]
mod tests;
