//! The writer threads: a few dedicated OS threads, each owning a share of the recordings.
//!
//! Why threads and not tokio tasks: writes and `fdatasync` block, for milliseconds on a
//! busy disk. On tokio workers they would stall signalling and media; through
//! `spawn_blocking` per batch, 2,000 recordings written every 50 ms would be 40,000
//! blocking jobs a second and let the blocking pool grow to hundreds of threads as soon
//! as the disk slows. A fixed pool bounds both: each thread wakes once per tick, takes its
//! recordings' queued frames without waiting (`try_recv`), writes one batch per recording
//! and hands the sync of the ones that are due to its syncer thread (`syncer`), so a slow
//! `syncfs` never stops it taking frames. A slow disk makes a thread late, never the media
//! path: the frame queues (1 s) absorb it, and beyond that the media task counts the
//! overflow.
//!
//! Commands (new recording, flush, stop, abandon) come over an unbounded std channel:
//! there are a few per call, and the sender is an async task that must not block.
//! A thread ends when its command channel is closed, i.e. when the recorder and every
//! handle on its recordings are gone; commands already queued are handled first.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Seek, SeekFrom, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc as std_mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::syncer::Syncer;
use super::track::{Failure, Sink, Track, Written};
use super::AudioClock;
use crate::media::stereo::WriteAt;

/// A recording file shared by its WAV writer and its track (for syncing): one open file
/// descriptor per recording, however many handles.
#[derive(Clone)]
pub(crate) struct DiskFile(pub Arc<File>);

impl Write for DiskFile {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        (&*self.0).write(b)
    }
    fn flush(&mut self) -> io::Result<()> {
        (&*self.0).flush()
    }
}

impl Seek for DiskFile {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        (&*self.0).seek(to)
    }
}

impl WriteAt for DiskFile {
    fn write_all_at(&mut self, buf: &[u8], offset: u64) -> io::Result<()> {
        std::os::unix::fs::FileExt::write_all_at(&*self.0, buf, offset)
    }
}

impl Sink for DiskFile {
    fn sync_data(&self) -> io::Result<()> {
        self.0.sync_data()
    }
    fn sync_all(&self) -> io::Result<()> {
        self.0.sync_all()
    }
    fn sync_filesystem(&self) -> io::Result<()> {
        use std::os::fd::AsRawFd;
        // SAFETY: `syncfs` only reads the descriptor, which `self` keeps open.
        if unsafe { libc::syncfs(self.0.as_raw_fd()) } == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }
}

/// What a writer thread is asked to do.
pub(crate) enum Command {
    /// Start writing a new recording.
    Add {
        id: u64,
        track: Box<Track<DiskFile>>,
    },
    /// Write everything queued and sync it; reply with the frames on disk.
    Flush {
        id: u64,
        reply: oneshot::Sender<Result<u64, String>>,
    },
    /// The call ended at `end`: finish the file and reply.
    Stop {
        id: u64,
        end: Instant,
        reply: oneshot::Sender<Result<Written, Failure>>,
    },
    /// The handle was dropped without a stop.
    Abandon { id: u64 },
}

/// How the threads work (shared by all of them).
#[derive(Clone)]
pub(crate) struct Settings {
    pub tick: Duration,
    /// Frames taken per recording per tick: the queue's capacity, so a recording that fell
    /// behind catches up in one tick without starving its neighbours for longer.
    pub frames_per_tick: usize,
    pub clock: AudioClock,
}

/// One writer thread, as the recorder sees it.
pub(crate) struct Worker {
    pub commands: std_mpsc::Sender<Command>,
    /// Recordings it owns (for choosing the least loaded thread).
    pub load: Arc<AtomicUsize>,
    pub thread: Option<thread::JoinHandle<()>>,
}

