//! `GET /api/calls/{id}/recording`: the conversation's WAV, whole or one byte range
//! (RFC 9110 §14: `Range: bytes=a-b`, `bytes=a-`, `bytes=-n`), streamed from disk.
//!
//! Invariants:
//! - The file is the register row's `recording_path` under the recordings root; the URL
//!   only names the call. A stored path that is absolute or climbs out (`..`) is refused.
//! - Every access that will send bytes is audited first (`recording_stream`, or
//!   `recording_download` with `?download=1`); if the audit row cannot be written the
//!   recording is not sent.
//! - Only single ranges are served; several ranges or a range outside the file is a 416
//!   that states the length.
//! - The body is read in chunks as it is sent, never buffered whole.

use std::io::SeekFrom;
use std::path::{Component, Path as FsPath, PathBuf};

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio_util::io::ReaderStream;

use super::calls::find;
use super::error::ApiError;
use super::params::{Params, Remote};
use crate::model::format_time;
use crate::store::AuditEntry;
use crate::web::auth::{level, Auth};
use crate::web::WebContext;

/// An inclusive byte range `first..=last` within a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    pub first: u64,
    pub last: u64,
}

/// A `Range` header we will not serve: malformed, several ranges, or outside the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("range not satisfiable")]
pub struct Unsatisfiable;

/// What a `Range` header asks of a file of `len` bytes: `Ok(None)` for the whole file
/// (no header), `Ok(Some)` for one satisfiable range.
pub fn parse_range(header: Option<&str>, len: u64) -> Result<Option<ByteRange>, Unsatisfiable> {
    let Some(header) = header else {
        return Ok(None);
    };
    let spec = header.trim().strip_prefix("bytes=").ok_or(Unsatisfiable)?;
    if spec.contains(',') {
        return Err(Unsatisfiable);
    }
    let (a, b) = spec.trim().split_once('-').ok_or(Unsatisfiable)?;
    let number = |s: &str| -> Result<u64, Unsatisfiable> {
        if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
            return Err(Unsatisfiable);
        }
        s.parse().map_err(|_| Unsatisfiable)
    };
    let range = if a.is_empty() {
        // A suffix: the last `n` bytes.
        let n = number(b)?;
        if n == 0 || len == 0 {
            return Err(Unsatisfiable);
        }
        ByteRange {
            first: len.saturating_sub(n),
            last: len - 1,
        }
    } else {
        let first = number(a)?;
        let last = if b.is_empty() {
            len.saturating_sub(1)
        } else {
            number(b)?
        };
        if first > last || first >= len {
            return Err(Unsatisfiable);
        }
        ByteRange {
            first,
            last: last.min(len - 1),
        }
    };
    Ok(Some(range))
}

/// The stored relative path under `root`, if it stays inside it.
pub fn resolve(root: &FsPath, stored: &str) -> Option<PathBuf> {
    let rel = FsPath::new(stored);
    let plain = rel.components().all(|c| matches!(c, Component::Normal(_)));
    (plain && !stored.is_empty()).then(|| root.join(rel))
}

