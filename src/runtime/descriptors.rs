//! The process's limit on open descriptors, raised at start-up to what the system allows.
//!
//! Why: every live call holds two RTP sockets, a recording file and, for TLS phones, a
//! connection; a host's default soft limit (often 1,024) stops a server at a few hundred
//! calls with "too many open files", although its hard limit allows far more. The soft
//! limit is the process's own to raise up to the hard one, as servers commonly do.

use std::io;

/// The soft limit before and after raising it to the hard one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DescriptorLimit {
    pub before: u64,
    pub after: u64,
}

/// Raises the soft limit on open descriptors to the hard limit.
pub fn raise_to_hard_limit() -> io::Result<DescriptorLimit> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit read and write the struct they are given.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let before = limit.rlim_cur;
    if limit.rlim_cur < limit.rlim_max {
        limit.rlim_cur = limit.rlim_max;
        // SAFETY: as above.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(DescriptorLimit {
        before,
        after: limit.rlim_cur,
    })
}

/// Descriptors a server with `rtp_ports` ports may hold at its busiest: a socket on each
/// even port of the range (a call's two legs take two, and the odd neighbours stay free
/// for RTCP, so four ports a call), a recording file per call, and room for signalling,
/// the register, the web and the logs.
pub fn needed_for(rtp_ports: u32) -> u64 {
    u64::from(rtp_ports / 2) + u64::from(rtp_ports / 4) + 256
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_port_range_needs_more_than_a_common_default_limit() {
        // 20000-29999: 5,000 sockets on the even ports, 2,500 calls and their files.
        assert_eq!(needed_for(10_000), 5_000 + 2_500 + 256);
        assert!(needed_for(10_000) > 1024);
    }

    #[test]
    fn a_soft_limit_below_the_hard_one_is_raised_to_it() {
        let mut now = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit and setrlimit read and write the struct they are given.
        assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut now) }, 0);
        // One below the hard limit: the other tests of this process keep their room.
        let lowered = libc::rlimit {
            rlim_cur: now.rlim_max - 1,
            rlim_max: now.rlim_max,
        };
        // SAFETY: as above.
        assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lowered) }, 0);

        let limit = raise_to_hard_limit().expect("getrlimit works");
        assert_eq!(limit.before, now.rlim_max - 1);
        assert_eq!(limit.after, now.rlim_max);
        // SAFETY: as above.
        assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut now) }, 0);
        assert_eq!(
            now.rlim_cur, limit.after,
            "the process keeps the raised limit"
        );
    }
}
