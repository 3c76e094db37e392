//! The recording file task: each answered call's two legs, aligned into a stereo WAV file
//! (caller left, operator right) under the recordings root, with startup repair of the
//! files a crash left unfinished.
//!
//! Run loop: [`Recorder::start`] creates `root/YYYY/MM/DD/<id>.wav` and its marker, and
//! hands the file to one of a few writer threads (see `writer` for why threads). The media
//! task offers [`RecordFrame`]s to the returned bounded ring (about 1 s), so it never
//! waits on disk; the writer takes them every tick (250 ms), aligns them (the sans-IO
//! `media::stereo` core), writes up to a disk block boundary (`track`), and every second
//! writes the rest and rewrites the header, after which one `syncfs` makes all of that
//! thread's checkpointed recordings durable together, on a sync thread beside it
//! (`syncer`), so a slow sync never stops the writing.
//! [`RecordingHandle::stop`] finishes the file and yields the facts the register keeps.
//!
//! Invariants:
//! - A `kill -9` loses at most about one second of audio (more only while the disk takes
//!   longer than that to sync): the header and data are synced every second, and the
//!   marker makes [`Recorder::repair_unfinished`] fix the header (from the file's
//!   length) at the next start, before calls are taken.
//! - A disk error never affects the call and never panics: creating the file fails
//!   `start`; any later error ends that recording's writing, and `stop` reports
//!   [`RecordingOutcome::Failed`] with the reason for the register.
//! - Only the writer threads (and `stop`'s blocking hash) touch the disk after `start`;
//!   `start` itself makes a directory and two empty files, no sync.

mod files;
mod repair;
mod syncer;
mod track;
mod writer;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc as std_mpsc, Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use jiff::tz::TimeZone;
use tokio::sync::oneshot;

use self::files::CreateFailure;
use self::track::Track;
use self::writer::{Command, DiskFile, Settings, Worker};
use crate::media::player::FRAME_DURATION;
use crate::media::stereo::{Aligner, AlignerConfig, WavWriter};
pub use crate::runtime::call_media::{frame_queue, FrameRefused, FrameSender, RecordFrame};

pub(crate) use self::files::{
    file_facts, file_facts_then_release, find as find_files, marker_of, parallel_map, relative_to,
    release_pages, resolve, MARKER_SUFFIX, WAV_SUFFIX,
};
pub(crate) use self::repair::fix as repair_file;

/// Where the writer threads read the audio's time: the runtime's monotonic clock in
/// service, a hand-moved clock in tests (so what is on disk does not depend on how fast the
/// test machine is).
pub type AudioClock = Arc<dyn Fn() -> Instant + Send + Sync>;

/// How the recorder works. [`Default`] is what the service uses.
#[derive(Clone)]
pub struct RecorderConfig {
    /// Writer threads (at most; started as recordings need them).
    pub threads: usize,
    /// How often each recording's queued frames are aligned and written.
    pub write_every: Duration,
    /// How often each recording's header is rewritten and its data synced: the most audio
    /// a crash may lose.
    pub sync_every: Duration,
    /// Frames the media task may queue for one recording before it drops and counts them.
    pub queue_frames: usize,
    /// The zone whose calendar names the day directories.
    pub time_zone: TimeZone,
    /// The aligner's jitter allowance and resync threshold.
    pub aligner: AlignerConfig,
    /// The monotonic clock.
    pub clock: AudioClock,
}

impl Default for RecorderConfig {
    fn default() -> Self {
        // Two legs at one frame per 20 ms, for 1 s: four ticks of a writer thread, so a
        // disk that stalls a thread for most of a second costs no audio (20 KB a call).
        let queued = 2 * (Duration::from_millis(1_000).as_millis() / FRAME_DURATION.as_millis());
        RecorderConfig {
            threads: std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 8)),
            // Four wake-ups a second per thread; each writes about 8 KB per recording, ending
            // on a disk block between checkpoints.
            write_every: Duration::from_millis(250),
            sync_every: Duration::from_secs(1),
            queue_frames: usize::try_from(queued).unwrap_or(100),
            time_zone: TimeZone::UTC,
            aligner: AlignerConfig::default(),
            clock: Arc::new(|| crate::runtime::clock::Clock::system().mono()),
        }
    }
}

