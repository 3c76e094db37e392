//! The recordings tree on disk: where a call's file goes, how it is created, its
//! "unfinished" marker, and the file facts the register keeps (size and SHA-256).
//!
//! Layout: `root/YYYY/MM/DD/<call id>.wav`, the day in the configured zone of the call's
//! arrival, with `<call id>.wav.open` next to it while the recording is being written.
//!
//! Invariants:
//! - Directories are created 0750 and files 0640: recordings are personal data, readable by
//!   the service and its group only (the umask may only narrow this further).
//! - A recording file is created with `create_new`: an existing file is never overwritten.
//! - The marker exists before the WAV file and is removed after the WAV file's final
//!   header is synced, so every WAV file that might be unfinished has a marker.
//! - A relative recording path is `YYYY/MM/DD/<id>.wav` with `/` separators; paths read
//!   back from the register are only joined to the root when they have nothing but normal
//!   components (no `..`, no root, no prefix).

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Component, Path, PathBuf};

use jiff::tz::TimeZone;
use jiff::Timestamp;
use sha2::{Digest as _, Sha256};

/// Directories: the service and its group may list them; nobody else may.
pub(crate) const DIR_MODE: u32 = 0o750;
/// Files: the service writes, its group (QA export, backup) reads.
pub(crate) const FILE_MODE: u32 = 0o640;
/// The marker's suffix after the recording's own name.
pub(crate) const MARKER_SUFFIX: &str = ".open";
/// Recordings' extension (with the dot).
pub(crate) const WAV_SUFFIX: &str = ".wav";
/// How deep recordings may lie under the root (`YYYY/MM/DD/file`); walks stop there.
pub(crate) const MAX_DEPTH: usize = 4;

/// Is `id` usable as a file name on its own? Call ids are ours (`[0-9A-Z-]`), but a file
/// name is the last place to find out they were not.
pub(crate) fn is_safe_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The relative path of a call's recording: `YYYY/MM/DD/<id>.wav`.
pub(crate) fn relative_path(id: &str, received_at: Timestamp, zone: &TimeZone) -> String {
    let date = received_at.to_zoned(zone.clone()).date();
    format!(
        "{:04}/{:02}/{:02}/{id}{WAV_SUFFIX}",
        date.year(),
        date.month(),
        date.day()
    )
}

/// `rel` joined to `root`, if `rel` stays inside it.
pub(crate) fn resolve(root: &Path, rel: &str) -> Option<PathBuf> {
    let rel = Path::new(rel);
    let plain = rel.components().all(|c| matches!(c, Component::Normal(_)));
    (plain && rel.components().next().is_some()).then(|| root.join(rel))
}

/// The marker of a recording: `<file>.open` next to it.
pub(crate) fn marker_of(wav: &Path) -> PathBuf {
    let mut name = wav.as_os_str().to_owned();
    name.push(MARKER_SUFFIX);
    PathBuf::from(name)
}

/// What went wrong creating a recording's files.
#[derive(Debug)]
pub(crate) enum CreateFailure {
    /// The day directory (or one above it) could not be created.
    Dir(PathBuf, io::Error),
    /// The marker or the WAV file could not be created.
    File(PathBuf, io::Error),
}

/// Creates the day directory, the marker, then the WAV file (empty, 0640). On failure
/// nothing of ours is left behind (a directory created on the way may stay: it is empty
/// or shared with other calls of the day).
pub(crate) fn create(wav: &Path) -> Result<(File, PathBuf), CreateFailure> {
    if let Some(dir) = wav.parent() {
        DirBuilder::new()
            .recursive(true)
            .mode(DIR_MODE)
            .create(dir)
            .map_err(|e| CreateFailure::Dir(dir.to_path_buf(), e))?;
    }
    let marker = marker_of(wav);
    new_file(&marker).map_err(|e| CreateFailure::File(marker.clone(), e))?;
    match new_file(wav) {
        Ok(file) => Ok((file, marker)),
        Err(e) => {
            // The marker would make the next start look for a file that never existed.
            let _ = std::fs::remove_file(&marker);
            Err(CreateFailure::File(wav.to_path_buf(), e))
        }
    }
}

fn new_file(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .open(path)
}

/// Makes the directory's entries (a created or removed file) durable: without it a power
/// cut may lose a marker even though the file's data was synced.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Removes a marker and syncs its directory. A marker that is already gone is fine.
pub(crate) fn remove_marker(marker: &Path) -> io::Result<()> {
    match std::fs::remove_file(marker) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    }
    match marker.parent() {
        Some(dir) => sync_dir(dir),
        None => Ok(()),
    }
}

/// Advice that the file at `path` will not be read again soon, so the kernel may drop its
/// clean pages from the cache (dirty ones stay until written). For reads of many
/// recordings that nobody is about to play (a verify of the archive, a repair): without it
/// they would push the register and everything else out of the cache. A call's end does
/// not use it; see [`RecordingHandle::stop`](super::RecordingHandle::stop).
///
/// Advice only: an error changes nothing that matters, so none is reported.
pub(crate) fn release_pages(path: &Path) {
    use std::os::fd::AsRawFd;
    let Ok(file) = File::open(path) else { return };
    // SAFETY: `posix_fadvise` only reads the descriptor, which `file` keeps open; offset
    // and length 0 mean the whole file.
    unsafe { libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
}

/// The register's facts about a file: its length and SHA-256 (lowercase hex), from one
/// read of the whole file so the two always describe the same bytes.
pub(crate) fn file_facts(path: &Path) -> io::Result<(u64, String)> {
    let mut file = File::open(path)?;
    let mut hash = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut len = 0u64;
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hash.update(&buf[..n]);
        len += n as u64;
    }
    Ok((len, hex::encode(hash.finalize())))
}

