//! The recordings' durability point, off the writing thread: a writer thread hands the
//! filesystem sync of the recordings it checkpointed to its syncer thread and goes on
//! taking frames and writing.
//!
//! Why: a `syncfs` on a busy disk takes up to a second (measured at 1,500 recorded calls:
//! 0.5–1.0 s at the worst). Made inline, it stopped the writer for that long, every
//! recording's frame queue (1 s) filled, and the media path dropped frames.
//!
//! One sync at a time per writer: recordings that come due while one runs wait for the
//! next, which starts as soon as the result is in; one `syncfs` then covers them all. The
//! crash promise is unchanged in kind: what a checkpoint wrote is durable when the sync
//! that follows it returns, and a kill loses what was not yet synced (about a second, or
//! as long as the disk takes to sync).

use std::io;
use std::mem;
use std::sync::mpsc as std_mpsc;
use std::thread;

use super::track::Sink;

/// A writer thread's syncer: its sync thread and the recordings waiting on it.
pub(crate) struct Syncer<S> {
    /// To the sync thread: a file on the filesystem to sync (`None` once shut down).
    requests: Option<std_mpsc::Sender<S>>,
    results: std_mpsc::Receiver<io::Result<()>>,
    /// Recordings whose checkpoint the running sync covers: empty when none runs.
    in_flight: Vec<u64>,
    /// Recordings checkpointed since the running sync started.
    waiting: Vec<u64>,
    thread: Option<thread::JoinHandle<()>>,
}

impl<S: Sink> Syncer<S> {
    /// Starts the sync thread, named `name`.
    pub fn spawn(name: String) -> io::Result<Syncer<S>> {
        let (requests, rx) = std_mpsc::channel::<S>();
        let (tx, results) = std_mpsc::channel();
        let thread = thread::Builder::new().name(name).spawn(move || {
            for file in rx {
                if tx.send(file.sync_filesystem()).is_err() {
                    break;
                }
            }
        })?;
        Ok(Syncer {
            requests: Some(requests),
            results,
            in_flight: Vec::new(),
            waiting: Vec::new(),
            thread: Some(thread),
        })
    }

    /// These recordings were checkpointed: their sync is due. Takes them out of `ids`.
    pub fn due(&mut self, ids: &mut Vec<u64>) {
        self.waiting.append(ids);
    }

    /// Without waiting: the recordings the last sync covered and its result, if it has
    /// ended; then starts the next sync, if any is due, on the file `file_of` gives for
    /// one of them (recordings already gone are skipped).
    pub fn poll(
        &mut self,
        mut file_of: impl FnMut(u64) -> Option<S>,
    ) -> Option<(Vec<u64>, io::Result<()>)> {
        let gone = || io::Error::other("the recordings' sync thread is gone");
        let mut ended = None;
        if !self.in_flight.is_empty() {
            let result = match self.results.try_recv() {
                Ok(result) => Some(result),
                Err(std_mpsc::TryRecvError::Empty) => None,
                Err(std_mpsc::TryRecvError::Disconnected) => Some(Err(gone())),
            };
            ended = result.map(|result| (mem::take(&mut self.in_flight), result));
        }
        if !self.in_flight.is_empty() || self.waiting.is_empty() {
            return ended;
        }
        let Some(file) = self.waiting.iter().find_map(|&id| file_of(id)) else {
            // Every waiting recording is gone (each synced itself as it finished).
            self.waiting.clear();
            return ended;
        };
        if self.requests.as_ref().is_some_and(|r| r.send(file).is_ok()) {
            mem::swap(&mut self.in_flight, &mut self.waiting);
            return ended;
        }
        // The sync thread is gone: what waited for it fails, with what had just ended.
        let (mut ids, result) = ended.unwrap_or((Vec::new(), Ok(())));
        ids.append(&mut self.waiting);
        Some((ids, result.and(Err(gone()))))
    }
}

impl<S> Drop for Syncer<S> {
    /// Lets a running sync end, then the thread.
    fn drop(&mut self) {
        self.requests = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Seek, SeekFrom, Write};
    use std::sync::{Arc, Condvar, Mutex};
    use std::time::{Duration, Instant};