impl fmt::Debug for RecorderConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecorderConfig")
            .field("threads", &self.threads)
            .field("write_every", &self.write_every)
            .field("sync_every", &self.sync_every)
            .field("queue_frames", &self.queue_frames)
            .field("time_zone", &self.time_zone)
            .finish_non_exhaustive()
    }
}

/// A recording to start, when the operator answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingStart {
    /// The call's public id: the file's name.
    pub call_id: String,
    /// When the INVITE arrived: the day directory.
    pub received_at: jiff::Timestamp,
    /// When the operator answered: the recording's time zero.
    pub start: Instant,
}

/// A finished recording, as the register keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingSummary {
    /// Relative to the recordings root: `2026/11/24/<id>.wav`.
    pub path: String,
    /// Duration in milliseconds.
    pub ms: i64,
    /// File size.
    pub bytes: i64,
    /// SHA-256 of the whole file, lowercase hex.
    pub sha256: String,
}

/// How a recording ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordingOutcome {
    /// The file is complete and synced.
    Done(RecordingSummary),
    /// A disk error stopped it; whatever part was written stays at `path`.
    Failed { path: String, reason: String },
}

/// A recording the last run left unfinished, after repair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepairedRecording {
    /// The call it belongs to (the file's name).
    pub call_id: String,
    /// The repaired file's facts, or why it could not be repaired.
    pub outcome: RecordingOutcome,
    /// Whether the header had to be rewritten (`false`: it already matched the data, or
    /// the file could not be repaired).
    pub header_rewritten: bool,
    /// Bytes past the last whole stereo frame, left out of the repaired file's data.
    pub truncated_bytes: u64,
}

/// Why a recording could not start (the call goes on; its register row gets the reason).
#[derive(Debug, thiserror::Error)]
pub enum RecorderError {
    /// The call id cannot be a file name (only `[A-Za-z0-9_-]`, at most 64 characters).
    #[error("call id `{id}` is not usable as a file name")]
    InvalidCallId { id: String },
    /// The day directory could not be created (disk full, permissions, a file in its place).
    #[error("cannot create recordings directory {}: {source}", path.display())]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The recording file or its marker could not be created (or already exists).
    #[error("cannot create recording {}: {source}", path.display())]
    CreateFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// No writer thread could be started.
    #[error("cannot start a recording writer thread: {source}")]
    Thread {
        #[source]
        source: std::io::Error,
    },
    /// The recording already stopped writing after a disk error.
    #[error("recording failed: {reason}")]
    Failed { reason: String },
    /// The recording's writer is gone (it ended, or the recorder is shutting down).
    #[error("the recording has already ended")]
    Ended,
}

impl RecorderError {
    /// The reason as the register's `recording_error` states it.
    pub fn reason(&self) -> String {
        self.to_string()
    }
}

/// The recordings of one process: a root directory and a few writer threads.
pub struct Recorder {
    root: PathBuf,
    config: RecorderConfig,
    workers: Mutex<Vec<Worker>>,
    next_id: AtomicU64,
}

impl Recorder {
    /// A recorder writing under `root`, with the service's settings.
    pub fn new(root: PathBuf) -> Recorder {
        Recorder::with_config(root, RecorderConfig::default())
    }

    /// A recorder with explicit settings.
    pub fn with_config(root: PathBuf, config: RecorderConfig) -> Recorder {
        Recorder {
            root,
            config,
            workers: Mutex::new(Vec::new()),
            next_id: AtomicU64::new(0),
        }
    }