impl Worker {
    /// Starts a writer thread.
    pub fn spawn(index: usize, settings: Settings) -> io::Result<Worker> {
        let (commands, rx) = std_mpsc::channel();
        let load = Arc::new(AtomicUsize::new(0));
        let thread_load = load.clone();
        // Started here, so a thread that cannot be started fails `spawn` like the writer's.
        let syncer = Syncer::spawn(format!("recorder-{index}-sync"))?;
        let thread = thread::Builder::new()
            .name(format!("recorder-{index}"))
            .spawn(move || run(rx, thread_load, settings, syncer))?;
        Ok(Worker {
            commands,
            load,
            thread: Some(thread),
        })
    }
}

fn run(
    commands: std_mpsc::Receiver<Command>,
    load: Arc<AtomicUsize>,
    settings: Settings,
    mut syncer: Syncer<DiskFile>,
) {
    let mut tracks: HashMap<u64, Track<DiskFile>> = HashMap::new();
    // One sample buffer for every recording of the thread: reused, never shrunk.
    let mut buf: Vec<i16> = Vec::new();
    // The recordings checkpointed in this tick, made durable together by the syncer.
    let mut due: Vec<u64> = Vec::new();
    // The thread wakes on the real monotonic clock (a std thread cannot follow tokio's
    // paused time); the audio's own time is `settings.clock`.
    let pace = crate::runtime::clock::Clock::system();
    let mut next_tick = pace.mono() + settings.tick;
    loop {
        let wait = next_tick.saturating_duration_since(pace.mono());
        match commands.recv_timeout(wait) {
            Ok(command) => handle(command, &mut tracks, &load, &settings, &mut buf),
            Err(std_mpsc::RecvTimeoutError::Timeout) => {}
            Err(std_mpsc::RecvTimeoutError::Disconnected) => break,
        }
        let real = pace.mono();
        if real >= next_tick {
            let now = (settings.clock)();
            for (id, track) in tracks.iter_mut() {
                if track.pump(now, settings.frames_per_tick, &mut buf) {
                    due.push(*id);
                }
            }
            syncer.due(&mut due);
            // A late thread does not try to make up missed ticks: the next pump takes
            // everything queued anyway.
            next_tick = (next_tick + settings.tick).max(real);
        }
        settle_syncs(&mut tracks, &mut syncer);
    }
    // Every handle is gone, so every track got its stop or abandon; this is for a track
    // whose handle was leaked with the recorder.
    let now = (settings.clock)();
    for (_, track) in tracks.drain() {
        track.abandon(now, &mut buf);
    }
}

/// Without waiting: applies the result of a sync that ended to the recordings it covered
/// (its error fails each of them, as its own sync would have), and starts the next one.
/// One `syncfs` for all of them (they share the recordings' filesystem) instead of one
/// `fdatasync` and one journal commit per file.
fn settle_syncs(tracks: &mut HashMap<u64, Track<DiskFile>>, syncer: &mut Syncer<DiskFile>) {
    let ended = syncer.poll(|id| tracks.get(&id).and_then(Track::file).cloned());
    if let Some((ids, result)) = ended {
        for id in ids {
            if let Some(track) = tracks.get_mut(&id) {
                track.synced(&result);
            }
        }
    }
}

fn handle(
    command: Command,
    tracks: &mut HashMap<u64, Track<DiskFile>>,
    load: &AtomicUsize,
    settings: &Settings,
    buf: &mut Vec<i16>,
) {
    let now = (settings.clock)();
    match command {
        Command::Add { id, track } => {
            tracks.insert(id, *track);
        }
        Command::Flush { id, reply } => {
            let result = match tracks.get_mut(&id) {
                Some(track) => track.flush(now, buf),
                None => Err("recording already ended".to_owned()),
            };
            let _ = reply.send(result);
        }
        Command::Stop { id, end, reply } => {
            if let Some(track) = tracks.remove(&id) {
                load.fetch_sub(1, Ordering::Relaxed);
                // The handle may have stopped waiting; the file is finished regardless.
                let _ = reply.send(track.finish(end, buf));
            }
        }
        Command::Abandon { id } => {
            if let Some(track) = tracks.remove(&id) {
                load.fetch_sub(1, Ordering::Relaxed);
                track.abandon(now, buf);
            }
        }
    }
}
