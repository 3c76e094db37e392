//! Where calls' media tasks run: a few dedicated threads, each with a single-threaded tokio
//! runtime of its own (its own reactor and timers), apart from the runtime that handles
//! signalling, the register and the web.
//!
//! Why: a media task wakes about a hundred times a second per call, once per datagram. On
//! the shared work-stealing runtime each wake-up may cross threads (the reactor on one
//! worker, the task on another) and pays for the scheduler's cross-thread machinery. On a
//! thread of its own, a task's sockets are registered with that thread's reactor: one
//! `epoll_wait` returns every ready socket of the thread, and each task runs right there,
//! with no handoff, no lock and no futex. Signalling never waits behind media work, and
//! media never waits behind a slow register write.
//!
//! By default (`media.io = "io_uring"`) each thread receives its calls' RTP on an io_uring
//! of its own where the kernel allows it (see `call_media::ring`); with `"epoll"`, and
//! where io_uring is refused, through readiness.
//!
//! Calls are spread over the threads in turn. Under simulated time (tests on tokio's
//! paused clock) media stays on the test's own runtime, whose clock it must follow.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

use tokio::runtime::{Builder, Handle};
use tokio::sync::oneshot;

use crate::config::MediaIo;
use crate::runtime::call_media;

/// The media threads of a running line.
#[derive(Debug)]
pub struct MediaThreads {
    handles: Vec<Handle>,
    /// How many of them receive through io_uring.
    rings: usize,
    next: AtomicUsize,
    /// Dropped (with the pool) to let every thread's runtime end.
    _stops: Vec<oneshot::Sender<()>>,
}

impl MediaThreads {
    /// Starts `count` media threads (at least one), reading RTP as `io` says. A thread
    /// that cannot be started leaves its share on the current runtime, logged: the line
    /// works, only less efficiently.
    pub fn start(count: usize, io: MediaIo) -> MediaThreads {
        let mut handles = Vec::new();
        let mut stops = Vec::new();
        let mut rings = 0;
        for index in 0..count.max(1) {
            match start_one(index, io) {
                Ok((handle, stop, ring)) => {
                    handles.push(handle);
                    stops.push(stop);
                    rings += usize::from(ring);
                }
                Err(e) => {
                    tracing::error!(error = %e, "media thread not started; media runs on the main runtime");
                }
            }
        }
        if handles.is_empty() {
            handles.push(Handle::current());
        }
        tracing::info!(
            threads = handles.len(),
            io_uring = rings,
            "media threads started"
        );
        MediaThreads {
            handles,
            rings,
            next: AtomicUsize::new(0),
            _stops: stops,
        }
    }

    /// Media on the current runtime only (tests under simulated time).
    pub fn current() -> MediaThreads {
        MediaThreads {
            handles: vec![Handle::current()],
            rings: 0,
            next: AtomicUsize::new(0),
            _stops: Vec::new(),
        }
    }

    /// The runtime for the next call's media.
    pub fn next(&self) -> &Handle {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.handles.len();
        &self.handles[i]
    }

    /// How many runtimes media is spread over.
    pub fn len(&self) -> usize {
        self.handles.len()
    }

    /// How many media threads receive through io_uring (the others through readiness).
    pub fn rings(&self) -> usize {
        self.rings
    }

    /// Never true: there is always at least one runtime.
    pub fn is_empty(&self) -> bool {
        self.handles.is_empty()
    }
}

/// How many media threads a machine gets by default: one per core, so media work spreads
/// over every core while each thread keeps its calls to itself.
pub fn default_count() -> usize {
    thread::available_parallelism().map_or(2, |n| n.get())
}

/// Starts one media thread; also says whether it receives through io_uring.
fn start_one(index: usize, io: MediaIo) -> std::io::Result<(Handle, oneshot::Sender<()>, bool)> {
    let runtime = Builder::new_current_thread()
        .enable_all()
        .thread_name(format!("media-{index}"))
        .build()?;
    let handle = runtime.handle().clone();
    let (stop, stopped) = oneshot::channel::<()>();
    let (ringed_tx, ringed) = std::sync::mpsc::sync_channel::<bool>(1);
    thread::Builder::new()
        .name(format!("media-{index}"))
        .spawn(move || {
            // Runs the thread's tasks (and its ring's pump) until the pool is dropped;
            // tasks still there then are dropped with the runtime (their calls are over).
            runtime.block_on(async move {
                let pump = match io {
                    MediaIo::IoUring => call_media::install_ring(),
                    MediaIo::Epoll => None,
                };
                let _ = ringed_tx.send(pump.is_some());
                match pump {
                    Some(pump) => {
                        tokio::select! {
                            _ = stopped => {}
                            () = pump => {}
                        }
                    }
                    None => {
                        let _ = stopped.await;
                    }
                }
            });
        })?;
    // The thread answers at once (its ring is made before it runs anything).
    let ring = ringed.recv().unwrap_or(false);
    Ok((handle, stop, ring))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn calls_are_spread_over_the_threads_in_turn_and_run_there() {
        let pool = MediaThreads::start(2, MediaIo::IoUring);
        assert_eq!(pool.len(), 2);
        assert_eq!(pool.rings(), 2, "each thread receives through its io_uring");
        let plain = MediaThreads::start(1, MediaIo::Epoll);
        assert_eq!(plain.rings(), 0, "\"epoll\" keeps readiness");
        let mut names = Vec::new();
        for _ in 0..4 {
            let name = pool
                .next()
                .spawn(async { thread::current().name().map(str::to_owned) })
                .await
                .unwrap();
            names.push(name.unwrap_or_default());
        }
        assert_eq!(names, ["media-0", "media-1", "media-0", "media-1"]);
    }
}
