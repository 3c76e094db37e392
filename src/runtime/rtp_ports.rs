//! The RTP port pool (`media.rtp_ports`): even ports only (RFC 3550 §11: RTP on even, RTCP
//! on the next odd port), handed out round-robin so a port just released is not reused at
//! once (late packets of the previous call must not land in the next one).

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};

use std::net::UdpSocket;

use crate::config::PortRange;
use crate::sip::Spare;

pub struct RtpPortPool {
    ip: IpAddr,
    first: u16,
    last: u16,
    next: u16,
    in_use: HashSet<u16>,
}

impl RtpPortPool {
    pub fn new(ip: IpAddr, range: PortRange) -> Self {
        let first = range.first + range.first % 2;
        RtpPortPool {
            ip,
            first,
            last: range.last,
            next: first,
            in_use: HashSet::new(),
        }
    }

    fn capacity(&self) -> usize {
        usize::from((self.last.saturating_sub(self.first)) / 2 + 1)
    }

    /// Bind a socket on the next free even port. Ports taken by other programs are skipped.
    /// The socket is a plain non-blocking one: the call's media task registers it with the
    /// reactor of the thread it runs on.
    pub fn bind(&mut self) -> std::io::Result<(UdpSocket, u16)> {
        for _ in 0..self.capacity() {
            let port = self.next;
            self.next = if port.saturating_add(2) > self.last {
                self.first
            } else {
                port + 2
            };
            if self.in_use.contains(&port) {
                continue;
            }
            let std_sock = match std::net::UdpSocket::bind(SocketAddr::new(self.ip, port)) {
                Ok(s) => s,
                Err(_) => continue,
            };
            std_sock.set_nonblocking(true)?;
            self.in_use.insert(port);
            return Ok((std_sock, port));
        }
        Err(std::io::Error::new(
            std::io::ErrorKind::AddrInUse,
            "RTP port range exhausted",
        ))
    }

    pub fn release(&mut self, port: u16) {
        self.in_use.remove(&port);
        self.in_use.release_spare();
    }

    pub fn in_use(&self) -> usize {
        self.in_use.len()
    }
}