pub async fn get(
    Auth(who): Auth<{ level::OPERATOR }>,
    State(ctx): State<WebContext>,
    remote: Remote,
    Path(id): Path<String>,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let params = Params::new(query);
    let download = matches!(params.get("download"), Some("1" | "true"));
    let call = super::scope::visible(&who, find(&ctx, &id).await?)?;
    let stored = call
        .recording_path
        .as_deref()
        .ok_or(ApiError::NotFound("recording"))?;
    // A purged recording is gone on purpose: say so, rather than "not found", which
    // reads like a fault to whoever follows an old link or a list row.
    if let Some(at) = ctx.store.recording_purged_at(&call.id).await? {
        return Err(ApiError::Gone(format!(
            "recording destroyed under the retention rules at {at}"
        )));
    }
    let Some(path) = resolve(&ctx.recordings_root, stored) else {
        tracing::warn!(call_id = %call.id, "register names a recording outside the root; refused");
        return Err(ApiError::NotFound("recording"));
    };
    let mut file = match tokio::fs::File::open(&path).await {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ApiError::NotFound("recording"))
        }
        Err(e) => return Err(e.into()),
    };
    let len = file.metadata().await?.len();
    let range_header = headers.get(header::RANGE).map(|v| v.to_str().unwrap_or(""));
    let range =
        parse_range(range_header, len).map_err(|_| ApiError::RangeNotSatisfiable { len })?;

    ctx.store
        .audit(&AuditEntry {
            at: format_time(jiff::Timestamp::now()),
            username: Some(who.username),
            action: if download {
                "recording_download"
            } else {
                "recording_stream"
            }
            .into(),
            call_id: Some(call.id.clone()),
            remote: remote.text(),
            detail: range.map(|r| format!("bytes={}-{}", r.first, r.last)),
        })
        .await?;

    let (status, first, count) = match range {
        Some(r) => (StatusCode::PARTIAL_CONTENT, r.first, r.last - r.first + 1),
        None => (StatusCode::OK, 0, len),
    };
    if first > 0 {
        file.seek(SeekFrom::Start(first)).await?;
    }
    let body = Body::from_stream(ReaderStream::new(file.take(count)));
    let mut response = (status, body).into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("audio/wav"));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(count));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    if let Some(r) = range {
        let v = format!("bytes {}-{}/{len}", r.first, r.last);
        h.insert(
            header::CONTENT_RANGE,
            HeaderValue::from_str(&v).expect("digits, dashes and a slash are a valid header"),
        );
    }
    if download {
        // The id is [0-9A-Z-] only, so it needs no quoting beyond the quotes.
        let v = format!("attachment; filename=\"{}.wav\"", call.id);
        h.insert(
            header::CONTENT_DISPOSITION,
            HeaderValue::from_str(&v).expect("call ids are header-safe"),
        );
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(first: u64, last: u64) -> Result<Option<ByteRange>, Unsatisfiable> {
        Ok(Some(ByteRange { first, last }))
    }

    #[test]
    fn single_ranges_are_understood() {
        assert_eq!(parse_range(None, 100), Ok(None));
        assert_eq!(parse_range(Some("bytes=0-9"), 100), r(0, 9));
        assert_eq!(parse_range(Some("bytes=90-"), 100), r(90, 99));
        assert_eq!(parse_range(Some("bytes=-10"), 100), r(90, 99));
        assert_eq!(parse_range(Some("bytes=-500"), 100), r(0, 99));
        assert_eq!(
            parse_range(Some("bytes=50-1000"), 100),
            r(50, 99),
            "clamped"
        );
    }

    #[test]
    fn ranges_we_do_not_serve_are_refused() {
        for bad in [
            "bytes=100-",
            "bytes=100-200",
            "bytes=5-4",
            "bytes=0-1,5-6",
            "bytes=-0",
            "bytes=-",
            "items=0-1",
            "bytes=a-b",
            "bytes=+1-2",
            "bytes=99999999999999999999999-",
        ] {
            assert_eq!(parse_range(Some(bad), 100), Err(Unsatisfiable), "{bad}");
        }
        assert_eq!(
            parse_range(Some("bytes=-1"), 0),
            Err(Unsatisfiable),
            "empty file"
        );
    }

    #[test]
    fn stored_paths_stay_under_the_root() {
        let root = FsPath::new("/srv/rec");
        assert_eq!(
            resolve(root, "2026/11/24/X.wav"),
            Some(PathBuf::from("/srv/rec/2026/11/24/X.wav"))
        );
        assert_eq!(resolve(root, "../etc/passwd"), None);
        assert_eq!(resolve(root, "/etc/passwd"), None);
        assert_eq!(resolve(root, "2026/../../x"), None);
        assert_eq!(resolve(root, ""), None);
    }
}
