//! SIP signalling, sans-IO: message parsing/printing and framing ([`message`]),
//! transactions ([`transaction`], RFC 3261 §17 with RFC 6026), dialogs ([`dialog`]), the
//! operators' registrar ([`registrar`], [`digest`]), RFC 4028 session timers
//! ([`session_timer`]), the user-agent core that routes what arrives to its owner ([`ua`]),
//! the factory that builds what we send ([`factory`]), per-source rate limits ([`rate`]) and
//! the bounds on TCP connections ([`flows`]).
//!
//! Nothing here touches a socket or a clock: bytes and `Instant`s come in, bytes to send
//! (with their destination) and events for the transaction user come out.

pub mod dialog;
pub mod digest;
pub mod factory;
pub mod flows;
pub mod inspect;
pub mod message;
pub mod rate;
pub mod registrar;
pub mod scanner;
pub mod session_timer;
pub mod transaction;
pub mod ua;
pub mod uac;

use std::fmt;
use std::net::SocketAddr;

/// The transport a message travelled on. UDP and TCP share one listen address; TLS
/// (RFC 3261 §26.2) has its own (`sip.tls_listen`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    Udp,
    Tcp,
    Tls,
}

impl Transport {
    /// The token used in Via and in `transport=` URI parameters.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
            Transport::Tls => "TLS",
        }
    }

    /// Reliable transports have no retransmission timers (RFC 3261 §17.1.1.2, §17.2.1).
    pub fn is_reliable(self) -> bool {
        matches!(self, Transport::Tcp | Transport::Tls)
    }
}

/// The far end of a flow: where a message came from, or where one must go.
/// For TCP and TLS the runtime keeps one connection per remote address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Peer {
    pub transport: Transport,
    pub addr: SocketAddr,
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}",
            self.transport.as_str().to_ascii_lowercase(),
            self.addr
        )
    }
}

/// Tables and queues sized by a flood keep that size after it (Rust's collections never
/// shrink by themselves), so a line that took 5,000 calls at once would hold their memory
/// for good. Each owner calls [`Spare::release_spare`] as entries leave; it shrinks only
/// once the collection is down to a quarter of its capacity, so the cost is amortised and
/// a steady load never reallocates.
pub(crate) trait Spare {
    fn len_and_capacity(&self) -> (usize, usize);
    fn shrink(&mut self);

    fn release_spare(&mut self) {
        // Small collections are not worth a reallocation.
        const KEEP: usize = 64;
        let (len, capacity) = self.len_and_capacity();
        if capacity > KEEP && capacity > 4 * len {
            self.shrink();
        }
    }
}

macro_rules! spare {
    ($t:ident < $($p:ident),* > where $($bound:tt)*) => {
        impl<$($p),*> Spare for std::collections::$t<$($p),*> where $($bound)* {
            fn len_and_capacity(&self) -> (usize, usize) {
                (self.len(), self.capacity())
            }
            fn shrink(&mut self) {
                self.shrink_to_fit();
            }
        }
    };
}
spare!(HashMap<K, V> where K: Eq + std::hash::Hash);
spare!(HashSet<K> where K: Eq + std::hash::Hash);
spare!(VecDeque<T> where);
spare!(BinaryHeap<T> where T: Ord);

#[cfg(test)]
mod spare_tests;
