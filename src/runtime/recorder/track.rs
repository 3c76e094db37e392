//! One recording being written: its frame queue, its aligner and its WAV writer.
//!
//! A writer thread calls [`Track::pump`] every tick: queued frames go into the aligner,
//! what the aligner has settled is written (up to a disk block boundary, except when a
//! checkpoint follows), and at least every `sync_every` the header is rewritten
//! (`checkpoint`). The thread then makes every checkpointed recording durable
//! with one filesystem sync, so a crash loses at most about that much audio and startup
//! repair finds a valid prefix. [`Track::finish`] ends it.
//!
//! Invariants:
//! - The first disk error stops writing for good: the track keeps discarding frames (so
//!   the media task's queue never looks stuck) and its outcome is the error, with the stage
//!   it happened in. The call is never affected.
//! - The marker is removed only by `finish`, after the final header is synced (or after a
//!   failure, when the runtime registers the reason instead). A track that is abandoned
//!   keeps its marker: the next start repairs its file like one left by a crash.
//! - No frame lands beyond the aligner's ring: a writer that fell behind settles the
//!   timeline as it takes the backlog, every [`CATCH_UP_STEP`] of frame time.

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::files;
use crate::media::stereo::{Aligner, Side, WavWriter, WriteAt, FRAME_BYTES, HEADER_LEN};
use crate::runtime::call_media::{FrameReceiver, Leg};

/// While taking a backlog, the timeline is settled each time the frames' own time moves
/// this far: well inside the aligner's ring, whatever the backlog's length.
const CATCH_UP_STEP: Duration = Duration::from_millis(100);
/// A disk block (and page). A write that ends inside a block the file did not have yet
/// makes the filesystem zero the rest of it, only for the next write to fill it: at 1,200
/// calls that zeroing alone was a quarter of the writers' time in `write`. Between
/// checkpoints a track writes up to a block boundary only; the rest, under 128 ms of
/// audio, stays in the aligner's ring until the next tick.
const BLOCK_BYTES: u64 = 4096;

/// What a track writes to: a file, or a failing stand-in in tests.
pub(crate) trait Sink: WriteAt + Send + 'static {
    /// Makes the data written so far durable (`fdatasync`), for a flush on demand.
    fn sync_data(&self) -> io::Result<()>;
    /// Makes data and metadata durable (`fsync`), for the final close.
    fn sync_all(&self) -> io::Result<()>;
    /// Makes everything written to this file's filesystem durable (`syncfs`): one call
    /// covers every recording checkpointed in the same tick.
    fn sync_filesystem(&self) -> io::Result<()>;
}

/// Where in a recording's life a disk error happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    Write,
    Checkpoint,
    Sync,
    Finish,
    Marker,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stage::Write => "writing audio",
            Stage::Checkpoint => "updating the WAV header",
            Stage::Sync => "syncing to disk",
            Stage::Finish => "finishing the file",
            Stage::Marker => "removing the unfinished marker",
        })
    }
}

/// The first disk error of a track, as the register will state it.
#[derive(Debug)]
pub(crate) struct Failure {
    pub stage: Stage,
    pub source: io::Error,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.stage, self.source)
    }
}

/// A finished file, before it is hashed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Written {
    /// Stereo frames in the file.
    pub frames: u64,
    /// Its duration.
    pub duration: Duration,
}

enum State<S: Sink> {
    Writing {
        wav: WavWriter<S>,
        /// A second handle on the same open file, for syncing (the writer owns the first).
        file: S,
    },
    Failed(Failure),
}

pub(crate) struct Track<S: Sink> {
    /// Which call (for logs).
    pub call_id: String,
    wav_path: PathBuf,
    marker: PathBuf,
    frames: FrameReceiver,
    aligner: Aligner,
    /// The time up to which the aligner was last asked to settle the timeline.
    settled: Instant,
    state: State<S>,
    sync_every: Duration,
    next_sync: Instant,
    /// The day directory's new entries are synced with the first checkpoint, off the
    /// caller's thread.
    dir_synced: bool,
}

