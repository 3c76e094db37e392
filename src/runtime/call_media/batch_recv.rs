//! Reading a socket's queued datagrams in one system call (`recvmmsg`), into a buffer the
//! media thread owns.
//!
//! Why: a leg's socket usually holds one datagram when its task wakes. Reading it with
//! `recvfrom` and then reading again until "would block" (how readiness is normally
//! cleared) costs two system calls per packet, the second one empty. One `recvmmsg` for up
//! to [`SLOTS`] datagrams tells by its count whether the queue is now empty: when fewer
//! came than asked for, the task clears the socket's readiness itself and goes back to
//! sleep without the empty read. The buffers are per thread, not per call: a call's task
//! runs on one thread at a time and reads everything it takes at once, so thousands of
//! calls share a few of them.

use std::cell::RefCell;
use std::io;
use std::mem::{size_of, zeroed};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::AsRawFd;

/// Datagrams read per call at most.
pub const SLOTS: usize = 8;
/// Bytes per datagram: more than any Ethernet MTU; longer ones are truncated by the
/// kernel and then fail to parse, which is what they deserve.
pub const SLOT_BYTES: usize = 2048;

/// One thread's receive buffers.
pub struct Batch {
    data: Box<[[u8; SLOT_BYTES]; SLOTS]>,
    addrs: [libc::sockaddr_storage; SLOTS],
    lens: [usize; SLOTS],
    count: usize,
}

thread_local! {
    static BATCH: RefCell<Batch> = RefCell::new(Batch::new());
}

impl Batch {
    fn new() -> Batch {
        Batch {
            data: Box::new([[0; SLOT_BYTES]; SLOTS]),
            // SAFETY: an all-zero sockaddr_storage is a valid (unspecified) address.
            addrs: unsafe { zeroed() },
            lens: [0; SLOTS],
            count: 0,
        }
    }

    /// Reads what `socket` holds, up to [`SLOTS`] datagrams, without waiting. `Ok(n)` with
    /// `n < SLOTS` means the queue was empty after them; `WouldBlock` means it held none.
    fn fill(&mut self, socket: &impl AsRawFd) -> io::Result<usize> {
        self.count = 0;
        // SAFETY: zeroed iovec/mmsghdr arrays are valid; every pointer set below points
        // into `self`, which outlives the call, with the lengths of what it points to.
        let mut iovecs: [libc::iovec; SLOTS] = unsafe { zeroed() };
        let mut headers: [libc::mmsghdr; SLOTS] = unsafe { zeroed() };
        for i in 0..SLOTS {
            iovecs[i].iov_base = self.data[i].as_mut_ptr().cast();
            iovecs[i].iov_len = SLOT_BYTES;
            let h = &mut headers[i].msg_hdr;
            h.msg_name = (&mut self.addrs[i] as *mut libc::sockaddr_storage).cast();
            h.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            h.msg_iov = &mut iovecs[i];
            h.msg_iovlen = 1;
        }
        // SAFETY: the headers describe valid, writable buffers (above); the timeout is null.
        let n = unsafe {
            libc::recvmmsg(
                socket.as_raw_fd(),
                headers.as_mut_ptr(),
                SLOTS as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let n = n as usize;
        for (i, h) in headers.iter().enumerate().take(n) {
            self.lens[i] = (h.msg_len as usize).min(SLOT_BYTES);
        }
        self.count = n;
        Ok(n)
    }

    /// The datagrams read, with their sources (a source of an unknown family is skipped).
    fn each(&self, mut f: impl FnMut(SocketAddr, &[u8])) {
        // `count` is what the last read left; an error leaves it at zero.
        for i in 0..self.count {
            if let Some(src) = to_socket_addr(&self.addrs[i]) {
                f(src, &self.data[i][..self.lens[i]]);
            }
        }
    }
}

/// Reads the datagrams `socket` holds into this thread's buffers (through tokio, so
/// readiness stays right). Returns how many were read; fewer than [`SLOTS`] means the
/// socket is drained and its readiness has been cleared. [`each`] then hands them out.
pub fn fill(socket: &tokio::net::UdpSocket) -> io::Result<usize> {
    BATCH.with(|batch| {
        let mut batch = batch.borrow_mut();
        batch.count = 0;
        let mut read = 0;
        // `try_io` clears the socket's readiness when the closure says "would block"; it
        // says so after a short read too, since the queue was then empty. A datagram that
        // arrives meanwhile brings a new readiness event, which clearing does not lose.
        let result = socket.try_io(tokio::io::Interest::READABLE, || {
            read = batch.fill(socket)?;
            if read < SLOTS {
                Err(io::ErrorKind::WouldBlock.into())
            } else {
                Ok(())
            }
        });
        match result {
            Ok(()) => Ok(read),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(read),
            Err(e) => Err(e),
        }
    })
}

/// Hands each datagram of the last [`fill`] on this thread to `f`, with its source.
pub fn each(f: impl FnMut(SocketAddr, &[u8])) {
    BATCH.with(|batch| batch.borrow().each(f));
}

pub(super) fn to_socket_addr(a: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match i32::from(a.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a sockaddr_in.
            let v4: &libc::sockaddr_in = unsafe { &*(a as *const _ as *const libc::sockaddr_in) };
            let ip = Ipv4Addr::from(u32::from_be(v4.sin_addr.s_addr));
            Some(SocketAddr::V4(SocketAddrV4::new(
                ip,
                u16::from_be(v4.sin_port),
            )))
        }
        libc::AF_INET6 => {
            // SAFETY: the family says the storage holds a sockaddr_in6.
            let v6: &libc::sockaddr_in6 = unsafe { &*(a as *const _ as *const libc::sockaddr_in6) };
            let ip = Ipv6Addr::from(v6.sin6_addr.s6_addr);
            Some(SocketAddr::V6(SocketAddrV6::new(
                ip,
                u16::from_be(v6.sin6_port),
                v6.sin6_flowinfo,
                v6.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reads_every_queued_datagram_with_its_source_and_clears_readiness_when_drained() {
        let rx = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let tx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let to = rx.local_addr().unwrap();
        for i in 0..(SLOTS as u8 + 3) {
            tx.send_to(&[i; 100], to).unwrap();
        }
        rx.readable().await.unwrap();
        let mut got = Vec::new();
        let n = fill(&rx).unwrap();
        assert_eq!(n, SLOTS, "a full batch: more may wait");
        each(|src, d| got.push((src, d.to_vec())));
        let n = fill(&rx).unwrap();
        assert_eq!(n, 3, "the rest, then the queue is empty");
        each(|src, d| got.push((src, d.to_vec())));
        assert_eq!(got.len(), SLOTS + 3);
        for (i, (src, data)) in got.iter().enumerate() {
            assert_eq!(*src, tx.local_addr().unwrap());
            assert_eq!(data, &vec![i as u8; 100]);
        }
        // Readiness was cleared by the short read: the socket is not reported ready until
        // something new arrives, and then it is.
        let quiet = tokio::time::timeout(std::time::Duration::from_millis(50), rx.readable()).await;
        assert!(
            quiet.is_err(),
            "no readiness left over after a drained queue"
        );
        tx.send_to(b"late", to).unwrap();
        tokio::time::timeout(std::time::Duration::from_secs(2), rx.readable())
            .await
            .expect("a new datagram makes the socket ready again")
            .unwrap();
        let mut late = Vec::new();
        fill(&rx).unwrap();
        each(|_, d| late.push(d.to_vec()));
        assert_eq!(late, [b"late".to_vec()]);
    }
}