    use super::*;

    /// A file whose filesystem sync waits until the test lets it go, and counts itself.
    #[derive(Clone)]
    struct Gated(Arc<(Mutex<Gate>, Condvar)>);

    #[derive(Default)]
    struct Gate {
        started: u32,
        released: u32,
        fail: bool,
    }

    impl Gated {
        fn new() -> Gated {
            Gated(Arc::new((Mutex::new(Gate::default()), Condvar::new())))
        }
        fn started(&self) -> u32 {
            self.0 .0.lock().unwrap().started
        }
        fn release(&self, fail: bool) {
            let mut gate = self.0 .0.lock().unwrap();
            gate.released += 1;
            gate.fail = fail;
            self.0 .1.notify_all();
        }
    }

    impl Write for Gated {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Seek for Gated {
        fn seek(&mut self, _: SeekFrom) -> io::Result<u64> {
            Ok(0)
        }
    }

    impl crate::media::stereo::WriteAt for Gated {}

    impl Sink for Gated {
        fn sync_data(&self) -> io::Result<()> {
            Ok(())
        }
        fn sync_all(&self) -> io::Result<()> {
            Ok(())
        }
        fn sync_filesystem(&self) -> io::Result<()> {
            let mut gate = self.0 .0.lock().unwrap();
            gate.started += 1;
            let n = gate.started;
            while gate.released < n {
                gate = self.0 .1.wait(gate).unwrap();
            }
            if gate.fail {
                Err(io::Error::from_raw_os_error(5)) // EIO
            } else {
                Ok(())
            }
        }
    }

    /// Polls until a sync has ended (a few seconds at most).
    fn ended(syncer: &mut Syncer<Gated>, file: &Gated) -> (Vec<u64>, io::Result<()>) {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(ended) = syncer.poll(|_| Some(file.clone())) {
                return ended;
            }
            assert!(Instant::now() < deadline, "the sync never ended");
            thread::sleep(Duration::from_millis(1));
        }
    }

    /// Polls until the sync thread has started `n` syncs in all.
    fn wait_started(file: &Gated, n: u32) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while file.started() < n {
            assert!(Instant::now() < deadline, "sync {n} never started");
            thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn a_slow_sync_never_holds_up_the_writer_and_what_came_due_meanwhile_goes_next() {
        let file = Gated::new();
        let mut syncer = Syncer::spawn("sync-test".into()).unwrap();
        syncer.due(&mut vec![1, 2]);
        // Handing the sync over returns at once: the writer goes on writing.
        assert!(syncer.poll(|_| Some(file.clone())).is_none());
        wait_started(&file, 1);
        // Checkpoints made while it runs wait for the next sync; none starts meanwhile.
        syncer.due(&mut vec![3]);
        for _ in 0..20 {
            assert!(syncer.poll(|_| Some(file.clone())).is_none());
            thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(file.started(), 1, "one sync at a time");

        file.release(false);
        let (ids, result) = ended(&mut syncer, &file);
        assert_eq!(ids, vec![1, 2]);
        assert!(result.is_ok());
        // The poll that saw the end started the next sync, for what came due meanwhile.
        wait_started(&file, 2);
        file.release(true);
        let (ids, result) = ended(&mut syncer, &file);
        assert_eq!(ids, vec![3]);
        assert_eq!(result.unwrap_err().raw_os_error(), Some(5));
        // Nothing due: nothing runs.
        assert!(syncer.poll(|_| Some(file.clone())).is_none());
        assert_eq!(file.started(), 2);
    }

    #[test]
    fn recordings_gone_before_their_sync_started_need_none() {
        let file = Gated::new();
        let mut syncer: Syncer<Gated> = Syncer::spawn("sync-test".into()).unwrap();
        syncer.due(&mut vec![7, 8]);
        assert!(syncer.poll(|_| None).is_none());
        assert!(syncer.poll(|_| Some(file.clone())).is_none());
        thread::sleep(Duration::from_millis(20));
        assert_eq!(file.started(), 0);
    }
}
