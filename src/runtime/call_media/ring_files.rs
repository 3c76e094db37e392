//! The ring's table of registered sockets: each leg's socket is entered in its ring's
//! file table when its receive is armed, and the ring's receives and sends name it by its
//! place in the table instead of by descriptor.
//!
//! Why: an operation that names a descriptor makes the kernel look the file up and take a
//! reference to it, once per operation; with every relayed packet a send of its own, that
//! was 2% of a loaded server's time. A registered socket is looked up once, when it is
//! entered.
//!
//! Invariants: a socket's place is its registration's slot index, so a slot in use has
//! at most one socket entered; a socket is removed from the table before its descriptor
//! is closed (the table holds a reference of its own, which would keep the port bound);
//! a socket the table has no place for (a kernel without sparse tables, or more sockets
//! than places) is named by descriptor, as before.

use std::os::fd::RawFd;

use io_uring::Submitter;

/// Places in a ring's table at most: a thread's legs, two per call. The kernel refuses a
/// table larger than the process's descriptor limit, so the table is cut to that.
const ROOM: u32 = 16_384;
/// `by_fd` entry of a descriptor not in the table.
const NONE: u32 = u32::MAX;

pub(super) struct FixedFiles {
    /// Places in the table (0: the kernel gave none).
    room: u32,
    /// The place of each entered descriptor, by descriptor.
    by_fd: Vec<u32>,
}

impl FixedFiles {
    /// Asks the kernel for an empty table of up to [`ROOM`] places; without one, every
    /// socket is named by descriptor.
    pub fn new(submitter: &Submitter<'_>) -> FixedFiles {
        let room = ROOM.min(descriptor_limit());
        match submitter.register_files_sparse(room) {
            Ok(()) => FixedFiles {
                room,
                by_fd: Vec::new(),
            },
            Err(error) => {
                tracing::debug!(%error, "no registered sockets on this ring");
                FixedFiles {
                    room: 0,
                    by_fd: Vec::new(),
                }
            }
        }
    }

    /// Enters `fd` at `place`; `false` when it stays named by descriptor.
    pub fn enter(&mut self, submitter: &Submitter<'_>, place: u32, fd: RawFd) -> bool {
        let Ok(at) = usize::try_from(fd) else {
            return false;
        };
        if place >= self.room {
            return false;
        }
        if let Err(error) = submitter.register_files_update(place, &[fd]) {
            tracing::debug!(%error, "socket not registered on the ring");
            return false;
        }
        if self.by_fd.len() <= at {
            self.by_fd.resize(at + 1, NONE);
        }
        self.by_fd[at] = place;
        true
    }

    /// Removes the socket at `place` (entered as `fd`): the table's reference to it goes.
    pub fn remove(&mut self, submitter: &Submitter<'_>, place: u32, fd: RawFd) {
        if let Some(entry) = usize::try_from(fd)
            .ok()
            .and_then(|at| self.by_fd.get_mut(at))
        {
            if *entry == place {
                *entry = NONE;
            }
        }
        if let Err(error) = submitter.register_files_update(place, &[-1]) {
            // The table would keep the socket (and its port) until the ring goes.
            tracing::warn!(%error, "socket not removed from the ring's table");
        }
    }

    /// The place of `fd`, if it is entered.
    pub fn place(&self, fd: RawFd) -> Option<u32> {
        let place = *self.by_fd.get(usize::try_from(fd).ok()?)?;
        (place != NONE).then_some(place)
    }
}

/// The process's soft limit on open descriptors.
fn descriptor_limit() -> u32 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct it is given.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return 0;
    }
    u32::try_from(limit.rlim_cur).unwrap_or(u32::MAX)
}