    /// The recordings root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Creates `root/YYYY/MM/DD/<id>.wav` (dirs 0750, file 0640) and its unfinished
    /// marker, and starts writing it. Returns the queue for `MediaCommand::Record` and the
    /// handle that ends the recording. An error leaves no file of this call behind.
    pub fn start(
        &self,
        job: RecordingStart,
    ) -> Result<(FrameSender, RecordingHandle), RecorderError> {
        if !files::is_safe_id(&job.call_id) {
            return Err(RecorderError::InvalidCallId { id: job.call_id });
        }
        let rel = files::relative_path(&job.call_id, job.received_at, &self.config.time_zone);
        let wav_path =
            files::resolve(&self.root, &rel).expect("a safe id and a date make a plain path");
        let (file, marker) = files::create(&wav_path).map_err(|e| match e {
            CreateFailure::Dir(path, source) => RecorderError::CreateDir { path, source },
            CreateFailure::File(path, source) => RecorderError::CreateFile { path, source },
        })?;
        let undo = |error: RecorderError| {
            let _ = std::fs::remove_file(&wav_path);
            let _ = std::fs::remove_file(&marker);
            error
        };
        let disk = DiskFile(Arc::new(file));
        let wav = WavWriter::create(disk.clone()).map_err(|source| {
            undo(RecorderError::CreateFile {
                path: wav_path.clone(),
                source,
            })
        })?;
        let (frames, queue) = frame_queue(self.config.queue_frames);
        let track = Track::new(
            job.call_id,
            wav_path.clone(),
            marker.clone(),
            queue,
            Aligner::new(self.config.aligner, job.start),
            wav,
            disk,
            self.config.sync_every,
            (self.config.clock)(),
        );
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let commands = self
            .assign(Command::Add {
                id,
                track: Box::new(track),
            })
            .map_err(undo)?;
        Ok((
            frames,
            RecordingHandle {
                id,
                path: rel,
                file: wav_path,
                commands: Some(commands),
            },
        ))
    }

    /// Startup: repairs every recording left with a marker under the root, removes the
    /// markers, and reports each (call id, outcome) so the runtime can register the calls
    /// as interrupted with the recovered audio. Blocking (it reads and hashes the files):
    /// run it before calls are taken, off the async workers.
    pub fn repair_unfinished(&self) -> Vec<RepairedRecording> {
        repair::repair_all(&self.root, self.config.threads)
    }

    /// Stops the writer threads once every recording has been stopped or dropped, and
    /// waits for them (a dropped recording is saved and left for repair).
    pub async fn shutdown(self) {
        let workers =
            std::mem::take(&mut *self.workers.lock().unwrap_or_else(PoisonError::into_inner));
        let threads: Vec<_> = workers
            .into_iter()
            .filter_map(|mut w| w.thread.take())
            .collect();
        let _ = tokio::task::spawn_blocking(move || {
            for thread in threads {
                let _ = thread.join();
            }
        })
        .await;
    }

    /// Gives `command` to the least loaded writer thread, starting one while fewer than
    /// `threads` run and all are busy. A thread that died (a bug) is replaced.
    fn assign(&self, command: Command) -> Result<std_mpsc::Sender<Command>, RecorderError> {
        let mut workers = self.workers.lock().unwrap_or_else(PoisonError::into_inner);
        let least = workers
            .iter()
            .enumerate()
            .min_by_key(|(_, w)| w.load.load(Ordering::Relaxed))
            .map(|(i, w)| (i, w.load.load(Ordering::Relaxed)));
        let index = match least {
            Some((i, 0)) => i,
            Some((i, _)) if workers.len() >= self.config.threads.max(1) => i,
            _ => {
                let index = workers.len();
                workers.push(self.spawn(index)?);
                index
            }
        };
        let command = match workers[index].commands.send(command) {
            Ok(()) => None,
            Err(std_mpsc::SendError(command)) => Some(command),
        };
        if let Some(command) = command {
            tracing::error!(
                thread = index,
                "recording writer thread is gone; starting another"
            );
            workers[index] = self.spawn(index)?;
            if workers[index].commands.send(command).is_err() {
                return Err(RecorderError::Ended);
            }
        }
        let worker = &workers[index];
        worker.load.fetch_add(1, Ordering::Relaxed);
        Ok(worker.commands.clone())
    }