/// [`file_facts`] for a read of many recordings (a repair): the file's pages go after, as
/// [`release_pages`] says why.
pub(crate) fn file_facts_then_release(path: &Path) -> io::Result<(u64, String)> {
    let facts = file_facts(path);
    release_pages(path);
    facts
}

/// Every regular file under `root` (at most [`MAX_DEPTH`] levels down) whose name ends in
/// `suffix`, sorted. Symbolic links are not followed: the tree is ours, a link in it is not.
pub(crate) fn find(root: &Path, suffix: &str) -> io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let mut dirs = vec![(root.to_path_buf(), 0usize)];
    while let Some((dir, depth)) = dirs.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            // A missing root is an empty tree (nothing was ever recorded).
            Err(e) if e.kind() == io::ErrorKind::NotFound && depth == 0 => break,
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            let kind = entry.file_type()?;
            let path = entry.path();
            if kind.is_dir() && depth + 1 < MAX_DEPTH {
                dirs.push((path, depth + 1));
            } else if kind.is_file() && entry.file_name().to_string_lossy().ends_with(suffix) {
                found.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}

/// `path` relative to `root`, with `/` separators (the register's form).
pub(crate) fn relative_to(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// `f` over `items` on up to `threads` threads, results in `items` order. File checks
/// are independent and mostly waiting on the disk, so a few run at once.
pub(crate) fn parallel_map<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let threads = threads.clamp(1, items.len().max(1));
    let mut done: Vec<(usize, R)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(item) = items.get(i) else {
                            break;
                        };
                        mine.push((i, f(item)));
                    }
                    mine
                })
            })
            .collect();
        // A worker that panicked lost its results; the caller sees fewer of them rather
        // than a second panic here.
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap_or_default())
            .collect()
    });
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, r)| r).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn the_day_is_the_arrival_date_in_the_zone() {
        let at: Timestamp = "2026-11-24T22:30:00Z".parse().unwrap();
        assert_eq!(
            relative_path("ID-1", at, &TimeZone::UTC),
            "2026/11/24/ID-1.wav"
        );
        let moscow = TimeZone::get("Europe/Moscow").unwrap();
        assert_eq!(relative_path("ID-1", at, &moscow), "2026/11/25/ID-1.wav");
    }

    #[test]
    fn ids_that_could_leave_the_directory_are_refused() {
        assert!(is_safe_id("20261124T152147Z-K7Q3M9XA"));
        for bad in ["", "../x", "a/b", "a.b", "..", "a\0b", &"x".repeat(65)] {
            assert!(!is_safe_id(bad), "{bad:?}");
        }
    }

    #[test]
    fn register_paths_stay_under_the_root() {
        let root = Path::new("/srv/rec");
        assert_eq!(
            resolve(root, "2026/11/24/a.wav"),
            Some(PathBuf::from("/srv/rec/2026/11/24/a.wav"))
        );
        for bad in ["../etc/passwd", "/etc/passwd", "2026/../../x", "", "./"] {
            assert_eq!(resolve(root, bad), None, "{bad:?}");
        }
    }

    #[test]
    fn files_are_private_to_the_service_and_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let wav = dir.path().join("2026/11/24/A.wav");
        let (_file, marker) = create(&wav).unwrap();
        assert_eq!(marker, dir.path().join("2026/11/24/A.wav.open"));
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&wav), 0o640);
        assert_eq!(mode(&marker), 0o640);
        assert_eq!(mode(&dir.path().join("2026/11")), 0o750);
        assert!(matches!(create(&wav), Err(CreateFailure::File(..))));
        assert!(marker.exists(), "the first recording's marker is kept");
    }

    #[test]
    fn a_failed_wav_leaves_no_marker() {
        let dir = tempfile::tempdir().unwrap();
        let wav = dir.path().join("A.wav");
        std::fs::create_dir(&wav).unwrap();
        assert!(matches!(create(&wav), Err(CreateFailure::File(..))));
        assert!(!marker_of(&wav).exists());
    }

    #[test]
    fn facts_are_length_and_sha256() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"abc").unwrap();
        let (len, sha) = file_facts(&path).unwrap();
        assert_eq!(len, 3);
        assert_eq!(
            sha,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn find_walks_the_day_tree_in_order() {
        let dir = tempfile::tempdir().unwrap();
        for rel in [
            "2026/11/25/b.wav",
            "2026/11/24/a.wav",
            "2026/11/24/a.wav.open",
        ] {
            let p = dir.path().join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, b"").unwrap();
        }
        let wavs: Vec<_> = find(dir.path(), ".wav")
            .unwrap()
            .iter()
            .map(|p| relative_to(dir.path(), p))
            .collect();
        assert_eq!(wavs, ["2026/11/24/a.wav", "2026/11/25/b.wav"]);
        assert!(find(&dir.path().join("missing"), ".wav")
            .unwrap()
            .is_empty());
    }

    #[test]
    fn parallel_map_keeps_the_order() {
        let items: Vec<u32> = (0..100).collect();
        assert_eq!(
            parallel_map(&items, 3, |i| i * 2),
            (0..100).map(|i| i * 2).collect::<Vec<_>>()
        );
        assert!(parallel_map(&[] as &[u32], 3, |i| *i).is_empty());
    }
}