impl<S: Sink> Track<S> {
    /// A track writing to `file` (already holding a WAV header, via `wav`).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        call_id: String,
        wav_path: PathBuf,
        marker: PathBuf,
        frames: FrameReceiver,
        aligner: Aligner,
        wav: WavWriter<S>,
        file: S,
        sync_every: Duration,
        now: Instant,
    ) -> Track<S> {
        Track {
            call_id,
            wav_path,
            marker,
            frames,
            aligner,
            settled: now,
            state: State::Writing { wav, file },
            sync_every,
            next_sync: now + sync_every,
            dir_synced: false,
        }
    }

    /// Takes queued frames (at most `limit`, so one busy call cannot hold the thread),
    /// writes what the aligner has settled by `now`, and checkpoints when due. Returns
    /// whether it checkpointed: the caller then makes the file durable
    /// ([`Sink::sync_filesystem`] on [`Track::file`], once for all such tracks) and
    /// reports the result with [`Track::synced`].
    pub fn pump(&mut self, now: Instant, limit: usize, buf: &mut Vec<i16>) -> bool {
        let due = now >= self.next_sync;
        // A checkpoint covers everything final, so a crash loses no more than it would
        // with every write whole; between checkpoints, writes end on a disk block.
        self.take_and_write(now, limit, buf, !due);
        if due {
            self.next_sync = now + self.sync_every;
            return self.checkpoint();
        }
        false
    }

    /// Feeds up to `limit` queued frames to the aligner and writes what it settled by
    /// `now`: all of it, or up to the last disk block boundary (`to_block`).
    fn take_and_write(&mut self, now: Instant, limit: usize, buf: &mut Vec<i16>, to_block: bool) {
        buf.clear();
        self.take_frames(limit, buf);
        if to_block {
            self.drain_to_block(now, buf);
        } else {
            self.aligner.drain(now, buf);
        }
        self.settled = self.settled.max(now);
        self.write(buf);
    }

    /// Drains what is final by `now` up to where the file's length is a whole number of
    /// [`BLOCK_BYTES`].
    fn drain_to_block(&mut self, now: Instant, buf: &mut Vec<i16>) {
        let frame = u64::from(FRAME_BYTES);
        self.aligner
            .drain_to_boundary(now, BLOCK_BYTES / frame, HEADER_LEN / frame, buf);
    }

    /// The file, while the recording is written: its filesystem is synced for it.
    pub fn file(&self) -> Option<&S> {
        match &self.state {
            State::Writing { file, .. } => Some(file),
            State::Failed(_) => None,
        }
    }

    /// The outcome of the filesystem sync that followed this track's checkpoint.
    pub fn synced(&mut self, result: &io::Result<()>) {
        if let Err(e) = result {
            let source = io::Error::new(e.kind(), e.to_string());
            self.fail(Stage::Sync, source);
        }
    }

    /// Pumps everything queued and makes it durable now. The frames on disk, or the failure.
    pub fn flush(&mut self, now: Instant, buf: &mut Vec<i16>) -> Result<u64, String> {
        self.take_and_write(now, usize::MAX, buf, false);
        self.next_sync = now + self.sync_every;
        if self.checkpoint() {
            if let State::Writing { file, .. } = &self.state {
                let result = file.sync_data();
                self.synced(&result);
            }
        }
        match &self.state {
            State::Writing { wav, .. } => Ok(wav.frames()),
            State::Failed(failure) => Err(failure.to_string()),
        }
    }

    /// The call ended at `end`: the rest of the queue, the aligner's tail up to `end`, the
    /// final header, a full sync; then the marker goes. The file's facts, or the failure.
    pub fn finish(mut self, end: Instant, buf: &mut Vec<i16>) -> Result<Written, Failure> {
        buf.clear();
        self.take_frames(usize::MAX, buf);
        self.aligner.finish(end, buf);
        self.write(buf);
        let written = match self.state {
            State::Failed(failure) => Err(failure),
            State::Writing { wav, file } => match wav.finish() {
                Ok(summary) => file
                    .sync_all()
                    .map(|()| Written {
                        frames: summary.frames,
                        duration: summary.duration,
                    })
                    .map_err(|source| Failure {
                        stage: Stage::Sync,
                        source,
                    }),
                Err(source) => Err(Failure {
                    stage: Stage::Finish,
                    source,
                }),
            },
        };
        // Also after a failure: the reason is registered, so a repair at the next start
        // would only contradict it.
        let removed = files::remove_marker(&self.marker);
        let written = written?;
        removed.map_err(|source| Failure {
            stage: Stage::Marker,
            source,
        })?;
        Ok(written)
    }

    /// The handle is gone without `stop`: save what there is and keep the marker, so the
    /// next start repairs and reports this file like one left by a crash.
    pub fn abandon(mut self, now: Instant, buf: &mut Vec<i16>) {
        let _ = self.flush(now, buf);
        tracing::warn!(
            call_id = %self.call_id,
            path = %self.wav_path.display(),
            "recording abandoned without an end; it will be repaired at the next start"
        );
    }

    /// Feeds up to `limit` queued frames to the aligner; what a long backlog settles on the
    /// way is appended to `buf`.
    fn take_frames(&mut self, limit: usize, buf: &mut Vec<i16>) {
        let mut taken = 0;
        while taken < limit {
            let Some(frame) = self.frames.try_recv() else {
                break;
            };
            taken += 1;
            if matches!(self.state, State::Failed(_)) {
                continue;
            }
            if frame.at >= self.settled + CATCH_UP_STEP {
                self.drain_to_block(frame.at, buf);
                self.settled = frame.at;
            }
            let side = match frame.leg {
                Leg::Caller => Side::Caller,
                Leg::Operator => Side::Operator,
            };
            self.aligner.push(
                side,
                frame.at,
                frame.seq,
                frame.ts,
                frame.ssrc,
                frame.codec,
                frame.audio(),
            );
        }
    }

    fn write(&mut self, samples: &[i16]) {
        if samples.is_empty() {
            return;
        }
        if let State::Writing { wav, .. } = &mut self.state {
            if let Err(source) = wav.write(samples) {
                self.fail(Stage::Write, source);
            }
        }
    }

    /// Rewrites the header to describe everything written; whether the file now needs a
    /// sync (false after a failure).
    fn checkpoint(&mut self) -> bool {
        let State::Writing { wav, .. } = &mut self.state else {
            return false;
        };
        if let Err(source) = wav.checkpoint() {
            self.fail(Stage::Checkpoint, source);
            return false;
        }
        if !self.dir_synced {
            self.dir_synced = true;
            if let Some(dir) = self.wav_path.parent() {
                if let Err(source) = files::sync_dir(dir) {
                    self.fail(Stage::Sync, source);
                    return false;
                }
            }
        }
        true
    }

    fn fail(&mut self, stage: Stage, source: io::Error) {
        let failure = Failure { stage, source };
        tracing::error!(
            call_id = %self.call_id,
            path = %self.wav_path.display(),
            error = %failure,
            "recording stopped by a disk error; the call goes on unrecorded"
        );
        // Dropping the writer closes the file: nothing more is written to it.
        self.state = State::Failed(failure);
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Seek, SeekFrom, Write};
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::media::player::FRAME_SAMPLES;
    use crate::media::stereo::AlignerConfig;
    use crate::media::Codec;
    use crate::runtime::call_media::{frame_queue, FrameSender, RecordFrame};

    /// Data, position, room, syncs.
    type DiskState = (Vec<u8>, u64, usize, u32);

    /// An in-memory file that starts failing writes after `room` bytes, like a full disk.
    #[derive(Clone)]
    struct Disk(Arc<Mutex<DiskState>>);

    impl Disk {
        fn new(room: usize) -> Disk {
            Disk(Arc::new(Mutex::new((Vec::new(), 0, room, 0))))
        }
        fn syncs(&self) -> u32 {
            self.0.lock().unwrap().3
        }
    }

    impl Write for Disk {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            let mut d = self.0.lock().unwrap();
            let pos = d.1 as usize;
            if pos + b.len() > d.2 {
                return Err(io::Error::from_raw_os_error(28)); // ENOSPC
            }
            if d.0.len() < pos + b.len() {
                d.0.resize(pos + b.len(), 0);
            }
            d.0[pos..pos + b.len()].copy_from_slice(b);
            d.1 += b.len() as u64;
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Seek for Disk {
        fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
            let mut d = self.0.lock().unwrap();
            d.1 = match to {
                SeekFrom::Start(p) => p,
                SeekFrom::End(o) => (d.0.len() as i64 + o) as u64,
                SeekFrom::Current(o) => (d.1 as i64 + o) as u64,
            };
            Ok(d.1)
        }
    }

    impl WriteAt for Disk {}

    impl Sink for Disk {
        fn sync_data(&self) -> io::Result<()> {
            self.0.lock().unwrap().3 += 1;
            Ok(())
        }
        fn sync_all(&self) -> io::Result<()> {
            self.sync_data()
        }
        fn sync_filesystem(&self) -> io::Result<()> {
            self.sync_data()
        }
    }

    fn frame(leg: Leg, at: Instant, i: u32) -> RecordFrame {
        RecordFrame {
            leg,
            at,
            seq: i as u16,
            ts: i * FRAME_SAMPLES as u32,
            ssrc: 7,
            codec: Codec::Pcmu,
            payload: [0x55; FRAME_SAMPLES],
            len: FRAME_SAMPLES as u8,
        }
    }

    fn track(dir: &tempfile::TempDir, disk: &Disk, t0: Instant) -> (Track<Disk>, FrameSender) {
        let wav_path = dir.path().join("A.wav");
        let marker = files::marker_of(&wav_path);
        std::fs::write(&marker, b"").unwrap();
        let (tx, rx) = frame_queue(1000);
        let wav = WavWriter::create(disk.clone()).unwrap();
        let aligner = Aligner::new(AlignerConfig::default(), t0);
        let t = Track::new(
            "A".into(),
            wav_path,
            marker,
            rx,
            aligner,
            wav,
            disk.clone(),
            Duration::from_secs(1),
            t0,
        );
        (t, tx)
    }

    #[test]
    fn a_full_disk_fails_the_recording_with_its_reason_and_drops_the_marker() {
        let dir = tempfile::tempdir().unwrap();
        let t0 = Instant::now();
        // Room for the header and about half a second of stereo audio.
        let disk = Disk::new(44 + 16_000);
        let (mut track, mut tx) = track(&dir, &disk, t0);
        let mut buf = Vec::new();
        for i in 0..100 {
            let at = t0 + Duration::from_millis(20 * u64::from(i));
            tx.try_send(frame(Leg::Caller, at, i)).unwrap();
            tx.try_send(frame(Leg::Operator, at, i)).unwrap();
        }
        track.pump(t0 + Duration::from_secs(2), usize::MAX, &mut buf);
        // Frames after the failure are taken and discarded: the media task never sees a
        // full queue because of a dead disk.
        for i in 100..150 {
            tx.try_send(frame(Leg::Caller, t0, i)).unwrap();
        }
        track.pump(t0 + Duration::from_secs(3), usize::MAX, &mut buf);
        assert_eq!(tx.free(), 1000);
        let failure = track
            .finish(t0 + Duration::from_secs(3), &mut buf)
            .unwrap_err();
        assert_eq!(failure.stage, Stage::Write);
        assert!(
            failure
                .to_string()
                .starts_with("writing audio: No space left"),
            "{failure}"
        );
        assert!(!dir.path().join("A.wav.open").exists());
    }

    #[test]
    fn a_backlog_longer_than_the_aligners_ring_is_recorded_whole() {
        // A writer thread held up for 1.5 s (a slow disk) takes the whole queue at once:
        // more audio than the aligner's ring spans ahead of its last drain.
        let dir = tempfile::tempdir().unwrap();
        let t0 = Instant::now();
        let disk = Disk::new(usize::MAX);
        let (mut track, mut tx) = track(&dir, &disk, t0);
        for i in 0..75 {
            let at = t0 + Duration::from_millis(20 * u64::from(i));
            tx.try_send(frame(Leg::Caller, at, i)).unwrap();
            tx.try_send(frame(Leg::Operator, at, i)).unwrap();
        }
        let mut buf = Vec::new();
        let end = t0 + Duration::from_millis(1_500);
        track.pump(end, usize::MAX, &mut buf);
        let written = track.finish(end, &mut buf).unwrap();
        assert_eq!(written.frames, 12_000);
        let data = disk.0.lock().unwrap().0.clone();
        let silent = data[44..]
            .chunks(2)
            .filter(|s| i16::from_le_bytes([s[0], s[1]]) == 0)
            .count();
        assert_eq!(silent, 0, "samples lost from the backlog");
    }

    #[test]
    fn a_failed_filesystem_sync_fails_the_recording_at_the_sync_stage() {
        let dir = tempfile::tempdir().unwrap();
        let t0 = Instant::now();
        let disk = Disk::new(usize::MAX);
        let (mut track, _tx) = track(&dir, &disk, t0);
        let mut buf = Vec::new();
        assert!(track.pump(t0 + Duration::from_secs(1), 100, &mut buf));
        track.synced(&Err(io::Error::from_raw_os_error(5))); // EIO
        let failure = track
            .finish(t0 + Duration::from_secs(1), &mut buf)
            .unwrap_err();
        assert_eq!(failure.stage, Stage::Sync);
    }

    #[test]
    fn checkpoints_are_due_once_a_second_and_finish_syncs_again() {
        let dir = tempfile::tempdir().unwrap();
        let t0 = Instant::now();
        let disk = Disk::new(usize::MAX);
        let (mut track, _tx) = track(&dir, &disk, t0);
        let mut buf = Vec::new();
        let mut due = Vec::new();
        for ms in (50..=2_000).step_by(50) {
            if track.pump(t0 + Duration::from_millis(ms), 100, &mut buf) {
                due.push(ms);
                let result = track.file().unwrap().sync_filesystem();
                track.synced(&result);
            }
        }
        assert_eq!(due, [1_000, 2_000]);
        assert_eq!(disk.syncs(), 2, "at 1 s and 2 s");
        let written = track.finish(t0 + Duration::from_secs(2), &mut buf).unwrap();
        assert_eq!(written.frames, 16_000);
        assert_eq!(disk.syncs(), 3);
        assert!(!dir.path().join("A.wav.open").exists());
    }

    #[test]
    fn writes_end_on_a_disk_block_until_a_checkpoint_takes_everything_final() {
        let dir = tempfile::tempdir().unwrap();
        let t0 = Instant::now();
        let disk = Disk::new(usize::MAX);
        let (mut track, mut tx) = track(&dir, &disk, t0);
        let mut buf = Vec::new();
        let mut sent = 0;
        let mut lengths = Vec::new();
        for ms in (250..=1_000).step_by(250) {
            while 20 * sent < ms {
                let at = t0 + Duration::from_millis(u64::from(20 * sent));
                tx.try_send(frame(Leg::Caller, at, sent)).unwrap();
                tx.try_send(frame(Leg::Operator, at, sent)).unwrap();
                sent += 1;
            }
            let due = track.pump(t0 + Duration::from_millis(u64::from(ms)), 100, &mut buf);
            lengths.push((ms, disk.0.lock().unwrap().0.len(), due));
        }
        // Final by 250 ms: 170 ms (the aligner's jitter is 80 ms), 1,360 frames; the first
        // block boundary is 4,096 bytes in, after 1,013 frames.
        assert_eq!(
            lengths,
            [
                (250, 4_096, false),
                (500, 12_288, false),
                (750, 20_480, false),
                // The checkpoint: everything final (920 ms, 7,360 frames), block or not.
                (1_000, 44 + 7_360 * 4, true),
            ]
        );
        let data = disk.0.lock().unwrap().0.clone();
        assert_eq!(&data[40..44], &(7_360u32 * 4).to_le_bytes(), "data size");
    }
}