    fn spawn(&self, index: usize) -> Result<Worker, RecorderError> {
        let settings = Settings {
            tick: self.config.write_every,
            frames_per_tick: self.config.queue_frames.max(1),
            clock: self.config.clock.clone(),
        };
        Worker::spawn(index, settings).map_err(|source| RecorderError::Thread { source })
    }
}

/// One recording in progress. Dropping it without [`stop`](RecordingHandle::stop) saves
/// what was written and leaves the file for startup repair, like a crash would.
pub struct RecordingHandle {
    id: u64,
    path: String,
    file: PathBuf,
    commands: Option<std_mpsc::Sender<Command>>,
}

impl RecordingHandle {
    /// The recording's path relative to the root (`2026/11/24/<id>.wav`).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Writes everything queued so far and syncs it; returns the stereo frames on disk.
    pub async fn flush(&self) -> Result<u64, RecorderError> {
        let (reply, done) = oneshot::channel();
        let commands = self.commands.as_ref().ok_or(RecorderError::Ended)?;
        commands
            .send(Command::Flush { id: self.id, reply })
            .map_err(|_| RecorderError::Ended)?;
        match done.await {
            Ok(result) => result.map_err(|reason| RecorderError::Failed { reason }),
            Err(_) => Err(RecorderError::Ended),
        }
    }

    /// The call ended at `end`: the aligner's tail up to `end`, the final header, a sync,
    /// the marker removed, the file hashed. Never panics on disk errors: any of them makes
    /// the outcome `Failed { reason }`.
    pub async fn stop(mut self, end: Instant) -> RecordingOutcome {
        let path = self.path.clone();
        let failed = |reason: String| RecordingOutcome::Failed {
            path: path.clone(),
            reason,
        };
        let Some(commands) = self.commands.take() else {
            return failed("the recording has already ended".to_owned());
        };
        let (reply, done) = oneshot::channel();
        if commands
            .send(Command::Stop {
                id: self.id,
                end,
                reply,
            })
            .is_err()
        {
            return failed("the recording writer stopped".to_owned());
        }
        let written = match done.await {
            Ok(Ok(written)) => written,
            Ok(Err(failure)) => return failed(failure.to_string()),
            Err(_) => return failed("the recording writer stopped".to_owned()),
        };
        // Hashing reads the whole file (100 MB for an hour): a blocking job of its own
        // rather than a pause for every other recording of its writer thread. Its pages
        // stay in the cache, for the kernel to reuse once memory is full. Dropping them
        // here saved no CPU the benchmark could see, and with 800 calls up and 100 ending
        // a second it left the others a median added jitter of 83 ms against 37 (at 400
        // and 600 calls the two were within each other's spread).
        let file = self.file.clone();
        match tokio::task::spawn_blocking(move || files::file_facts(&file)).await {
            Ok(Ok((bytes, sha256))) => RecordingOutcome::Done(RecordingSummary {
                path: self.path.clone(),
                ms: i64::try_from(written.duration.as_millis()).unwrap_or(i64::MAX),
                bytes: i64::try_from(bytes).unwrap_or(i64::MAX),
                sha256,
            }),
            Ok(Err(e)) => failed(format!("reading the finished file: {e}")),
            Err(e) => failed(format!("hashing the finished file: {e}")),
        }
    }
}

impl Drop for RecordingHandle {
    fn drop(&mut self) {
        if let Some(commands) = self.commands.take() {
            let _ = commands.send(Command::Abandon { id: self.id });
        }
    }
}

impl fmt::Debug for RecordingHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordingHandle")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}
